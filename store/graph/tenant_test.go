package graph_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/graph"
	"patchboard/store/graph/graphtest"
)

// tenant is a Graph stand-in with a registration group, and a store synced
// from it through a real connector.
type tenant struct {
	t    testing.TB
	srv  *graphtest.Server
	st   *store.Store
	conn *graph.Connector
	reg  string // registration group object ID
}

func newTenant(t testing.TB) *tenant {
	t.Helper()
	srv := graphtest.New()
	t.Cleanup(srv.Close)
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "patchboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tn := &tenant{t: t, srv: srv, st: st, reg: srv.NewID()}
	srv.PutGroup(graphtest.Group{ID: tn.reg, DisplayName: "Autopatch Device Registration"})
	tn.conn = tn.connector(nil)
	st.SetDirectory(tn.conn, tn.conn)
	return tn
}

// connector returns a new connector to the tenant (a restarted process).
func (tn *tenant) connector(mod func(*graph.Config)) *graph.Connector {
	tn.t.Helper()
	cfg := graph.Config{
		TenantID: graphtest.TenantID, ClientID: graphtest.ClientID, ClientSecret: graphtest.ClientSecret,
		RegistrationGroup: tn.reg, GraphURL: tn.srv.URL, LoginURL: tn.srv.URL,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := graph.New(cfg, tn.srv.Client())
	if err != nil {
		tn.t.Fatal(err)
	}
	c.Client().MaxWait = 2 * time.Second
	return c
}

func ptr(s string) *string { return &s }

// deviceID and objectID of the n-th fake device.
func deviceID(n int) string  { return fmt.Sprintf("d0000000-0000-4000-8000-%012d", n) }
func objectID(n int) string  { return fmt.Sprintf("0b000000-0000-4000-8000-%012d", n) }
func managedID(n int) string { return fmt.Sprintf("1d000000-0000-4000-8000-%012d", n) }

// addPC puts a healthy, Intune-managed, Entra-joined Windows 11 Enterprise
// PC into the tenant (not into any group).
func (tn *tenant) addPC(n int, mods ...func(*graphtest.Device, *graphtest.ManagedDevice)) {
	d := graphtest.Device{
		ID: objectID(n), DeviceID: deviceID(n), DisplayName: fmt.Sprintf("PC-%05d", n),
		OperatingSystem: "Windows", OperatingSystemVersion: "10.0.22631.4317", TrustType: "AzureAd",
		AccountEnabled: true, DeviceOwnership: "Company", Manufacturer: ptr("Contoso"), Model: ptr("Laptop 7"),
		PhysicalIDs: []string{"[ZTDId]:" + deviceID(n), "[OrderID]:Kiosk"}, ProfileType: "RegisteredDevice",
		SystemLabels: []string{}, ExtensionAttributes: map[string]string{},
		ManagementType: ptr("MDM"), MDMAppID: ptr("0000000a-0000-0000-c000-000000000000"),
	}
	m := graphtest.ManagedDevice{
		ID: managedID(n), AzureADDeviceID: deviceID(n), DeviceName: d.DisplayName,
		ManagedDeviceOwnerType: "company", ManagementAgent: "mdm", LastSyncDateTime: time.Now().UTC().Add(-time.Hour).Format(time.RFC3339),
		OperatingSystem: "Windows", OSVersion: "10.0.22631.4317", SerialNumber: fmt.Sprintf("SN%06d", n),
		Manufacturer: "Contoso", Model: "Laptop 7", SKUFamily: "Enterprise", SKUNumber: 4, ProcessorArchitecture: "x64",
	}
	for _, mod := range mods {
		mod(&d, &m)
	}
	tn.srv.PutDevice(d)
	if m.ID != "" {
		tn.srv.PutManagedDevice(m)
	}
}

// setMembers sets a group's members in the tenant.
func (tn *tenant) setMembers(group, name string, members ...string) {
	tn.srv.PutGroup(graphtest.Group{ID: group, DisplayName: name, Members: members})
}

func (tn *tenant) sync() store.SyncRun {
	tn.t.Helper()
	run, err := tn.st.SyncDirectory(context.Background(), store.TriggerCLI, "test")
	if err != nil {
		tn.t.Fatalf("sync: %v", err)
	}
	return run
}

func (tn *tenant) discover() store.DiscoveryRun {
	tn.t.Helper()
	run, err := tn.st.Discover(context.Background(), store.TriggerCLI, "test", time.Now())
	if err != nil {
		tn.t.Fatalf("discover: %v", err)
	}
	return run
}

func (tn *tenant) device(n int) (store.DeviceRecord, bool) {
	tn.t.Helper()
	rec, err := tn.st.Device(context.Background(), deviceID(n))
	if err != nil {
		return store.DeviceRecord{}, false
	}
	return rec, true
}

func (tn *tenant) mustDevice(n int) store.DeviceRecord {
	tn.t.Helper()
	rec, ok := tn.device(n)
	if !ok {
		tn.t.Fatalf("device %d is not in the store", n)
	}
	return rec
}

func (tn *tenant) group(name string) store.Group {
	tn.t.Helper()
	g, err := tn.st.Group(context.Background(), name)
	if err != nil {
		tn.t.Fatal(err)
	}
	return g
}
