package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"patchboard/store/rule"
)

// Audit actions of group editing (group.create, group.nest and
// group.members are in audit.go).
const (
	ActionGroupRename      = "group.rename"
	ActionGroupDelete      = "group.delete"
	ActionGroupRule        = "group.rule"
	ActionGroupUnnest      = "group.unnest"
	ActionGroupOwnerAdd    = "group.owner-add"
	ActionGroupOwnerRemove = "group.owner-remove"
)

// RuleError is a membership rule that does not parse. It wraps both
// ErrInvalid and the parser's *rule.SyntaxError, so callers can ask
// errors.Is(err, ErrInvalid) and still reach the position and message with
// errors.As.
type RuleError struct {
	Syntax *rule.SyntaxError
}

func (e *RuleError) Error() string { return "rule: " + e.Syntax.Error() }

// Unwrap returns ErrInvalid and the syntax error.
func (e *RuleError) Unwrap() []error { return []error{ErrInvalid, e.Syntax} }

// parseRule parses a membership rule, reporting a rejection as a *RuleError.
func parseRule(src string) (*rule.Rule, error) {
	return ruleOrError(rule.Parse(src))
}

// parseFilterRule parses the advanced filter of the blades: a membership
// rule that may read ring too (rule.ParseFilter).
func parseFilterRule(src string) (*rule.Rule, error) {
	names := make([]string, len(Rings))
	for i, r := range Rings {
		names[i] = string(r)
	}
	return ruleOrError(rule.ParseFilter(src, names))
}

// ruleOrError reports a parser's rejection as a *RuleError.
func ruleOrError(r *rule.Rule, err error) (*rule.Rule, error) {
	if err != nil {
		var se *rule.SyntaxError
		if errors.As(err, &se) {
			return nil, &RuleError{Syntax: se}
		}
		return nil, invalidf("rule: %v", err)
	}
	return r, nil
}

// RegistrationGroupID returns the ID of the Device Registration group.
func (s *Store) RegistrationGroupID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.r.QueryRowContext(ctx, `SELECT id FROM groups WHERE builtin = 1`).Scan(&id); err != nil {
		return 0, fmt.Errorf("registration group: %w", err)
	}
	return id, nil
}

// GroupByID returns a group with its counts, parents and depth.
func (s *Store) GroupByID(ctx context.Context, id int64) (Group, error) {
	groups, err := s.Groups(ctx)
	if err != nil {
		return Group{}, err
	}
	for _, g := range groups {
		if g.ID == id {
			return g, nil
		}
	}
	return Group{}, notFoundf("group %d was not found", id)
}

// groupByIDForWrite loads a group inside a write transaction.
func groupByIDForWrite(ctx context.Context, tx *sql.Tx, id int64) (Group, error) {
	var g Group
	err := tx.QueryRowContext(ctx, `SELECT g.id, g.name, g.kind, g.rule, g.builtin, `+groupSourceCols+`
		FROM groups g `+groupSourceJoin+` WHERE g.id = ?`, id).
		Scan(&g.ID, &g.Name, &g.Kind, &g.Rule, &g.Builtin, &g.Source, &g.ObjectID)
	if errors.Is(err, sql.ErrNoRows) {
		return Group{}, notFoundf("group %d was not found", id)
	}
	return g, err
}

