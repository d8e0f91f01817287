package demo_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/demo"
	"patchboard/store/rule"
)

var testNow = time.Date(2025, 6, 2, 9, 30, 15, 500, time.UTC)

func generate(n int, seed int64) demo.Fleet {
	return demo.Generate(demo.Options{Devices: n, Seed: seed, Now: testNow})
}

func TestGenerateDeterministic(t *testing.T) {
	tests := []struct {
		name      string
		give      demo.Options
		also      demo.Options
		wantEqual bool
	}{
		{"same seed", demo.Options{Devices: 2000, Seed: 7, Now: testNow}, demo.Options{Devices: 2000, Seed: 7, Now: testNow}, true},
		{"defaults", demo.Options{Now: testNow}, demo.Options{Devices: 2000, Seed: 1, Now: testNow}, true},
		{"different seed", demo.Options{Devices: 2000, Seed: 1, Now: testNow}, demo.Options{Devices: 2000, Seed: 2, Now: testNow}, false},
		{"different size", demo.Options{Devices: 2000, Seed: 1, Now: testNow}, demo.Options{Devices: 2001, Seed: 1, Now: testNow}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := demo.Generate(tt.give), demo.Generate(tt.also)
			if got := reflect.DeepEqual(a, b); got != tt.wantEqual {
				t.Fatalf("fleets equal = %v, want %v", got, tt.wantEqual)
			}
			if !tt.wantEqual && a.Devices[0].DeviceID == b.Devices[0].DeviceID {
				t.Errorf("first device ID %s is the same in both fleets", a.Devices[0].DeviceID)
			}
		})
	}
}

func TestGenerateRequiresNow(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Generate without Now did not panic")
		}
	}()
	demo.Generate(demo.Options{Devices: 10})
}

func TestGenerateSize(t *testing.T) {
	for _, n := range []int{1, 2, 10, 50, 199, 200, 201, 2000} {
		f := generate(n, 1)
		if len(f.Devices) != n {
			t.Errorf("Devices: %d gave %d devices", n, len(f.Devices))
		}
	}
}

var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestGenerateDevicesValid(t *testing.T) {
	f := generate(20_000, 3)
	ids := make(map[string]bool, len(f.Devices))
	byName := make(map[string][]*store.Device)
	bySerial := make(map[string][]*store.Device)
	for _, d := range f.Devices {
		if !guidPattern.MatchString(d.DeviceID) {
			t.Fatalf("device ID %q is not a lower-case version-4 GUID", d.DeviceID)
		}
		if ids[d.DeviceID] {
			t.Fatalf("device ID %s appears twice", d.DeviceID)
		}
		ids[d.DeviceID] = true
		if errs := store.ValidateDevice(d); len(errs) > 0 {
			t.Fatalf("ValidateDevice(%s) = %v", d.DisplayName, errs)
		}
		// Every field survives export and re-import unchanged.
		again := store.NewDevice()
		for _, fld := range store.InventoryFields {
			if err := fld.Set(again, fld.Value(d)); err != nil {
				t.Fatalf("%s: %s: Set(Value) = %v", d.DisplayName, fld.Key, err)
			}
		}
		if !reflect.DeepEqual(again, d) {
			t.Fatalf("round trip of %s =\n %+v\nwant\n %+v", d.DisplayName, *again, *d)
		}
		byName[d.DisplayName] = append(byName[d.DisplayName], d)
		if d.SerialNumber != "" {
			bySerial[d.SerialNumber] = append(bySerial[d.SerialNumber], d)
		}
	}
	// Names and serials are shared only within the planned pairs.
	for name, ds := range byName {
		if len(ds) > 1 && (len(ds) != 2 || ds[0].SerialNumber != ds[1].SerialNumber) {
			t.Errorf("name %s is held by %d devices", name, len(ds))
		}
	}
	for serial, ds := range bySerial {
		if len(ds) > 2 {
			t.Errorf("serial %s is held by %d devices", serial, len(ds))
		}
	}
	for _, list := range [][]string{f.Deregister, f.TestRing, f.Replacements} {
		for _, id := range list {
			if !ids[id] {
				t.Errorf("listed device %s is not in the fleet", id)
			}
		}
	}
	for _, g := range f.Groups {
		for _, id := range g.Members {
			if !ids[id] {
				t.Errorf("member %s of %s is not in the fleet", id, g.Name)
			}
		}
	}
}

// census is what the composition test measures of a fleet.
type census struct {
	f       demo.Fleet
	groups  map[string]map[string]bool // group name → member device IDs
	rule    *rule.Rule
	serials map[string]int
	now     time.Time
}

