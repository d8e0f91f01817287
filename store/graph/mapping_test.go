package graph

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"patchboard/store"
)

func TestMapDevice(t *testing.T) {
	yes, no := true, false
	base := func() (*entraDevice, *managedDevice) {
		return &entraDevice{ID: "0B000000-0000-4000-8000-000000000001", DeviceID: "D0000000-0000-4000-8000-000000000001",
				DisplayName: "PC-1", OperatingSystem: "Windows", OperatingSystemVersion: "10.0.22631.4000", TrustType: "AzureAd",
				AccountEnabled: &yes, DeviceOwnership: "Company", Manufacturer: "Entra Inc", Model: "Entra Model"},
			&managedDevice{SerialNumber: "SN1", LastSyncDateTime: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
				managedKind: &managedKind{ManagementAgent: "mdm", OSVersion: "10.0.22631.4317", Manufacturer: "Contoso",
					Model: "Laptop 7", SKUNumber: 48, ProcessorArchitecture: "x64"}}
	}
	tests := []struct {
		name string
		give func(*entraDevice, *managedDevice) (*managedDevice, *cloudPC)
		want func(*store.Device) bool
	}{
		{"intune device: managed properties win, newer OS version",
			func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) { return m, nil },
			func(d *store.Device) bool {
				return d.DeviceID == "d0000000-0000-4000-8000-000000000001" && d.SerialNumber == "SN1" && d.Manufacturer == "Contoso" &&
					d.Model == "Laptop 7" && d.OSVersion == "10.0.22631.4317" && d.Edition == "Professional" && d.Architecture == "x64" &&
					d.Management == store.ManagementIntune && d.JoinType == store.JoinEntraJoined && d.Ownership == store.OwnershipCompany &&
					d.LastCheckin.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) && d.AccountEnabled && d.DeviceKind == store.KindPhysical &&
					d.WorkloadWindowsUpdate == ""
			}},
		{"not enrolled: none, Entra hardware as fallback",
			func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) { return nil, nil },
			func(d *store.Device) bool {
				return d.Management == store.ManagementNone && d.Manufacturer == "Entra Inc" && d.Model == "Entra Model" &&
					d.SerialNumber == "" && d.LastCheckin.IsZero() && d.OSVersion == "10.0.22631.4000"
			}},
		{"co-managed: workloads from the enabled features",
			func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) {
				m.ManagementAgent = "configurationManagerClientMdm"
				m.EnabledFeatures = enabledFeatures{WindowsUpdateForBusiness: true, OfficeApps: true}
				return m, nil
			},
			func(d *store.Device) bool {
				return d.Management == store.ManagementCoManaged && d.WorkloadWindowsUpdate == store.WorkloadIntune &&
					d.WorkloadDeviceConfiguration == store.WorkloadConfigMgr && d.WorkloadOfficeC2R == store.WorkloadIntune
			}},
		{"ConfigMgr only",
			func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) {
				m.ManagementAgent = "configurationManagerClient"
				return m, nil
			},
			func(d *store.Device) bool { return d.Management == store.ManagementConfigMgr }},
		{"hybrid joined, personal by Intune when Entra does not know",
			func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) {
				e.TrustType, e.DeviceOwnership, m.ManagedDeviceOwnerType = "ServerAd", "", "personal"
				return m, nil
			},
			func(d *store.Device) bool {
				return d.JoinType == store.JoinHybridJoined && d.Ownership == store.OwnershipPersonal
			}},
		{"registered (workplace join), disabled",
			func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) {
				e.TrustType, e.AccountEnabled = "Workplace", &no
				return m, nil
			},
			func(d *store.Device) bool { return d.JoinType == store.JoinEntraRegistered && !d.AccountEnabled }},
		{"Cloud PC",
			func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) {
				return m, &cloudPC{AADDeviceID: e.DeviceID}
			},
			func(d *store.Device) bool { return d.DeviceKind == store.KindCloudPC }},
		{"multi-session host by SKU",
			func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) {
				m.SKUNumber = 175
				return m, nil
			},
			func(d *store.Device) bool {
				return d.DeviceKind == store.KindAVDMultiSession && d.Edition == "Enterprise multi-session"
			}},
		{"multi-session host as Entra names its OS",
			func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) {
				e.OperatingSystem = "Windows 10 Enterprise for Virtual Desktops"
				return nil, nil
			},
			func(d *store.Device) bool {
				return d.DeviceKind == store.KindAVDMultiSession && d.OS == store.OSWindows
			}},
		{"virtual machine by model",
			func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) {
				m.Manufacturer, m.Model = "VMware, Inc.", "VMware7,1"
				return m, nil
			},
			func(d *store.Device) bool { return d.DeviceKind == store.KindVirtualMachine }},
		{"bad values are dropped, not fatal",
			func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) {
				e.DisplayName, e.OperatingSystemVersion = "", "Windows 11"
				m.OSVersion, m.SerialNumber, m.SKUNumber, m.SKUFamily = "", "bad\nserial", 0, ""
				return m, nil
			},
			func(d *store.Device) bool {
				return d.DisplayName == d.DeviceID && d.OSVersion == "" && d.SerialNumber == "" && d.Edition == ""
			}},
		{"macOS", func(e *entraDevice, m *managedDevice) (*managedDevice, *cloudPC) {
			e.OperatingSystem, e.OperatingSystemVersion = "MacMDM", "14.2"
			return nil, nil
		}, func(d *store.Device) bool { return d.OS == "macOS" && d.OSVersion == "14.2" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, m := base()
			m2, cpc := tt.give(e, m)
			d, ok := mapDevice(e, m2, cpc)
			if !ok {
				t.Fatal("not mapped")
			}
			if !tt.want(d) {
				t.Errorf("mapped %+v", *d)
			}
			if errs := store.ValidateDevice(d); len(errs) > 0 {
				t.Errorf("mapped device does not validate: %v", errs)
			}
		})
	}
	if _, ok := mapDevice(&entraDevice{ID: "x", DisplayName: "no device id"}, nil, nil); ok {
		t.Error("a device without a device ID was mapped")
	}
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	good := Config{TenantID: "contoso.onmicrosoft.com", ClientID: "5b3f0c9a-21e4-4c8b-a6a0-7d2e9f1b3c44", ClientSecret: "s",
		RegistrationGroup: "8f1c2b7e-4d1a-4a55-9f0e-2f6c1d9b7a10"}
	if _, err := New(good, nil); err != nil {
		t.Fatalf("good configuration refused: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no tenant", func(c *Config) { c.TenantID = "" }, "PATCHBOARD_GRAPH_TENANT_ID is not set"},
		{"bad tenant", func(c *Config) { c.TenantID = "not a tenant" }, "neither a GUID nor a domain"},
		{"bad client", func(c *Config) { c.ClientID = "abc" }, "PATCHBOARD_GRAPH_CLIENT_ID \"abc\" is not a GUID"},
		{"no credential", func(c *Config) { c.ClientSecret = "" }, "neither PATCHBOARD_GRAPH_CLIENT_SECRET"},
		{"two credentials", func(c *Config) { c.Certificate = []byte("x") }, "give only one"},
		{"bad certificate", func(c *Config) { c.ClientSecret, c.Certificate = "", []byte("not pem") }, "PATCHBOARD_GRAPH_CERTIFICATE_FILE: it must hold a PEM certificate"},
		{"no group", func(c *Config) { c.RegistrationGroup = "" }, "PATCHBOARD_GRAPH_REGISTRATION_GROUP is not set"},
		{"group name instead of ID", func(c *Config) { c.RegistrationGroup = "Autopatch devices" }, "is not a group object ID"},
		{"plain http", func(c *Config) { c.GraphURL = "http://graph.microsoft.com" }, "PATCHBOARD_GRAPH_URL \"http://graph.microsoft.com\" must be an https URL"},
		{"login with a path", func(c *Config) { c.LoginURL = "https://login.microsoftonline.com/tenant" }, "PATCHBOARD_GRAPH_LOGIN_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mod(&cfg)
			_, err := New(cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to say %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "%!") {
				t.Errorf("badly formatted: %v", err)
			}
		})
	}
}

