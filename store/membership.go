package store

import (
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
// know its groups: device.memberOf reads through a DeviceRow or memberView.
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

// memberView is a device with the object IDs of the assigned groups that
// hold it, for rules that read device.memberOf.
type memberView struct {
	*Device
	memberOf []string
}

func (v memberView) RuleValues(p rule.Property) []string {
	if p == rule.MemberOf {
		return v.memberOf
	}
	return v.Device.RuleValues(p)
}

// groupObjectID is the SQL of group g's object ID: the Entra object ID of a
// mirrored group, else the one Patchboard gave it.
const groupObjectID = `coalesce((SELECT dg.object_id FROM directory_groups dg WHERE dg.group_id = g.id), g.object_id)`

// groupObjectIDsByDevice maps each device that is a direct member of an
// assigned group to those groups' object IDs.
func groupObjectIDsByDevice(ctx context.Context, q queryer) (map[int64][]string, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT m.device_pk, `+groupObjectID+` FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.device_pk IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("group memberships: %w", err)
	}
	defer rows.Close()
	byDevice := make(map[int64][]string)
	for rows.Next() {
		var pk int64
		var id string
		if err := rows.Scan(&pk, &id); err != nil {
			return nil, err
		}
		byDevice[pk] = append(byDevice[pk], id)
	}
	return byDevice, rows.Err()
}

// candidates is the expansion of the Device Registration group.
type candidates struct {
	// via maps each candidate device to the group it was found through: the
	// registration group for direct members, else the first (by name) group
	// nested one level that holds it.
	via map[int64]string
	// ignored names groups nested two or more levels deep, whose devices are
	// not candidates.
	ignored []string
}

// expandRegistrationGroup finds the candidates: direct device members of the
// registration group, and members of groups nested exactly one level inside
// it (assigned members, or the devices a dynamic group's rule matches).
// Deeper nesting is reported, not followed.
func expandRegistrationGroup(ctx context.Context, tx *sql.Tx, devices []*Device) (candidates, error) {
	c := candidates{via: make(map[int64]string)}
	var rootID int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM groups WHERE builtin = 1`).Scan(&rootID); err != nil {
		return c, fmt.Errorf("registration group: %w", err)
	}
	if err := addAssignedMembers(ctx, tx, rootID, RegistrationGroupName, c.via); err != nil {
		return c, err
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT g.id, g.name, g.kind, g.rule FROM group_members m JOIN groups g ON g.id = m.member_group_id
		WHERE m.group_id = ? ORDER BY g.name COLLATE NOCASE`, rootID)
	if err != nil {
		return c, fmt.Errorf("nested groups: %w", err)
	}
	var nested []Group
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.ID, &g.Name, &g.Kind, &g.Rule); err != nil {
			rows.Close()
			return c, err
		}
		nested = append(nested, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, err
	}
	for _, g := range nested {
		switch g.Kind {
		case GroupAssigned:
			if err := addAssignedMembers(ctx, tx, g.ID, g.Name, c.via); err != nil {
				return c, err
			}
			deeper, err := memberGroupNames(ctx, tx, g.ID)
			if err != nil {
				return c, err
			}
			c.ignored = append(c.ignored, deeper...)
		case GroupDynamic:
			r, err := rule.Parse(g.Rule)
			if err != nil {
				// Rules are validated when saved; a rule that no longer
				// parses (a stricter parser) matches nothing rather than
				// failing every discovery.
				continue
			}
			var memberOf map[int64][]string
			if slices.Contains(r.Properties(), rule.MemberOf) {
				if memberOf, err = groupObjectIDsByDevice(ctx, tx); err != nil {
					return c, err
				}
			}
			for _, d := range devices {
				if _, ok := c.via[d.PK]; !ok && r.Match(memberView{d, memberOf[d.PK]}) {
					c.via[d.PK] = g.Name
				}
			}
		}
	}
	sort.Strings(c.ignored)
	return c, nil
}

func addAssignedMembers(ctx context.Context, tx *sql.Tx, groupID int64, name string, via map[int64]string) error {
	rows, err := tx.QueryContext(ctx, `SELECT device_pk FROM group_members WHERE group_id = ? AND device_pk IS NOT NULL`, groupID)
	if err != nil {
		return fmt.Errorf("members of %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var pk int64
		if err := rows.Scan(&pk); err != nil {
			return err
		}
		if _, ok := via[pk]; !ok {
			via[pk] = name
		}
	}
	return rows.Err()
}

func memberGroupNames(ctx context.Context, tx *sql.Tx, groupID int64) ([]string, error) {
	return queryNames(ctx, tx, `
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