// RenameGroup gives a group a new name. The Device Registration group keeps
// its name: it is how every entry point finds it.
func (s *Store) RenameGroup(ctx context.Context, id int64, name, actor string) (Group, error) {
	name = strings.TrimSpace(name)
	if err := validateGroupName(name); err != nil {
		return Group{}, fmt.Errorf("rename group: %w", err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		g, err := groupByIDForWrite(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := editable(g); err != nil {
			return err
		}
		if g.Builtin {
			return invalidf("the %s group cannot be renamed", RegistrationGroupName)
		}
		if g.Name == name {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE groups SET name = ?, updated_at = ? WHERE id = ?`, name, time.Now().Unix(), id)
		if isUniqueViolation(err) {
			return conflictf("a group named %q already exists", name)
		}
		if err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionGroupRename, Target: name,
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("renamed from %q", g.Name)}, nil)
	})
	if err != nil {
		return Group{}, fmt.Errorf("rename group: %w", err)
	}
	return s.GroupByID(ctx, id)
}

// DeleteGroup deletes a group with its memberships and owners. The Device
// Registration group cannot be deleted. Devices registered through the group
// stay registered: leaving a group never deregisters a device.
func (s *Store) DeleteGroup(ctx context.Context, id int64, actor string) (Group, error) {
	var g Group
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if g, err = groupByIDForWrite(ctx, tx, id); err != nil {
			return err
		}
		if err := editable(g); err != nil {
			return err
		}
		if g.Builtin {
			return invalidf("the %s group cannot be deleted", RegistrationGroupName)
		}
		var devices, groups int
		if err := tx.QueryRowContext(ctx, `SELECT count(device_pk), count(member_group_id) FROM group_members WHERE group_id = ?`, id).
			Scan(&devices, &groups); err != nil {
			return err
		}
		parents, err := parentNames(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE id = ?`, id); err != nil {
			return err
		}
		detail := string(g.Kind)
		if g.Kind == GroupDynamic {
			detail += ": " + g.Rule
		} else {
			detail += fmt.Sprintf(": %d devices, %d member groups", devices, groups)
		}
		if len(parents) > 0 {
			detail += "; was nested in " + strings.Join(parents, ", ")
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionGroupDelete, Target: g.Name,
			Outcome: OutcomeSuccess, Detail: detail}, nil)
	})
	if err != nil {
		return Group{}, fmt.Errorf("delete group: %w", err)
	}
	return g, nil
}

func parentNames(ctx context.Context, tx *sql.Tx, id int64) ([]string, error) {
	return queryNames(ctx, tx, `
		SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.member_group_id = ? ORDER BY g.name COLLATE NOCASE`, id)
}

// SetGroupRule replaces the membership rule of a dynamic group. A rule that
// does not parse is refused as a *RuleError and nothing changes.
func (s *Store) SetGroupRule(ctx context.Context, id int64, src, actor string) (Group, error) {
	if _, err := parseRule(src); err != nil {
		return Group{}, fmt.Errorf("set group rule: %w", err)
	}
	src = strings.TrimSpace(src)
	err := s.write(ctx, func(tx *sql.Tx) error {
		g, err := groupByIDForWrite(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := editable(g); err != nil {
			return err
		}
		if g.Kind != GroupDynamic {
			return invalidf("group %q is assigned: its members are listed, not matched by a rule", g.Name)
		}
		if g.Rule == src {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE groups SET rule = ?, updated_at = ? WHERE id = ?`, src, time.Now().Unix(), id); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionGroupRule, Target: g.Name,
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("rule %s (was %s)", src, g.Rule)}, nil)
	})
	if err != nil {
		return Group{}, fmt.Errorf("set group rule: %w", err)
	}
	return s.GroupByID(ctx, id)
}

// RemoveGroupMember takes the member group out of the group (un-nests it).
func (s *Store) RemoveGroupMember(ctx context.Context, groupID, memberGroupID int64, actor string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		p, err := groupByIDForWrite(ctx, tx, groupID)
		if err != nil {
			return err
		}
		if err := editable(p); err != nil {
			return err
		}
		c, err := groupByIDForWrite(ctx, tx, memberGroupID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = ? AND member_group_id = ?`, p.ID, c.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFoundf("group %q is not a member of %q", c.Name, p.Name)
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionGroupUnnest,
			Target: c.Name + " from " + p.Name, Outcome: OutcomeSuccess}, nil)
	})
	if err != nil {
		return fmt.Errorf("remove member group: %w", err)
	}
	return nil
}

// --- owners -----------------------------------------------------------------

