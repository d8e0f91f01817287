package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
)

// DeviceQuery selects the rows of a blade.
type DeviceQuery struct {
	Tab    Tab    // required
	Status Status // optional filter within the tab
	Ring   Ring   // optional filter
	Search string // name, serial or device ID: substring, case-insensitive
	Sort   string // column key; default display_name
	Desc   bool
	Limit  int // 0 = all
	Offset int // for an explicit page jump; paging on uses After
	// After is the cursor of the previous page's last row (DevicePage.Next).
	After string
}

func (q DeviceQuery) validate() error {
	if _, err := ParseTab(string(q.Tab)); err != nil {
		return err
	}
	if q.Status != "" && q.Status.Tab() != q.Tab {
		return invalidf("status %q is not shown on the %s tab", q.Status, q.Tab.Label())
	}
	if q.Ring != "" {
		if _, err := ParseRing(string(q.Ring)); err != nil {
			return err
		}
	}
	if q.Sort != "" {
		if _, ok := ColumnByKey(q.Sort); !ok {
			return invalidf("cannot sort by unknown column %q", q.Sort)
		}
	}
	if q.Limit < 0 || q.Offset < 0 {
		return invalidf("limit and offset must not be negative")
	}
	return nil
}

// where builds the filter of q.
func (q DeviceQuery) where() (string, []any) {
	conds := []string{"d.status IS NOT NULL", "d.tab = ?"}
	args := []any{string(q.Tab)}
	if q.Status != "" {
		conds = append(conds, "d.status = ?")
		args = append(args, string(q.Status))
	}
	if q.Ring != "" {
		conds = append(conds, "d.ring = ?")
		args = append(args, string(q.Ring))
	}
	if s := strings.TrimSpace(q.Search); s != "" {
		like := "%" + escapeLike(strings.ToLower(s)) + "%"
		conds = append(conds, `(lower(d.display_name) LIKE ? ESCAPE '\' OR lower(d.serial_number) LIKE ? ESCAPE '\' OR d.device_id LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like)
	}
	return strings.Join(conds, " AND "), args
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// EachDevice streams the rows matching q to fn, in q's order. The row is
// reused: fn must copy what it keeps.
func (s *Store) EachDevice(ctx context.Context, q DeviceQuery, fn func(*DeviceRow) error) error {
	return s.eachDevice(ctx, q, projectionOf(nil), fn)
}

// eachDevice is EachDevice reading only the projection's columns.
func (s *Store) eachDevice(ctx context.Context, q DeviceQuery, proj projection, fn func(*DeviceRow) error) error {
	if err := q.validate(); err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	sortKey := q.Sort
	if sortKey == "" {
		sortKey = "display_name"
	}
	col, _ := ColumnByKey(sortKey)
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	where, args := q.where()
	if q.After != "" {
		c, err := decodeCursor(q.After)
		if err != nil {
			return err
		}
		op := ">"
		if q.Desc {
			op = "<"
		}
		// A row value comparison walks the (tab, sort, id) index from the
		// cursor on: every page costs the same, however deep.
		where += fmt.Sprintf(" AND (%s, d.id) %s (?, ?)", col.sort, op)
		args = append(args, c.Value, c.PK)
	}
	sqlText := fmt.Sprintf("SELECT %s, %s FROM devices d WHERE %s ORDER BY %s %s, d.id %s",
		proj.sql, col.sort, where, col.sort, dir, dir)
	if q.Limit > 0 {
		sqlText += fmt.Sprintf(" LIMIT %d OFFSET %d", q.Limit, q.Offset)
	}
	rows, err := s.r.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	defer rows.Close()
	sc := newProjectionScanner(proj)
	var r DeviceRow
	var sortValue any
	for rows.Next() {
		if err := sc.scan(rows, &r, &sortValue); err != nil {
			return fmt.Errorf("devices: %w", err)
		}
		r.sortValue = sortValue
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	return nil
}

// DevicePage is one page of a blade.
type DevicePage struct {
	Rows []DeviceRow
	// Next is the cursor of the following page; empty on the last page.
	Next string
	// Total counts the rows matching the query, up to CountCap.
	Total int
	// Capped means there are more than CountCap matching rows.
	Capped bool
}

// CountCap bounds how far a filtered blade counts its rows: tab and status
// counts are kept by triggers, but a search or ring filter is counted per
// request, and a count over a million rows would cost more than the page.
const CountCap = 10_000

// DevicePage returns up to q.Limit rows of a blade, the cursor of the next
// page, and the number of matching rows.
func (s *Store) DevicePage(ctx context.Context, q DeviceQuery) (DevicePage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	var page DevicePage
	want := q.Limit
	q.Limit++ // one more row says whether there is a next page
	err := s.EachDevice(ctx, q, func(r *DeviceRow) error {
		if len(page.Rows) < want {
			row := *r
			row.Reasons = append([]CheckID(nil), r.Reasons...)
			row.UnreachableEndpoints = append([]string(nil), r.UnreachableEndpoints...)
			page.Rows = append(page.Rows, row)
			return nil
		}
		last := page.Rows[len(page.Rows)-1]
		page.Next = encodeCursor(cursor{Value: last.sortValue, PK: last.PK})
		return nil
	})
	if err != nil {
		return DevicePage{}, err
	}
	page.Total, page.Capped, err = s.countDevices(ctx, q)
	return page, err
}

// countDevices counts the rows matching q's filters (not its cursor).
func (s *Store) countDevices(ctx context.Context, q DeviceQuery) (int, bool, error) {
	if q.Search == "" && q.Ring == "" {
		c, err := s.Counts(ctx)
		if err != nil {
			return 0, false, err
		}
		if q.Status != "" {
			return c.Status[q.Status], false, nil
		}
		return c.Tab(q.Tab), false, nil
	}
	where, args := q.where()
	var n int
	err := s.r.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM devices d WHERE %s LIMIT %d)", where, CountCap+1), args...).Scan(&n)
	if err != nil {
		return 0, false, fmt.Errorf("count devices: %w", err)
	}
	if n > CountCap {
		return CountCap, true, nil
	}
	return n, false, nil
}

// cursor is the position after a row in a sort order.
type cursor struct {
	Value any   `json:"v"`
	PK    int64 `json:"k"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		err = d.Decode(&c)
	}
	if err != nil {
		return cursor{}, invalidf("the page cursor is not valid; start again from the first page")
	}
	if n, ok := c.Value.(json.Number); ok {
		i, err := n.Int64()
		if err != nil {
			return cursor{}, invalidf("the page cursor is not valid; start again from the first page")
		}
		c.Value = i
	}
	return c, nil
}

// ExportCSV writes every row matching q (the limit is ignored) with the given
// columns to w, streamed, with formula-like cells neutralised. It returns the
// number of rows written.
func (s *Store) ExportCSV(ctx context.Context, w io.Writer, q DeviceQuery, cols []Column) (int, error) {
	q.Limit, q.Offset = 0, 0
	cw := csv.NewWriter(w)
	rec := make([]string, len(cols))
	for i, c := range cols {
		rec[i] = c.Key
	}
	if err := cw.Write(rec); err != nil {
		return 0, err
	}
	var needs []string
	for _, c := range cols {
		needs = append(needs, c.needs...)
	}
	n := 0
	err := s.eachDevice(ctx, q, projectionOf(needs), func(r *DeviceRow) error {
		for i, c := range cols {
			rec[i] = CSVSafe(c.Value(r))
		}
		n++
		return cw.Write(rec)
	})
	if err != nil {
		return n, err
	}
	cw.Flush()
	return n, cw.Error()
}

// Counts are the maintained per-status and per-ring device counts.
type Counts struct {
	Status map[Status]int
	Rings  RingCounts
}

// Tab is the number of devices the tab shows.
func (c Counts) Tab(t Tab) int {
	n := 0
	for _, s := range t.Statuses() {
		n += c.Status[s]
	}
	return n
}

// Registered is the number of registered devices.
func (c Counts) Registered() int {
	return c.Status[StatusActive] + c.Status[StatusReadinessFailed] + c.Status[StatusInactive]
}

// Counts reads the counters the triggers keep; it never counts rows.
func (s *Store) Counts(ctx context.Context) (Counts, error) {
	c := Counts{Status: make(map[Status]int)}
	rows, err := s.r.QueryContext(ctx, `SELECT key, n FROM counters`)
	if err != nil {
		return c, fmt.Errorf("counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			return c, fmt.Errorf("counts: %w", err)
		}
		kind, v, _ := strings.Cut(key, ":")
		switch kind {
		case "status":
			c.Status[Status(v)] = n
		case "ring":
			c.Rings.Add(Ring(v), n)
		}
	}
	return c, rows.Err()
}
