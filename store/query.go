package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// DeviceQuery selects the rows of a blade.
type DeviceQuery struct {
	Tab    Tab    // required
	Status Status // optional filter within the tab
	Ring   Ring   // optional filter
	Search string // name, serial or device ID: substring, case-insensitive
	// Check keeps the devices failing this check (triage).
	Check CheckID
	// List keeps the devices a pasted list names (its ID, see SaveDeviceList).
	List int64
	// Rule keeps the devices a rule of the membership-rule language
	// matches (the blades' advanced filter).
	Rule   string
	Sort   string // column key of a Sortable column; default display_name
	Desc   bool
	Limit  int // 0 = all
	Offset int // for an explicit page jump; paging on uses After
	// After is the cursor of the previous page's last row (DevicePage.Next).
	After string
	// Columns, when set, are the keys of the columns (Column.Key) the caller
	// reads: DevicePage then fills only their fields of each row, plus the
	// device ID, name and status, which costs a page a third of reading
	// every field. Unknown keys are rejected.
	Columns []string
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
		c, ok := ColumnByKey(q.Sort)
		if !ok {
			return invalidf("cannot sort by unknown column %q", q.Sort)
		}
		if !c.Sortable {
			return invalidf("devices cannot be sorted by %s; sortable columns: %s", c.Label, strings.Join(SortableColumns(), ", "))
		}
	}
	if q.Limit < 0 || q.Offset < 0 {
		return invalidf("limit and offset must not be negative")
	}
	if q.Check != "" {
		if _, err := ParseCheckID(string(q.Check)); err != nil {
			return err
		}
	}
	if _, err := q.projection(); err != nil {
		return err
	}
	return nil
}

// projection reads the fields of q.Columns (all without them).
func (q DeviceQuery) projection() (projection, error) {
	if len(q.Columns) == 0 {
		return allFields, nil
	}
	cols, err := columnsByKeys(q.Columns)
	if err != nil {
		return projection{}, err
	}
	needs := []string{"device_id", "display_name", "status"}
	for _, c := range cols {
		needs = append(needs, c.needs...)
	}
	return projectionOf(needs), nil
}

