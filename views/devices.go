package views

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"patchboard/store"
)

// PageSizes are the page sizes the blade offers.
var PageSizes = []int{25, 50, 100, 200}

// BladeQuery is the blade's state, all of it in the URL.
type BladeQuery struct {
	Tab    store.Tab
	Status store.Status
	Ring   store.Ring
	Search string
	Sort   string
	Desc   bool
	Size   int
	After  string // cursor
	// Check keeps the devices failing one check; List those of a pasted
	// list (triage).
	Check store.CheckID
	List  int64
	// View is the saved view shown, whose columns the blade uses.
	View int64
	// Rule is the advanced filter, in the membership-rule language.
	Rule string
	// Page is the 1-based number of the page shown. With After it only
	// says where the page is; without it a page past the first is read by
	// offset (Previous, Last and jumps).
	Page int
}

// Values encodes the query as URL parameters, leaving out defaults.
func (q BladeQuery) Values() url.Values {
	v := url.Values{}
	v.Set("tab", string(q.Tab))
	if q.Status != "" {
		v.Set("status", string(q.Status))
	}
	listParams{Ring: q.Ring, Search: q.Search, Sort: q.Sort, Desc: q.Desc, Size: q.Size, After: q.After}.encode(v)
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.Check != "" {
		v.Set("check", string(q.Check))
	}
	if q.List != 0 {
		v.Set("list", strconv.FormatInt(q.List, 10))
	}
	if q.View != 0 {
		v.Set("view", strconv.FormatInt(q.View, 10))
	}
	if q.Rule != "" {
		v.Set("rule", q.Rule)
	}
	return v
}

// ViewURL opens a saved view: its query, naming the view for its columns.
func ViewURL(sv store.SavedView) string {
	return "/devices?" + sv.Query + "&view=" + strconv.FormatInt(sv.ID, 10)
}

// URL is the blade URL of q.
func (q BladeQuery) URL() string { return "/devices?" + q.Values().Encode() }

// ExportURL is the CSV download of q's rows (all pages).
func (q BladeQuery) ExportURL() string {
	q.After, q.Page = "", 0
	return "/devices/export.csv?" + q.Values().Encode()
}

// WithTab is q on another tab, filters reset; a pasted list stays, since
// its devices may be on any tab.
func (q BladeQuery) WithTab(t store.Tab) BladeQuery {
	return BladeQuery{Tab: t, Size: q.Size, List: q.List}
}

// WithCheck is q filtered to the devices failing check, or, when q already
// is, without the filter (a chip toggles).
func (q BladeQuery) WithCheck(check store.CheckID) BladeQuery {
	if q.Check == check {
		check = ""
	}
	q.Check, q.After, q.Page = check, "", 0
	return q
}

// WithoutList is q without its pasted list.
func (q BladeQuery) WithoutList() BladeQuery {
	q.List, q.After, q.Page = 0, "", 0
	return q
}

// SortBy is q sorted by key: ascending, or flipped when already sorted by it.
func (q BladeQuery) SortBy(key string) BladeQuery {
	cur := q.Sort
	if cur == "" {
		cur = "display_name"
	}
	q.Desc = cur == key && !q.Desc
	q.Sort, q.After, q.Page = key, "", 0
	return q
}

// FirstPage is q without its cursor.
func (q BladeQuery) FirstPage() BladeQuery { q.After, q.Page = "", 0; return q }

// NextPage is q after the cursor.
func (q BladeQuery) NextPage(cursor string) BladeQuery {
	q.After, q.Page = cursor, q.PageNumber()+1
	return q
}

// PageAt is page n of q, read by offset.
func (q BladeQuery) PageAt(n int) BladeQuery {
	q.After, q.Page = "", max(n, 1)
	if q.Page == 1 {
		q.Page = 0
	}
	return q
}

// PageNumber is the 1-based number of the page q shows.
func (q BladeQuery) PageNumber() int { return max(q.Page, 1) }

// ColumnView is one visible column.
type ColumnView struct {
	Key      string
	Label    string
	Sortable bool
}

// ColumnViews turns column keys into the view's columns, leaving out keys
// of no column.
func ColumnViews(keys []string) []ColumnView {
	out := make([]ColumnView, 0, len(keys))
	for _, k := range keys {
		if col, ok := store.ColumnByKey(k); ok {
			out = append(out, ColumnView{Key: k, Label: col.Label, Sortable: col.Sortable})
		}
	}
	return out
}

// BladeView is the model of the device blades.
type BladeView struct {
	Query      BladeQuery
	Counts     store.Counts
	Columns    []ColumnView
	AllColumns []ColumnView // the Modify columns catalogue
	Page       store.DevicePage
	LastRun    *store.DiscoveryRun
	Now        time.Time
	// LastSync and LastGoodSync report the directory sync (SPEC §11).
	LastSync     *store.SyncRun
	LastGoodSync time.Time
	// RegistrationGroupID links the Device Registration group's page.
	RegistrationGroupID int64
	// FailingChecks are the tab's devices per failing check (the chips of
	// Not ready and Not registered).
	FailingChecks []store.CheckCount
	// List is the pasted list the blade shows, when it shows one.
	List *store.DeviceList
	// Views are the saved views the user sees.
	Views []store.SavedView
	// Pauses are the customer pauses holding now (the ring cells' pill).
	Pauses []store.Pause
}