// GroupOwners lists the owners of a group by email.
func (s *Store) GroupOwners(ctx context.Context, groupID int64) ([]User, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT u.id, u.email, u.name, u.role, u.created_at, u.issuer, u.subject, u.role_source, u.disabled_at, u.last_sign_in_at FROM group_owners o JOIN users u ON u.id = o.user_id
		WHERE o.group_id = ? ORDER BY u.email COLLATE NOCASE`, groupID)
	if err != nil {
		return nil, fmt.Errorf("group owners: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("group owners: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// IsGroupOwner reports whether the user owns the group: for the
// registration group synced from Microsoft Entra ID, as one of its owners
// there; otherwise as made an owner in Patchboard.
func (s *Store) IsGroupOwner(ctx context.Context, groupID, userID int64) (bool, error) {
	if owner, mirrored, err := s.isDirectoryOwner(ctx, groupID, userID); err != nil || mirrored {
		return owner, err
	}
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM group_owners WHERE group_id = ? AND user_id = ?`, groupID, userID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("group owner: %w", err)
	}
	return true, nil
}

// MayEditGroup reports whether u may change g (Role.CanEditGroup): for the
// Device Registration group and the groups nested in it, that depends on
// whether u owns the Device Registration group, which only matters to a
// Service Administrator and is looked up only then.
func (s *Store) MayEditGroup(ctx context.Context, g Group, u User) (bool, error) {
	owner := false
	if g.FeedsRegistration() && u.Role == RoleServiceAdmin && u.ID != 0 {
		regID, err := s.RegistrationGroupID(ctx)
		if err != nil {
			return false, err
		}
		if owner, err = s.IsGroupOwner(ctx, regID, u.ID); err != nil {
			return false, err
		}
	}
	return u.Role.CanEditGroup(g, owner), nil
}

// AddGroupOwner makes the account with this ID an owner of the group. An
// account, not an e-mail address: a local and an SSO account may share one.
// Ownership lets a Service Administrator change the Device Registration
// group's members; other roles' rights do not depend on it.
func (s *Store) AddGroupOwner(ctx context.Context, groupID, userID int64, actor string) (User, error) {
	var u User
	err := s.write(ctx, func(tx *sql.Tx) error {
		g, err := groupByIDForWrite(ctx, tx, groupID)
		if err != nil {
			return err
		}
		if g.Synced() {
			return invalidf("%q is synced from Microsoft Entra ID: manage its owners in the Entra admin center", g.Name)
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, userID))
		if errors.Is(err, sql.ErrNoRows) {
			return invalidf("no Patchboard account has the id %d; choose one from the list", userID)
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO group_owners (group_id, user_id) VALUES (?, ?)`, g.ID, u.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return conflictf("%s already owns %q", u.Email, g.Name)
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionGroupOwnerAdd, Target: g.Name,
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("owner %s (%s)", u.Email, u.Role.Label())}, nil)
	})
	if err != nil {
		return User{}, fmt.Errorf("add group owner: %w", err)
	}
	return u, nil
}

// RemoveGroupOwner takes the user's ownership of the group away.
func (s *Store) RemoveGroupOwner(ctx context.Context, groupID, userID int64, actor string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		g, err := groupByIDForWrite(ctx, tx, groupID)
		if err != nil {
			return err
		}
		var email string
		err = tx.QueryRowContext(ctx, `SELECT email FROM users WHERE id = ?`, userID).Scan(&email)
		if errors.Is(err, sql.ErrNoRows) {
			return notFoundf("user %d was not found", userID)
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM group_owners WHERE group_id = ? AND user_id = ?`, g.ID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFoundf("%s does not own %q", email, g.Name)
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionGroupOwnerRemove, Target: g.Name,
			Outcome: OutcomeSuccess, Detail: "owner " + email}, nil)
	})
	if err != nil {
		return fmt.Errorf("remove group owner: %w", err)
	}
	return nil
}

// --- rule evaluation over the directory -------------------------------------

