package browser_test

import (
	_ "embed"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"patchboard/store"
)

// axeSource is axe-core, vendored for the tests only (testdata/AXE-VERSION
// says which release, testdata/axe-LICENSE.txt its licence). The binary
// never embeds it: only this test file does.
//
//go:embed testdata/axe.min.js
var axeSource string

// axeTags are the rule sets every page must pass: WCAG 2.0 and 2.1 A and
// AA, and axe's best practices.
const axeTags = `['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']`

// Who views a page in the accessibility walk.
const (
	asReader = "reader" // Service Reader
	asAdmin  = "admin"  // Service Administrator
	asGlobal = "global" // Global Administrator (settings pages)
	asNobody = "nobody" // signed out
)

// axePage is one page of the accessibility walk. Path may name fixtures in
// braces: {device} (a device failing prerequisite checks), {registration}
// (the Device Registration group), {dynamic} (the demo's dynamic group,
// whose page holds the rule editor), {webhook} (a webhook subscription) and
// {support} (a support request with a note and an attachment).
type axePage struct {
	path string
	// as lists who opens the page; nil means a Service Reader and a
	// Service Administrator.
	as []string
	// then, if set, acts on the loaded page before the check (opens the
	// flyout, a dialog, a menu); name says what it shows.
	name string
	then func(p *page)
	// within, if set, is the CSS selector of what then opened: the check
	// covers only it, as the rest is the page another entry checks.
	within string
}

// axePages is every page of the portal the walk checks. A new page is one
// line here: its path, and who may open it if not every reader. Blades
// show 25 rows: more rows of the same kinds only slow axe down.
var axePages = []axePage{
	{path: "/login", as: []string{asNobody}},
	{path: "/login", name: "wrong password", then: signInWrongly, as: []string{asNobody}},
	{path: "/overview"},
	{path: "/devices?size=25"},
	{path: "/devices?tab=not-ready&size=25"},
	{path: "/devices?tab=not-registered&size=25"},
	{path: "/devices?tab=not-registered&status=prerequisites-failed&q=a"},
	{path: "/devices?tab=ready&size=25", name: "flyout", then: openFlyout, within: "#flyout"},
	{path: "/devices?tab=ready&size=25", name: "Modify columns", then: openDialog("modify-columns", "columns-dialog"), within: "#columns-dialog"},
	{path: "/devices?tab=ready&size=25", name: "Paste a list", then: openDialog("paste-list", "paste-dialog"), within: "#paste-dialog", as: []string{asAdmin}},
	{path: "/devices?tab=ready&size=25", name: "Device actions", then: openActions, within: "#actions-dialog", as: []string{asAdmin}},
	{path: "/devices?tab=ready&size=25", name: "Deregister confirmation", then: confirmDeregister, within: "#deregister-confirm", as: []string{asAdmin}},
	{path: "/devices/{device}"},
	{path: "/groups"},
	{path: "/groups", name: "rule editor with an error", then: typeRule(`device.displayName -startsWit "AP"`), within: ".group-create", as: []string{asAdmin}},
	{path: "/groups", name: "rule editor with a preview", then: typeRule(`device.displayName -startsWith "AP"`), within: ".group-create", as: []string{asAdmin}},
	{path: "/groups/{registration}"},
	{path: "/groups/{dynamic}"},
	{path: "/imports", as: []string{asAdmin}},
	{path: "/audit", as: []string{asAdmin}},
	{path: "/audit", as: []string{asReader}}, // the 403 page
	{path: "/releases"},
	{path: "/reports"},
	{path: "/reports?kind=feature"},
	{path: "/reports/devices"},
	{path: "/tenant/alerts"},
	{path: "/tenant/contacts"},
	{path: "/tenant/readiness"},
	{path: "/tenant/support"},
	{path: "/tenant/support/new", as: []string{asAdmin}},
	{path: "/tenant/support/{support}"},
	{path: "/tenant/unenroll", as: []string{asGlobal}},
	{path: "/tenant/webhooks", as: []string{asGlobal}},
	{path: "/tenant/webhooks/{webhook}", as: []string{asGlobal}},
	{path: "/settings/users", as: []string{asGlobal}},
	{path: "/settings/tokens", as: []string{asGlobal}},
	{path: "/no-such-page"}, // the 404 page
}

// axeViolation is one rule a page breaks, as axe reports it.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
	Summary string   `json:"summary"`
}

// axeCheck runs axe-core on the page as it is and returns its violations.
// axe is injected once per document, through DevTools, so the portal's
// Content-Security-Policy stays as it ships.
func (p *page) axeCheck(within string) []axeViolation {
	p.t.Helper()
	if !eval[bool](p, `typeof window.axe === 'object'`) {
		if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](axeSource+";true")); err != nil {
			p.t.Fatalf("load axe-core: %v", err)
		}
	}
	context := "document"
	if within != "" {
		context = fmt.Sprintf(`(document.querySelector(%q) || (() => { throw new Error("nothing matches %s"); })())`, within, within)
	}
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]axeViolation](`axe.run(`+context+`, {
		runOnly: {type: 'tag', values: `+axeTags+`},
		resultTypes: ['violations'],
	}).then(r => r.violations.map(v => ({
		id: v.id, impact: v.impact || '', help: v.help,
		targets: v.nodes.map(n => n.target.join(' ')),
		summary: (v.nodes[0] && v.nodes[0].failureSummary || '').replace(/\s+/g, ' '),
	})))`, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("run axe-core: %v", err)
	}
	return v
}

