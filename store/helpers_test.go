package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// testNow is the clock of the scenario tests.
var testNow = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func openTestStore(t testing.TB) *Store {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "pb.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func testID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// healthy returns a device that passes every prerequisite and readiness check.
func healthy(n int, mods ...func(*Device)) *Device {
	d := &Device{
		DeviceID: testID(n), DisplayName: fmt.Sprintf("AP-LT-%04d", n),
		SerialNumber: fmt.Sprintf("SN%06d", n), Manufacturer: "Dell Inc.", Model: "Latitude 7440",
		OS: OSWindows, OSVersion: "10.0.22631.4460", Edition: "Enterprise", Architecture: ArchX64,
		JoinType: JoinEntraJoined, Ownership: OwnershipCompany, Management: ManagementIntune,
		LastCheckin: testNow.Add(-24 * time.Hour), DeviceKind: KindPhysical, AccountEnabled: true,
		WUPolicySource: "intune", OfficePolicySource: "cdn", InternetConnected: SignalTrue,
	}
	for _, m := range mods {
		m(d)
	}
	return d
}

func mustUpsert(t testing.TB, st *Store, devs ...*Device) {
	t.Helper()
	if _, err := st.UpsertDevices(context.Background(), devs, "test", "tester"); err != nil {
		t.Fatalf("upsert: %v", err)
	}
}

func mustAddMembers(t testing.TB, st *Store, group string, devs ...*Device) {
	t.Helper()
	ids := make([]string, len(devs))
	for i, d := range devs {
		ids[i] = d.DeviceID
	}
	if _, err := st.AddGroupDevices(context.Background(), group, ids, "tester"); err != nil {
		t.Fatalf("add members to %s: %v", group, err)
	}
}

func mustDiscover(t testing.TB, st *Store, now time.Time) DiscoveryRun {
	t.Helper()
	run, err := st.Discover(context.Background(), TriggerCLI, "tester", now)
	if err != nil {
		t.Fatalf("discover: %v", err)
	}
	return run
}

func mustDevice(t testing.TB, st *Store, id string) DeviceRecord {
	t.Helper()
	rec, err := st.Device(context.Background(), id)
	if err != nil {
		t.Fatalf("device %s: %v", id, err)
	}
	return rec
}

func wantStatus(t testing.TB, st *Store, id string, want Status) DeviceRecord {
	t.Helper()
	rec := mustDevice(t, st, id)
	if rec.Status != want {
		t.Fatalf("device %s (%s): status %q, want %q (reasons %v)", id, rec.DisplayName, rec.Status, want, rec.Failures)
	}
	return rec
}

func wantErrIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}
