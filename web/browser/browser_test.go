package browser_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"patchboard/store"
)

func TestAdminBrowsesTabsSearchSortAndColumns(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(adminEmail)

	start := p.location()
	if tab := p.query().Get("tab"); !strings.HasPrefix(start, "/devices") || tab != "" && tab != "ready" {
		t.Fatalf("after sign-in the page is %s, want the Ready tab", start)
	}
	ready := p.rows()
	if len(ready) == 0 {
		t.Fatal("the Ready tab shows no rows")
	}
	for _, r := range ready {
		if r.Status != "Active" {
			t.Fatalf("Ready tab row %s has status %q, want Active", r.ID, r.Status)
		}
	}
	p.shot("admin-ready", true)

	// Switch tabs: the URL follows and the rows are the tab's statuses.
	p.switchTab("not-ready")
	if got := p.query().Get("tab"); got != "not-ready" {
		t.Fatalf("URL after switching tab is %s, want tab=not-ready", p.location())
	}
	notReady := p.rows()
	if len(notReady) == 0 {
		t.Fatal("the Not ready tab shows no rows")
	}
	for _, r := range notReady {
		if r.Status != "Readiness failed" && r.Status != "Inactive" {
			t.Fatalf("Not ready tab row %s has status %q", r.ID, r.Status)
		}
	}
	p.shot("admin-not-ready", true)

	// Back returns to Ready, in the page and in the URL.
	p.do("go back", chromedp.NavigateBack())
	p.waitSettled("Ready tab after Back", `document.querySelector('[data-testid="tab-ready"]').getAttribute('aria-selected') === 'true' && !!document.querySelector('[data-testid="device-row"]')`)
	if got := p.location(); got != start {
		t.Fatalf("URL after Back is %s, want %s (Ready)", got, start)
	}
	if got := p.rows(); got[0].ID != ready[0].ID {
		t.Fatalf("after Back the first row is %s, want %s", got[0].ID, ready[0].ID)
	}

	// Search narrows the rows and lands in the URL.
	frag := strings.ToLower(ready[0].Name[:len(ready[0].Name)-2])
	p.do("type a search", chromedp.SendKeys(tid("search"), frag))
	p.waitSettled("search results", fmt.Sprintf(`new URLSearchParams(location.search).get('q') === %q`, frag))
	found := p.rows()
	if len(found) == 0 || len(found) >= len(ready) {
		t.Fatalf("search %q shows %d rows (Ready had %d), want fewer but some", frag, len(found), len(ready))
	}
	for _, r := range found {
		if !strings.Contains(strings.ToLower(r.Name+r.Serial+r.ID), frag) {
			t.Fatalf("search %q shows %s (%s)", frag, r.Name, r.ID)
		}
	}
	p.do("clear the search", chromedp.Focus(tid("search")), chromedp.KeyEvent(strings.Repeat(kb.Backspace, len(frag))))
	p.waitSettled("search cleared", `!new URLSearchParams(location.search).get('q')`)

	// Sort by serial number: first rows change, aria-sort follows.
	before := p.rows()
	ariaSort := `document.querySelector('[data-testid="sort-serial_number"]').closest('th').getAttribute('aria-sort')`
	if got := eval[string](p, ariaSort); got != "none" {
		t.Fatalf("aria-sort of Serial number before sorting = %q, want none", got)
	}
	p.do("sort by serial number", chromedp.Click(tid("sort-serial_number")))
	p.waitSettled("sorted by serial", ariaSort+` === 'ascending'`)
	sorted := p.rows()
	if sorted[0].ID == before[0].ID && sorted[1].ID == before[1].ID {
		t.Fatalf("sorting by serial did not change the first rows (%s, %s)", sorted[0].Name, sorted[1].Name)
	}
	if !slices.IsSortedFunc(sorted, func(x, y row) int { return strings.Compare(strings.ToLower(x.Serial), strings.ToLower(y.Serial)) }) {
		t.Fatalf("rows are not sorted by serial: %v", sorted[:5])
	}
	if got := p.query().Get("sort"); got != "serial_number" {
		t.Fatalf("URL after sorting is %s, want sort=serial_number", p.location())
	}
	p.do("sort by serial number again", chromedp.Click(tid("sort-serial_number")))
	p.waitSettled("sorted by serial, descending", ariaSort+` === 'descending'`)

	// A search keeps the sort.
	p.do("search while sorted", chromedp.SendKeys(tid("search"), "ap-"))
	p.waitSettled("sorted search results", `new URLSearchParams(location.search).get('q') === 'ap-'`)
	if q := p.query(); q.Get("sort") != "serial_number" || q.Get("dir") != "desc" {
		t.Errorf("searching after sorting dropped the sort: %s", p.location())
	}
	if got := eval[string](p, ariaSort); got != "descending" {
		t.Errorf("aria-sort of Serial number after searching = %q, want descending", got)
	}
	p.do("clear the search", chromedp.Focus(tid("search")), chromedp.KeyEvent(strings.Repeat(kb.Backspace, 3)))
	p.waitSettled("search cleared", `!new URLSearchParams(location.search).get('q')`)

	// Modify columns: add Manufacturer, drop Model; it survives signing out.
	p.do("open Modify columns", chromedp.Click(tid("modify-columns")), chromedp.WaitVisible(tid("columns-dialog")))
	p.do("choose columns",
		chromedp.Click(tid("column-manufacturer")),
		chromedp.Click(tid("column-model")),
		chromedp.Click(tid("columns-save")),
	)
	p.waitSettled("columns saved", `!document.querySelector('dialog[open]') && !!document.querySelector('[data-testid="col-manufacturer"]')`)
	cols := p.headers()
	if !slices.Contains(cols, "manufacturer") || slices.Contains(cols, "model") {
		t.Fatalf("columns after saving = %v, want manufacturer and no model", cols)
	}
	if got := eval[string](p, ariaSort); got != "descending" || p.query().Get("sort") != "serial_number" {
		t.Errorf("after saving columns aria-sort of Serial number = %q at %s, want the sort kept", got, p.location())
	}
	p.signOut()
	p.signIn(adminEmail)
	if got := p.headers(); !slices.Equal(got, cols) {
		t.Fatalf("columns after signing in again = %v, want %v", got, cols)
	}

	// Saving no columns is refused with a message; the blade stays.
	p.do("open Modify columns", chromedp.Click(tid("modify-columns")), chromedp.WaitVisible(tid("columns-dialog")))
	eval[chromedp.Void](p, `document.querySelectorAll('[data-testid^="column-"]:checked').forEach(c => c.click())`)
	p.do("save no columns", chromedp.Click(tid("columns-save")), chromedp.WaitVisible(tid("error-message")))
	p.waitSettled("the refusal", `!!document.querySelector('[data-testid="device-table"]')`)
	if got := p.text("error-message"); !strings.Contains(got, "at least one column") {
		t.Errorf("error shown = %q", got)
	}
	if got := p.headers(); !slices.Equal(got, cols) {
		t.Errorf("columns after a refused save = %v, want %v", got, cols)
	}

	// Another tab starts without the search.
	p.do("search", chromedp.SendKeys(tid("search"), "ap-"))
	p.waitSettled("search results", `new URLSearchParams(location.search).get('q') === 'ap-'`)
	p.switchTab("not-ready")
	if q := p.query(); q.Has("q") || q.Get("tab") != "not-ready" {
		t.Errorf("URL after switching tab with a search = %s, want tab=not-ready and no q", p.location())
	}
	if got := eval[string](p, `document.querySelector('[data-testid="search"]').value`); got != "" {
		t.Errorf("search box on the new tab = %q, want empty", got)
	}
}