// ruleColumns are the devices columns Device.RuleValue reads for each
// property. A rule is evaluated over the whole directory, so only these
// columns are loaded.
var ruleColumns = func() map[rule.Property][]string {
	m := map[rule.Property][]string{
		rule.DisplayName:           {"display_name"},
		rule.DeviceID:              {"device_id"},
		rule.ObjectID:              {"object_id", "device_id"},
		rule.DeviceOSType:          {"os", "device_kind"},
		rule.DeviceOSVersion:       {"os_version"},
		rule.DeviceManufacturer:    {"manufacturer"},
		rule.DeviceModel:           {"model"},
		rule.DeviceOwnership:       {"ownership"},
		rule.DeviceTrustType:       {"join_type"},
		rule.AccountEnabled:        {"account_enabled"},
		rule.DeviceCategory:        {"device_category"},
		rule.DeviceManagementAppID: {"management_app_id"},
		rule.DevicePhysicalIDs:     {"physical_ids"},
		rule.EnrollmentProfileName: {"enrollment_profile_name"},
		rule.IsRooted:              {"is_rooted"},
		rule.ManagementType:        {"management_type"},
		rule.MemberOf:              {"member_of"},
		rule.ProfileType:           {"profile_type"},
		rule.SystemLabels:          {"system_labels"},
		rule.SerialNumber:          {"serial_number"},
		rule.Ring:                  {"ring"},
	}
	for n := 1; n <= NumExtensionAttributes; n++ {
		m[rule.ExtensionAttribute(n)] = []string{"extension_attributes"}
	}
	return m
}()

// ruleCols lists the columns the properties need, and extra.
func ruleCols(props []rule.Property, extra ...string) []string {
	cols := append([]string{}, extra...)
	for _, p := range props {
		cols = append(cols, ruleColumns[p]...)
	}
	return cols
}

// eachDirectoryDevice calls fn for every device of the directory, with only
// the named columns set (see ruleCache). The row is reused.
func (s *Store) eachDirectoryDevice(ctx context.Context, cols []string, fn func(*DeviceRow)) error {
	l, err := s.leanDevices(ctx, cols)
	if err != nil {
		return err
	}
	return l.each(fn)
}

// GroupDevice is a device as group pages list it.
type GroupDevice struct {
	PK            int64
	DeviceID      string
	DisplayName   string
	SerialNumber  string
	OS            string
	Model         string
	Status        Status // "" when on no blade
	DiscoveredVia string
	// AddedAt and AddedBy say when and by whom an assigned member was
	// added; zero for the devices a rule matches.
	AddedAt time.Time
	AddedBy string
}

// nameKey orders devices as the name index does: display name with ASCII
// letters folded (SQLite's NOCASE), then row ID.
type nameKey struct {
	name string
	pk   int64
}

func (a nameKey) compare(b nameKey) int {
	if c := compareNoCase(a.name, b.name); c != 0 {
		return c
	}
	return cmp.Compare(a.pk, b.pk)
}

// compareNoCase compares as SQLite's NOCASE collation: bytes, with ASCII
// upper-case letters folded to lower case.
func compareNoCase(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := lowerASCII(a[i]), lowerASCII(b[i])
		if x != y {
			return cmp.Compare(x, y)
		}
	}
	return cmp.Compare(len(a), len(b))
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// foldASCII lower-cases the ASCII letters of s, as LIKE compares them.
func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

// containsFold reports whether s contains the folded needle, ignoring ASCII
// case.
func containsFold(s, foldedNeedle string) bool {
	return strings.Contains(foldASCII(s), foldedNeedle)
}

// firstByName keeps the first n keys in name order of those offered: a
// bounded sorted slice, which for a page of 20 to 100 beats a heap.
type firstByName struct {
	n    int
	keys []nameKey
}

func (f *firstByName) offer(k nameKey) {
	if f.n <= 0 {
		return
	}
	if len(f.keys) == f.n && k.compare(f.keys[f.n-1]) >= 0 {
		return
	}
	i := sort.Search(len(f.keys), func(i int) bool { return k.compare(f.keys[i]) < 0 })
	if len(f.keys) < f.n {
		f.keys = append(f.keys, nameKey{})
	}
	copy(f.keys[i+1:], f.keys[i:len(f.keys)-1])
	k.name = strings.Clone(k.name) // the scanner's row is reused
	f.keys[i] = k
}

func (f *firstByName) pks() []int64 {
	out := make([]int64, len(f.keys))
	for i, k := range f.keys {
		out[i] = k.pk
	}
	return out
}

