package store

import (
	"fmt"
	"strings"
	"time"
)

// CheckID names a prerequisite or readiness check; exports and the API
// report these ids.
type CheckID string

// Prerequisite checks, in evaluation order (SPEC §3).
const (
	CheckIntuneOrCloudAttached CheckID = "intune-or-cloud-attached"
	CheckHardwareIdentity      CheckID = "hardware-identity"
	CheckLastCheckin           CheckID = "last-checkin"
	CheckWindowsOS             CheckID = "windows-os"
	CheckPersonalOrNonWindows  CheckID = "personal-or-non-windows"
	CheckCoManagementWorkloads CheckID = "co-management-workloads"
	CheckVirtualDesktop        CheckID = "virtual-desktop"
)

// Readiness checks of registered devices (SPEC §4). CheckWindowsOS is shared
// with the prerequisites.
const (
	CheckWindowsUpdatePolicy  CheckID = "windows-update-policy"
	CheckOfficeUpdatePolicy   CheckID = "office-update-policy"
	CheckNetworkEndpoints     CheckID = "network-endpoints"
	CheckInternetConnectivity CheckID = "internet-connectivity"
	CheckInactive             CheckID = "inactive"
)

// PrerequisiteChecks lists the prerequisite checks in SPEC §3 order; the
// first failure in this order is a device's primary reason.
var PrerequisiteChecks = []CheckID{
	CheckIntuneOrCloudAttached,
	CheckHardwareIdentity,
	CheckLastCheckin,
	CheckWindowsOS,
	CheckPersonalOrNonWindows,
	CheckCoManagementWorkloads,
	CheckVirtualDesktop,
}

// ReadinessChecks lists the post-registration readiness checks in SPEC §4
// order.
var ReadinessChecks = []CheckID{
	CheckWindowsOS,
	CheckWindowsUpdatePolicy,
	CheckOfficeUpdatePolicy,
	CheckNetworkEndpoints,
	CheckInternetConnectivity,
	CheckInactive,
}

// allCheckIDs is every distinct check id, for parsing.
var allCheckIDs = []CheckID{
	CheckIntuneOrCloudAttached,
	CheckHardwareIdentity,
	CheckLastCheckin,
	CheckWindowsOS,
	CheckPersonalOrNonWindows,
	CheckCoManagementWorkloads,
	CheckVirtualDesktop,
	CheckWindowsUpdatePolicy,
	CheckOfficeUpdatePolicy,
	CheckNetworkEndpoints,
	CheckInternetConnectivity,
	CheckInactive,
}

// Name is the check as the UI names it; "" for an unknown id. last-checkin
// and inactive share a name because they are the same question asked before
// and after registration.
func (c CheckID) Name() string {
	switch c {
	case CheckIntuneOrCloudAttached:
		return "Intune or Cloud-Attached"
	case CheckHardwareIdentity:
		return "Serial number, model and manufacturer"
	case CheckLastCheckin, CheckInactive:
		return "Last communication with Intune"
	case CheckWindowsOS:
		return "Windows OS (build, architecture and edition)"
	case CheckPersonalOrNonWindows:
		return "Personal or non-Windows devices"
	case CheckCoManagementWorkloads:
		return "ConfigMgr co-management workloads"
	case CheckVirtualDesktop:
		return "Azure Virtual Desktop session type"
	case CheckWindowsUpdatePolicy:
		return "Windows update policies managed via Intune"
	case CheckOfficeUpdatePolicy:
		return "Office update policy managed via Group Policy"
	case CheckNetworkEndpoints:
		return "Network endpoints"
	case CheckInternetConnectivity:
		return "Internet connectivity"
	}
	return ""
}

