package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"patchboard/store/rule"
)

// RuleValue returns the value a membership rule reads for property p, in
// the spelling Entra uses for devices.
func (d *Device) RuleValue(p rule.Property) string {
	switch p {
	case rule.DisplayName:
		return d.DisplayName
	case rule.DeviceID:
		return d.DeviceID
	case rule.ObjectID:
		// A device that no directory sync filled has no object ID of its
		// own; its device ID stands in, so that every device has one and
		// device.objectId -ne null selects them all, as in Entra ID.
		if d.ObjectID == "" {
			return d.DeviceID
		}
		return d.ObjectID
	case rule.DeviceOSType:
		// Entra reports Azure Virtual Desktop multi-session hosts with their
		// own OS type, which is what the usual exclusion rules test.
		if d.DeviceKind == KindAVDMultiSession {
			return "Windows 10 Enterprise for Virtual Desktops"
		}
		return d.OS
	case rule.DeviceOSVersion:
		return d.OSVersion
	case rule.DeviceManufacturer:
		return d.Manufacturer
	case rule.DeviceModel:
		return d.Model
	case rule.DeviceOwnership:
		switch d.Ownership {
		case OwnershipCompany:
			return "Company"
		case OwnershipPersonal:
			return "Personal"
		}
		return "Unknown"
	case rule.DeviceTrustType:
		switch d.JoinType {
		case JoinEntraJoined:
			return "AzureAD"
		case JoinHybridJoined:
			return "ServerAD"
		case JoinEntraRegistered:
			return "Workplace"
		}
		return ""
	case rule.AccountEnabled:
		if d.AccountEnabled {
			return "true"
		}
		return "false"
	case rule.DeviceCategory:
		return d.DeviceCategory
	case rule.DeviceManagementAppID:
		return d.ManagementAppID
	case rule.EnrollmentProfileName:
		return d.EnrollmentProfileName
	case rule.IsRooted:
		return d.IsRooted.String()
	case rule.ManagementType:
		return d.ManagementType
	case rule.ProfileType:
		return d.ProfileType
	case rule.SerialNumber:
		return d.SerialNumber
	}
	if n, ok := extensionAttributeNumber(p); ok {
		return d.ExtensionAttribute(n)
	}
	return ""
}

// RuleValues returns the items of a collection property. A Device does not
// know its groups: device.memberOf reads through a DeviceRow.
func (d *Device) RuleValues(p rule.Property) []string {
	switch p {
	case rule.DevicePhysicalIDs:
		return d.PhysicalIDs
	case rule.SystemLabels:
		return d.SystemLabels
	}
	return nil
}

// extensionAttributeNumber returns N of the property extensionAttributeN.
func extensionAttributeNumber(p rule.Property) (int, bool) {
	digits, ok := strings.CutPrefix(string(p), "extensionAttribute")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil && n >= 1 && n <= NumExtensionAttributes
}

// RuleValue returns the value a rule reads for p; ring, which only the
// blades' advanced filter reads, is the row's registration's.
func (r *DeviceRow) RuleValue(p rule.Property) string {
	if p == rule.Ring {
		return string(r.Ring)
	}
	return r.Device.RuleValue(p)
}

// RuleValues returns the items of a collection property; device.memberOf
// reads the object IDs of the row's assigned groups, loaded with the
// member_of column.
func (r *DeviceRow) RuleValues(p rule.Property) []string {
	if p == rule.MemberOf {
		return r.MemberOf
	}
	return r.Device.RuleValues(p)
}

// groupObjectID is the SQL of group g's object ID: the Entra object ID of a
// mirrored group, else the one Patchboard gave it.
const groupObjectID = `coalesce((SELECT dg.object_id FROM directory_groups dg WHERE dg.group_id = g.id), g.object_id)`

// registrationGroup is the Device Registration group as discovery expands
// it, one batch of devices at a time: its direct device members, then the
// groups nested one level in it, in name order (an assigned group's direct
// device members, a dynamic group's rule). Deeper groups are not followed.
type registrationGroup struct {
	rootID int64
	nested []nestedGroup
	// ignored names groups nested two or more levels deep, whose devices
	// are not candidates.
	ignored []string
	// memberOf says a nested rule reads device.memberOf: the walk then
	// loads each device's group object IDs with it.
	memberOf bool
}