func TestAdminDiscoversDevices(t *testing.T) {
	a := newApp(t, 3000)
	p := a.open(t)
	p.signIn(adminEmail)

	// The directory changes behind the page: a Ready device stops checking
	// in, so the next discovery moves it to Not ready.
	gone := p.rows()[0]
	rec, err := a.Store.Device(t.Context(), gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.Device.LastCheckin = time.Now().Add(-90 * 24 * time.Hour)
	if _, err := a.Store.UpsertDevices(t.Context(), []*store.Device{&rec.Device}, "test", "test"); err != nil {
		t.Fatal(err)
	}
	ready, notReady := p.tabCount("ready"), p.tabCount("not-ready")

	// Record every state the banner shows, so that a short run's progress
	// is seen even if it is gone before the next poll.
	eval[chromedp.Void](p, `window.discoveryStates = [];
		new MutationObserver(() => {
			const s = document.querySelector('[data-testid="discovery-status"]');
			const st = s && s.dataset.state;
			if (st && window.discoveryStates.at(-1) !== st) window.discoveryStates.push(st);
		}).observe(document.body, {subtree: true, childList: true, attributes: true})`)
	p.do("click Discover devices", chromedp.Click(tid("discover")))
	p.waitSettled("discovery completed", `document.querySelector('[data-testid="discovery-status"]').dataset.state === 'completed'
		&& document.querySelector('[data-testid="discovery-status"]').textContent.includes('Last discovery')`)
	states := eval[[]string](p, `window.discoveryStates`)
	if !slices.Contains(states, "running") {
		t.Errorf("the banner never showed the run in progress (states %v)", states)
	}
	if p.exists(`[data-testid="discovery-status"] progress`) {
		t.Error("the progress bar is still shown after the run completed")
	}
	// The blade refreshes on its own when the run ends.
	p.waitSettled("counts refreshed", fmt.Sprintf(`parseInt(document.querySelector('[data-testid="tab-count-ready"]').textContent, 10) === %d`, ready-1))
	if got := p.tabCount("not-ready"); got != notReady+1 {
		t.Errorf("Not ready count after discovery = %d, want %d", got, notReady+1)
	}
	if slices.ContainsFunc(p.rows(), func(r row) bool { return r.ID == gone.ID }) {
		t.Errorf("%s still shows on Ready after it went inactive", gone.Name)
	}
}

func TestAdminAssignsRingAndSeesDetail(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(adminEmail)

	var pick []string
	for _, r := range p.rows() {
		if r.Ring != "Test" && len(pick) < 2 {
			pick = append(pick, r.ID)
		}
	}
	testRing := eval[string](p, `document.querySelector('[data-testid="ring-count-test"]').textContent`)
	if p.exists(`[data-testid="device-actions"]:enabled`) {
		t.Fatal("Device actions is enabled with nothing selected")
	}
	p.selectRows(pick...)
	p.do("open Device actions",
		chromedp.WaitEnabled(tid("device-actions")),
		chromedp.Click(tid("device-actions")),
		chromedp.WaitVisible(tid("actions-dialog")),
	)
	if got := p.text("actions-dialog"); !strings.Contains(got, "2 selected") {
		t.Errorf("the actions dialog does not say how many devices are selected: %q", got)
	}
	p.do("assign to Test",
		chromedp.SetValue(tid("assign-ring-select"), "test"),
		chromedp.Click(tid("assign-ring-submit")),
		chromedp.WaitVisible(tid("action-result")),
	)
	if got := p.text("action-result"); !strings.Contains(got, "Assigned 2 device(s) to the Test ring") {
		t.Errorf("toast = %q", got)
	}
	p.waitSettled("the blade refreshed with the new rings", fmt.Sprintf(`!document.querySelector('dialog[open]')
		&& document.querySelector('[data-testid="ring-count-test"]').textContent !== %q
		&& document.querySelector('[data-device-id=%q] [data-testid="cell-ring"]').textContent.trim() === 'Test'`, testRing, pick[0]))
	for _, id := range pick {
		if got := eval[string](p, fmt.Sprintf(`document.querySelector('[data-device-id=%q] [data-testid="cell-ring_assigned_by"]').textContent`, id)); got != "Admin ("+adminEmail+")" {
			t.Errorf("Ring assigned by of %s = %q", id, got)
		}
	}
	if n := eval[int](p, `document.querySelectorAll('[data-testid="row-select"]:checked').length`); n != 0 {
		t.Errorf("%d rows are still selected after the blade refreshed", n)
	}

	// The device's detail flyout tells who set the ring.
	p.do("open the device", chromedp.Click(rowSel(pick[0], "device-link")), chromedp.WaitVisible(tid("device-detail")))
	p.waitSettled("the flyout", `!!document.querySelector('[data-testid="detail-ring-by"]')`)
	if got := p.text("detail-ring"); got != "Test" {
		t.Errorf("detail ring = %q, want Test", got)
	}
	if got := p.text("detail-ring-by"); !strings.HasPrefix(got, "Admin ("+adminEmail+")") {
		t.Errorf("detail Ring assigned by = %q, want Admin (%s) …", got, adminEmail)
	}
	if got := p.text("detail-history"); !strings.Contains(got, adminEmail) {
		t.Errorf("detail history does not show the assignment: %q", got)
	}
	p.shot("admin-device-flyout", false)
	p.key("press Escape", kb.Escape)
	p.waitFor("the flyout closed", `!document.querySelector('[data-testid="device-detail"]')`)
}

func TestAdminDeregistersAndRestores(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(adminEmail)

	rows := p.rows()
	victim, bystander := rows[3], rows[4]
	ready, notRegistered := p.tabCount("ready"), p.tabCount("not-registered")
	p.selectRows(victim.ID, bystander.ID)
	p.do("ask to deregister",
		chromedp.Click(tid("device-actions")),
		chromedp.WaitVisible(tid("actions-dialog")),
		chromedp.Click(tid("deregister-submit")),
		chromedp.WaitVisible(tid("deregister-confirm")),
	)
	// The confirmation names the devices; Cancel changes nothing.
	if got := p.text("deregister-names"); !strings.Contains(got, victim.Name) || !strings.Contains(got, bystander.Name) {
		t.Errorf("the confirmation lists %q, want %s and %s", got, victim.Name, bystander.Name)
	}
	if got := p.text("deregister-confirm"); !strings.Contains(got, "Deregister 2 devices?") {
		t.Errorf("the confirmation asks %q", got)
	}
	p.do("cancel", chromedp.Click(tid("deregister-cancel")))
	p.waitFor("the confirmation closed", `!document.querySelector('[data-testid="deregister-confirm"]').open`)
	if rec, err := a.Store.Device(t.Context(), victim.ID); err != nil || rec.Status != store.StatusActive {
		t.Fatalf("Cancel deregistered %s: %v %v", victim.Name, rec.Status, err)
	}
	p.do("close Device actions", chromedp.Click(tid("actions-close")))
	p.do("deselect the bystander", chromedp.WaitReady(rowSel(bystander.ID, "row-select")))
	eval[chromedp.Void](p, fmt.Sprintf(`document.querySelector('[data-device-id=%q] [data-testid="row-select"]').click()`, bystander.ID))
	p.waitFor("one row selected", `document.querySelectorAll('[data-testid="row-select"]:checked').length === 1`)
	p.do("deregister",
		chromedp.Click(tid("device-actions")),
		chromedp.WaitVisible(tid("actions-dialog")),
		chromedp.Click(tid("deregister-submit")),
		chromedp.WaitVisible(tid("deregister-confirm")),
		chromedp.Click(tid("deregister-confirm-submit")),
		chromedp.WaitVisible(tid("action-result")),
	)
	if got := p.text("action-result"); !strings.Contains(got, "Deregistered 1 device(s)") {
		t.Errorf("toast = %q", got)
	}
	p.waitSettled("the device left Ready", fmt.Sprintf(`!document.querySelector('[data-device-id=%q]')
		&& parseInt(document.querySelector('[data-testid="tab-count-ready"]').textContent, 10) === %d`, victim.ID, ready-1))
	if got := p.tabCount("not-registered"); got != notRegistered+1 {
		t.Errorf("Not registered count = %d, want %d", got, notRegistered+1)
	}

	// Restore it from Not registered, filtered to Excluded.
	p.switchTab("not-registered")
	p.shot("admin-not-registered", true)
	eval[chromedp.Void](p, `(() => { const s = document.querySelector('[data-testid="status-filter"]');
		s.value = 'excluded'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`)
	p.waitSettled("the Excluded filter", `new URLSearchParams(location.search).get('status') === 'excluded'`)
	for _, r := range p.rows() {
		if r.Status != "Excluded" {
			t.Fatalf("row %s has status %q under the Excluded filter", r.Name, r.Status)
		}
	}
	p.selectRows(victim.ID)
	p.do("open Device actions", chromedp.Click(tid("device-actions")), chromedp.WaitVisible(tid("actions-dialog")))
	if p.exists(`dialog[open] [data-testid="deregister-submit"]`) {
		t.Error("Device actions offers Deregister for Excluded devices")
	}
	p.waitFor("Restore offered", `!!document.querySelector('dialog[open] [data-testid="restore-submit"]')`)
	p.do("restore", chromedp.Click(tid("restore-submit")))
	p.waitSettled("the restore's toast", `[...document.querySelectorAll('[data-testid="action-result"]')].some(e => e.textContent.includes('Restored 1 device(s)'))`)
	p.waitSettled("the device left Excluded", fmt.Sprintf(`!document.querySelector('[data-device-id=%q]')
		&& parseInt(document.querySelector('[data-testid="tab-count-not-registered"]').textContent, 10) === %d`, victim.ID, notRegistered))
	if got := p.query().Get("status"); got != "excluded" {
		t.Errorf("after Restore the URL is %s; the Excluded filter was lost", p.location())
	}
	if got := eval[string](p, `document.querySelector('[data-testid="status-filter"]').value`); got != "excluded" {
		t.Errorf("after Restore the status filter shows %q, want excluded", got)
	}
}

// checkExport downloads the CSV and checks it against the visible columns
// and the tab's count.
func checkExport(t *testing.T, p *page, tab string) {
	t.Helper()
	want := p.tabCount(tab)
	cols := p.headers()
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(p.download("export"), []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatalf("parse the export: %v", err)
	}
	if !slices.Equal(recs[0], cols) {
		t.Errorf("export header = %v, want the visible columns %v", recs[0], cols)
	}
	if got := len(recs) - 1; got != want {
		t.Errorf("export has %d rows, the %s tab counts %d", got, tab, want)
	}
}

func TestAdminExportsCSV(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(adminEmail)
	checkExport(t, p, "ready")

	// The export follows a search typed after the page loaded.
	frag := strings.ToLower(p.rows()[0].Name[:5])
	p.do("search", chromedp.SendKeys(tid("search"), frag))
	p.waitSettled("search results", fmt.Sprintf(`new URLSearchParams(location.search).get('q') === %q`, frag))
	want := len(p.rows())
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(p.download("export"), []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatalf("parse the export: %v", err)
	}
	if got := len(recs) - 1; got != want {
		t.Errorf("export after searching %q has %d rows, the table shows %d", frag, got, want)
	}
}

func TestReaderBrowsesButCannotAct(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(readerEmail)
	if got := p.text("current-role"); got != "Service Reader" {
		t.Errorf("role shown = %q", got)
	}
	p.shot("reader-ready", true)

	if p.exists(`[data-testid="discover"]`) {
		t.Error("a reader sees a usable Discover devices button")
	}
	if !p.exists(`[data-testid="discover-disabled"]:disabled`) {
		t.Error("a reader does not see Discover devices disabled")
	}
	if p.exists(`[data-testid="device-actions"], [data-testid="actions-dialog"]`) {
		t.Error("a reader sees usable Device actions")
	}
	if p.exists(`[data-testid="row-select"], [data-testid="select-all"]`) {
		t.Error("a reader sees row checkboxes, which select nothing they may act on")
	}
	first := p.rows()[0]
	if !p.exists(`[data-testid="device-actions-disabled"]:disabled`) {
		t.Error("Device actions is not disabled for a reader")
	}
	// Why it is disabled is visible text, named by the button (not a
	// tooltip that keyboard and touch users never see).
	why := eval[string](p, `(() => { const b = document.querySelector('[data-testid="device-actions-disabled"]');
		const n = document.getElementById(b.getAttribute('aria-describedby') || '');
		return n && n.offsetParent !== null ? n.textContent.trim() : ''; })()`)
	if !strings.Contains(why, "Service Administrator") {
		t.Errorf("the disabled Device actions does not say why in visible text: %q", why)
	}

	checkExport(t, p, "ready")
	p.switchTab("not-ready")
	if len(p.rows()) == 0 {
		t.Error("a reader sees no rows on Not ready")
	}

	// A request forged from the page, with the real CSRF token, is refused.
	status, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](fmt.Sprintf(`(async () => {
		const h = JSON.parse(document.body.getAttribute('hx-headers'));
		const r = await fetch('/devices/assign-ring', {method: 'POST',
			headers: {'X-CSRF-Token': h['X-CSRF-Token'], 'Content-Type': 'application/x-www-form-urlencoded'},
			body: new URLSearchParams({device_id: %q, ring: 'test'})});
		return r.status;
	})()`, first.ID), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("forged POST: %v", err)
	}
	if status != http.StatusForbidden {
		t.Errorf("forged assign-ring as reader: status %d, want 403", status)
	}
	rec, err := a.Store.Device(t.Context(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Ring == store.RingTest && rec.RingActor == readerEmail {
		t.Error("the reader's forged request moved the device")
	}
}

func TestKeyboard(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(adminEmail)

	// Tab reaches the tabs; Enter on one switches to it.
	p.do("start from the top", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
	p.tabUntil("tab-ready", 30)
	p.key("press the right arrow", kb.ArrowRight)
	p.waitSettled("Not ready by keyboard", `document.querySelector('[data-testid="tab-not-ready"]').getAttribute('aria-selected') === 'true'`)
	if got := p.query().Get("tab"); got != "not-ready" {
		t.Errorf("URL after Enter on Not ready = %s", p.location())
	}
	if got := p.focused(); got != "tab-not-ready" {
		t.Errorf("after switching tab the focus is on %s, want it to stay on the tab", got)
	}

	// Tab goes on to the table's row checkboxes; Space ticks one.
	p.tabUntil("row-select", 40)
	p.key("press Space", " ")
	p.waitFor("the row ticked by keyboard", `document.activeElement.checked && !document.querySelector('[data-testid="device-actions"]').disabled`)

	// Enter on a device opens its flyout with the focus in it; Escape
	// closes it and the focus goes back to the device.
	p.do("focus a device", chromedp.Focus(tid("device-link")))
	p.key("press Enter", kb.Enter)
	p.waitSettled("the flyout", `!!document.querySelector('[data-testid="device-detail"]')`)
	if got := p.focused(); got != "detail-close" {
		t.Errorf("with the flyout open the focus is on %s, want in the flyout", got)
	}
	p.key("press Escape", kb.Escape)
	p.waitFor("the flyout closed", `!document.querySelector('[data-testid="device-detail"]')`)
	if got := p.focused(); got != "device-link" {
		t.Errorf("after closing the flyout the focus is on %s, want back on the device", got)
	}

	// Modify columns opens with Enter and closes with Escape.
	p.do("focus Modify columns", chromedp.Focus(tid("modify-columns")))
	p.key("press Enter", kb.Enter)
	p.waitFor("the columns dialog open", `document.querySelector('[data-testid="columns-dialog"]').open`)
	if got := eval[bool](p, `document.querySelector('[data-testid="columns-dialog"]').contains(document.activeElement)`); !got {
		t.Errorf("focus is on %s, not inside the open dialog", p.focused())
	}
	// A swap elsewhere leaves the dialog open: while a discovery runs, its
	// banner polls and swaps every second. The table stands in for it here.
	eval[chromedp.Void](p, `document.querySelector('[data-testid="device-table"]').dataset.old = '';
		htmx.ajax('GET', location.pathname + location.search, {target: '#device-table', swap: 'outerHTML'})`)
	p.waitSettled("the table swapped", `document.querySelector('[data-testid="device-table"]').dataset.old === undefined`)
	if !eval[bool](p, `document.querySelector('[data-testid="columns-dialog"]').open`) {
		t.Error("a swap elsewhere closed the open Modify columns dialog")
	}
	p.key("press Escape", kb.Escape)
	p.waitFor("the columns dialog closed", `!document.querySelector('[data-testid="columns-dialog"]').open`)
	if got := p.focused(); got != "modify-columns" {
		t.Errorf("after Escape the focus is on %s, want back on Modify columns", got)
	}
}
