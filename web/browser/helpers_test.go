// Package browser_test drives the portal in a real headless Chromium through
// the flows a person does: sign in, switch tabs, search, sort, modify
// columns, discover, act on devices, export, and what a Service Reader may
// not do.
//
// One browser serves the package; each test gets its own server on a fresh
// seeded store and its own tab in a fresh browser context (no shared
// cookies). Tests wait for DOM conditions, never for time. They are skipped
// with -short, and skipped when Chromium is missing unless CI is set, in
// which case they fail.
package browser_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"patchboard/store"
	"patchboard/store/demo"
	"patchboard/web"
)

const (
	adminEmail  = "admin@example.com"
	readerEmail = "reader@example.com"
	password    = "correct-horse-battery"

	// testTimeout bounds each test's tab.
	testTimeout = 60 * time.Second
	// waitTimeout bounds one wait for a DOM condition, so that a condition
	// that never holds fails with its name instead of the test's deadline.
	waitTimeout = 20 * time.Second
)

// shotDir receives the screenshots that people look at: the system's temp
// directory unless PATCHBOARD_SHOTS names another.
func shotDir() string {
	if d := os.Getenv("PATCHBOARD_SHOTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "patchboard-shots")
}

// browserCtx is the package's one browser; nil when the tests skip, and then
// skipReason says why.
var (
	browserCtx context.Context
	skipReason string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if testing.Short() {
		skipReason = "browser tests do not run with -short"
		return m.Run()
	}
	path := findChromium()
	if path == "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "FAIL: browser tests need Chromium and CI is set, but neither chromium nor chromium-browser is on PATH; install it (Debian: apt-get install chromium)")
			return 1
		}
		skipReason = "Chromium not found on PATH (chromium, chromium-browser); set CI to make this a failure"
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "patchboard-chromium-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1440, 900),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// The first Do starts the browser and ties its life to ctx, so it must
	// not carry a deadline; a timer guards the start instead.
	guard := time.AfterFunc(30*time.Second, cancel)
	err = chromedp.Do(ctx)
	guard.Stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: browser tests: start %s: %v\n", path, err)
		return 1
	}
	browserCtx = ctx
	return m.Run()
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// app is one portal on its own seeded store.
type app struct {
	URL   string
	Store *store.Store
}

// newApp starts the portal on a fresh store holding a demo fleet of n
// devices, an admin and a reader.
func newApp(t *testing.T, n int) *app {
	t.Helper()
	return newAppWith(t, n, nil)
}

// newAppWith is newApp with a hook that completes the server's
// configuration once its address is known (single sign-on needs it).
func newAppWith(t *testing.T, n int, configure func(base string, cfg *web.Config)) *app {
	t.Helper()
	if browserCtx == nil {
		t.Skip(skipReason)
	}
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "patchboard.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	if _, err := demo.Load(ctx, st, demo.Generate(demo.Options{Devices: n, Seed: 1, Now: now}), now); err != nil {
		t.Fatalf("load demo fleet: %v", err)
	}
	for email, role := range map[string]store.Role{adminEmail: store.RoleServiceAdmin, readerEmail: store.RoleServiceReader} {
		if _, err := st.AddUser(ctx, email, role, password, "test"); err != nil {
			t.Fatalf("add user: %v", err)
		}
	}
	// Discovery started from the page runs on bg; it ends with the test.
	bg, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	srv := httptest.NewUnstartedServer(nil)
	cfg := web.Config{InsecureCookies: true, Background: bg}
	if configure != nil {
		configure("http://"+srv.Listener.Addr().String(), &cfg)
	}
	srv.Config.Handler = web.New(st, cfg)
	srv.Start()
	t.Cleanup(srv.Close)
	return &app{URL: srv.URL, Store: st}
}

// page is one browser tab on an app.
type page struct {
	t   *testing.T
	ctx context.Context // the tab, with the test's deadline
	app *app
}

// open opens a tab in a new browser context, so that tests share no
// cookies. On failure the test's cleanup saves a screenshot of the tab.
func (a *app) open(t *testing.T) *page {
	t.Helper()
	return a.openWithin(t, testTimeout)
}

