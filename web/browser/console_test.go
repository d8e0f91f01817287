package browser_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"patchboard/store"
)

// viewport sizes the tab like a desktop monitor or a phone.
func (p *page) viewport(width, height int64) {
	p.t.Helper()
	p.do(fmt.Sprintf("viewport %dx%d", width, height), chromedp.EmulateViewport(width, height))
}

// colorScheme emulates the system's light or dark setting.
func (p *page) colorScheme(scheme string) {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		p.t.Fatalf("emulate %s mode: %v", scheme, err)
	}
}

// noSideScroll fails the test when the page is wider than the window.
func (p *page) noSideScroll(where string) {
	p.t.Helper()
	w := eval[[]int](p, `[document.documentElement.scrollWidth, window.innerWidth]`)
	if w[0] > w[1] {
		p.shot("side-scroll-"+strings.NewReplacer("/", "_", "?", "_", "=", "_", "&", "_").Replace(where), true)
		wide := eval[[]string](p, `Array.from(document.querySelectorAll('body *')).filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5 && !el.closest('.table-wrap')).slice(0, 5).map(el => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).replace(/ /g, '.') : '') + ' ' + Math.round(el.getBoundingClientRect().right))`)
		p.t.Errorf("%s: the page is %d px wide in a %d px window; past its edge: %v", where, w[0], w[1], wide)
	}
}

// firstDevice is a device of the tab (and status) in the store.
func (a *app) firstDevice(t *testing.T, tab store.Tab, status store.Status) store.DeviceRow {
	t.Helper()
	page, err := a.Store.DevicePage(context.Background(), store.DeviceQuery{Tab: tab, Status: status, Limit: 1})
	if err != nil || len(page.Rows) == 0 {
		t.Fatalf("no device on %s (%s): %v", tab, status, err)
	}
	return page.Rows[0]
}

// TestDetailShowsRemediation opens a device that fails prerequisite checks:
// the Reason, Remediation and Who acts columns are inside the flyout at
// 1440 px, and the stand-alone detail page fits the window.
func TestDetailShowsRemediation(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(adminEmail)
	dev := a.firstDevice(t, store.TabNotRegistered, store.StatusPrerequisitesFailed)
	p.navigate("/devices?tab=not-registered&status=prerequisites-failed")
	p.do("open the device", chromedp.Click(rowSel(dev.DeviceID, "device-link")), chromedp.WaitVisible(tid("device-detail")))
	p.waitSettled("the flyout", `!!document.querySelector('[data-testid="check-remediation"]')`)
	inside := `(() => {
		const fly = document.querySelector('[data-testid="flyout"]').getBoundingClientRect();
		const cells = Array.from(document.querySelectorAll('[data-testid="check-row"] td'));
		return cells.length > 0 && cells.every(td => { const r = td.getBoundingClientRect(); return r.width > 40 && r.right <= fly.right + 1 && td.scrollWidth <= td.clientWidth + 1; });
	})()`
	if !eval[bool](p, inside) {
		p.shot("detail-clipped", false)
		t.Fatal("a check cell is outside the flyout or clipped")
	}
	failed := eval[string](p, `Array.from(document.querySelectorAll('[data-testid="check-row"]')).filter(tr => tr.textContent.includes('Failed')).map(tr => tr.querySelector('[data-testid="check-remediation"]').textContent.trim()).join('|')`)
	if failed == "" {
		t.Error("the failing checks show no remediation")
	}
	p.shot("detail-flyout-1440", false)

	for _, w := range []int64{1440, 390} {
		p.viewport(w, 900)
		p.navigate("/devices/" + dev.DeviceID)
		p.waitFor("the detail page", `!!document.querySelector('[data-testid="check-remediation"]')`)
		p.noSideScroll(fmt.Sprintf("detail page at %d px", w))
	}
}