func (q DeviceQuery) sortColumn() Column {
	key := q.Sort
	if key == "" {
		key = "display_name"
	}
	c, _ := ColumnByKey(key)
	return c
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// asciiLower folds ASCII letters only, as SQLite's NOCASE and LIKE do.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// nocaseCompare compares as SQLite's NOCASE collation: bytes, ASCII letters
// folded.
func nocaseCompare(a, b string) int {
	return strings.Compare(asciiLower(a), asciiLower(b))
}

// Tuning of the search and filter plans, measured on 100k and 1M fleets.
const (
	// gatherMax is the most rows a plan collects and sorts. A search or
	// filter matching more rows walks the sort order instead, testing each
	// row: matches are then dense enough for the walk to fill a page soon.
	gatherMax = 1000
)

// nameOrder is the display name order: the default sort, and the tie-break
// within a status when sorting by status.
const nameOrder = "d.display_name COLLATE NOCASE"

// order is the ORDER BY terms of c, before the final d.id.
func (c Column) order() []string {
	if c.Key == "status" {
		return []string{c.sort, nameOrder}
	}
	return []string{c.sort}
}

// access is how a query finds its rows.
type access int

const (
	// walkSort walks the sort column's (tab, sort, id) index of blade_order
	// from the cursor on and stops after a page: the cost of a page is the
	// same however deep, provided the filters keep most rows (walkSource).
	walkSort access = iota
	// walkStatus walks blade_order_status_name within one status, in
	// (display name, id) order: a status filter with the default sort, and
	// each status of a status sort.
	walkStatus
	// gatherStatus, gatherRing and gatherSearch collect the few rows of a
	// rare status, ring or search term through an index and sort them.
	gatherStatus
	gatherRing
	gatherSearch
	// gatherSet collects the devices of a set (failing a check, named by a
	// pasted list) through its index and sorts them; a search then tests
	// each of them.
	gatherSet
	// mergeSearch is a search in name order: the names starting with the
	// search are a range of devices_name, walked in order, merged with the
	// few other matches, gathered and sorted. A common search is most
	// often a name prefix ("AP-LT"), whose rows a walk testing every row
	// would reach only after all the names before it.
	mergeSearch
)

// devicePlan is how one DeviceQuery runs.
type devicePlan struct {
	q     DeviceQuery
	col   Column
	order []string
	cur   *cursor
	how   access
	// version is the database's when the plan was made: the counters and
	// the queue length it read are of that version (Store.version).
	version uint64
	// noCursor: the rows are not paged (an export), so their sort values
	// are not read.
	noCursor bool
	// indexOnly: a walk reads blade_order alone, not devices (an export's
	// walker, which selects only the ids, while blade_order is current).
	indexOnly bool

	// like is the LIKE pattern of a search ("" without one).
	like string
	// A search of 3 characters or more has its matches in two parts: the
	// names starting with it, a range [lo, hi) of the NOCASE name index;
	// and others, a JSON array of the others (othersEntry), which
	// planSearch finds: the devices with the serial prefix (a range
	// of the serial index), those the search index (devices_search) finds
	// for it (searchMatch) past the first character of the name and serial
	// or anywhere in the device ID, and those queued for that index, kept
	// if they are in the tab (and status and ring), match and have not the
	// name prefix.
	lo, hi string
	others string
	queued bool
	// orderQueued counts, up to gatherMax+1, the devices whose blade_order
	// row awaits a sync: walks of blade_order merge them in, sorted by
	// their values in devices. Past gatherMax, the name order walks
	// devices_name instead, which is always current.
	orderQueued int
	// ruleIDs is the JSON array of the ids of the devices q.Rule matches;
	// listIDs of those the pasted list q.List names.
	ruleIDs, listIDs string
	// counted says the plan counted the rows already (total, capped).
	counted bool
	total   int
	capped  bool
}

// plan decides how q runs. It reads the maintained counters and, for a
// search, how many devices each part of it finds: cheap lookups that pick
// between walking an index in order and sorting a few gathered rows.
func (s *Store) plan(ctx context.Context, q DeviceQuery) (*devicePlan, error) {
	v, err := s.version(ctx)
	if err != nil {
		return nil, err
	}
	return s.planAt(ctx, v, q)
}

// planAt plans q at version v of the database.
func (s *Store) planAt(ctx context.Context, v uint64, q DeviceQuery) (*devicePlan, error) {
	if err := q.validate(); err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	q.Search = strings.TrimSpace(q.Search)
	p := &devicePlan{q: q, col: q.sortColumn(), how: walkSort}
	p.order = p.col.order()
	if q.After != "" {
		c, err := decodeCursor(q.After)
		if err != nil {
			return nil, err
		}
		if c.Sort != p.col.Key || c.Desc != q.Desc || len(c.Values) != len(p.order) {
			return nil, invalidf("the page cursor belongs to another sort order; start again from the first page")
		}
		p.cur = &c
	}
	if p.col.Key == "status" || (q.Status != "" && p.col.Key == "display_name") {
		p.how = walkStatus
	}
	p.version = v
	var err error
	p.orderQueued, err = memoized(s, p.version, "blade-queue", func() (int, error) {
		var n int
		err := s.queryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM blade_queue LIMIT %d)`, gatherMax+1)).Scan(&n)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("devices: queue: %w", err)
	}
	if p.orderQueued > 0 {
		s.kickSearchSync() // devices await blade_order or the search index
	}
	if q.Check != "" || q.List != 0 || q.Rule != "" {
		if q.Search != "" {
			p.like = "%" + escapeLike(q.Search) + "%"
		}
		if q.Rule != "" {
			if p.ruleIDs, err = s.ruleFilterIDs(ctx, v, q.Rule); err != nil {
				return nil, err
			}
		}
		if q.List != 0 {
			if p.listIDs, err = s.listIDs(ctx, v, q.List); err != nil {
				return nil, err
			}
		}
		p.how = gatherSet
		return p, nil
	}
	if q.Search != "" {
		p.like = "%" + escapeLike(q.Search) + "%"
		if utf8.RuneCountInString(q.Search) >= 3 && q.Limit > 0 {
			return p, s.planSearch(ctx, p)
		}
		// One or two characters, or every match (an export): walk the
		// order testing each row, which streams.
		return p, nil
	}
	if q.Status == "" && q.Ring == "" || p.how == walkStatus && q.Ring == "" {
		return p, nil
	}
	// A status or ring filter: walking the order costs about a page divided
	// by the share of the tab's rows that pass; gathering costs the rows
	// that pass. Both shares come from the counters.
	c, err := s.counts(ctx, p.version)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = 1 << 30
	}
	wantRows := min(limit+q.Offset, 1<<30)
	tabRows := max(c.Tab(q.Tab), 1)
	pass, gather := tabRows, walkSort
	if q.Status != "" && p.how != walkStatus && p.orderQueued <= gatherMax {
		pass, gather = c.Status[q.Status]+p.orderQueued, gatherStatus
	}
	if q.Ring != "" && p.orderQueued <= gatherMax && p.col.Key != "display_name" {
		if r := c.TabRing(q.Tab, q.Status, q.Ring) + p.orderQueued; r < pass {
			pass, gather = r, gatherRing
		}
	}
	if gather != walkSort && pass <= gatherMax*4 && pass*pass < wantRows*tabRows*4 {
		p.how = gather
	}
	return p, nil
}

// planSearch sizes the parts of a search of 3 characters or more in one
// statement and picks the plan: walk testing each row when the search index
// or the serial prefix finds many rows, else merge (name order) or gather.
// The same statement counts the matches when their parts are few: the
// name prefix in its index up to the cap, the rest exactly.
func (s *Store) planSearch(ctx context.Context, p *devicePlan) error {
	search := p.q.Search
	p.lo, p.hi = searchRange(search)
	c, err := s.counts(ctx, p.version)
	if err != nil {
		return err
	}
	gather := searchGatherMax(p.q.Limit+p.q.Offset, c.Tab(p.q.Tab))
	var a args
	fts := a.add(searchMatch(search))
	serials := p.prefixRange(&a, "d.serial_number")
	names := p.namePrefixCount(&a, max(gather, s.bladeCap()))
	// The others, when the parts are few (else the search walks: a
	// condition SQLite evaluates once, before the first device), in three
	// arms that share no device: those the search index finds, read as it
	// finds them (collecting them first cost a fifth of a search), then
	// those with the serial prefix, which match, then those queued for the
	// search index, whose entry may be out of date. The index's devices
	// match when the search is exact; else they are tested, as the queued
	// ones are.
	filter, notName := p.baseFilter(&a, ""), "NOT ("+p.prefixRange(&a, "d.display_name")+")"
	like := likeCond(a.add(p.like))
	indexed := like
	if searchExact(search) {
		indexed = "1"
	}
	few := fmt.Sprintf("(SELECT n FROM nf) + (SELECT count(*) FROM q) <= %[1]d AND (SELECT count(*) FROM sp) <= %[1]d", gather)
	// The others are a subquery of a CASE on few, which SQLite runs only
	// when few holds: as a condition of their arms it was tested after the
	// search index had been read, which cost a common search 10 ms.
	others := fmt.Sprintf(`SELECT json_group_array(%[1]s) FROM (
			SELECT d.id, d.display_name FROM devices_search s CROSS JOIN devices d ON d.id = s.rowid >> 2
			WHERE s.devices_search MATCH %[2]s AND s.rowid & 3 = %[7]d
			AND d.id NOT IN q AND d.id NOT IN sp AND %[3]s AND %[4]s AND %[5]s
			UNION ALL
			SELECT d.id, d.display_name FROM sp CROSS JOIN devices d ON d.id = sp.id
			WHERE d.id NOT IN q AND %[3]s AND %[5]s
			UNION ALL
			SELECT d.id, d.display_name FROM q CROSS JOIN devices d ON d.id = q.id
			WHERE %[3]s AND %[6]s AND %[5]s) d`,
		othersEntry, fts, filter, indexed, notName, like, tabCode(p.q.Tab))
	var nIDs, nSerial, nName, nOthers int
	err = s.queryRow(ctx, fmt.Sprintf(`
		WITH nf(n) AS MATERIALIZED (
			SELECT count(*) FROM (SELECT rowid FROM devices_search WHERE devices_search MATCH %[1]s AND rowid & 3 = %[6]d LIMIT %[2]d)),
		q(id) AS MATERIALIZED (
			SELECT DISTINCT id FROM blade_queue WHERE search = 1 LIMIT %[2]d),
		sp(id) AS MATERIALIZED (
			SELECT d.id FROM devices d INDEXED BY devices_serial WHERE d.serial_number <> '' AND %[3]s LIMIT %[2]d),
		o(entries) AS MATERIALIZED (
			SELECT CASE WHEN %[7]s THEN (%[5]s) END)
		SELECT EXISTS (SELECT 1 FROM q), (SELECT n FROM nf) + (SELECT count(*) FROM q), (SELECT count(*) FROM sp), (%[4]s),
			ifnull(json_array_length(o.entries), 0), ifnull(o.entries, '')
		FROM o`,
		fts, gather+1, serials, names, others, tabCode(p.q.Tab), few), a...).Scan(&p.queued, &nIDs, &nSerial, &nName, &nOthers, &p.others)
	if err != nil {
		return fmt.Errorf("devices: search: %w", err)
	}
	switch {
	case nIDs > gather || nSerial > gather:
		p.others = "" // common all over: walk the order testing each row
		return s.searchCount(ctx, p)
	case p.col.Key == "display_name":
		p.how = mergeSearch
	case nName <= gather:
		p.how = gatherSearch
	}
	p.total, p.capped = nName+nOthers, false
	if limit := s.bladeCap(); p.total > limit {
		p.total, p.capped = limit, true
	}
	p.counted = true
	return nil
}

// searchCount counts a search that finds its devices in many places, up to
// BladeCountCap, from the index entries alone when it can: a search of at
// most five characters (searchCountable) in a tab without status or ring
// filter, while blade_order and the search index are current. Its matches
// are then exactly the union of three lists no device is read for: the
// names with the prefix (blade_order_name), the serial numbers with it
// (blade_order_serial) and the tab's entries of the search index, which
// hold it elsewhere in the name or serial number or anywhere in the device
// ID. A search of five characters that may be part of a device ID reads the
// device ID of the few entries whose ID grams hold its two grams ("C-000"
// at 1,000,000 devices: 6,000 matches, tested row by row in 415 ms). Counting
// them is a few thousand index steps, where testing every row against the
// search costs a page's worth several times over. Otherwise the rows are
// counted by testing them (countDevices).
func (s *Store) searchCount(ctx context.Context, p *devicePlan) error {
	if !searchCountable(p.q.Search) || p.q.Status != "" || p.q.Ring != "" || p.queued || p.orderQueued > 0 {
		return nil
	}
	limit := s.bladeCap()
	// The three lists, each counted up to the cap: one past it settles the
	// count. Counting reads only index entries; collecting the ids to unite
	// them costs several times that, so only lists within the cap are
	// united, in a second statement.
	lists := func(a *args, limit int) (string, string, string) {
		tab := a.add(string(p.q.Tab))
		var ids string
		if names, idGrams := searchMatchParts(p.q.Search); searchExact(p.q.Search) || idGrams == "" {
			ids = fmt.Sprintf("SELECT rowid >> 2 AS id FROM devices_search WHERE devices_search MATCH %s AND rowid & 3 = %d LIMIT %d",
				a.add(searchMatch(p.q.Search)), tabCode(p.q.Tab), limit)
		} else {
			ids = fmt.Sprintf(`SELECT id FROM (SELECT rowid >> 2 AS id FROM devices_search WHERE devices_search MATCH %[1]s AND rowid & 3 = %[3]d LIMIT %[4]d)
				UNION SELECT id FROM (SELECT o.id FROM devices_search s CROSS JOIN blade_order o ON o.id = s.rowid >> 2
					WHERE s.devices_search MATCH %[2]s AND s.rowid & 3 = %[3]d AND o.device_id LIKE (%[5]s || '') ESCAPE '\' LIMIT %[4]d)`,
				a.add(names), a.add(idGrams), tabCode(p.q.Tab), limit, a.add(p.like))
		}
		return ids,
			fmt.Sprintf("SELECT o.id FROM blade_order o INDEXED BY blade_order_name WHERE o.tab = %s AND %s LIMIT %d",
				tab, p.prefixRange(a, "o.display_name"), limit),
			fmt.Sprintf("SELECT o.id FROM blade_order o INDEXED BY blade_order_serial WHERE o.tab = %s AND %s LIMIT %d",
				tab, p.prefixRange(a, "o.serial_number"), limit)
	}
	var a args
	ids, names, serials := lists(&a, limit+1)
	var nIDs, nNames, nSerials int
	err := s.queryRow(ctx, fmt.Sprintf("SELECT (SELECT count(*) FROM (%s)), (SELECT count(*) FROM (%s)), (SELECT count(*) FROM (%s))",
		ids, names, serials), a...).Scan(&nIDs, &nNames, &nSerials)
	if err != nil {
		return fmt.Errorf("devices: count search: %w", err)
	}
	p.total, p.capped = limit, true
	switch {
	case max(nIDs, nNames, nSerials) > limit:
	case nIDs+nNames+nSerials == max(nIDs, nNames, nSerials):
		// One list at most: nothing to unite ("N0000" at 1,000,000
		// devices: 6,000 entries of the search index alone, whose union
		// was a third of the search).
		p.total, p.capped = nIDs+nNames+nSerials, false
	default:
		var a args
		ids, names, serials := lists(&a, limit+1)
		err := s.queryRow(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT id FROM (%s) UNION SELECT id FROM (%s) UNION SELECT id FROM (%s))",
			ids, names, serials), a...).Scan(&p.total)
		if err != nil {
			return fmt.Errorf("devices: count search: %w", err)
		}
		p.capped = p.total > limit
		p.total = min(p.total, limit)
	}
	p.counted = true
	return nil
}

