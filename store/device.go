package store

import (
	"strconv"
	"strings"
	"time"
)

// Device is one record of the directory: the inventory fields of SPEC §1.
// Text enums keep the lower-case spellings of the inventory schema.
type Device struct {
	// PK is the internal row key; DeviceID is the identity users see.
	PK                          int64
	DeviceID                    string // lower-case GUID
	DisplayName                 string
	SerialNumber                string
	Manufacturer                string
	Model                       string
	OS                          string
	OSVersion                   string
	Edition                     string
	Architecture                string
	JoinType                    string
	Ownership                   string
	Management                  string
	WorkloadWindowsUpdate       string
	WorkloadDeviceConfiguration string
	WorkloadOfficeC2R           string
	LastCheckin                 time.Time // zero when never reported
	DeviceKind                  string
	AccountEnabled              bool
	WUPolicySource              string   // "" = not reported
	OfficePolicySource          string   // "" = not reported
	UnreachableEndpoints        []string // sorted, unique
	InternetConnected           Signal

	// The Entra and Intune properties that membership rules target (SPEC
	// §1, §2), and the update alerts devices report.
	ObjectID              string // lower-case GUID, "" when not synced
	PhysicalIDs           []string
	EnrollmentProfileName string
	DeviceCategory        string
	ProfileType           string
	ManagementType        string
	ManagementAppID       string // lower-case GUID or ""
	SystemLabels          []string
	IsRooted              Signal
	// ExtensionAttributes is nil while every attribute is empty, as on most
	// devices: rows held in memory (the rule cache's lean copy of the
	// directory) stay small.
	ExtensionAttributes *ExtensionAttributes
	UpdateAlerts        []string
}

// NumExtensionAttributes is how many extension attributes an Entra device
// has: extensionAttribute1 to extensionAttribute15.
const NumExtensionAttributes = 15

// ExtensionAttributes are Entra's extensionAttribute1 to 15, at index 0 to 14.
type ExtensionAttributes [NumExtensionAttributes]string

// ExtensionAttribute returns extensionAttribute n (1 to 15), "" when unset.
func (d *Device) ExtensionAttribute(n int) string {
	if d.ExtensionAttributes == nil || n < 1 || n > NumExtensionAttributes {
		return ""
	}
	return d.ExtensionAttributes[n-1]
}

// SetExtensionAttribute sets extensionAttribute n (1 to 15).
func (d *Device) SetExtensionAttribute(n int, v string) {
	if n < 1 || n > NumExtensionAttributes {
		return
	}
	if d.ExtensionAttributes == nil {
		if v == "" {
			return
		}
		d.ExtensionAttributes = new(ExtensionAttributes)
	}
	d.ExtensionAttributes[n-1] = v
}

// Signal is a readiness signal that a device may not have reported yet.
type Signal int8

// Signal values.
const (
	SignalUnknown Signal = iota
	SignalTrue
	SignalFalse
)

// String returns "true", "false" or "" for not reported.
func (s Signal) String() string {
	switch s {
	case SignalTrue:
		return "true"
	case SignalFalse:
		return "false"
	}
	return ""
}

// Inventory enum values (SPEC §1).
const (
	JoinEntraJoined     = "entra-joined"
	JoinHybridJoined    = "hybrid-joined"
	JoinEntraRegistered = "entra-registered"

	OwnershipCompany  = "company"
	OwnershipPersonal = "personal"
	OwnershipUnknown  = "unknown"

	ManagementIntune    = "intune"
	ManagementCoManaged = "co-managed"
	ManagementConfigMgr = "configmgr"
	ManagementNone      = "none"

	WorkloadConfigMgr   = "configmgr"
	WorkloadPilotIntune = "pilot-intune"
	WorkloadIntune      = "intune"

	KindPhysical        = "physical"
	KindVirtualMachine  = "virtual-machine"
	KindCloudPC         = "cloud-pc"
	KindAVDPersonal     = "avd-personal"
	KindAVDMultiSession = "avd-multi-session"
	KindAVDPooled       = "avd-pooled"

	OSWindows = "Windows"

	ArchX64   = "x64"
	ArchX86   = "x86"
	ArchARM64 = "arm64"
)

// Endpoints that a device may report as unreachable, in report order.
var knownEndpoints = []string{"autopatch", "teams", "edge", "office", "defender"}

// OSBuild returns the build number of a Windows version "10.0.BUILD[.REV]",
// or 0 when the version has no readable build.
func OSBuild(version string) int {
	parts := strings.Split(version, ".")
	if len(parts) < 3 {
		return 0
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// IsWindows reports whether the device runs Windows.
func (d *Device) IsWindows() bool { return strings.EqualFold(d.OS, OSWindows) }
