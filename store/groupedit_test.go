package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"patchboard/store/rule"
)

func mustCreateGroup(t testing.TB, st *Store, name, ruleSrc string) Group {
	t.Helper()
	g, err := st.CreateGroup(context.Background(), name, ruleSrc, "tester")
	if err != nil {
		t.Fatalf("create group %s: %v", name, err)
	}
	return g
}

func mustNest(t testing.TB, st *Store, parent, child string) {
	t.Helper()
	if err := st.NestGroup(context.Background(), parent, child, "tester"); err != nil {
		t.Fatalf("nest %s in %s: %v", child, parent, err)
	}
}

func mustGroupByID(t testing.TB, st *Store, id int64) Group {
	t.Helper()
	g, err := st.GroupByID(context.Background(), id)
	if err != nil {
		t.Fatalf("group %d: %v", id, err)
	}
	return g
}

func mustRegistrationGroup(t testing.TB, st *Store) Group {
	t.Helper()
	id, err := st.RegistrationGroupID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g := mustGroupByID(t, st, id)
	if !g.Builtin || g.Name != RegistrationGroupName {
		t.Fatalf("RegistrationGroupID gave %+v", g)
	}
	return g
}

// lastAudit returns the newest entry of an action.
func lastGroupAudit(t testing.TB, st *Store, action string) AuditEntry {
	t.Helper()
	entries, err := st.AuditEntries(context.Background(), AuditFilter{Action: action, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("no audit entry %s", action)
	}
	return entries[0]
}

func groupAuditCount(t testing.TB, st *Store, action string) int {
	t.Helper()
	entries, err := st.AuditEntries(context.Background(), AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// wantRuleError fails unless err is an ErrInvalid carrying a syntax error at
// pos whose message contains msg.
func wantRuleError(t testing.TB, err error, pos int, msg string) {
	t.Helper()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v, want ErrInvalid", err)
	}
	var se *rule.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v carries no *rule.SyntaxError", err)
	}
	if se.Pos != pos || !strings.Contains(se.Msg, msg) {
		t.Fatalf("syntax error at %d %q, want position %d and %q", se.Pos, se.Msg, pos, msg)
	}
	var re *RuleError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), fmt.Sprintf("position %d", pos)) {
		t.Fatalf("error %q: want a *RuleError naming the position", err)
	}
}

