package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// bladeFleet registers n devices spread over the three tabs, with ties in
// every sortable column: most are Ready, every 5th is Not ready (Windows
// Update policy from GPO), every 7th Not registered (ConfigMgr only). Names
// repeat with different case every 4th device, models repeat in three
// spellings, check-ins and builds in a few values, and everything registers
// at the same time.
func bladeFleet(t testing.TB, n int) (*Store, []*Device) {
	t.Helper()
	st := openTestStore(t)
	models := []string{"Latitude 7440", "latitude 7440", "OptiPlex 7010", "Surface Laptop 5"}
	builds := []string{"10.0.22631.4460", "10.0.22621.1", "10.0.26100.2", "10.0.19045.5011"}
	devs := make([]*Device, n)
	for i := range devs {
		devs[i] = healthy(i+1, func(d *Device) {
			d.Model = models[i%len(models)]
			d.OSVersion = builds[(i/3)%len(builds)]
			d.LastCheckin = testNow.Add(-time.Duration(i%4) * time.Hour)
			if i%4 == 1 {
				d.DisplayName = []string{"AP-Shared", "ap-shared", "AP-SHARED"}[(i/4)%3]
			}
			if i%6 == 2 {
				d.LastCheckin = time.Time{} // never checked in: sorts first
				d.WUPolicySource = "gpo"    // and keeps it off Ready
			}
			switch {
			case i%7 == 3:
				d.Management = ManagementConfigMgr
			case i%5 == 4:
				d.WUPolicySource = "gpo"
			}
		})
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	mustDiscover(t, st, testNow)
	return st, devs
}

// holdQueue stops pages from syncing blade_order and the search index in
// the background for the test, so that it sees the states it sets up.
func holdQueue(t *testing.T, st *Store) {
	st.sync.mu.Lock()
	st.sync.held = true
	st.sync.mu.Unlock()
	t.Cleanup(func() {
		st.sync.mu.Lock()
		st.sync.held = false
		st.sync.mu.Unlock()
	})
}

// allRows reads every row of a tab with the default order, unpaged.
func allRows(t testing.TB, st *Store, q DeviceQuery) []DeviceRow {
	t.Helper()
	q.Limit, q.After, q.Offset = 0, "", 0
	q.Sort, q.Desc = "", false
	var out []DeviceRow
	err := st.EachDevice(context.Background(), q, func(r *DeviceRow) error {
		out = append(out, *r)
		return nil
	})
	if err != nil {
		t.Fatalf("rows of %+v: %v", q, err)
	}
	return out
}

// wantOrder sorts rows as column key orders them, independently of SQL:
// NOCASE is ASCII case folding, and ties go by PK (status: by name, then PK).
func wantOrder(rows []DeviceRow, key string, desc bool) []int64 {
	rows = slices.Clone(rows)
	fold := strings.ToLower
	unix := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.Unix()
	}
	slices.SortFunc(rows, func(a, b DeviceRow) int {
		var c int
		switch key {
		case "", "display_name":
			c = cmp.Compare(fold(a.DisplayName), fold(b.DisplayName))
		case "serial_number":
			c = cmp.Compare(fold(a.SerialNumber), fold(b.SerialNumber))
		case "device_id":
			c = cmp.Compare(a.DeviceID, b.DeviceID)
		case "manufacturer":
			c = cmp.Compare(fold(a.Manufacturer), fold(b.Manufacturer))
		case "model":
			c = cmp.Compare(fold(a.Model), fold(b.Model))
		case "os_version":
			c = cmp.Compare(OSBuild(a.OSVersion), OSBuild(b.OSVersion))
		case "last_checkin":
			c = cmp.Compare(unix(a.LastCheckin), unix(b.LastCheckin))
		case "registered_on":
			c = cmp.Compare(unix(a.RegisteredAt), unix(b.RegisteredAt))
		case "ring":
			c = cmp.Compare(a.Ring, b.Ring)
		case "status":
			c = cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(fold(a.DisplayName), fold(b.DisplayName)))
		default:
			panic("no oracle for " + key)
		}
		c = cmp.Or(c, cmp.Compare(a.PK, b.PK))
		if desc {
			c = -c
		}
		return c
	})
	pks := make([]int64, len(rows))
	for i, r := range rows {
		pks[i] = r.PK
	}
	return pks
}

// pageThrough follows Next from the first page to the last; every page
// must report the same total.
func pageThrough(t testing.TB, st *Store, q DeviceQuery) ([]int64, int) {
	t.Helper()
	var got []int64
	pages, total := 0, -1
	for {
		page, err := st.DevicePage(context.Background(), q)
		if err != nil {
			t.Fatalf("page %d of %+v: %v", pages, q, err)
		}
		pages++
		if total >= 0 && page.Total != total {
			t.Fatalf("page %d of %+v: total %d, was %d", pages, q, page.Total, total)
		}
		total = page.Total
		if len(page.Rows) > q.Limit || page.Next != "" && len(page.Rows) != q.Limit {
			t.Fatalf("page %d of %+v: %d rows, next %q", pages, q, len(page.Rows), page.Next)
		}
		for _, r := range page.Rows {
			got = append(got, r.PK)
		}
		if page.Next == "" {
			if page.Capped && page.Total >= len(got) || !page.Capped && page.Total != len(got) {
				t.Fatalf("%+v: total %d (capped %v) for %d rows", q, page.Total, page.Capped, len(got))
			}
			return got, pages
		}
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		q.After = page.Next
	}
}

func TestDevicePageCursorVisitsEveryRowOnceInOrder(t *testing.T) {
	st, devs := bladeFleet(t, 120)
	holdQueue(t, st)
	ctx := context.Background()
	// Some admin rings, so that the ring sort and filter see four values.
	if _, err := st.AssignRing(ctx, RingTest, []string{devs[0].DeviceID, devs[1].DeviceID, devs[5].DeviceID}, "tester"); err != nil {
		t.Fatal(err)
	}
	tests := []DeviceQuery{
		{Tab: TabReady},
		{Tab: TabNotReady},
		{Tab: TabNotRegistered},
		{Tab: TabNotReady, Status: StatusReadinessFailed},
		{Tab: TabReady, Ring: RingTest},
		{Tab: TabReady, Ring: RingBroad},
		{Tab: TabNotReady, Status: StatusReadinessFailed, Ring: RingBroad},
		{Tab: TabReady, Search: "shared"},   // in name tails: the search index
		{Tab: TabReady, Search: "AP"},       // two characters: a walk
		{Tab: TabReady, Search: "ap-"},      // a name prefix (of most names)
		{Tab: TabReady, Search: "ap-lt-00"}, // a name prefix, and name tails of no one
		{Tab: TabReady, Search: "SN0000"},   // a serial prefix
		{Tab: TabReady, Search: "0000-4000-8000-00000000001"},
		{Tab: TabNotReady, Status: StatusReadinessFailed, Search: "ap-"},
		{Tab: TabReady, Ring: RingBroad, Search: "-00"},
	}
	// Every device queued for blade_order and the search index (more than
	// gatherMax would make the name order read devices_name: see
	// TestDevicePageLongQueue); none; and a few after changes to what they
	// sort and search by.
	for _, phase := range []string{"queued", "synced", "some-queued"} {
		switch phase {
		case "synced":
			if err := st.SyncBladeIndexes(ctx); err != nil {
				t.Fatal(err)
			}
		case "some-queued":
			changed := []*Device{}
			for _, i := range []int{0, 4, 9, 13, 40} {
				d := *devs[i]
				d.Model, d.LastCheckin, d.SerialNumber = "Zbook", testNow.Add(-time.Duration(i)*time.Minute), fmt.Sprintf("XZ%03d", i)
				d.DisplayName += " renamed"
				changed = append(changed, &d)
			}
			mustUpsert(t, st, changed...)
			if _, err := st.AssignRing(ctx, RingFast, []string{devs[5].DeviceID}, "tester"); err != nil {
				t.Fatal(err)
			}
		}
		for _, base := range tests {
			all := allRows(t, st, base)
			if len(all) == 0 {
				t.Fatalf("%+v: no rows; the fleet should fill every case", base)
			}
			for _, key := range SortableColumns() {
				for _, desc := range []bool{false, true} {
					q := base
					q.Sort, q.Desc, q.Limit = key, desc, 7
					t.Run(fmt.Sprintf("%s/%s/%s/%s/%s/%s/desc=%v", phase, q.Tab, q.Status, q.Ring, q.Search, key, desc), func(t *testing.T) {
						got, pages := pageThrough(t, st, q)
						want := wantOrder(all, key, desc)
						if !slices.Equal(got, want) {
							t.Fatalf("paging in %d pages visited\n%v\nwant\n%v", pages, got, want)
						}
					})
				}
			}
		}
	}
}

