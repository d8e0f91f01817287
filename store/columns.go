package store

import (
	"fmt"
	"strings"
	"time"
)

// Column is one column of the blades and of CSV exports: its snake_case key,
// its UI label, how to read it from a row, and how SQL sorts by it.
type Column struct {
	Key   string
	Label string
	// Value is the exported text of the cell.
	Value func(r *DeviceRow) string
	// Sortable says whether the blades (and exports) can order rows by the
	// column. Only columns with an index of their order can be paged at the
	// same cost however deep the page; the UI offers sorting on these only.
	Sortable bool
	// sort is the SQL expression to order by; it never yields NULL, so that
	// keyset cursors can compare it.
	sort string
	// index is the blade_order index that walks a sortable column's order
	// in a tab, and orderColumn its blade_order column, which holds sort's
	// value of each device on the blades (migration 0003).
	index, orderColumn string
	// needs names the stored columns Value reads.
	needs []string
}

// sortOrders are the sortable columns: their blade_order index and column.
// The status column is walked as the tab's statuses one after another (at
// most two), each in blade_order_status_name in name order: rows of one
// status are ordered by name.
var sortOrders = map[string]struct{ index, order string }{
	"display_name":  {"blade_order_name", "display_name"},
	"status":        {"blade_order_status_name", "status"},
	"device_id":     {"blade_order_device_id", "device_id"},
	"serial_number": {"blade_order_serial", "serial_number"},
	"manufacturer":  {"blade_order_manufacturer", "manufacturer"},
	"model":         {"blade_order_model", "model"},
	"os_version":    {"blade_order_os_build", "os_build"},
	"last_checkin":  {"blade_order_last_checkin", "last_checkin"},
	"ring":          {"blade_order_ring", "ring"},
	"registered_on": {"blade_order_registered_at", "registered_at"},
}

// inventoryColumn makes the column of an inventory field.
func inventoryColumn(key, sortExpr string) Column {
	f, ok := InventoryFieldByKey(key)
	if !ok {
		panic("store: unknown inventory field " + key) // a typo in the catalogue below
	}
	return Column{Key: key, Label: f.Label, Value: func(r *DeviceRow) string { return f.Value(&r.Device) },
		sort: sortExpr, needs: []string{key}}
}