// searchGatherMax is the most candidates a search of a tab of tabRows rows
// gathers and sorts, for a page of want rows, rather than walk the sort
// order testing each row. Gathering costs every candidate; a walk costs
// about the page divided by the share of the tab that matches: the two meet
// at the square root of want × tabRows (about 5,500 candidates for 51 rows
// of a 600,000-row tab, where a four-digit search finds a thousand or two).
// Never below gatherMax, nor above eight times it.
func searchGatherMax(want, tabRows int) int {
	return min(max(gatherMax, int(math.Sqrt(float64(want)*float64(tabRows)))), 8*gatherMax)
}

// args collects a statement's arguments as numbered parameters, so that
// one argument can be used twice and clauses can be built in any order.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "?" + strconv.Itoa(len(*a))
}

// likeCond tests a row's name, serial and device ID against the LIKE
// parameter; LIKE ignores ASCII case, as NOCASE does. The pattern is the
// parameter concatenated with the empty string, not the bare parameter:
// SQLite recompiles a statement whenever a bare LIKE parameter is bound (its
// LIKE optimization depends on the value), which cost a third of a search.
func likeCond(param string) string { return likeCondOn("d", param) }

// likeCondOn is likeCond on the table aliased alias.
func likeCondOn(alias, param string) string {
	return fmt.Sprintf(`(%[2]s.display_name LIKE (%[1]s || '') ESCAPE '\' OR %[2]s.serial_number LIKE (%[1]s || '') ESCAPE '\' OR %[2]s.device_id LIKE (%[1]s || '') ESCAPE '\')`, param, alias)
}

// query is one SQL statement of a plan.
type query struct {
	sql  string
	args args
}

// filter is the WHERE clause of p's tab, status and ring (within one status
// when status is set) and, for a walk, of its search, without the cursor.
func (p *devicePlan) filter(a *args, status Status) string {
	f := p.baseFilter(a, status)
	if p.like != "" && (p.how == walkSort || p.how == walkStatus) {
		f += " AND " + likeCond(a.add(p.like))
	}
	return f
}

// orderFilter is filter for a walk of blade_order alone (indexOnly): the
// same conditions on its copies of the values.
func (p *devicePlan) orderFilter(a *args, status Status) string {
	conds := []string{"o.tab = " + a.add(string(p.q.Tab))}
	if status == "" {
		status = p.q.Status
	}
	if status != "" {
		conds = append(conds, "o.status = "+a.add(string(status)))
	}
	if p.q.Ring != "" {
		conds = append(conds, "o.ring = "+a.add(string(p.q.Ring)))
	}
	if p.like != "" {
		conds = append(conds, likeCondOn("o", a.add(p.like)))
	}
	return strings.Join(conds, " AND ")
}

// baseFilter is filter without the search. The tab is tested as its
// statuses: devices.tab is a generated column, computed again for every row
// it is read of, a fifth of the cost of testing a search's candidates.
func (p *devicePlan) baseFilter(a *args, status Status) string {
	if status == "" {
		status = p.q.Status
	}
	statuses := p.q.Tab.Statuses()
	if status != "" {
		statuses = []Status{status}
	}
	cond := "d.status IN " + statusList(a, statuses)
	if p.q.Ring != "" {
		cond += " AND coalesce(d.ring, '') = " + a.add(string(p.q.Ring))
	}
	return cond
}

// statusList is the parenthesised list of statuses, as parameters.
func statusList(a *args, statuses []Status) string {
	ps := make([]string, len(statuses))
	for i, st := range statuses {
		ps[i] = a.add(string(st))
	}
	return "(" + strings.Join(ps, ", ") + ")"
}

// prefixRange is the condition that column (NOCASE) starts with the search.
func (p *devicePlan) prefixRange(a *args, column string) string {
	return prefixRangeOf(a, column, p.lo, p.hi)
}

// prefixRangeOf is the condition that column, compared NOCASE, lies in
// [lo, hi): starts with lo when hi is lo + "\xff" (searchRange).
func prefixRangeOf(a *args, column, lo, hi string) string {
	return fmt.Sprintf("%[1]s COLLATE NOCASE >= %[2]s AND %[1]s COLLATE NOCASE < %[3]s", column, a.add(lo), a.add(hi))
}

// searchRange is the NOCASE range [lo, hi) of the texts that start with
// search.
func searchRange(search string) (lo, hi string) {
	lo = asciiLower(search)
	return lo, lo + "\xff" // above every text starting with lo: 0xFF is never in UTF-8
}

// namePrefixCount is a statement counting, up to limit+1, the devices
// of p's tab (and status and ring) whose name starts with the search: in
// blade_order_status_name alone when blade_order is current, else in
// devices_name, reading every row of the range.
func (p *devicePlan) namePrefixCount(a *args, limit int) string {
	if p.orderQueued > 0 {
		return fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM devices d INDEXED BY devices_name WHERE %s AND %s LIMIT %d)",
			p.prefixRange(a, "d.display_name"), p.baseFilter(a, ""), limit+1)
	}
	statuses := p.q.Tab.Statuses()
	if p.q.Status != "" {
		statuses = []Status{p.q.Status}
	}
	cond := fmt.Sprintf("o.tab = %s AND o.status IN %s AND %s", a.add(string(p.q.Tab)), statusList(a, statuses), p.prefixRange(a, "o.display_name"))
	if p.q.Ring != "" {
		cond += " AND o.ring = " + a.add(string(p.q.Ring))
	}
	return fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM blade_order o INDEXED BY blade_order_status_name WHERE %s LIMIT %d)", cond, limit+1)
}