// TestAxeEveryPage opens every page of axePages at 1440 and 390 px, in
// light and dark mode, as the people who may see it, and runs axe-core on
// each: no page may break any rule, at any impact. A failure names the
// page, the rule, its impact and the elements, e.g.
//
//	/devices as reader, dark, 390 px: color-contrast (serious) Elements must meet minimum color contrast ratio thresholds
//	    at .pill.warn, td:nth-child(3) > .pill — Fix any of the following: ...
func TestAxeEveryPage(t *testing.T) {
	// 100 devices fill every tab with rows of each kind; more rows only
	// slow axe down.
	a := newApp(t, 100)
	fx := a.axeFixtures(t)
	// With PATCHBOARD_SHOTS set, the walk also saves a screenshot of every
	// page it checks there, for a person to look the portal over.
	shots := os.Getenv("PATCHBOARD_SHOTS") != ""
	for _, who := range []string{asNobody, asReader, asAdmin, asGlobal} {
		var mine []axePage
		for _, pg := range axePages {
			as := pg.as
			if as == nil {
				as = []string{asReader, asAdmin}
			}
			for _, w := range as {
				if w == who {
					mine = append(mine, pg)
				}
			}
		}
		// One subtest a person, scheme and width, so that each stays well
		// inside a tab's deadline, two run at once, and one can be re-run
		// alone: go test -run 'TestAxeEveryPage/admin/dark/390' ./web/browser/
		for _, scheme := range []string{"light", "dark"} {
			for _, w := range []int64{1440, 390} {
				t.Run(fmt.Sprintf("%s/%s/%d", who, scheme, w), func(t *testing.T) {
					t.Parallel()
					p := a.openWithin(t, axeTimeout)
					p.signInAs(who)
					p.colorScheme(scheme)
					p.viewport(w, 900)
					for _, pg := range mine {
						where := fmt.Sprintf("%s as %s, %s, %d px", pg.path, who, scheme, w)
						if pg.name != "" {
							where = fmt.Sprintf("%s (%s) as %s, %s, %d px", pg.path, pg.name, who, scheme, w)
						}
						p.navigate(fx.Replace(pg.path))
						p.waitFor("the page loaded", `document.readyState === 'complete' && `+settled)
						if pg.then != nil {
							pg.then(p)
						}
						if shots {
							p.shot(shotName(who, scheme, w, pg), true)
						}
						// A component call written inside a line of text is
						// printed, not called: templ calls only at a line's start.
						if leak := eval[string](p, `(document.body.innerText.match(/@[A-Z]\w*\(/) || [''])[0]`); leak != "" {
							t.Errorf("%s: the page shows template source %q", where, leak)
						}
						if vs := p.axeCheck(pg.within); len(vs) > 0 {
							t.Errorf("%s: %d accessibility violations:\n%s", where, len(vs), formatViolations(vs))
						}
					}
				})
			}
		}
	}
}

// signInAs signs in as one of the walk's people; asNobody stays signed out.
func (p *page) signInAs(who string) {
	p.t.Helper()
	switch who {
	case asReader:
		p.signIn(readerEmail)
	case asAdmin:
		p.signIn(adminEmail)
	case asGlobal:
		p.signIn(globalEmail)
	}
}

// shotName names the screenshot of a page of the walk.
func shotName(who, scheme string, width int64, pg axePage) string {
	name := pg.path
	if pg.name != "" {
		name += "-" + pg.name
	}
	name = strings.Trim(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(name, "_"), "_")
	return fmt.Sprintf("axe-%d-%s-%s-%s", width, scheme, who, name)
}

// formatViolations lists violations one rule a paragraph, with the elements
// that break it.
func formatViolations(vs []axeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "  %s (%s) %s\n", v.ID, v.Impact, v.Help)
		targets := v.Targets
		if len(targets) > 5 {
			targets = append(targets[:5:5], fmt.Sprintf("and %d more", len(v.Targets)-5))
		}
		fmt.Fprintf(&b, "      at %s\n      %s\n", strings.Join(targets, " | "), v.Summary)
	}
	return b.String()
}

// axeTimeout bounds one subtest of the walk: some twenty pages, each
// loaded and checked, on a machine that may be busy.
const axeTimeout = 4 * time.Minute

const globalEmail = "global@example.com"