// groupDevices loads the listed devices, in the order given.
func groupDevices(ctx context.Context, tx *sql.Tx, pks []int64) ([]GroupDevice, error) {
	if len(pks) == 0 {
		return nil, nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(pks)), ",")
	args := make([]any, len(pks))
	for i, pk := range pks {
		args[i] = pk
	}
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.device_id, d.display_name, d.serial_number, d.os, d.model,
		ifnull(d.status, ''), ifnull(d.discovered_via, '') FROM devices d WHERE d.id IN (`+marks+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byPK := make(map[int64]GroupDevice, len(pks))
	for rows.Next() {
		var d GroupDevice
		if err := rows.Scan(&d.PK, &d.DeviceID, &d.DisplayName, &d.SerialNumber, &d.OS, &d.Model, &d.Status, &d.DiscoveredVia); err != nil {
			return nil, err
		}
		byPK[d.PK] = d
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]GroupDevice, 0, len(pks))
	for _, pk := range pks {
		if d, ok := byPK[pk]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// RulePreview is what a membership rule matches in the directory now.
type RulePreview struct {
	// Rule is the canonical form of the rule.
	Rule string
	// Properties are the device properties the rule reads.
	Properties []rule.Property
	// Matches counts the matching devices; Directory counts every device.
	Matches, Directory int
	// Devices are the first matching devices by name, up to the limit asked.
	Devices []GroupDevice
}

// PreviewRule parses a membership rule and evaluates it over the directory:
// how many devices match and the first limit of them by name. A rule that
// does not parse is a *RuleError (ErrInvalid, with the parser's position and
// message). Only the columns the rule reads are loaded.
func (s *Store) PreviewRule(ctx context.Context, src string, limit int) (RulePreview, error) {
	r, err := parseRule(src)
	if err != nil {
		return RulePreview{}, fmt.Errorf("preview rule: %w", err)
	}
	return s.previewRule(ctx, r, limit)
}

// PreviewFilterRule is PreviewRule for the advanced filter of the blades,
// whose rules may read ring too.
func (s *Store) PreviewFilterRule(ctx context.Context, src string, limit int) (RulePreview, error) {
	r, err := parseFilterRule(src)
	if err != nil {
		return RulePreview{}, fmt.Errorf("preview rule: %w", err)
	}
	return s.previewRule(ctx, r, limit)
}

func (s *Store) previewRule(ctx context.Context, r *rule.Rule, limit int) (RulePreview, error) {
	var err error
	p := RulePreview{Rule: r.String(), Properties: r.Properties()}
	first := firstByName{n: limit}
	err = s.eachDirectoryDevice(ctx, ruleCols(p.Properties, "display_name"), func(d *DeviceRow) {
		p.Directory++
		if r.Match(d) {
			p.Matches++
			first.offer(nameKey{d.DisplayName, d.PK})
		}
	})
	if err == nil {
		err = s.read(ctx, func(tx *sql.Tx) error {
			p.Devices, err = groupDevices(ctx, tx, first.pks())
			return err
		})
	}
	if err != nil {
		return RulePreview{}, fmt.Errorf("preview rule: %w", err)
	}
	return p, nil
}

// MemberCounts returns every group's device count, as its page counts them:
// for an assigned group its direct device members (member groups are
// listed apart), for a dynamic group the devices its rule matches now. All dynamic rules are evaluated in one pass
// over the directory, reading only the columns they need.
func (s *Store) MemberCounts(ctx context.Context) (map[int64]int, error) {
	counts := make(map[int64]int)
	type dyn struct {
		id int64
		r  *rule.Rule
		n  int
	}
	var dynamic []dyn
	var props []rule.Property
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT g.id, g.kind, g.rule,
			(SELECT count(*) FROM group_members m WHERE m.group_id = g.id AND m.device_pk IS NOT NULL) FROM groups g`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g Group
			var n int
			if err := rows.Scan(&g.ID, &g.Kind, &g.Rule, &n); err != nil {
				return err
			}
			counts[g.ID] = n
			if g.Kind != GroupDynamic {
				continue
			}
			counts[g.ID] = 0
			// A stored rule that no longer parses matches nothing, as in
			// discovery.
			if r, err := rule.Parse(g.Rule); err == nil {
				dynamic = append(dynamic, dyn{id: g.ID, r: r})
				props = append(props, r.Properties()...)
			}
		}
		return rows.Err()
	})
	if err == nil && len(dynamic) > 0 {
		err = s.eachDirectoryDevice(ctx, ruleCols(props), func(d *DeviceRow) {
			for i := range dynamic {
				if dynamic[i].r.Match(d) {
					dynamic[i].n++
				}
			}
		})
	}
	if err != nil {
		return nil, fmt.Errorf("member counts: %w", err)
	}
	for _, g := range dynamic {
		counts[g.id] = g.n
	}
	return counts, nil
}

