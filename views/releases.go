package views

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"patchboard/store"
)

// ReleasesView is the model of the Release management page.
type ReleasesView struct {
	Board   store.ReleaseBoard
	Message string // what the last change did
	// UploadErrors are the problems of a refused releases CSV (UploadFile),
	// UploadMore how many more were found.
	UploadErrors []store.FieldError
	UploadMore   int
	UploadFile   string
}

// day formats a date as the UI shows days.
func dayText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02")
}

// offerText is the offer's dates, for its cell.
func offerText(o store.RingOffer) string {
	return fmt.Sprintf("Offer %s · due %s · restart %s", dateTime(o.OfferAt), dateTime(o.DueAt), dateTime(o.RestartAt))
}

// sloText is a release's SLO figure: the share of eligible devices on it,
// and whether it is the figure at the 21-day line.
func sloText(r store.ReleaseRow) string {
	p, ok := r.SLOPercent()
	if !ok {
		return "no eligible devices"
	}
	s := fmt.Sprintf("%d %% (%d of %d)", p, r.SLOOn, r.SLOEligible)
	if r.SLOMeasured.IsZero() {
		return s + " so far"
	}
	if p >= store.SLOPercent {
		return s + " at 21 days: met"
	}
	return s + " at 21 days: missed"
}

// pauseText says who paused, when, why and until when.
func pauseText(p store.Pause) string {
	return fmt.Sprintf("Customer paused by %s on %s: %s (until %s)", p.By, dateTime(p.At), p.Reason, dayText(p.Until))
}

// ReportQuery is the All devices report's state, all of it in the URL.
type ReportQuery struct {
	Kind   store.UpdateKind
	Ring   store.Ring
	Status store.UpdateStatus
	Sub    store.UpdateSubStatus
	Search string
	Sort   string
	Desc   bool
	Size   int
	After  string
}

// Values encodes the query as URL parameters, leaving out defaults.
func (q ReportQuery) Values() url.Values {
	v := url.Values{}
	if q.Kind == store.KindFeature {
		v.Set("kind", string(q.Kind))
	}
	if q.Status != "" {
		v.Set("status", string(q.Status))
	}
	if q.Sub != "" {
		v.Set("sub", string(q.Sub))
	}
	listParams{Ring: q.Ring, Search: q.Search, Sort: q.Sort, Desc: q.Desc, Size: q.Size, After: q.After}.encode(v)
	return v
}

// URL is the report page of q.
func (q ReportQuery) URL() string { return "/reports/devices?" + q.Values().Encode() }

// ExportURL is the CSV of every row of q.
func (q ReportQuery) ExportURL() string {
	q.After = ""
	return "/reports/devices/export.csv?" + q.Values().Encode()
}

// ReportPageSizes are the page sizes the All devices report offers.
var ReportPageSizes = []int{25, 50, 100, 250}

// WithAfter is q from the page after cursor; "" is the first page.
func (q ReportQuery) WithAfter(cursor string) ReportQuery {
	q.After = cursor
	return q
}

// SortBy is q sorted by key, ascending unless it already was.
func (q ReportQuery) SortBy(key string) ReportQuery {
	q.Desc = q.Sort == key && !q.Desc
	q.Sort, q.After = key, ""
	return q
}

// Filtered is the first page of the report for a ring and status column
// of the summary.
func Filtered(kind store.UpdateKind, ring store.Ring, st store.UpdateStatus, sub store.UpdateSubStatus) string {
	return ReportQuery{Kind: kind, Ring: ring, Status: st, Sub: sub}.URL()
}

// ReportsView is the model of the update reports page.
type ReportsView struct {
	Kind    store.UpdateKind
	Summary store.UpdateSummary
	Pauses  []store.Pause
	Trend   Trend
	Now     time.Time
}

// RingPause is the pause of the report's kind holding in ring.
func (v ReportsView) RingPause(r store.Ring) (store.Pause, bool) {
	for _, p := range v.Pauses {
		if p.Ring == r && p.Kind == v.Kind {
			return p, true
		}
	}
	return store.Pause{}, false
}

