package demo

// This file generates the devices of a plan.

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"time"

	"patchboard/store"
)

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
		a := affine{mod: m, add: g.rng.Uint64N(m), mul: g.rng.Uint64N(m-1) + 1}
		for gcd(a.mul, m) != 1 {
			a.mul = g.rng.Uint64N(m-1) + 1
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

// pick returns one of items, each with the chance its weight gives it.
func pick[T any](r *rand.Rand, items []T, weight func(T) int) T {
	total := 0
	for _, it := range items {
		total += weight(it)
	}
	x := r.IntN(total)
	for _, it := range items {
		if w := weight(it); x < w {
			return it
		}
		x -= weight(it)
	}
	return items[len(items)-1]
}

func choose[T any](r *rand.Rand, items []weighted[T]) T {
	return pick(r, items, func(w weighted[T]) int { return w.w }).v
}

func pickModel(r *rand.Rand, ms []model) model {
	return pick(r, ms, func(m model) int { return m.weight })
}

// pickVersion picks a build, then one of its monthly revisions.
func pickVersion(r *rand.Rand, bs []build) string {
	b := pick(r, bs, func(b build) int { return b.weight })
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
		f := choose(g.rng, physicalForms)
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
		old := g.newDevice(fam, choose(g.rng, physicalForms), nil)
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
		hybrid := g.newDevice(fam, choose(g.rng, physicalForms), nil)
		g.setJoin(hybrid, true)
		stale := g.alloc()
		*stale = *hybrid
		stale.DeviceID = g.id()
		stale.JoinType = store.JoinEntraRegistered
		manage(stale, store.ManagementIntune)
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
func (g *gen) single(k kind, fam family) {
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
		d = g.newDevice(fam, choose(g.rng, forms), nil)
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
		d = g.newDevice(fam, choose(g.rng, physicalForms), nil)
	}

	switch k {
	case kindConfigMgr:
		g.setJoin(d, true)
		manage(d, store.ManagementConfigMgr)
		d.LastCheckin = time.Time{} // never enrolled in Intune
		g.unreported(d)
	case kindUnmanaged:
		manage(d, store.ManagementNone)
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
		d.Edition = choose(g.rng, []weighted[string]{{"Enterprise", 3}, {"Professional", 1}})
	case kindBuild17134:
		d.OSVersion = pickVersion(g.rng, []build{build17134})
		d.Edition = choose(g.rng, []weighted[string]{{"Enterprise", 3}, {"Professional", 1}})
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
		manage(d, store.ManagementIntune)
	case kindPersonal:
		d.Ownership = store.OwnershipPersonal
		if g.chance(0.5) {
			d.JoinType = store.JoinEntraRegistered
			manage(d, store.ManagementIntune)
		}
	case kindEntraRegistered:
		d.JoinType = store.JoinEntraRegistered
		manage(d, store.ManagementIntune)
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
		d.Edition = choose(g.rng, editions)
		if store.OSBuild(d.OSVersion) == 19044 && g.chance(0.6) {
			d.Edition = "Enterprise LTSC"
		}
		g.setJoin(d, g.chance(shareHybrid))
	}
	g.signals(d)
	return d
}

// manage sets a management other than co-management, which has no
// workloads.
func manage(d *store.Device, management string) {
	d.Management = management
	d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = "", "", ""
}

// setJoin makes d Entra joined or hybrid joined, with the management that
// goes with it: hybrid-joined PCs usually still have the ConfigMgr client
// and are co-managed, Entra-joined ones are Intune-managed.
func (g *gen) setJoin(d *store.Device, hybrid bool) {
	coManaged := false
	if hybrid {
		d.JoinType = store.JoinHybridJoined
		coManaged = g.chance(0.8)
	} else {
		d.JoinType = store.JoinEntraJoined
		coManaged = g.chance(0.06)
	}
	manage(d, store.ManagementIntune)
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