// TestBackKeepsControlsInStep searches and filters, moves on, and goes Back
// and Forward: the search box, the filters and the export follow the table.
func TestBackKeepsControlsInStep(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(adminEmail)
	p.switchTab("not-registered")
	p.do("filter by status", chromedp.SetValue(tid("status-filter"), "prerequisites-failed"))
	eval[bool](p, `document.querySelector('[data-testid="status-filter"]').dispatchEvent(new Event('change', {bubbles: true}))`)
	p.waitSettled("the filtered rows", `new URLSearchParams(location.search).get('status') === 'prerequisites-failed'`)
	p.do("type a search", chromedp.SendKeys(tid("search"), "ap"))
	p.waitSettled("the searched rows", `new URLSearchParams(location.search).get('q') === 'ap'`)
	filtered := p.text("result-count")

	p.switchTab("ready")
	p.do("go back", chromedp.NavigateBack())
	p.waitSettled("Not registered after Back", `document.querySelector('[data-testid="tab-not-registered"]').getAttribute('aria-selected') === 'true'`)
	check := func(when string) {
		t.Helper()
		if got := eval[string](p, `document.querySelector('[data-testid="search"]').value`); got != "ap" {
			t.Errorf("%s: the search box says %q, the table shows the search %q", when, got, "ap")
		}
		if got := eval[string](p, `document.querySelector('[data-testid="status-filter"]').value`); got != "prerequisites-failed" {
			t.Errorf("%s: the status filter says %q, want prerequisites-failed", when, got)
		}
		if got := p.text("result-count"); got != filtered {
			t.Errorf("%s: the table shows %q, want %q", when, got, filtered)
		}
		// Export downloads what the form says (app.js builds the link from it).
		href := eval[string](p, `(() => { const a = document.querySelector('[data-testid="export"]');
			a.addEventListener('click', e => e.preventDefault(), {once: true}); a.click(); return a.href; })()`)
		if !strings.Contains(href, "q=ap") || !strings.Contains(href, "status=prerequisites-failed") {
			t.Errorf("%s: Export would download %s", when, href)
		}
	}
	check("after Back")

	p.do("go back again", chromedp.NavigateBack())
	p.waitSettled("the unsearched rows", `!new URLSearchParams(location.search).get('q')`)
	if got := eval[string](p, `document.querySelector('[data-testid="search"]').value`); got != "" {
		t.Errorf("before the search, the search box says %q", got)
	}
	p.do("go forward", chromedp.NavigateForward())
	p.waitSettled("the searched rows again", `new URLSearchParams(location.search).get('q') === 'ap'`)
	check("after Forward")
}