// An entry of a plan's others is the device's id, zero-padded to 19 digits
// (any int64), then its display name: fixed places that substr reads, where
// a JSON pair was parsed again for each of its values (a third of a page).
const (
	othersEntry = "format('%019d%s', d.id, d.display_name)"
	othersID    = "CAST(substr(j.value, 1, 19) AS INTEGER)"
	othersName  = "substr(j.value, 20) COLLATE NOCASE"
)

// matches is the condition of a gathered search: the row is one of the
// other matches planSearch found or has the name prefix, and it matches.
func (p *devicePlan) matches(a *args) string {
	return fmt.Sprintf("d.id IN (SELECT %s FROM json_each(%s) j UNION ALL SELECT x.id FROM devices x INDEXED BY devices_name WHERE %s) AND %s",
		othersID, a.add(p.others), p.prefixRange(a, "x.display_name"), likeCond(a.add(p.like)))
}

// ringRows selects the ids of blade_order's rows in p's tab, ring and
// status, read from the index alone.
func (p *devicePlan) ringRows(a *args) string {
	cond := fmt.Sprintf("o.tab = %s AND o.ring = %s", a.add(string(p.q.Tab)), a.add(string(p.q.Ring)))
	if p.q.Status != "" {
		cond += " AND o.status = " + a.add(string(p.q.Status))
	}
	return "SELECT o.id FROM blade_order o INDEXED BY blade_order_ring WHERE " + cond
}

// afterCursor is the row-value condition "after the cursor" for the order
// terms: a filter for gathered rows, which are sorted anyway.
func afterCursor(a *args, order []string, desc bool, values []any, pk int64) string {
	op := ">"
	if desc {
		op = "<"
	}
	ps := make([]string, 0, len(values)+1)
	for _, v := range values {
		ps = append(ps, a.add(v))
	}
	ps = append(ps, a.add(pk))
	return fmt.Sprintf("(%s, d.id) %s (%s)", strings.Join(order, ", "), op, strings.Join(ps, ", "))
}

func orderBy(order []string, desc bool) string { return orderByID(order, desc, "d.id") }

func orderByID(order []string, desc bool, id string) string {
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	var b strings.Builder
	for _, o := range order {
		b.WriteString(o + dir + ", ")
	}
	return b.String() + id + dir
}

func (p *devicePlan) limitOffset(a *args) string {
	switch {
	case p.q.Limit > 0:
		return fmt.Sprintf(" LIMIT %s OFFSET %s", a.add(p.q.Limit), a.add(p.q.Offset))
	case p.q.Offset > 0:
		return fmt.Sprintf(" LIMIT -1 OFFSET %s", a.add(p.q.Offset))
	}
	return ""
}

// queries returns the statements of the plan selecting proj, each followed
// by the order values: their rows, in turn, are the rows of q.
func (p *devicePlan) queries(proj projection) []query {
	switch p.how {
	case walkSort, walkStatus:
		return p.walkQueries(proj)
	case mergeSearch:
		return []query{p.mergeQuery(proj)}
	}
	var a args
	where := p.baseFilter(&a, "")
	switch p.how {
	case gatherSearch:
		where += " AND " + p.matches(&a)
	case gatherRing:
		where += " AND d.id IN (" + p.ringRows(&a) + " UNION ALL SELECT id FROM blade_queue)"
	case gatherStatus:
		where += fmt.Sprintf(" AND d.id IN (SELECT o.id FROM blade_order o INDEXED BY blade_order_status_name WHERE o.tab = %s AND o.status = %s UNION ALL SELECT id FROM blade_queue)",
			a.add(string(p.q.Tab)), a.add(string(p.q.Status)))
	case gatherSet:
		where += " AND " + p.setFilter(&a)
	}
	if p.cur != nil {
		where += " AND " + afterCursor(&a, p.order, p.q.Desc, p.cur.Values, p.cur.PK)
	}
	// Gathered rows are sorted by a temp B-tree: sort only their keys, then
	// read the page's rows, so that the rows left out cost no projection.
	// They are read by rowid: which index each statement uses is decided by
	// the plan, not left to the planner, which knows neither the counters
	// nor the search.
	keys := make([]string, len(p.order))
	for i, o := range p.order {
		keys[i] = fmt.Sprintf("%s AS s%d", o, i)
	}
	return []query{{fmt.Sprintf(`SELECT %s FROM (SELECT d.id AS pk, %s FROM devices d NOT INDEXED WHERE %s ORDER BY %s%s) k
		CROSS JOIN devices d ON d.id = k.pk ORDER BY %s`, p.selected(proj), strings.Join(keys, ", "),
		where, orderBy(p.order, p.q.Desc), p.limitOffset(&a), p.keyOrder()), a}}
}

// keyOrder orders the rows of subquery k, which selected the order terms as
// s0, s1, … and the id as pk, as the subquery did: SQLite then keeps its
// order instead of sorting the page again.
func (p *devicePlan) keyOrder() string {
	dir := " ASC"
	if p.q.Desc {
		dir = " DESC"
	}
	var b strings.Builder
	for i := range p.order {
		fmt.Fprintf(&b, "k.s%d%s, ", i, dir)
	}
	return b.String() + "k.pk" + dir
}

// mergeQuery is a search in name order: the name index's range of names
// starting with the search, walked in order (after a cursor, as the two
// ranges walkQueries explains), merged by SQLite (MERGE (UNION ALL)) with
// the other matches, gathered and sorted. Only the page's rows are read.
func (p *devicePlan) mergeQuery(proj projection) query {
	var a args
	dir, gt := "ASC", ">"
	if p.q.Desc {
		dir, gt = "DESC", "<"
	}
	// The names starting with the search: a range of the tab's names in
	// blade_order, the queued devices aside; with a long queue, a range of
	// devices_name (all devices, always current) tested for the tab.
	from, name, id := "devices d INDEXED BY devices_name", "d.display_name COLLATE NOCASE", "d.id"
	bound := func() string { return "1" }
	fromOrder := p.orderQueued <= gatherMax
	if fromOrder {
		index, cond := "blade_order_name", func() string { return "o.tab = " + a.add(string(p.q.Tab)) }
		switch {
		case p.q.Status != "":
			index, cond = "blade_order_status_name", func() string {
				return fmt.Sprintf("o.tab = %s AND o.status = %s", a.add(string(p.q.Tab)), a.add(string(p.q.Status)))
			}
		case p.q.Ring != "":
			index, cond = "blade_order_ring_name", func() string {
				return fmt.Sprintf("o.tab = %s AND o.ring = %s", a.add(string(p.q.Tab)), a.add(string(p.q.Ring)))
			}
		}
		from, name, id = "blade_order o INDEXED BY "+index+" CROSS JOIN devices d ON d.id = o.id", "o.display_name", "o.id"
		bound = func() string { return cond() + " AND o.id NOT IN (SELECT id FROM blade_queue)" }
	}
	// Each arm selects the name it is ordered by, so that SQLite sees the
	// walked arms need no sort.
	armOf := func(from, key, cond string) string {
		return fmt.Sprintf("SELECT d.id AS pk, %s AS s0 FROM %s WHERE %s AND %s", key, from, p.baseFilter(&a, ""), cond)
	}
	arm := func(from, cond string) string { return armOf(from, name, cond) }
	gathered := func(cond string) string { return armOf("devices d NOT INDEXED", nameOrder, cond) }
	prefix := func(name string) string {
		return fmt.Sprintf("%[1]s >= %[2]s AND %[1]s < %[3]s", name, a.add(p.lo), a.add(p.hi))
	}
	var arms []string
	switch {
	case p.cur == nil:
		arms = append(arms, arm(from, bound()+" AND "+prefix(name)))
	default:
		v, _ := p.cur.Values[0].(string)
		// The range continues after the cursor: the names equal to its name
		// after its id if that name is in the range, then the names after
		// it, from whichever of the cursor and the range bound comes later.
		if nocaseCompare(v, p.lo) >= 0 && nocaseCompare(v, p.hi) < 0 {
			arms = append(arms, arm(from, fmt.Sprintf("%s AND %s = %s AND %s %s %s", bound(), name, a.add(v), id, gt, a.add(p.cur.PK))))
		}
		lo, hi := name+" >= "+a.add(p.lo), name+" < "+a.add(p.hi)
		switch {
		case !p.q.Desc && nocaseCompare(v, p.lo) >= 0:
			lo = name + " > " + a.add(v)
		case p.q.Desc && nocaseCompare(v, p.hi) < 0:
			hi = name + " < " + a.add(v)
		}
		arms = append(arms, arm(from, bound()+" AND "+lo+" AND "+hi))
	}
	after := func() string {
		if p.cur == nil {
			return ""
		}
		return " AND " + afterCursor(&a, p.order, p.q.Desc, p.cur.Values, p.cur.PK)
	}
	if fromOrder && p.orderQueued > 0 {
		// The queued devices with the name prefix, read from devices.
		arms = append(arms, gathered("d.id IN (SELECT id FROM blade_queue) AND "+prefix(nameOrder)+after()))
	}
	// The other matches, in the names planSearch read with them: a page
	// reads again only its own rows.
	other := fmt.Sprintf("SELECT %s AS pk, %s AS s0 FROM json_each(%s) j", othersID, othersName, a.add(p.others))
	if p.cur != nil {
		other += fmt.Sprintf(" WHERE (%s, %s) %s (%s, %s)", othersName, othersID, gt, a.add(p.cur.Values[0]), a.add(p.cur.PK))
	}
	arms = append(arms, other)
	return query{fmt.Sprintf(`SELECT %s FROM (%s ORDER BY 2 %s, 1 %s%s) k
		CROSS JOIN devices d ON d.id = k.pk ORDER BY %s`,
		p.selected(proj), strings.Join(arms, " UNION ALL "), dir, dir, p.limitOffset(&a), p.keyOrder()), a}
}

