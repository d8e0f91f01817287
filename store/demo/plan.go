package demo

// This file plans the fleet: its composition by kind, family and form.

import (
	"math"

	"patchboard/store"
)

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