// TestPagesFitTheWindow opens every page at 1440 px and 390 px, in light
// and dark mode, as an admin and as a reader: none scrolls sideways, the
// default columns fit 1440 px, and at 390 px the menu opens the navigation.
func TestPagesFitTheWindow(t *testing.T) {
	a := newApp(t, 300)
	dev := a.firstDevice(t, store.TabNotRegistered, store.StatusPrerequisitesFailed)
	regID := mustRegID(t, a)
	paths := []string{"/overview", "/devices", "/devices?tab=not-ready", "/devices?tab=not-registered", "/devices/" + dev.DeviceID,
		"/groups", fmt.Sprintf("/groups/%d", regID), "/releases", "/reports", "/reports?kind=feature", "/reports/devices", "/no-such-page"}
	for _, who := range []string{adminEmail, readerEmail} {
		p := a.open(t)
		p.signIn(who)
		all := paths
		if who == adminEmail {
			all = append(all, "/audit", "/imports")
		}
		for _, scheme := range []string{"light", "dark"} {
			p.colorScheme(scheme)
			for _, w := range []int64{1440, 390} {
				p.viewport(w, 900)
				for _, path := range all {
					p.navigate(path)
					p.noSideScroll(fmt.Sprintf("%s as %s, %s, %d px", path, who, scheme, w))
				}
			}
		}
		p.viewport(1440, 900)
		p.navigate("/devices")
		fits := eval[[]int](p, `(() => { const w = document.querySelector('[data-testid="table-wrap"]'); return [w.scrollWidth, w.clientWidth]; })()`)
		if fits[0] > fits[1] {
			p.shot("ready-columns-1440", false)
			t.Errorf("as %s the default Ready columns need %d px of a %d px table", who, fits[0], fits[1])
		}
		// A paused ring puts a "Customer paused" pill beside the ring in
		// most rows: the columns still fit.
		if _, err := a.Store.PauseRings(t.Context(), []store.Ring{store.RingBroad}, store.KindQuality, "Broad shows trouble", "admin", time.Now()); err != nil {
			t.Fatal(err)
		}
		p.navigate("/devices")
		fits = eval[[]int](p, `(() => { const w = document.querySelector('[data-testid="table-wrap"]'); return [w.scrollWidth, w.clientWidth, document.querySelectorAll('[data-testid="cell-paused"]').length]; })()`)
		if fits[2] == 0 || fits[0] > fits[1] {
			p.shot("ready-columns-paused-1440", false)
			t.Errorf("as %s with Broad paused (%d pills) the default Ready columns need %d px of a %d px table", who, fits[2], fits[0], fits[1])
		}
		if _, err := a.Store.ResumeRings(t.Context(), []store.Ring{store.RingBroad}, store.KindQuality, "admin", time.Now()); err != nil {
			t.Fatal(err)
		}
		p.viewport(390, 844)
		p.navigate("/devices")
		if eval[bool](p, `getComputedStyle(document.querySelector('[data-testid="sidenav"]')).display !== 'none'`) {
			t.Error("at 390 px the navigation is open before the menu is")
		}
		p.do("open the menu", chromedp.Click(tid("nav-toggle")))
		p.waitFor("the navigation", `getComputedStyle(document.querySelector('[data-testid="sidenav"]')).display !== 'none'`)
		p.shot("menu-390-"+strings.Split(who, "@")[0], false)
		p.do("go to groups", chromedp.Click(tid("nav-groups")), chromedp.WaitVisible(tid("groups-table")))
		p.noSideScroll("groups after the menu at 390 px")
	}
}

// TestFlyoutFitsAPhone opens a device's detail at 390 px: the flyout is
// inside the window.
func TestFlyoutFitsAPhone(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(adminEmail)
	p.viewport(390, 844)
	dev := a.firstDevice(t, store.TabReady, "")
	p.navigate("/devices")
	p.do("open the device", chromedp.Click(rowSel(dev.DeviceID, "device-link")), chromedp.WaitVisible(tid("device-detail")))
	p.waitSettled("the flyout", `!!document.querySelector('[data-testid="detail-checks"]')`)
	r := eval[[]float64](p, `(() => { const r = document.querySelector('[data-testid="flyout"]').getBoundingClientRect(); return [r.left, r.right, window.innerWidth]; })()`)
	if r[0] < 0 || r[1] > r[2]+1 {
		t.Errorf("the flyout spans %.0f to %.0f px of a %.0f px window", r[0], r[1], r[2])
	}
	p.shot("flyout-390", false)
}

