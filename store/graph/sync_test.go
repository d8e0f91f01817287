package graph_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/graph"
	"patchboard/store/graph/graphtest"
)

// A first sync reads every page of every collection, fills the devices, and
// mirrors the registration group with one level of nesting; discovery then
// registers the healthy members.
func TestFirstSync(t *testing.T) {
	tn := newTenant(t)
	tn.srv.PageCap = 7 // many pages of every collection
	for n := 1; n <= 40; n++ {
		tn.addPC(n)
	}
	nested, deeper := tn.srv.NewID(), tn.srv.NewID()
	var direct []string
	for n := 1; n <= 20; n++ {
		direct = append(direct, objectID(n))
	}
	tn.setMembers(tn.reg, "Autopatch Device Registration", append(direct, nested)...)
	tn.setMembers(nested, "Kiosks", objectID(21), objectID(22), deeper)
	tn.setMembers(deeper, "Kiosks - Lobby", objectID(23))

	run := tn.sync()
	if !run.FullRead || run.Read != 40 || run.Added != 40 || run.State != store.RunCompleted {
		t.Fatalf("first sync = %+v, want a full read adding 40 devices", run)
	}
	if got := tn.srv.Requests("delta"); got != 6 { // 40 devices in pages of 7
		t.Errorf("delta requests = %d, want 6 pages", got)
	}
	rec := tn.mustDevice(5)
	d := rec.Device
	if d.DisplayName != "PC-00005" || d.SerialNumber != "SN000005" || d.JoinType != store.JoinEntraJoined ||
		d.Management != store.ManagementIntune || d.Edition != "Enterprise" || d.Architecture != store.ArchX64 ||
		d.OSVersion != "10.0.22631.4317" || d.Ownership != store.OwnershipCompany || d.LastCheckin.IsZero() {
		t.Errorf("device 5 mapped as %+v", d)
	}

	reg := tn.group(store.RegistrationGroupName)
	if !reg.Synced() || reg.ObjectID != tn.reg || reg.Devices != 20 || reg.Groups != 1 {
		t.Errorf("registration group = %+v, want synced with 20 devices and 1 group", reg)
	}
	kiosks := tn.group("Kiosks")
	lobby := tn.group("Kiosks - Lobby")
	if !kiosks.Synced() || kiosks.Depth != 1 || kiosks.Devices != 2 || lobby.Depth != 2 || lobby.Devices != 0 {
		t.Errorf("nested groups = %+v and %+v, want Kiosks at depth 1 with 2 devices, the lobby at depth 2 unread", kiosks, lobby)
	}

	disc := tn.discover()
	if disc.Candidates != 22 || disc.Registered != 22 {
		t.Errorf("discovery = %s, want the 20 direct members and the 2 nested ones registered", disc.Summary())
	}
	if rec, _ := tn.device(23); rec.Status != "" {
		t.Errorf("a device two levels down has status %q, want none (not discovered)", rec.Status)
	}
	if rec, _ := tn.device(30); rec.Status != "" {
		t.Errorf("a device in no group has status %q, want none", rec.Status)
	}
}

