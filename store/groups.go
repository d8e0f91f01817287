package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// RegistrationGroupName is the name of the built-in Device Registration group.
const RegistrationGroupName = "Device Registration"

// GroupKind says how a group's members are decided.
type GroupKind string

// Group kinds.
const (
	GroupAssigned GroupKind = "assigned" // explicit members: devices and groups
	GroupDynamic  GroupKind = "dynamic"  // a membership rule over device fields
)

// Group is a device group.
type Group struct {
	ID      int64
	Name    string
	Kind    GroupKind
	Rule    string // the membership rule of a dynamic group
	Builtin bool   // the Device Registration group
	// Source is "local", or "entra" for a group mirrored from Microsoft
	// Entra ID (read-only here); ObjectID is then its Entra object ID, and
	// for a local group the GUID Patchboard gave it (migration 0031). Rules
	// name groups by it in device.memberOf.
	Source    string
	ObjectID  string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Devices counts the assigned device members (not those a rule matches).
	Devices int
	// Groups counts the nested member groups.
	Groups int
	// Parents names the groups this one is nested in.
	Parents []string
	// Depth is how many levels below the Device Registration group this group
	// sits: 0 for the group itself, 1 for a group nested in it (followed by
	// discovery), 2 or more for deeper nesting (not followed); -1 when it is
	// not under the registration group at all.
	Depth int
}

// Discovered reports whether discovery finds this group's devices.
func (g Group) Discovered() bool { return g.Depth == 0 || g.Depth == 1 }

// FeedsRegistration reports whether changing this group changes what
// discovery finds: the Device Registration group itself and the groups
// nested in it (one level, the depth discovery follows). Changing such a
// group needs the right to change the registration group (SPEC §7).
func (g Group) FeedsRegistration() bool { return g.Builtin || g.Depth == 1 }

// maxGroupName bounds group names.
const maxGroupName = 256

// CreateGroup creates an assigned group, or a dynamic one when ruleSrc is not
// empty. The rule must parse.
func (s *Store) CreateGroup(ctx context.Context, name, ruleSrc, actor string) (Group, error) {
	name = strings.TrimSpace(name)
	if err := validateGroupName(name); err != nil {
		return Group{}, fmt.Errorf("create group: %w", err)
	}
	kind := GroupAssigned
	if strings.TrimSpace(ruleSrc) != "" {
		// The rule is kept as the admin wrote it; it must parse.
		if _, err := parseRule(ruleSrc); err != nil {
			return Group{}, fmt.Errorf("create group: %w", err)
		}
		kind, ruleSrc = GroupDynamic, strings.TrimSpace(ruleSrc)
	}
	now := time.Now().Unix()
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO groups (name, kind, rule, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			name, kind, ruleSrc, now, now)
		if isUniqueViolation(err) {
			return conflictf("a group named %q already exists", name)
		}
		if err != nil {
			return err
		}
		detail := string(kind)
		if kind == GroupDynamic {
			detail += ": " + ruleSrc
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionGroupCreate, Target: name,
			Outcome: OutcomeSuccess, Detail: detail}, nil)
	})
	if err != nil {
		return Group{}, fmt.Errorf("create group: %w", err)
	}
	return s.Group(ctx, name)
}

