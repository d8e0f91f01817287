package store

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The All devices report (SPEC §12): every registered device's update
// status, searched, filtered, sorted and paged from a keyset cursor, and
// exported as CSV. It reads update_status, which a recomputation keeps
// with its own name, status and ring indexes, and pages and exports it
// with the blades' pieces: their cursor, their row-value comparison, their
// search plans (their search index) and LIKE test, formula-safe cells, and
// the exports' own reader pool.

// UpdateQuery selects rows of an update report.
type UpdateQuery struct {
	Kind   UpdateKind
	Ring   Ring
	Status UpdateStatus
	Sub    UpdateSubStatus // "" any; SubWithout: none
	Search string          // name, serial or device ID: substring, case-insensitive
	Sort   string          // display_name (default), status or ring
	Desc   bool
	Limit  int    // 0 = all
	After  string // the cursor of the previous page (UpdatePage.Next)

	// found are the candidates of Search, a JSON array of device ids
	// ("" when the search is left to the walk).
	found string
}

// UpdateSorts are the keys an update report sorts by.
var UpdateSorts = []string{"display_name", "status", "ring"}

func (q *UpdateQuery) validate() error {
	if q.Kind == "" {
		q.Kind = KindQuality
	}
	if _, err := ParseUpdateKind(string(q.Kind)); err != nil {
		return err
	}
	if q.Sort == "" {
		q.Sort = "display_name"
	}
	if !slices.Contains(UpdateSorts, q.Sort) {
		return invalidf("the report cannot be sorted by %q; sort by display_name, status or ring", q.Sort)
	}
	if q.Limit < 0 {
		return invalidf("limit must not be negative")
	}
	if len(q.Search) > 200 {
		q.Search = q.Search[:200]
	}
	return nil
}

// statusColumns are the columns of q's kind.
func (q *UpdateQuery) statusColumns() (status, sub, target string) {
	if q.Kind == KindFeature {
		return "d.feature_status", "d.feature_sub", "d.feature_target"
	}
	return "d.status", "d.sub_status", "d.target_revision"
}

// order is the ORDER BY terms of q's sort, before the final d.id, and the
// index that walks them.
func (q *UpdateQuery) order() ([]string, string) {
	status, _, _ := q.statusColumns()
	switch q.Sort {
	case "status":
		idx := "update_status_status"
		if q.Kind == KindFeature {
			idx = "update_status_feature"
		}
		return []string{status, "d.display_name"}, idx
	case "ring":
		return []string{"d.ring", "d.display_name"}, "update_status_ring"
	}
	return []string{"d.display_name"}, "update_status_name"
}

// where is q's filter, without the cursor.
func (q *UpdateQuery) where(a *args) string {
	status, sub, _ := q.statusColumns()
	conds := []string{"1"}
	if q.Ring != "" {
		conds = append(conds, "d.ring = "+a.add(string(q.Ring)))
	}
	if q.Status != "" {
		conds = append(conds, status+" = "+a.add(string(q.Status)))
	}
	switch q.Sub {
	case SubNone:
	case SubWithout:
		conds = append(conds, sub+" = ''")
	default:
		conds = append(conds, sub+" = "+a.add(string(q.Sub)))
	}
	if q.Search != "" {
		conds = append(conds, likeCondOn("d", a.add("%"+escapeLike(q.Search)+"%")))
	}
	return strings.Join(conds, " AND ")
}

// withDevice joins each row's device, which selectRow reads.
const withDevice = " CROSS JOIN devices dv ON dv.id = d.id"

// from is the FROM clause of q: the sort's index (none: a count), walked
// from the cursor, or, for a search whose candidates search gathered, those
// devices, looked up one by one (CROSS JOIN keeps SQLite from walking an
// index of the order instead) and sorted.
func (q *UpdateQuery) from(a *args, index string) string {
	switch {
	case q.found != "":
		return "json_each(" + a.add(q.found) + ") j CROSS JOIN update_status d ON d.id = j.value"
	case index == "":
		return "update_status d"
	}
	return "update_status d INDEXED BY " + index
}

// reportSearchMax bounds the candidates a report search gathers. A search
// with more is walked in the report's order, each row tested: its matches
// are then dense enough to fill a page soon.
const reportSearchMax = 2000