// --- members ----------------------------------------------------------------

// MemberQuery selects a page of a group's members.
type MemberQuery struct {
	// Search is a case-insensitive substring of a device's name, serial
	// number or device ID, or of a member group's name.
	Search string
	// After is the cursor of the previous page (MemberPage.Next).
	After string
	// Limit is the page size; 0 means 50.
	Limit int
}

// MemberPage is one page of a group's members.
type MemberPage struct {
	// Groups are the member groups (of an assigned group) matching the
	// search; they come with the first page only.
	Groups []Group
	// Devices are the page's device members by name: assigned members, or
	// the devices a dynamic group's rule matches.
	Devices []GroupDevice
	// Next is the cursor of the following page; empty on the last page.
	Next string
	// Total counts the device members matching the search; Capped means
	// a search matched more than Total (SearchCountCap) and stopped
	// counting.
	Total  int
	Capped bool
}

// memberCursor is the position after a device in name order.
type memberCursor struct {
	Name string `json:"n"`
	PK   int64  `json:"k"`
}

func (c memberCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeMemberCursor(s string) (memberCursor, error) {
	var c memberCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.PK <= 0 {
		return memberCursor{}, invalidf("the page cursor is not valid; start again from the first page")
	}
	return c, nil
}

// gatherMembersMax is the largest group whose members a page sorts by name
// itself (reading every membership); larger groups walk the directory's name
// index and probe each device's membership, which stops after a page.
const gatherMembersMax = 2000

// GroupMembers returns a page of a group's members by name, with the
// matching member groups on the first page. Pages follow a keyset cursor, so
// a page deep in a group of 100,000 devices costs what the first one does.
func (s *Store) GroupMembers(ctx context.Context, groupID int64, q MemberQuery) (MemberPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Search = strings.TrimSpace(q.Search)
	var cur *memberCursor
	if q.After != "" {
		c, err := decodeMemberCursor(q.After)
		if err != nil {
			return MemberPage{}, fmt.Errorf("group members: %w", err)
		}
		cur = &c
	}
	groups, err := s.Groups(ctx)
	if err != nil {
		return MemberPage{}, err
	}
	i := slices.IndexFunc(groups, func(g Group) bool { return g.ID == groupID })
	if i < 0 {
		return MemberPage{}, fmt.Errorf("group members: %w", notFoundf("group %d was not found", groupID))
	}
	g := groups[i]
	var page MemberPage
	if cur == nil && g.Kind == GroupAssigned {
		needle := foldASCII(q.Search)
		for _, m := range groups {
			if slices.Contains(m.Parents, g.Name) && containsFold(m.Name, needle) {
				page.Groups = append(page.Groups, m)
			}
		}
	}
	if g.Kind == GroupDynamic {
		err = s.dynamicMembers(ctx, g, q, cur, &page)
	} else {
		err = s.read(ctx, func(tx *sql.Tx) error {
			return assignedMembers(ctx, tx, g, q, cur, &page)
		})
	}
	if err != nil {
		return MemberPage{}, fmt.Errorf("group members: %w", err)
	}
	return page, nil
}

// dynamicMembers evaluates the group's rule over the directory: the count of
// matches and the page after the cursor.
func (s *Store) dynamicMembers(ctx context.Context, g Group, q MemberQuery, cur *memberCursor, page *MemberPage) error {
	r, err := rule.Parse(g.Rule)
	if err != nil {
		return nil // matches nothing, as in discovery
	}
	needle := foldASCII(q.Search)
	extra := []string{"display_name"}
	if needle != "" {
		extra = append(extra, "serial_number", "device_id")
	}
	first := firstByName{n: q.Limit + 1}
	err = s.eachDirectoryDevice(ctx, ruleCols(r.Properties(), extra...), func(d *DeviceRow) {
		if needle != "" && !containsFold(d.DisplayName, needle) && !containsFold(d.SerialNumber, needle) &&
			!containsFold(d.DeviceID, needle) {
			return
		}
		if !r.Match(d) {
			return
		}
		page.Total++
		k := nameKey{d.DisplayName, d.PK}
		if cur == nil || k.compare(nameKey{cur.Name, cur.PK}) > 0 {
			first.offer(k)
		}
	})
	if err != nil {
		return err
	}
	pks := first.pks()
	if len(pks) > q.Limit {
		last := first.keys[q.Limit-1]
		page.Next = memberCursor{Name: last.name, PK: last.pk}.encode()
		pks = pks[:q.Limit]
	}
	return s.read(ctx, func(tx *sql.Tx) error {
		page.Devices, err = groupDevices(ctx, tx, pks)
		return err
	})
}

const memberCols = `d.id, d.device_id, d.display_name, d.serial_number, d.os, d.model,
	ifnull(d.status, ''), ifnull(d.discovered_via, ''), m.added_at, m.added_by`

// assignedMembers pages the device members of an assigned group.
//
// Without a search the count is the group's. A search first collects, up to
// SearchCountCap+1, the members it matches: few (a full pass over the
// memberships, stopped early when matches are common) are then sorted by
// their IDs; more than the cap are dense enough for the name-index walk to
// fill a page soon, and the count says "more than".
func assignedMembers(ctx context.Context, tx *sql.Tx, g Group, q MemberQuery, cur *memberCursor, page *MemberPage) error {
	var like string
	var matched []int64
	page.Total = g.Devices
	if q.Search != "" {
		like = "%" + escapeLike(q.Search) + "%"
		var a args
		rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT d.id FROM group_members m CROSS JOIN devices d
			WHERE m.group_id = %s AND m.device_pk IS NOT NULL AND d.id = m.device_pk AND %s LIMIT %d`,
			a.add(g.ID), likeCond(a.add(like)), SearchCountCap+1), a...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var pk int64
			if err := rows.Scan(&pk); err != nil {
				rows.Close()
				return err
			}
			matched = append(matched, pk)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		page.Total = len(matched)
		if page.Total > SearchCountCap {
			page.Total, page.Capped, matched = SearchCountCap, true, nil
		} else if matched == nil {
			return nil // no match
		}
	}
	want := q.Limit + 1 // one more row says whether there is a next page
	var got []GroupDevice
	for _, st := range memberStatements(g, like, matched, cur, want) {
		if len(got) >= want {
			break
		}
		rows, err := tx.QueryContext(ctx, st.sql, st.args...)
		if err != nil {
			return err
		}
		for rows.Next() && len(got) < want {
			var d GroupDevice
			var added int64
			if err := rows.Scan(&d.PK, &d.DeviceID, &d.DisplayName, &d.SerialNumber, &d.OS, &d.Model,
				&d.Status, &d.DiscoveredVia, &added, &d.AddedBy); err != nil {
				rows.Close()
				return err
			}
			d.AddedAt = time.Unix(added, 0).UTC()
			got = append(got, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if len(got) > q.Limit {
		last := got[q.Limit-1]
		page.Next = memberCursor{Name: last.DisplayName, PK: last.PK}.encode()
		got = got[:q.Limit]
	}
	page.Devices = got
	return nil
}

// memberStatements are the statements of a page of an assigned group's
// device members, run in turn until want rows came: the search's matched
// devices sorted, a small group's members sorted, or a walk of the name
// index probing each device's membership (with the search, when it matched
// too many to sort).
func memberStatements(g Group, like string, matched []int64, cur *memberCursor, want int) []query {
	const order = "d.display_name COLLATE NOCASE, d.id"
	if matched != nil || g.Devices <= gatherMembersMax && like == "" {
		var a args
		var where string
		if matched != nil {
			ids := make([]string, len(matched))
			for i, pk := range matched {
				ids[i] = a.add(pk)
			}
			where = fmt.Sprintf("d.id IN (%s) AND m.group_id = %s AND m.device_pk = d.id", strings.Join(ids, ", "), a.add(g.ID))
		} else {
			where = fmt.Sprintf("m.group_id = %s AND m.device_pk IS NOT NULL AND d.id = m.device_pk", a.add(g.ID))
		}
		if cur != nil {
			where += fmt.Sprintf(" AND (d.display_name COLLATE NOCASE, d.id) > (%s, %s)", a.add(cur.Name), a.add(cur.PK))
		}
		from := "group_members m CROSS JOIN devices d"
		if matched != nil {
			from = "devices d CROSS JOIN group_members m"
		}
		return []query{{fmt.Sprintf(`SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %d`, memberCols, from, where, order, want), a}}
	}
	// As the blades' walks: after a cursor, the rows tied with its name
	// after its id, then the names after it. SQLite seeks to both; a
	// row-value comparison on the index would only filter.
	walk := func(cond func(a *args) string, order string) query {
		var a args
		where := fmt.Sprintf("m.group_id = %s AND m.device_pk IS NOT NULL AND m.device_pk = d.id", a.add(g.ID))
		if like != "" {
			where += " AND " + likeCond(a.add(like))
		}
		if cond != nil {
			where += " AND " + cond(&a)
		}
		return query{fmt.Sprintf(`SELECT %s FROM devices d INDEXED BY devices_name CROSS JOIN group_members m
			WHERE %s ORDER BY %s LIMIT %d`, memberCols, where, order, want), a}
	}
	if cur == nil {
		return []query{walk(nil, order)}
	}
	return []query{
		walk(func(a *args) string {
			return fmt.Sprintf("d.display_name = %s COLLATE NOCASE AND d.id > %s", a.add(cur.Name), a.add(cur.PK))
		}, "d.id"),
		walk(func(a *args) string {
			return fmt.Sprintf("d.display_name > %s COLLATE NOCASE", a.add(cur.Name))
		}, order),
	}
}

// --- finding devices to add -------------------------------------------------

// DirectoryMatch is a device found by DirectoryMatches.
type DirectoryMatch struct {
	GroupDevice
	// Member says the device is already a direct member of the group asked
	// about.
	Member bool
}

// DirectoryMatches finds devices in the whole directory (not only those on
// the blades) by name, serial number or device ID, for adding to a group:
// exact device ID and serial number matches first, then names and serials
// containing the text, up to limit. Member marks the devices already in the
// group.
func (s *Store) DirectoryMatches(ctx context.Context, groupID int64, text string, limit int) ([]DirectoryMatch, error) {
	text = strings.TrimSpace(text)
	if text == "" || limit <= 0 {
		return nil, nil
	}
	var out []DirectoryMatch
	err := s.read(ctx, func(tx *sql.Tx) error {
		seen := map[int64]bool{}
		add := func(q string, args ...any) error {
			rows, err := tx.QueryContext(ctx, q, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var m DirectoryMatch
				if err := rows.Scan(&m.PK, &m.DeviceID, &m.DisplayName, &m.SerialNumber, &m.OS, &m.Model,
					&m.Status, &m.DiscoveredVia, &m.Member); err != nil {
					return err
				}
				if !seen[m.PK] && len(out) < limit {
					seen[m.PK] = true
					out = append(out, m)
				}
			}
			return rows.Err()
		}
		const cols = `d.id, d.device_id, d.display_name, d.serial_number, d.os, d.model, ifnull(d.status, ''),
			ifnull(d.discovered_via, ''), EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = ?1 AND m.device_pk = d.id)`
		// Exact identifiers through their indexes.
		if err := add(`SELECT `+cols+` FROM devices d WHERE d.device_id = ?2
			UNION ALL SELECT `+cols+` FROM devices d WHERE d.serial_number = ?3 COLLATE NOCASE AND d.serial_number <> ''`,
			groupID, NormalizeDeviceID(text), text); err != nil {
			return err
		}
		if len(out) >= limit {
			return nil
		}
		like := "%" + escapeLike(text) + "%"
		return add(fmt.Sprintf(`SELECT %s FROM devices d INDEXED BY devices_name WHERE %s
			ORDER BY d.display_name COLLATE NOCASE, d.id LIMIT %d`, cols, likeCond("?2"), limit+len(out)), groupID, like)
	})
	if err != nil {
		return nil, fmt.Errorf("directory matches: %w", err)
	}
	return out, nil
}
