// Package demo builds Patchboard's demo fleet: a deterministic, realistic
// device directory with its group layout, used by `patchboard demo`,
// `make run`, tests and benchmarks.
//
// Generate is pure: the same Options give the same Fleet, device for device.
// Load writes a Fleet into a store and runs discovery so that every blade,
// status and prerequisite has something to show:
//
//   - devices that fail each prerequisite of SPEC §3 (unmanaged, missing or
//     duplicate serial numbers, a hardware repair whose old record is still
//     registered, stale check-ins, old or unsupported Windows, personal and
//     Entra-registered devices, Macs and iPhones, ConfigMgr workloads, Azure
//     Virtual Desktop session hosts, dual-state records);
//   - registered devices that fail each readiness check of SPEC §4, and
//     devices registered a month ago that have since stopped checking in;
//   - a Device Registration group with direct members, an assigned and a
//     dynamic group nested in it, and an assigned group nested two levels
//     deep whose devices are not discovered;
//   - a few deregistered (Excluded) devices and an admin-chosen Test ring.
package demo

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"time"

	"patchboard/store"
)

// Options say which fleet to generate.
type Options struct {
	// Devices is the size of the directory; 0 means 2,000.
	Devices int
	// Seed selects the fleet; 0 means 1. The same seed (and the same Devices
	// and Now) gives the same fleet.
	Seed int64
	// Now is the fleet's "now": check-ins are placed relative to it. It is
	// required.
	Now time.Time
}

// Defaults of Options.
const (
	DefaultDevices = 2000
	DefaultSeed    = 1
)

// Fleet is the generated directory and its group layout, before anything is
// written.
type Fleet struct {
	// Devices is the directory, in the order Load writes it.
	Devices []*store.Device
	// Groups are created in order. The first is the built-in Device
	// Registration group, which Load does not create but fills.
	Groups []GroupPlan
	// Deregister lists the device IDs the demo excludes after discovery.
	Deregister []string
	// TestRing lists the device IDs an admin puts in the Test ring after
	// discovery.
	TestRing []string
	// Replacements lists the new device IDs of hardware repairs: records that
	// share the serial number of an older record in the group. The repair
	// happened during the last month, so Load writes these records (and their
	// memberships) only after the first discovery run has registered the old
	// ones; otherwise both would simply be duplicate candidates.
	Replacements []string
}

// GroupPlan is one group of the layout.
type GroupPlan struct {
	// Name is the group's name.
	Name string
	// Rule is the membership rule of a dynamic group; "" for an assigned
	// group.
	Rule string
	// Parent names the group this one is nested in; "" for none.
	Parent string
	// Members are the device IDs of an assigned group.
	Members []string
}

// Shares of the fleet, as fractions of Options.Devices. Pairs count both
// records.
const (
	shareLab  = 0.03  // LAB- devices, in the group nested two levels deep
	shareNone = 0.044 // SLS- devices in no group (with the rule-excluded AVD hosts, ~5 %)

	shareDeregister = 0.005 // of healthy discovered devices
	shareTestRing   = 0.01  // of healthy discovered devices

	// Chance that a device of a nested group is also a direct member of the
	// Device Registration group.
	directAP      = 0.10
	directFinance = 0.20

	shareUnreported = 0.20 // devices that report no readiness signal
	shareHybrid     = 0.27 // of devices whose join type is not dictated by their kind
)

// kind is what a generated device is meant to show once discovered.
type kind uint8