// search gathers the candidates of q.Search among the registered devices
// from the indexes the blades' search reads: the search index's entries of
// the Ready and Not ready tabs (the grams of names and serial numbers
// after their first character, and of device IDs), the names with the
// search as prefix, the serial numbers with it, and the devices queued for
// the search index, whose entry may be out of date. Every candidate is then
// tested against the search (where), so a superset is enough. One
// statement: running the blades' whole search plan once per tab cost twice
// a blade's search.
func (s *Store) search(ctx context.Context, q *UpdateQuery) error {
	if len(q.Search) < 3 {
		return nil
	}
	lo, hi := searchRange(q.Search)
	var a args
	registered := "EXISTS (SELECT 1 FROM update_status u WHERE u.id = x.id)"
	text := fmt.Sprintf(`SELECT count(*), ifnull(json_group_array(id), '[]') FROM (
		SELECT id FROM (SELECT rowid >> 2 AS id FROM devices_search WHERE devices_search MATCH %[1]s AND rowid & 3 IN (%[4]d, %[5]d) LIMIT %[3]d)
		UNION SELECT id FROM (SELECT x.id FROM update_status x INDEXED BY update_status_name WHERE %[2]s LIMIT %[3]d)
		UNION SELECT id FROM (SELECT x.id FROM devices x INDEXED BY devices_serial
			WHERE x.serial_number <> '' AND %[6]s AND %[7]s LIMIT %[3]d)
		UNION SELECT id FROM (SELECT DISTINCT x.id FROM blade_queue x WHERE x.search = 1 AND %[7]s LIMIT %[3]d))`,
		a.add(searchMatch(q.Search)), prefixRangeOf(&a, "x.display_name", lo, hi), reportSearchMax+1,
		tabCode(TabReady), tabCode(TabNotReady), prefixRangeOf(&a, "x.serial_number", lo, hi), registered)
	var n int
	var found string
	if err := s.queryRow(ctx, text, a...).Scan(&n, &found); err != nil {
		return err
	}
	if n <= reportSearchMax {
		q.found = found
	}
	return nil
}

// UpdateReportRow is one device of an update report.
type UpdateReportRow struct {
	DeviceID, DisplayName, SerialNumber string
	Ring                                Ring
	Status                              UpdateStatus
	Sub                                 UpdateSubStatus
	Paused                              bool // the ring is paused for the report's kind
	Current                             BuildRevision
	Target                              string // build.revision, or the feature build
	Readiness                           Status
	Alerts                              string // the device's update alert codes, ;-separated
	LastCheckin                         time.Time
}

// PauseStatus is the report's pause cell: "customer-paused" or "".
func (r *UpdateReportRow) PauseStatus() string {
	if r.Paused {
		return "customer-paused"
	}
	return ""
}

// UpdateReportColumns are the CSV header of the update reports.
var UpdateReportColumns = []string{"device_id", "display_name", "serial_number", "ring", "update_status", "update_sub_status",
	"pause_status", "current_version", "target_version", "readiness", "alerts", "last_checkin"}

// record fills rec with the row as exported (CSVWriter guards the cells).
func (r *UpdateReportRow) record(rec []string) {
	rec[0], rec[1], rec[2], rec[3] = r.DeviceID, r.DisplayName, r.SerialNumber, string(r.Ring)
	rec[4], rec[5], rec[6] = string(r.Status), string(r.Sub), r.PauseStatus()
	rec[7], rec[8], rec[9], rec[10], rec[11] = r.Current.String(), r.Target, string(r.Readiness), r.Alerts, timeCell(r.LastCheckin)
}

// selectRow is the report's projection: the row's id and its cells packed
// into one text, in unpack's order, as the blades' projection packs theirs
// (modernc locks several times for every column it hands over, which was
// half a report page). It reads the device (withDevice) for its alerts and
// its last check-in, which the stored row holds only as of the last
// recomputation (a check-in that leaves the status as it was rewrites no
// row).
func (q *UpdateQuery) selectRow() string {
	status, sub, target := q.statusColumns()
	return fmt.Sprintf("d.id, concat_ws(char(31), d.device_id, d.display_name, d.serial_number, d.ring, %s, %s, d.build, d.revision, d.target_build, %s, d.readiness, ifnull(dv.last_checkin, 0), ifnull(dv.update_alerts, ''))",
		status, sub, target)
}

// reportCells is the number of cells selectRow packs.
const reportCells = 13

// scanRow reads one row of selectRow into r.
func (q *UpdateQuery) scanRow(sc interface{ Scan(...any) error }, r *UpdateReportRow, pk *int64) error {
	var packed string
	if err := sc.Scan(pk, &packed); err != nil {
		return err
	}
	return q.unpack(*pk, packed, r)
}

