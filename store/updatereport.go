package store

import (
	"context"
	"errors"
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

	// found are the devices the blades' search plans found for Search
	// (found is nil when the search is left to the walk).
	found []int64
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
// from the cursor, or, for a search the blades' plans answered, the
// devices they found, looked up one by one (CROSS JOIN keeps SQLite from
// walking an index of the order instead) and sorted.
func (q *UpdateQuery) from(a *args, index string) string {
	switch {
	case q.found != nil:
		return "json_each(" + a.add(int64sJSON(q.found)) + ") j CROSS JOIN update_status d ON d.id = j.value"
	case index == "":
		return "update_status d"
	}
	return "update_status d INDEXED BY " + index
}

// reportSearchMax bounds the devices a report search gathers through the
// blades' search plans. A search matching more is walked in the report's
// order, each row tested: its matches are then dense enough to fill a
// page soon.
const reportSearchMax = 2000

var errManyFound = errors.New("search matches many devices")

// search finds the registered devices matching q.Search with the blades'
// search plans (their search index, name prefixes and walks), on the
// Ready and Not ready tabs, which hold every registered device.
func (s *Store) search(ctx context.Context, q *UpdateQuery) error {
	if len(q.Search) < 3 {
		return nil
	}
	found := []int64{}
	for _, tab := range []Tab{TabReady, TabNotReady} {
		p, err := s.plan(ctx, DeviceQuery{Tab: tab, Search: q.Search, Limit: reportSearchMax + 1})
		if err != nil {
			return err
		}
		p.noCursor = true
		err = s.eachPacked(ctx, &s.stmts, p, projection{sql: "d.id, ''"}, func(r *packedRow) error {
			if len(found) == reportSearchMax {
				return errManyFound
			}
			found = append(found, r.pk)
			return nil
		})
		if errors.Is(err, errManyFound) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	q.found = found
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

// selectRow is the report's projection, in scanRow's order, followed by
// the sort values; it reads the device (withDevice) for its alerts and its
// last check-in, which the stored row holds only as of the last
// recomputation (a check-in that leaves the status as it was rewrites no
// row).
func (q *UpdateQuery) selectRow() string {
	status, sub, target := q.statusColumns()
	return fmt.Sprintf("d.id, d.device_id, d.display_name, d.serial_number, d.ring, %s, %s, d.build, d.revision, d.target_build, %s, d.readiness, coalesce(dv.last_checkin, 0), dv.update_alerts",
		status, sub, target)
}

func (q *UpdateQuery) scanRow(sc interface{ Scan(...any) error }, r *UpdateReportRow, pk *int64) error {
	var targetBuild, target int
	var checkin int64
	if err := sc.Scan(pk, &r.DeviceID, &r.DisplayName, &r.SerialNumber, &r.Ring, &r.Status, &r.Sub,
		&r.Current.Build, &r.Current.Revision, &targetBuild, &target, &r.Readiness, &checkin, &r.Alerts); err != nil {
		return err
	}
	r.Target = ""
	switch {
	case target == 0:
	case q.Kind == KindFeature:
		r.Target = strconv.Itoa(target)
	default:
		r.Target = BuildRevision{targetBuild, target}.String()
	}
	r.LastCheckin = time.Time{}
	if checkin != 0 {
		r.LastCheckin = time.Unix(checkin, 0).UTC()
	}
	return nil
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
	text := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s ORDER BY %s%s",
		q.selectRow(), strings.Join(order, ", "), from, where, orderBy(order, q.Desc), limit)
	rows, err := s.query(ctx, text, a...)
	if err != nil {
		return UpdatePage{}, fmt.Errorf("update report: %w", err)
	}
	defer rows.Close()
	var page UpdatePage
	var last cursor
	for rows.Next() {
		if q.Limit > 0 && len(page.Rows) == q.Limit {
			page.Next = encodeCursor(last)
			break
		}
		var r UpdateReportRow
		var pk int64
		vals := make([]any, len(order))
		var status string
		var name string
		dest := []any{&name}
		if len(order) == 2 {
			dest = []any{&status, &name}
		}
		if err := q.scanRow(scanPlus{rows, dest}, &r, &pk); err != nil {
			return UpdatePage{}, fmt.Errorf("update report: %w", err)
		}
		if len(order) == 2 {
			vals[0], vals[1] = status, name
		} else {
			vals[0] = name
		}
		last = cursor{Sort: q.Sort, Desc: q.Desc, Values: vals, PK: pk}
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

// scanPlus scans a row's leading columns into scanRow's destinations and
// the trailing sort values into more.
type scanPlus struct {
	rows interface{ Scan(...any) error }
	more []any
}

func (p scanPlus) Scan(dest ...any) error { return p.rows.Scan(append(dest, p.more...)...) }

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