// Description is the "passes when" sentence shown beside the name; "" for
// an unknown id.
func (c CheckID) Description() string {
	switch c {
	case CheckIntuneOrCloudAttached:
		return "Device must be either Intune-managed or Co-managed"
	case CheckHardwareIdentity:
		return "Device must report a serial number, model and manufacturer, and no other registered or candidate device may hold the same serial number"
	case CheckLastCheckin, CheckInactive:
		return "Device must have checked in with Intune within the last 28 days"
	case CheckWindowsOS:
		return "Device must run Windows 10 1809 (build 17763) or later on x64, in the Enterprise, Professional, Pro for Workstations, Education or Enterprise LTSC edition"
	case CheckPersonalOrNonWindows:
		return "Device must run Windows, must not be personally owned, and must be Entra joined or hybrid Entra joined"
	case CheckCoManagementWorkloads:
		return "Co-managed devices must have the Windows Update policies, Device configuration and Office Click-to-Run apps workloads set to Pilot Intune or Intune"
	case CheckVirtualDesktop:
		return "Device must not be an Azure Virtual Desktop multi-session or pooled session host"
	case CheckWindowsUpdatePolicy:
		return "Windows update policies must not be set by Group Policy, so that the Intune policies apply"
	case CheckOfficeUpdatePolicy:
		return "Office update policy must not be set by Group Policy"
	case CheckNetworkEndpoints:
		return "Device must be able to reach every Windows Autopatch network endpoint"
	case CheckInternetConnectivity:
		return "Device must be connected to the internet"
	}
	return ""
}

// Actor is who must act to fix a failure of the check. Every check today is
// fixed by the customer's admins; it is a method so that a check the service
// itself remediates can say so without changing callers.
func (c CheckID) Actor() string {
	for _, id := range allCheckIDs {
		if c == id {
			return "Customer"
		}
	}
	return ""
}

// ParseCheckID accepts a check id, trimmed and case-insensitively. UI names
// are not accepted: two checks share the name "Last communication with
// Intune".
func ParseCheckID(s string) (CheckID, error) {
	for _, id := range allCheckIDs {
		if equalFoldTrim(s, string(id)) {
			return id, nil
		}
	}
	names := make([]string, len(allCheckIDs))
	for i, id := range allCheckIDs {
		names[i] = string(id)
	}
	return "", invalidf("check %q is not one of %s", s, strings.Join(names, ", "))
}

// InactiveAfter is how long without an Intune check-in makes a device fail
// last-checkin (candidates) or become Inactive (registered devices).
const InactiveAfter = 28 * 24 * time.Hour

// minWindowsBuild is the lowest Windows build that can be registered:
// Windows 10 1809.
const minWindowsBuild = 17763

// checkEditions are the Windows editions Autopatch can manage, in the
// order the messages list them.
var checkEditions = []string{"Enterprise", "Professional", "Pro for Workstations", "Education", "Enterprise LTSC"}

// CheckResult is the outcome of one check for one device.
type CheckResult struct {
	Check       CheckID
	Passed      bool
	NotReported bool   // passed only because the signal was never reported
	Reason      string // one sentence naming the offending value; empty when passed
	Remediation string // what to change, and where; empty when passed
}

// Peers are the facts about other devices that the hardware-identity and
// personal-or-non-windows checks need.
type Peers struct {
	// SerialHolder is another device, registered or a candidate, that holds
	// the same serial number; nil when none does.
	SerialHolder *Device
	// SerialHolderRegistered tells whether SerialHolder is registered (the
	// hardware-repair case: deregister the old record).
	SerialHolderRegistered bool
	// HybridTwin is set for a stale entra-registered record: the
	// hybrid-joined record sharing its serial number or display name.
	HybridTwin *Device
}

// Prerequisites evaluates every prerequisite check of SPEC §3 for a
// candidate, in PrerequisiteChecks order. All checks run even after a
// failure, because the blade shows every failure and an admin should be able
// to fix them in one pass; the first failure is the primary reason.
func Prerequisites(d *Device, p Peers, now time.Time) []CheckResult {
	return []CheckResult{
		checkIntuneOrCloudAttached(d),
		checkHardwareIdentity(d, p),
		checkCheckin(CheckLastCheckin, d, now),
		checkWindowsOS(d),
		checkPersonalOrNonWindows(d, p),
		checkCoManagementWorkloads(d),
		checkVirtualDesktop(d),
	}
}