func (q *UpdateQuery) unpack(pk int64, packed string, r *UpdateReportRow) error {
	var cells [reportCells]string
	rest := packed
	for i := range cells {
		v, tail, found := strings.Cut(rest, unitSep)
		if !found && i < len(cells)-1 {
			return fmt.Errorf("device %d: packed report row has %d cells, want %d", pk, i+1, len(cells))
		}
		cells[i], rest = v, tail
	}
	var n [5]int64 // build, revision, target build, target, check-in
	for i, c := range [...]int{6, 7, 8, 9, 11} {
		v, err := strconv.ParseInt(cells[c], 10, 64)
		if err != nil {
			return fmt.Errorf("device %d: packed report row: %w", pk, err)
		}
		n[i] = v
	}
	r.DeviceID, r.DisplayName, r.SerialNumber, r.Ring = cells[0], cells[1], cells[2], Ring(cells[3])
	r.Status, r.Sub, r.Readiness, r.Alerts = UpdateStatus(cells[4]), UpdateSubStatus(cells[5]), Status(cells[10]), cells[12]
	r.Current = BuildRevision{int(n[0]), int(n[1])}
	r.Target = ""
	switch {
	case n[3] == 0:
	case q.Kind == KindFeature:
		r.Target = strconv.FormatInt(n[3], 10)
	default:
		r.Target = BuildRevision{int(n[2]), int(n[3])}.String()
	}
	r.LastCheckin = time.Time{}
	if n[4] != 0 {
		r.LastCheckin = time.Unix(n[4], 0).UTC()
	}
	return nil
}

// sortValues are r's values of q's order terms (order), for a cursor.
func (q *UpdateQuery) sortValues(r *UpdateReportRow) []any {
	switch q.Sort {
	case "status":
		return []any{string(r.Status), r.DisplayName}
	case "ring":
		return []any{string(r.Ring), r.DisplayName}
	}
	return []any{r.DisplayName}
}

// UpdatePage is one page of an update report.
type UpdatePage struct {
	Rows []UpdateReportRow
	// Total is the number of matching rows, counted up to CountCap
	// (Capped when there are more).
	Total  int
	Capped bool
	Next   string // cursor of the next page; "" on the last
}

// UpdateReportPage returns a page of an update report: it walks the sort's
// index from the cursor and stops after a page, however deep. Between two
// commits every reader of the report asks for the same first page: the
// page is kept, as the blades' are, and shared (do not modify it).
func (s *Store) UpdateReportPage(ctx context.Context, q UpdateQuery) (UpdatePage, error) {
	if err := q.validate(); err != nil {
		return UpdatePage{}, err
	}
	v, err := s.version(ctx)
	if err != nil {
		return UpdatePage{}, err
	}
	key := fmt.Sprintf("%sreport|%s|%s|%s|%s|%q|%s|%t|%d|%s", pageKeyPrefix, q.Kind, q.Ring, q.Status, q.Sub, q.Search, q.Sort, q.Desc, q.Limit, q.After)
	return memoized(s, v, key, func() (UpdatePage, error) { return s.updateReportPage(ctx, q) })
}

func (s *Store) updateReportPage(ctx context.Context, q UpdateQuery) (UpdatePage, error) {
	if err := s.search(ctx, &q); err != nil {
		return UpdatePage{}, fmt.Errorf("update report: %w", err)
	}
	paused, err := s.pausedRings(ctx, q.Kind)
	if err != nil {
		return UpdatePage{}, fmt.Errorf("update report: %w", err)
	}
	order, index := q.order()
	var a args
	from, where := q.from(&a, index)+withDevice, q.where(&a)
	if q.After != "" {
		c, err := decodeCursor(q.After)
		if err != nil {
			return UpdatePage{}, err
		}
		if c.Sort != q.Sort || c.Desc != q.Desc || len(c.Values) != len(order) {
			return UpdatePage{}, invalidf("the page cursor belongs to another sort; start again from the first page")
		}
		where += " AND " + afterCursor(&a, order, q.Desc, c.Values, c.PK)
	}
	limit := ""
	if q.Limit > 0 {
		limit = " LIMIT " + a.add(q.Limit+1)
	}
	text := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s%s",
		q.selectRow(), from, where, orderBy(order, q.Desc), limit)
	rows, err := s.query(ctx, text, a...)
	if err != nil {
		return UpdatePage{}, fmt.Errorf("update report: %w", err)
	}
	defer rows.Close()
	page := UpdatePage{Rows: make([]UpdateReportRow, 0, max(q.Limit, 0))}
	var last cursor
	var pk int64
	for rows.Next() {
		if q.Limit > 0 && len(page.Rows) == q.Limit {
			page.Next = encodeCursor(last)
			break
		}
		var r UpdateReportRow
		if err := q.scanRow(rows, &r, &pk); err != nil {
			return UpdatePage{}, fmt.Errorf("update report: %w", err)
		}
		last = cursor{Sort: q.Sort, Desc: q.Desc, Values: q.sortValues(&r), PK: pk}
		r.Paused = paused[r.Ring]
		page.Rows = append(page.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return UpdatePage{}, fmt.Errorf("update report: %w", err)
	}
	rows.Close()
	if n, ok, err := s.keptTotal(ctx, q); err != nil {
		return UpdatePage{}, fmt.Errorf("update report: %w", err)
	} else if ok {
		page.Total = n
		return page, nil
	}
	var ca args
	err = s.queryRow(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT %d)", q.from(&ca, ""), q.where(&ca), CountCap+1), ca...).Scan(&page.Total)
	if err != nil {
		return UpdatePage{}, fmt.Errorf("update report: %w", err)
	}
	if page.Total > CountCap {
		page.Total, page.Capped = CountCap, true
	}
	return page, nil
}