func timeCell(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// columnCatalogue lists every column, inventory fields first in SPEC §1
// order, then the registration columns. Built on first use.
func columnCatalogue() []Column {
	cols := []Column{
		inventoryColumn("device_id", "d.device_id"),
		inventoryColumn("display_name", "d.display_name COLLATE NOCASE"),
		inventoryColumn("serial_number", "d.serial_number COLLATE NOCASE"),
		inventoryColumn("manufacturer", "d.manufacturer COLLATE NOCASE"),
		inventoryColumn("model", "d.model COLLATE NOCASE"),
		inventoryColumn("os", "d.os COLLATE NOCASE"),
		inventoryColumn("os_version", "d.os_build"),
		inventoryColumn("edition", "d.edition COLLATE NOCASE"),
		inventoryColumn("architecture", "d.architecture"),
		inventoryColumn("join_type", "d.join_type"),
		inventoryColumn("ownership", "d.ownership"),
		inventoryColumn("management", "d.management"),
		inventoryColumn("workload_windows_update", "d.workload_windows_update"),
		inventoryColumn("workload_device_configuration", "d.workload_device_configuration"),
		inventoryColumn("workload_office_c2r", "d.workload_office_c2r"),
		inventoryColumn("last_checkin", "coalesce(d.last_checkin, 0)"),
		inventoryColumn("device_kind", "d.device_kind"),
		inventoryColumn("account_enabled", "d.account_enabled"),
		inventoryColumn("wu_policy_source", "d.wu_policy_source"),
		inventoryColumn("office_policy_source", "d.office_policy_source"),
		inventoryColumn("unreachable_endpoints", "d.unreachable_endpoints"),
		inventoryColumn("internet_connected", "coalesce(d.internet_connected, -1)"),
		inventoryColumn("object_id", "d.object_id"),
		inventoryColumn("physical_ids", "d.physical_ids"),
		inventoryColumn("enrollment_profile_name", "d.enrollment_profile_name COLLATE NOCASE"),
		inventoryColumn("device_category", "d.device_category COLLATE NOCASE"),
		inventoryColumn("profile_type", "d.profile_type COLLATE NOCASE"),
		inventoryColumn("management_type", "d.management_type COLLATE NOCASE"),
		inventoryColumn("management_app_id", "d.management_app_id"),
		inventoryColumn("system_labels", "d.system_labels"),
		inventoryColumn("is_rooted", "coalesce(d.is_rooted, -1)"),
	}
	// The extension attributes share one stored column (migration 0030).
	for n := 1; n <= NumExtensionAttributes; n++ {
		c := inventoryColumn(fmt.Sprintf("extension_attribute_%d", n), "d.extension_attributes")
		c.needs = []string{"extension_attributes"}
		cols = append(cols, c)
	}
	cols = append(cols,
		inventoryColumn("update_alerts", "d.update_alerts"),
		Column{Key: "status", Label: "Readiness status", needs: []string{"status"}, sort: "d.status",
			Value: func(r *DeviceRow) string { return string(r.Status) }},
		Column{Key: "reasons", Label: "Reasons", needs: []string{"reasons"}, sort: "d.reasons",
			Value: func(r *DeviceRow) string {
				ids := make([]string, len(r.Reasons))
				for i, c := range r.Reasons {
					ids[i] = string(c)
				}
				return strings.Join(ids, ";")
			}},
		Column{Key: "ring", Label: "Ring", needs: []string{"ring"}, sort: "coalesce(d.ring, '')",
			Value: func(r *DeviceRow) string { return string(r.Ring) }},
		Column{Key: "ring_assigned_by", Label: "Ring assigned by", needs: []string{"ring_by", "ring_actor"}, sort: "coalesce(d.ring_by, '')", // the portal shows the actor with it
			Value: func(r *DeviceRow) string { return r.RingBy }},
		Column{Key: "ring_assigned_by_user", Label: "Ring assigned by user", needs: []string{"ring_actor"}, sort: "coalesce(d.ring_actor, '')",
			Value: func(r *DeviceRow) string { return r.RingActor }},
		Column{Key: "ring_assigned_at", Label: "Ring assigned on", needs: []string{"ring_at"}, sort: "coalesce(d.ring_at, 0)",
			Value: func(r *DeviceRow) string { return timeCell(r.RingAt) }},
		Column{Key: "registered_on", Label: "Registered on", needs: []string{"registered_at"}, sort: "coalesce(d.registered_at, 0)",
			Value: func(r *DeviceRow) string { return timeCell(r.RegisteredAt) }},
		Column{Key: "discovered_via", Label: "Discovered via", needs: []string{"discovered_via"}, sort: "coalesce(d.discovered_via, '')",
			Value: func(r *DeviceRow) string { return r.DiscoveredVia }},
	)
	for i := range cols {
		if o, ok := sortOrders[cols[i].Key]; ok {
			cols[i].Sortable, cols[i].index, cols[i].orderColumn = true, o.index, o.order
		}
	}
	return cols
}

// Columns lists every column in catalogue order.
var Columns = columnCatalogue()

// ColumnByKey finds a column.
func ColumnByKey(key string) (Column, bool) {
	for _, c := range Columns {
		if c.Key == key {
			return c, true
		}
	}
	return Column{}, false
}

// ExportDefaultColumns are the columns an export without a column choice writes.
var ExportDefaultColumns = []string{"device_id", "display_name", "serial_number", "manufacturer", "model",
	"os_version", "status", "reasons", "ring", "ring_assigned_by", "last_checkin", "registered_on", "discovered_via"}

// ParseColumns turns "all" or a comma-separated list of keys into columns;
// unknown keys are rejected naming them.
func ParseColumns(spec string) ([]Column, error) {
	spec = strings.TrimSpace(spec)
	if strings.EqualFold(spec, "all") {
		return Columns, nil
	}
	var keys []string
	for _, k := range strings.Split(spec, ",") {
		if k = strings.ToLower(strings.TrimSpace(k)); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, invalidf("no columns were named; use all or a comma-separated list of column keys")
	}
	return columnsByKeys(keys)
}

func columnsByKeys(keys []string) ([]Column, error) {
	out := make([]Column, 0, len(keys))
	seen := map[string]bool{}
	for _, k := range keys {
		c, ok := ColumnByKey(k)
		if !ok {
			return nil, invalidf("unknown column %q; known columns: %s", k, strings.Join(columnKeys(), ", "))
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// SortableColumns lists the keys of the columns the blades can sort by, in
// catalogue order.
func SortableColumns() []string {
	var keys []string
	for _, c := range Columns {
		if c.Sortable {
			keys = append(keys, c.Key)
		}
	}
	return keys
}

func columnKeys() []string {
	keys := make([]string, len(Columns))
	for i, c := range Columns {
		keys[i] = c.Key
	}
	return keys
}

// CSVSafe neutralises a cell that a spreadsheet would run as a formula: one
// starting with =, +, -, @, tab or carriage return gets a leading apostrophe.
// CSVUnguard takes it off again when the file comes back as an import.
func CSVSafe(s string) string {
	if s != "" && formulaStart(s[0]) {
		return "'" + s
	}
	return s
}

// CSVUnguard undoes CSVSafe: an apostrophe followed by a character that
// starts a formula is the guard of an export, not data.
func CSVUnguard(s string) string {
	if len(s) >= 2 && s[0] == '\'' && formulaStart(s[1]) {
		return s[1:]
	}
	return s
}

func formulaStart(b byte) bool {
	switch b {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}