func TestDevicePageOffsetAndTotals(t *testing.T) {
	st, _ := bladeFleet(t, 60)
	ctx := context.Background()
	c, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"display_name", "status", "last_checkin"} {
		for _, tab := range []Tab{TabReady, TabNotReady, TabNotRegistered} {
			all := wantOrder(allRows(t, st, DeviceQuery{Tab: tab}), key, true)
			page, err := st.DevicePage(ctx, DeviceQuery{Tab: tab, Sort: key, Desc: true, Limit: 4, Offset: 3})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range page.Rows {
				got = append(got, r.PK)
			}
			if want := all[3:min(7, len(all))]; !slices.Equal(got, want) {
				t.Errorf("%s by %s, offset 3: %v, want %v", tab, key, got, want)
			}
			if page.Total != c.Tab(tab) || page.Capped {
				t.Errorf("%s total %d capped %v, want %d from the counters", tab, page.Total, page.Capped, c.Tab(tab))
			}
		}
	}
	page, err := st.DevicePage(ctx, DeviceQuery{Tab: TabNotReady, Status: StatusReadinessFailed})
	if err != nil || page.Total != c.Status[StatusReadinessFailed] || page.Total == 0 {
		t.Errorf("status total %d, want %d (%v)", page.Total, c.Status[StatusReadinessFailed], err)
	}
	page, err = st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Ring: RingBroad, Limit: 2})
	want := 0
	for _, r := range allRows(t, st, DeviceQuery{Tab: TabReady}) {
		if r.Ring == RingBroad {
			want++
		}
	}
	if err != nil || page.Total != want || page.Capped || len(page.Rows) != 2 {
		t.Errorf("ring total %d capped %v rows %d, want %d (%v)", page.Total, page.Capped, len(page.Rows), want, err)
	}
}

func TestDevicePageRejects(t *testing.T) {
	st, _ := bladeFleet(t, 20)
	ctx := context.Background()
	page, err := st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Limit: 3})
	if err != nil || page.Next == "" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	for name, q := range map[string]DeviceQuery{
		"not sortable":            {Tab: TabReady, Sort: "edition"},
		"unknown column":          {Tab: TabReady, Sort: "nope"},
		"cursor of another sort":  {Tab: TabReady, Sort: "model", After: page.Next},
		"cursor of other way":     {Tab: TabReady, Desc: true, After: page.Next},
		"cursor not base64":       {Tab: TabReady, After: "!!"},
		"cursor of wrong shape":   {Tab: TabReady, After: encodeCursor(cursor{Sort: "display_name", Values: []any{"a", "b"}})},
		"status of another tab":   {Tab: TabReady, Status: StatusExcluded},
		"negative offset":         {Tab: TabReady, Offset: -1},
		"cursor with float value": {Tab: TabReady, Sort: "last_checkin", After: "eyJzIjoibGFzdF9jaGVja2luIiwidiI6WzEuNV0sImsiOjF9"},
	} {
		if _, err := st.DevicePage(ctx, q); !isInvalid(err) {
			t.Errorf("%s: error %v, want ErrInvalid", name, err)
		}
	}
}

func isInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

func TestColumnsSortable(t *testing.T) {
	st, devs := bladeFleet(t, 30)
	ctx := context.Background()
	if _, err := st.AssignRing(ctx, RingTest, []string{devs[0].DeviceID}, "tester"); err != nil {
		t.Fatal(err)
	}
	if err := st.SyncBladeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	indexSQL := map[string]string{}
	rows, err := st.r.Query(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			t.Fatal(err)
		}
		indexSQL[name] = sql
	}
	rows.Close()
	var sortable []string
	for _, c := range Columns {
		if !c.Sortable {
			if c.index != "" {
				t.Errorf("%s is not sortable but names index %s", c.Key, c.index)
			}
			continue
		}
		sortable = append(sortable, c.Key)
		sql, ok := indexSQL[c.index]
		if !ok {
			t.Errorf("%s: index %s does not exist", c.Key, c.index)
			continue
		}
		// The index orders by the column within a tab, then by id (the
		// status by status and name).
		want := "ON blade_order (tab, " + c.orderColumn + ", id)"
		if c.Key == "status" {
			want = "ON blade_order (tab, status, display_name, id)"
		}
		if !strings.Contains(sql, want) {
			t.Errorf("%s: index %s is %q, want %q", c.Key, c.index, sql, want)
		}
		// blade_order holds exactly the column's sort value of every device
		// on the blades (same value, same collation).
		var n, differ int
		err := st.r.QueryRow(fmt.Sprintf(`SELECT count(*), sum(o.%s IS NOT %s OR (o.%[1]s < %[2]s) OR (o.%[1]s > %[2]s))
			FROM devices d LEFT JOIN blade_order o ON o.id = d.id WHERE d.status IS NOT NULL`, c.orderColumn, c.sort)).Scan(&n, &differ)
		if err != nil || n == 0 || differ != 0 {
			t.Errorf("%s: blade_order.%s differs from %s for %d of %d devices (%v)", c.Key, c.orderColumn, c.sort, differ, n, err)
		}
	}
	if !slices.Equal(sortable, SortableColumns()) {
		t.Errorf("SortableColumns %v, want %v", SortableColumns(), sortable)
	}
	for _, key := range []string{"display_name", "device_id", "serial_number", "manufacturer", "model", "os_version",
		"last_checkin", "status", "ring", "registered_on"} {
		if c, _ := ColumnByKey(key); !c.Sortable {
			t.Errorf("%s should be sortable", key)
		}
	}
	for _, key := range BladeColumns {
		if _, ok := ColumnByKey(key); !ok {
			t.Errorf("blade column %s is not in the catalogue", key)
		}
	}
}