// A delta sync reads only the changes: additions, changed properties (Graph
// returns only those) and deletions. Readiness signals reported by devices
// survive the sync.
func TestDeltaSync(t *testing.T) {
	tn := newTenant(t)
	for n := 1; n <= 10; n++ {
		tn.addPC(n)
	}
	tn.setMembers(tn.reg, "Reg", objectID(1), objectID(2), objectID(3))
	tn.sync()
	tn.discover()
	// A device reports a readiness signal through the API.
	d := tn.mustDevice(2).Device
	d.WUPolicySource = "gpo"
	if _, err := tn.st.UpsertDevices(context.Background(), []*store.Device{&d}, "test", "test"); err != nil {
		t.Fatal(err)
	}
	// And an update alert through the signals API's store method.
	alerts, err := store.DecodeSignalsJSON(strings.NewReader(`[{"device_id": "`+d.DeviceID+`", "update_alerts": ["DiskFull"]}]`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.st.ReportSignals(context.Background(), alerts, "test", time.Now()); err != nil {
		t.Fatal(err)
	}

	deltaBefore := tn.srv.Requests("delta")
	tn.addPC(11)
	tn.srv.UpdateDevice(objectID(2), func(d *graphtest.Device) { d.DisplayName = "PC-RENAMED" })
	tn.srv.UpdateDevice(objectID(4), func(d *graphtest.Device) { d.TrustType = "ServerAd" })
	tn.srv.DeleteDevice(objectID(3))
	// Intune alone changes (no delta query there): still seen.
	tn.srv.UpdateManagedDevice(managedID(5), func(m *graphtest.ManagedDevice) { m.SerialNumber = "SN-NEW-BOARD" })

	run := tn.sync()
	if run.FullRead || run.Added != 1 || run.Updated != 3 || run.Removed != 1 || run.Read != 10 {
		t.Fatalf("delta sync = %+v (%s), want a delta read: 1 new, 3 updated, 1 removed, 10 devices", run, run.Summary())
	}
	if rec := tn.mustDevice(5); rec.SerialNumber != "SN-NEW-BOARD" {
		t.Errorf("serial number after an Intune change = %q", rec.SerialNumber)
	}
	if got := tn.srv.Requests("delta") - deltaBefore; got != 1 {
		t.Errorf("delta sync made %d delta requests, want 1", got)
	}
	rec := tn.mustDevice(2)
	if rec.DisplayName != "PC-RENAMED" || rec.SerialNumber != "SN000002" || rec.OSVersion != "10.0.22631.4317" {
		t.Errorf("renamed device = %+v: the changed property must be merged into the rest", rec.Device)
	}
	if rec.WUPolicySource != "gpo" || strings.Join(rec.UpdateAlerts, ";") != "DiskFull" {
		t.Errorf("wu_policy_source = %q, update_alerts = %q after the sync, want the reported gpo and DiskFull kept",
			rec.WUPolicySource, rec.UpdateAlerts)
	}
	if rec := tn.mustDevice(4); rec.JoinType != store.JoinHybridJoined {
		t.Errorf("join type = %q, want hybrid-joined", rec.JoinType)
	}
	if _, ok := tn.device(3); ok {
		t.Error("a device deleted in Entra ID is still in Patchboard")
	}
	if _, ok := tn.device(11); !ok {
		t.Error("a device added in Entra ID did not arrive")
	}

	// Nothing changed: the next sync writes nothing.
	if run := tn.sync(); run.Added+run.Updated+run.Removed != 0 {
		t.Errorf("sync of an unchanged tenant = %s, want no changes", run.Summary())
	}
}

// A registered device deleted in Entra ID leaves Patchboard: its row, its
// registration and its group memberships.
func TestDeletedDeviceLeaves(t *testing.T) {
	tn := newTenant(t)
	tn.addPC(1)
	tn.addPC(2)
	tn.setMembers(tn.reg, "Reg", objectID(1), objectID(2))
	tn.sync()
	tn.discover()
	if rec := tn.mustDevice(1); rec.Status != store.StatusActive {
		t.Fatalf("device 1 status %q, want active", rec.Status)
	}
	tn.srv.DeleteDevice(objectID(1))
	tn.discover() // syncs first
	if _, ok := tn.device(1); ok {
		t.Fatal("device deleted in Entra ID is still registered in Patchboard")
	}
	counts, err := tn.st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if counts.Status[store.StatusActive] != 1 {
		t.Errorf("active = %d, want 1", counts.Status[store.StatusActive])
	}
	if g := tn.group(store.RegistrationGroupName); g.Devices != 1 {
		t.Errorf("registration group has %d devices, want 1", g.Devices)
	}
}

// A lost delta token (410 Gone, syncStateNotFound) falls back to a full
// read, which still removes what Entra ID no longer lists.
func TestLostDeltaTokenFallsBackToFullRead(t *testing.T) {
	tn := newTenant(t)
	for n := 1; n <= 5; n++ {
		tn.addPC(n)
	}
	tn.setMembers(tn.reg, "Reg")
	tn.sync()
	tn.srv.DeleteDevice(objectID(5))
	tn.srv.UpdateDevice(objectID(1), func(d *graphtest.Device) { d.DisplayName = "PC-ONE" })
	tn.srv.ExpireDeltaTokens()
	run := tn.sync()
	if !run.FullRead || run.Removed != 1 || run.Updated != 1 {
		t.Fatalf("sync after a lost token = %s, want a full read with 1 updated and 1 removed", run.Summary())
	}
	if rec := tn.mustDevice(1); rec.DisplayName != "PC-ONE" {
		t.Errorf("display name = %q", rec.DisplayName)
	}
}

// Throttling and unavailability in the middle of a sync are waited out
// (Retry-After when given, a jittered backoff when not) and an expired
// token is renewed; the sync completes.
func TestThrottlingMidSync(t *testing.T) {
	tn := newTenant(t)
	tn.srv.PageCap = 3
	for n := 1; n <= 12; n++ {
		tn.addPC(n)
	}
	tn.setMembers(tn.reg, "Reg", objectID(1))
	tn.srv.Inject(graphtest.Fault{Path: "/v1.0/devices/delta", Status: http.StatusTooManyRequests, RetryAfter: "1", Count: 2})
	tn.srv.Inject(graphtest.Fault{Path: "/beta/deviceManagement/managedDevices", Status: http.StatusServiceUnavailable, Count: 1})
	tn.srv.ExpireTokens()
	run := tn.sync()
	if run.Read != 12 || run.Added != 12 {
		t.Fatalf("sync = %s, want all 12 devices", run.Summary())
	}
	// The token lapses between two syncs: renewed on the 401.
	tokens := tn.srv.Requests("token")
	tn.srv.ExpireTokens()
	tn.sync()
	if got := tn.srv.Requests("token"); got != tokens+1 {
		t.Errorf("token requests = %d, want one more (%d) after the token expired", got, tokens+1)
	}
}

// A sync that fails changes nothing: the last good data stays (a device
// deleted meanwhile is not removed on a partial read), and the failure is
// recorded with a message that names the permission to grant.
func TestFailedSyncKeepsLastGoodData(t *testing.T) {
	tn := newTenant(t)
	for n := 1; n <= 4; n++ {
		tn.addPC(n)
	}
	tn.setMembers(tn.reg, "Reg", objectID(1), objectID(2))
	tn.sync()
	tn.srv.DeleteDevice(objectID(1))
	tn.srv.UpdateDevice(objectID(2), func(d *graphtest.Device) { d.DisplayName = "CHANGED" })
	// Refused twice: this sync and the one discovery starts with.
	tn.srv.Inject(graphtest.Fault{Path: "/beta/deviceManagement/managedDevices", Status: http.StatusForbidden, Count: 2})

	var told []error
	tn.st.OnSyncDone(func(_ store.SyncRun, err error) { told = append(told, err) })
	_, err := tn.st.SyncDirectory(context.Background(), store.TriggerCLI, "test")
	if len(told) != 1 || told[0] == nil {
		t.Errorf("the failed sync was reported as %v, want its error (the server logs it)", told)
	}
	var perm *graph.PermissionError
	if !errors.As(err, &perm) || perm.Permission != "DeviceManagementManagedDevices.Read.All" {
		t.Fatalf("sync error = %v, want a PermissionError naming DeviceManagementManagedDevices.Read.All", err)
	}
	if _, ok := tn.device(1); !ok {
		t.Error("a failed sync removed a device")
	}
	if rec := tn.mustDevice(2); rec.DisplayName != "PC-00002" {
		t.Errorf("a failed sync wrote %q", rec.DisplayName)
	}
	last, err := tn.st.LastSyncRun(context.Background(), store.SyncRead)
	if err != nil || last.State != store.RunFailed || !strings.Contains(last.Error, "DeviceManagementManagedDevices.Read.All") {
		t.Errorf("last sync = %+v, %v; want failed, naming the permission", last, err)
	}
	if strings.Contains(last.Error, graphtest.ClientSecret) || strings.Contains(last.Error, "token-") {
		t.Errorf("the recorded error holds a secret: %s", last.Error)
	}
	// Discovery still runs on the last good data.
	if run := tn.discover(); run.State != store.RunCompleted || run.Registered != 2 {
		t.Errorf("discovery after a failed sync = %+v, want both members of the last good data registered", run)
	}
	// The next good sync catches up.
	run := tn.sync()
	if run.Removed != 1 || run.Updated != 1 {
		t.Errorf("catch-up sync = %s, want 1 removed and 1 updated", run.Summary())
	}
}

// cancelAfter is a transport that cancels the sync after n requests (a
// process killed in the middle of a sync).
type cancelAfter struct {
	rt     http.RoundTripper
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.n.Add(-1) == 0 {
		c.cancel()
	}
	return c.rt.RoundTrip(r)
}

// A sync interrupted half-way writes nothing, and the next one (a new
// process, from the same database) completes from the last good state.
func TestCrashMidSyncThenRestart(t *testing.T) {
	tn := newTenant(t)
	tn.srv.PageCap = 2
	for n := 1; n <= 10; n++ {
		tn.addPC(n)
	}
	tn.setMembers(tn.reg, "Reg", objectID(1))
	ctx, cancel := context.WithCancel(context.Background())
	hc := tn.srv.Client()
	ca := &cancelAfter{rt: hc.Transport, cancel: cancel}
	ca.n.Store(4) // token + 3 pages
	hc.Transport = ca
	crashed := tn.connector(nil)
	st := tn.st
	st.SetDirectory(crashed, nil)
	if _, err := st.SyncDirectory(ctx, store.TriggerSchedule, "scheduler"); err == nil {
		t.Fatal("the interrupted sync succeeded")
	}
	if _, ok := tn.device(1); ok {
		t.Fatal("an interrupted first sync wrote devices")
	}
	st.SetDirectory(tn.connector(nil), nil) // restart
	run := tn.sync()
	if !run.FullRead || run.Added != 10 {
		t.Fatalf("sync after restart = %s, want all 10 devices", run.Summary())
	}
}

// Two Entra objects with one device ID (a stale registration beside the
// current one) make one device, the same one at every sync.
func TestDuplicateDeviceID(t *testing.T) {
	tn := newTenant(t)
	tn.addPC(1)
	tn.addPC(2, func(d *graphtest.Device, m *graphtest.ManagedDevice) {
		d.DeviceID, d.DisplayName, m.ID = deviceID(1), "PC-STALE", ""
	})
	tn.setMembers(tn.reg, "Reg", objectID(1), objectID(2))
	if run := tn.sync(); run.Added != 1 {
		t.Fatalf("sync = %s, want one device", run.Summary())
	}
	name := tn.mustDevice(1).DisplayName
	for i := 0; i < 3; i++ {
		if run := tn.sync(); run.Updated != 0 || tn.mustDevice(1).DisplayName != name {
			t.Fatalf("sync %d = %s, name %q: the device flaps between its objects", i, run.Summary(), tn.mustDevice(1).DisplayName)
		}
	}
}

// Cloud PCs and multi-session hosts get their device kind, and a
// multi-session host fails the virtual-desktop prerequisite.
func TestCloudPCAndMultiSessionMapped(t *testing.T) {
	tn := newTenant(t)
	tn.addPC(1)
	tn.addPC(2, func(d *graphtest.Device, m *graphtest.ManagedDevice) {
		m.Model, m.Manufacturer = "Cloud PC Enterprise 2vCPU/8GB/128GB", "Microsoft Corporation"
	})
	tn.srv.PutCloudPC(graphtest.CloudPC{ID: tn.srv.NewID(), AADDeviceID: deviceID(2), DisplayName: "CPC-2", ProvisioningType: "dedicated"})
	tn.addPC(3, func(d *graphtest.Device, m *graphtest.ManagedDevice) {
		m.SKUNumber, m.SKUFamily = 175, "EnterpriseMultisession"
		m.Model, m.Manufacturer = "Virtual Machine", "Microsoft Corporation"
	})
	tn.addPC(4, func(d *graphtest.Device, m *graphtest.ManagedDevice) { m.Model = "Virtual Machine" })
	tn.setMembers(tn.reg, "Reg", objectID(1), objectID(2), objectID(3), objectID(4))
	tn.sync()
	for n, want := range map[int]string{1: store.KindPhysical, 2: store.KindCloudPC, 3: store.KindAVDMultiSession, 4: store.KindVirtualMachine} {
		if got := tn.mustDevice(n).DeviceKind; got != want {
			t.Errorf("device %d kind = %q, want %q", n, got, want)
		}
	}
	// The detail's source: Entra ID with Intune, and Windows 365 for the
	// Cloud PC; an Entra device Intune does not manage is Entra ID alone.
	tn.addPC(5, func(d *graphtest.Device, m *graphtest.ManagedDevice) { m.ID = "" })
	tn.sync()
	for n, want := range map[int]string{1: "Microsoft Entra ID, Intune", 2: "Microsoft Entra ID, Intune, Windows 365", 5: "Microsoft Entra ID"} {
		src, err := tn.st.DeviceSource(context.Background(), deviceID(n))
		if err != nil || src.Kind != store.OriginEntra || src.Label() != want || src.ObjectID != objectID(n) || src.LastSynced.IsZero() {
			t.Errorf("device %d source = %+v (%q), %v; want %q with its object ID and the last sync", n, src, src.Label(), err, want)
		}
	}
	tn.discover()
	if rec := tn.mustDevice(3); rec.Status != store.StatusPrerequisitesFailed {
		t.Errorf("multi-session host status = %q, want prerequisites failed", rec.Status)
	}
	if rec := tn.mustDevice(2); rec.Status != store.StatusActive {
		t.Errorf("Cloud PC status = %q, want active", rec.Status)
	}
}

// Mirrored groups and devices are read-only in the portal (devices take
// readiness signals only); local groups and devices are not.
func TestSyncedGroupsAndDevicesReadOnly(t *testing.T) {
	tn := newTenant(t)
	tn.addPC(1)
	tn.setMembers(tn.reg, "Reg", objectID(1))
	tn.sync()
	ctx := context.Background()
	d := tn.mustDevice(1).Device
	d.DisplayName = "EDITED"
	if _, err := tn.st.UpsertDevices(ctx, []*store.Device{&d}, "api", "admin"); !errors.Is(err, store.ErrInvalid) ||
		!strings.Contains(err.Error(), "synced from Microsoft Entra ID") {
		t.Errorf("editing a synced device: %v, want refused", err)
	}
	csv := "device_id,display_name\n" + deviceID(1) + ",EDITED\n"
	if _, err := tn.st.ImportDevices(ctx, strings.NewReader(csv), "file.csv", "admin"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("importing over a synced device: %v, want refused", err)
	}
	local := *store.NewDevice()
	local.DeviceID, local.DisplayName = "11111111-2222-4333-8444-555555555555", "LOCAL-1"
	if _, err := tn.st.UpsertDevices(ctx, []*store.Device{&local}, "api", "admin"); err != nil {
		t.Errorf("a local device beside synced ones: %v", err)
	}
	if _, err := tn.st.AddGroupDevices(ctx, store.RegistrationGroupName, []string{deviceID(1)}, "admin"); !errors.Is(err, store.ErrInvalid) ||
		!strings.Contains(err.Error(), "Entra admin center") {
		t.Errorf("adding to the synced registration group: %v, want refused naming the Entra admin center", err)
	}
	if _, err := tn.st.CreateGroup(ctx, "Local pilots", "", "admin"); err != nil {
		t.Fatalf("creating a local group: %v", err)
	}
	if _, err := tn.st.AddGroupDevices(ctx, "Local pilots", []string{deviceID(1)}, "admin"); err != nil {
		t.Errorf("adding to a local group: %v", err)
	}
}
