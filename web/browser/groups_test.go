package browser_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"patchboard/store"
)

// TestAdminBuildsDynamicGroupAndDiscoversIt is the dynamic group flow: an
// administrator types a rule and watches the live preview (an error with its
// position, then the match count and the first devices), creates the group,
// nests it in the Device Registration group, runs Discover devices and finds
// its devices on the Ready tab, discovered via the new group.
func TestAdminBuildsDynamicGroupAndDiscoversIt(t *testing.T) {
	a := newApp(t, 300)
	ctx := t.Context()
	// The admin is a Service Administrator: owning the registration group
	// lets him change its members.
	regID, err := a.Store.RegistrationGroupID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := a.Store.UserByEmail(ctx, adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.AddGroupOwner(ctx, regID, admin.ID, "test"); err != nil {
		t.Fatal(err)
	}
	// The demo's sales laptops are in no group, so they are on no blade.
	const (
		name   = "Sales laptops"
		broken = `device.displayName -startsWit "SLS-"`
		fixed  = `device.displayName -startsWith "SLS-"`
	)
	want, err := a.Store.PreviewRule(ctx, fixed, 20)
	if err != nil {
		t.Fatal(err)
	}
	if want.Matches < 5 {
		t.Fatalf("the demo fleet has %d SLS- devices; the test needs a few", want.Matches)
	}
	for _, d := range want.Devices {
		if d.Status != "" {
			t.Fatalf("%s is already on the blades (%s): the test needs devices not yet discovered", d.DisplayName, d.Status)
		}
	}

	p := a.open(t)
	p.signIn(adminEmail)
	p.do("open Groups", chromedp.Click(tid("nav-groups")), chromedp.WaitVisible(tid("groups-table")))
	p.do("start a dynamic group",
		chromedp.SendKeys(tid("group-name"), name),
		chromedp.Click(tid("group-kind-dynamic")),
		chromedp.WaitVisible(tid("rule-input")),
	)

	// A broken rule: the preview says where and what.
	p.do("type a broken rule", chromedp.SendKeys(tid("rule-input"), broken))
	// Each preview says the length of the rule it checked: wait for the
	// one of the whole rule, not of a prefix typed on the way.
	previewOf := func(rule string) string {
		return fmt.Sprintf(`document.querySelector('[data-testid="rule-preview"]').dataset.ruleLength === '%d'`, len(rule))
	}
	p.waitSettled("the rule error", previewOf(broken)+` && !!document.querySelector('[data-testid="rule-error"]')`)
	if got := p.text("rule-error-position"); got != "20" {
		t.Errorf("error position %s, want 20", got)
	}
	if got := p.text("rule-error-message"); !strings.Contains(got, `unknown operator "-startsWit"`) {
		t.Errorf("error message %q", got)
	}
	if got := eval[string](p, `document.querySelector('[data-testid="rule-error-snippet"] mark').textContent`); got != "-" {
		t.Errorf("the snippet marks %q, want the operator's first character", got)
	}
	p.shot("group-rule-error", false)

	// Fixed: the count and the first devices by name.
	p.do("fix the rule",
		chromedp.Focus(tid("rule-input")),
		chromedp.KeyEvent(strings.Repeat(kb.Backspace, len(broken))),
		chromedp.SendKeys(tid("rule-input"), fixed),
	)
	p.waitSettled("the preview", previewOf(fixed)+fmt.Sprintf(` && (document.querySelector('[data-testid="rule-match-count"]') || {}).textContent === %q`, strconv.Itoa(want.Matches)))
	previewed := eval[[]string](p, `Array.from(document.querySelectorAll('[data-testid="rule-preview-name"]')).map(td => td.textContent.trim())`)
	var wantNames []string
	for _, d := range want.Devices {
		wantNames = append(wantNames, d.DisplayName)
	}
	if !slices.Equal(previewed, wantNames) {
		t.Errorf("preview shows %v, want %v", previewed, wantNames)
	}
	p.shot("group-rule-preview", true)

	// Create it: the group's page.
	p.do("create the group", chromedp.Click(tid("group-create-submit")), chromedp.WaitVisible(tid("group-title")))
	p.waitSettled("the group's page", fmt.Sprintf(`(document.querySelector('[data-testid="group-title"]') || {}).textContent === %q`, name))
	if got := p.text("group-kind"); got != "Dynamic" {
		t.Errorf("kind %q", got)
	}
	if got := p.text("group-member-count"); !strings.HasPrefix(got, strconv.Itoa(want.Matches)+" devices match") {
		t.Errorf("member count %q", got)
	}
	if got := p.text("group-placement"); !strings.Contains(got, "Not in the Device Registration group") {
		t.Errorf("placement %q", got)
	}
	p.shot("group-dynamic-page", true)

	// Nest it in the Device Registration group, reached from the blades.
	p.do("back to the devices", chromedp.Click(chromedp.CSS(`nav a[href="/devices"]`)), chromedp.WaitVisible(tid("registration-group")))
	p.do("open the registration group", chromedp.Click(tid("registration-group")), chromedp.WaitVisible(tid("nest-panel")))
	if got := p.text("group-title"); got != store.RegistrationGroupName {
		t.Fatalf("the blade's link opened %q", got)
	}
	if !p.exists(`[data-testid="registration-note"]`) {
		t.Error("the registration group's page does not say removal does not deregister")
	}
	groupID := eval[string](p, fmt.Sprintf(`Array.from(document.querySelectorAll('[data-testid="nest-select"] option')).find(o => o.textContent.startsWith(%q)).value`, name))
	p.do("pick the group", chromedp.SetValue(tid("nest-select"), groupID), chromedp.Click(tid("nest-submit")))
	p.waitSettled("nested", fmt.Sprintf(`!!document.querySelector('[data-testid="member-group-row"][data-group-id="%s"]')
		&& !!document.querySelector('[data-testid="action-result"]')`, groupID))
	if got := p.text("action-result"); !strings.Contains(got, name+" is now a member of "+store.RegistrationGroupName) {
		t.Errorf("toast %q", got)
	}
	if got := eval[string](p, fmt.Sprintf(`document.querySelector('[data-testid="member-group-row"][data-group-id="%s"]').textContent`, groupID)); !strings.Contains(got, "its devices are discovered") {
		t.Errorf("the member group row says %q", got)
	}
	p.shot("group-registration-nested", true)

	// Discover, then find the devices on the Ready tab.
	p.do("back to the devices", chromedp.Click(chromedp.CSS(`nav a[href="/devices"]`)), chromedp.WaitVisible(tid("discover")))
	p.do("click Discover devices", chromedp.Click(tid("discover")))
	p.waitSettled("discovery completed", `document.querySelector('[data-testid="discovery-status"]').dataset.state === 'completed'
		&& document.querySelector('[data-testid="discovery-status"]').textContent.includes('Last discovery')`)
	p.do("show Discovered via", chromedp.Click(tid("modify-columns")), chromedp.WaitVisible(tid("columns-dialog")))
	if !eval[bool](p, `document.querySelector('[data-testid="column-discovered_via"]').checked`) {
		p.do("tick Discovered via", chromedp.Click(tid("column-discovered_via")))
	}
	p.do("save columns", chromedp.Click(tid("columns-save")))
	p.waitSettled("the column", `!document.querySelector('dialog[open]') && !!document.querySelector('[data-testid="col-discovered_via"]')`)
	p.do("search the Ready tab", chromedp.SendKeys(tid("search"), "SLS-"))
	p.waitSettled("search results", `new URLSearchParams(location.search).get('q') === 'SLS-' && !!document.querySelector('[data-testid="device-row"]')`)
	type found struct {
		Name string `json:"name"`
		Via  string `json:"via"`
	}
	rows := eval[[]found](p, `Array.from(document.querySelectorAll('[data-testid="device-row"]')).map(tr => ({
		name: tr.querySelector('[data-testid="device-link"]').textContent.trim(),
		via: tr.querySelector('[data-testid="cell-discovered_via"]').textContent.trim()}))`)
	if len(rows) == 0 {
		t.Fatal("no SLS- device is Ready after discovery")
	}
	for _, r := range rows {
		if r.Via != name {
			t.Errorf("%s discovered via %q, want %q", r.Name, r.Via, name)
		}
		if !slices.Contains(wantNames, r.Name) && want.Matches <= 20 {
			t.Errorf("%s is Ready but was not previewed", r.Name)
		}
	}
	p.shot("group-discovered", true)
}

// TestReaderSeesGroupsReadOnly: a Service Reader browses groups without
// controls, and a Service Administrator who does not own the registration
// group is told why he cannot change it.
func TestReaderSeesGroupsReadOnly(t *testing.T) {
	a := newApp(t, 300)
	p := a.open(t)
	p.signIn(readerEmail)
	p.do("open Groups", chromedp.Click(tid("nav-groups")), chromedp.WaitVisible(tid("groups-table")))
	if p.exists(`[data-testid="group-create"]`) || !p.exists(`[data-testid="group-create-disabled"]`) {
		t.Error("a reader is offered the create form")
	}
	if !strings.Contains(p.text("group-depth-warning"), "its devices are not discovered") {
		t.Errorf("depth warning %q", p.text("group-depth-warning"))
	}
	p.do("open the registration group", chromedp.Click(chromedp.CSS(`[data-testid="group-link"]`)), chromedp.WaitVisible(tid("group-title")))
	for _, id := range []string{"add-devices", "nest-panel", "row-select", "remove-devices", "owner-add-account"} {
		if p.exists(`[data-testid="` + id + `"]`) {
			t.Errorf("a reader sees %s", id)
		}
	}
	if !p.exists(`[data-testid="members-denied"]`) {
		t.Error("the page does not say why the reader cannot change it")
	}
	// Member search works for readers.
	first := eval[string](p, `document.querySelector('[data-testid="member-device-row"] [data-testid="member-name"]').textContent.trim()`)
	p.do("search the members", chromedp.SendKeys(tid("member-search"), first))
	p.waitSettled("one member", fmt.Sprintf(`document.querySelectorAll('[data-testid="member-device-row"]').length >= 1
		&& Array.from(document.querySelectorAll('[data-testid="member-name"]')).every(a => a.textContent.includes(%q))`, first))
	p.signOut()

	p.signIn(adminEmail) // a Service Administrator who owns nothing
	p.navigate(fmt.Sprintf("/groups/%d", mustRegID(t, a)))
	if !strings.Contains(p.text("members-denied"), "owners of the Device Registration group") {
		t.Errorf("members-denied %q", p.text("members-denied"))
	}
	if p.exists(`[data-testid="nest-panel"]`) {
		t.Error("a non-owner is offered to nest groups")
	}
	p.shot("group-registration-not-owner", true)
}

func mustRegID(t *testing.T, a *app) int64 {
	t.Helper()
	id, err := a.Store.RegistrationGroupID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return id
}