// nestedGroup is a group nested in the registration group; rule is nil for
// an assigned group.
type nestedGroup struct {
	id   int64
	name string
	rule *rule.Rule
}

// loadRegistrationGroup reads the registration group's shape (not its
// members).
func loadRegistrationGroup(ctx context.Context, q queryer) (registrationGroup, error) {
	var g registrationGroup
	rows, err := q.QueryContext(ctx, `SELECT id FROM groups WHERE builtin = 1`)
	if err != nil {
		return g, fmt.Errorf("registration group: %w", err)
	}
	found := rows.Next()
	if found {
		err = rows.Scan(&g.rootID)
	}
	rows.Close()
	if err == nil && !found {
		err = cmp.Or(rows.Err(), sql.ErrNoRows)
	}
	if err != nil {
		return g, fmt.Errorf("registration group: %w", err)
	}
	rows, err = q.QueryContext(ctx, `
		SELECT g.id, g.name, g.kind, g.rule FROM group_members m JOIN groups g ON g.id = m.member_group_id
		WHERE m.group_id = ? ORDER BY g.name COLLATE NOCASE`, g.rootID)
	if err != nil {
		return g, fmt.Errorf("nested groups: %w", err)
	}
	var nested []Group
	for rows.Next() {
		var n Group
		if err := rows.Scan(&n.ID, &n.Name, &n.Kind, &n.Rule); err != nil {
			rows.Close()
			return g, err
		}
		nested = append(nested, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return g, err
	}
	for _, n := range nested {
		switch n.Kind {
		case GroupAssigned:
			g.nested = append(g.nested, nestedGroup{id: n.ID, name: n.Name})
			deeper, err := memberGroupNames(ctx, q, n.ID)
			if err != nil {
				return g, err
			}
			g.ignored = append(g.ignored, deeper...)
		case GroupDynamic:
			r, err := rule.Parse(n.Rule)
			if err != nil {
				// Rules are validated when saved; a rule that no longer
				// parses (a stricter parser) matches nothing rather than
				// failing every discovery.
				continue
			}
			g.nested = append(g.nested, nestedGroup{id: n.ID, name: n.Name, rule: r})
			g.memberOf = g.memberOf || slices.Contains(r.Properties(), rule.MemberOf)
		}
	}
	sort.Strings(g.ignored)
	return g, nil
}

// via sets via[i] to the group through which devs[i] is a candidate: the
// registration group for a direct member, else the first (by name) group
// nested one level that holds it; "" when none does. devs is one batch of
// the walk in PK order, so each assigned group's members are read for the
// batch's PK range only.
func (g *registrationGroup) via(ctx context.Context, q queryer, devs []*DeviceRow, via []string) error {
	if len(devs) == 0 {
		return nil
	}
	at := make(map[int64]int, len(devs))
	for i, d := range devs {
		at[d.PK] = i
		via[i] = ""
	}
	lo, hi := devs[0].PK, devs[len(devs)-1].PK
	assigned := func(id int64, name string) error {
		rows, err := q.QueryContext(ctx, `SELECT device_pk FROM group_members WHERE group_id = ? AND device_pk BETWEEN ? AND ?`, id, lo, hi)
		if err != nil {
			return fmt.Errorf("members of %s: %w", name, err)
		}
		defer rows.Close()
		for rows.Next() {
			var pk int64
			if err := rows.Scan(&pk); err != nil {
				return err
			}
			if i, ok := at[pk]; ok && via[i] == "" {
				via[i] = name
			}
		}
		return rows.Err()
	}
	if err := assigned(g.rootID, RegistrationGroupName); err != nil {
		return err
	}
	for _, n := range g.nested {
		if n.rule == nil {
			if err := assigned(n.id, n.name); err != nil {
				return err
			}
			continue
		}
		for i, d := range devs {
			if via[i] == "" && n.rule.Match(d) {
				via[i] = n.name
			}
		}
	}
	return nil
}

func memberGroupNames(ctx context.Context, q queryer, groupID int64) ([]string, error) {
	return queryNames(ctx, q, `
		SELECT g.name FROM group_members m JOIN groups g ON g.id = m.member_group_id WHERE m.group_id = ?`, groupID)
}

// queryNames reads the one text column of a query's rows.
func queryNames(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}