func TestRuleColumnsCoverRuleValue(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	devs := []*Device{
		healthy(1),
		healthy(2, func(d *Device) { d.DeviceKind = KindAVDMultiSession; d.DisplayName = "AP-AVD-0002" }),
		healthy(3, func(d *Device) { d.Ownership = OwnershipPersonal; d.JoinType = JoinEntraRegistered }),
		healthy(4, func(d *Device) {
			d.JoinType = JoinHybridJoined
			d.AccountEnabled = false
			d.Ownership = OwnershipUnknown
		}),
		healthy(5, func(d *Device) { d.OS = "macOS"; d.OSVersion = "15.5"; d.SerialNumber = ""; d.Manufacturer = "Apple" }),
	}
	mustUpsert(t, st, devs...)
	for _, p := range rule.Properties {
		if len(ruleColumns[p]) == 0 {
			t.Errorf("property %s has no columns in ruleColumns", p)
		}
	}
	// Each property, loaded alone, reads what the whole device reads.
	for _, p := range rule.Properties {
		got := map[int64]string{}
		err := st.eachDirectoryDevice(ctx, ruleCols([]rule.Property{p}, "device_id"), func(d *DeviceRow) {
			got[d.PK] = d.DeviceID + "=" + d.RuleValue(p)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devs {
			rec := mustDevice(t, st, d.DeviceID)
			if want := d.DeviceID + "=" + d.RuleValue(p); got[rec.PK] != want {
				t.Errorf("%s of %s: lean load reads %q, want %q", p, d.DeviceID, got[rec.PK], want)
			}
		}
	}
}

func TestCreateGroupRejectsBadRulesWithPosition(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	tests := []struct {
		name string
		give string
		pos  int
		msg  string
	}{
		{"unknown operator", `device.displayName -contanis "AP"`, 20, "unknown operator"},
		{"missing value", `device.displayName -eq`, 23, "unexpected end of rule"},
		{"bare property", `displayName -eq "x"`, 1, `write "device.displayName"`},
		{"too long", `device.displayName -eq "` + strings.Repeat("x", rule.MaxLength) + `"`, rule.MaxLength + 1, "maximum is 3072"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.CreateGroup(ctx, "Bad "+tt.name, tt.give, "tester")
			wantRuleError(t, err, tt.pos, tt.msg)
		})
	}
	// Exactly 3073 characters is one too many; 3072 is accepted.
	body := func(n int) string {
		src := `device.displayName -eq ""`
		return `device.displayName -eq "` + strings.Repeat("y", n-len(src)) + `"`
	}
	_, err := st.CreateGroup(ctx, "Long", body(rule.MaxLength+1), "tester")
	wantRuleError(t, err, rule.MaxLength+1, "rule is 3073 characters long")
	if g := mustCreateGroup(t, st, "Longest", body(rule.MaxLength)); g.Kind != GroupDynamic {
		t.Errorf("a 3072-character rule made a %s group", g.Kind)
	}
	groups, err := st.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 {
		t.Errorf("refused rules created groups: %d groups", len(groups))
	}
}

func TestRenameGroup(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	pilot := mustCreateGroup(t, st, "Pilot", "")
	mustCreateGroup(t, st, "Finance", "")

	g, err := st.RenameGroup(ctx, pilot.ID, "  Pilot ring  ", "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "Pilot ring" || g.ID != pilot.ID {
		t.Fatalf("renamed group %+v", g)
	}
	a := lastGroupAudit(t, st, ActionGroupRename)
	if a.Actor != "admin@example.com" || a.Target != "Pilot ring" || !strings.Contains(a.Detail, `"Pilot"`) {
		t.Errorf("audit %+v", a)
	}
	// A change of case alone is a rename.
	if g, err = st.RenameGroup(ctx, pilot.ID, "PILOT RING", "tester"); err != nil || g.Name != "PILOT RING" {
		t.Fatalf("case rename: %+v %v", g, err)
	}

	_, err = st.RenameGroup(ctx, pilot.ID, "finance", "tester")
	wantErrIs(t, err, ErrConflict)
	if !strings.Contains(err.Error(), `a group named "finance" already exists`) {
		t.Errorf("conflict message %q", err)
	}
	_, err = st.RenameGroup(ctx, pilot.ID, " ", "tester")
	wantErrIs(t, err, ErrInvalid)
	_, err = st.RenameGroup(ctx, pilot.ID, "tab\there", "tester")
	wantErrIs(t, err, ErrInvalid)
	_, err = st.RenameGroup(ctx, 9999, "Nobody", "tester")
	wantErrIs(t, err, ErrNotFound)
	reg := mustRegistrationGroup(t, st)
	_, err = st.RenameGroup(ctx, reg.ID, "Registration", "tester")
	wantErrIs(t, err, ErrInvalid)
	if !strings.Contains(err.Error(), "cannot be renamed") {
		t.Errorf("message %q", err)
	}
	if got := mustGroupByID(t, st, pilot.ID).Name; got != "PILOT RING" {
		t.Errorf("refused renames changed the name to %q", got)
	}
	if n := groupAuditCount(t, st, ActionGroupRename); n != 2 {
		t.Errorf("%d rename entries, want 2 (refusals write none)", n)
	}
}

func TestDeleteGroup(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	inside, outside := healthy(1), healthy(2)
	mustUpsert(t, st, inside, outside)
	finance := mustCreateGroup(t, st, "Finance", "")
	lab := mustCreateGroup(t, st, "Lab", "")
	mustNest(t, st, RegistrationGroupName, "Finance")
	mustNest(t, st, "Finance", "Lab")
	mustAddMembers(t, st, "Finance", inside)
	mustAddMembers(t, st, "Lab", outside)
	if o, err := st.AddUser(ctx, "owner@example.com", RoleServiceAdmin, "long enough password", "tester"); err != nil {
		t.Fatal(err)
	} else if _, err := st.AddGroupOwner(ctx, finance.ID, o.ID, "tester"); err != nil {
		t.Fatal(err)
	}
	mustDiscover(t, st, testNow)
	wantStatus(t, st, inside.DeviceID, StatusActive)

	g, err := st.DeleteGroup(ctx, finance.ID, "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "Finance" {
		t.Errorf("deleted %+v", g)
	}
	_, err = st.GroupByID(ctx, finance.ID)
	wantErrIs(t, err, ErrNotFound)
	a := lastGroupAudit(t, st, ActionGroupDelete)
	if a.Target != "Finance" || a.Actor != "admin@example.com" ||
		!strings.Contains(a.Detail, "1 devices, 1 member groups") || !strings.Contains(a.Detail, "nested in "+RegistrationGroupName) {
		t.Errorf("audit %+v", a)
	}
	// Its memberships went with it: the registration group has no member
	// group, and Lab is nested nowhere.
	if reg := mustRegistrationGroup(t, st); reg.Groups != 0 {
		t.Errorf("registration group still counts %d member groups", reg.Groups)
	}
	if l := mustGroupByID(t, st, lab.ID); len(l.Parents) != 0 || l.Depth != -1 {
		t.Errorf("Lab after its parent was deleted: %+v", l)
	}
	// The device it brought in stays registered.
	mustDiscover(t, st, testNow)
	wantStatus(t, st, inside.DeviceID, StatusActive)

	reg := mustRegistrationGroup(t, st)
	_, err = st.DeleteGroup(ctx, reg.ID, "tester")
	wantErrIs(t, err, ErrInvalid)
	if !strings.Contains(err.Error(), "cannot be deleted") {
		t.Errorf("message %q", err)
	}
	_, err = st.DeleteGroup(ctx, finance.ID, "tester")
	wantErrIs(t, err, ErrNotFound)
	if n := groupAuditCount(t, st, ActionGroupDelete); n != 1 {
		t.Errorf("%d delete entries, want 1", n)
	}
}

func TestSetGroupRule(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	mustUpsert(t, st, healthy(1), healthy(2, func(d *Device) { d.DisplayName = "HR-DT-0002" }))
	dyn := mustCreateGroup(t, st, "AP devices", `device.displayName -startsWith "AP-"`)
	assigned := mustCreateGroup(t, st, "Pilot", "")

	g, err := st.SetGroupRule(ctx, dyn.ID, ` device.displayName -startsWith "HR-" `, "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if g.Rule != `device.displayName -startsWith "HR-"` || g.Kind != GroupDynamic {
		t.Errorf("after SetGroupRule: %+v", g)
	}
	a := lastGroupAudit(t, st, ActionGroupRule)
	if a.Target != "AP devices" || !strings.Contains(a.Detail, `"HR-"`) || !strings.Contains(a.Detail, `(was device.displayName -startsWith "AP-")`) {
		t.Errorf("audit %+v", a)
	}

	_, err = st.SetGroupRule(ctx, dyn.ID, `device.displayName -startsWith "HR-" -and`, "tester")
	wantRuleError(t, err, 42, "unexpected end of rule")
	_, err = st.SetGroupRule(ctx, dyn.ID, `device.displayName -eq "`+strings.Repeat("z", 3050)+`"`, "tester")
	wantRuleError(t, err, rule.MaxLength+1, "maximum is 3072")
	_, err = st.SetGroupRule(ctx, dyn.ID, "   ", "tester")
	wantRuleError(t, err, 1, "rule is empty")
	_, err = st.SetGroupRule(ctx, assigned.ID, `device.displayName -eq "x"`, "tester")
	wantErrIs(t, err, ErrInvalid)
	_, err = st.SetGroupRule(ctx, 9999, `device.displayName -eq "x"`, "tester")
	wantErrIs(t, err, ErrNotFound)
	if got := mustGroupByID(t, st, dyn.ID).Rule; got != `device.displayName -startsWith "HR-"` {
		t.Errorf("refused rules changed the rule to %q", got)
	}
	if n := groupAuditCount(t, st, ActionGroupRule); n != 1 {
		t.Errorf("%d rule entries, want 1", n)
	}
}

func TestNestAndUnnestGroups(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	a := mustCreateGroup(t, st, "A", "")
	b := mustCreateGroup(t, st, "B", "")
	c := mustCreateGroup(t, st, "C", "")
	dyn := mustCreateGroup(t, st, "Dynamic", `device.displayName -contains "AP"`)
	mustNest(t, st, RegistrationGroupName, "A")
	mustNest(t, st, "A", "B")
	mustNest(t, st, "B", "C")

	depth := func(id int64) int { return mustGroupByID(t, st, id).Depth }
	if depth(a.ID) != 1 || depth(b.ID) != 2 || depth(c.ID) != 3 || depth(dyn.ID) != -1 {
		t.Errorf("depths A=%d B=%d C=%d dynamic=%d", depth(a.ID), depth(b.ID), depth(c.ID), depth(dyn.ID))
	}
	if g := mustGroupByID(t, st, b.ID); !slices.Equal(g.Parents, []string{"A"}) || g.Discovered() {
		t.Errorf("B: %+v", g)
	}

	refusals := []struct {
		name, parent, child, msg string
	}{
		{"cycle", "C", "A", `group "A" already contains "C"; nesting it would make a cycle`},
		{"direct cycle", "B", "A", "cycle"},
		{"itself", "A", "A", "cannot be a member of itself"},
		{"into a dynamic group", "Dynamic", "C", `group "Dynamic" is dynamic; only assigned groups can have member groups`},
		{"the registration group", "A", RegistrationGroupName, "cannot be nested"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			err := st.NestGroup(ctx, tt.parent, tt.child, "tester")
			wantErrIs(t, err, ErrInvalid)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q, want %q", err, tt.msg)
			}
		})
	}
	wantErrIs(t, st.NestGroup(ctx, "A", "B", "tester"), ErrConflict)

	if err := st.RemoveGroupMember(ctx, a.ID, b.ID, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	if depth(b.ID) != -1 || depth(c.ID) != -1 {
		t.Errorf("after unnesting B: B=%d C=%d", depth(b.ID), depth(c.ID))
	}
	e := lastGroupAudit(t, st, ActionGroupUnnest)
	if e.Target != "B from A" || e.Actor != "admin@example.com" {
		t.Errorf("audit %+v", e)
	}
	wantErrIs(t, st.RemoveGroupMember(ctx, a.ID, b.ID, "tester"), ErrNotFound)
	wantErrIs(t, st.RemoveGroupMember(ctx, a.ID, 9999, "tester"), ErrNotFound)
	// Now the former cycle is allowed.
	mustNest(t, st, "C", "A")
}

