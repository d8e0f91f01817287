package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"

	"patchboard/store"
	"patchboard/store/demo"
	"patchboard/web"
	"patchboard/web/oidctest"
)

// testNow is the fleet's "now" and the start of every test server's clock.
var testNow = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// password is every test user's password.
const password = "correct horse battery staple"

// roleNone is the no-role user's key in the tables below; store.RoleNone is
// the empty string.
var allRoles = []store.Role{store.RoleGlobalAdmin, store.RoleIntuneAdmin, store.RoleServiceAdmin,
	store.RoleServiceReader, store.RoleNone}

// emailOf is the test user holding a role.
func emailOf(r store.Role) string {
	if r == store.RoleNone {
		return "no-role@example.com"
	}
	return string(r) + "@example.com"
}

// roleName names a role in subtest names.
func roleName(r store.Role) string {
	if r == store.RoleNone {
		return "no-role"
	}
	return string(r)
}

// --- seeded databases -------------------------------------------------------

// Seeding the demo fleet and hashing five passwords costs about a second, so
// it is done once per kind of database; every test server gets its own copy
// of the file.
var (
	templateDir  string
	templateMu   sync.Mutex
	templateDone = map[string]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "patchboard-web-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	templateDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// templateDB returns the path of a database seeded with the test users and,
// when withFleet, the demo fleet of 300 devices as of testNow.
func templateDB(t testing.TB, withFleet bool) string {
	t.Helper()
	name := "users.db"
	if withFleet {
		name = "fleet.db"
	}
	templateMu.Lock()
	defer templateMu.Unlock()
	if p, ok := templateDone[name]; ok {
		return p
	}
	ctx := context.Background()
	work := filepath.Join(templateDir, "work-"+name)
	st, err := store.Open(ctx, work)
	if err != nil {
		t.Fatalf("open template store: %v", err)
	}
	defer st.Close()
	for _, r := range allRoles {
		if _, err := st.AddUser(ctx, emailOf(r), r, password, "test"); err != nil {
			t.Fatalf("add user %s: %v", emailOf(r), err)
		}
	}
	if withFleet {
		fleet := demo.Generate(demo.Options{Devices: 300, Seed: 1, Now: testNow})
		if _, err := demo.Load(ctx, st, fleet, testNow); err != nil {
			t.Fatalf("load demo fleet: %v", err)
		}
	}
	p := filepath.Join(templateDir, name)
	if err := st.Backup(ctx, p); err != nil {
		t.Fatalf("backup template: %v", err)
	}
	templateDone[name] = p
	return p
}

// --- test servers -----------------------------------------------------------

// fakeClock is the servers' clock; tests move it forward.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one portal on its own database, served over HTTP.
type env struct {
	ctx   context.Context
	path  string // the database file
	st    *store.Store
	srv   *web.Server
	ts    *httptest.Server
	clock *fakeClock
	errs  *errorLog
	sso   *oidctest.Issuer

	signInMu sync.Mutex
	signedIn map[store.Role]*client
}

type envOptions struct {
	fleet bool // seed the demo fleet
	cfg   web.Config
	// sso signs in through this provider, with this role map.
	sso     *oidctest.Issuer
	roleMap string
	log     slog.Handler // also gets every record the server logs
}

// newEnv starts a portal on a copy of a seeded database. The test users are
// there; with o.fleet the demo fleet too.
func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	copyFile(t, templateDB(t, o.fleet), path)
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	bg, stopBG := context.WithCancel(ctx)
	e := &env{ctx: ctx, path: path, st: st, clock: &fakeClock{t: testNow}, errs: &errorLog{}, signedIn: map[store.Role]*client{}}
	cfg := o.cfg
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	cfg.Logger = slog.New(e.errs)
	if o.log != nil {
		cfg.Logger = slog.New(teeHandler{e.errs, o.log})
	}
	cfg.Background = bg
	// The redirect URI names the server's address: listen first.
	e.ts = httptest.NewUnstartedServer(nil)
	if o.sso != nil {
		e.sso = o.sso
		cfg.OIDC = newOIDC(t, o.sso, "http://"+e.ts.Listener.Addr().String(), o.roleMap, cfg.Now, nil)
	}
	e.srv = web.New(st, cfg)
	e.ts.Config.Handler = e.srv
	e.ts.Start()
	t.Cleanup(func() {
		e.ts.Close()
		stopBG()
		// A discovery started from the portal runs on bg: let it stop
		// before the database closes under it.
		deadline := time.Now().Add(10 * time.Second)
		for _, running := st.RunningDiscovery(); running && time.Now().Before(deadline); _, running = st.RunningDiscovery() {
			time.Sleep(5 * time.Millisecond)
		}
		st.Close()
		for _, msg := range e.errs.messages() {
			t.Errorf("server logged an error: %s", msg)
		}
	})
	return e
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("read %s: %v", from, err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatalf("write %s: %v", to, err)
	}
}