func newCensus(t *testing.T, f demo.Fleet) *census {
	t.Helper()
	c := &census{f: f, groups: map[string]map[string]bool{}, serials: map[string]int{}, now: testNow}
	for _, g := range f.Groups {
		m := map[string]bool{}
		for _, id := range g.Members {
			m[id] = true
		}
		c.groups[g.Name] = m
		if g.Rule != "" {
			r, err := rule.Parse(g.Rule)
			if err != nil {
				t.Fatalf("rule of %s: %v", g.Name, err)
			}
			c.rule = r
		}
	}
	if c.rule == nil {
		t.Fatal("the fleet has no dynamic group")
	}
	for _, d := range f.Devices {
		if d.SerialNumber != "" {
			c.serials[d.SerialNumber]++
		}
	}
	return c
}

func (c *census) in(group string, d *store.Device) bool { return c.groups[group][d.DeviceID] }

func (c *census) age(d *store.Device) time.Duration { return c.now.Sub(d.LastCheckin) }

func (c *census) windows(d *store.Device) bool { return d.OS == store.OSWindows }

// composition lists the shares of the fleet the demo promises. min1 marks the
// kinds that a fleet of 200 must have at least one of.
var composition = []struct {
	name      string
	match     func(c *census, d *store.Device) bool
	want, tol float64 // percent of Devices
	min1      bool
}{
	{"AP- names", func(c *census, d *store.Device) bool { return strings.HasPrefix(d.DisplayName, "AP-") }, 45, 3, true},
	{"FIN- names", func(c *census, d *store.Device) bool { return strings.HasPrefix(d.DisplayName, "FIN-") }, 15, 2.5, true},
	{"HR- names", func(c *census, d *store.Device) bool { return strings.HasPrefix(d.DisplayName, "HR-") }, 31, 3, true},
	{"AVD-MS- hosts", func(c *census, d *store.Device) bool { return strings.HasPrefix(d.DisplayName, "AVD-MS-") }, 0.8, 0.1, true},
	{"Entra joined", func(c *census, d *store.Device) bool { return d.JoinType == store.JoinEntraJoined }, 60, 4, true},
	{"hybrid joined", func(c *census, d *store.Device) bool { return d.JoinType == store.JoinHybridJoined }, 35, 4, true},
	{"Intune managed", func(c *census, d *store.Device) bool { return d.Management == store.ManagementIntune }, 70, 4, true},
	{"co-managed", func(c *census, d *store.Device) bool { return d.Management == store.ManagementCoManaged }, 25, 4, true},
	{"x64", func(c *census, d *store.Device) bool { return d.Architecture == store.ArchX64 }, 97, 1.5, true},
	{"Windows 11", func(c *census, d *store.Device) bool { return store.OSBuild(d.OSVersion) >= 22000 }, 77, 4, true},
	{"Education edition", func(c *census, d *store.Device) bool { return d.Edition == "Education" }, 5, 2, true},

	// Prerequisite failures.
	{"not Intune managed", func(c *census, d *store.Device) bool {
		return d.Management == store.ManagementConfigMgr || d.Management == store.ManagementNone
	}, 3, 0.1, true},
	{"missing serial or model", func(c *census, d *store.Device) bool { return d.SerialNumber == "" || d.Model == "" }, 1, 0.1, true},
	{"serial shared by two records", func(c *census, d *store.Device) bool { return c.serials[d.SerialNumber] == 2 }, 2.5, 0.2, true},
	{"check-in 90+ days ago", func(c *census, d *store.Device) bool {
		return !d.LastCheckin.IsZero() && c.age(d) >= 90*24*time.Hour
	}, 3, 0.1, true},
	{"Windows build below 17763", func(c *census, d *store.Device) bool {
		return c.windows(d) && store.OSBuild(d.OSVersion) < 17763
	}, 1.6, 0.1, true},
	{"Windows arm64", func(c *census, d *store.Device) bool { return c.windows(d) && d.Architecture == store.ArchARM64 }, 0.8, 0.1, true},
	{"Windows x86", func(c *census, d *store.Device) bool { return d.Architecture == store.ArchX86 }, 0.8, 0.1, true},
	{"Windows Home", func(c *census, d *store.Device) bool { return d.Edition == "Home" }, 0.8, 0.1, true},
	{"personal", func(c *census, d *store.Device) bool { return d.Ownership == store.OwnershipPersonal }, 1, 0.1, true},
	{"Windows and Entra registered", func(c *census, d *store.Device) bool {
		return c.windows(d) && d.JoinType == store.JoinEntraRegistered
	}, 2.8, 0.5, true},
	{"macOS or iOS", func(c *census, d *store.Device) bool { return d.OS == "macOS" || d.OS == "iOS" }, 1, 0.1, true},
	{"workload on ConfigMgr", func(c *census, d *store.Device) bool {
		return d.Management == store.ManagementCoManaged && (d.WorkloadWindowsUpdate == store.WorkloadConfigMgr ||
			d.WorkloadDeviceConfiguration == store.WorkloadConfigMgr || d.WorkloadOfficeC2R == store.WorkloadConfigMgr)
	}, 3, 0.1, true},
	{"AVD multi-session or pooled", func(c *census, d *store.Device) bool {
		return d.DeviceKind == store.KindAVDMultiSession || d.DeviceKind == store.KindAVDPooled
	}, 2, 0.1, true},
	{"AP-AVD multi-session", func(c *census, d *store.Device) bool {
		return strings.HasPrefix(d.DisplayName, "AP-AVD-") && d.DeviceKind == store.KindAVDMultiSession
	}, 0.6, 0.1, true},

	// Readiness failures and signals.
	{"Windows Update policy from GPO", func(c *census, d *store.Device) bool { return d.WUPolicySource == "gpo" }, 3, 0.1, true},
	{"Office policy from GPO", func(c *census, d *store.Device) bool { return d.OfficePolicySource == "gpo" }, 2, 0.1, true},
	{"unreachable endpoints", func(c *census, d *store.Device) bool { return len(d.UnreachableEndpoints) > 0 }, 2, 0.1, true},
	{"no internet", func(c *census, d *store.Device) bool { return d.InternetConnected == store.SignalFalse }, 1, 0.1, true},
	{"check-in 29 to 55 days ago", func(c *census, d *store.Device) bool {
		return c.age(d) >= 29*24*time.Hour && c.age(d) <= 55*24*time.Hour+time.Second
	}, 2.25, 0.1, true},
	{"signals not reported", func(c *census, d *store.Device) bool {
		return c.windows(d) && d.WUPolicySource == "" && d.OfficePolicySource == "" && d.InternetConnected == store.SignalUnknown
	}, 22, 4, true},

	// Groups.
	{"direct members", func(c *census, d *store.Device) bool { return c.in(store.RegistrationGroupName, d) }, 40, 3, true},
	{"Finance members", func(c *census, d *store.Device) bool { return c.in("Autopatch - Finance", d) }, 15, 2.5, true},
	{"Lab members", func(c *census, d *store.Device) bool { return c.in("Autopatch - Lab", d) }, 3, 0.1, true},
	{"matched by the rule", func(c *census, d *store.Device) bool { return c.rule.Match(d) }, 45, 3, true},
	{"in no group", func(c *census, d *store.Device) bool {
		for _, m := range c.groups {
			if m[d.DeviceID] {
				return false
			}
		}
		return !c.rule.Match(d)
	}, 5, 0.3, true},
	{"in several groups", func(c *census, d *store.Device) bool {
		n := 0
		for _, m := range c.groups {
			if m[d.DeviceID] {
				n++
			}
		}
		if c.rule.Match(d) {
			n++
		}
		return n > 1
	}, 7.5, 2, true},
}