// keptTotal is the number of rows of q read from the kept summary, when
// the summary has a column for q's filters (no search; a ring or all, and
// a status with the sub-status the summary splits it by): a recomputation
// writes the summary and the rows together.
func (s *Store) keptTotal(ctx context.Context, q UpdateQuery) (int, bool, error) {
	if q.Search != "" {
		return 0, false, nil
	}
	col := func(c UpdateRingCounts) (int, bool) {
		switch {
		case q.Status == "" && q.Sub == SubNone:
			return c.Devices, true
		case q.Status == UpdateUpToDate && q.Sub == SubNone:
			return c.UpToDate + c.InProgress + c.Paused, true
		case q.Status == UpdateUpToDate && (q.Sub == SubWithout || q.Sub == SubInProgress || q.Sub == SubPaused):
			return c.Count(q.Status, q.Sub), true
		case q.Status != "" && q.Status != UpdateUpToDate && q.Sub == SubNone:
			return c.Count(q.Status, q.Sub), true
		}
		return 0, false
	}
	sum, err := s.UpdateSummary(ctx, q.Kind)
	if err != nil || sum.ComputedAt.IsZero() {
		return 0, false, err
	}
	for _, c := range sum.Rings {
		if c.Ring == q.Ring {
			n, ok := col(c)
			return n, ok, nil
		}
	}
	return 0, false, nil
}

// ExportUpdateReport writes every row matching q (limit and cursor
// ignored) as CSV with the header UpdateReportColumns, streamed, written as
// the blades' exports are (CSVWriter: every cell quoted and guarded, a
// byte-order mark unless opts.NoBOM). It reads
// from the exports' pool, like the blades' exports, and waits at most as
// long for a slot.
func (s *Store) ExportUpdateReport(ctx context.Context, w io.Writer, q UpdateQuery, opts CSVOptions) (int, error) {
	q.Limit, q.After = 0, ""
	if err := q.validate(); err != nil {
		return 0, err
	}
	release, err := s.exports.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	if err := s.search(ctx, &q); err != nil {
		return 0, fmt.Errorf("export update report: %w", err)
	}
	paused, err := s.pausedRings(ctx, q.Kind)
	if err != nil {
		return 0, fmt.Errorf("export update report: %w", err)
	}
	order, index := q.order()
	var a args
	text := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s",
		q.selectRow(), q.from(&a, index)+withDevice, q.where(&a), orderBy(order, q.Desc))
	rows, err := s.exports.stmts.query(ctx, text, a...)
	if err != nil {
		return 0, fmt.Errorf("export update report: %w", err)
	}
	defer rows.Close()
	cw := NewCSVWriter(w, opts)
	if err := cw.Write(UpdateReportColumns); err != nil {
		return 0, err
	}
	rec := make([]string, len(UpdateReportColumns))
	n := 0
	var r UpdateReportRow
	var pk int64
	for rows.Next() {
		if err := q.scanRow(rows, &r, &pk); err != nil {
			return n, fmt.Errorf("export update report: %w", err)
		}
		r.Paused = paused[r.Ring]
		r.record(rec)
		if err := cw.Write(rec); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("export update report: %w", err)
	}
	return n, cw.Flush()
}