func TestStringProp(t *testing.T) {
	tests := []struct {
		give, name, want string
		ok               bool
	}{
		{`{"id":"x","deviceId":"ABC"}`, "deviceId", "ABC", true},
		{`{"id":"x","deviceId":null}`, "deviceId", "", true},
		{`{"displayName":"say \"deviceId\":\"no\"","deviceId":"yes"}`, "deviceId", "yes", true},
		{`{"deviceId":"a\"b"}`, "deviceId", "", false},
		{`{"deviceId": "spaced"}`, "deviceId", "", false},
		{`{"id":"x"}`, "deviceId", "", false},
	}
	for _, tt := range tests {
		got, ok := stringProp([]byte(tt.give), tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("stringProp(%s, %s) = %q, %v; want %q, %v", tt.give, tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// A device's record keeps only the properties mapping reads that hold a
// value, and maps as the object Graph sent.
func TestCompactRecord(t *testing.T) {
	obj := []byte(`{"id":"0b000000-0000-4000-8000-000000000001","deviceId":"d0000000-0000-4000-8000-000000000001",` +
		`"displayName":"PC-1","operatingSystem":"Windows","operatingSystemVersion":"10.0.22631.4317","trustType":"AzureAd",` +
		`"accountEnabled":false,"deviceOwnership":null,"enrollmentProfileName":null,"enrollmentType":"AzureDomainJoined",` +
		`"manufacturer":"Contoso","model":"Laptop 7","physicalIds":["[ZTDId]:1"],"systemLabels":[],` +
		`"extensionAttributes":{"extensionAttribute1":"Kiosk","extensionAttribute2":null},"deviceCategory":null,` +
		`"@odata.type":"#microsoft.graph.device"}`)
	rec, err := compactRecord(obj)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"0b000000-0000-4000-8000-000000000001","deviceId":"d0000000-0000-4000-8000-000000000001",` +
		`"displayName":"PC-1","operatingSystem":"Windows","operatingSystemVersion":"10.0.22631.4317","trustType":"AzureAd",` +
		`"accountEnabled":false,"manufacturer":"Contoso","model":"Laptop 7","physicalIds":["[ZTDId]:1"],` +
		`"extensionAttributes":{"extensionAttribute1":"Kiosk"}}`
	if string(rec) != want {
		t.Fatalf("record =\n%s\nwant\n%s", rec, want)
	}
	var before, after entraDevice
	if err := json.Unmarshal(obj, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rec, &after); err != nil {
		t.Fatal(err)
	}
	d1, _ := mapDevice(&before, nil, nil)
	d2, _ := mapDevice(&after, nil, nil)
	if !reflect.DeepEqual(d1, d2) {
		t.Fatalf("mapped from the record = %+v, from the object %+v", d2, d1)
	}
}