// Readiness evaluates the post-registration readiness checks of SPEC §4 for
// a registered device, in ReadinessChecks order.
func Readiness(d *Device, now time.Time) []CheckResult {
	return []CheckResult{
		checkWindowsOS(d),
		checkWindowsUpdatePolicy(d),
		checkOfficeUpdatePolicy(d),
		checkNetworkEndpoints(d),
		checkInternetConnectivity(d),
		checkCheckin(CheckInactive, d, now),
	}
}

// Failures returns the failing results, in their original order, so the
// first one is still the primary reason.
func Failures(rs []CheckResult) []CheckResult {
	var out []CheckResult
	for _, r := range rs {
		if !r.Passed {
			out = append(out, r)
		}
	}
	return out
}

// ReadinessStatus derives a registered device's status from its readiness
// results. Inactive wins over Readiness failed: a device that has not
// checked in for weeks reports stale signals, so its other failures are not
// worth acting on until it is back.
func ReadinessStatus(rs []CheckResult) Status {
	status := StatusActive
	for _, r := range rs {
		if r.Passed {
			continue
		}
		if r.Check == CheckInactive {
			return StatusInactive
		}
		status = StatusReadinessFailed
	}
	return status
}

func checkPassed(id CheckID) CheckResult { return CheckResult{Check: id, Passed: true} }

func checkNotReported(id CheckID) CheckResult {
	return CheckResult{Check: id, Passed: true, NotReported: true}
}

func checkFailed(id CheckID, reason, remediation string) CheckResult {
	return CheckResult{Check: id, Reason: reason, Remediation: remediation}
}

