package views_test

import (
	"testing"
	"time"

	"patchboard/store"
	"patchboard/views"
)

func TestOverviewRingRowsAgainstTargets(t *testing.T) {
	// 1,000 registered devices: the large-fleet targets (1/9/90 %) and a
	// Test minimum of 5.
	v := views.OverviewView{Overview: store.Overview{Counts: store.Counts{
		Status: map[store.Status]int{store.StatusActive: 900, store.StatusReadinessFailed: 100},
		Rings:  store.RingCounts{Test: 2, First: 10, Fast: 88, Broad: 900},
	}}}
	want := []struct {
		ring          store.Ring
		share, target string
	}{
		{store.RingTest, "0.2 %", "≥ 5 devices"},
		{store.RingFirst, "1.0 %", "1 %"},
		{store.RingFast, "8.8 %", "9 %"},
		{store.RingBroad, "90.0 %", "90 %"},
	}
	rows := v.RingRows()
	if len(rows) != len(want) {
		t.Fatalf("%d rows", len(rows))
	}
	for i, w := range want {
		if r := rows[i]; r.Ring != w.ring || r.ShareText() != w.share || r.Target != w.target || !r.HasTarget() {
			t.Errorf("row %d: %s %s target %q (has %v), want %s %s %q", i, r.Ring, r.ShareText(), r.Target, r.HasTarget(), w.ring, w.share, w.target)
		}
	}
	if !v.TestRingShort() {
		t.Error("2 Test devices of 1,000 registered are not reported short of 5")
	}
	// Nothing registered: no targets, no warning.
	empty := views.OverviewView{}
	for _, r := range empty.RingRows() {
		if r.Ring != store.RingTest && r.HasTarget() {
			t.Errorf("ring %s has a target with nothing registered", r.Ring)
		}
	}
	if empty.TestRingShort() {
		t.Error("the Test ring is short with nothing registered")
	}
}

func TestOverviewNextDiscoveryStates(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	sched := &store.DiscoveryRun{Trigger: store.TriggerSchedule, State: store.RunCompleted, StartedAt: now.Add(-20 * time.Minute)}
	running := &store.DiscoveryRun{Trigger: store.TriggerButton, State: store.RunRunning, StartedAt: now}
	tests := []struct {
		name     string
		interval time.Duration
		last     *store.DiscoveryRun
		lastSch  *store.DiscoveryRun
		want     string
	}{
		{"no scheduler", 0, sched, sched, "Not scheduled: this server runs discovery only when asked"},
		{"running", time.Hour, running, sched, "Running now"},
		{"none yet", time.Hour, nil, nil, "Due now"},
		{"in 40 min", time.Hour, sched, sched, "in 40 min (2026-11-01 12:40 UTC)"},
		{"in 3 h", 4 * time.Hour, sched, sched, "in 3 h (2026-11-01 15:40 UTC)"},
		{"overdue", 10 * time.Minute, sched, sched, "Due now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := views.OverviewView{Now: now, DiscoveryInterval: tt.interval,
				Overview: store.Overview{LastRun: tt.last, LastScheduledRun: tt.lastSch}}
			if got := v.NextDiscovery(); got != tt.want {
				t.Errorf("NextDiscovery() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOverviewTrendAxis(t *testing.T) {
	now := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	v := views.OverviewView{Now: now, Overview: store.Overview{Trend: []store.Snapshot{
		{Day: day(1), Ready: 61_294, NotReady: 3_000, NotRegistered: 12_000},
		{Day: day(30), Ready: 64_000, NotReady: 2_000, NotRegistered: 10_000},
	}}}
	c := v.Trend()
	if len(c.Days) != store.TrendDays || !c.Days[0].Equal(day(1)) || !c.Days[29].Equal(day(30)) {
		t.Fatalf("window %v … %v (%d days)", c.Days[0], c.Days[len(c.Days)-1], len(c.Days))
	}
	var labels []string
	for _, tk := range c.YTicks {
		labels = append(labels, tk.Label)
	}
	// 64,000 rounds up to 80,000, read in short numbers.
	if got := labels; len(got) != 3 || got[0] != "0" || got[1] != "40k" || got[2] != "80k" {
		t.Errorf("value axis %v, want [0 40k 80k]", got)
	}
	// Day 1 and day 30 are 28 days apart: two dots, no line between them.
	for _, s := range c.Series {
		if len(s.Dots) != 2 || len(s.Lines) != 0 {
			t.Errorf("%s: %d dots, %d lines; want 2 dots and no line across the gap", s.Label, len(s.Dots), len(s.Lines))
		}
	}
	if want := "Ready: 61,294 on Nov 1, 64,000 on Nov 30."; c.Series[0].Summary != want {
		t.Errorf("summary %q, want %q", c.Series[0].Summary, want)
	}
}
