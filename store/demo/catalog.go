package demo

import "patchboard/store"

// This file holds the hardware and software catalogue the fleet is drawn
// from: models as Intune reports them, Windows builds with recent monthly
// revisions, and the serial-number style of each manufacturer.

// serialStyle is how a manufacturer writes its serial numbers.
type serialStyle uint8

const (
	serialDell    serialStyle = iota // 7-character service tag, e.g. 8XK2GF3
	serialHP                         // 5CG + 3 digits + 4 characters, e.g. 5CG3214KJ7
	serialLenovo                     // PF + 6 characters, e.g. PF4B9XTK
	serialSurface                    // 12 digits, e.g. 027193645182
	serialHyperV                     // Hyper-V BIOS serial, 4-4-4-4-4-4-2 digits
	serialApple                      // 10 characters, e.g. H9X2LT7MPD
	numSerialStyles
)

// serialSpace is the number of distinct serials each style can produce from
// its counter (the part of the serial that is a permutation of the counter).
var serialSpace = [numSerialStyles]uint64{
	serialDell:    pow(serialRadix, 7),
	serialHP:      1000 * pow(serialRadix, 4),
	serialLenovo:  pow(serialRadix, 6),
	serialSurface: pow(10, 12),
	serialHyperV:  pow(10, 12),
	serialApple:   pow(serialRadix, 10),
}

// serialChars are the characters of alphanumeric serials: manufacturers
// leave out the vowels and Q so that a serial read aloud or off a worn label
// cannot be mistaken (O for 0, I for 1) or spell a word.
const serialChars = "0123456789BCDFGHJKLMNPRSTVWXYZ"

const serialRadix = uint64(len(serialChars))

func pow(b, e uint64) uint64 {
	n := uint64(1)
	for range e {
		n *= b
	}
	return n
}

// model is one hardware model.
type model struct {
	maker  string
	name   string
	serial serialStyle
	weight int
}

// Manufacturers as Intune reports them.
const (
	makerDell      = "Dell Inc."
	makerHP        = "HP"
	makerLenovo    = "LENOVO"
	makerMicrosoft = "Microsoft Corporation"
	makerApple     = "Apple Inc."
)

var (
	laptops = []model{
		{makerDell, "Latitude 7440", serialDell, 17},
		{makerDell, "Latitude 5540", serialDell, 12},
		{makerHP, "HP EliteBook 840 G10", serialHP, 15},
		{makerHP, "HP ProBook 450 G9", serialHP, 9},
		{makerLenovo, "ThinkPad T14 Gen 4", serialLenovo, 14},
		{makerLenovo, "ThinkPad X1 Carbon Gen 11", serialLenovo, 8},
		{makerMicrosoft, "Surface Laptop 5", serialSurface, 6},
		{makerMicrosoft, "Surface Pro 9", serialSurface, 4},
	}
	desktops = []model{
		{makerDell, "OptiPlex 7010", serialDell, 45},
		{makerHP, "HP EliteDesk 800 G9", serialHP, 30},
		{makerLenovo, "ThinkCentre M90q", serialLenovo, 25},
	}
	// arm64 devices: the 5G Surface Pro 9 (Microsoft SQ3) and the ThinkPad X13s.
	armLaptops = []model{
		{makerMicrosoft, "Surface Pro 9", serialSurface, 2},
		{makerLenovo, "ThinkPad X13s Gen 1", serialLenovo, 1},
	}
	// Consumer-grade purchases that arrive with Windows Home.
	homeLaptops = []model{
		{makerHP, "HP ProBook 450 G9", serialHP, 2},
		{makerMicrosoft, "Surface Laptop 5", serialSurface, 1},
	}
	virtualMachine = []model{{makerMicrosoft, "Virtual Machine", serialHyperV, 1}}
	cloudPCs       = []model{
		{makerMicrosoft, "Cloud PC Enterprise 2vCPU/8GB/128GB", serialHyperV, 3},
		{makerMicrosoft, "Cloud PC Enterprise 4vCPU/16GB/256GB", serialHyperV, 1},
	}
	macs = []model{
		{makerApple, "MacBook Pro (14-inch, 2023)", serialApple, 2},
		{makerApple, "MacBook Air (13-inch, M2, 2022)", serialApple, 3},
	}
	phones = []model{
		{makerApple, "iPhone 15", serialApple, 3},
		{makerApple, "iPhone 14", serialApple, 2},
	}
)

// build is one Windows build with the monthly revisions devices report.
type build struct {
	versions []string // "10.0.BUILD.REV"
	weight   int
}

// Windows builds of a managed fleet in 2025: mostly Windows 11 23H2 and
// 24H2, the 22H2 stragglers, and Windows 10 22H2 plus the 21H2 LTSC.
var (
	win11_24H2 = build{[]string{"10.0.26100.3476", "10.0.26100.3624", "10.0.26100.3775", "10.0.26100.3915", "10.0.26100.4061", "10.0.26100.4202"}, 30}
	win11_23H2 = build{[]string{"10.0.22631.4890", "10.0.22631.5039", "10.0.22631.5189", "10.0.22631.5335", "10.0.22631.5472", "10.0.22631.5624"}, 38}
	win11_22H2 = build{[]string{"10.0.22621.4890", "10.0.22621.5039", "10.0.22621.5189", "10.0.22621.5335"}, 8}
	win10_22H2 = build{[]string{"10.0.19045.5487", "10.0.19045.5608", "10.0.19045.5737", "10.0.19045.5854", "10.0.19045.5965", "10.0.19045.6093"}, 20}
	win10_21H2 = build{[]string{"10.0.19044.5487", "10.0.19044.5608", "10.0.19044.5737"}, 4}

	windowsBuilds = []build{win11_24H2, win11_23H2, win11_22H2, win10_22H2, win10_21H2}
	// Builds of the virtual desktops and Cloud PCs, which are re-imaged often.
	currentBuilds = []build{win11_24H2, win11_23H2}

	// Windows 10 1709 and 1803, below the 1809 minimum.
	build16299 = build{[]string{"10.0.16299.15", "10.0.16299.1992", "10.0.16299.2166"}, 1}
	build17134 = build{[]string{"10.0.17134.1", "10.0.17134.1304", "10.0.17134.2208"}, 1}
)

// Windows editions of ordinary devices, by share of the fleet.
var editions = []weighted[string]{
	{"Enterprise", 68},
	{"Professional", 25},
	{"Education", 6},
	{"Pro for Workstations", 1},
}

// Apple OS versions.
var (
	macOSVersions = []string{"14.7.4", "15.3.2", "15.4.1", "15.5"}
	iOSVersions   = []string{"17.7.2", "18.3.2", "18.4.1", "18.5"}
)

// Endpoints a device may fail to reach, in the order the store keeps them.
var endpoints = []string{"autopatch", "teams", "edge", "office", "defender"}

// ruleAPDevices is the membership rule of the dynamic group: every device
// named with "AP" except multi-session virtual desktops, the exclusion
// Microsoft documents for Autopatch groups.
const ruleAPDevices = `(device.displayName -contains "AP") -and (device.deviceOSType -ne "Windows 10 Enterprise for Virtual Desktops")`

// Group names of the demo layout.
const (
	groupFinance = "Autopatch - Finance"
	groupAP      = "Autopatch - AP devices"
	groupLab     = "Autopatch - Lab"
)

// Readiness signal values.
const (
	sourceIntune = "intune"
	sourceGPO    = "gpo"
	sourceCDN    = "cdn"
)

// workloadsOK are the co-management workload values that pass.
var workloadsOK = []string{store.WorkloadPilotIntune, store.WorkloadIntune}
