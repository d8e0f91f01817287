package graph

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"patchboard/store"
)

// entraDevice is the Entra ID device object (v1.0 device resource), with
// the properties Patchboard selects. Encoded, it is a device's record
// (compactRecord): the empty properties are left out.
type entraDevice struct {
	ID                     string            `json:"id,omitempty"`
	DeviceID               string            `json:"deviceId,omitempty"`
	DisplayName            string            `json:"displayName,omitempty"`
	OperatingSystem        string            `json:"operatingSystem,omitempty"`
	OperatingSystemVersion string            `json:"operatingSystemVersion,omitempty"`
	TrustType              string            `json:"trustType,omitempty"`
	AccountEnabled         *bool             `json:"accountEnabled,omitempty"`
	DeviceOwnership        string            `json:"deviceOwnership,omitempty"`
	EnrollmentProfileName  string            `json:"enrollmentProfileName,omitempty"`
	Manufacturer           string            `json:"manufacturer,omitempty"`
	Model                  string            `json:"model,omitempty"`
	PhysicalIDs            []string          `json:"physicalIds,omitempty"`
	ProfileType            string            `json:"profileType,omitempty"`
	SystemLabels           []string          `json:"systemLabels,omitempty"`
	ExtensionAttributes    map[string]string `json:"extensionAttributes,omitempty"` // extensionAttribute1…15
	DeviceCategory         string            `json:"deviceCategory,omitempty"`
	ManagementType         string            `json:"managementType,omitempty"`
	MDMAppID               string            `json:"mdmAppId,omitempty"`
	IsRooted               *bool             `json:"isRooted,omitempty"`
}

// managedDevice is the Intune managed device (beta managedDevice resource),
// with the properties mapDevice reads: a full sync holds one per device of
// the tenant. Besides its name, serial number and last sync, a device's
// properties are those of many alike (managedKind), held once per read.
type managedDevice struct {
	DeviceName       string    `json:"deviceName"`
	SerialNumber     string    `json:"serialNumber"`
	LastSyncDateTime time.Time `json:"lastSyncDateTime"`
	*managedKind
}

// managedKind are the properties a managed device has in common with the
// others of its model, OS version and management. Devices share it: it is
// not changed once decoded.
type managedKind struct {
	ManagedDeviceOwnerType string          `json:"managedDeviceOwnerType"`
	ManagementAgent        string          `json:"managementAgent"`
	OSVersion              string          `json:"osVersion"`
	Manufacturer           string          `json:"manufacturer"`
	Model                  string          `json:"model"`
	SKUFamily              string          `json:"skuFamily"`
	SKUNumber              int             `json:"skuNumber"`
	ProcessorArchitecture  string          `json:"processorArchitecture"`
	EnabledFeatures        enabledFeatures `json:"configurationManagerClientEnabledFeatures"` // none when null
}

// enabledFeatures are the co-management workloads switched to Intune.
type enabledFeatures struct {
	WindowsUpdateForBusiness bool `json:"windowsUpdateForBusiness"`
	DeviceConfiguration      bool `json:"deviceConfiguration"`
	OfficeApps               bool `json:"officeApps"`
}

// cloudPC is a Windows 365 Cloud PC (v1.0 cloudPC resource).
type cloudPC struct {
	ID               string `json:"id"`
	AADDeviceID      string `json:"aadDeviceId"`
	ManagedDeviceID  string `json:"managedDeviceId"`
	DisplayName      string `json:"displayName"`
	ProvisioningType string `json:"provisioningType"`
}