// walkSource is what a walk reads: an index, the order term it is in, the
// id term, and the conditions that bound the index range.
type walkSource struct {
	from, key, id string
	bound         func(a *args, st Status) string
	// merge: devices await blade_order, merge them in (orderMergeQuery).
	merge bool
}

func (p *devicePlan) walkSource() walkSource {
	join := " CROSS JOIN devices d ON d.id = o.id"
	if p.indexOnly {
		join = ""
	}
	switch {
	case p.how == walkStatus:
		return walkSource{from: "blade_order o INDEXED BY blade_order_status_name" + join, key: "o.display_name", id: "o.id",
			bound: func(a *args, st Status) string {
				return fmt.Sprintf("o.tab = %s AND o.status = %s", a.add(string(p.q.Tab)), a.add(string(st)))
			}, merge: p.orderQueued > 0}
	case p.col.Key == "display_name" && p.orderQueued > gatherMax:
		return walkSource{from: "devices d INDEXED BY devices_name", key: nameOrder, id: "d.id"}
	case p.col.Key == "display_name" && p.q.Ring != "":
		return walkSource{from: "blade_order o INDEXED BY blade_order_ring_name" + join, key: "o.display_name", id: "o.id",
			bound: func(a *args, _ Status) string {
				return fmt.Sprintf("o.tab = %s AND o.ring = %s", a.add(string(p.q.Tab)), a.add(string(p.q.Ring)))
			}, merge: p.orderQueued > 0}
	}
	return walkSource{from: "blade_order o INDEXED BY " + p.col.index + join, key: "o." + p.col.orderColumn, id: "o.id",
		bound: func(a *args, _ Status) string {
			cond := "o.tab = " + a.add(string(p.q.Tab))
			if p.col.Key == "ring" && p.q.Ring != "" {
				cond += " AND o.ring = " + a.add(string(p.q.Ring)) // the filter is a range of the index too
			}
			return cond
		}, merge: p.orderQueued > 0}
}

// walkQueries are the statements of a walk in index order. A status sort
// walks the tab's statuses one after another (or the filtered one), each a
// range of blade_order_status_name in name order; other walks are one range
// of the sort column's index. After a cursor, a range continues as two
// statements, the rows tied with the cursor's value after its id, then the
// rows after the value: SQLite seeks to both, whereas a row-value
// comparison (sort, id) > (?, ?) on these indexes only filters, which made
// a page deep in the tab cost as much as all the pages before it. While
// devices await blade_order, each range is one statement merging them in.
//
// Limit and offset apply to the whole: every statement is limited to the
// page and the offset, and eachDevice skips and stops.
func (p *devicePlan) walkQueries(proj projection) []query {
	src := p.walkSource()
	statuses := []Status{""}
	var curValue any
	if p.cur != nil {
		curValue = p.cur.Values[len(p.cur.Values)-1]
	}
	curStatus := Status("")
	if p.how == walkStatus {
		statuses = p.q.Tab.Statuses()
		if p.q.Status != "" {
			statuses = []Status{p.q.Status}
		}
		slices.Sort(statuses)
		if p.q.Desc {
			slices.Reverse(statuses)
		}
		if p.cur != nil && p.col.Key == "status" {
			s, _ := p.cur.Values[0].(string)
			curStatus = Status(s)
		}
	}
	gt := ">"
	if p.q.Desc {
		gt = "<"
	}
	// The ranges to walk, and whether the cursor is in each.
	type segment struct {
		status   Status
		atCursor bool
	}
	var segs []segment
	n := 0
	for _, st := range statuses {
		atCursor := p.cur != nil
		if p.how == walkStatus && p.col.Key == "status" && p.cur != nil && st != curStatus {
			// Statuses before the cursor's are done; after it, whole.
			if (st < curStatus) != p.q.Desc {
				continue
			}
			atCursor = false
		}
		segs = append(segs, segment{st, atCursor})
		if atCursor && !src.merge {
			n += 2
		} else {
			n++
		}
	}
	limit := func(a *args) string {
		switch {
		case n > 1 && p.q.Limit > 0:
			return " LIMIT " + a.add(p.q.Limit+p.q.Offset)
		case n == 1:
			return p.limitOffset(a)
		}
		return ""
	}
	stmt := func(st Status, ordered bool, cond func(a *args) string) query {
		var a args
		var where string
		if p.indexOnly {
			where = p.orderFilter(&a, st)
		} else {
			where = p.filter(&a, st)
		}
		if src.bound != nil {
			where += " AND " + src.bound(&a, st)
		}
		if cond != nil {
			where += " AND " + cond(&a)
		}
		order := []string{src.key}
		if !ordered {
			order = nil // tied: the id alone orders them
		}
		sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s",
			p.selected(proj), src.from, where, orderByID(order, p.q.Desc, src.id))
		return query{sql + limit(&a), a}
	}
	var out []query
	for _, sg := range segs {
		switch {
		case src.merge:
			out = append(out, p.orderMergeQuery(proj, src, sg.status, sg.atCursor, limit))
		case !sg.atCursor:
			out = append(out, stmt(sg.status, true, nil))
		default:
			out = append(out,
				stmt(sg.status, false, func(a *args) string {
					return fmt.Sprintf("%s = %s AND %s %s %s", src.key, a.add(curValue), src.id, gt, a.add(p.cur.PK))
				}),
				stmt(sg.status, true, func(a *args) string { return fmt.Sprintf("%s %s %s", src.key, gt, a.add(curValue)) }))
		}
	}
	return out
}