const (
	kindHealthy kind = iota

	// Prerequisite failures (SPEC §3).
	kindConfigMgr         // managed by Configuration Manager only
	kindUnmanaged         // managed by nothing
	kindNoSerial          // no serial number
	kindNoModel           // no model (and sometimes no manufacturer)
	kindDuplicate         // pair: two candidates with one serial number
	kindRepair            // pair: a registered record and its replacement after a repair
	kindStale             // last check-in 90 days ago or more
	kindBuild16299        // Windows 10 1709
	kindBuild17134        // Windows 10 1803
	kindARM64             // arm64
	kindX86               // 32-bit Windows
	kindHome              // Windows Home, Entra registered (Home cannot join)
	kindPersonal          // personally owned
	kindEntraRegistered   // company-owned but only Entra registered
	kindMacOS             // a Mac named like the Windows devices
	kindIOS               // an iPhone named like the Windows devices
	kindWorkload          // co-managed with a workload still on ConfigMgr
	kindAVDMultiSession   // AVD-MS-…: multi-session host put in the group directly
	kindAVDPooled         // AP-AVD-PL-…: pooled host the dynamic rule matches
	kindAVDMultiSessionAP // AP-AVD-MS-…: multi-session host the dynamic rule leaves out
	kindDualState         // pair: a hybrid-joined record and its stale Entra-registered twin

	// Readiness failures (SPEC §4) of devices that register.
	kindWUGPO     // Windows Update policy from Group Policy
	kindOfficeGPO // Office update policy from Group Policy
	kindEndpoints // 1–2 unreachable endpoints
	kindOffline   // no internet connection
	kindInactive  // registered a month ago, no check-in for 29–55 days
)

// quota is the share of the fleet of one kind.
type quota struct {
	kind  kind
	share float64
	pair  bool
}

// quotas is the fleet composition, in the order small fleets are filled.
var quotas = []quota{
	{kindConfigMgr, 0.02, false},
	{kindUnmanaged, 0.01, false},
	{kindNoSerial, 0.005, false},
	{kindNoModel, 0.005, false},
	{kindDuplicate, 0.01, true},
	{kindRepair, 0.005, true}, // a handful: 5 repairs in 2,000 devices
	{kindStale, 0.03, false},
	{kindBuild16299, 0.008, false},
	{kindBuild17134, 0.008, false},
	{kindARM64, 0.008, false},
	{kindX86, 0.008, false},
	{kindHome, 0.008, false},
	{kindPersonal, 0.01, false},
	{kindEntraRegistered, 0.01, false},
	{kindMacOS, 0.005, false},
	{kindIOS, 0.005, false},
	{kindWorkload, 0.03, false},
	{kindAVDMultiSession, 0.008, false},
	{kindAVDPooled, 0.006, false},
	{kindAVDMultiSessionAP, 0.006, false},
	{kindDualState, 0.01, true},
	{kindWUGPO, 0.03, false},
	{kindOfficeGPO, 0.02, false},
	{kindEndpoints, 0.02, false},
	{kindOffline, 0.01, false},
	{kindInactive, 0.02, false},
}

// family is the naming and group family of a device.
type family uint8

const (
	famAuto    family = iota // one of AP, Finance and HR, by assignFamilies
	famAP                    // AP-…: the dynamic group (some also direct members)
	famFinance               // FIN-…: Autopatch - Finance (some also direct members)
	famHR                    // HR-…: direct members of Device Registration
	famLab                   // LAB-…: Autopatch - Lab, nested two levels deep
	famNone                  // SLS-…: in no group
	famHosts                 // AVD-MS-…: direct members of Device Registration
	numFamilies
)

var familyPrefix = [numFamilies]string{famAP: "AP-", famFinance: "FIN-", famHR: "HR-", famLab: "LAB-", famNone: "SLS-", famHosts: ""}

// Weights of the discovered families for devices not tied to one; chosen so
// that AP- is ~45 %, FIN- ~15 % and HR- ~31 % of the fleet.
// The last family takes the rounding remainder.
var discoveredFamilies = []weighted[family]{{famAP, 43}, {famFinance, 15}, {famHR, 31}}

// form is the device's form factor, which decides its name, model and kind.
type form uint8

const (
	formLaptop form = iota
	formDesktop
	formVM
	formCloudPC
	formAVDPersonal
	formAVDPooled
	formAVDMultiSession
	formMac
	formPhone
	numForms
)

var formCode = [numForms]string{"LT", "DT", "VM", "CPC", "AVD-PS", "AVD-PL", "AVD-MS", "MAC", "IPH"}

var formKind = [numForms]string{
	formLaptop: store.KindPhysical, formDesktop: store.KindPhysical, formVM: store.KindVirtualMachine,
	formCloudPC: store.KindCloudPC, formAVDPersonal: store.KindAVDPersonal, formAVDPooled: store.KindAVDPooled,
	formAVDMultiSession: store.KindAVDMultiSession, formMac: store.KindPhysical, formPhone: store.KindPhysical,
}

