package views

import (
	"fmt"
	"net/url"
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

// Trend draws the snapshots of the TrendDays days up to now's day.
func (v OverviewView) Trend() LineChart {
	lines := make([]ChartLine, len(store.Tabs))
	for i, t := range store.Tabs {
		lines[i] = ChartLine{Key: string(t), Label: t.Label(), CSSClass: "series-" + string(t)}
	}
	rows := make([]ChartRow, len(v.Overview.Trend))
	for i, sn := range v.Overview.Trend {
		rows[i] = ChartRow{Day: sn.Day, Values: make([]int, len(store.Tabs))}
		for j, t := range store.Tabs {
			rows[i].Values[j] = sn.Tab(t)
		}
	}
	return NewLineChart(v.Now, store.TrendDays, lines, rows)
}

// checkName is a check as the UI names it, or its id when it has no name.
func checkName(c store.CheckID) string {
	if n := c.Name(); n != "" {
		return n
	}
	return string(c)
}