// orderMergeQuery is one range of a blade_order walk while devices await
// their row there: the walk, leaving them out, merged by SQLite (MERGE
// (UNION ALL)) with the queued devices that pass the filters, sorted by
// their values in devices. Exact at every moment; as fast as a walk once
// the queue is short.
func (p *devicePlan) orderMergeQuery(proj projection, src walkSource, st Status, atCursor bool, limit func(*args) string) query {
	var a args
	dir, gt := "ASC", ">"
	if p.q.Desc {
		dir, gt = "DESC", "<"
	}
	// The key of the queued devices, computed from devices: the sort
	// column's expression, or within one status the name.
	key := p.order[0]
	if p.how == walkStatus {
		key = nameOrder
	}
	walk := func(cond string) string {
		return fmt.Sprintf(`SELECT o.id AS pk, %s AS s0 FROM %s WHERE %s AND %s AND o.id NOT IN (SELECT id FROM blade_queue) AND %s`,
			src.key, src.from, p.filter(&a, st), src.bound(&a, st), cond)
	}
	var arms []string
	queued := fmt.Sprintf("SELECT d.id AS pk, %s AS s0 FROM devices d NOT INDEXED WHERE d.id IN (SELECT id FROM blade_queue) AND %s",
		key, p.filter(&a, st))
	if !atCursor {
		arms = append(arms, walk("1"))
	} else {
		v := p.cur.Values[len(p.cur.Values)-1]
		arms = append(arms,
			walk(fmt.Sprintf("%s = %s AND o.id %s %s", src.key, a.add(v), gt, a.add(p.cur.PK))),
			walk(fmt.Sprintf("%s %s %s", src.key, gt, a.add(v))))
		queued += " AND " + afterCursor(&a, []string{key}, p.q.Desc, []any{v}, p.cur.PK)
	}
	arms = append(arms, queued)
	return query{fmt.Sprintf(`SELECT %s FROM (%s ORDER BY 2 %s, 1 %s%s) k
		CROSS JOIN devices d ON d.id = k.pk ORDER BY k.s0 %s, k.pk %s`,
		p.selected(proj), strings.Join(arms, " UNION ALL "), dir, dir, limit(&a), dir, dir), a}
}

// EachDevice streams the rows matching q to fn, in q's order. The row is
// reused: fn must copy what it keeps.
func (s *Store) EachDevice(ctx context.Context, q DeviceQuery, fn func(*DeviceRow) error) error {
	p, err := s.plan(ctx, q)
	if err != nil {
		return err
	}
	return s.eachDevice(ctx, p, allFields, fn)
}

// eachDevice runs a plan reading only the projection's columns. The row
// and its sortValue are reused: fn must copy what it keeps.
func (s *Store) eachDevice(ctx context.Context, p *devicePlan, proj projection, fn func(*DeviceRow) error) error {
	sc := newProjectionScanner(proj)
	var r DeviceRow
	return s.eachPacked(ctx, &s.stmts, p, proj, func(pr *packedRow) error {
		if err := sc.unpack(pr.pk, pr.packed, &r); err != nil {
			return fmt.Errorf("devices: %w", err)
		}
		r.sortValue = pr.sort
		return fn(&r)
	})
}

// allFields reads every field of a row.
var allFields = projectionOf(nil)

// selected is the select list of the plan's statements: the projection,
// then the values of the row in the sort order, which cursors are made of.
// An export makes no cursor and selects none.
func (p *devicePlan) selected(proj projection) string {
	if p.noCursor {
		return proj.sql
	}
	return proj.sql + ", " + strings.Join(p.order, ", ")
}

// packedRow is a row as the plan's statements return it: the device's row
// ID, its projection packed (deviceScanner.unpack reads it), and its values
// in the sort order.
type packedRow struct {
	pk     int64
	packed string
	sort   []any
}

// eachPacked runs a plan and calls fn with each row, packed. The row is
// reused: fn must copy what it keeps.
func (s *Store) eachPacked(ctx context.Context, src *stmtCache, p *devicePlan, proj projection, fn func(*packedRow) error) error {
	var r packedRow
	dest := []any{&r.pk, &r.packed}
	if !p.noCursor {
		r.sort = make([]any, len(p.order))
		for i := range r.sort {
			dest = append(dest, &r.sort[i])
		}
	}
	// Several statements (a status walk, a walk after a cursor) share the
	// limit and offset.
	qs := p.queries(proj)
	skip, left := 0, p.q.Limit
	multi := len(qs) > 1
	if multi {
		skip = p.q.Offset
	}
	for _, qu := range qs {
		if multi && p.q.Limit > 0 && left == 0 {
			break
		}
		rows, err := src.query(ctx, qu.sql, qu.args...)
		if err != nil {
			return fmt.Errorf("devices: %w", err)
		}
		for rows.Next() {
			if skip > 0 {
				skip--
				continue
			}
			if multi && p.q.Limit > 0 {
				if left == 0 {
					break
				}
				left--
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("devices: %w", err)
			}
			if err := fn(&r); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("devices: %w", err)
		}
	}
	return nil
}

// DevicePage is one page of a blade.
type DevicePage struct {
	Rows []DeviceRow
	// Next is the cursor of the following page; empty on the last page.
	Next string
	// Total counts the rows matching the query (not only the page).
	Total int
	// Capped means Total stopped counting: more rows than Total match. Tab
	// and status totals are exact; a ring filter or a search counts up to
	// CountCap.
	Capped bool
}

// CountCap bounds how far the update report and a group's member search
// count their rows, per request: counting rows that must be read costs
// about as much as reading them.
const CountCap = 1000

// BladeCountCap bounds how far a blade counts the rows of a search, a ring
// filter or a set filter (a failing check, a pasted list): exact up to it,
// "more than 10,000" past it. Tab and status counts are kept by triggers and
// always exact. A ring filter counts entries of its index, and a search of
// four characters or fewer counts the entries of its index lists, without
// reading a device (searchCount); other searches test the rows they count.
const BladeCountCap = 10_000

// bladeCap is BladeCountCap, unless a test lowered it.
func (s *Store) bladeCap() int {
	if s.countCap > 0 {
		return s.countCap
	}
	return BladeCountCap
}

// SetCountCap bounds the count of a set filter.
const SetCountCap = BladeCountCap

// SearchCountCap bounds the count of a group's member search (groupedit.go).
const SearchCountCap = CountCap

// DevicePage returns up to q.Limit rows of a blade, the cursor of the next
// page, and the number of matching rows.
func (s *Store) DevicePage(ctx context.Context, q DeviceQuery) (DevicePage, error) {
	v, err := s.version(ctx)
	if err != nil {
		return DevicePage{}, err
	}
	return s.devicePage(ctx, v, q)
}

func (s *Store) devicePage(ctx context.Context, v uint64, q DeviceQuery) (DevicePage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	want := q.Limit
	q.Limit++ // one more row says whether there is a next page
	p, err := s.planAt(ctx, v, q)
	if err != nil {
		return DevicePage{}, err
	}
	proj, _ := q.projection() // validated by plan
	page := DevicePage{Rows: make([]DeviceRow, 0, min(want, 256))}
	var lastSort []any // the sort values of the last row kept
	err = s.eachDevice(ctx, p, proj, func(r *DeviceRow) error {
		if len(page.Rows) < want {
			row := *r
			row.sortValue = nil // reused by eachDevice
			row.Reasons = append([]CheckID(nil), r.Reasons...)
			row.UnreachableEndpoints = append([]string(nil), r.UnreachableEndpoints...)
			row.PhysicalIDs = append([]string(nil), r.PhysicalIDs...)
			row.SystemLabels = append([]string(nil), r.SystemLabels...)
			row.UpdateAlerts = append([]string(nil), r.UpdateAlerts...)
			page.Rows = append(page.Rows, row)
			lastSort = append(lastSort[:0], r.sortValue.([]any)...)
			return nil
		}
		last := page.Rows[len(page.Rows)-1]
		page.Next = encodeCursor(cursor{Sort: p.col.Key, Desc: q.Desc, Values: lastSort, PK: last.PK})
		return nil
	})
	if err != nil {
		return DevicePage{}, err
	}
	page.Total, page.Capped, err = s.countDevices(ctx, p)
	return page, err
}

