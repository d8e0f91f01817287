package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// membersOf returns the device IDs of a group's direct device members.
func membersOf(t testing.TB, st *Store, group string) []string {
	t.Helper()
	rows, err := st.r.Query(`SELECT d.device_id FROM group_members m JOIN groups g ON g.id = m.group_id
		JOIN devices d ON d.id = m.device_pk WHERE g.name = ? ORDER BY d.device_id`, group)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// auditCount counts the audit entries of an action.
func auditCount(t testing.TB, st *Store, action string) int {
	t.Helper()
	var n int
	if err := st.r.QueryRow(`SELECT count(*) FROM audit_log WHERE action = ?`, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// importFixture is a store with devices 1–5 (device 4 and 5 share a serial
// number and device 5 shares device 3's name) and an assigned group "Pilot"
// holding device 1.
func importFixture(t *testing.T) *Store {
	t.Helper()
	st := openTestStore(t)
	mustUpsert(t, st, healthy(1), healthy(2), healthy(3), healthy(4, func(d *Device) { d.SerialNumber = "SHARED-1" }),
		healthy(5, func(d *Device) { d.SerialNumber = "shared-1"; d.DisplayName = "ap-lt-0003" }))
	if _, err := st.CreateGroup(context.Background(), "Pilot", "", "tester"); err != nil {
		t.Fatal(err)
	}
	mustAddMembers(t, st, "Pilot", healthy(1))
	return st
}

func sameMemberCounts(a, b MemberImportResult) bool {
	return a.Rows == b.Rows && a.Added == b.Added && a.Already == b.Already && a.Duplicates == b.Duplicates
}

func validationErrors(t *testing.T, err error) []FieldError {
	t.Helper()
	var verr *ValidationError
	if !errors.As(err, &verr) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v, want a *ValidationError wrapping ErrInvalid", err)
	}
	return verr.Errors
}

func TestImportMembers(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		give string
		want MemberImportResult // DevicePKs not compared
	}{
		{"device IDs", "device_id\n" + testID(1) + "\n" + testID(2) + "\n" + testID(3) + "\n",
			MemberImportResult{Rows: 3, Added: 2, Already: 1}},
		{"IDs in braces and upper case, BOM, CRLF", "\ufeffDevice_ID\r\n{" + strings.ToUpper(testID(2)) + "}\r\n",
			MemberImportResult{Rows: 1, Added: 1}},
		{"serial numbers, any case", "serial_number\nsn000002\nSN000003\n", MemberImportResult{Rows: 2, Added: 2}},
		{"display names, any case", "display_name\nap-lt-0002\nAP-LT-0004\n", MemberImportResult{Rows: 2, Added: 2}},
		{"duplicates are counted, not fatal", "device_id\n" + testID(2) + "\n" + testID(2) + "\n" + strings.ToUpper(testID(2)) + "\n",
			MemberImportResult{Rows: 3, Added: 1, Duplicates: 2}},
		{"blank lines and trailing empty cells", "serial_number,\n\nSN000002,\n,\n  \nSN000003\n",
			MemberImportResult{Rows: 2, Added: 2}},
		{"header only", "device_id\n", MemberImportResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := importFixture(t)
			before := membersOf(t, st, "Pilot")
			audits := auditCount(t, st, ActionGroupMembers)

			preview, err := st.ImportMembers(ctx, "Pilot", strings.NewReader(tt.give), "file.csv", "tester", true)
			if err != nil {
				t.Fatalf("preview: %v", err)
			}
			if !sameMemberCounts(preview, tt.want) {
				t.Errorf("preview = %+v, want %+v", preview, tt.want)
			}
			if got := membersOf(t, st, "Pilot"); strings.Join(got, ",") != strings.Join(before, ",") {
				t.Fatalf("the preview changed the members: %v, was %v", got, before)
			}
			if got := auditCount(t, st, ActionGroupMembers); got != audits {
				t.Fatalf("the preview wrote an audit entry")
			}

			res, err := st.ImportMembers(ctx, "Pilot", strings.NewReader(tt.give), "file.csv", "tester", false)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if len(res.DevicePKs) != tt.want.Added+tt.want.Already {
				t.Errorf("DevicePKs = %v, want %d devices", res.DevicePKs, tt.want.Added+tt.want.Already)
			}
			if !sameMemberCounts(res, tt.want) {
				t.Errorf("import = %+v, want %+v (the preview's counts)", res, tt.want)
			}
			if got := len(membersOf(t, st, "Pilot")); got != len(before)+tt.want.Added {
				t.Errorf("%d members after the import, want %d", got, len(before)+tt.want.Added)
			}
			entries, err := st.AuditEntries(ctx, AuditFilter{Action: ActionGroupMembers, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			wantDetail := fmt.Sprintf("import file.csv: %d rows, %d added, %d already members, %d duplicate rows",
				tt.want.Rows, tt.want.Added, tt.want.Already, tt.want.Duplicates)
			if len(entries) == 0 || entries[0].Detail != wantDetail || !strings.HasPrefix(entries[0].Target, "Pilot") {
				t.Errorf("audit entry %+v, want target Pilot and detail %q", entries, wantDetail)
			}
		})
	}
}

func TestImportMembersRejectsAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		give string
		want []FieldError // Row, Field, Value, and a fragment of the Reason
	}{
		{"unknown device", "device_id\n" + testID(2) + "\n" + testID(99) + "\n",
			[]FieldError{{Row: 2, Field: "device_id", Value: testID(99), Reason: "no device has device_id"}}},
		{"not a GUID", "device_id\n" + testID(2) + "\nPC-0001\n",
			[]FieldError{{Row: 2, Field: "device_id", Value: "PC-0001", Reason: "is not a device ID"}}},
		{"ambiguous serial number", "serial_number\nSN000002\nSHARED-1\n",
			[]FieldError{{Row: 2, Field: "serial_number", Value: "SHARED-1", Reason: "matches more than one device; use device_id"}}},
		{"ambiguous display name", "display_name\nAP-LT-0003\n",
			[]FieldError{{Row: 1, Field: "display_name", Value: "AP-LT-0003", Reason: "matches more than one device"}}},
		{"unknown serial number", "serial_number\nnope\n",
			[]FieldError{{Row: 1, Field: "serial_number", Value: "nope", Reason: `no device has serial_number "nope"`}}},
		{"two cells", "device_id\n" + testID(2) + ",x\n",
			[]FieldError{{Row: 1, Field: "device_id", Reason: "the row has 2 values"}}},
		{"row numbers count blank lines", "device_id\n" + testID(2) + "\n\n" + testID(98) + "\n",
			[]FieldError{{Row: 3, Field: "device_id", Value: testID(98), Reason: "no device has"}}},
		{"every bad row is reported", "serial_number\nx1\nSN000002\nx2\nSHARED-1\n",
			[]FieldError{{Row: 1, Value: "x1"}, {Row: 3, Value: "x2"}, {Row: 4, Value: "SHARED-1", Reason: "more than one"}}},
		{"bad CSV", "display_name\n\"AP-LT-0002\n",
			[]FieldError{{Row: 1, Reason: "not valid CSV"}}},
		{"empty file", "", []FieldError{{Reason: "the file is empty"}}},
		{"UTF-16", "\xff\xfed\x00", []FieldError{{Reason: "UTF-16"}}},
		{"two columns", "device_id,serial_number\n", []FieldError{{Reason: "the header has 2 columns"}}},
		{"unknown column", "Serial Number\n", []FieldError{{Reason: "did you mean serial_number?"}}},
		{"inventory file", "hostname\n", []FieldError{{Reason: `the header "hostname" is not one of`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := importFixture(t)
			before := membersOf(t, st, "Pilot")
			audits := auditCount(t, st, ActionGroupMembers)
			for _, dry := range []bool{true, false} {
				_, err := st.ImportMembers(ctx, "Pilot", strings.NewReader(tt.give), "file.csv", "tester", dry)
				got := validationErrors(t, err)
				if len(got) != len(tt.want) {
					t.Fatalf("dry run %v: errors %v, want %d", dry, got, len(tt.want))
				}
				for i, w := range tt.want {
					g := got[i]
					if g.Row != w.Row || w.Field != "" && g.Field != w.Field || w.Value != "" && g.Value != w.Value || !strings.Contains(g.Reason, w.Reason) {
						t.Errorf("dry run %v: error %d = %+v, want %+v", dry, i, g, w)
					}
				}
			}
			if got := membersOf(t, st, "Pilot"); strings.Join(got, ",") != strings.Join(before, ",") {
				t.Errorf("a rejected import changed the members: %v, was %v", got, before)
			}
			if got := auditCount(t, st, ActionGroupMembers); got != audits {
				t.Errorf("a rejected import wrote an audit entry")
			}
		})
	}
}

func TestImportMembersRefusals(t *testing.T) {
	ctx := context.Background()
	st := importFixture(t)
	if _, err := st.CreateGroup(ctx, "Dynamic", `device.displayName -startsWith "AP"`, "tester"); err != nil {
		t.Fatal(err)
	}
	_, err := st.ImportMembers(ctx, "Dynamic", strings.NewReader("device_id\n"+testID(1)+"\n"), "f", "tester", true)
	wantErrIs(t, err, ErrInvalid)
	_, err = st.ImportMembers(ctx, "Nope", strings.NewReader("device_id\n"+testID(1)+"\n"), "f", "tester", true)
	wantErrIs(t, err, ErrNotFound)
}

func TestImportMembersBatches(t *testing.T) {
	// More rows than one lookup batch, with a bad row in the second batch:
	// the row number and the counts survive the batching.
	ctx := context.Background()
	st := openTestStore(t)
	n := memberBatch + 10
	devs := make([]*Device, n)
	var body bytes.Buffer
	for i := range devs {
		devs[i] = healthy(i + 1)
		fmt.Fprintf(&body, "%s\n", devs[i].SerialNumber)
	}
	mustUpsert(t, st, devs...)
	good := "serial_number\n" + body.String()
	bad := good + "missing\n"
	_, err := st.ImportMembers(ctx, RegistrationGroupName, strings.NewReader(bad), "f", "tester", false)
	if errs := validationErrors(t, err); len(errs) != 1 || errs[0].Row != n+1 {
		t.Fatalf("errors %v, want one on row %d", errs, n+1)
	}
	res, err := st.ImportMembers(ctx, RegistrationGroupName, strings.NewReader(good+body.String()), "f", "tester", false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2*n || res.Added != n || res.Duplicates != n || len(res.DevicePKs) != n {
		t.Fatalf("result %+v, want %d rows, %d added, %d duplicates", res, 2*n, n, n)
	}
	// The audit entry links every added device for its history.
	var linked int
	if err := st.r.QueryRow(`SELECT count(*) FROM audit_devices`).Scan(&linked); err != nil {
		t.Fatal(err)
	}
	if linked != n {
		t.Errorf("%d devices linked to audit entries, want %d", linked, n)
	}
}

// TestImportMembers100k imports 100,000 members (preview, then commit).
// Timing is reported by BenchmarkImportMembersPreviewCommit, not asserted.
func TestImportMembers100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 rows: not with -short")
	}
	const n = 100_000
	ctx := context.Background()
	st := openTestStore(t)
	if _, err := st.ImportDevices(ctx, bytes.NewReader(benchInventoryCSV(n)), "bench", "tester"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateGroup(ctx, "Everyone", "", "tester"); err != nil {
		t.Fatal(err)
	}
	file := benchMemberCSV("serial_number", n)
	start := time.Now()
	preview, err := st.ImportMembers(ctx, "Everyone", bytes.NewReader(file), "f", "tester", true)
	if err != nil {
		t.Fatal(err)
	}
	if preview.Rows != n || preview.Added != n {
		t.Fatalf("preview %d rows, %d to add; want %d", preview.Rows, preview.Added, n)
	}
	mid := time.Now()
	res, err := st.ImportMembers(ctx, "Everyone", bytes.NewReader(file), "f", "tester", false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != n || len(membersOf(t, st, "Everyone")) != n {
		t.Fatalf("imported %+v", res.Added)
	}
	t.Logf("100,000 members: preview %s, commit %s", mid.Sub(start).Round(time.Millisecond), time.Since(mid).Round(time.Millisecond))
}

func TestPreviewDevices(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	header := "device_id,display_name,serial_number\n"
	base := header + testID(1) + ",AP-LT-0001,SN000001\n" + testID(2) + ",AP-LT-0002,SN000002\n"
	if _, err := st.ImportDevices(ctx, strings.NewReader(base), "base", "tester"); err != nil {
		t.Fatal(err)
	}
	good := header +
		testID(1) + ",AP-LT-0001,SN000001\n" + // unchanged
		testID(2) + ",AP-LT-0002-RENAMED,SN000002\n" + // updated
		testID(3) + ",AP-LT-0003,SN000003\n" // new
	countDevices := func() int {
		var n int
		if err := st.r.QueryRow(`SELECT count(*) FROM devices`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	audits := auditCount(t, st, ActionImportDevice)

	preview, err := st.PreviewDevices(ctx, strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	want := ImportResult{Rows: 3, Inserted: 1, Updated: 1, Unchanged: 1}
	if preview != want {
		t.Errorf("preview = %+v, want %+v", preview, want)
	}
	if countDevices() != 2 || mustDevice(t, st, testID(2)).DisplayName != "AP-LT-0002" || auditCount(t, st, ActionImportDevice) != audits {
		t.Fatal("the preview wrote to the directory or the audit log")
	}

	bad := good + "not-a-guid,X,Y\n" + testID(4) + ",,Z\n"
	_, err = st.PreviewDevices(ctx, strings.NewReader(bad))
	errs := validationErrors(t, err)
	if len(errs) != 2 || errs[0].Row != 4 || errs[0].Field != "device_id" || errs[1].Row != 5 || errs[1].Field != "display_name" {
		t.Errorf("errors %+v, want device_id on row 4 and display_name on row 5", errs)
	}
	if _, err := st.ImportDevices(ctx, strings.NewReader(bad), "f", "tester"); err == nil {
		t.Fatal("the import accepted the file the preview rejected")
	}
	if countDevices() != 2 {
		t.Fatal("a rejected file wrote devices")
	}

	res, err := st.ImportDevices(ctx, strings.NewReader(good), "f", "tester")
	if err != nil {
		t.Fatal(err)
	}
	if res != preview {
		t.Errorf("import = %+v, want the preview's %+v", res, preview)
	}
	if countDevices() != 3 || auditCount(t, st, ActionImportDevice) != audits+1 {
		t.Error("the import did not write")
	}
}

func TestMemberImportPermissions(t *testing.T) {
	ctx := context.Background()
	st := importFixture(t)
	if _, err := st.CreateGroup(ctx, "Dynamic", `device.displayName -startsWith "AP"`, "tester"); err != nil {
		t.Fatal(err)
	}
	users := map[Role]User{}
	for _, r := range Roles {
		u, err := st.AddUser(ctx, string(r)+"@example.com", r, "correct horse battery", "tester")
		if err != nil {
			t.Fatal(err)
		}
		users[r] = u
	}
	owner, err := st.AddUser(ctx, "owner@example.com", RoleServiceAdmin, "correct horse battery", "tester")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := st.Group(ctx, RegistrationGroupName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddGroupOwner(ctx, reg.ID, owner.ID, "tester"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user  User
		group string
		want  bool
	}{
		{users[RoleGlobalAdmin], RegistrationGroupName, true},
		{users[RoleIntuneAdmin], RegistrationGroupName, true},
		{users[RoleServiceAdmin], RegistrationGroupName, false},
		{owner, RegistrationGroupName, true},
		{users[RoleServiceReader], RegistrationGroupName, false},
		{users[RoleServiceAdmin], "Pilot", true},
		{users[RoleServiceReader], "pilot", false},
	}
	for _, tt := range tests {
		g, err := st.MemberImportTarget(ctx, tt.group, tt.user)
		if err != nil {
			t.Fatal(err)
		}
		if g.Allowed != tt.want {
			t.Errorf("%s into %s: allowed %v, want %v", tt.user.Email, tt.group, g.Allowed, tt.want)
		}
	}
	if _, err := st.MemberImportTarget(ctx, "Dynamic", owner); !errors.Is(err, ErrInvalid) {
		t.Errorf("a dynamic group: %v, want ErrInvalid", err)
	}
	groups, err := st.MemberImportGroups(ctx, users[RoleServiceAdmin])
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups {
		names = append(names, fmt.Sprintf("%s=%v", g.Name, g.Allowed))
	}
	if got := strings.Join(names, ","); got != RegistrationGroupName+"=false,Pilot=true" {
		t.Errorf("groups offered to a Service Administrator: %s", got)
	}
}