func TestGenerateComposition(t *testing.T) {
	for _, n := range []int{2000, 20_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := generate(n, 1)
			c := newCensus(t, f)
			for _, tt := range composition {
				got := 0
				for _, d := range f.Devices {
					if tt.match(c, d) {
						got++
					}
				}
				pct := 100 * float64(got) / float64(n)
				t.Logf("%s = %d (%.2f %%)", tt.name, got, pct)
				if pct < tt.want-tt.tol || pct > tt.want+tt.tol {
					t.Errorf("%s = %d (%.2f %%), want %.2f ± %.2f %%", tt.name, got, pct, tt.want, tt.tol)
				}
			}
			checkActions(t, f)
		})
	}
}

// checkActions checks the sizes of the deregistered and Test ring lists:
// about 0.5 % and 1 % of the ~60 % healthy devices, and disjoint.
func checkActions(t *testing.T, f demo.Fleet) {
	t.Helper()
	n := float64(len(f.Devices))
	if got := float64(len(f.Deregister)); len(f.Deregister) < 1 || got < 0.002*n || got > 0.004*n {
		t.Errorf("%d devices: %d deregistered, want about 0.3 %% of the fleet", len(f.Devices), len(f.Deregister))
	}
	if got := float64(len(f.TestRing)); len(f.TestRing) < 2 || got < 0.004*n || got > 0.008*n {
		t.Errorf("%d devices: %d in the Test ring, want about 0.6 %% of the fleet", len(f.Devices), len(f.TestRing))
	}
	dereg := map[string]bool{}
	for _, id := range f.Deregister {
		dereg[id] = true
	}
	for _, id := range f.TestRing {
		if dereg[id] {
			t.Errorf("device %s is both deregistered and put in the Test ring", id)
		}
	}
	if want := int(0.0025*n + 0.5); len(f.Replacements) != want {
		t.Errorf("%d devices: %d hardware repairs, want %d", len(f.Devices), len(f.Replacements), want)
	}
}

