package views

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"patchboard/store"
)

// OverviewView is the model of the overview page, the portal's start page.
type OverviewView struct {
	store.Overview
	Now time.Time
	// DiscoveryInterval is the scheduler's period; zero when this server
	// schedules no discovery.
	DiscoveryInterval time.Duration
}

// StartPage is where the portal's root and a sign-in without a next page
// land.
const StartPage = "/overview"

// overviewTopChecks is how many failing checks the overview lists per tab.
const overviewTopChecks = 5

// TabURL is the blade of a tab.
func TabURL(t store.Tab) string { return BladeQuery{Tab: t}.URL() }

// CheckURL is the blade of a tab filtered to the devices failing a check.
func CheckURL(t store.Tab, c store.CheckID) string {
	return "/devices?tab=" + url.QueryEscape(string(t)) + "&check=" + url.QueryEscape(string(c))
}

// CheckTabs are the tabs whose devices fail checks, in the order the
// overview lists them: the unregistered first, they are the larger worry.
var CheckTabs = []store.Tab{store.TabNotRegistered, store.TabNotReady}

// TopChecks are the most failed checks of a tab.
func (v OverviewView) TopChecks(t store.Tab) []store.CheckCount {
	cs := v.FailingChecks[t]
	return cs[:min(len(cs), overviewTopChecks)]
}

// MoreChecks is how many failing checks of a tab TopChecks leaves out.
func (v OverviewView) MoreChecks(t store.Tab) int {
	return max(0, len(v.FailingChecks[t])-overviewTopChecks)
}

// CheckShare is the width, in percent of the tab's devices, of a check's bar.
func (v OverviewView) CheckShare(t store.Tab, c store.CheckCount) string {
	return svgNum(share(c.N, v.Counts.Tab(t)))
}

// CheckTabHeading names what fails on a tab.
func CheckTabHeading(t store.Tab) string {
	if t == store.TabNotReady {
		return "Not ready: readiness checks"
	}
	return "Not registered: prerequisites"
}

// RingRow is one ring of the ring split, against its target.
type RingRow struct {
	Ring    store.Ring
	Devices int
	// Share and TargetShare are percents of the registered devices;
	// TargetShare < 0 when the ring has no target.
	Share, TargetShare float64
	// Target says what the service aims at, in words.
	Target string
}

// ShareText is the ring's share as the page writes it.
func (r RingRow) ShareText() string { return fmt.Sprintf("%.1f %%", r.Share) }

// ShareWidth and TargetX place the ring's bar and target mark (SVG, 0–100).
func (r RingRow) ShareWidth() string { return svgNum(r.Share) }

// TargetX is where the target mark sits on the bar; "" for no mark.
func (r RingRow) TargetX() string {
	if !r.HasTarget() {
		return ""
	}
	return svgNum(r.TargetShare)
}

// HasTarget reports whether the ring has a target.
func (r RingRow) HasTarget() bool { return r.TargetShare >= 0 }

// RingRows is the ring split (SPEC §5): each ring's devices and share of the
// registered devices, against the service's targets (First/Fast/Broad) and
// the recommended minimum of the Test ring.
func (v OverviewView) RingRows() []RingRow {
	n := v.Counts.Registered()
	total := v.Counts.Rings.Total()
	first, fast, broad := store.RingTargets(n)
	targets := map[store.Ring]float64{store.RingFirst: first, store.RingFast: fast, store.RingBroad: broad}
	rows := make([]RingRow, 0, len(store.Rings))
	for _, r := range store.Rings {
		row := RingRow{Ring: r, Devices: v.Counts.Rings.Get(r), TargetShare: -1}
		row.Share = share(row.Devices, total)
		if r == store.RingTest {
			least := v.TestRingMinimum()
			row.Target = "≥ " + plural(least, "device", "devices")
			if n > 0 {
				row.TargetShare = min(100, share(least, n))
			}
		} else if n > 0 {
			row.TargetShare = 100 * targets[r] / float64(n)
			row.Target = fmt.Sprintf("%.0f %%", row.TargetShare)
		} else {
			row.Target = "—"
		}
		rows = append(rows, row)
	}
	return rows
}

