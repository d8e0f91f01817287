package browser_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAdminRunsPatchTuesday: an admin adds the month's release, pauses the
// Broad ring, sees "Customer paused" on the update report, and resumes it.
func TestAdminRunsPatchTuesday(t *testing.T) {
	a := newApp(t, 200)
	p := a.open(t)
	p.signIn(adminEmail)
	p.do("open Release management", chromedp.Click(tid("nav-releases")), chromedp.WaitVisible(tid("release-add")))

	released := time.Now().UTC().AddDate(0, 0, -10).Format(time.DateOnly)
	p.do("add the release",
		chromedp.SendKeys(tid("release-name"), "Patch Tuesday B"),
		chromedp.SetValue(tid("release-date"), released),
		chromedp.SendKeys(tid("release-builds"), "26100.4202 22631.5624 19045.6093"),
		chromedp.Click(tid("release-submit")),
	)
	row := `[data-testid="release-row"][data-release="Patch Tuesday B"]`
	p.waitSettled("the release on the board", `document.querySelector('`+row+`')`)
	if got := eval[string](p, `document.querySelector('`+row+` [data-ring="broad"] [data-testid="offer-state"]').textContent`); got != "Offered" {
		t.Errorf("Broad state %q, want Offered ten days after the release", got)
	}

	p.do("pause Broad",
		chromedp.SetValue(tid("pause-ring"), "broad"),
		chromedp.SendKeys(tid("pause-reason"), "Test ring shows trouble"),
		chromedp.Click(tid("pause-submit")),
	)
	banner := `[data-testid="pause"][data-ring="broad"]`
	p.waitSettled("the pause banner", `document.querySelector('`+banner+`')`)
	if got := eval[string](p, `document.querySelector('`+banner+`').textContent`); !strings.Contains(got, "Customer paused by "+adminEmail) ||
		!strings.Contains(got, "Test ring shows trouble") {
		t.Errorf("pause banner %q", got)
	}

	// The Broad blade shows the pill; focusing it shows who, when, why
	// and until when.
	p.navigate("/devices?tab=ready&ring=broad")
	p.do("focus Customer paused", chromedp.WaitVisible(tid("cell-paused")), chromedp.Focus(tid("cell-paused")))
	tip := `document.querySelector('[data-testid="cell-paused"] [role="tooltip"]')`
	p.waitFor("the pause details", tip+`.getBoundingClientRect().width > 100`)
	if got := eval[string](p, tip+`.textContent`); !strings.Contains(got, "Customer paused by "+adminEmail) ||
		!strings.Contains(got, "Test ring shows trouble") || !strings.Contains(got, "until ") {
		t.Errorf("pill details %q", got)
	}
	p.shot("blade-customer-paused", false)

	p.do("open the update report", chromedp.Click(tid("nav-reports")), chromedp.WaitVisible(tid("report-summary")))
	cell := `[data-testid="summary-row"][data-ring="broad"] [data-testid="summary-pause"]`
	if got := eval[string](p, `document.querySelector('`+cell+`').textContent`); !strings.Contains(got, "Customer paused") ||
		!strings.Contains(got, "Test ring shows trouble") {
		t.Errorf("report pause cell %q", got)
	}
	p.waitFor("the trend", `document.querySelectorAll('[data-testid="trend-chart"] circle').length > 0`)
	for _, scheme := range []string{"light", "dark"} {
		p.colorScheme(scheme)
		p.shot("reports-trend-"+scheme, true)
	}
	p.colorScheme("light")
	paused := eval[string](p, `document.querySelector('[data-testid="summary-row"][data-ring="broad"] [data-testid="summary-up-to-date-paused"]').textContent`)
	if strings.TrimSpace(paused) == "0" {
		t.Error("no Broad device is shown paused")
	}

	p.do("back to Release management", chromedp.Click(tid("nav-releases")), chromedp.WaitVisible(tid("release-board")))
	// htmx takes the forms over once the document has loaded; a click before
	// that would post the form without it.
	p.waitFor("the page loaded", `document.readyState === 'complete'`)
	p.do("resume Broad", chromedp.Click(chromedp.CSS(banner+` [data-testid="resume"]`)))
	p.waitSettled("the pause gone", `!document.querySelector('`+banner+`') && document.querySelector('[data-testid="release-message"]')`)
	if got := p.text("release-message"); !strings.Contains(got, "Resumed quality updates in Broad") {
		t.Errorf("message %q", got)
	}
	p.do("open the update report again", chromedp.Click(tid("nav-reports")), chromedp.WaitVisible(tid("report-summary")))
	if got := eval[string](p, `document.querySelector('`+cell+`').textContent`); strings.Contains(got, "Customer paused") {
		t.Errorf("Broad still paused on the report: %q", got)
	}
}