func validateGroupName(name string) error {
	if name == "" {
		return invalidf("group name is empty")
	}
	if err := checkText(name, maxGroupName); err != nil {
		return invalidf("group name %v", err)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// Group returns the group with this name (case-insensitive).
func (s *Store) Group(ctx context.Context, name string) (Group, error) {
	groups, err := s.Groups(ctx)
	if err != nil {
		return Group{}, err
	}
	for _, g := range groups {
		if strings.EqualFold(g.Name, strings.TrimSpace(name)) {
			return g, nil
		}
	}
	return Group{}, notFoundf("group %q was not found", name)
}

// Groups lists every group by name, with member counts, parents and depth
// below the Device Registration group.
func (s *Store) Groups(ctx context.Context) ([]Group, error) {
	var groups []Group
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT g.id, g.name, g.kind, g.rule, g.builtin, `+groupSourceCols+`, g.created_at, g.updated_at,
				(SELECT count(*) FROM group_members m WHERE m.group_id = g.id AND m.device_pk IS NOT NULL),
				(SELECT count(*) FROM group_members m WHERE m.group_id = g.id AND m.member_group_id IS NOT NULL)
			FROM groups g `+groupSourceJoin+` ORDER BY g.builtin DESC, g.name COLLATE NOCASE`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g Group
			var created, updated int64
			if err := rows.Scan(&g.ID, &g.Name, &g.Kind, &g.Rule, &g.Builtin, &g.Source, &g.ObjectID, &created, &updated, &g.Devices, &g.Groups); err != nil {
				return err
			}
			g.CreatedAt, g.UpdatedAt = time.Unix(created, 0).UTC(), time.Unix(updated, 0).UTC()
			groups = append(groups, g)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		edges, err := groupEdges(ctx, tx)
		if err != nil {
			return err
		}
		setNesting(groups, edges)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("groups: %w", err)
	}
	return groups, nil
}

// groupEdge says parent has child as a member.
type groupEdge struct{ parent, child int64 }

func groupEdges(ctx context.Context, tx *sql.Tx) ([]groupEdge, error) {
	rows, err := tx.QueryContext(ctx, `SELECT group_id, member_group_id FROM group_members WHERE member_group_id IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var edges []groupEdge
	for rows.Next() {
		var e groupEdge
		if err := rows.Scan(&e.parent, &e.child); err != nil {
			return nil, err
		}
		edges = append(edges, e)
	}
	return edges, rows.Err()
}

// setNesting fills Parents and Depth by a breadth-first walk down from the
// registration group.
func setNesting(groups []Group, edges []groupEdge) {
	byID := make(map[int64]*Group, len(groups))
	var root *Group
	for i := range groups {
		g := &groups[i]
		g.Depth = -1
		byID[g.ID] = g
		if g.Builtin {
			root = g
		}
	}
	children := make(map[int64][]int64)
	for _, e := range edges {
		children[e.parent] = append(children[e.parent], e.child)
		if p, c := byID[e.parent], byID[e.child]; p != nil && c != nil {
			c.Parents = append(c.Parents, p.Name)
		}
	}
	for _, g := range groups {
		sort.Strings(g.Parents)
	}
	if root == nil {
		return
	}
	root.Depth = 0
	queue := []int64{root.ID}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, c := range children[id] {
			if g := byID[c]; g != nil && g.Depth < 0 {
				g.Depth = byID[id].Depth + 1
				queue = append(queue, c)
			}
		}
	}
}

// groupSourceCols and groupSourceJoin read a group's Source and ObjectID.
const (
	groupSourceCols = `CASE WHEN dg.group_id IS NULL THEN 'local' ELSE 'entra' END, coalesce(dg.object_id, g.object_id)`
	groupSourceJoin = `LEFT JOIN directory_groups dg ON dg.group_id = g.id`
)

// Synced reports whether the group is mirrored from the directory source,
// and so read-only in Patchboard.
func (g Group) Synced() bool { return g.Source == "entra" }

// editable refuses changes to a mirrored group: the next sync would undo them.
func editable(g Group) error {
	if g.Synced() {
		return invalidf("group %q is synced from Microsoft Entra ID and is read-only here; change it in the Entra admin center", g.Name)
	}
	return nil
}

// groupForWrite loads a group inside a write transaction.
func groupForWrite(ctx context.Context, tx *sql.Tx, name string) (Group, error) {
	var g Group
	err := tx.QueryRowContext(ctx, `SELECT g.id, g.name, g.kind, g.rule, g.builtin, `+groupSourceCols+`
		FROM groups g `+groupSourceJoin+` WHERE g.name = ? COLLATE NOCASE`,
		strings.TrimSpace(name)).Scan(&g.ID, &g.Name, &g.Kind, &g.Rule, &g.Builtin, &g.Source, &g.ObjectID)
	if errors.Is(err, sql.ErrNoRows) {
		return Group{}, notFoundf("group %q was not found", name)
	}
	return g, err
}

// NestGroup makes child a member of the assigned group parent. Cycles are
// refused. Nesting deeper than one level under the registration group is
// allowed (a group can serve other purposes) but its devices are not
// discovered; Groups reports the depth so the UI can say so.
func (s *Store) NestGroup(ctx context.Context, parent, child, actor string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		p, err := groupForWrite(ctx, tx, parent)
		if err != nil {
			return err
		}
		if err := editable(p); err != nil {
			return err
		}
		c, err := groupForWrite(ctx, tx, child)
		if err != nil {
			return err
		}
		switch {
		case p.Kind != GroupAssigned:
			return invalidf("group %q is dynamic; only assigned groups can have member groups", p.Name)
		case p.ID == c.ID:
			return invalidf("a group cannot be a member of itself")
		case c.Builtin:
			return invalidf("the %s group cannot be nested in another group", RegistrationGroupName)
		}
		edges, err := groupEdges(ctx, tx)
		if err != nil {
			return err
		}
		if reaches(edges, c.ID, p.ID) {
			return invalidf("group %q already contains %q; nesting it would make a cycle", c.Name, p.Name)
		}
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO group_members (group_id, member_group_id, added_at, added_by) VALUES (?, ?, ?, ?)`,
			p.ID, c.ID, time.Now().Unix(), actor)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return conflictf("group %q is already a member of %q", c.Name, p.Name)
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionGroupNest,
			Target: c.Name + " in " + p.Name, Outcome: OutcomeSuccess}, nil)
	})
	if err != nil {
		return fmt.Errorf("nest group: %w", err)
	}
	return nil
}

// reaches reports whether to is reachable from from along member edges.
func reaches(edges []groupEdge, from, to int64) bool {
	children := make(map[int64][]int64)
	for _, e := range edges {
		children[e.parent] = append(children[e.parent], e.child)
	}
	seen := map[int64]bool{}
	stack := []int64{from}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id == to {
			return true
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		stack = append(stack, children[id]...)
	}
	return false
}

// AddGroupDevices adds devices, by device ID, to an assigned group.
func (s *Store) AddGroupDevices(ctx context.Context, group string, deviceIDs []string, actor string) (MemberImportResult, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(append([][]string{{"device_id"}}, deviceColumn(deviceIDs)...)); err != nil {
		return MemberImportResult{}, fmt.Errorf("add devices: %w", err)
	}
	return s.ImportMembers(ctx, group, &b, "device list", actor, false)
}

// RemoveGroupDevices removes devices, by device ID, from an assigned group.
// Removing a device from the registration group does not deregister it.
func (s *Store) RemoveGroupDevices(ctx context.Context, group string, deviceIDs []string, actor string) (int, error) {
	removed := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		g, err := groupForWrite(ctx, tx, group)
		if err != nil {
			return err
		}
		if err := editable(g); err != nil {
			return err
		}
		var devs []AuditDevice
		for _, id := range deviceIDs {
			var d AuditDevice
			var pk int64
			err := tx.QueryRowContext(ctx, `SELECT id, device_id, serial_number FROM devices WHERE device_id = ?`,
				NormalizeDeviceID(id)).Scan(&pk, &d.DeviceID, &d.SerialNumber)
			if errors.Is(err, sql.ErrNoRows) {
				return notFoundf("device %s was not found", id)
			}
			if err != nil {
				return err
			}
			r, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = ? AND device_pk = ?`, g.ID, pk)
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n > 0 {
				removed++
				devs = append(devs, d)
			}
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionGroupMembers, Target: g.Name,
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("removed %d devices", removed)}, devs)
	})
	if err != nil {
		return 0, fmt.Errorf("remove group devices: %w", err)
	}
	return removed, nil
}

// deviceColumn makes one CSV record of each device ID.
func deviceColumn(ids []string) [][]string {
	out := make([][]string, len(ids))
	for i, id := range ids {
		out[i] = []string{id}
	}
	return out
}