// checkSentence joins clauses with "; " into one sentence: capitalised first
// letter, full stop at the end. A check that finds several problems still
// gives one reason, so the blade's Reasons column stays one line.
func checkSentence(clauses []string) string {
	s := strings.Join(clauses, "; ")
	if s == "" {
		return ""
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// checkShown renders an inventory value for a message, naming the gap when the
// device never reported it.
func checkShown(v string) string {
	if strings.TrimSpace(v) == "" {
		return "not reported"
	}
	return v
}

// checkDeviceRef names a device the way an admin searches for it: display name
// and device ID.
func checkDeviceRef(d *Device) string {
	return fmt.Sprintf("%q (%s)", d.DisplayName, d.DeviceID)
}

// checkListAnd renders "a", "a and b", "a, b and c".
func checkListAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func checkIntuneOrCloudAttached(d *Device) CheckResult {
	m := strings.TrimSpace(d.Management)
	if strings.EqualFold(m, ManagementIntune) || strings.EqualFold(m, ManagementCoManaged) {
		return checkPassed(CheckIntuneOrCloudAttached)
	}
	return checkFailed(CheckIntuneOrCloudAttached,
		fmt.Sprintf("Management is %s; the device must be Intune-managed or co-managed.", checkShown(m)),
		"Enrol the device in Intune (Intune admin center > Devices > Enrol devices), or enable co-management for it in the Configuration Manager console (Administration > Cloud Services > Cloud Attach).")
}

func checkHardwareIdentity(d *Device, p Peers) CheckResult {
	var missing []string
	if strings.TrimSpace(d.SerialNumber) == "" {
		missing = append(missing, "serial number")
	}
	if strings.TrimSpace(d.Model) == "" {
		missing = append(missing, "model")
	}
	if strings.TrimSpace(d.Manufacturer) == "" {
		missing = append(missing, "manufacturer")
	}
	// A device without a serial cannot share one; ignoring a holder here
	// keeps a caller's stale Peers from producing a nonsensical reason.
	holder := p.SerialHolder
	if strings.TrimSpace(d.SerialNumber) == "" {
		holder = nil
	}
	if len(missing) == 0 && holder == nil {
		return checkPassed(CheckHardwareIdentity)
	}

	var clauses, fixes []string
	if len(missing) > 0 {
		verb := "is"
		if len(missing) > 1 {
			verb = "are"
		}
		clauses = append(clauses, fmt.Sprintf("%s %s missing", checkListAnd(missing), verb))
		fixes = append(fixes, "Make sure the device reports its serial number, model and manufacturer: check its hardware properties in the Intune admin center (Devices > All devices > the device > Hardware) and sync it, or update the BIOS/firmware if they are blank there.")
	}
	if holder != nil {
		kind := "another candidate"
		if p.SerialHolderRegistered {
			kind = "registered device"
		}
		clauses = append(clauses, fmt.Sprintf("serial number %q is also held by %s %s", strings.TrimSpace(d.SerialNumber), kind, checkDeviceRef(holder)))
		if p.SerialHolderRegistered {
			// SPEC §4: after a hardware repair the directory issues a new
			// device ID, so the old record still holds the serial.
			fixes = append(fixes, fmt.Sprintf("This looks like a hardware repair or replacement: deregister the old record %s in Patchboard (Device actions > Deregister) so this one can register.", checkDeviceRef(holder)))
		} else {
			fixes = append(fixes, fmt.Sprintf("Remove the duplicate record %s from the Device Registration group, or correct its serial number in Intune.", checkDeviceRef(holder)))
		}
	}
	return checkFailed(CheckHardwareIdentity, checkSentence(clauses), strings.Join(fixes, " "))
}

// checkCheckin is last-checkin before registration and inactive after: the
// same rule, reported under the id of the phase.
func checkCheckin(id CheckID, d *Device, now time.Time) CheckResult {
	// A check-in in the future (clock skew) counts as recent.
	if !d.LastCheckin.IsZero() && now.Sub(d.LastCheckin) <= InactiveAfter {
		return checkPassed(id)
	}
	fix := "Turn the device on, connect it to the network and sync it (Intune admin center > Devices > the device > Sync); if it is retired, remove it from the Device Registration group."
	if d.LastCheckin.IsZero() {
		return checkFailed(id, "Device has never checked in with Intune.", fix)
	}
	days := int(now.Sub(d.LastCheckin) / (24 * time.Hour))
	return checkFailed(id,
		fmt.Sprintf("Last Intune check-in was on %s, %d days ago; devices must check in at least every 28 days.",
			d.LastCheckin.UTC().Format("2006-01-02 15:04 UTC"), days),
		fix)
}

func checkWindowsOS(d *Device) CheckResult {
	if !d.IsWindows() {
		return checkFailed(CheckWindowsOS,
			fmt.Sprintf("OS is %s; only Windows devices can be registered.", checkShown(d.OS)),
			"Remove the device from the Device Registration group: Windows Autopatch registers only Windows devices.")
	}
	var clauses, fixes []string
	if build := OSBuild(d.OSVersion); build < minWindowsBuild {
		if build == 0 {
			clauses = append(clauses, fmt.Sprintf("OS version %s has no readable build; build %d (Windows 10 1809) or later is required", checkShown(d.OSVersion), minWindowsBuild))
		} else {
			clauses = append(clauses, fmt.Sprintf("OS build %d is below %d (Windows 10 1809)", build, minWindowsBuild))
		}
		fixes = append(fixes, "Update Windows to Windows 10 1809 or later, for example with a feature update policy in the Intune admin center (Devices > Windows updates > Feature updates).")
	}
	if arch := strings.TrimSpace(d.Architecture); arch == "" {
		clauses = append(clauses, "architecture is not reported, x64 is required")
		fixes = append(fixes, "Sync the device from the Intune admin center so it reports its architecture; only x64 devices can be registered.")
	} else if !strings.EqualFold(arch, ArchX64) {
		clauses = append(clauses, fmt.Sprintf("architecture %s is not supported, x64 is required", arch))
		fixes = append(fixes, "Only x64 devices can be registered: replace the device or remove it from the Device Registration group.")
	}
	if ed := strings.TrimSpace(d.Edition); ed == "" {
		clauses = append(clauses, fmt.Sprintf("edition is not reported, it must be %s", checkOrList(checkEditions)))
		fixes = append(fixes, "Sync the device from the Intune admin center so it reports its Windows edition.")
	} else if !checkEditionSupported(ed) {
		clauses = append(clauses, fmt.Sprintf("edition %q is not supported, it must be %s", ed, checkOrList(checkEditions)))
		fixes = append(fixes, "Upgrade the Windows edition, for example with an edition upgrade configuration profile in the Intune admin center (Devices > Configuration).")
	}
	if len(clauses) == 0 {
		return checkPassed(CheckWindowsOS)
	}
	return checkFailed(CheckWindowsOS, checkSentence(clauses), strings.Join(fixes, " "))
}

func checkEditionSupported(e string) bool {
	e = strings.TrimSpace(e)
	for _, s := range checkEditions {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// checkOrList renders "a, b or c".
func checkOrList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

func checkPersonalOrNonWindows(d *Device, p Peers) CheckResult {
	var clauses, fixes []string
	if !d.IsWindows() {
		clauses = append(clauses, fmt.Sprintf("OS is %s, only Windows devices can be registered", checkShown(d.OS)))
		fixes = append(fixes, "Remove the device from the Device Registration group: only Windows devices can be registered.")
	}
	if strings.EqualFold(strings.TrimSpace(d.Ownership), OwnershipPersonal) {
		clauses = append(clauses, "ownership is personal")
		fixes = append(fixes, "If the device is corporate, change its ownership to Corporate in the Intune admin center (Devices > the device > Properties); otherwise remove it from the Device Registration group.")
	}
	join := strings.TrimSpace(d.JoinType)
	switch {
	case p.HybridTwin != nil:
		// The stale half of a dual-state device: say so rather than only
		// "entra-registered", because the fix is to drop this record, not
		// to re-join the hardware.
		clauses = append(clauses, fmt.Sprintf("this is a stale dual-state record (join type %s) whose hybrid-joined twin is %s", checkShown(join), checkDeviceRef(p.HybridTwin)))
		fixes = append(fixes, fmt.Sprintf("Remove the Entra-registered record from the Device Registration group (and delete it in the Entra admin center > Devices if unused), and register the hybrid-joined record %s instead.", checkDeviceRef(p.HybridTwin)))
	case join == "":
		clauses = append(clauses, "join type is not reported, the device must be entra-joined or hybrid-joined")
		fixes = append(fixes, "Check the device's join type in the Entra admin center (Devices > All devices); it must be Entra joined or hybrid Entra joined.")
	case !strings.EqualFold(join, JoinEntraJoined) && !strings.EqualFold(join, JoinHybridJoined):
		clauses = append(clauses, fmt.Sprintf("join type %s is not supported, the device must be entra-joined or hybrid-joined", join))
		fixes = append(fixes, "Entra join or hybrid Entra join the device (Entra admin center > Devices shows the join type); Entra-registered (workplace-joined) devices cannot be registered.")
	}
	if len(clauses) == 0 {
		return checkPassed(CheckPersonalOrNonWindows)
	}
	return checkFailed(CheckPersonalOrNonWindows, checkSentence(clauses), strings.Join(fixes, " "))
}

// checkWorkloads are the workloads Autopatch needs in Intune's
// hands, with their names in the Configuration Manager console.
var checkWorkloads = []struct {
	name  string
	value func(*Device) string
}{
	{"Windows Update policies", func(d *Device) string { return d.WorkloadWindowsUpdate }},
	{"Device configuration", func(d *Device) string { return d.WorkloadDeviceConfiguration }},
	{"Office Click-to-Run apps", func(d *Device) string { return d.WorkloadOfficeC2R }},
}

func checkCoManagementWorkloads(d *Device) CheckResult {
	// Workloads only mean something on a co-managed device; a purely
	// Intune-managed device is already in Intune's hands.
	if !strings.EqualFold(strings.TrimSpace(d.Management), ManagementCoManaged) {
		return checkPassed(CheckCoManagementWorkloads)
	}
	var bad, names []string
	for _, w := range checkWorkloads {
		v := strings.TrimSpace(w.value(d))
		if strings.EqualFold(v, WorkloadPilotIntune) || strings.EqualFold(v, WorkloadIntune) {
			continue
		}
		if v == "" {
			v = "not set"
		}
		bad = append(bad, fmt.Sprintf("%s (%s)", w.name, v))
		names = append(names, w.name)
	}
	if len(bad) == 0 {
		return checkPassed(CheckCoManagementWorkloads)
	}
	return checkFailed(CheckCoManagementWorkloads,
		fmt.Sprintf("Co-management workloads still on Configuration Manager or not set: %s.", checkListAnd(bad)),
		fmt.Sprintf("In the Configuration Manager console (Administration > Cloud Services > Cloud Attach > the co-management settings > Workloads), move %s to Pilot Intune or Intune.", checkListAnd(names)))
}

func checkVirtualDesktop(d *Device) CheckResult {
	kind := strings.TrimSpace(d.DeviceKind)
	var what string
	switch {
	case strings.EqualFold(kind, KindAVDMultiSession):
		what = "an Azure Virtual Desktop multi-session host"
	case strings.EqualFold(kind, KindAVDPooled):
		what = "an Azure Virtual Desktop pooled session host"
	default:
		return checkPassed(CheckVirtualDesktop)
	}
	return checkFailed(CheckVirtualDesktop,
		fmt.Sprintf("Device kind %s is %s, which cannot be registered.", kind, what),
		"Remove the session host from the Device Registration group: Azure Virtual Desktop multi-session and pooled hosts cannot be registered, personal (single-session) hosts can.")
}

func checkWindowsUpdatePolicy(d *Device) CheckResult {
	src := strings.TrimSpace(d.WUPolicySource)
	switch {
	case src == "":
		return checkNotReported(CheckWindowsUpdatePolicy)
	case !strings.EqualFold(src, "gpo"):
		return checkPassed(CheckWindowsUpdatePolicy)
	}
	return checkFailed(CheckWindowsUpdatePolicy,
		fmt.Sprintf("Windows update policies on the device come from %s (Group Policy), which overrides the Intune update policies.", src),
		"Remove the Windows Update settings (Computer Configuration > Administrative Templates > Windows Components > Windows Update) from the Group Policy objects that apply to the device, or set the co-management Windows Update policies workload to Intune.")
}

func checkOfficeUpdatePolicy(d *Device) CheckResult {
	src := strings.TrimSpace(d.OfficePolicySource)
	switch {
	case src == "":
		return checkNotReported(CheckOfficeUpdatePolicy)
	case !strings.EqualFold(src, "gpo"):
		return checkPassed(CheckOfficeUpdatePolicy)
	}
	return checkFailed(CheckOfficeUpdatePolicy,
		fmt.Sprintf("Office update policy on the device comes from %s (Group Policy), which overrides the Autopatch Office update settings.", src),
		"Remove the Office update settings (Computer Configuration > Administrative Templates > Microsoft Office (Machine) > Updates) from the Group Policy objects that apply to the device.")
}

func checkNetworkEndpoints(d *Device) CheckResult {
	var eps []string
	for _, e := range d.UnreachableEndpoints {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	if len(eps) == 0 {
		return checkPassed(CheckNetworkEndpoints)
	}
	list := checkListAnd(eps)
	noun := "endpoint"
	if len(eps) > 1 {
		noun = "endpoints"
	}
	return checkFailed(CheckNetworkEndpoints,
		fmt.Sprintf("Device cannot reach the %s %s.", list, noun),
		fmt.Sprintf("Allow the %s %s through the proxy and firewall (see the Windows Autopatch network requirements), then sync the device.", list, noun))
}

func checkInternetConnectivity(d *Device) CheckResult {
	switch d.InternetConnected {
	case SignalUnknown:
		return checkNotReported(CheckInternetConnectivity)
	case SignalFalse:
		return checkFailed(CheckInternetConnectivity,
			"Device reports internet connectivity false; it has no internet connection.",
			"Check the device's network adapter, proxy and firewall settings so it can reach the internet, then sync it from the Intune admin center.")
	}
	return checkPassed(CheckInternetConnectivity)
}