// TestAuditShowsOneRowPerAction deregisters 14 devices at once: the log shows
// one row that says "14 devices" and lists them when expanded.
func TestAuditShowsOneRowPerAction(t *testing.T) {
	a := newApp(t, 300)
	page, err := a.Store.DevicePage(context.Background(), store.DeviceQuery{Tab: store.TabReady, Limit: 14})
	if err != nil || len(page.Rows) != 14 {
		t.Fatalf("14 Ready devices: %v", err)
	}
	ids := make([]string, len(page.Rows))
	for i, r := range page.Rows {
		ids[i] = r.DeviceID
	}
	if _, err := a.Store.Deregister(context.Background(), ids, adminEmail); err != nil {
		t.Fatal(err)
	}
	p := a.open(t)
	p.signIn(adminEmail)
	p.navigate("/audit?action=device.deregister&actor=" + adminEmail)
	if n := eval[int](p, `document.querySelectorAll('[data-testid="audit-row"]').length`); n != 1 {
		t.Fatalf("%d audit rows for one action", n)
	}
	if got := p.text("audit-target-summary"); got != "14 devices" {
		t.Errorf("the target reads %q, want 14 devices", got)
	}
	if h := eval[float64](p, `document.querySelector('[data-testid="audit-row"]').getBoundingClientRect().height`); h > 80 {
		t.Errorf("the folded row is %.0f px high", h)
	}
	p.do("expand", chromedp.Click(tid("audit-target-summary")))
	if got := p.text("audit-target"); !strings.Contains(got, ids[13]) {
		t.Errorf("the expanded target does not list %s: %q", ids[13], got)
	}
	p.viewport(390, 844)
	p.navigate("/audit")
	p.noSideScroll("audit at 390 px")
}

// TestRefusalsReadAsSentences makes an action fail the way it does in real
// life — the device changed since the page showed it — and reads the
// message: it names the device by its name, says what to do, and carries no
// Go error text.
func TestRefusalsReadAsSentences(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(adminEmail)
	dev := a.firstDevice(t, store.TabReady, "")
	p.selectRows(dev.DeviceID)
	if _, err := a.Store.Deregister(context.Background(), []string{dev.DeviceID}, "someone-else@example.com"); err != nil {
		t.Fatal(err)
	}
	p.do("assign the stale selection to Fast",
		chromedp.Click(tid("device-actions")),
		chromedp.WaitVisible(tid("actions-dialog")),
		chromedp.SetValue(tid("assign-ring-select"), "fast"),
		chromedp.Click(tid("assign-ring-submit")),
		chromedp.WaitVisible(tid("error-message")),
	)
	msg := p.text("error-message")
	if !strings.Contains(msg, dev.DisplayName) || !strings.Contains(msg, "Excluded") {
		t.Errorf("the refusal %q does not name %s and why", msg, dev.DisplayName)
	}
	for _, goText := range []string{"assign ring:", ": device ", dev.DeviceID} {
		if strings.Contains(msg, goText) {
			t.Errorf("the refusal %q reads as a Go error (%q)", msg, goText)
		}
	}

	// Not ready devices cannot move: the dialog does not offer it.
	p.navigate("/devices?tab=not-ready")
	if p.exists(`[data-testid="assign-ring-submit"]`) {
		t.Error("Assign ring is offered on Not ready, where no device can move")
	}

	// Unknown pages and forbidden actions say what to do, with the navigation.
	p.navigate("/no-such-page")
	if got := p.text("error-page"); strings.Contains(got, "Not Found Not Found") || !strings.Contains(got, "navigation") {
		t.Errorf("the 404 page says %q", got)
	}
	if !p.exists(`[data-testid="sidenav"] a`) {
		t.Error("the 404 page has no navigation")
	}
}