// TestRingMinimum is the recommended Test ring size for the fleet.
func (v OverviewView) TestRingMinimum() int { return store.TestRingMinimum(v.Counts.Registered()) }

// TestRingShort reports whether the Test ring is below its recommended
// minimum (only said once something is registered).
func (v OverviewView) TestRingShort() bool {
	return v.Counts.Registered() > 0 && v.Counts.Rings.Test < v.TestRingMinimum()
}

// NextDiscovery says when the scheduler runs discovery next: an interval
// after its last run started (it ticks from its first run, at start-up).
func (v OverviewView) NextDiscovery() string {
	switch {
	case v.LastRun != nil && v.LastRun.State == store.RunRunning:
		return "Running now"
	case v.DiscoveryInterval <= 0:
		return "Not scheduled: this server runs discovery only when asked"
	case v.LastScheduledRun == nil:
		return "Due now"
	}
	next := v.LastScheduledRun.StartedAt.Add(v.DiscoveryInterval)
	if !next.After(v.Now) {
		return "Due now"
	}
	return until(v.Now, next) + " (" + dateTime(next) + ")"
}

// until says how long after now t is, roughly.
func until(now, t time.Time) string {
	d := t.Sub(now)
	if d < time.Minute {
		return "in less than a minute"
	}
	return "in " + roughly(d)
}

// triggerLabel names who started a run.
func triggerLabel(t store.Trigger) string {
	switch t {
	case store.TriggerSchedule:
		return "the schedule"
	case store.TriggerButton:
		return "Discover devices"
	case store.TriggerCLI:
		return "the command line"
	case store.TriggerAPI:
		return "the API"
	}
	return string(t)
}

