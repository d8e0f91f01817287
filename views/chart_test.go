package views_test

import (
	"strings"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/views"
)

// The update reports' trend is the overview's chart: one line per status,
// the rings added up per day, over 90 days, with its figures in words.
func TestUpdateTrend(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC) }
	c := views.UpdateTrend([]store.TrendPoint{
		{Day: day(5), Ring: store.RingTest, Status: store.UpdateUpToDate, N: 40},
		{Day: day(5), Ring: store.RingBroad, Status: store.UpdateUpToDate, N: 900},
		{Day: day(5), Ring: store.RingBroad, Status: store.UpdateNotUpToDate, N: 60},
		{Day: day(6), Ring: store.RingBroad, Status: store.UpdateUpToDate, N: 1000},
		{Day: day(7), Ring: store.RingBroad, Status: store.UpdateUpToDate, N: 1010},
	}, now)
	if len(c.Days) != store.UpdateTrendDays || !c.Days[len(c.Days)-1].Equal(day(7)) {
		t.Fatalf("window of %d days ending %v", len(c.Days), c.Days[len(c.Days)-1])
	}
	if len(c.Rows) != 3 || c.Rows[0].Values[0] != 940 || c.Rows[0].Values[1] != 60 {
		t.Fatalf("rows %+v: want the rings added up per day", c.Rows)
	}
	if len(c.Series) != len(store.UpdateStatuses) || c.Series[0].Key != "up-to-date" || c.Series[0].CSSClass != "series-update-up-to-date" {
		t.Fatalf("series %+v", c.Series)
	}
	if s := c.Series[0]; len(s.Dots) != 3 || len(s.Lines) != 1 {
		t.Errorf("Up to date: %d dots, %d lines; want 3 dots on one line", len(s.Dots), len(s.Lines))
	}
	if d := c.Description(); !strings.Contains(d, "Up to date: 940 on Dec 5, 1,010 on Dec 7.") {
		t.Errorf("description %q", d)
	}
	if views.UpdateTrend(nil, now).Empty() != true {
		t.Error("a trend without snapshots is not empty")
	}
}