// mapDevice fills an inventory record from an Entra device, its Intune
// managed device (nil when not enrolled) and its Cloud PC (nil when it is
// none), as SPEC §11's table says. A value the inventory schema refuses
// (too long, control characters) is left empty rather than failing the
// sync. ok is false when the device has no usable device ID.
func mapDevice(e *entraDevice, m *managedDevice, cpc *cloudPC) (d *store.Device, ok bool) {
	d = store.NewDevice()
	if set(d, "device_id", e.DeviceID) != nil {
		return nil, false
	}
	name := e.DisplayName
	if strings.TrimSpace(name) == "" && m != nil {
		name = m.DeviceName
	}
	if set(d, "display_name", name) != nil || d.DisplayName == "" {
		put(d, "display_name", d.DeviceID)
	}

	put(d, "os", osName(e.OperatingSystem))
	version := e.OperatingSystemVersion
	if m != nil && newerVersion(m.OSVersion, version) {
		version = m.OSVersion
	}
	put(d, "os_version", version)
	put(d, "join_type", map[string]string{
		"azuread": store.JoinEntraJoined, "serverad": store.JoinHybridJoined, "workplace": store.JoinEntraRegistered,
	}[strings.ToLower(e.TrustType)])
	ownership := e.DeviceOwnership
	if m != nil && (ownership == "" || strings.EqualFold(ownership, "unknown")) {
		ownership = m.ManagedDeviceOwnerType
	}
	put(d, "ownership", ownership)
	if e.AccountEnabled != nil {
		d.AccountEnabled = *e.AccountEnabled
	}

	put(d, "manufacturer", e.Manufacturer)
	put(d, "model", e.Model)
	if m != nil {
		setIf(d, "serial_number", m.SerialNumber)
		setIf(d, "manufacturer", m.Manufacturer)
		setIf(d, "model", m.Model)
		if !m.LastSyncDateTime.IsZero() && m.LastSyncDateTime.Year() > 1 {
			d.LastCheckin = m.LastSyncDateTime.UTC().Truncate(time.Second)
		}
		put(d, "edition", edition(m))
		put(d, "architecture", map[string]string{"x64": store.ArchX64, "x86": store.ArchX86, "arm64": store.ArchARM64}[strings.ToLower(m.ProcessorArchitecture)])
		d.Management = management(m.ManagementAgent)
		if d.Management == store.ManagementCoManaged {
			f := m.EnabledFeatures // none: every workload still with ConfigMgr
			d.WorkloadWindowsUpdate = workload(f.WindowsUpdateForBusiness)
			d.WorkloadDeviceConfiguration = workload(f.DeviceConfiguration)
			d.WorkloadOfficeC2R = workload(f.OfficeApps)
		}
	}
	d.DeviceKind = deviceKind(e, m, cpc)

	// The fields the rule language reads (SPEC §1 and §2), filled where the
	// inventory schema has them.
	put(d, "object_id", strings.ToLower(e.ID))
	put(d, "physical_ids", strings.Join(e.PhysicalIDs, ";"))
	put(d, "enrollment_profile_name", e.EnrollmentProfileName)
	put(d, "device_category", e.DeviceCategory)
	put(d, "profile_type", e.ProfileType)
	put(d, "management_type", e.ManagementType)
	put(d, "management_app_id", strings.ToLower(e.MDMAppID))
	put(d, "system_labels", strings.Join(e.SystemLabels, ";"))
	put(d, "is_rooted", optBool(e.IsRooted))
	for i, name := range extensionAttributes {
		put(d, "extension_attribute_"+strconv.Itoa(i+1), e.ExtensionAttributes[name])
	}

	// What single fields cannot check (a Windows version's form) is dropped
	// the same way.
	for _, fe := range store.ValidateDevice(d) {
		put(d, fe.Field, "")
	}
	return d, true
}

// inventoryFields indexes the inventory schema by key: mapping a device
// sets some forty fields, and a sync maps every device.
var inventoryFields = sync.OnceValue(func() map[string]store.InventoryField {
	m := make(map[string]store.InventoryField, len(store.InventoryFields))
	for _, f := range store.InventoryFields {
		m[f.Key] = f
	}
	return m
})

// extensionAttributes are the names of Entra's extensionAttributes.
var extensionAttributes = func() []string {
	names := make([]string, 15)
	for i := range names {
		names[i] = "extensionAttribute" + strconv.Itoa(i+1)
	}
	return names
}()

// set stores v in the inventory field key when the schema has that field
// and accepts v; otherwise the field keeps its value.
func set(d *store.Device, key, v string) error {
	f, ok := inventoryFields()[key]
	if !ok {
		return nil
	}
	return f.Set(d, strings.TrimSpace(v))
}

// put is set where a refused value is no error: the field keeps what it
// had, and the device still maps.
func put(d *store.Device, key, v string) { _ = set(d, key, v) }

// setIf sets a field only when v is not empty: a fallback keeps its value.
func setIf(d *store.Device, key, v string) {
	if strings.TrimSpace(v) != "" {
		put(d, key, v)
	}
}