// TestTriageInTheBrowser filters Not ready by a failing check with its chip
// and pastes a list of serial numbers, as an admin triaging a fleet does.
func TestTriageInTheBrowser(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(readerEmail)
	p.switchTab("not-ready")
	chip := eval[string](p, `document.querySelector('[data-testid="check-chips"] a.chip').dataset.testid`)
	before := p.text("result-count")
	p.do("click the chip", chromedp.Click(tid(chip)))
	p.waitSettled("the filtered blade", fmt.Sprintf(`document.querySelector('[data-testid=%q]').getAttribute('aria-current') === 'true'`, chip))
	if got := p.text("result-count"); got == before {
		t.Errorf("the chip did not narrow the blade (%q)", got)
	}
	if !strings.Contains(p.location(), "check=") {
		t.Errorf("the filter is not in the URL: %s", p.location())
	}
	p.shot("triage-chip", false)

	page, err := a.Store.DevicePage(t.Context(), store.DeviceQuery{Tab: store.TabReady, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var serials []string
	for _, r := range page.Rows {
		serials = append(serials, r.SerialNumber)
	}
	p.switchTab("ready")
	p.do("paste serial numbers",
		chromedp.Click(tid("paste-list")),
		chromedp.WaitVisible(tid("paste-dialog")),
		chromedp.SendKeys(tid("paste-entries"), strings.Join(serials, "\n")+"\nNO-SUCH-SERIAL"),
		chromedp.Click(tid("paste-submit")),
		chromedp.WaitVisible(tid("list-banner")),
	)
	p.waitSettled("the list", `document.querySelectorAll('[data-testid="device-row"]').length > 0`)
	rows := p.rows()
	if len(rows) < 3 {
		t.Errorf("the pasted list shows %d rows, want the 3 devices", len(rows))
	}
	if got := p.text("list-not-found-summary"); got != "1 entry names no device" {
		t.Errorf("not found summary %q", got)
	}
}

// TestSelectAllMatching selects the page, then every device of the view:
// the actions and the confirmation count the view, not the page.
func TestSelectAllMatching(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(adminEmail)
	total := p.tabCount("ready")
	p.do("select the page", chromedp.Click(tid("select-all")))
	p.do("select every matching device", chromedp.WaitVisible(tid("select-matching")), chromedp.Click(tid("select-matching-on")))
	p.waitFor("the count of the view", fmt.Sprintf(`document.querySelector('[data-selection-count]').textContent.includes('All %d matching')`, total))
	p.do("ask to deregister",
		chromedp.Click(tid("device-actions")),
		chromedp.WaitVisible(tid("actions-dialog")),
		chromedp.Click(tid("deregister-submit")),
		chromedp.WaitVisible(tid("deregister-confirm")),
	)
	if got := p.text("deregister-confirm"); !strings.Contains(got, fmt.Sprintf("Deregister %d devices?", total)) || !strings.Contains(got, "more matching devices") {
		t.Errorf("the confirmation says %q", got)
	}
	if n := eval[int](p, `document.querySelectorAll('[data-selected-ids] input[name="all_matching"]').length`); n == 0 {
		t.Error("the action forms do not name the view")
	}
	p.do("cancel", chromedp.Click(tid("deregister-cancel")))
}

// TestAdvancedFilter types a rule: it is checked as it is typed, Apply
// narrows the blade, and the rule is in the URL and survives Back.
func TestAdvancedFilter(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(readerEmail)
	before := p.text("result-count")
	p.do("open the advanced filter", chromedp.Click(chromedp.CSS(`[data-testid="advanced-filter"] summary`)))
	p.do("type a rule", chromedp.SendKeys(tid("rule-filter"), `device.deviceModel -startsWith "Latitude" -and ring -eq "broad"`))
	p.waitSettled("the rule checked", `/match/i.test(document.querySelector('[data-testid="rule-preview"]').textContent)`)
	p.do("apply", chromedp.Click(tid("rule-filter-apply")))
	p.waitSettled("the filtered blade", `new URLSearchParams(location.search).get('rule') === 'device.deviceModel -startsWith "Latitude" -and ring -eq "broad"'`)
	if got := p.text("result-count"); got == before {
		t.Errorf("the rule did not narrow the blade (%q)", got)
	}
	p.switchTab("not-ready")
	p.do("go back", chromedp.NavigateBack())
	p.waitSettled("the rule back", `new URLSearchParams(location.search).get('rule') !== null`)
	if got := eval[string](p, `document.querySelector('[data-testid="rule-filter"]').value`); !strings.Contains(got, "Latitude") {
		t.Errorf("after Back the rule box says %q", got)
	}
}