func TestGroupOwners(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	reg := mustRegistrationGroup(t, st)
	pilot := mustCreateGroup(t, st, "Pilot", "")
	var users []User
	for _, email := range []string{"b@example.com", "a@example.com"} {
		u, err := st.AddUser(ctx, email, RoleServiceAdmin, "long enough password", "tester")
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}

	for _, u := range users {
		if _, err := st.AddGroupOwner(ctx, reg.ID, u.ID, "global@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	owners, err := st.GroupOwners(ctx, reg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) != 2 || owners[0].Email != "a@example.com" || owners[1].Email != "b@example.com" || owners[0].Role != RoleServiceAdmin {
		t.Errorf("owners %+v", owners)
	}
	if ok, err := st.IsGroupOwner(ctx, reg.ID, users[0].ID); err != nil || !ok {
		t.Errorf("IsGroupOwner = %v, %v", ok, err)
	}
	if ok, _ := st.IsGroupOwner(ctx, pilot.ID, users[0].ID); ok {
		t.Error("ownership of one group counts for another")
	}
	a := lastGroupAudit(t, st, ActionGroupOwnerAdd)
	if a.Target != RegistrationGroupName || a.Actor != "global@example.com" || !strings.Contains(a.Detail, "a@example.com (Service Administrator)") {
		t.Errorf("audit %+v", a)
	}

	_, err = st.AddGroupOwner(ctx, reg.ID, users[0].ID, "tester")
	wantErrIs(t, err, ErrConflict)
	_, err = st.AddGroupOwner(ctx, reg.ID, 999999, "tester")
	wantErrIs(t, err, ErrInvalid)
	if !strings.Contains(err.Error(), `no Patchboard account has the id 999999`) {
		t.Errorf("message %q", err)
	}
	_, err = st.AddGroupOwner(ctx, 9999, users[0].ID, "tester")
	wantErrIs(t, err, ErrNotFound)

	if err := st.RemoveGroupOwner(ctx, reg.ID, users[1].ID, "global@example.com"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.IsGroupOwner(ctx, reg.ID, users[1].ID); ok {
		t.Error("still an owner after RemoveGroupOwner")
	}
	if a := lastGroupAudit(t, st, ActionGroupOwnerRemove); a.Detail != "owner "+users[1].Email {
		t.Errorf("audit %+v", a)
	}
	wantErrIs(t, st.RemoveGroupOwner(ctx, reg.ID, users[1].ID, "tester"), ErrNotFound)
	wantErrIs(t, st.RemoveGroupOwner(ctx, reg.ID, 9999, "tester"), ErrNotFound)

	// Owners go with a deleted group.
	if _, err := st.AddGroupOwner(ctx, pilot.ID, users[0].ID, "tester"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteGroup(ctx, pilot.ID, "tester"); err != nil {
		t.Fatal(err)
	}
	if owners, _ := st.GroupOwners(ctx, pilot.ID); len(owners) != 0 {
		t.Errorf("a deleted group keeps owners %+v", owners)
	}
}

func TestGroupMembershipAuditNamesDevices(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	d1, d2 := healthy(1), healthy(2)
	mustUpsert(t, st, d1, d2)
	mustAddMembers(t, st, RegistrationGroupName, d1, d2)
	a := lastGroupAudit(t, st, ActionGroupMembers)
	for _, d := range []*Device{d1, d2} {
		if !strings.Contains(a.Target, d.DeviceID) || !strings.Contains(a.Target, "serial "+d.SerialNumber) {
			t.Errorf("add entry target %q does not name %s with its serial", a.Target, d.DeviceID)
		}
	}
	if n, err := st.RemoveGroupDevices(ctx, RegistrationGroupName, []string{d2.DeviceID}, "tester"); err != nil || n != 1 {
		t.Fatalf("remove: %d %v", n, err)
	}
	a = lastGroupAudit(t, st, ActionGroupMembers)
	if !strings.Contains(a.Target, RegistrationGroupName) || !strings.Contains(a.Target, d2.DeviceID+" (serial "+d2.SerialNumber+")") ||
		strings.Contains(a.Target, d1.DeviceID) {
		t.Errorf("remove entry %+v", a)
	}
	hist, err := st.AuditEntries(ctx, AuditFilter{DeviceID: d2.DeviceID})
	if err != nil || len(hist) != 2 {
		t.Errorf("device history %+v %v, want the add and the remove", hist, err)
	}
}

// nameOrder sorts like the members pages: NOCASE name, then row ID.
func sortByName(ds []GroupDevice) {
	slices.SortFunc(ds, func(a, b GroupDevice) int {
		return nameKey{a.DisplayName, a.PK}.compare(nameKey{b.DisplayName, b.PK})
	})
}

// walkMembers reads every page of a group's members.
func walkMembers(t testing.TB, st *Store, groupID int64, q MemberQuery) (pages []MemberPage, all []GroupDevice) {
	t.Helper()
	for i := 0; ; i++ {
		p, err := st.GroupMembers(context.Background(), groupID, q)
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if i > 0 && len(p.Groups) > 0 {
			t.Fatalf("page %d repeats the member groups", i)
		}
		pages = append(pages, p)
		all = append(all, p.Devices...)
		if p.Next == "" {
			return pages, all
		}
		if len(p.Devices) != max(q.Limit, 1) && q.Limit > 0 {
			t.Fatalf("page %d has %d rows and a next page", i, len(p.Devices))
		}
		q.After = p.Next
		if i > 10_000 {
			t.Fatal("paging does not end")
		}
	}
}

func memberIDs(ds []GroupDevice) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.DeviceID
	}
	return out
}

func TestGroupMembersPaging(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	// More members than a page sorts itself, so both plans run; names
	// repeat and differ in case, to test the cursor on ties.
	n := gatherMembersMax + 150
	devs := make([]*Device, n)
	for i := range devs {
		name := fmt.Sprintf("PC-%05d", (i*7919)%n)
		switch i % 10 {
		case 0:
			name = "ap-shared" // ties
		case 1:
			name = "AP-SHARED"
		}
		devs[i] = healthy(i+1, func(d *Device) { d.DisplayName = name })
	}
	mustUpsert(t, st, devs...)
	big := mustCreateGroup(t, st, "Big", "")
	small := mustCreateGroup(t, st, "Small", "")
	mustCreateGroup(t, st, "Nested AP", "")
	mustCreateGroup(t, st, "Nested other", "")
	mustNest(t, st, "Big", "Nested AP")
	mustNest(t, st, "Big", "Nested other")
	mustAddMembers(t, st, "Big", devs[:n-5]...)
	mustAddMembers(t, st, "Small", devs[:300]...)

	check := func(t *testing.T, groupID int64, members []*Device, q MemberQuery) {
		var want []GroupDevice
		for _, d := range members {
			rec := mustDevice(t, st, d.DeviceID)
			needle := strings.ToLower(q.Search)
			if needle != "" && !strings.Contains(strings.ToLower(d.DisplayName+"|"+d.SerialNumber+"|"+d.DeviceID), needle) {
				continue
			}
			want = append(want, GroupDevice{PK: rec.PK, DeviceID: d.DeviceID, DisplayName: d.DisplayName})
		}
		sortByName(want)
		pages, got := walkMembers(t, st, groupID, q)
		if !slices.Equal(memberIDs(got), memberIDs(want)) {
			t.Fatalf("%d members over %d pages, want %d in name order\nfirst got %v\nfirst want %v",
				len(got), len(pages), len(want), memberIDs(got)[:min(5, len(got))], memberIDs(want)[:min(5, len(want))])
		}
		wantTotal, wantCapped := len(want), q.Search != "" && len(want) > SearchCountCap
		if wantCapped {
			wantTotal = SearchCountCap
		}
		for i, p := range pages {
			if p.Total != wantTotal || p.Capped != wantCapped {
				t.Errorf("page %d: total %d capped %v, want %d", i, p.Total, p.Capped, len(want))
			}
		}
		for _, d := range got {
			if d.AddedBy != "tester" || d.AddedAt.IsZero() || d.SerialNumber == "" {
				t.Fatalf("member %+v lacks its fields", d)
			}
		}
	}
	t.Run("walk", func(t *testing.T) { check(t, big.ID, devs[:n-5], MemberQuery{Limit: 97}) })
	t.Run("gather", func(t *testing.T) { check(t, small.ID, devs[:300], MemberQuery{Limit: 50}) })
	t.Run("search", func(t *testing.T) { check(t, big.ID, devs[:n-5], MemberQuery{Search: "ap-sh", Limit: 40}) })
	t.Run("search matching more than the count", func(t *testing.T) { check(t, big.ID, devs[:n-5], MemberQuery{Search: "pc-0", Limit: 200}) })
	t.Run("search serial", func(t *testing.T) { check(t, big.ID, devs[:n-5], MemberQuery{Search: "sn00012", Limit: 3}) })

	p, err := st.GroupMembers(ctx, big.ID, MemberQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Devices) != 50 || len(p.Groups) != 2 || p.Groups[0].Name != "Nested AP" || p.Total != n-5 {
		t.Errorf("first page: %d devices, groups %v, total %d", len(p.Devices), p.Groups, p.Total)
	}
	if p, _ := st.GroupMembers(ctx, big.ID, MemberQuery{Search: "nested a"}); len(p.Groups) != 1 || len(p.Devices) != 0 {
		t.Errorf("search for a member group: %+v", p)
	}
	_, err = st.GroupMembers(ctx, big.ID, MemberQuery{After: "not a cursor"})
	wantErrIs(t, err, ErrInvalid)
	_, err = st.GroupMembers(ctx, 9999, MemberQuery{})
	wantErrIs(t, err, ErrNotFound)
}

func TestGroupMembersPlans(t *testing.T) {
	st := openTestStore(t)
	cur := &memberCursor{Name: "x", PK: 7}
	big := Group{ID: 1, Devices: gatherMembersMax + 1}
	small := Group{ID: 1, Devices: 10}
	for _, tt := range []struct {
		name    string
		g       Group
		like    string
		matched []int64
		cur     *memberCursor
		index   string
		sorts   bool
	}{
		{"big first page", big, "", nil, nil, "devices_name", false},
		{"big after a cursor", big, "", nil, cur, "devices_name", false},
		{"small", small, "", nil, cur, "group_members_device", true},
		{"search matching few", big, "%ap%", []int64{3, 1, 2}, cur, "INTEGER PRIMARY KEY", true},
		{"search matching many", big, "%ap%", nil, cur, "devices_name", false},
	} {
		for _, qu := range memberStatements(tt.g, tt.like, tt.matched, tt.cur, 51) {
			plan := queryPlan(t, st, qu)
			if !strings.Contains(plan, tt.index) || strings.Contains(plan, "TEMP B-TREE") != tt.sorts || strings.Contains(plan, "SCAN m") {
				t.Errorf("%s: plan\n%s\nwant %s, sorting %v, no scan of the memberships\nSQL: %s", tt.name, plan, tt.index, tt.sorts, qu.sql)
			}
			if tt.index == "devices_name" && tt.cur != nil && !seeks.MatchString(plan) {
				t.Errorf("%s: plan\n%s\nwant a seek past the cursor", tt.name, plan)
			}
		}
	}
}

func TestPreviewRuleAndDynamicMembers(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	var devs []*Device
	for i := 1; i <= 130; i++ {
		name := fmt.Sprintf("AP-LT-%04d", 131-i)
		if i%3 == 0 {
			name = fmt.Sprintf("HR-DT-%04d", i)
		}
		devs = append(devs, healthy(i, func(d *Device) { d.DisplayName = name }))
	}
	devs = append(devs, healthy(200, func(d *Device) { d.DisplayName = "AP-AVD-0001"; d.DeviceKind = KindAVDMultiSession }))
	mustUpsert(t, st, devs...)
	const src = `(device.displayName -contains "ap") -and (device.deviceOSType -ne "Windows 10 Enterprise for Virtual Desktops")`
	var want []string
	for _, d := range devs {
		if strings.HasPrefix(d.DisplayName, "AP-LT") {
			want = append(want, d.DisplayName)
		}
	}
	slices.Sort(want)

	p, err := st.PreviewRule(ctx, src, 20)
	if err != nil {
		t.Fatal(err)
	}
	if p.Matches != len(want) || p.Directory != len(devs) || len(p.Devices) != 20 {
		t.Fatalf("preview: %d matches of %d, %d devices; want %d of %d, 20", p.Matches, p.Directory, len(p.Devices), len(want), len(devs))
	}
	for i, d := range p.Devices {
		if d.DisplayName != want[i] || d.DeviceID == "" || d.SerialNumber == "" {
			t.Fatalf("preview device %d: %+v, want %s", i, d, want[i])
		}
	}
	if !slices.Equal(p.Properties, []rule.Property{rule.DisplayName, rule.DeviceOSType}) || !strings.HasPrefix(p.Rule, "device.displayName -contains") {
		t.Errorf("preview rule %q properties %v", p.Rule, p.Properties)
	}
	if p, err := st.PreviewRule(ctx, `device.serialNumber -eq "none"`, 20); err != nil || p.Matches != 0 || len(p.Devices) != 0 {
		t.Errorf("no match: %+v %v", p, err)
	}
	_, err = st.PreviewRule(ctx, `device.displayName -contains "ap" -and (`, 20)
	wantRuleError(t, err, 41, "unexpected end of rule")

	// The dynamic group pages the same matches.
	g := mustCreateGroup(t, st, "AP devices", src)
	pages, got := walkMembers(t, st, g.ID, MemberQuery{Limit: 15})
	var names []string
	for _, d := range got {
		names = append(names, d.DisplayName)
	}
	if !slices.Equal(names, want) || pages[0].Total != len(want) || len(pages[0].Groups) != 0 {
		t.Errorf("dynamic members %v (total %d), want %v", names, pages[0].Total, want)
	}
	var wantLT []string
	for _, n := range want {
		if strings.Contains(n, "LT-001") {
			wantLT = append(wantLT, n)
		}
	}
	_, got = walkMembers(t, st, g.ID, MemberQuery{Search: "lt-001", Limit: 4})
	names = names[:0]
	for _, d := range got {
		names = append(names, d.DisplayName)
	}
	if len(wantLT) < 5 || !slices.Equal(names, wantLT) {
		t.Errorf("search of a dynamic group found %v, want %v", names, wantLT)
	}
}

func TestMemberCounts(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	mustUpsert(t, st, healthy(1), healthy(2), healthy(3, func(d *Device) { d.DisplayName = "HR-1"; d.AccountEnabled = false }))
	pilot := mustCreateGroup(t, st, "Pilot", "")
	mustCreateGroup(t, st, "Sub", "")
	mustNest(t, st, "Pilot", "Sub")
	mustAddMembers(t, st, "Pilot", healthy(1), healthy(2))
	ap := mustCreateGroup(t, st, "AP", `device.displayName -startsWith "AP-"`)
	disabled := mustCreateGroup(t, st, "Disabled", `device.accountEnabled -eq false`)
	none := mustCreateGroup(t, st, "None", `device.serialNumber -eq "nothing"`)
	reg := mustRegistrationGroup(t, st)

	counts, err := st.MemberCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]int{pilot.ID: 2, ap.ID: 2, disabled.ID: 1, none.ID: 0, reg.ID: 0} // Pilot: two devices (and a nested group, not counted)
	for id, n := range want {
		if counts[id] != n {
			t.Errorf("group %d counts %d, want %d (all: %v)", id, counts[id], n, counts)
		}
	}
}

