package browser_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"patchboard/store"
)

// TestOverviewFitsAndDrawsItsCharts opens the start page on a desktop in
// light mode as an admin and on a phone in dark mode as a reader: the page
// never scrolls sideways, the charts are drawn in the scheme's colours, and
// a failing check leads to its filtered blade.
func TestOverviewFitsAndDrawsItsCharts(t *testing.T) {
	a := newApp(t, 300)
	// Three weeks of daily snapshots, with a gap of three days without
	// discovery: lines, and a break in them.
	for days := 21; days >= 1; days-- {
		if days >= 10 && days <= 12 {
			continue
		}
		if _, err := a.Store.Discover(t.Context(), store.TriggerCLI, "test", time.Now().AddDate(0, 0, -days)); err != nil {
			t.Fatalf("discover %d days ago: %v", days, err)
		}
	}
	tests := []struct {
		name          string
		email         string
		width, height int64
		dark          bool
	}{
		{"desktop-light-admin", adminEmail, 1440, 900, false},
		{"phone-dark-reader", readerEmail, 390, 844, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := a.open(t)
			p.signIn(tt.email)
			p.viewport(tt.width, tt.height)
			if tt.dark {
				p.colorScheme("dark")
			}
			p.navigate("/overview")
			p.do("wait for the overview", chromedp.WaitVisible(tid("trend-chart")))
			p.noSideScroll("the overview")
			// Not even inside the page: nothing reaches past the window.
			if out := eval[[]string](p, fmt.Sprintf(`[...document.querySelectorAll('#main *')]
				.filter(e => e.getBoundingClientRect().right > %d + 0.5).map(e => e.tagName + '.' + (e.className.baseVal ?? e.className))`, tt.width)); len(out) > 0 {
				t.Errorf("elements reaching past the window's right edge: %v", out)
			}

			// The trend: three series drawn, each in two lines (the gap
			// breaks them) and a dot a day, in the colours of the scheme.
			for _, tab := range []string{"ready", "not-ready", "not-registered"} {
				series := fmt.Sprintf(`document.querySelector('[data-testid="trend-series-%s"]')`, tab)
				if n := eval[int](p, series+`.querySelectorAll('circle').length`); n != 19 {
					t.Errorf("%s series has %d dots, want 19 days", tab, n)
				}
				lengths := eval[[]float64](p, `[...`+series+`.querySelectorAll('polyline')].map(l => l.getBoundingClientRect().width)`)
				if len(lengths) != 2 || lengths[0] <= 0 || lengths[1] <= 0 {
					t.Errorf("%s series lines are %v px wide, want two drawn lines", tab, lengths)
				}
			}
			wantOK := "rgb(16, 124, 65)" // --ok, light
			if tt.dark {
				wantOK = "rgb(76, 195, 138)" // --ok, dark
			}
			if got := eval[string](p, `getComputedStyle(document.querySelector('[data-testid="trend-series-ready"] circle')).fill`); got != wantOK {
				t.Errorf("Ready series drawn in %s, want %s", got, wantOK)
			}
			chart := eval[[]float64](p, `(() => { const r = document.querySelector('[data-testid="trend-chart"]').getBoundingClientRect(); return [r.width, r.height]; })()`)
			if chart[0] < 300 || chart[1] < 100 {
				t.Errorf("trend chart is %v px", chart)
			}
			// The ring bars: the Broad ring, most devices, has a visible bar.
			if w := eval[float64](p, `document.querySelector('[data-testid="overview-ring-broad"] rect.fill').getBoundingClientRect().width`); w <= 0 {
				t.Errorf("the Broad ring's bar is %v px wide", w)
			}
			p.shot("overview-"+tt.name, true)

			// The first failing check leads to the blade filtered by it.
			href := eval[string](p, `document.querySelector('[data-testid="overview-checks-not-registered"] [data-testid="failing-check-link"]').getAttribute('href')`)
			if !strings.HasPrefix(href, "/devices?tab=not-registered&check=") {
				t.Fatalf("failing check links %q", href)
			}
			p.do("open the failing check", chromedp.Click(chromedp.CSS(`[data-testid="overview-checks-not-registered"] [data-testid="failing-check-link"]`)),
				chromedp.WaitVisible(tid("device-table")))
			if got := p.location(); got != href {
				t.Errorf("the check's link went to %s, want %s", got, href)
			}
		})
	}
}