// countDevices counts the rows matching the plan's filters (not its cursor):
// a tab, status and ring from the counters the triggers keep, a search or
// a set by counting up to the cap.
func (s *Store) countDevices(ctx context.Context, p *devicePlan) (int, bool, error) {
	q := p.q
	if q.Search == "" && p.how != gatherSet {
		c, err := s.counts(ctx, p.version)
		if err != nil {
			return 0, false, err
		}
		switch {
		case q.Ring != "":
			return c.TabRing(q.Tab, q.Status, q.Ring), false, nil
		case q.Status != "":
			return c.Status[q.Status], false, nil
		}
		return c.Tab(q.Tab), false, nil
	}
	if p.counted {
		return p.total, p.capped, nil
	}
	var a args
	var sqlText string
	limit := s.bladeCap()
	switch {
	case p.how == gatherSet:
		// A set is at most a pasted list's 10,000 devices, or the devices
		// failing one check: counted exactly, in the set's own index.
		sqlText = fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM devices d WHERE %s AND %s LIMIT %d)",
			p.baseFilter(&a, ""), p.setFilter(&a), limit+1)
	case p.orderQueued == 0: // a search
		// Tested on blade_order's copies of the values, whose rows are a
		// fraction of the devices' to read.
		sqlText = fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM blade_order o NOT INDEXED WHERE %s LIMIT %d)", p.orderFilter(&a, ""), limit+1)
	default:
		sqlText = fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM devices d WHERE %s LIMIT %d)", p.filter(&a, ""), limit+1)
	}
	var n int
	if err := s.queryRow(ctx, sqlText, a...).Scan(&n); err != nil {
		return 0, false, fmt.Errorf("count devices: %w", err)
	}
	if n > limit {
		return limit, true, nil
	}
	return n, false, nil
}

// cursor is the position after a row in a sort order.
type cursor struct {
	Sort   string `json:"s"`
	Desc   bool   `json:"d,omitempty"`
	Values []any  `json:"v"`
	PK     int64  `json:"k"`
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
	for i, v := range c.Values {
		switch v := v.(type) {
		case json.Number:
			n, err := v.Int64()
			if err != nil {
				return cursor{}, invalidf("the page cursor is not valid; start again from the first page")
			}
			c.Values[i] = n
		case string:
		default:
			return cursor{}, invalidf("the page cursor is not valid; start again from the first page")
		}
	}
	return c, nil
}

// ExportCSV writes every row matching q (the limit is ignored) with the given
// columns to w, streamed, through a CSVWriter (every field quoted, formula-like
// cells neutralised, a byte-order mark unless opts.NoBOM). It returns the
// number of rows written.
//
// Reading a row from SQLite costs about four times writing it as CSV, and
// most of the reading is finding the device and packing its columns. So a
// walker goroutine runs the plan selecting only the ids, in order, and hands
// them on in batches of exportBatch; exportFetchers goroutines read the
// batches' rows (exportRows), each on a connection of its own; and the
// caller's goroutine writes the batches in order. At most exportWindow
// batches are under way, so the memory an export takes does not depend on
// its size. A batch is read a moment after it was walked: a device changed
// in between is written as it is then, or left out if it left the tab.
//
// Exports read from a pool of their own (exportPool) and wait at most
// exportWait for a free slot; past it they fail with ErrBusy. A client
// that stops reading holds its slot until w's writes fail: the caller
// bounds them.
func (s *Store) ExportCSV(ctx context.Context, w io.Writer, q DeviceQuery, cols []Column, opts CSVOptions) (int, error) {
	release, err := s.exports.acquire(ctx)
	if err != nil {
		return 0, err // a message for the user as it is
	}
	defer release()
	q.Limit, q.Offset = 0, 0
	p, err := s.plan(ctx, q)
	if err != nil {
		return 0, err
	}
	p.noCursor = true
	cw := NewCSVWriter(w, opts)
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
	proj := projectionOf(needs)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inOrder := make(chan *exportChunk, exportWindow) // to the writer
	todo := make(chan *exportChunk, exportWindow)    // to the fetchers
	walked := make(chan error, 1)
	go func() {
		defer close(inOrder)
		defer close(todo)
		ids := make([]int64, 0, exportBatch)
		hand := func() error {
			c := &exportChunk{ids: ids, done: make(chan struct{})}
			ids = make([]int64, 0, exportBatch)
			select {
			case inOrder <- c:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case todo <- c:
				return nil
			case <-ctx.Done():
				c.err = ctx.Err() // the writer waits for it
				close(c.done)
				return c.err
			}
		}
		// While blade_order is current, the walk reads it alone.
		walk, idProj := *p, projection{sql: "d.id, ''"}
		if walk.indexOnly = p.orderQueued == 0 && (p.how == walkSort || p.how == walkStatus); walk.indexOnly {
			idProj.sql = "o.id, ''"
		}
		err := s.eachPacked(ctx, &s.exports.stmts, &walk, idProj, func(r *packedRow) error {
			if ids = append(ids, r.pk); len(ids) < exportBatch {
				return nil
			}
			return hand()
		})
		if err == nil && len(ids) > 0 {
			err = hand()
		}
		walked <- err
	}()
	var fetchers sync.WaitGroup
	for range exportFetchers {
		fetchers.Go(func() {
			for c := range todo {
				c.rows, c.err = s.exportRows(ctx, p, proj, c.ids)
				close(c.done)
			}
		})
	}

	sc := newProjectionScanner(proj)
	var r DeviceRow
	n := 0
	var werr error
	for c := range inOrder {
		<-c.done
		werr = c.err
		for i := 0; i < len(c.rows) && werr == nil; i++ {
			if werr = sc.unpack(c.rows[i].pk, c.rows[i].packed, &r); werr != nil {
				break
			}
			for j, col := range cols {
				rec[j] = col.Value(&r)
			}
			if werr = cw.Write(rec); werr == nil {
				n++
			}
		}
		if werr != nil {
			break
		}
	}
	cancel() // after an error, the walker and the fetchers stop
	fetchers.Wait()
	if err := <-walked; werr == nil && err != nil {
		werr = err
	}
	if werr != nil {
		return n, werr
	}
	return n, cw.Flush()
}

// An export's rows are walked and read in batches of exportBatch, by
// exportFetchers readers, with at most exportWindow batches under way.
const (
	exportBatch    = 512
	exportFetchers = 2
	exportWindow   = 4
)

// exportChunk is a batch of an export: the ids the walker found, then the
// rows a fetcher read for them, or its error; done is closed then.
type exportChunk struct {
	ids  []int64
	rows []packedRow
	err  error
	done chan struct{}
}