// seeks matches a plan whose index range has a bound past the equalities,
// e.g. (tab=? AND <expr>>?) or (status=? AND display_name=? AND id<?).
// (groupedit_test.go uses it too.)
var seeks = regexp.MustCompile(`INDEX \S+ \([^)]*[<>]\?\)`)

// queryPlan returns the EXPLAIN QUERY PLAN details of a statement.
func queryPlan(t testing.TB, st *Store, qu query) string {
	t.Helper()
	rows, err := st.r.Query("EXPLAIN QUERY PLAN "+qu.sql, qu.args...)
	if err != nil {
		t.Fatalf("explain %s: %v", qu.sql, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	return strings.Join(lines, "\n")
}

// TestDevicePagePlansWalkTheSortIndex checks that every sortable column's
// page, in both directions, first or after a cursor, with or without a
// status or ring filter or a common search, walks the column's index in
// order: no temp B-tree, so the cost of a page does not grow with the tab
// or with its depth.
func TestDevicePagePlansWalkTheSortIndex(t *testing.T) {
	st, _ := bladeFleet(t, 30)
	proj := projectionOf(nil)
	for _, col := range Columns {
		if !col.Sortable {
			continue
		}
		for _, f := range []DeviceQuery{
			{Tab: TabNotReady},
			{Tab: TabNotReady, Status: StatusInactive},
			{Tab: TabNotReady, Ring: RingFast},
			{Tab: TabNotReady, Search: "LT-00"},
			{Tab: TabNotReady, Search: "a"},
		} {
			for _, desc := range []bool{false, true} {
				for _, after := range []bool{false, true} {
					q := f
					q.Sort, q.Desc, q.Limit = col.Key, desc, 51
					p := &devicePlan{q: q, col: col, order: col.order(), how: walkSort}
					if q.Search != "" {
						p.like = "%" + escapeLike(q.Search) + "%"
					}
					if col.Key == "status" || q.Status != "" && col.Key == "display_name" {
						p.how = walkStatus
					}
					if after {
						vals := []any{"x"}
						if col.Key == "status" {
							vals = []any{"inactive", "x"}
						}
						p.cur = &cursor{Sort: col.Key, Desc: desc, Values: vals, PK: 7}
					}
					// The index the walk reads: the column's, or for a status walk
					// (status, name) and for a ring filter in name order (ring, name).
					index := col.index
					switch {
					case p.how == walkStatus:
						index = "blade_order_status_name"
					case col.Key == "display_name" && f.Ring != "":
						index = "blade_order_ring_name"
					}
					{
						// While devices await blade_order, the walk merges them in.
						queued := *p
						queued.orderQueued = 1
						plan := queryPlan(t, st, queued.queries(proj)[0])
						if !strings.Contains(plan, "MERGE (UNION ALL)") || !strings.Contains(plan, "INDEX "+index+" (") ||
							strings.Count(plan, "TEMP B-TREE FOR ORDER BY") != 1 || after && !seeks.MatchString(plan) {
							t.Errorf("%s desc=%v after=%v %+v, devices queued: plan\n%s\nwant a walk of %s merged with the queue", col.Key, desc, after, f, plan, index)
						}
					}
					for _, qu := range p.queries(proj) {
						plan := queryPlan(t, st, qu)
						if !strings.Contains(plan, "INDEX "+index+" (") || strings.Contains(plan, "TEMP B-TREE") {
							t.Errorf("%s desc=%v after=%v %+v: plan\n%s\nwant a walk of %s with no temp B-tree\nSQL: %s",
								col.Key, desc, after, f, plan, index, qu.sql)
						}
						// After a cursor the walk seeks: its index range is bounded
						// (for a status sort, in the cursor's status; the next is whole).
						if after && slices.Contains(qu.args, any(int64(7))) && !seeks.MatchString(plan) {
							t.Errorf("%s desc=%v %+v: plan\n%s\nwant a seek past the cursor\nSQL: %s", col.Key, desc, f, plan, qu.sql)
						}
					}
				}
			}
		}
	}
}

// TestDevicePagePlansGather checks the plans that collect a few rows or
// merge a search: they reach their rows through the intended indexes, and
// sort only what they gather.
func TestDevicePagePlansGather(t *testing.T) {
	st, _ := bladeFleet(t, 30)
	ctx := context.Background()
	if err := st.SyncBladeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		q    DeviceQuery
		how  access
		want []string
	}{
		{DeviceQuery{Tab: TabNotRegistered, Status: StatusExcluded, Sort: "serial_number"}, gatherStatus,
			[]string{"COVERING INDEX blade_order_status_name (tab=? AND status=?)", "INTEGER PRIMARY KEY (rowid=?)"}},
		{DeviceQuery{Tab: TabReady, Ring: RingTest, Sort: "model"}, gatherRing,
			[]string{"INDEX blade_order_ring (tab=? AND ring=?)", "INTEGER PRIMARY KEY (rowid=?)"}},
		{DeviceQuery{Tab: TabReady, Search: "LT-0042", Sort: "model"}, gatherSearch,
			[]string{"INTEGER PRIMARY KEY (rowid=?)", "SCAN j VIRTUAL TABLE", "INDEX devices_name (display_name>? AND display_name<?)"}},
		{DeviceQuery{Tab: TabReady, Search: "AP-LT"}, mergeSearch,
			[]string{"MERGE (UNION ALL)", "INDEX blade_order_name (tab=? AND display_name>? AND display_name<?)",
				"INTEGER PRIMARY KEY (rowid=?)"}},
		{DeviceQuery{Tab: TabNotReady, Status: StatusReadinessFailed, Search: "AP-LT", Desc: true}, mergeSearch,
			[]string{"MERGE (UNION ALL)", "INDEX blade_order_status_name (tab=? AND status=? AND display_name>? AND display_name<?)"}},
	} {
		tt.q.Limit = 51
		p, err := st.plan(ctx, tt.q)
		if err != nil {
			t.Fatal(err)
		}
		if p.how != tt.how {
			t.Errorf("%+v: plan %d, want %d", tt.q, p.how, tt.how)
		}
		for _, after := range []bool{false, true} {
			if after {
				vals := []any{"AP-LT-0003"}
				p.cur = &cursor{Values: vals, PK: 3}
			}
			plan := queryPlan(t, st, p.queries(projectionOf(nil))[0])
			for _, w := range tt.want {
				if !strings.Contains(plan, w) {
					t.Errorf("%+v after=%v: plan\n%s\nwant %s", tt.q, after, plan, w)
				}
			}
			if regexp.MustCompile(`SCAN d( |$)`).MatchString(plan) {
				t.Errorf("%+v after=%v: plan\n%s\nscans the devices", tt.q, after, plan)
			}
			// Only the gathered rows are sorted: the page keeps their order.
			if n := strings.Count(plan, "TEMP B-TREE FOR ORDER BY"); n != 1 {
				t.Errorf("%+v after=%v: plan\n%s\nsorts the page again", tt.q, after, plan)
			}
		}
		if tt.q.Search != "" {
			var a args
			plan := queryPlan(t, st, query{sql: p.namePrefixCount(&a, 10), args: a})
			if !strings.Contains(plan, "COVERING INDEX blade_order_status_name (tab=? AND status=? AND display_name>? AND display_name<?)") {
				t.Errorf("%+v: the name prefix count plan\n%s\nwant it to read the index alone", tt.q, plan)
			}
		}
	}
}

// searchFleet is a small fleet with names, serials and IDs to search.
func searchFleet(t testing.TB) (*Store, map[string]*Device) {
	t.Helper()
	st := openTestStore(t)
	byName := map[string]*Device{}
	for i, spec := range []struct{ name, serial string }{
		{"Finance-LT-001", "5CG1234ABC"},
		{"finance-lt-002", "5CG1234ABD"},
		{"HR-Desktop", "PF3XYZ01"},
		{"Lab 100% [QA]", "LAB_SERIAL_1"},
		{"Lab_100 QA", "LABXSERIALX2"},
		{`Quote "Q" PC`, "QQ-1"},
		{"Kiosk-Ü-01", "KIOSK01"},
		{"Legal-LT-007", "ZX81"},
	} {
		d := healthy(i+1, func(d *Device) { d.DisplayName, d.SerialNumber = spec.name, spec.serial })
		mustUpsert(t, st, d)
		mustAddMembers(t, st, RegistrationGroupName, d)
		byName[spec.name] = d
	}
	mustDiscover(t, st, testNow)
	return st, byName
}

// searchNames runs a search on the Ready tab and returns the names found,
// sorted; the total must agree.
func searchNames(t testing.TB, st *Store, search string) []string {
	t.Helper()
	page, err := st.DevicePage(context.Background(), DeviceQuery{Tab: TabReady, Search: search})
	if err != nil {
		t.Fatalf("search %q: %v", search, err)
	}
	var names []string
	for _, r := range page.Rows {
		names = append(names, r.DisplayName)
	}
	if page.Total != len(names) || page.Capped {
		t.Errorf("search %q: total %d capped %v for %d rows", search, page.Total, page.Capped, len(names))
	}
	slices.Sort(names)
	return names
}

func TestDevicePageSearch(t *testing.T) {
	tests := []struct {
		give string
		want []string
	}{
		{"finance", []string{"Finance-LT-001", "finance-lt-002"}},
		{"NANCE-LT", []string{"Finance-LT-001", "finance-lt-002"}},
		{"lt-00", []string{"Finance-LT-001", "Legal-LT-007", "finance-lt-002"}},
		{"  desk ", []string{"HR-Desktop"}},
		{"1234ab", []string{"Finance-LT-001", "finance-lt-002"}}, // serial, any case
		{"34ABD", []string{"finance-lt-002"}},
		{"00000000-0000-4000-8000-000000000003", []string{"HR-Desktop"}}, // device ID
		{"00000000-0000-4000-8000-00000000000", nil},                     // every ID: checked below
		{"8000-000000000004", []string{"Lab 100% [QA]"}},                 // ID substring
		{"X", []string{"HR-Desktop", "Lab_100 QA", "Legal-LT-007"}},      // one character: serials PF3XYZ01, LABX…, ZX81
		{"qa", []string{"Lab 100% [QA]", "Lab_100 QA"}},
		{"100%", []string{"Lab 100% [QA]"}}, // % is literal
		{"b_1", []string{"Lab_100 QA"}},     // _ is literal
		{"B_S", []string{"Lab 100% [QA]"}},  // serial LAB_SERIAL_1, not LABXSERIALX2
		{"% [", []string{"Lab 100% [QA]"}},  // two specials and a bracket
		{`"Q"`, []string{`Quote "Q" PC`}},   // double quotes in the phrase
		{`e "q`, []string{`Quote "Q" PC`}},  // an unbalanced quote
		{`\`, nil},                          // the LIKE escape character itself
		{"*", nil},                          // FTS syntax is text
		{"NOT", nil},                        // so are its operators
		{"-LT-", []string{"Finance-LT-001", "Legal-LT-007", "finance-lt-002"}},
		{"Ü-0", []string{"Kiosk-Ü-01"}},                 // non-ASCII
		{"k-Ü", []string{"Kiosk-Ü-01"}},                 // 3 characters, 4 bytes
		{"007", []string{"Kiosk-Ü-01", "Legal-LT-007"}}, // 3 bytes ending a name, and in a device ID
		{"x81", []string{"Legal-LT-007"}},               // the whole tail of serial ZX81
		{"Z-L", nil},                                    // grams of two values do not join
		{"nothing-like-this", nil},
	}
	st, _ := searchFleet(t)
	holdQueue(t, st)
	// Before the search index syncs (devices queued), after it, and again
	// with the index forced out of the plan: the same answers.
	for _, phase := range []string{"queued", "synced"} {
		if phase == "synced" {
			if err := st.SyncBladeIndexes(context.Background()); err != nil {
				t.Fatal(err)
			}
			var queued int
			if err := st.r.QueryRow(`SELECT count(*) FROM blade_queue`).Scan(&queued); err != nil || queued != 0 {
				t.Fatalf("after sync %d queued (%v)", queued, err)
			}
		}
		for _, tt := range tests {
			got := searchNames(t, st, tt.give)
			want := tt.want
			if tt.give == "00000000-0000-4000-8000-00000000000" {
				want = searchNames(t, st, "")
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: search %q found %q, want %q", phase, tt.give, got, want)
			}
		}
	}
}

// TestDevicePageSearchPlansAgree runs searches through the plan chosen and
// through a walk testing every row, and expects the same rows in the same
// order, before and after the search index syncs.
func TestDevicePageSearchPlansAgree(t *testing.T) {
	st, devs := bladeFleet(t, 80)
	holdQueue(t, st)
	ctx := context.Background()
	mustUpsert(t, st, healthy(7, func(d *Device) {
		d.DisplayName, d.SerialNumber = "Renamed 100%_x", "sn-ap-shared"
		d.Model, d.OSVersion, d.LastCheckin = devs[6].Model, devs[6].OSVersion, devs[6].LastCheckin
	}))
	run := func(p *devicePlan) []int64 {
		var got []int64
		if err := st.eachDevice(ctx, p, projectionOf(nil), func(r *DeviceRow) error { got = append(got, r.PK); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, sync := range []bool{false, true} {
		if sync {
			if err := st.SyncBladeIndexes(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, search := range []string{"shared", "SN0000", "AP-LT-00", "ap-lt-0001", "100%_", "-8000-00000000007", "P-SHA", "sn-",
			"00000", "0000000000", "8000-000000"} {
			for _, key := range []string{"display_name", "model", "status"} {
				for _, desc := range []bool{false, true} {
					q := DeviceQuery{Tab: TabReady, Search: search, Sort: key, Desc: desc}
					p, err := st.plan(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					walk := *p
					walk.others, walk.how = "", walkSort
					if key == "status" {
						walk.how = walkStatus
					}
					want, got := run(&walk), run(p)
					if len(want) == 0 || !slices.Equal(got, want) {
						t.Errorf("synced=%v %q by %s desc=%v: plan %d found %v, the walk %v", sync, search, key, desc, p.how, got, want)
					}
				}
			}
		}
	}
}

func TestDevicePageSearchFollowsChanges(t *testing.T) {
	ctx := context.Background()
	for _, synced := range []bool{false, true} {
		t.Run(fmt.Sprintf("synced=%v", synced), func(t *testing.T) {
			st, devs := searchFleet(t)
			holdQueue(t, st)
			sync := func() {
				if synced {
					if err := st.SyncBladeIndexes(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			sync()
			hr := devs["HR-Desktop"]
			renamed := *hr
			renamed.DisplayName = "Payroll-Desktop"
			mustUpsert(t, st, &renamed)
			sync()
			for _, old := range []string{"HR-Desk", "R-De"} { // R-De: one gram, which the index alone answers once synced
				if got := searchNames(t, st, old); len(got) != 0 {
					t.Errorf("old name still found by %q: %v", old, got)
				}
			}
			if got := searchNames(t, st, "payroll"); !slices.Equal(got, []string{"Payroll-Desktop"}) {
				t.Errorf("new name: %v", got)
			}
			if got := searchNames(t, st, "PF3XYZ"); !slices.Equal(got, []string{"Payroll-Desktop"}) {
				t.Errorf("serial of the renamed device: %v", got)
			}

			// Leaving the blades: deregister (Not registered tab), then restore (off the blades).
			legal := devs["Legal-LT-007"]
			if _, err := st.Deregister(ctx, []string{legal.DeviceID}, "tester"); err != nil {
				t.Fatal(err)
			}
			sync()
			if got := searchNames(t, st, "legal"); len(got) != 0 {
				t.Errorf("deregistered device still on Ready: %v", got)
			}
			page, err := st.DevicePage(ctx, DeviceQuery{Tab: TabNotRegistered, Search: "legal"})
			if err != nil || len(page.Rows) != 1 || page.Total != 1 {
				t.Fatalf("deregistered device on Not registered: %+v %v", page, err)
			}
			if _, err := st.Restore(ctx, []string{legal.DeviceID}, "tester"); err != nil {
				t.Fatal(err)
			}
			sync()
			for _, tab := range []Tab{TabReady, TabNotReady, TabNotRegistered} {
				page, err := st.DevicePage(ctx, DeviceQuery{Tab: tab, Search: "legal"})
				if err != nil || len(page.Rows) != 0 || page.Total != 0 {
					t.Errorf("%s: device off the blades still found: %+v %v", tab, page.Rows, err)
				}
			}
			// Back on the blades by the next discovery.
			mustDiscover(t, st, testNow.Add(time.Hour))
			sync()
			if got := searchNames(t, st, "legal"); !slices.Equal(got, []string{"Legal-LT-007"}) {
				t.Errorf("rediscovered: %v", got)
			}
		})
	}
}

func TestDevicePageSearchCapsTheCount(t *testing.T) {
	if testing.Short() {
		t.Skip("registers 1,100 devices")
	}
	st := openTestStore(t)
	devs := make([]*Device, 1100)
	for i := range devs {
		devs[i] = healthy(i + 1)
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	mustDiscover(t, st, testNow)
	ctx := context.Background()
	if err := st.SyncBladeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tab(TabReady) != len(devs) {
		t.Fatalf("%d Ready, want all %d", c.Tab(TabReady), len(devs))
	}
	// Every Ready device matches: under BladeCountCap the count is exact.
	page, err := st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Search: "00000000-0000"})
	if err != nil {
		t.Fatal(err)
	}
	if page.Capped || page.Total != len(devs) || len(page.Rows) != 50 || page.Next == "" {
		t.Errorf("common search: total %d capped %v rows %d, want %d exactly", page.Total, page.Capped, len(page.Rows), len(devs))
	}
	// Past the cap (lowered, so that a few hundred devices pass it) the
	// count stops there and says so, whichever way it counts: from the
	// index lists (four characters or fewer, searchCount), by testing rows
	// (longer searches, or with a filter), or gathered.
	all := allRows(t, st, DeviceQuery{Tab: TabReady})
	st.countCap = 500
	for _, tt := range []struct {
		search string
		status Status
	}{
		{"00000000-0000", ""}, {"AP-L", ""}, {"ap-", ""}, {"T-00", ""}, {"T-1", ""}, {"SN00", ""}, {"N000", ""}, {"0001", ""},
		{"AP-LT-00", ""}, {"AP-L", StatusActive}, {"AP-LT-1", ""}, {"LT-01", ""}, {"N0009", ""}, {"-000000000", ""},
		// Five characters that device IDs may hold: the names' and serials'
		// long grams, and the device IDs tested (searchCount).
		{"-0000", ""}, {"0-400", ""}, {"8000-", ""}, {"00011", ""}, {"0000-", ""},
	} {
		want := 0
		for _, r := range all {
			if r.Status != tt.status && tt.status != "" {
				continue
			}
			if strings.Contains(strings.ToLower(r.DisplayName+"\x00"+r.SerialNumber+"\x00"+r.DeviceID), strings.ToLower(tt.search)) {
				want++
			}
		}
		wantCapped := want > st.countCap
		if wantCapped {
			want = st.countCap
		}
		for _, sort := range []string{"", "serial_number"} {
			page, err := st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Search: tt.search, Status: tt.status, Sort: sort})
			if err != nil || page.Total != want || page.Capped != wantCapped {
				t.Errorf("search %q (status %q, sort %q): total %d capped %v, want %d capped %v (%v)",
					tt.search, tt.status, sort, page.Total, page.Capped, want, wantCapped, err)
			}
		}
	}
	st.countCap = 0
	// A dense name prefix in another order walks that order; paging still
	// visits every row once in order.
	for _, tt := range []struct {
		search string
		how    access
	}{{"AP-LT-1", gatherSearch}, {"AP-LT", walkSort}} {
		q := DeviceQuery{Tab: TabReady, Search: tt.search, Sort: "serial_number", Desc: true, Limit: 200}
		p, err := st.plan(ctx, q)
		if err != nil || p.how != tt.how {
			t.Fatalf("%q by serial: plan %v (%v), want %d", tt.search, p, err, tt.how)
		}
		var matching []DeviceRow
		for _, r := range all {
			if strings.Contains(strings.ToLower(r.DisplayName), strings.ToLower(tt.search)) {
				matching = append(matching, r)
			}
		}
		got, _ := pageThrough(t, st, q)
		if want := wantOrder(matching, q.Sort, q.Desc); !slices.Equal(got, want) {
			t.Errorf("%q by serial: %d rows, want %d in order", tt.search, len(got), len(want))
		}
	}
	// Below the cap the count is exact, with the index or without.
	for _, search := range []string{"AP-LT-000", "AP-LT-0", "AP-LT-1"} { // 9, 999 and 101 names
		want := 0
		for _, r := range allRows(t, st, DeviceQuery{Tab: TabReady}) {
			if strings.Contains(strings.ToLower(r.DisplayName), strings.ToLower(search)) {
				want++
			}
		}
		page, err := st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Search: search})
		if err != nil || page.Total != want || page.Capped {
			t.Errorf("search %q: total %d capped %v, want %d (%v)", search, page.Total, page.Capped, want, err)
		}
	}
}

// TestExportCSVFollowsTheQuery exports with filters, searches and sorts,
// while every device awaits blade_order (the export's walk reads devices)
// and once it is current (the walk reads blade_order alone).
func TestExportCSVFollowsTheQuery(t *testing.T) {
	st, _ := bladeFleet(t, 40)
	holdQueue(t, st)
	ctx := context.Background()
	cols, err := ParseColumns("display_name,device_id,last_checkin")
	if err != nil {
		t.Fatal(err)
	}
	for _, synced := range []bool{false, true} {
		if synced {
			if err := st.SyncBladeIndexes(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []DeviceQuery{
			{Tab: TabReady, Sort: "last_checkin", Desc: true, Limit: 3},
			{Tab: TabNotReady, Sort: "status"},
			{Tab: TabNotReady, Status: StatusReadinessFailed},
			{Tab: TabReady, Ring: RingBroad, Sort: "model"},
			{Tab: TabNotRegistered, Sort: "serial_number", Desc: true},
			{Tab: TabReady, Search: "shared"},
			{Tab: TabReady, Search: "AP"}, // two characters: the walk tests each row
		} {
			n, recs := exportRecords(t, st, q, cols)
			want := wantDeviceIDs(t, st, q)
			if len(want) == 0 || n != len(want) || len(recs) != n+1 {
				t.Fatalf("synced=%v %+v: %d rows, %d records, want %d (the limit is ignored)", synced, q, n, len(recs), len(want))
			}
			for i, id := range want {
				if recs[i+1][1] != id {
					t.Fatalf("synced=%v %+v: row %d is %v, want %s", synced, q, i, recs[i+1], id)
				}
			}
		}
	}
}

// exportRecords exports q with cols and returns the rows ExportCSV counted
// and the CSV records it wrote, the header first.
func exportRecords(t *testing.T, st *Store, q DeviceQuery, cols []Column) (int, [][]string) {
	t.Helper()
	var buf bytes.Buffer
	n, err := st.ExportCSV(context.Background(), &buf, q, cols, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, ok := bytes.CutPrefix(buf.Bytes(), []byte(utf8BOM))
	if !ok {
		t.Fatal("the export does not start with a UTF-8 byte-order mark")
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return n, recs
}

// wantDeviceIDs is the device IDs of every row matching q's tab, filters
// and search, in q's order, as the pure ordering of wantOrder says.
func wantDeviceIDs(t *testing.T, st *Store, q DeviceQuery) []string {
	t.Helper()
	rows := allRows(t, st, DeviceQuery{Tab: q.Tab, Status: q.Status, Ring: q.Ring, Search: q.Search})
	byPK := map[int64]string{}
	for _, r := range rows {
		byPK[r.PK] = r.DeviceID
	}
	var ids []string
	for _, pk := range wantOrder(rows, q.Sort, q.Desc) {
		ids = append(ids, byPK[pk])
	}
	return ids
}

// TestExportCSVManyBatches exports more rows than one batch of the export's
// reader holds: every row once, in order; a failing writer stops it with
// its error.
func TestExportCSVManyBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("registers 1,300 devices")
	}
	st, _ := bladeFleet(t, 1300)
	ctx := context.Background()
	cols, err := ParseColumns("device_id,display_name")
	if err != nil {
		t.Fatal(err)
	}
	q := DeviceQuery{Tab: TabReady, Sort: "serial_number"}
	n, recs := exportRecords(t, st, q, cols)
	want := wantDeviceIDs(t, st, q)
	if n != len(want) || len(recs) != n+1 || n <= exportBatch {
		t.Fatalf("%d rows, %d records; want %d rows, more than a batch (%d)", n, len(recs), len(want), exportBatch)
	}
	for i, id := range want {
		if recs[i+1][0] != id {
			t.Fatalf("row %d is %v, want %s", i, recs[i+1], id)
		}
	}

	broken := errors.New("disk full")
	_, err = st.ExportCSV(ctx, &failingWriter{left: 20_000, err: broken}, q, cols, CSVOptions{})
	if !errors.Is(err, broken) {
		t.Errorf("export to a failing writer: %v, want %v", err, broken)
	}
}

// failingWriter takes left bytes, then fails with err.
type failingWriter struct {
	left int
	err  error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, w.err
	}
	w.left -= len(p)
	return len(p), nil
}

func TestProjectionsReadTheSameFields(t *testing.T) {
	st, devs := bladeFleet(t, 12)
	ctx := context.Background()
	// A device with every optional field empty or NULL, and one with all set.
	mustUpsert(t, st, healthy(3, func(d *Device) {
		d.SerialNumber, d.LastCheckin, d.WUPolicySource, d.InternetConnected = "", time.Time{}, "", SignalUnknown
		d.UnreachableEndpoints = nil
	}), healthy(4, func(d *Device) { d.UnreachableEndpoints = []string{"edge", "teams"} }))
	read := func(proj projection, id string) DeviceRow {
		var r DeviceRow
		sc := newProjectionScanner(proj)
		if err := sc.scan(st.r.QueryRowContext(ctx, "SELECT "+proj.sql+" FROM devices d WHERE d.device_id = ?", id), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, d := range devs[:6] {
		full := read(projectionOf(nil), d.DeviceID)
		narrow := read(projectionOf([]string{"ring", "last_checkin", "serial_number", "unreachable_endpoints"}), d.DeviceID)
		if narrow.Ring != full.Ring || !narrow.LastCheckin.Equal(full.LastCheckin) || narrow.SerialNumber != full.SerialNumber ||
			fmt.Sprint(narrow.UnreachableEndpoints) != fmt.Sprint(full.UnreachableEndpoints) || narrow.PK != full.PK {
			t.Errorf("%s: narrow projection read\n%+v\nfull read\n%+v", d.DeviceID, narrow, full)
		}
		if narrow.DisplayName != "" || narrow.Model != "" {
			t.Errorf("%s: narrow projection filled fields it did not select: %+v", d.DeviceID, narrow)
		}
	}
}

func TestDevicePageColumnsReadsOnlyThose(t *testing.T) {
	st, _ := bladeFleet(t, 20)
	ctx := context.Background()
	full, err := st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Sort: "last_checkin", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	some, err := st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Sort: "last_checkin", Limit: 5, Columns: []string{"model", "ring"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(some.Rows) != len(full.Rows) || some.Next == "" || some.Total != full.Total {
		t.Fatalf("with columns: %d rows, next %q, total %d; without: %d rows, total %d", len(some.Rows), some.Next, some.Total, len(full.Rows), full.Total)
	}
	for i, r := range some.Rows {
		f := full.Rows[i]
		if r.PK != f.PK || r.DeviceID != f.DeviceID || r.DisplayName != f.DisplayName || r.Status != f.Status ||
			r.Model != f.Model || r.Ring != f.Ring {
			t.Errorf("row %d: %+v, want the fields of %+v", i, r, f)
		}
		if r.SerialNumber != "" || !r.LastCheckin.IsZero() || r.OSVersion != "" {
			t.Errorf("row %d: fields not asked for were read: %+v", i, r)
		}
	}
	// The cursor of a partial page continues the same order.
	next, err := st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Sort: "last_checkin", Limit: 5, After: some.Next, Columns: []string{"model"}})
	if err != nil || len(next.Rows) == 0 {
		t.Fatalf("next page: %+v %v", next, err)
	}
	fullNext, _ := st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Sort: "last_checkin", Limit: 5, After: full.Next})
	if next.Rows[0].PK != fullNext.Rows[0].PK {
		t.Errorf("next page starts at %d, want %d", next.Rows[0].PK, fullNext.Rows[0].PK)
	}
	if _, err := st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Columns: []string{"nope"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown column: %v, want ErrInvalid", err)
	}
}

// TestBladeQueueFlagsWhatChanged checks what the triggers of migration 0003
// queue: a change of a sorted value queues the device for blade_order
// alone, a new name or a move on or off the blades for the search index too.
func TestBladeQueueFlagsWhatChanged(t *testing.T) {
	st, _ := searchFleet(t)
	holdQueue(t, st)
	ctx := context.Background()
	queue := func() map[int64]int {
		t.Helper()
		rows, err := st.r.Query(`SELECT id, max(search) FROM blade_queue GROUP BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[int64]int{}
		for rows.Next() {
			var id int64
			var search int
			if err := rows.Scan(&id, &search); err != nil {
				t.Fatal(err)
			}
			out[id] = search
		}
		return out
	}
	if q := queue(); len(q) != 8 {
		t.Fatalf("after discovery: queue %v, want the 8 devices flagged search", q)
	}
	if q := queue(); fmt.Sprint(q) != fmt.Sprint(map[int64]int{1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 8: 1}) {
		t.Fatalf("after discovery: queue %v, want every device flagged search", q)
	}
	if err := st.SyncBladeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if q := queue(); len(q) != 0 {
		t.Fatalf("after sync: queue %v", q)
	}
	pk := func(n int) int64 { return mustDevice(t, st, testID(n)).PK }

	mustUpsert(t, st, healthy(1, func(d *Device) {
		d.DisplayName, d.SerialNumber = "Finance-LT-001", "5CG1234ABC"
		d.LastCheckin = testNow.Add(-2 * time.Hour) // sorted, not searched
	}))
	mustUpsert(t, st, healthy(2, func(d *Device) { d.DisplayName, d.SerialNumber = "finance-lt-002-new", "5CG1234ABD" }))
	if _, err := st.AssignRing(ctx, RingTest, []string{testID(3)}, "tester"); err != nil {
		t.Fatal(err)
	}
	// Moves tab, stays on the blades: the search index keys entries by tab.
	if _, err := st.Deregister(ctx, []string{testID(4)}, "tester"); err != nil {
		t.Fatal(err)
	}
	want := map[int64]int{pk(1): 0, pk(2): 1, pk(3): 0, pk(4): 1}
	if q := queue(); fmt.Sprint(q) != fmt.Sprint(want) {
		t.Errorf("queue %v, want %v", q, want)
	}
	if _, err := st.Restore(ctx, []string{testID(4)}, "tester"); err != nil { // off the blades: searched too
		t.Fatal(err)
	}
	want[pk(4)] = 1
	if q := queue(); fmt.Sprint(q) != fmt.Sprint(want) {
		t.Errorf("after leaving the blades: queue %v, want %v", q, want)
	}
	if err := st.SyncBladeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	var orderRows, ftsRows int
	if err := st.r.QueryRow(`SELECT (SELECT count(*) FROM blade_order), (SELECT count(*) FROM devices_search)`).Scan(&orderRows, &ftsRows); err != nil {
		t.Fatal(err)
	}
	if orderRows != 7 || ftsRows != 7 {
		t.Errorf("after sync: %d blade_order rows and %d search entries, want the 7 devices on the blades", orderRows, ftsRows)
	}

	// A device moving tab keeps one search entry, keyed by its new tab.
	if _, err := st.Deregister(ctx, []string{testID(5)}, "tester"); err != nil {
		t.Fatal(err)
	}
	if err := st.SyncBladeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	var entries, stray int
	err := st.r.QueryRow(`SELECT count(*), count(*) FILTER (WHERE rowid NOT IN (SELECT `+searchRowid("o")+` FROM blade_order o))
		FROM devices_search`).Scan(&entries, &stray)
	if err != nil || entries != 7 || stray != 0 {
		t.Errorf("after a move of tab: %d search entries, %d of them of no device and tab of blade_order (%v); want 7 and 0", entries, stray, err)
	}
}

// TestSearchIndexMigration upgrades a database whose devices are in the
// trigram index of migration 0003 alone: migrations 0005 and 0006 write
// them into devices_search, and searches find them without a sync.
func TestSearchIndexMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"Finance-LT-001", "HR-Desktop"} {
		d := healthy(i+1, func(d *Device) { d.DisplayName = name })
		mustUpsert(t, st, d)
		mustAddMembers(t, st, RegistrationGroupName, d)
	}
	mustDiscover(t, st, testNow)
	if err := st.SyncBladeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	// Back to version 4: the index as migration 0003 made it, filled.
	if _, err := st.w.ExecContext(ctx, `DROP TABLE devices_search;
		CREATE VIRTUAL TABLE devices_fts USING fts5(name_tail, serial_tail, device_id, tokenize = 'trigram', columnsize = 0);
		INSERT INTO devices_fts (rowid, name_tail, serial_tail, device_id)
			SELECT id, substr(display_name, 2), substr(serial_number, 2), device_id FROM devices WHERE status IS NOT NULL;
		ALTER TABLE audit_log DROP COLUMN device_count; -- migration 0008
		DROP INDEX check_results_failing; DROP TABLE device_lists; -- migration 0009
		DROP TABLE ring_schedules; DROP TABLE release_gates; DROP TABLE release_builds; DROP TABLE releases; -- migration 0050
		DROP TRIGGER update_dirty_insert; DROP TRIGGER update_dirty_update; DROP TRIGGER update_dirty_delete; -- migration 0160 (update_status)
		DROP TABLE pauses; DROP TABLE feature_targets; DROP TABLE update_status; DROP TABLE update_summary; DROP TABLE update_snapshots;
		`+undoOverviewMigration+`
		PRAGMA user_version = 4;`); err != nil {
		t.Fatal(err)
	}
	// Undo the later migrations that cannot run twice: 0030's columns,
	// 0031's group object IDs and 0032's signal time.
	undo := []string{`DROP TRIGGER groups_object_id`, `DROP INDEX groups_object_id`, `ALTER TABLE groups DROP COLUMN object_id`,
		`ALTER TABLE devices DROP COLUMN signals_at`}
	for _, c := range []string{"object_id", "physical_ids", "enrollment_profile_name", "device_category", "profile_type",
		"management_type", "management_app_id", "system_labels", "is_rooted", "extension_attributes", "update_alerts"} {
		undo = append(undo, `ALTER TABLE devices DROP COLUMN `+c)
	}
	for _, q := range undo {
		if _, err := st.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var queued int
	if err := st.r.QueryRow(`SELECT count(*) FROM blade_queue`).Scan(&queued); err != nil || queued != 0 {
		t.Fatalf("%d devices queued (%v): the search must not wait for a sync", queued, err)
	}
	for search, want := range map[string][]string{"DESKT": {"HR-Desktop"}, "nce-lt": {"Finance-LT-001"}, "-LT": {"Finance-LT-001"}} {
		if got := searchNames(t, st, search); !slices.Equal(got, want) {
			t.Errorf("search %q after the migration: %q, want %q", search, got, want)
		}
	}
}

// TestSearchLongGramsMigration starts from a search index written before
// long grams and run tokens (migration 0170), where a search of five zeros
// finds only the names that start with it, and checks that the migration
// writes the index again.
func TestSearchLongGramsMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i, spec := range []struct{ name, serial string }{
		{"PC-0000012", "SN00000012"}, {"PC-0000345", "SN00000345"}, {"00000-Kiosk", "K1"}, {"PC-1234", "SN1234"},
	} {
		d := healthy(i+1, func(d *Device) {
			d.DisplayName, d.SerialNumber, d.DeviceID = spec.name, spec.serial, fmt.Sprintf("6f1c2a9e-41b7-4d2e-9a3c-%012x", 0x5a17c3e9b2d1+i)
		})
		mustUpsert(t, st, d)
		mustAddMembers(t, st, RegistrationGroupName, d)
	}
	mustDiscover(t, st, testNow)
	if err := st.SyncBladeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"00000-Kiosk", "PC-0000012", "PC-0000345"}
	if got := searchNames(t, st, "00000"); !slices.Equal(got, want) {
		t.Fatalf("before: %q, want %q", got, want)
	}
	// The entries as the sync wrote them before: 4-byte grams alone.
	rows, err := st.r.QueryContext(ctx, `SELECT `+searchRowid("o")+`, search_grams(substr(d.display_name, 2), substr(d.serial_number, 2), d.device_id)
		FROM blade_order o JOIN devices d ON d.id = o.id`)
	if err != nil {
		t.Fatal(err)
	}
	old := map[int64]string{}
	for rows.Next() {
		var rowid int64
		var grams string
		if err := rows.Scan(&rowid, &grams); err != nil {
			t.Fatal(err)
		}
		var before []string // grams alone, a device ID's like the others'
		for _, tok := range strings.Fields(grams) {
			if tok, _ = strings.CutSuffix(tok, idGramSuffix); len(tok) == 2*gramLen {
				before = append(before, tok)
			}
		}
		old[rowid] = strings.Join(before, " ")
	}
	rows.Close()
	for rowid, grams := range old {
		if _, err := st.w.ExecContext(ctx, `DELETE FROM devices_search WHERE rowid = ?`, rowid); err != nil {
			t.Fatal(err)
		}
		if _, err := st.w.ExecContext(ctx, `INSERT INTO devices_search (rowid, grams) VALUES (?, ?)`, rowid, grams); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.w.ExecContext(ctx, `PRAGMA user_version = 160`); err != nil {
		t.Fatal(err)
	}
	if got := searchNames(t, st, "00000"); !slices.Equal(got, []string{"00000-Kiosk"}) {
		t.Fatalf("without long grams: %q, want the name prefix alone", got)
	}
	st.Close()
	st, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := searchNames(t, st, "00000"); !slices.Equal(got, want) {
		t.Errorf("after the migration: %q, want %q", got, want)
	}
	if got := searchNames(t, st, "n000003"); !slices.Equal(got, []string{"PC-0000345"}) {
		t.Errorf("serial infix after the migration: %q", got)
	}
}