// axeFixtures adds what the walk's pages should show beyond the demo fleet
// (a Global Administrator, a release and a pause, a webhook) and
// returns the replacer of the path placeholders.
func (a *app) axeFixtures(t *testing.T) *strings.Replacer {
	t.Helper()
	ctx := t.Context()
	if _, err := a.Store.AddUser(ctx, globalEmail, store.RoleGlobalAdmin, password, "test"); err != nil {
		t.Fatalf("add user: %v", err)
	}
	now := time.Now().UTC()
	builds, err := store.ParseBuilds("26100.4202 22631.5624 19045.6093")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.AddRelease(ctx, store.NewRelease{Name: "Patch Tuesday B",
		Date: now.AddDate(0, 0, -10).Truncate(24 * time.Hour), Builds: builds}, adminEmail, now); err != nil {
		t.Fatalf("add release: %v", err)
	}
	if _, err := a.Store.PauseRings(ctx, []store.Ring{store.RingBroad}, store.KindQuality, "Test ring shows trouble", adminEmail, now); err != nil {
		t.Fatalf("pause: %v", err)
	}
	// Nothing listens on the discard port of the loopback address: the
	// delivery log shows refused deliveries, and nothing leaves the machine.
	hook, err := a.Store.AddWebhook(ctx, "http://127.0.0.1:9/patchboard", []store.EventType{store.EventDeviceTabChanged}, "", adminEmail, now)
	if err != nil {
		t.Fatalf("add webhook: %v", err)
	}
	dev := a.firstDevice(t, store.TabNotRegistered, store.StatusPrerequisitesFailed)
	contact, err := a.Store.SaveContact(ctx, store.Contact{Name: "Ada Admin", Email: "ada@example.com", Language: "en", Area: store.AreaDevices}, adminEmail, now)
	if err != nil {
		t.Fatalf("add contact: %v", err)
	}
	req, err := a.Store.RaiseSupportRequest(ctx, store.NewSupportRequest{Title: "Devices stuck in Not ready",
		Description: "Since Tuesday these devices fail the last check-in.", Severity: store.SeverityModerate,
		Devices: []string{dev.DeviceID}, ContactID: contact.ID,
		Attachments: []store.Upload{{Name: "notes.txt", Data: []byte("What we tried so far.")}}},
		store.SupportActor{Email: adminEmail, Role: store.RoleServiceAdmin}, now)
	if err != nil {
		t.Fatalf("raise support request: %v", err)
	}
	dynamic, err := a.Store.Group(ctx, "Autopatch - AP devices")
	if err != nil {
		t.Fatalf("the demo's dynamic group: %v", err)
	}
	return strings.NewReplacer("{device}", dev.DeviceID,
		"{registration}", fmt.Sprint(mustRegID(t, a)),
		"{dynamic}", fmt.Sprint(dynamic.ID),
		"{webhook}", fmt.Sprint(hook.ID),
		"{support}", fmt.Sprint(req.ID))
}

// openFlyout opens the first device's detail in the flyout.
func openFlyout(p *page) {
	p.do("open the first device", chromedp.Click(tid("device-link")), chromedp.WaitVisible(tid("device-detail")))
	p.waitSettled("the flyout", `!!document.querySelector('[data-testid="detail-checks"]')`)
}

// openDialog clicks the button that opens a dialog and waits for it.
func openDialog(button, dialog string) func(p *page) {
	return func(p *page) {
		p.do("click "+button, chromedp.Click(tid(button)))
		p.waitSettled("the dialog "+dialog, fmt.Sprintf(`document.querySelector('[data-testid=%q]').open`, dialog))
	}
}

// openActions ticks the first two rows and opens Device actions.
func openActions(p *page) {
	ids := eval[[]string](p, `Array.from(document.querySelectorAll('[data-testid="device-row"]')).slice(0, 2).map(tr => tr.dataset.deviceId)`)
	p.selectRows(ids...)
	openDialog("device-actions", "actions-dialog")(p)
}

// signInWrongly submits a wrong password: the form shows its error.
func signInWrongly(p *page) {
	p.do("sign in with a wrong password",
		chromedp.SendKeys(tid("login-email"), readerEmail),
		chromedp.SendKeys(tid("login-password"), "not-the-password"),
		chromedp.Click(tid("login-submit")),
		chromedp.WaitVisible(tid("login-error")),
	)
	p.waitFor("the page loaded", `document.readyState === 'complete'`)
}

// typeRule starts a dynamic group and types its rule: the editor shows the
// rule's error or its preview.
func typeRule(rule string) func(p *page) {
	return func(p *page) {
		p.do("type a rule",
			chromedp.SendKeys(tid("group-name"), "Accessibility"),
			chromedp.Click(tid("group-kind-dynamic")),
			chromedp.WaitVisible(tid("rule-input")),
			chromedp.SendKeys(tid("rule-input"), rule),
		)
		p.waitSettled("the rule's preview", fmt.Sprintf(`(document.querySelector('[data-testid="rule-preview"]') || {dataset: {}}).dataset.ruleLength === '%d'`, len(rule)))
	}
}

// confirmDeregister ticks two rows and asks to deregister them: the
// confirmation dialog names them.
func confirmDeregister(p *page) {
	openActions(p)
	p.do("deregister", chromedp.Click(tid("deregister-submit")))
	p.waitFor("the confirmation", `!!document.querySelector('dialog[open] [data-confirm-names] li')`)
}