// share is part of whole in percent; 0 of nothing.
func share(part, whole int) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// svgNum writes a coordinate: one decimal is finer than a pixel.
func svgNum(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// The trend chart's drawing area, in SVG user units. The SVG scales to its
// box (at most 960 px wide); on a phone, app.css doubles the text and dots
// so that they stay legible.
const (
	trendW      = 720
	trendH      = 240
	trendLeft   = 64
	trendRight  = 16
	trendTop    = 12
	trendBottom = 30
)

// TabTrend is the 30-day trend of the three tabs, ready to draw.
type TabTrend struct {
	Days   []time.Time // the window, oldest first
	Series []TabSeries
	YTicks []ChartTick
	XTicks []ChartTick
	// Rows are the snapshots, for the table that says what the chart shows.
	Rows []store.Snapshot
}

// TabSeries is one tab's line: polylines broken where a day has no
// snapshot, and a dot for each snapshot.
type TabSeries struct {
	Tab      store.Tab
	Lines    []string // points attributes
	Dots     []ChartDot
	Summary  string // the line in words
	CSSClass string
}

// ChartDot is one point of a series.
type ChartDot struct{ X, Y, Title string }

// ChartTick is an axis label at a coordinate.
type ChartTick struct{ At, Label string }

// ViewBox is the chart's SVG viewBox.
func (TabTrend) ViewBox() string { return fmt.Sprintf("0 0 %d %d", trendW, trendH) }

// Plot edges, for the axes.
func (TabTrend) Left() string   { return strconv.Itoa(trendLeft) }
func (TabTrend) Right() string  { return strconv.Itoa(trendW - trendRight) }
func (TabTrend) Bottom() string { return strconv.Itoa(trendH - trendBottom) }

// XLabelY is the baseline of the day labels.
func (TabTrend) XLabelY() string { return strconv.Itoa(trendH - 8) }

// YLabelX is where the value labels end.
func (TabTrend) YLabelX() string { return strconv.Itoa(trendLeft - 6) }

// Empty reports whether there is nothing to draw.
func (c TabTrend) Empty() bool { return len(c.Rows) == 0 }

// Description is the chart in one sentence per tab, for screen readers.
func (c TabTrend) Description() string {
	parts := make([]string, len(c.Series))
	for i, s := range c.Series {
		parts[i] = s.Summary
	}
	return strings.Join(parts, " ")
}

// Trend draws the snapshots of the TrendDays days up to now's day.
func (v OverviewView) Trend() TabTrend {
	last := v.Now.UTC().Truncate(24 * time.Hour)
	c := TabTrend{Rows: v.Overview.Trend}
	for i := store.TrendDays - 1; i >= 0; i-- {
		c.Days = append(c.Days, last.AddDate(0, 0, -i))
	}
	top := 0
	for _, s := range c.Rows {
		top = max(top, s.Ready, s.NotReady, s.NotRegistered)
	}
	top = niceCeil(top)
	plotW := float64(trendW - trendLeft - trendRight)
	plotH := float64(trendH - trendTop - trendBottom)
	x := func(day time.Time) float64 {
		i := day.Sub(c.Days[0]).Hours() / 24
		return trendLeft + plotW*i/float64(len(c.Days)-1)
	}
	y := func(n int) float64 { return trendTop + plotH - plotH*float64(n)/float64(top) }

	for _, t := range store.Tabs {
		s := TabSeries{Tab: t, CSSClass: "series-" + string(t)}
		var line []string
		var prev time.Time
		for _, sn := range c.Rows {
			if len(line) > 0 && sn.Day.Sub(prev) > 24*time.Hour {
				if len(line) > 1 { // a lone day is only its dot
					s.Lines = append(s.Lines, strings.Join(line, " "))
				}
				line = nil
			}
			px, py := svgNum(x(sn.Day)), svgNum(y(sn.Tab(t)))
			line = append(line, px+","+py)
			s.Dots = append(s.Dots, ChartDot{X: px, Y: py, Title: fmt.Sprintf("%s, %s: %s", t.Label(), shortDay(sn.Day), Thousands(sn.Tab(t)))})
			prev = sn.Day
		}
		if len(line) > 1 {
			s.Lines = append(s.Lines, strings.Join(line, " "))
		}
		s.Summary = trendSummary(t, c.Rows)
		c.Series = append(c.Series, s)
	}
	for _, n := range []int{0, top / 2, top} {
		if n == top/2 && top%2 != 0 {
			continue
		}
		c.YTicks = append(c.YTicks, ChartTick{At: svgNum(y(n)), Label: compact(n)})
	}
	for _, i := range []int{0, len(c.Days) / 2, len(c.Days) - 1} {
		c.XTicks = append(c.XTicks, ChartTick{At: svgNum(x(c.Days[i])), Label: shortDay(c.Days[i])})
	}
	return c
}

// trendSummary says how a tab's count moved over the snapshots.
func trendSummary(t store.Tab, rows []store.Snapshot) string {
	if len(rows) == 0 {
		return ""
	}
	first, last := rows[0], rows[len(rows)-1]
	if len(rows) == 1 {
		return fmt.Sprintf("%s: %s on %s.", t.Label(), Thousands(first.Tab(t)), shortDay(first.Day))
	}
	return fmt.Sprintf("%s: %s on %s, %s on %s.", t.Label(), Thousands(first.Tab(t)), shortDay(first.Day),
		Thousands(last.Tab(t)), shortDay(last.Day))
}

// compact writes an axis value short enough for a phone: 800, 1.5k, 60k,
// 1.2M.
func compact(n int) string {
	switch {
	case n >= 1_000_000:
		return strings.TrimSuffix(strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64), ".0") + "M"
	case n >= 1000:
		return strings.TrimSuffix(strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64), ".0") + "k"
	}
	return strconv.Itoa(n)
}

// shortDay is a day as the chart labels it: "Nov 8".
func shortDay(t time.Time) string { return t.UTC().Format("Jan 2") }

// longDay is a day as the trend's table writes it.
func longDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// niceCeil rounds n up to a round number (1, 2, 3, 4, 5, 6 or 8 times a
// power of ten), so the axis reads in round numbers; at least 1.
func niceCeil(n int) int {
	if n <= 1 {
		return 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 3, 4, 5, 6, 8} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

// checkName is a check as the UI names it, or its id when it has no name.
func checkName(c store.CheckID) string {
	if n := c.Name(); n != "" {
		return n
	}
	return string(c)
}

// xAnchor aligns the day labels: the first starts at its day, the last ends
// at it, so neither leaves the chart.
func xAnchor(i, n int) string {
	switch i {
	case 0:
		return "start"
	case n - 1:
		return "end"
	}
	return "middle"
}