// exportRows reads the rows of the devices ids, in the order of ids, that
// still pass p's tab, status and ring. SQLite returns them as it reads them,
// each with its place in ids (an ORDER BY would sort the packed rows first:
// a third of an export), and they are put in their places here.
func (s *Store) exportRows(ctx context.Context, p *devicePlan, proj projection, ids []int64) ([]packedRow, error) {
	var a args
	in := a.add(int64sJSON(ids))
	rows, err := s.exports.stmts.query(ctx, fmt.Sprintf("SELECT j.key, %s FROM json_each(%s) j CROSS JOIN devices d ON d.id = j.value WHERE %s",
		proj.sql, in, p.baseFilter(&a, "")), a...)
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	defer rows.Close()
	placed := make([]packedRow, len(ids)) // pk 0: left out
	for rows.Next() {
		var at int
		var r packedRow
		if err := rows.Scan(&at, &r.pk, &r.packed); err != nil {
			return nil, fmt.Errorf("devices: %w", err)
		}
		if at < 0 || at >= len(placed) {
			return nil, fmt.Errorf("devices: export row at %d of %d", at, len(placed))
		}
		placed[at] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	out := placed[:0]
	for _, r := range placed {
		if r.pk != 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// syncChunk is how many queued devices one write transaction moves into
// blade_order or the search index: large enough that the index gets few
// segments, small enough that other writers wait a fraction of a second.
const syncChunk = 10_000

// SyncBladeIndexes brings blade_order and the device search index
// (devices_search) up to date with the devices the triggers of migration 0003
// queued: those that joined or left the blades, moved tab, or changed a
// sorted or searched value while on them. Pages are exact meanwhile (queued
// devices are read from devices one by one), but fast only once the queues
// are short. DevicePage starts a sync in the background when it finds a
// queue; call this after a bulk change (a discovery run, an import) to
// have it done at once.
func (s *Store) SyncBladeIndexes(ctx context.Context) error {
	synced := 0
	for {
		n, searched, err := s.syncChunk(ctx)
		if err != nil {
			return fmt.Errorf("sync blade order and search index: %w", err)
		}
		synced += searched
		if n < syncChunk {
			break
		}
	}
	if synced == 0 {
		return nil
	}
	// Every chunk adds index segments, and a query reads each segment: ten
	// of them made a search cost five times one. Merge them, a few pages
	// per transaction so that other writers do not wait long, until a
	// merge finds nothing left to do (total_changes counts only the
	// command then).
	for range 1000 {
		var done bool
		err := s.write(ctx, func(tx *sql.Tx) error {
			var before, after int64
			if err := tx.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&before); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO devices_search (devices_search, rank) VALUES ('merge', ?)`, -searchMergePages); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&after); err != nil {
				return err
			}
			done = after-before < 2
			return nil
		})
		if err != nil {
			return fmt.Errorf("merge search index: %w", err)
		}
		if done {
			break
		}
	}
	return nil
}

// searchMergePages bounds the index pages one merge step writes.
const searchMergePages = 500

// syncChunk moves the first syncChunk entries of the queue: their devices
// into blade_order, and those flagged search into the search index, in one
// transaction. Each write is one statement, so that FTS5 buffers the chunk
// and writes it as one segment (it flushes at every statement savepoint).
// A device queued again later is written again then, from devices as it is.
func (s *Store) syncChunk(ctx context.Context) (n, searched int, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		var last sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT count(*), max(seq), ifnull(sum(search), 0) FROM (SELECT seq, search FROM blade_queue ORDER BY seq LIMIT ?)`,
			syncChunk).Scan(&n, &last, &searched)
		if err != nil || n == 0 {
			return err
		}
		// The search entries go first: they are found by the tab blade_order
		// holds, which is the one they were written with (migration 0006).
		for _, stmt := range []string{
			`DELETE FROM devices_search WHERE rowid IN (SELECT ` + searchRowid("o") + ` FROM blade_order o
				WHERE o.id IN (SELECT id FROM blade_queue WHERE seq <= ?1 AND search = 1))`,
			`DELETE FROM blade_order WHERE id IN (SELECT id FROM blade_queue WHERE seq <= ?1)`,
			`INSERT INTO blade_order (id, tab, status, display_name, device_id, serial_number, manufacturer, model, os_build,
					last_checkin, ring, registered_at)
				SELECT d.id, d.tab, d.status, d.display_name, d.device_id, d.serial_number, d.manufacturer, d.model, d.os_build,
					coalesce(d.last_checkin, 0), coalesce(d.ring, ''), coalesce(d.registered_at, 0)
				FROM devices d WHERE d.id IN (SELECT id FROM blade_queue WHERE seq <= ?1) AND d.status IS NOT NULL`,
			`INSERT INTO devices_search (rowid, grams)
				SELECT ` + searchRowid("d") + `, search_grams(substr(d.display_name, 2), substr(d.serial_number, 2), d.device_id)
				FROM devices d WHERE d.id IN (SELECT id FROM blade_queue WHERE seq <= ?1 AND search = 1) AND d.status IS NOT NULL`,
			`DELETE FROM blade_queue WHERE seq <= ?1`,
		} {
			if _, err := tx.ExecContext(ctx, stmt, last.Int64); err != nil {
				return err
			}
		}
		return nil
	})
	return n, searched, err
}

// bladeSync runs SyncBladeIndexes in the background, one at a time per
// store, until the store closes.
type bladeSync struct {
	mu      sync.Mutex
	running bool
	held    bool // tests hold the queue to see pages while it is long
	ctx     context.Context
	stop    context.CancelFunc
	done    sync.WaitGroup
}

// kickSearchSync starts a background SyncBladeIndexes unless one runs. A
// failed sync is retried by the next page that finds the queue.
func (s *Store) kickSearchSync() {
	b := &s.sync
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running || b.held || b.ctx.Err() != nil {
		return
	}
	b.running = true
	b.done.Go(func() {
		_ = s.SyncBladeIndexes(b.ctx)
		b.mu.Lock()
		b.running = false
		b.mu.Unlock()
	})
}

// close stops a background sync and waits for it: it stops between two
// chunks, each its own transaction, so nothing is lost.
func (b *bladeSync) close() {
	b.stop()
	b.done.Wait()
}

// stmtCache is a reader pool with its prepared blade statements by SQL
// text: the statements are built from a few shapes, and parsing one (the
// packed projection alone lists thirty columns) cost a fifth of a page.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// stmtCacheMax bounds a cache; statements past it are prepared each time.
const stmtCacheMax = 512

// query runs a read statement of the blades on the pages' pool, prepared
// once per store.
func (s *Store) query(ctx context.Context, sqlText string, args ...any) (*sql.Rows, error) {
	return s.stmts.query(ctx, sqlText, args...)
}

func (s *Store) queryRow(ctx context.Context, sqlText string, args ...any) *sql.Row {
	if st := s.stmts.stmt(ctx, sqlText); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.r.QueryRowContext(ctx, sqlText, args...)
}

// query runs a read statement on c's pool, prepared once.
func (c *stmtCache) query(ctx context.Context, sqlText string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, sqlText); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, sqlText, args...)
}

// stmt returns the cached statement of sqlText, preparing it on first use;
// nil when it cannot (the cache is full, or preparing failed: the caller's
// query then reports the error).
func (c *stmtCache) stmt(ctx context.Context, sqlText string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[sqlText]; ok {
		return st
	}
	if len(c.m) >= stmtCacheMax {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, sqlText)
	if err != nil {
		return nil
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[sqlText] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close() // the pool closes next; a statement's error surfaced at its use
	}
	c.m = nil
}

// Counts are the maintained per-status and per-ring device counts.
type Counts struct {
	Status map[Status]int
	Rings  RingCounts
	// StatusRings are the devices of each status in each ring.
	StatusRings map[Status]RingCounts
}

// TabRing is the number of devices of ring r the tab shows, of status
// when status is set.
func (c Counts) TabRing(t Tab, status Status, r Ring) int {
	if status != "" {
		return c.StatusRings[status].Get(r)
	}
	n := 0
	for _, s := range t.Statuses() {
		n += c.StatusRings[s].Get(r)
	}
	return n
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

// Counts reads the counters the triggers keep; it never counts rows. The
// maps of the result are shared: do not modify them.
func (s *Store) Counts(ctx context.Context) (Counts, error) {
	v, err := s.version(ctx)
	if err != nil {
		return Counts{}, err
	}
	return s.counts(ctx, v)
}

// counts reads the counters of version v, from memory when they were read
// since.
func (s *Store) counts(ctx context.Context, v uint64) (Counts, error) {
	return memoized(s, v, "counts", func() (Counts, error) { return readCounts(ctx, cachedReader{s}) })
}

// cachedReader queries the reader pool through the store's statement cache.
type cachedReader struct{ s *Store }

func (c cachedReader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.s.query(ctx, query, args...)
}

// queryer is *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readCounts reads the counters through q: the reader pool, or a write
// transaction that needs counts consistent with what it writes.
func readCounts(ctx context.Context, q queryer) (Counts, error) {
	c := Counts{Status: make(map[Status]int), StatusRings: make(map[Status]RingCounts)}
	rows, err := q.QueryContext(ctx, `SELECT key, n FROM counters`)
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
		case "statusring":
			st, ring, _ := strings.Cut(v, ":")
			rc := c.StatusRings[Status(st)]
			rc.Add(Ring(ring), n)
			c.StatusRings[Status(st)] = rc
		}
	}
	return c, rows.Err()
}