// openWithin is open with a deadline of its own, for a test that walks many
// pages in one tab.
func (a *app) openWithin(t *testing.T, timeout time.Duration) *page {
	t.Helper()
	tabCtx, cancelTab := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(tabCtx); err != nil {
		cancelTab()
		t.Fatalf("open a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, timeout)
	t.Cleanup(func() {
		if t.Failed() {
			saveFailureShot(t, tabCtx)
		}
		cancel()
		cancelTab()
	})
	return &page{t: t, ctx: ctx, app: a}
}

// saveFailureShot saves what the tab showed when the test failed: in the
// test's artifact directory with -artifacts, else in a directory that is
// kept for the person reading the log.
func saveFailureShot(t *testing.T, tabCtx context.Context) {
	ctx, cancel := context.WithTimeout(tabCtx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("failure screenshot: %v", err)
		return
	}
	var dir string
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		dir = t.ArtifactDir()
	} else if dir, err = os.MkdirTemp("", "patchboard-browser-failure-"); err != nil {
		t.Logf("failure screenshot: %v", err)
		return
	}
	name := filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_")+".png")
	if err := os.WriteFile(name, buf, 0o644); err != nil {
		t.Logf("failure screenshot: %v", err)
		return
	}
	t.Logf("failure screenshot: %s", name)
}

// tid selects by data-testid.
func tid(id string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + id + `"]`) }

// rowSel selects inside the row of a device.
func rowSel(deviceID, inner string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`[data-testid="device-row"][data-device-id=%q] [data-testid=%q]`, deviceID, inner))
}

// do runs steps and fails the test on error, saying what was being done.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until a JavaScript condition holds.
func (p *page) waitFor(what, cond string) {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	_, err := chromedp.Run(p.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(waitTimeout)))
	// A document that is replaced while the poll runs (a redirect that
	// lands late on a loaded machine) takes the poll's context with it:
	// poll the new document. (A form posted before htmx took it over, on a
	// loaded machine, navigates too: "Inspected target navigated".)
	for err != nil && (strings.Contains(err.Error(), "Cannot find context") || strings.Contains(err.Error(), "Inspected target navigated")) &&
		time.Now().Before(deadline) {
		_, err = chromedp.Run(p.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(time.Until(deadline))))
	}
	if err != nil {
		if errors.Is(err, chromedp.ErrPollingTimeout) {
			err = fmt.Errorf("still not true after %s: %s", waitTimeout, cond)
		}
		p.t.Fatalf("wait for %s: %v", what, err)
	}
}

// settled is true when htmx has no request, swap or settle under way.
const settled = `!document.querySelector('.htmx-request,.htmx-swapping,.htmx-settling,.htmx-added')`

// waitSettled waits until htmx is idle and cond (a JavaScript expression)
// holds: the DOM state the last step should have produced.
func (p *page) waitSettled(what, cond string) {
	p.t.Helper()
	p.waitFor(what, "("+cond+") && "+settled)
}