// TestRingMinimum is the recommended Test ring size for the fleet.
func (v BladeView) TestRingMinimum() int { return store.TestRingMinimum(v.Counts.Registered()) }

// RingShare formats a ring's share of registered devices.
func (v BladeView) RingShare(r store.Ring) string {
	total := v.Counts.Rings.Total()
	if total == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(v.Counts.Rings.Get(r))/float64(total))
}

// Visible reports whether a column is shown.
func (v BladeView) Visible(key string) bool {
	for _, c := range v.Columns {
		if c.Key == key {
			return true
		}
	}
	return false
}

// Cell is the text of a row's cell in a column, as the blade shows it.
func Cell(r *store.DeviceRow, key string) string { return string(cellText(key)(nil, r)) }

// dateTime formats t as the UI shows times: UTC, to the minute, saying so.
// (The grid's cells leave the zone out: their column is all UTC.)
func dateTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return string(appendDateTime(make([]byte, 0, 20), t)) + " UTC"
}

// Ago says how long before now t was, roughly.
func Ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < time.Minute {
		return "just now"
	}
	return roughly(d) + " ago"
}

// roughly is a duration of a minute or more as the UI says it: "5 min",
// "3 h", "4 days".
func roughly(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// percent is done out of total, for the progress bar.
func percent(done, total int) int {
	if total <= 0 {
		return 0
	}
	return min(100, 100*done/total)
}

func itoa(n int) string { return strconv.Itoa(n) }

// Pager is the position of a blade page: rows From–To of Total (or of
// more than Total when Capped), and the number of the last page when the
// total is exact. When it is not, Known is the last page known to be full
// (Total rows exist): a jump goes at most that far, and Next goes on.
type Pager struct {
	From, To, Total int
	Capped          bool
	Page, Last      int
	Known           int
}

// JumpMax is the highest page Go to page offers: the last page, or the last
// known to exist when the count stopped.
func (p Pager) JumpMax() int { return max(p.Last, p.Known) }

// Position is "Page 3 of 12", "Page 3 of more than 200" when the count
// stopped, or "Page 203" past the pages it counted.
func (p Pager) Position() string {
	switch {
	case p.Last > 0:
		return fmt.Sprintf("Page %s of %s", Thousands(p.Page), Thousands(p.Last))
	case p.Known >= p.Page:
		return fmt.Sprintf("Page %s of more than %s", Thousands(p.Page), Thousands(p.Known))
	}
	return "Page " + Thousands(p.Page)
}

// Pager says where the page shown sits in the query's rows.
func (v BladeView) Pager() Pager {
	size := max(v.Query.Size, 1)
	p := Pager{Page: v.Query.PageNumber(), Total: v.Page.Total, Capped: v.Page.Capped}
	if len(v.Page.Rows) > 0 {
		p.From = (p.Page-1)*size + 1
		p.To = p.From + len(v.Page.Rows) - 1
	}
	if !p.Capped {
		p.Last = max(1, (p.Total+size-1)/size)
	} else {
		p.Known = p.Total / size
	}
	return p
}

// Range is "51–100 of 61,294 devices", or "8 devices" when one page
// holds them all.
func (p Pager) Range() string {
	switch {
	case p.To == 0 && !p.Capped:
		return plural(p.Total, "device", "devices")
	case p.From == 1 && p.To == p.Total && !p.Capped:
		return plural(p.Total, "device", "devices") // all on one page
	}
	of := Thousands(p.Total)
	if p.Capped {
		of = "more than " + of
	}
	return fmt.Sprintf("%s–%s of %s devices", Thousands(p.From), Thousands(p.To), of)
}

// plural is "1 device" or "N devices".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return Thousands(n) + " " + many
}

// joinFirst joins up to n values with ", ", saying how many more there are.
func joinFirst(vals []string, n int) string {
	if len(vals) <= n {
		return strings.Join(vals, ", ")
	}
	return strings.Join(vals[:n], ", ") + fmt.Sprintf(" and %s more", Thousands(len(vals)-n))
}

// CurrentView is the saved view the blade shows, if any.
func (v BladeView) CurrentView() (store.SavedView, bool) {
	for _, sv := range v.Views {
		if sv.ID == v.Query.View {
			return sv, true
		}
	}
	return store.SavedView{}, false
}

// columnKeys joins the keys of the columns shown.
func columnKeys(cols []ColumnView) string {
	keys := make([]string, len(cols))
	for i, c := range cols {
		keys[i] = c.Key
	}
	return strings.Join(keys, ",")
}
