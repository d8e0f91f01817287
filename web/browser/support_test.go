package browser_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"patchboard/store"
)

// TestRaiseSupportRequestFromBlade: an administrator selects devices on the
// Ready blade, picks Raise support request in Device actions, finds them
// filled in, completes the form and lands on the raised request naming
// them, at desktop and phone widths.
func TestRaiseSupportRequestFromBlade(t *testing.T) {
	a := newApp(t, 300)
	if _, err := a.Store.SaveContact(t.Context(), store.Contact{Name: "Pat Primary", Email: "pat@example.com", Area: store.AreaDevices},
		"test", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int64{1440, 390} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			p := a.open(t)
			p.signIn(adminEmail)
			p.viewport(w, 900)
			p.navigate("/devices")
			rows := p.rows()
			picked := []row{rows[1], rows[2]}
			p.selectRows(picked[0].ID, picked[1].ID)
			p.do("open Device actions and raise a support request",
				chromedp.Click(tid("device-actions")),
				chromedp.WaitVisible(tid("raise-support")),
				chromedp.Click(tid("raise-support")),
			)
			p.do("wait for the raise form", chromedp.WaitVisible(tid("support-form")))
			if loc := p.location(); !strings.Contains(loc, "/tenant/support/new?") {
				t.Fatalf("the action opened %s", loc)
			}
			got := eval[string](p, `document.querySelector('[data-testid="support-devices"]').value`)
			if got != picked[0].ID+"\n"+picked[1].ID {
				t.Fatalf("the form's devices are %q, want the two selected", got)
			}
			if c := p.text("support-device-count"); !strings.Contains(c, "2 devices") {
				t.Errorf("device count %q", c)
			}
			p.noSideScroll(fmt.Sprintf("raise form at %d px", w))
			p.shot(fmt.Sprintf("support-raise-%d", w), true)
			p.do("fill in and submit",
				chromedp.SendKeys(tid("support-title"), fmt.Sprintf("Updates stuck (%d px)", w)),
				chromedp.SendKeys(tid("support-description"), "Both stopped downloading on Monday."),
				chromedp.Click(tid("support-submit")),
			)
			p.do("wait for the raised request", chromedp.WaitVisible(tid("support-saved")))
			names := p.text("support-devices-list")
			if !strings.Contains(names, picked[0].Name) || !strings.Contains(names, picked[1].Name) {
				t.Errorf("the request names %q, want %s and %s", names, picked[0].Name, picked[1].Name)
			}
			if s := p.text("support-state-value"); s != "Active" {
				t.Errorf("state %q", s)
			}
			p.noSideScroll(fmt.Sprintf("raised request at %d px", w))
			p.shot(fmt.Sprintf("support-raised-%d", w), true)
			p.navigate("/tenant/support")
			if n := eval[int](p, `document.querySelectorAll('[data-testid="support-row"]').length`); n < 1 {
				t.Errorf("the list shows %d requests", n)
			}
			p.noSideScroll(fmt.Sprintf("support requests at %d px", w))
		})
	}
}
