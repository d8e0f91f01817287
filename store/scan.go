package store

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// storedCol is one column of the devices table as the Go side reads it: the
// SQL to select, whether it is scanned as text or as a nullable integer, and
// where its value goes in a DeviceRow.
type storedCol struct {
	name string
	text bool
	set  func(sc *deviceScanner, r *DeviceRow, c *cell)
	// expr, when set, is the SQL computing a column the devices table
	// does not hold; such a column is read only when named.
	expr string
}

// cell is the scan destination of one column.
type cell struct {
	s sql.NullString
	i sql.NullInt64
}

func textCol(name string, field func(r *DeviceRow) *string, shared bool) storedCol {
	return storedCol{name: name, text: true, set: func(sc *deviceScanner, r *DeviceRow, c *cell) {
		v := c.s.String
		if shared {
			v = sc.in(v)
		}
		*field(r) = v
	}}
}

// listCol is a ;-joined list column; its items are shared like enums
// (labels and alert codes repeat across the fleet).
func listCol(name string, field func(r *DeviceRow) *[]string) storedCol {
	return storedCol{name: name, text: true, set: func(sc *deviceScanner, r *DeviceRow, c *cell) {
		list := (*field(r))[:0]
		for _, e := range splitList(c.s.String) {
			list = append(list, sc.in(e))
		}
		if len(list) == 0 {
			list = nil
		}
		*field(r) = list
	}}
}

// storedCols lists every devices column a DeviceRow holds. Queries select
// only the columns they need (see projection): with modernc every column
// read costs several locked C calls, so an export of three columns should
// not pay for thirty.
var storedCols = []storedCol{
	textCol("device_id", func(r *DeviceRow) *string { return &r.DeviceID }, false),
	textCol("display_name", func(r *DeviceRow) *string { return &r.DisplayName }, false),
	textCol("serial_number", func(r *DeviceRow) *string { return &r.SerialNumber }, false),
	textCol("manufacturer", func(r *DeviceRow) *string { return &r.Manufacturer }, true),
	textCol("model", func(r *DeviceRow) *string { return &r.Model }, true),
	textCol("os", func(r *DeviceRow) *string { return &r.OS }, true),
	textCol("os_version", func(r *DeviceRow) *string { return &r.OSVersion }, true),
	textCol("edition", func(r *DeviceRow) *string { return &r.Edition }, true),
	textCol("architecture", func(r *DeviceRow) *string { return &r.Architecture }, true),
	textCol("join_type", func(r *DeviceRow) *string { return &r.JoinType }, true),
	textCol("ownership", func(r *DeviceRow) *string { return &r.Ownership }, true),
	textCol("management", func(r *DeviceRow) *string { return &r.Management }, true),
	textCol("workload_windows_update", func(r *DeviceRow) *string { return &r.WorkloadWindowsUpdate }, true),
	textCol("workload_device_configuration", func(r *DeviceRow) *string { return &r.WorkloadDeviceConfiguration }, true),
	textCol("workload_office_c2r", func(r *DeviceRow) *string { return &r.WorkloadOfficeC2R }, true),
	{name: "last_checkin", set: func(_ *deviceScanner, r *DeviceRow, c *cell) { r.LastCheckin = fromUnix(c.i) }},
	textCol("device_kind", func(r *DeviceRow) *string { return &r.DeviceKind }, true),
	{name: "account_enabled", set: func(_ *deviceScanner, r *DeviceRow, c *cell) { r.AccountEnabled = c.i.Int64 != 0 }},
	textCol("wu_policy_source", func(r *DeviceRow) *string { return &r.WUPolicySource }, true),
	textCol("office_policy_source", func(r *DeviceRow) *string { return &r.OfficePolicySource }, true),
	listCol("unreachable_endpoints", func(r *DeviceRow) *[]string { return &r.UnreachableEndpoints }),
	{name: "internet_connected", set: func(_ *deviceScanner, r *DeviceRow, c *cell) { r.InternetConnected = signalFromNull(c.i) }},
	textCol("object_id", func(r *DeviceRow) *string { return &r.ObjectID }, false),
	listCol("physical_ids", func(r *DeviceRow) *[]string { return &r.PhysicalIDs }),
	textCol("enrollment_profile_name", func(r *DeviceRow) *string { return &r.EnrollmentProfileName }, true),
	textCol("device_category", func(r *DeviceRow) *string { return &r.DeviceCategory }, true),
	textCol("profile_type", func(r *DeviceRow) *string { return &r.ProfileType }, true),
	textCol("management_type", func(r *DeviceRow) *string { return &r.ManagementType }, true),
	textCol("management_app_id", func(r *DeviceRow) *string { return &r.ManagementAppID }, true),
	listCol("system_labels", func(r *DeviceRow) *[]string { return &r.SystemLabels }),
	{name: "is_rooted", set: func(_ *deviceScanner, r *DeviceRow, c *cell) { r.IsRooted = signalFromNull(c.i) }},
	{name: "extension_attributes", text: true, set: func(_ *deviceScanner, r *DeviceRow, c *cell) {
		r.ExtensionAttributes = unpackExtensionAttributes(c.s.String)
	}},
	listCol("update_alerts", func(r *DeviceRow) *[]string { return &r.UpdateAlerts }),
	{name: "status", text: true, set: func(_ *deviceScanner, r *DeviceRow, c *cell) { r.Status = Status(c.s.String) }},
	{name: "reasons", text: true, set: func(sc *deviceScanner, r *DeviceRow, c *cell) {
		r.Reasons = r.Reasons[:0]
		for _, id := range splitList(c.s.String) {
			r.Reasons = append(r.Reasons, CheckID(sc.in(id)))
		}
	}},
	{name: "ring", text: true, set: func(_ *deviceScanner, r *DeviceRow, c *cell) { r.Ring = Ring(c.s.String) }},
	textCol("ring_by", func(r *DeviceRow) *string { return &r.RingBy }, true),
	textCol("ring_actor", func(r *DeviceRow) *string { return &r.RingActor }, true),
	{name: "ring_at", set: func(_ *deviceScanner, r *DeviceRow, c *cell) { r.RingAt = fromUnix(c.i) }},
	{name: "registered_at", set: func(_ *deviceScanner, r *DeviceRow, c *cell) { r.RegisteredAt = fromUnix(c.i) }},
	{name: "evaluated_at", set: func(_ *deviceScanner, r *DeviceRow, c *cell) { r.EvaluatedAt = fromUnix(c.i) }},
	textCol("discovered_via", func(r *DeviceRow) *string { return &r.DiscoveredVia }, true),
	{name: "member_of", text: true, set: func(_ *deviceScanner, r *DeviceRow, c *cell) { r.MemberOf = splitList(c.s.String) },
		expr: `(SELECT group_concat(` + groupObjectID + `, ';') FROM group_members m JOIN groups g ON g.id = m.group_id
			WHERE m.device_pk = d.id)`},
}