// navigate loads a path of the app and waits for the document.
func (p *page) navigate(path string) {
	p.t.Helper()
	p.do("navigate to "+path, chromedp.Navigate(p.app.URL+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// signIn signs in through the form, as a person does.
func (p *page) signIn(email string) {
	p.t.Helper()
	p.navigate("/login")
	p.do("sign in as "+email,
		chromedp.WaitVisible(tid("login-email")),
		chromedp.SendKeys(tid("login-email"), email),
		chromedp.SendKeys(tid("login-password"), password),
		chromedp.Click(tid("login-submit")),
		chromedp.WaitVisible(tid("current-user")),
	)
	if got := p.text("current-user"); got != email {
		p.t.Fatalf("signed in as %q, want %q", got, email)
	}
	// Sign-in lands on the overview, the start page; the tests start from
	// the blades.
	if got := p.location(); got != "/overview" {
		p.t.Fatalf("after sign-in the page is %s, want the overview", got)
	}
	p.navigate("/devices")
	p.waitSettled("the blade after sign-in", `document.querySelector('[data-testid="device-table"]')`)
}

// signOut signs out through the top bar.
func (p *page) signOut() {
	p.t.Helper()
	p.do("sign out", chromedp.Click(tid("sign-out")), chromedp.WaitVisible(tid("login-email")))
}

// text is the trimmed text of the first element with the test id.
func (p *page) text(id string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.TextContent(tid(id)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", id, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

// location is the page's URL without the server's origin.
func (p *page) location() string {
	p.t.Helper()
	return strings.TrimPrefix(eval[string](p, `location.href`), p.app.URL)
}

// exists reports whether an element matches the CSS selector.
func (p *page) exists(css string) bool {
	p.t.Helper()
	return eval[bool](p, fmt.Sprintf(`!!document.querySelector(%q)`, css))
}

// tabCount is the count a tab shows.
func (p *page) tabCount(tab string) int {
	p.t.Helper()
	return eval[int](p, fmt.Sprintf(`parseInt(document.querySelector('[data-testid="tab-count-%s"]').textContent, 10)`, tab))
}

// row is a table row as the test reads it.
type row struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Serial string `json:"serial"`
	Status string `json:"status"`
	Ring   string `json:"ring"`
}

// rows reads the device table's rows; cells of hidden columns are "".
func (p *page) rows() []row {
	p.t.Helper()
	return eval[[]row](p, `Array.from(document.querySelectorAll('[data-testid="device-row"]')).map(tr => {
		const cell = id => { const c = tr.querySelector('[data-testid="' + id + '"]'); return c ? c.textContent.trim() : ""; };
		return {id: tr.dataset.deviceId, name: cell("device-link"), serial: cell("cell-serial_number"),
			status: cell("cell-status"), ring: cell("cell-ring")};
	})`)
}

// headers are the column keys of the device table, from its sort links
// (every blade column sorts).
func (p *page) headers() []string {
	p.t.Helper()
	return eval[[]string](p, `Array.from(document.querySelectorAll('[data-testid="device-table"] thead th[data-column]')).map(th => th.dataset.column)`)
}

// switchTab clicks a tab and waits for its rows.
func (p *page) switchTab(tab string) {
	p.t.Helper()
	p.do("click tab "+tab, chromedp.Click(tid("tab-"+tab)))
	p.waitSettled("tab "+tab+" selected", fmt.Sprintf(`document.querySelector('[data-testid="tab-%s"]').getAttribute('aria-selected') === 'true'`, tab))
}

// selectRows ticks the row checkboxes of the devices.
func (p *page) selectRows(ids ...string) {
	p.t.Helper()
	for _, id := range ids {
		p.do("select row "+id, chromedp.Click(rowSel(id, "row-select")))
	}
	p.waitFor(fmt.Sprintf("%d rows selected", len(ids)),
		fmt.Sprintf(`document.querySelectorAll('[data-testid="row-select"]:checked').length === %d`, len(ids)))
}

// key sends a key to the focused element.
func (p *page) key(what, k string) {
	p.t.Helper()
	p.do(what, chromedp.KeyEvent(k))
}

// focused describes the focused element by its test id (or tag).
func (p *page) focused() string {
	p.t.Helper()
	return eval[string](p, `(document.activeElement && (document.activeElement.dataset.testid || document.activeElement.tagName.toLowerCase())) || ""`)
}

// tabUntil presses Tab until the focused element's test id matches want,
// and fails after limit presses.
func (p *page) tabUntil(want string, limit int) {
	p.t.Helper()
	for range limit {
		p.key("press Tab", kb.Tab)
		if p.focused() == want {
			return
		}
	}
	p.t.Fatalf("Tab did not reach %s in %d presses (focus is on %s)", want, limit, p.focused())
}

// shot saves a screenshot for people to look at: the whole page, or only
// the viewport (for fixed overlays such as the flyout).
func (p *page) shot(name string, full bool) {
	p.t.Helper()
	if err := os.MkdirAll(shotDir(), 0o755); err != nil {
		p.t.Fatalf("screenshot dir: %v", err)
	}
	act := chromedp.CaptureScreenshot()
	if full {
		act = chromedp.FullScreenshot(100)
	}
	buf, err := chromedp.Run(p.ctx, act)
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(shotDir(), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	p.t.Logf("screenshot: %s", path)
}

// query returns the query of the page's URL.
func (p *page) query() url.Values {
	p.t.Helper()
	u, err := url.Parse(p.location())
	if err != nil {
		p.t.Fatalf("parse location: %v", err)
	}
	return u.Query()
}

// acceptDialogs accepts every JavaScript dialog (hx-confirm's confirm())
// the tab opens and returns the messages seen.
func (p *page) acceptDialogs() <-chan string {
	msgs := make(chan string, 8)
	dialogs := chromedp.Events(p.ctx, cdppage.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			msgs <- ev.Message
			if _, err := chromedp.Call(p.ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				return
			}
		}
	}()
	return msgs
}

// download clicks the element and returns the file the browser saved.
func (p *page) download(id string) []byte {
	p.t.Helper()
	dir := p.t.TempDir()
	c := chromedp.FromContext(p.ctx)
	if _, err := chromedp.CallBrowser(p.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, BrowserContextID: c.BrowserContextID,
		DownloadPath: dir, EventsEnabled: new(true),
	}); err != nil {
		p.t.Fatalf("allow downloads: %v", err)
	}
	progress := chromedp.BrowserEvents(p.ctx, cdpbrowser.DownloadProgress)
	p.do("click "+id, chromedp.Click(tid(id)))
	for ev, err := range progress {
		if err != nil {
			p.t.Fatalf("wait for the download: %v", err)
		}
		switch ev.State {
		case cdpbrowser.DownloadProgressStateCompleted:
			buf, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				p.t.Fatalf("read the download: %v", err)
			}
			return buf
		case cdpbrowser.DownloadProgressStateCanceled:
			p.t.Fatalf("the download of %s was canceled", id)
		}
	}
	p.t.Fatalf("the download of %s never finished", id)
	return nil
}