func optBool(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

// osName spells Entra's operatingSystem values as the inventory does.
func osName(os string) string {
	switch l := strings.ToLower(strings.TrimSpace(os)); {
	case strings.HasPrefix(l, "windows"):
		return store.OSWindows
	case l == "macmdm" || l == "macos" || l == "mac os x" || l == "osx":
		return "macOS"
	case l == "ios" || l == "iphone" || l == "ipad" || l == "ipados":
		return "iOS"
	case strings.HasPrefix(l, "android"):
		return "Android"
	case strings.HasPrefix(l, "linux"):
		return "Linux"
	}
	return os
}

// newerVersion reports whether dotted version a is later than b.
func newerVersion(a, b string) bool {
	if a == "" {
		return false
	}
	if b == "" {
		return true
	}
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x > y
		}
	}
	return false
}

// skuEditions maps Windows SKU numbers (GetProductInfo's PRODUCT_* values,
// which Intune reports as skuNumber) to the inventory's editions.
var skuEditions = map[int]string{
	4: "Enterprise", 27: "Enterprise", // PRODUCT_ENTERPRISE, _N
	48: "Professional", 49: "Professional", // PRODUCT_PROFESSIONAL, _N
	121: "Education", 122: "Education", // PRODUCT_EDUCATION, _N
	125: "Enterprise LTSC", 126: "Enterprise LTSC", // PRODUCT_ENTERPRISE_S, _N
	161: "Pro for Workstations", 162: "Pro for Workstations", // PRODUCT_PRO_WORKSTATION, _N
	164: "Pro Education", 165: "Pro Education", // PRODUCT_PRO_EDUCATION, _N
	175: "Enterprise multi-session",                   // PRODUCT_SERVERRDSH
	98:  "Home", 99: "Home", 100: "Home", 101: "Home", // PRODUCT_CORE_N, _COUNTRYSPECIFIC, _SINGLELANGUAGE, PRODUCT_CORE
	188: "IoT Enterprise", 191: "IoT Enterprise LTSC", // PRODUCT_IOTENTERPRISE, _S
	203: "SE", 202: "SE", // PRODUCT_CLOUDEDITION, _N
}

// multiSessionSKU is Windows Enterprise multi-session (PRODUCT_SERVERRDSH).
const multiSessionSKU = 175

func edition(m *managedDevice) string {
	if e, ok := skuEditions[m.SKUNumber]; ok {
		return e
	}
	return m.SKUFamily
}

// management maps Intune's managementAgent.
func management(agent string) string {
	switch strings.ToLower(agent) {
	case "mdm", "easmdm", "intuneclient", "easintuneclient":
		return store.ManagementIntune
	case "configurationmanagerclientmdm", "configurationmanagerclientmdmeas":
		return store.ManagementCoManaged
	case "configurationmanagerclient":
		return store.ManagementConfigMgr
	}
	return store.ManagementNone
}

// workload is where a co-management workload is managed: a workload
// switched to Intune is in configurationManagerClientEnabledFeatures.
func workload(enabled bool) string {
	if enabled {
		return store.WorkloadIntune
	}
	return store.WorkloadConfigMgr
}

// deviceKind: a Cloud PC is on the Cloud PC list; a multi-session host runs
// the multi-session SKU (Entra names its OS "Windows 10 Enterprise for
// Virtual Desktops"); a virtual machine says so in its model.
func deviceKind(e *entraDevice, m *managedDevice, cpc *cloudPC) string {
	if cpc != nil {
		return store.KindCloudPC
	}
	osText := strings.ToLower(e.OperatingSystem + " " + e.OperatingSystemVersion)
	if (m != nil && m.SKUNumber == multiSessionSKU) || strings.Contains(osText, "virtual desktops") || strings.Contains(osText, "multi-session") {
		return store.KindAVDMultiSession
	}
	model := strings.ToLower(e.Model)
	if m != nil && m.Model != "" {
		model = strings.ToLower(m.Manufacturer + " " + m.Model)
	}
	for _, vm := range []string{"virtual machine", "vmware", "virtualbox", "kvm", "qemu", "hvm domu", "parallels"} {
		if strings.Contains(model, vm) {
			return store.KindVirtualMachine
		}
	}
	return store.KindPhysical
}