func TestDirectoryMatches(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	var devs []*Device
	for i := 1; i <= 30; i++ {
		devs = append(devs, healthy(i))
	}
	devs = append(devs, healthy(99, func(d *Device) { d.DisplayName = "KIOSK-1"; d.SerialNumber = "AP-LT-0001X" }),
		healthy(98, func(d *Device) { d.DisplayName = "AA-AP-LT-0001X-TWIN" }))
	mustUpsert(t, st, devs...)
	pilot := mustCreateGroup(t, st, "Pilot", "")
	mustAddMembers(t, st, "Pilot", devs[0])

	m, err := st.DirectoryMatches(ctx, pilot.ID, "{"+strings.ToUpper(devs[4].DeviceID)+"}", 10)
	if err != nil || len(m) != 1 || m[0].DeviceID != devs[4].DeviceID || m[0].Member {
		t.Fatalf("by device ID: %+v %v", m, err)
	}
	m, _ = st.DirectoryMatches(ctx, pilot.ID, strings.ToLower(devs[0].SerialNumber), 10)
	if len(m) != 1 || m[0].DeviceID != devs[0].DeviceID || !m[0].Member {
		t.Fatalf("by serial: %+v", m)
	}
	// Names and serials containing the text, by name, up to the limit.
	m, _ = st.DirectoryMatches(ctx, pilot.ID, "ap-lt-000", 5)
	if len(m) != 5 || m[0].DisplayName != "AA-AP-LT-0001X-TWIN" || m[1].DisplayName != "AP-LT-0001" || !m[1].Member ||
		m[4].DisplayName != "AP-LT-0004" || m[2].Member {
		t.Fatalf("by name: %+v", m)
	}
	// An exact serial number comes before the names containing the text.
	m, _ = st.DirectoryMatches(ctx, pilot.ID, "ap-lt-0001x", 5)
	if len(m) != 2 || m[0].DisplayName != "KIOSK-1" || m[1].DisplayName != "AA-AP-LT-0001X-TWIN" {
		t.Fatalf("by exact serial: %+v", m)
	}
	if m, _ := st.DirectoryMatches(ctx, pilot.ID, "  ", 5); len(m) != 0 {
		t.Errorf("blank search: %+v", m)
	}
	if m, _ := st.DirectoryMatches(ctx, pilot.ID, "100%", 5); len(m) != 0 {
		t.Errorf("LIKE wildcards are not escaped: %+v", m)
	}
}

