package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRegisterDevicesDirectly(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	member := healthy(1)
	direct := healthy(2)
	failing := healthy(3, func(d *Device) { d.Management = ManagementNone })
	excluded := healthy(4)
	repaired := healthy(5, func(d *Device) { d.SerialNumber = member.SerialNumber }) // the member's hardware, a new ID
	mustUpsert(t, st, member, direct, failing, excluded, repaired)
	mustAddMembers(t, st, RegistrationGroupName, member, excluded)
	mustDiscover(t, st, testNow)
	if _, err := st.Deregister(ctx, []string{excluded.DeviceID}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	memberRec := wantStatus(t, st, member.DeviceID, StatusActive)

	now := testNow.Add(time.Hour)
	ids := []string{direct.DeviceID, failing.DeviceID, member.DeviceID, excluded.DeviceID, testID(99), repaired.DeviceID,
		"{" + strings.ToUpper(direct.DeviceID) + "}", "not-a-guid"}
	out, err := st.RegisterDevices(ctx, ids, "token:w365", now)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id     string
		result RegistrationResult
		status Status
	}{
		{direct.DeviceID, RegistrationRegistered, StatusActive},
		{failing.DeviceID, RegistrationFailed, StatusPrerequisitesFailed},
		{member.DeviceID, RegistrationAlreadyRegistered, StatusActive},
		{excluded.DeviceID, RegistrationExcluded, StatusExcluded},
		{testID(99), RegistrationNotFound, ""},
		{repaired.DeviceID, RegistrationFailed, StatusPrerequisitesFailed},
		{"not-a-guid", RegistrationNotFound, ""},
	}
	if len(out) != len(want) {
		t.Fatalf("%d outcomes, want %d (duplicates once): %+v", len(out), len(want), out)
	}
	for i, w := range want {
		o := out[i]
		if o.DeviceID != w.id || o.Result != w.result || o.Status != w.status {
			t.Errorf("outcome %d: %s %s %s, want %s %s %s", i, o.DeviceID, o.Result, o.Status, w.id, w.result, w.status)
		}
	}

	// Registered: a ring from the service, the time of the call, and the
	// way it came.
	if o := out[0]; o.Ring == "" || o.RingBy != RingByService || o.SerialNumber != direct.SerialNumber || len(o.Failures) != 0 {
		t.Errorf("registered outcome %+v", o)
	}
	rec := wantStatus(t, st, direct.DeviceID, StatusActive)
	if rec.Ring != out[0].Ring || !rec.RegisteredAt.Equal(now) || rec.DiscoveredVia != DirectRegistrationVia || rec.RingBy != RingByService {
		t.Errorf("stored registration %+v", rec.Registration)
	}
	// Failed: every failure, stored as discovery stores them.
	if o := out[1]; len(o.Failures) != 1 || o.Failures[0].Check != CheckIntuneOrCloudAttached || o.Failures[0].Remediation == "" {
		t.Errorf("failed outcome %+v", o)
	}
	rec = wantStatus(t, st, failing.DeviceID, StatusPrerequisitesFailed)
	if len(rec.Failures) != 1 || rec.Failures[0].Check != CheckIntuneOrCloudAttached || rec.Reasons[0] != CheckIntuneOrCloudAttached {
		t.Errorf("stored failures %+v", rec.Failures)
	}
	if o := out[2]; o.Ring != memberRec.Ring || !strings.Contains(o.Reason, "already registered") {
		t.Errorf("already registered outcome %+v", o)
	}
	if o := out[3]; !strings.Contains(o.Reason, "restore") {
		t.Errorf("excluded outcome %+v", o)
	}
	// The new ID of repaired hardware fails while the old record holds the serial.
	if o := out[5]; len(o.Failures) == 0 || o.Failures[0].Check != CheckHardwareIdentity || !strings.Contains(o.Failures[0].Reason, member.DeviceID) {
		t.Errorf("hardware identity outcome %+v", o)
	}

	entries, err := st.AuditEntries(ctx, AuditFilter{Action: ActionRegister})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	if e := entries[0]; e.Actor != "token:w365" || !strings.Contains(e.Target, direct.DeviceID+" (serial "+direct.SerialNumber+")") ||
		!strings.Contains(e.Detail, "1 registered, 2 prerequisites failed, 1 already registered, 1 excluded, 2 not found") {
		t.Errorf("audit entry %+v", e)
	}
	if hist, _ := st.AuditEntries(ctx, AuditFilter{DeviceID: direct.DeviceID, Action: ActionRegister}); len(hist) != 1 {
		t.Errorf("the device's history lacks the registration: %+v", hist)
	}

	// Later discoveries re-check the directly registered device like any
	// registered one, group member or not; the failed non-member leaves
	// the blades, as a candidate that left the group does.
	mustDiscover(t, st, now.Add(time.Hour))
	rec = wantStatus(t, st, direct.DeviceID, StatusActive)
	if rec.DiscoveredVia != DirectRegistrationVia || rec.Ring != out[0].Ring {
		t.Errorf("after discovery: %+v", rec.Registration)
	}
	wantStatus(t, st, failing.DeviceID, "")
	wantStatus(t, st, excluded.DeviceID, StatusExcluded)
	// And its readiness is re-checked: a stale check-in makes it Inactive.
	mustDiscover(t, st, now.Add(40*24*time.Hour))
	wantStatus(t, st, direct.DeviceID, StatusInactive)
}