// deviceCols selects every stored column, in storedCols order.
var deviceCols = projectionOf(nil).sql

// projection is the subset of storedCols one query reads.
//
// The columns travel packed into one text value, joined by the unit
// separator: modernc takes a mutex several times for every column it hands
// over, which made a thirty-column row cost more to fetch than to find.
// Stored text never holds control characters (inventory and group names
// are validated), so the separator cannot occur inside a value.
type projection struct {
	cols []storedCol
	sql  string // two result columns: "d.id, <packed>"
}

const unitSep = "\x1f"

// projectionOf selects the named columns (all when names is nil).
func projectionOf(names []string) projection {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var p projection
	var parts []string
	for _, c := range storedCols {
		if c.name == "id" || (names != nil && !want[c.name]) || (names == nil && c.expr != "") {
			continue
		}
		p.cols = append(p.cols, c)
		// NULL travels as the empty string; for integers that is "not set".
		if c.expr != "" {
			parts = append(parts, "ifnull("+c.expr+", '')")
		} else {
			parts = append(parts, "ifnull(d."+c.name+", '')")
		}
	}
	if len(parts) == 0 {
		parts = []string{"''"}
	}
	// One concat_ws, not a chain of ||: SQLite copies the growing text at
	// every ||, which made packing thirty columns cost twice the rest of a
	// page. Every part is wrapped in ifnull, so concat_ws skips no NULL.
	p.sql = "d.id, concat_ws(char(31), " + strings.Join(parts, ", ") + ")"
	return p
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// deviceScanner scans device rows of one projection, sharing one copy of
// each repeated enum string (OS, edition, model, …) so that holding a
// million rows in memory costs the distinct values once.
type deviceScanner struct {
	proj   projection
	cells  []cell
	pk     int64
	packed string
	dest   []any
	intern map[string]string
}

// newDeviceScanner scans every field, sharing repeated strings, for rows
// that are kept (a registration's candidates and their peers).
func newDeviceScanner() *deviceScanner {
	sc := newProjectionScanner(projectionOf(nil))
	sc.intern = make(map[string]string)
	return sc
}

// newProjectionScanner scans a projection's fields. Its rows are not kept
// (a page, an export), so it shares no strings: the lookups would cost more
// than the strings they save.
func newProjectionScanner(p projection) *deviceScanner {
	sc := &deviceScanner{proj: p, cells: make([]cell, len(p.cols))}
	sc.dest = []any{&sc.pk, &sc.packed}
	return sc
}

func (sc *deviceScanner) in(s string) string {
	if sc.intern == nil { // a scanner whose rows are not kept
		return s
	}
	if v, ok := sc.intern[s]; ok {
		return v
	}
	if len(sc.intern) < 100_000 {
		sc.intern[s] = s
	}
	return s
}

// scan reads one row of the scanner's projection into r, then any extra
// selected columns into extra.
func (sc *deviceScanner) scan(rs rowScanner, r *DeviceRow, extra ...any) error {
	dest := sc.dest
	if len(extra) > 0 {
		dest = append(dest[:len(dest):len(dest)], extra...)
	}
	if err := rs.Scan(dest...); err != nil {
		return err
	}
	return sc.unpack(sc.pk, sc.packed, r)
}

// unpack reads one packed row of the scanner's projection into r.
func (sc *deviceScanner) unpack(pk int64, packed string, r *DeviceRow) error {
	r.PK = pk
	rest := packed
	for i, c := range sc.proj.cols {
		v, tail, found := strings.Cut(rest, unitSep)
		if !found && i < len(sc.proj.cols)-1 {
			return fmt.Errorf("device %d: column %s: packed row has too few values", pk, c.name)
		}
		rest = tail
		cl := &sc.cells[i]
		if c.text {
			cl.s = sql.NullString{String: v, Valid: v != ""}
		} else if v == "" {
			cl.i = sql.NullInt64{}
		} else {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("device %d: column %s: %w", pk, c.name, err)
			}
			cl.i = sql.NullInt64{Int64: n, Valid: true}
		}
		c.set(sc, r, cl)
	}
	return nil
}