func TestRuleCacheFollowsChanges(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	mustUpsert(t, st, healthy(1), healthy(2))
	const src = `device.displayName -startsWith "KIOSK"`
	matches := func() int {
		t.Helper()
		p, err := st.PreviewRule(ctx, src, 5)
		if err != nil {
			t.Fatal(err)
		}
		return p.Matches
	}
	if n := matches(); n != 0 {
		t.Fatalf("%d matches before any kiosk", n)
	}
	// A change through this store.
	mustUpsert(t, st, healthy(3, func(d *Device) { d.DisplayName = "KIOSK-3" }))
	if n := matches(); n != 1 {
		t.Fatalf("%d matches after adding a kiosk, want 1", n)
	}
	// A change by another process (the CLI) on the same file.
	var path string
	if err := st.r.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&path); err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	mustUpsert(t, other, healthy(1, func(d *Device) { d.DisplayName = "KIOSK-1" }))
	if n := matches(); n != 2 {
		t.Fatalf("%d matches after another process renamed a device, want 2", n)
	}
	// Unchanged, the rows come from memory: the same set is returned.
	a, _ := st.leanDevices(ctx, []string{"display_name"})
	b, _ := st.leanDevices(ctx, []string{"display_name"})
	if a != b {
		t.Error("an unchanged directory was read again")
	}
	if err := st.Record(ctx, AuditEntry{Actor: "t", Action: "x", Outcome: OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.leanDevices(ctx, []string{"display_name"}); c == a {
		t.Error("a commit did not invalidate the cached rows")
	}
}