func TestRegisterDevicesGroupMemberKeepsItsGroup(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	d := healthy(1, func(d *Device) { d.Management = ManagementNone })
	mustUpsert(t, st, d)
	mustAddMembers(t, st, RegistrationGroupName, d)
	mustDiscover(t, st, testNow)
	wantStatus(t, st, d.DeviceID, StatusPrerequisitesFailed)

	d.Management = ManagementIntune // fixed in Intune
	mustUpsert(t, st, d)
	out, err := st.RegisterDevices(ctx, []string{d.DeviceID}, "token:t", testNow)
	if err != nil || out[0].Result != RegistrationRegistered {
		t.Fatalf("%+v %v", out, err)
	}
	if rec := wantStatus(t, st, d.DeviceID, StatusActive); rec.DiscoveredVia != RegistrationGroupName || len(rec.Failures) != 0 {
		t.Errorf("registration %+v, failures %+v", rec.Registration, rec.Failures)
	}
}

// TestRegisterDevicesRingsAsDiscovery checks that registering devices
// directly splits them over the rings exactly as discovery would, and that
// later registrations count the devices already in rings.
func TestRegisterDevicesRingsAsDiscovery(t *testing.T) {
	ctx := context.Background()
	var devs []*Device
	var ids []string
	for i := 1; i <= 40; i++ {
		devs = append(devs, healthy(i))
		ids = append(ids, testID(i))
	}
	byDiscovery := openTestStore(t)
	mustUpsert(t, byDiscovery, devs...)
	mustAddMembers(t, byDiscovery, RegistrationGroupName, devs...)
	mustDiscover(t, byDiscovery, testNow)

	direct := openTestStore(t)
	mustUpsert(t, direct, devs...)
	if _, err := direct.RegisterDevices(ctx, ids[:25], "token:t", testNow); err != nil {
		t.Fatal(err)
	}
	out, err := direct.RegisterDevices(ctx, ids[25:], "token:t", testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Result != RegistrationRegistered {
			t.Fatalf("%+v", o)
		}
	}
	a, _ := byDiscovery.Counts(ctx)
	b, _ := direct.Counts(ctx)
	if a.Rings != b.Rings || b.Rings.Total() != 40 {
		t.Errorf("rings by discovery %+v, by direct registration in two calls %+v", a.Rings, b.Rings)
	}
	// One call assigns in request order, as discovery does in PK order.
	one := openTestStore(t)
	mustUpsert(t, one, devs...)
	if _, err := one.RegisterDevices(ctx, ids, "token:t", testNow); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if x, y := mustDevice(t, byDiscovery, id).Ring, mustDevice(t, one, id).Ring; x != y {
			t.Errorf("device %s: ring %s by discovery, %s by one direct registration", id, x, y)
		}
	}
}

func TestRegisterDevicesPeers(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	// Two candidates of one call share a serial: neither registers.
	a := healthy(1, func(d *Device) { d.SerialNumber = "DUP-1" })
	b := healthy(2, func(d *Device) { d.SerialNumber = "dup-1 " })
	// Dual state: the Entra-registered record is stale; its hybrid-joined
	// twin (not a candidate, not registered) registers.
	hybrid := healthy(3, func(d *Device) { d.JoinType = JoinHybridJoined; d.SerialNumber = "TWIN-1" })
	stale := healthy(4, func(d *Device) { d.JoinType = JoinEntraRegistered; d.SerialNumber = "twin-1" })
	// A stale record elsewhere does not hold its serial against a candidate.
	other := healthy(5, func(d *Device) { d.SerialNumber = "TWIN-1" })
	mustUpsert(t, st, a, b, hybrid, stale, other)

	out, err := st.RegisterDevices(ctx, []string{a.DeviceID, b.DeviceID, stale.DeviceID}, "token:t", testNow)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out[:2] {
		other := []*Device{b, a}[i]
		if o.Result != RegistrationFailed || o.Failures[0].Check != CheckHardwareIdentity || !strings.Contains(o.Failures[0].Reason, other.DeviceID) {
			t.Errorf("duplicate serial %d: %+v", i, o)
		}
	}
	var dual bool
	for _, f := range out[2].Failures {
		dual = dual || f.Check == CheckPersonalOrNonWindows && strings.Contains(f.Reason, "stale dual-state") && strings.Contains(f.Reason, hybrid.DeviceID)
	}
	if out[2].Result != RegistrationFailed || !dual {
		t.Errorf("stale record: %+v", out[2])
	}
	out, err = st.RegisterDevices(ctx, []string{hybrid.DeviceID}, "token:t", testNow)
	if err != nil || out[0].Result != RegistrationRegistered {
		t.Fatalf("hybrid twin: %+v %v", out, err)
	}
	// Now the hybrid record holds TWIN-1: another device with it fails.
	out, err = st.RegisterDevices(ctx, []string{other.DeviceID}, "token:t", testNow)
	if err != nil || out[0].Result != RegistrationFailed || !strings.Contains(out[0].Failures[0].Reason, hybrid.DeviceID) {
		t.Fatalf("serial held by a registered device: %+v %v", out, err)
	}
}

func TestRegisterDevicesRefusesBadCalls(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	if _, err := st.RegisterDevices(ctx, nil, "x", testNow); err == nil {
		t.Error("no devices: want an error")
	} else {
		wantErrIs(t, err, ErrInvalid)
	}
	many := make([]string, MaxRegistrationBatch+1)
	for i := range many {
		many[i] = testID(i)
	}
	_, err := st.RegisterDevices(ctx, many, "x", testNow)
	wantErrIs(t, err, ErrInvalid)
	if entries, _ := st.AuditEntries(ctx, AuditFilter{Action: ActionRegister}); len(entries) != 0 {
		t.Errorf("a refused call was audited as a registration: %+v", entries)
	}
}
