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