// DeviceReportView is the model of the All devices report.
type DeviceReportView struct {
	Query  ReportQuery
	Page   store.UpdatePage
	Pauses []store.Pause
}

// summaryCell is one count column of the summary.
type summaryCell struct {
	Label  string
	Status store.UpdateStatus
	Sub    store.UpdateSubStatus
}

var summaryCells = []summaryCell{
	{"Up to date", store.UpdateUpToDate, store.SubWithout},
	{"In progress", store.UpdateUpToDate, store.SubInProgress},
	{"Paused", store.UpdateUpToDate, store.SubPaused},
	{"Not up to date", store.UpdateNotUpToDate, store.SubNone},
	{"Ineligible", store.UpdateIneligible, store.SubNone},
	{"Not ready", store.UpdateNotReady, store.SubNone},
}

func ringLabel(r store.Ring) string {
	if r == "" {
		return "All rings"
	}
	return r.Label()
}

func latestText(c store.UpdateRingCounts) string {
	p, ok := c.LatestPercent()
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%d %%", p)
}

func updateStatusText(st store.UpdateStatus, sub store.UpdateSubStatus) string {
	if sub == store.SubNone {
		return st.Label()
	}
	return st.Label() + " · " + sub.Label()
}

// Trend is the 90-day trend drawn as an SVG line chart: one line per
// status, the devices of every ring added up, and the same figures as a
// table for screen readers and copying.
type Trend struct {
	Days   []time.Time
	Series []TrendSeries
	Max    int
}

// TrendSeries is one status's line.
type TrendSeries struct {
	Status store.UpdateStatus
	Counts []int // per day of Trend.Days
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 720, 220
	chartPad       = 30
)

// NewTrend adds up the rings of each day and status.
func NewTrend(points []store.TrendPoint) Trend {
	var t Trend
	idx := map[time.Time]int{}
	for _, p := range points {
		if _, ok := idx[p.Day]; !ok {
			idx[p.Day] = len(t.Days)
			t.Days = append(t.Days, p.Day)
		}
	}
	for _, st := range store.UpdateStatuses {
		t.Series = append(t.Series, TrendSeries{Status: st, Counts: make([]int, len(t.Days))})
	}
	for _, p := range points {
		for i := range t.Series {
			if t.Series[i].Status == p.Status {
				t.Series[i].Counts[idx[p.Day]] += p.N
			}
		}
	}
	for _, s := range t.Series {
		for _, n := range s.Counts {
			t.Max = max(t.Max, n)
		}
	}
	return t
}

// Polyline is the series' points attribute.
func (t Trend) Polyline(s TrendSeries) string {
	var b strings.Builder
	for i, n := range s.Counts {
		x, y := t.xy(i, n)
		fmt.Fprintf(&b, "%d,%d ", x, y)
	}
	return strings.TrimSpace(b.String())
}

func (t Trend) xy(i, n int) (int, int) {
	w, h := chartW-2*chartPad, chartH-2*chartPad
	x := chartPad
	if len(t.Days) > 1 {
		x += i * w / (len(t.Days) - 1)
	}
	y := chartH - chartPad
	if t.Max > 0 {
		y -= n * h / t.Max
	}
	return x, y
}

// Summary is the chart's one-sentence text equivalent.
func (t Trend) Summary() string {
	if len(t.Days) == 0 {
		return "No snapshots yet: the first is taken at the next discovery."
	}
	last := len(t.Days) - 1
	parts := make([]string, len(t.Series))
	for i, s := range t.Series {
		parts[i] = fmt.Sprintf("%s %d", s.Status.Label(), s.Counts[last])
	}
	return fmt.Sprintf("%d days from %s to %s; on %s: %s.", len(t.Days), dayText(t.Days[0]), dayText(t.Days[last]),
		dayText(t.Days[last]), strings.Join(parts, ", "))
}