// TestDevicePageLongQueue pages through a tab while more devices than
// gatherMax await blade_order (as after a first discovery): the name order
// walks devices_name, the others merge the queue in; both exact.
func TestDevicePageLongQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("registers 1,100 devices")
	}
	st, _ := bladeFleet(t, 1100)
	holdQueue(t, st)
	ctx := context.Background()
	all := allRows(t, st, DeviceQuery{Tab: TabReady})
	for _, q := range []DeviceQuery{
		{Tab: TabReady, Limit: 90},
		{Tab: TabReady, Limit: 90, Desc: true, Search: "ap-"},
		{Tab: TabReady, Limit: 150, Sort: "model", Desc: true},
		{Tab: TabNotReady, Limit: 60, Sort: "status"},
	} {
		p, err := st.plan(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if p.orderQueued <= gatherMax {
			var n int
			st.r.QueryRow(`SELECT count(*) FROM blade_queue`).Scan(&n)
			t.Fatalf("%+v: only %d queued (%d): the test needs more than %d", q, p.orderQueued, n, gatherMax)
		}
		if src := p.walkSource(); q.Sort == "" && q.Search == "" && src.from != "devices d INDEXED BY devices_name" {
			t.Errorf("%+v: walks %s, want devices_name", q, src.from)
		}
		rows := all
		if q.Tab != TabReady {
			rows = allRows(t, st, DeviceQuery{Tab: q.Tab})
		}
		if q.Search != "" {
			rows = slices.DeleteFunc(slices.Clone(rows), func(r DeviceRow) bool {
				return !strings.HasPrefix(strings.ToLower(r.DisplayName), q.Search)
			})
		}
		got, _ := pageThrough(t, st, q)
		if want := wantOrder(rows, q.Sort, q.Desc); !slices.Equal(got, want) {
			t.Errorf("%+v: %d rows, want %d in order", q, len(got), len(want))
		}
	}
}