// errorLog is the server's slog handler: it keeps error records, so that a
// test fails when the server answered a 500 it did not expect.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *errorLog) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= slog.LevelError }
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler             { return l }
func (l *errorLog) WithGroup(string) slog.Handler                  { return l }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, b.String())
	return nil
}

func (l *errorLog) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

// --- clients ----------------------------------------------------------------

// client is one browser: a cookie jar that does not follow redirects. Its
// methods take the calling test, so that a failure stops the right one.
type client struct {
	e     *env
	hc    *http.Client
	email string // who signed in; "" when signed out
}

func (e *env) newClient() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		panic(err) // cookiejar.New(nil) does not fail
	}
	return &client{e: e, hc: &http.Client{
		Jar:           jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// as signs in the user holding role, once per server, and returns that
// user's client.
func (e *env) as(t testing.TB, r store.Role) *client {
	t.Helper()
	e.signInMu.Lock()
	defer e.signInMu.Unlock()
	if c := e.signedIn[r]; c != nil {
		return c
	}
	c := e.newClient()
	c.signIn(t, emailOf(r), password)
	e.signedIn[r] = c
	return c
}

// loginForm opens the sign-in page and returns the CSRF token of its form.
// A signed-in browser is sent on from the form; its token is the cookie's.
func (c *client) loginForm(t testing.TB) string {
	t.Helper()
	res := c.get(t, "/login")
	if res.status == http.StatusSeeOther && c.email != "" {
		return c.csrf(t)
	}
	res.wantStatus(http.StatusOK)
	tok, ok := res.doc().Find(`[data-testid="login-form"] input[name="_csrf"]`).Attr("value")
	if !ok || tok == "" {
		t.Fatalf("the sign-in form has no _csrf token:\n%s", res.body)
	}
	return tok
}

// postLogin submits the sign-in form the way a browser does.
func (c *client) postLogin(t testing.TB, email, pw string, extra url.Values) *response {
	t.Helper()
	form := url.Values{"_csrf": {c.loginForm(t)}, "email": {email}, "password": {pw}}
	for k, v := range extra {
		form[k] = v
	}
	return c.do(t, http.MethodPost, "/login", strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded")
}

// signIn signs in and checks it worked.
func (c *client) signIn(t testing.TB, email, pw string) {
	t.Helper()
	res := c.postLogin(t, email, pw, nil)
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/overview" {
		t.Fatalf("sign in as %s: %d Location %q, want 303 to the start page, /overview\n%s", email, res.status, res.header.Get("Location"), res.body)
	}
	c.email = email
}

// fork returns a client with a copy of c's cookies: what it does to its jar
// does not touch c's.
func (c *client) fork() *client {
	f := c.e.newClient()
	u := c.baseURL()
	f.hc.Jar.SetCookies(u, c.hc.Jar.Cookies(u))
	f.email = c.email
	return f
}

func (c *client) baseURL() *url.URL {
	u, _ := url.Parse(c.e.ts.URL + "/")
	return u
}

// setCookie puts a cookie in c's jar, as a browser holding it would send it.
func (c *client) setCookie(name, value string) {
	c.hc.Jar.SetCookies(c.baseURL(), []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// cookie returns the value of a cookie in c's jar.
func (c *client) cookie(name string) string {
	for _, ck := range c.hc.Jar.Cookies(c.baseURL()) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// csrf is the token the pages embed: the value of the CSRF cookie, which
// any page sets.
func (c *client) csrf(t testing.TB) string {
	t.Helper()
	if tok := c.cookie("patchboard_csrf"); tok != "" {
		return tok
	}
	c.get(t, "/login")
	tok := c.cookie("patchboard_csrf")
	if tok == "" {
		t.Fatal("no CSRF cookie")
	}
	return tok
}

// do sends a request; hdr are header name/value pairs.
func (c *client) do(t testing.TB, method, path string, body io.Reader, hdr ...string) *response {
	t.Helper()
	req, err := http.NewRequest(method, c.e.ts.URL+path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &response{t: t, method: method, path: path, status: res.StatusCode, header: res.Header, body: b, cookies: res.Cookies()}
}

func (c *client) get(t testing.TB, path string, hdr ...string) *response {
	t.Helper()
	return c.do(t, http.MethodGet, path, nil, hdr...)
}

// htmx sends a GET the way htmx does when it swaps target.
func (c *client) htmx(t testing.TB, path, target string) *response {
	t.Helper()
	return c.get(t, path, "HX-Request", "true", "HX-Target", target)
}

// post submits a form with the CSRF token in the X-CSRF-Token header, as
// htmx does with the page's hx-headers; hdr are extra header pairs.
func (c *client) post(t testing.TB, path string, form url.Values, hdr ...string) *response {
	t.Helper()
	hdr = append([]string{"X-CSRF-Token", c.csrf(t)}, hdr...)
	return c.postRaw(t, path, form, hdr...)
}

// postHX is post as an htmx request.
func (c *client) postHX(t testing.TB, path string, form url.Values) *response {
	t.Helper()
	return c.post(t, path, form, "HX-Request", "true")
}

// postRaw submits a form with exactly the headers given (no CSRF token unless
// the form or hdr carry it).
func (c *client) postRaw(t testing.TB, path string, form url.Values, hdr ...string) *response {
	t.Helper()
	hdr = append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)
	return c.do(t, http.MethodPost, path, strings.NewReader(form.Encode()), hdr...)
}

// response is a read response.
type response struct {
	t       testing.TB
	method  string
	path    string
	status  int
	header  http.Header
	body    []byte
	cookies []*http.Cookie
	parsed  *goquery.Document
}

func (r *response) String() string { return fmt.Sprintf("%s %s → %d", r.method, r.path, r.status) }

func (r *response) doc() *goquery.Document {
	r.t.Helper()
	if r.parsed == nil {
		d, err := goquery.NewDocumentFromReader(bytes.NewReader(r.body))
		if err != nil {
			r.t.Fatalf("%s: parse HTML: %v", r, err)
		}
		r.parsed = d
	}
	return r.parsed
}

// testid selects elements by data-testid.
func (r *response) testid(id string) *goquery.Selection {
	return r.doc().Find(fmt.Sprintf(`[data-testid=%q]`, id))
}

// text is the trimmed text of the element with data-testid id; the test
// fails when there is not exactly one.
func (r *response) text(id string) string {
	r.t.Helper()
	s := r.testid(id)
	if s.Length() != 1 {
		r.t.Fatalf("%s: %d elements with data-testid=%q, want 1\n%s", r, s.Length(), id, r.body)
	}
	return strings.TrimSpace(s.Text())
}

func (r *response) wantStatus(want int) *response {
	r.t.Helper()
	if r.status != want {
		r.t.Fatalf("%s, want %d\n%s", r, want, truncate(r.body))
	}
	return r
}

func (r *response) wantRedirect(want string) *response {
	r.t.Helper()
	if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
		r.t.Fatalf("%s Location %q, want 303 to %q\n%s", r, r.header.Get("Location"), want, truncate(r.body))
	}
	return r
}

// isFragment reports whether the body is a fragment rather than a document.
func (r *response) isFragment() bool {
	lower := bytes.ToLower(r.body)
	return !bytes.Contains(lower, []byte("<html")) && !bytes.Contains(lower, []byte("<!doctype"))
}

// cookie returns a cookie the response set.
func (r *response) cookie(name string) *http.Cookie {
	for _, c := range r.cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func truncate(b []byte) string {
	const max = 4000
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// --- fleet helpers ----------------------------------------------------------

// rowIDs are the device IDs of the blade rows in a page or fragment.
func rowIDs(r *response) []string {
	var ids []string
	r.testid("device-row").Each(func(_ int, s *goquery.Selection) {
		ids = append(ids, s.AttrOr("data-device-id", ""))
	})
	return ids
}

// cells are the texts of one column's cells, in row order.
func cells(r *response, testid string) []string {
	var out []string
	r.testid("device-row").Each(func(_ int, s *goquery.Selection) {
		out = append(out, strings.TrimSpace(s.Find(fmt.Sprintf(`[data-testid=%q]`, testid)).Text()))
	})
	return out
}

// allRows reads every row of a blade query from the store, in its order.
func (e *env) allRows(t testing.TB, q store.DeviceQuery) []store.DeviceRow {
	t.Helper()
	var rows []store.DeviceRow
	err := e.st.EachDevice(e.ctx, q, func(r *store.DeviceRow) error {
		row := *r
		row.Reasons = append([]store.CheckID(nil), r.Reasons...)
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		t.Fatalf("devices %+v: %v", q, err)
	}
	return rows
}

// devicesWith returns up to n devices of a status.
func (e *env) devicesWith(t testing.TB, status store.Status, n int) []store.DeviceRow {
	t.Helper()
	rows := e.allRows(t, store.DeviceQuery{Tab: status.Tab(), Status: status})
	if len(rows) < n {
		t.Fatalf("the fleet has %d %s devices, the test needs %d", len(rows), status, n)
	}
	return rows[:n]
}

// device reads one device from the store.
func (e *env) device(t testing.TB, id string) store.DeviceRecord {
	t.Helper()
	rec, err := e.st.Device(e.ctx, id)
	if err != nil {
		t.Fatalf("device %s: %v", id, err)
	}
	return rec
}

// audit returns the audit entries matching f, newest first.
func (e *env) audit(t testing.TB, f store.AuditFilter) []store.AuditEntry {
	t.Helper()
	entries, err := e.st.AuditEntries(e.ctx, f)
	if err != nil {
		t.Fatalf("audit entries: %v", err)
	}
	return entries
}

// wantAudit fails unless an entry with this action, actor and outcome exists
// whose target contains target; it returns that entry.
func (e *env) wantAudit(t testing.TB, action, actor, outcome, target string) store.AuditEntry {
	t.Helper()
	entries := e.audit(t, store.AuditFilter{Action: action})
	for _, a := range entries {
		if strings.EqualFold(a.Actor, actor) && a.Outcome == outcome && strings.Contains(a.Target, target) {
			return a
		}
	}
	t.Fatalf("no audit entry %s by %s with outcome %s and target containing %q; entries for the action: %+v",
		action, actor, outcome, target, entries)
	return store.AuditEntry{}
}

// testDevice is a device that passes every prerequisite and readiness check
// as of testNow.
func testDevice(n int, mods ...func(*store.Device)) *store.Device {
	d := &store.Device{
		DeviceID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), DisplayName: fmt.Sprintf("TEST-LT-%04d", n),
		SerialNumber: fmt.Sprintf("TSN%06d", n), Manufacturer: "Dell Inc.", Model: "Latitude 7440",
		OS: store.OSWindows, OSVersion: "10.0.22631.4460", Edition: "Enterprise", Architecture: store.ArchX64,
		JoinType: store.JoinEntraJoined, Ownership: store.OwnershipCompany, Management: store.ManagementIntune,
		LastCheckin: testNow.Add(-24 * time.Hour), DeviceKind: store.KindPhysical, AccountEnabled: true,
		WUPolicySource: "intune", OfficePolicySource: "cdn", InternetConnected: store.SignalTrue,
	}
	for _, m := range mods {
		m(d)
	}
	return d
}

// register writes devices, adds them to the Device Registration group and
// runs discovery as of testNow.
func (e *env) register(t testing.TB, devs ...*store.Device) {
	t.Helper()
	if _, err := e.st.UpsertDevices(e.ctx, devs, "test", "test"); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	ids := make([]string, len(devs))
	for i, d := range devs {
		ids[i] = d.DeviceID
	}
	if _, err := e.st.AddGroupDevices(e.ctx, store.RegistrationGroupName, ids, "test"); err != nil {
		t.Fatalf("add to the registration group: %v", err)
	}
	if _, err := e.st.Discover(e.ctx, store.TriggerCLI, "test", testNow); err != nil {
		t.Fatalf("discover: %v", err)
	}
}

// says reports whether text contains want, as written or as the start of a
// sentence (messages begin with a capital letter wherever they are put).
func says(text, want string) bool {
	if strings.Contains(text, want) {
		return true
	}
	r, size := utf8.DecodeRuneInString(want)
	return strings.Contains(text, string(unicode.ToUpper(r))+want[size:])
}
