package views

import (
	"fmt"
	"net/url"
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
	Trend   LineChart
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

// UpdateTrend is the update report's trend: the devices of every ring
// added up per day and status, over the UpdateTrendDays days up to now.
func UpdateTrend(points []store.TrendPoint, now time.Time) LineChart {
	lines := make([]ChartLine, len(store.UpdateStatuses))
	col := make(map[store.UpdateStatus]int, len(store.UpdateStatuses))
	for i, st := range store.UpdateStatuses {
		lines[i] = ChartLine{Key: string(st), Label: st.Label(), CSSClass: "series-update-" + string(st)}
		col[st] = i
	}
	var rows []ChartRow
	for _, p := range points { // oldest first
		if len(rows) == 0 || !rows[len(rows)-1].Day.Equal(p.Day) {
			rows = append(rows, ChartRow{Day: p.Day, Values: make([]int, len(lines))})
		}
		if i, ok := col[p.Status]; ok {
			rows[len(rows)-1].Values[i] += p.N
		}
	}
	return NewLineChart(now, store.UpdateTrendDays, lines, rows)
}