// Form factors of ordinary devices by family.
var (
	officeForms   = []weighted[form]{{formLaptop, 62}, {formDesktop, 27}, {formVM, 2}, {formCloudPC, 5}, {formAVDPersonal, 4}}
	labForms      = []weighted[form]{{formLaptop, 20}, {formDesktop, 40}, {formVM, 40}}
	salesForms    = []weighted[form]{{formLaptop, 90}, {formDesktop, 10}}
	physicalForms = []weighted[form]{{formLaptop, 70}, {formDesktop, 30}}
)

// weighted is a choice with its relative weight.
type weighted[T any] struct {
	v T
	w int
}

// unit is one planned device, or one planned pair.
type unit struct {
	kind kind
	fam  family
}

// Generate returns the fleet of o. It is pure: the same Options give an
// identical Fleet. It panics when o.Now is zero, because a fleet without a
// "now" has no meaningful check-ins.
func Generate(o Options) Fleet {
	if o.Now.IsZero() {
		panic("demo: Options.Now is required")
	}
	if o.Devices <= 0 {
		o.Devices = DefaultDevices
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	g := newGen(o)
	units := plan(o.Devices)
	g.rng.Shuffle(len(units), func(i, j int) { units[i], units[j] = units[j], units[i] })
	g.assignFamilies(units)
	for _, u := range units {
		g.emit(u)
	}
	return g.fleet()
}

// plan lists the units of a fleet of n devices: every quota (at least one
// of each kind once n ≥ 200), the Lab and ungrouped devices, and healthy
// devices for the rest. A fleet too small for every quota keeps those that
// fit, in quota order.
func plan(n int) []unit {
	count := func(share float64) int {
		c := int(math.Round(share * float64(n)))
		if c == 0 && n >= 200 {
			c = 1
		}
		return c
	}
	units := make([]unit, 0, n)
	total := 0
	add := func(u unit, size, times int) {
		for ; times > 0 && total+size <= n; times-- {
			units = append(units, u)
			total += size
		}
	}
	add(unit{kindHealthy, famLab}, 1, count(shareLab))
	add(unit{kindHealthy, famNone}, 1, count(shareNone))
	for _, q := range quotas {
		if q.pair {
			add(unit{q.kind, famAuto}, 2, count(q.share/2))
		} else {
			add(unit{q.kind, famAuto}, 1, count(q.share))
		}
	}
	add(unit{kindHealthy, famAuto}, 1, n-total)
	return units
}

// familyOf returns the family a kind dictates, or famAuto.
func familyOf(k kind) family {
	switch k {
	case kindAVDMultiSession:
		return famHosts
	case kindAVDPooled, kindAVDMultiSessionAP, kindMacOS, kindIOS:
		return famAP // named AP-… like the fleet's Windows devices
	}
	return famAuto
}

// assignFamilies gives every unit without a family one of the discovered
// families, in exact proportion to their weights (so that small fleets
// have the promised shares too), in random order.
func (g *gen) assignFamilies(units []unit) {
	var auto []int
	for i := range units {
		if units[i].fam == famAuto {
			if units[i].fam = familyOf(units[i].kind); units[i].fam == famAuto {
				auto = append(auto, i)
			}
		}
	}
	total := 0
	for _, w := range discoveredFamilies {
		total += w.w
	}
	fams := make([]family, 0, len(auto))
	for i, w := range discoveredFamilies {
		n := len(auto) * w.w / total
		if i == len(discoveredFamilies)-1 {
			n = len(auto) - len(fams)
		}
		for range n {
			fams = append(fams, w.v)
		}
	}
	g.rng.Shuffle(len(fams), func(i, j int) { fams[i], fams[j] = fams[j], fams[i] })
	for k, i := range auto {
		units[i].fam = fams[k]
	}
}

// gen holds the state of one generation.
type gen struct {
	rng *rand.Rand
	now time.Time

	arena []store.Device // every device, allocated at once
	next  int

	// Device IDs: the last 48 bits are an affine permutation of the device's
	// sequence number, so IDs are unique without a lookup table.
	idMul, idAdd uint64

	serials  [numSerialStyles]affine
	serialN  [numSerialStyles]uint64
	names    [numFamilies][numForms]int
	prefixes [numFamilies][numForms]string

	// Membership lists, as indexes into arena.
	direct, finance, lab []int32
	healthy              []int32 // healthy devices in discovered groups
	replacements         []int32
}

// affine is the bijection x → (mul·x + add) mod mod, with mul coprime to mod.
type affine struct{ mul, add, mod uint64 }

func (a affine) at(x uint64) uint64 {
	hi, lo := bits.Mul64(a.mul, x)
	r := bits.Rem64(hi, lo, a.mod)
	return (r + a.add) % a.mod
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func newGen(o Options) *gen {
	seed := uint64(o.Seed)
	g := &gen{
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:   o.Now.UTC(),
		arena: make([]store.Device, o.Devices),
	}
	g.idMul = g.rng.Uint64() | 1
	g.idAdd = g.rng.Uint64()
	for s := range numSerialStyles {
		m := serialSpace[s]
		a := affine{mod: m, add: g.rng.Uint64N(m)}
		for a.mul = g.rng.Uint64N(m-1) + 1; gcd(a.mul, m) != 1; a.mul = g.rng.Uint64N(m-1) + 1 {
		}
		g.serials[s] = a
	}
	for f := range numFamilies {
		for k := range numForms {
			g.prefixes[f][k] = familyPrefix[f] + formCode[k] + "-"
		}
	}
	return g
}

func pick[T any](r *rand.Rand, items []weighted[T]) T {
	total := 0
	for _, it := range items {
		total += it.w
	}
	x := r.IntN(total)
	for _, it := range items {
		if x < it.w {
			return it.v
		}
		x -= it.w
	}
	return items[len(items)-1].v
}

func pickModel(r *rand.Rand, ms []model) model {
	total := 0
	for _, m := range ms {
		total += m.weight
	}
	x := r.IntN(total)
	for _, m := range ms {
		if x < m.weight {
			return m
		}
		x -= m.weight
	}
	return ms[len(ms)-1]
}

func pickVersion(r *rand.Rand, bs []build) string {
	total := 0
	for _, b := range bs {
		total += b.weight
	}
	x := r.IntN(total)
	for _, b := range bs {
		if x < b.weight {
			return b.versions[r.IntN(len(b.versions))]
		}
		x -= b.weight
	}
	b := bs[len(bs)-1]
	return b.versions[r.IntN(len(b.versions))]
}

func (g *gen) chance(p float64) bool { return g.rng.Float64() < p }

// ago returns a whole-second UTC time between lo and hi before now, as the
// store keeps check-ins.
func (g *gen) ago(lo, hi time.Duration) time.Time {
	d := lo + time.Duration(g.rng.Int64N(int64(hi-lo)))
	return g.now.Add(-d).Truncate(time.Second)
}

// recent is the check-in of a device in use: mostly within the day (Intune
// checks in every eight hours), otherwise within the week.
func (g *gen) recent() time.Time {
	if g.chance(0.8) {
		return g.ago(0, 24*time.Hour)
	}
	return g.ago(24*time.Hour, 7*24*time.Hour)
}

const day = 24 * time.Hour

// emit generates the device or pair of u.
func (g *gen) emit(u unit) {
	fam := u.fam
	base := int32(g.next) // the unit's devices are allocated from here on
	var direct bool
	switch fam {
	case famHR, famHosts:
		direct = true
	case famAP:
		direct = u.kind != kindAVDMultiSessionAP && g.chance(directAP)
	case famFinance:
		direct = g.chance(directFinance)
	}
	switch u.kind {
	case kindDuplicate:
		f := pick(g.rng, physicalForms)
		if g.chance(0.5) {
			f = formVM // VMs cloned from one template share the BIOS serial
		}
		a := g.newDevice(fam, f, nil)
		b := g.newDevice(fam, f, nil)
		b.Manufacturer, b.Model, b.SerialNumber = a.Manufacturer, a.Model, a.SerialNumber
		g.add(base, u.kind, fam, direct)
		g.add(base+1, u.kind, fam, direct)
	case kindRepair:
		// The old record stopped checking in when the board was replaced;
		// the directory gave the repaired device a new ID, same name and
		// serial, and it was re-imaged with a current build.
		old := g.newDevice(fam, pick(g.rng, physicalForms), nil)
		old.LastCheckin = g.ago(29*day, 55*day)
		nw := g.alloc()
		*nw = *old
		nw.DeviceID = g.id()
		nw.OSVersion = pickVersion(g.rng, currentBuilds)
		nw.LastCheckin = g.recent()
		g.signals(nw)
		g.add(base, u.kind, fam, direct)
		g.add(base+1, u.kind, fam, direct)
		g.replacements = append(g.replacements, base+1)
	case kindDualState:
		// A PC that was Entra registered before it was domain joined: the
		// registered record lingers beside the hybrid-joined one.
		hybrid := g.newDevice(fam, pick(g.rng, physicalForms), nil)
		g.setJoin(hybrid, true)
		stale := g.alloc()
		*stale = *hybrid
		stale.DeviceID = g.id()
		stale.JoinType = store.JoinEntraRegistered
		stale.Management = store.ManagementIntune
		stale.WorkloadWindowsUpdate, stale.WorkloadDeviceConfiguration, stale.WorkloadOfficeC2R = "", "", ""
		stale.LastCheckin = g.ago(0, 14*day)
		g.unreported(stale)
		g.add(base, u.kind, fam, direct)
		g.add(base+1, u.kind, fam, direct)
	default:
		g.single(u.kind, fam)
		g.add(base, u.kind, fam, direct)
	}
}

// add records the memberships of device i of the arena.
func (g *gen) add(i int32, k kind, fam family, direct bool) {
	if direct {
		g.direct = append(g.direct, i)
	}
	switch fam {
	case famFinance:
		g.finance = append(g.finance, i)
	case famLab:
		g.lab = append(g.lab, i)
	}
	if k == kindHealthy && (fam == famAP || fam == famFinance || fam == famHR) {
		g.healthy = append(g.healthy, i)
	}
}

func (g *gen) alloc() *store.Device {
	d := &g.arena[g.next]
	g.next++
	return d
}

// single generates a device of a kind that comes alone.
func (g *gen) single(k kind, fam family) *store.Device {
	var d *store.Device
	switch k {
	case kindHealthy, kindWUGPO, kindOfficeGPO, kindEndpoints, kindOffline, kindInactive:
		forms := officeForms
		switch fam {
		case famLab:
			forms = labForms
		case famNone:
			forms = salesForms
		}
		d = g.newDevice(fam, pick(g.rng, forms), nil)
	case kindMacOS:
		d = g.newDevice(fam, formMac, nil)
	case kindIOS:
		d = g.newDevice(fam, formPhone, nil)
	case kindAVDMultiSession, kindAVDMultiSessionAP:
		d = g.newDevice(fam, formAVDMultiSession, nil)
	case kindAVDPooled:
		d = g.newDevice(fam, formAVDPooled, nil)
	case kindARM64:
		d = g.newDevice(fam, formLaptop, armLaptops)
	case kindHome:
		d = g.newDevice(fam, formLaptop, homeLaptops)
	case kindBuild16299, kindBuild17134, kindX86:
		d = g.newDevice(fam, formDesktop, nil)
	default:
		d = g.newDevice(fam, pick(g.rng, physicalForms), nil)
	}

	switch k {
	case kindConfigMgr:
		g.setJoin(d, true)
		d.Management = store.ManagementConfigMgr
		d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = "", "", ""
		d.LastCheckin = time.Time{} // never enrolled in Intune
		g.unreported(d)
	case kindUnmanaged:
		d.Management = store.ManagementNone
		d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = "", "", ""
		d.LastCheckin = time.Time{}
		g.unreported(d)
	case kindNoSerial:
		d.SerialNumber = ""
	case kindNoModel:
		d.Model = ""
		if g.chance(0.5) {
			d.Manufacturer = ""
		}
	case kindStale:
		d.LastCheckin = g.ago(90*day, 400*day)
		if g.chance(0.25) {
			d.AccountEnabled = false // disabled by a stale-device clean-up
		}
	case kindBuild16299:
		d.OSVersion = pickVersion(g.rng, []build{build16299})
		d.Edition = pick(g.rng, []weighted[string]{{"Enterprise", 3}, {"Professional", 1}})
	case kindBuild17134:
		d.OSVersion = pickVersion(g.rng, []build{build17134})
		d.Edition = pick(g.rng, []weighted[string]{{"Enterprise", 3}, {"Professional", 1}})
	case kindARM64:
		d.Architecture = store.ArchARM64
		d.OSVersion = pickVersion(g.rng, currentBuilds)
	case kindX86:
		d.Architecture = store.ArchX86
		d.OSVersion = pickVersion(g.rng, []build{win10_22H2})
		d.Edition = "Professional"
	case kindHome:
		d.Edition = "Home"
		d.OSVersion = pickVersion(g.rng, currentBuilds)
		d.JoinType = store.JoinEntraRegistered
		d.Management = store.ManagementIntune
		d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = "", "", ""
	case kindPersonal:
		d.Ownership = store.OwnershipPersonal
		if g.chance(0.5) {
			d.JoinType = store.JoinEntraRegistered
			d.Management = store.ManagementIntune
			d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = "", "", ""
		}
	case kindEntraRegistered:
		d.JoinType = store.JoinEntraRegistered
		d.Management = store.ManagementIntune
		d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = "", "", ""
	case kindWorkload:
		g.setJoin(d, true)
		d.Management = store.ManagementCoManaged
		g.workloads(d)
		mask := 1 + g.rng.IntN(7) // at least one workload left on ConfigMgr
		if mask&1 != 0 {
			d.WorkloadWindowsUpdate = store.WorkloadConfigMgr
		}
		if mask&2 != 0 {
			d.WorkloadDeviceConfiguration = store.WorkloadConfigMgr
		}
		if mask&4 != 0 {
			d.WorkloadOfficeC2R = store.WorkloadConfigMgr
		}
	case kindWUGPO:
		g.setJoin(d, true) // Group Policy needs a domain
		g.reported(d)
		d.WUPolicySource = sourceGPO
	case kindOfficeGPO:
		g.setJoin(d, true)
		g.reported(d)
		d.OfficePolicySource = sourceGPO
	case kindEndpoints:
		g.reported(d)
		i := g.rng.IntN(len(endpoints))
		if g.chance(0.35) {
			j := g.rng.IntN(len(endpoints) - 1)
			if j >= i {
				j++
			}
			d.UnreachableEndpoints = []string{endpoints[min(i, j)], endpoints[max(i, j)]}
		} else {
			d.UnreachableEndpoints = []string{endpoints[i]}
		}
	case kindOffline:
		g.reported(d)
		d.InternetConnected = store.SignalFalse
	case kindInactive:
		d.LastCheckin = g.ago(29*day, 55*day)
	}
	return d
}

// newDevice generates an ordinary device of family fam and form f that
// passes every check; models overrides the catalogue of the form.
func (g *gen) newDevice(fam family, f form, models []model) *store.Device {
	d := g.alloc()
	d.DeviceID = g.id()
	d.DisplayName = g.name(fam, f)
	if models == nil {
		switch f {
		case formLaptop:
			models = laptops
		case formDesktop:
			models = desktops
		case formCloudPC:
			models = cloudPCs
		case formMac:
			models = macs
		case formPhone:
			models = phones
		default:
			models = virtualMachine
		}
	}
	m := pickModel(g.rng, models)
	d.Manufacturer, d.Model = m.maker, m.name
	d.SerialNumber = g.serial(m.serial)
	d.DeviceKind = formKind[f]
	d.Ownership = store.OwnershipCompany
	d.AccountEnabled = true
	d.LastCheckin = g.recent()

	switch f {
	case formMac, formPhone:
		if f == formMac {
			d.OS, d.OSVersion = "macOS", macOSVersions[g.rng.IntN(len(macOSVersions))]
		} else {
			d.OS, d.OSVersion = "iOS", iOSVersions[g.rng.IntN(len(iOSVersions))]
		}
		d.Architecture = store.ArchARM64
		d.JoinType = store.JoinEntraRegistered
		d.Management = store.ManagementIntune
		return d
	}

	d.OS = store.OSWindows
	d.Architecture = store.ArchX64
	switch f {
	case formCloudPC, formAVDPersonal, formAVDPooled, formAVDMultiSession:
		d.OSVersion = pickVersion(g.rng, currentBuilds)
		d.Edition = "Enterprise"
		if f == formAVDMultiSession {
			d.Edition = "Enterprise multi-session"
		}
		// Virtual desktops are Intune-managed; a minority are hybrid joined.
		d.Management = store.ManagementIntune
		d.JoinType = store.JoinEntraJoined
		if g.chance(0.3) {
			d.JoinType = store.JoinHybridJoined
		}
	default:
		d.OSVersion = pickVersion(g.rng, windowsBuilds)
		d.Edition = pick(g.rng, editionWeights)
		if store.OSBuild(d.OSVersion) == 19044 && g.chance(0.6) {
			d.Edition = "Enterprise LTSC"
		}
		g.setJoin(d, g.chance(shareHybrid))
	}
	g.signals(d)
	return d
}

var editionWeights = func() []weighted[string] {
	out := make([]weighted[string], len(editions))
	for i, e := range editions {
		out[i] = weighted[string]{e.name, e.weight}
	}
	return out
}()

// setJoin makes d Entra joined or hybrid joined, with the management that
// goes with it: hybrid-joined PCs usually still have the ConfigMgr client
// and are co-managed, Entra-joined ones are Intune-managed.
func (g *gen) setJoin(d *store.Device, hybrid bool) {
	d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = "", "", ""
	coManaged := false
	if hybrid {
		d.JoinType = store.JoinHybridJoined
		coManaged = g.chance(0.8)
	} else {
		d.JoinType = store.JoinEntraJoined
		coManaged = g.chance(0.06)
	}
	d.Management = store.ManagementIntune
	if coManaged {
		d.Management = store.ManagementCoManaged
		g.workloads(d)
	}
}

// workloads moves every co-management workload to Pilot Intune or Intune.
func (g *gen) workloads(d *store.Device) {
	w := func() string {
		if g.chance(0.35) {
			return workloadsOK[0]
		}
		return workloadsOK[1]
	}
	d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = w(), w(), w()
}

// signals sets passing readiness signals, or none for the devices that have
// not reported them.
func (g *gen) signals(d *store.Device) {
	if g.chance(shareUnreported) {
		g.unreported(d)
		return
	}
	g.reported(d)
}

func (g *gen) reported(d *store.Device) {
	d.WUPolicySource = sourceIntune
	d.OfficePolicySource = sourceCDN
	if g.chance(0.35) {
		d.OfficePolicySource = sourceIntune
	}
	d.UnreachableEndpoints = nil
	d.InternetConnected = store.SignalTrue
}

func (g *gen) unreported(d *store.Device) {
	d.WUPolicySource, d.OfficePolicySource = "", ""
	d.UnreachableEndpoints = nil
	d.InternetConnected = store.SignalUnknown
}

const hexDigits = "0123456789abcdef"

// id returns a new lower-case version-4 GUID. The last 12 digits are a
// permutation of the device's sequence number, so every ID of a fleet is
// different.
func (g *gen) id() string {
	hi, lo := g.rng.Uint64(), g.rng.Uint64()
	seq := uint64(g.next) // alloc runs first, so next is unique per device
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0x3<<62) | 0x2<<62
	lo = lo&^(1<<48-1) | (seq*g.idMul+g.idAdd)&(1<<48-1)
	var b [36]byte
	n := 0
	put := func(v uint64, digits int) {
		for i := digits - 1; i >= 0; i-- {
			b[n] = hexDigits[(v>>(4*uint(i)))&0xf]
			n++
		}
	}
	put(hi>>32, 8)
	b[n] = '-'
	n++
	put(hi>>16, 4)
	b[n] = '-'
	n++
	put(hi, 4)
	b[n] = '-'
	n++
	put(lo>>48, 4)
	b[n] = '-'
	n++
	put(lo, 12)
	return string(b[:])
}

// name returns the next display name of a family and form, e.g. AP-LT-0042.
func (g *gen) name(fam family, f form) string {
	g.names[fam][f]++
	prefix := g.prefixes[fam][f]
	var b [32]byte
	out := append(b[:0], prefix...)
	v := g.names[fam][f]
	for w := 1000; w > 1 && v < w; w /= 10 {
		out = append(out, '0')
	}
	out = appendUint(out, uint64(v))
	return string(out)
}

func appendUint(b []byte, v uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// serial returns the next serial number of a style, unique within the fleet.
func (g *gen) serial(s serialStyle) string {
	x := g.serials[s].at(g.serialN[s])
	g.serialN[s]++
	var b [32]byte
	out := b[:0]
	digits := func(v uint64, width int, alphabet string) {
		start := len(out)
		for range width {
			out = append(out, 0)
		}
		base := uint64(len(alphabet))
		for i := len(out) - 1; i >= start; i-- {
			out[i] = alphabet[v%base]
			v /= base
		}
	}
	switch s {
	case serialDell:
		digits(x, 7, serialChars)
	case serialHP:
		out = append(out, "5CG"...)
		digits(x/pow(serialRadix, 4), 3, serialChars[:10])
		digits(x%pow(serialRadix, 4), 4, serialChars)
	case serialLenovo:
		out = append(out, "PF"...)
		digits(x, 6, serialChars)
	case serialSurface:
		digits(x, 12, serialChars[:10])
	case serialHyperV:
		var raw [26]byte
		r := g.rng.Uint64N(pow(10, 14))
		for i := 13; i >= 0; i-- {
			raw[i] = byte('0' + r%10)
			r /= 10
		}
		for i := 25; i >= 14; i-- {
			raw[i] = byte('0' + x%10)
			x /= 10
		}
		for i, c := range raw {
			if i > 0 && i%4 == 0 {
				out = append(out, '-')
			}
			out = append(out, c)
		}
	case serialApple:
		digits(x, 10, serialChars)
	}
	return string(out)
}

// fleet assembles the result once every device is generated.
func (g *gen) fleet() Fleet {
	devs := make([]*store.Device, len(g.arena))
	for i := range g.arena {
		devs[i] = &g.arena[i]
	}
	ids := func(idx []int32) []string {
		out := make([]string, len(idx))
		for i, x := range idx {
			out[i] = g.arena[x].DeviceID
		}
		return out
	}

	// Deregister and Test ring devices are distinct healthy devices, picked
	// by a partial shuffle and listed in directory order.
	h := g.healthy
	nDereg, nTest := 0, 0
	if len(h) > 0 {
		nDereg = max(1, int(math.Round(shareDeregister*float64(len(h)))))
		nTest = max(1, int(math.Round(shareTestRing*float64(len(h)))))
		if len(g.arena) >= 200 {
			nTest = max(nTest, 2)
		}
		nDereg = min(nDereg, len(h))
		nTest = min(nTest, len(h)-nDereg)
	}
	for i := range nDereg + nTest {
		j := i + g.rng.IntN(len(h)-i)
		h[i], h[j] = h[j], h[i]
	}
	dereg, test := slices.Clone(h[:nDereg]), slices.Clone(h[nDereg:nDereg+nTest])
	slices.Sort(dereg)
	slices.Sort(test)

	return Fleet{
		Devices: devs,
		Groups: []GroupPlan{
			{Name: store.RegistrationGroupName, Members: ids(g.direct)},
			{Name: groupFinance, Parent: store.RegistrationGroupName, Members: ids(g.finance)},
			{Name: groupAP, Rule: ruleAPDevices, Parent: store.RegistrationGroupName},
			{Name: groupLab, Parent: groupFinance, Members: ids(g.lab)},
		},
		Deregister:   ids(dereg),
		TestRing:     ids(test),
		Replacements: ids(g.replacements),
	}
}