func TestGenerateSmallFleetHasEveryKind(t *testing.T) {
	f := generate(200, 1)
	c := newCensus(t, f)
	for _, tt := range composition {
		if !tt.min1 {
			continue
		}
		found := false
		for _, d := range f.Devices {
			if tt.match(c, d) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no device of kind %q in a fleet of 200", tt.name)
		}
	}
	if len(f.Deregister) < 1 || len(f.TestRing) < 2 || len(f.Replacements) < 1 {
		t.Errorf("deregister %d, test ring %d, replacements %d; want at least 1, 2 and 1",
			len(f.Deregister), len(f.TestRing), len(f.Replacements))
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "pb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 2,000 devices into SQLite")
	}
	ctx := context.Background()
	st := openStore(t)
	f := generate(2000, 1)
	run, err := demo.Load(ctx, st, f, testNow)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if run.State != store.RunCompleted || run.StatusChanges == 0 {
		t.Errorf("last run = %+v, want a completed run that changed statuses", run)
	}

	counts, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tab := range store.Tabs {
		if counts.Tab(tab) == 0 {
			t.Errorf("tab %s is empty", tab.Label())
		}
	}
	for _, s := range store.Statuses {
		if counts.Status[s] == 0 {
			t.Errorf("no device is %s", s.Label())
		}
	}
	if got := counts.Status[store.StatusExcluded]; got != len(f.Deregister) {
		t.Errorf("Excluded = %d, want %d", got, len(f.Deregister))
	}
	if counts.Rings.Test != len(f.TestRing) || counts.Rings.First == 0 || counts.Rings.Fast == 0 || counts.Rings.Broad == 0 {
		t.Errorf("rings = %+v, want every ring used and %d in Test", counts.Rings, len(f.TestRing))
	}
	t.Logf("statuses %v, rings %+v", counts.Status, counts.Rings)

	// Every check fails somewhere on the blade it belongs to.
	reasons := map[store.Tab]map[store.CheckID]int{}
	for _, tab := range []store.Tab{store.TabNotReady, store.TabNotRegistered} {
		reasons[tab] = map[store.CheckID]int{}
		err := st.EachDevice(ctx, store.DeviceQuery{Tab: tab}, func(r *store.DeviceRow) error {
			for _, id := range r.Reasons {
				reasons[tab][id]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range store.PrerequisiteChecks {
		if reasons[store.TabNotRegistered][id] == 0 {
			t.Errorf("no device fails prerequisite %s", id)
		}
	}
	for _, id := range store.ReadinessChecks {
		if id != store.CheckWindowsOS && reasons[store.TabNotReady][id] == 0 {
			t.Errorf("no registered device fails readiness check %s", id)
		}
	}

	// The Lab group is nested two levels deep: its devices are on no blade.
	groups, err := st.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if g.Name == "Autopatch - Lab" && g.Discovered() {
			t.Errorf("the Lab group is discovered (depth %d)", g.Depth)
		}
	}
	for _, g := range f.Groups {
		if g.Name != "Autopatch - Lab" {
			continue
		}
		for _, id := range g.Members {
			rec, err := st.Device(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status != "" {
				t.Errorf("Lab device %s is %s, want on no blade", rec.DisplayName, rec.Status.Label())
			}
		}
	}

	// A hardware repair's new record fails because the old one is registered.
	for _, id := range f.Replacements {
		rec, err := st.Device(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != store.StatusPrerequisitesFailed || len(rec.Failures) == 0 ||
			rec.Failures[0].Check != store.CheckHardwareIdentity || !strings.Contains(rec.Failures[0].Reason, "registered device") {
			t.Errorf("replacement %s: status %s, failures %+v; want hardware-identity naming the registered record",
				rec.DisplayName, rec.Status, rec.Failures)
		}
	}

	// Discovery again at the same time finds nothing to do.
	again, err := st.Discover(ctx, store.TriggerCLI, "test", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if again.Registered != 0 || again.StatusChanges != 0 || again.Total != 0 {
		t.Errorf("second discovery = %+v, want no change", again)
	}
	after, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, counts) {
		t.Errorf("counts after another discovery = %+v, want %+v", after, counts)
	}
}

func TestLoadRequiresNow(t *testing.T) {
	_, err := demo.Load(context.Background(), nil, demo.Fleet{}, time.Time{})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Load without now = %v, want ErrInvalid", err)
	}
}

func TestLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := demo.Load(ctx, openStore(t), generate(50, 1), testNow)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context = %v, want context.Canceled", err)
	}
}

func BenchmarkGenerate(b *testing.B) {
	const n = 100_000
	b.ReportAllocs()
	for b.Loop() {
		f := demo.Generate(demo.Options{Devices: n, Now: testNow})
		if len(f.Devices) != n {
			b.Fatalf("%d devices", len(f.Devices))
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "devices/s")
}