func TestDevicePageSyncsInTheBackground(t *testing.T) {
	st, _ := bladeFleet(t, 30)
	ctx := context.Background()
	if _, err := st.DevicePage(ctx, DeviceQuery{Tab: TabReady}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var queued, ordered int
		err := st.r.QueryRow(`SELECT (SELECT count(*) FROM blade_queue), (SELECT count(*) FROM blade_order)`).Scan(&queued, &ordered)
		if err != nil {
			t.Fatal(err)
		}
		if queued == 0 && ordered > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not sync the queue: %d queued, %d in blade_order", queued, ordered)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRingFilterTotalsAreKept: a blade filtered by ring, and by status and
// ring, tells its exact total from the counters the triggers keep, through
// ring changes, readiness changes, deregistration and deletion, and after
// migration 0180 counted a database that had devices already.
func TestRingFilterTotalsAreKept(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var devs []*Device
	for i := range 30 {
		devs = append(devs, healthy(i+1))
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	mustDiscover(t, st, testNow)
	// Counted, the totals stopped at the cap: kept, they are exact past it.
	st.countCap = 3
	check := func(when string) {
		t.Helper()
		for _, tab := range []Tab{TabReady, TabNotReady, TabNotRegistered} {
			for _, ring := range Rings {
				for _, status := range append([]Status{""}, tab.Statuses()...) {
					q := DeviceQuery{Tab: tab, Ring: ring, Status: status, Limit: 5}
					want := len(allRows(t, st, q))
					page, err := st.DevicePage(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					if page.Total != want || page.Capped {
						t.Errorf("%s: %s %s %q total %d (capped %v), want %d", when, tab, ring, status, page.Total, page.Capped, want)
					}
				}
			}
		}
	}
	check("after discovery")
	if _, err := st.AssignRing(ctx, RingTest, []string{devs[0].DeviceID, devs[1].DeviceID}, "admin"); err != nil {
		t.Fatal(err)
	}
	gpo := *devs[2]
	gpo.WUPolicySource = "gpo" // Not ready, in its ring
	mustUpsert(t, st, &gpo)
	mustDiscover(t, st, testNow.Add(time.Hour))
	if _, err := st.Deregister(ctx, []string{devs[3].DeviceID}, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.w.ExecContext(ctx, `DELETE FROM devices WHERE device_id = ?`, devs[4].DeviceID); err != nil {
		t.Fatal(err)
	}
	check("after changes")

	// Back before migration 0180: the migration counts what is there.
	if _, err := st.w.ExecContext(ctx, `DROP TRIGGER devices_count_status_ring_insert; DROP TRIGGER devices_count_status_ring_update;
		DROP TRIGGER devices_count_status_ring_delete; DELETE FROM counters WHERE key LIKE 'statusring:%'; PRAGMA user_version = 170;`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.countCap = 3
	check("after the migration")
}
