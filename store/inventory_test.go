package store

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

const (
	testGUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
	testID2  = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
)

func mustField(t testing.TB, key string) InventoryField {
	t.Helper()
	f, ok := InventoryFieldByKey(key)
	if !ok {
		t.Fatalf("no inventory field %q", key)
	}
	return f
}

func TestInventoryFieldsSchema(t *testing.T) {
	wantKeys := []string{
		"device_id", "display_name", "serial_number", "manufacturer", "model", "os", "os_version",
		"edition", "architecture", "join_type", "ownership", "management", "workload_windows_update",
		"workload_device_configuration", "workload_office_c2r", "last_checkin", "device_kind",
		"account_enabled", "wu_policy_source", "office_policy_source", "unreachable_endpoints",
		"internet_connected", "object_id", "physical_ids", "enrollment_profile_name", "device_category",
		"profile_type", "management_type", "management_app_id", "system_labels", "is_rooted",
	}
	for n := 1; n <= 15; n++ {
		wantKeys = append(wantKeys, fmt.Sprintf("extension_attribute_%d", n))
	}
	wantKeys = append(wantKeys, "update_alerts")
	var keys []string
	labels := map[string]bool{}
	for _, f := range InventoryFields {
		keys = append(keys, f.Key)
		if f.Label == "" || labels[f.Label] {
			t.Errorf("field %s: label %q is empty or not unique", f.Key, f.Label)
		}
		labels[f.Label] = true
		if want := f.Key == "device_id" || f.Key == "display_name"; f.Required != want {
			t.Errorf("field %s: Required = %v, want %v", f.Key, f.Required, want)
		}
	}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("keys = %v\nwant %v", keys, wantKeys)
	}
}

func TestInventoryFieldByKey(t *testing.T) {
	tests := []struct {
		give   string
		want   string
		wantOK bool
	}{
		{give: "serial_number", want: "serial_number", wantOK: true},
		{give: " Serial_Number ", want: "serial_number", wantOK: true},
		{give: "DEVICE_ID", want: "device_id", wantOK: true},
		{give: "Serial number", wantOK: false},
		{give: "", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			f, ok := InventoryFieldByKey(tt.give)
			if ok != tt.wantOK || f.Key != tt.want {
				t.Errorf("InventoryFieldByKey(%q) = %q, %v; want %q, %v", tt.give, f.Key, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestInventoryFieldSet(t *testing.T) {
	long := strings.Repeat("é", 256)
	tests := []struct {
		field   string
		give    string
		want    string // Value after Set; ignored when wantErr is set
		wantErr string // substring of the reason; "" for accepted
	}{
		{field: "device_id", give: testGUID, want: testGUID},
		{field: "device_id", give: " {0F8FAD5B-D9CB-469F-A165-70867728950E} ", want: testGUID},
		{field: "device_id", give: "0F8FAD5B-D9CB-469F-A165-70867728950E", want: testGUID},
		{field: "device_id", give: "", wantErr: "must not be empty"},
		{field: "device_id", give: "   ", wantErr: "must not be empty"},
		{field: "device_id", give: "0f8fad5bd9cb469fa16570867728950e", wantErr: `"0f8fad5bd9cb469fa16570867728950e" is not a device ID; expected a GUID`},
		{field: "device_id", give: "{" + testGUID, wantErr: "is not a device ID"},
		{field: "device_id", give: testGUID + "}", wantErr: "is not a device ID"},
		{field: "device_id", give: "0f8fad5b-d9cb-469f-a165-70867728950g", wantErr: "is not a device ID"},
		{field: "device_id", give: "0f8fad5b-d9cb-469f-a165_70867728950e", wantErr: "is not a device ID"},

		{field: "display_name", give: " AP-LAPTOP-01 ", want: "AP-LAPTOP-01"},
		{field: "display_name", give: "Zürich Büro 7", want: "Zürich Büro 7"},
		{field: "display_name", give: long, want: long},
		{field: "display_name", give: long + "x", wantErr: "is 257 characters long; at most 256 are allowed"},
		{field: "display_name", give: "", wantErr: "must not be empty"},
		{field: "display_name", give: "a\tb", wantErr: "control character"},
		{field: "display_name", give: "a\nb", wantErr: "control character"},
		{field: "display_name", give: "a\u0085b", wantErr: "control character"},
		{field: "display_name", give: "caf\xe9", wantErr: "not valid UTF-8"},

		{field: "serial_number", give: " SN-123 ", want: "SN-123"},
		{field: "serial_number", give: "", want: ""},
		{field: "serial_number", give: long + "x", wantErr: "at most 256"},
		{field: "manufacturer", give: "Dell Inc.", want: "Dell Inc."},
		{field: "manufacturer", give: "", want: ""},
		{field: "model", give: "Latitude 7440", want: "Latitude 7440"},
		{field: "model", give: "", want: ""},

		{field: "os", give: "windows", want: "Windows"},
		{field: "os", give: " MACOS ", want: "macOS"},
		{field: "os", give: "ios", want: "iOS"},
		{field: "os", give: "android", want: "Android"},
		{field: "os", give: "LINUX", want: "Linux"},
		{field: "os", give: "ChromeOS", want: "ChromeOS"},
		{field: "os", give: "", want: ""},
		{field: "os", give: "bad\x00os", wantErr: "control character"},

		{field: "os_version", give: "10.0.22631.4317", want: "10.0.22631.4317"},
		{field: "os_version", give: "14.4.1", want: "14.4.1"},
		{field: "os_version", give: "", want: ""},
		{field: "os_version", give: strings.Repeat("1", 65), wantErr: "at most 64"},

		{field: "edition", give: "enterprise", want: "Enterprise"},
		{field: "edition", give: "PROFESSIONAL", want: "Professional"},
		{field: "edition", give: "pro", want: "Professional"},
		{field: "edition", give: "pro for workstations", want: "Pro for Workstations"},
		{field: "edition", give: "education", want: "Education"},
		{field: "edition", give: "enterprise ltsc", want: "Enterprise LTSC"},
		{field: "edition", give: "home", want: "Home"},
		{field: "edition", give: "Enterprise Multi-Session", want: "Enterprise multi-session"},
		{field: "edition", give: "Enterprise for Virtual Desktops", want: "Enterprise multi-session"},
		{field: "edition", give: "Ultimate", want: "Ultimate"},
		{field: "edition", give: "", want: ""},

		{field: "architecture", give: "X64", want: "x64"},
		{field: "architecture", give: "x86", want: "x86"},
		{field: "architecture", give: "ARM64", want: "arm64"},
		{field: "architecture", give: "", want: ""},
		{field: "architecture", give: "jumbo", wantErr: `"jumbo" is not one of x64, x86, arm64 (or empty)`},

		{field: "join_type", give: "Entra-Joined", want: "entra-joined"},
		{field: "join_type", give: "hybrid-joined", want: "hybrid-joined"},
		{field: "join_type", give: "entra-registered", want: "entra-registered"},
		{field: "join_type", give: "", want: ""},
		{field: "join_type", give: "workgroup", wantErr: `"workgroup" is not one of entra-joined, hybrid-joined, entra-registered`},

		{field: "ownership", give: "Company", want: "company"},
		{field: "ownership", give: "personal", want: "personal"},
		{field: "ownership", give: "unknown", want: "unknown"},
		{field: "ownership", give: "", want: "unknown"},
		{field: "ownership", give: "corporate", wantErr: `"corporate" is not one of company, personal, unknown (empty means unknown)`},

		{field: "management", give: "Intune", want: "intune"},
		{field: "management", give: "CO-MANAGED", want: "co-managed"},
		{field: "management", give: "configmgr", want: "configmgr"},
		{field: "management", give: "none", want: "none"},
		{field: "management", give: "", want: "none"},
		{field: "management", give: "sccm", wantErr: "is not one of intune, co-managed, configmgr, none (empty means none)"},

		{field: "workload_windows_update", give: "ConfigMgr", want: "configmgr"},
		{field: "workload_windows_update", give: "pilot-intune", want: "pilot-intune"},
		{field: "workload_windows_update", give: "", want: ""},
		{field: "workload_device_configuration", give: "INTUNE", want: "intune"},
		{field: "workload_device_configuration", give: "pilot", wantErr: "is not one of configmgr, pilot-intune, intune"},
		{field: "workload_office_c2r", give: "intune", want: "intune"},
		{field: "workload_office_c2r", give: "both", wantErr: "is not one of configmgr, pilot-intune, intune"},

		{field: "last_checkin", give: "2025-01-31T09:30:00Z", want: "2025-01-31T09:30:00Z"},
		{field: "last_checkin", give: "2025-01-31T10:30:00+01:00", want: "2025-01-31T09:30:00Z"},
		{field: "last_checkin", give: "2025-01-31T09:30:00.987654321Z", want: "2025-01-31T09:30:00Z"},
		{field: "last_checkin", give: "", want: ""},
		{field: "last_checkin", give: "2025-01-31", wantErr: `"2025-01-31" is not an RFC 3339 time`},
		{field: "last_checkin", give: "31/01/2025 09:30", wantErr: "is not an RFC 3339 time"},
		{field: "last_checkin", give: "1601-01-01T00:00:00Z", wantErr: "is outside 1970 to 9999"},
		{field: "last_checkin", give: "9999-12-31T23:30:00-01:00", wantErr: "is outside 1970 to 9999"},

		{field: "device_kind", give: "Physical", want: "physical"},
		{field: "device_kind", give: "virtual-machine", want: "virtual-machine"},
		{field: "device_kind", give: "cloud-pc", want: "cloud-pc"},
		{field: "device_kind", give: "avd-personal", want: "avd-personal"},
		{field: "device_kind", give: "AVD-Multi-Session", want: "avd-multi-session"},
		{field: "device_kind", give: "avd-pooled", want: "avd-pooled"},
		{field: "device_kind", give: "", want: "physical"},
		{field: "device_kind", give: "vm", wantErr: "is not one of physical, virtual-machine, cloud-pc, avd-personal, avd-multi-session, avd-pooled (empty means physical)"},

		{field: "account_enabled", give: "TRUE", want: "true"},
		{field: "account_enabled", give: " false ", want: "false"},
		{field: "account_enabled", give: "", want: "true"},
		{field: "account_enabled", give: "yes", wantErr: `"yes" is not one of true, false (empty means true)`},
		{field: "account_enabled", give: "1", wantErr: "is not one of true, false"},

		{field: "wu_policy_source", give: "Intune", want: "intune"},
		{field: "wu_policy_source", give: "GPO", want: "gpo"},
		{field: "wu_policy_source", give: "none", want: "none"},
		{field: "wu_policy_source", give: "", want: ""},
		{field: "wu_policy_source", give: "cdn", wantErr: `"cdn" is not one of intune, gpo, none (or empty)`},
		{field: "office_policy_source", give: "CDN", want: "cdn"},
		{field: "office_policy_source", give: "gpo", want: "gpo"},
		{field: "office_policy_source", give: "", want: ""},
		{field: "office_policy_source", give: "wsus", wantErr: "is not one of intune, gpo, cdn, none (or empty)"},

		{field: "unreachable_endpoints", give: "", want: ""},
		{field: "unreachable_endpoints", give: "teams", want: "teams"},
		{field: "unreachable_endpoints", give: " Defender ; autopatch;teams;AUTOPATCH;", want: "autopatch;teams;defender"},
		{field: "unreachable_endpoints", give: "defender;office;edge;teams;autopatch", want: "autopatch;teams;edge;office;defender"},
		{field: "unreachable_endpoints", give: " ; ", want: ""},
		{field: "unreachable_endpoints", give: "teams;vpn", wantErr: `"vpn" is not one of autopatch, teams, edge, office, defender`},
		{field: "unreachable_endpoints", give: "vpn;proxy", wantErr: `"vpn", "proxy" are not among autopatch, teams, edge, office, defender`},
		{field: "unreachable_endpoints", give: "teams,edge", wantErr: `"teams,edge" is not one of`},

		{field: "internet_connected", give: "True", want: "true"},
		{field: "internet_connected", give: "false", want: "false"},
		{field: "internet_connected", give: "", want: ""},
		{field: "internet_connected", give: "offline", wantErr: `"offline" is not one of true, false (or empty when not reported)`},

		{field: "object_id", give: " {8E1D6E4B-0F4E-4C3F-9F57-3C7A0A6A2B11} ", want: "8e1d6e4b-0f4e-4c3f-9f57-3c7a0a6a2b11"},
		{field: "object_id", give: "", want: ""},
		{field: "object_id", give: "device-1", wantErr: `"device-1" is not a GUID; expected a GUID such as`},
		{field: "management_app_id", give: "0000000A-0000-0000-C000-000000000000", want: "0000000a-0000-0000-c000-000000000000"},
		{field: "management_app_id", give: "intune", wantErr: "is not a GUID"},
		{field: "physical_ids", give: " [ZTDId]:abc ; [OrderID]:Kiosk;;[ZTDId]:abc ", want: "[ZTDId]:abc;[OrderID]:Kiosk"},
		{field: "physical_ids", give: "", want: ""},
		{field: "physical_ids", give: "[OrderID]:" + long, wantErr: `is 266 characters long; at most 256 are allowed`},
		{field: "physical_ids", give: strings.Repeat("[OrderID]:x;", 400), wantErr: "is 4800 characters long; at most 4096 are allowed"},
		{field: "system_labels", give: "M365Managed; MDEJoined", want: "M365Managed;MDEJoined"},
		{field: "system_labels", give: "a\tb", wantErr: "contains a control character"},
		{field: "is_rooted", give: "FALSE", want: "false"},
		{field: "is_rooted", give: "", want: ""},
		{field: "is_rooted", give: "jailbroken", wantErr: `"jailbroken" is not one of true, false (or empty when not reported)`},
		{field: "enrollment_profile_name", give: " Autopilot Kiosk ", want: "Autopilot Kiosk"},
		{field: "device_category", give: long + "x", wantErr: "is 257 characters long; at most 256 are allowed"},
		{field: "extension_attribute_1", give: " Finance ", want: "Finance"},
		{field: "extension_attribute_15", give: strings.Repeat("x", 1024), want: strings.Repeat("x", 1024)},
		{field: "extension_attribute_15", give: strings.Repeat("x", 1025), wantErr: "is 1025 characters long; at most 1024 are allowed"},
		{field: "update_alerts", give: "DiskFull; SafeguardHold;DiskFull", want: "DiskFull;SafeguardHold"},
		{field: "update_alerts", give: "Disk Full", wantErr: `item "Disk Full" is not a Windows Update alert code Patchboard knows, such as DiskFull`},
		{field: "update_alerts", give: "diskfull", wantErr: `item "diskfull" is spelt DiskFull`},
		{field: "update_alerts", give: "DiskFul", wantErr: `item "DiskFul" is not a Windows Update alert code`},
	}
	for _, tt := range tests {
		t.Run(tt.field+"/"+tt.give, func(t *testing.T) {
			f := mustField(t, tt.field)
			d := NewDevice()
			err := f.Set(d, tt.give)
			if tt.wantErr != "" {
				var fe FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("Set(%q) = %v, want a FieldError containing %q", tt.give, err, tt.wantErr)
				}
				if fe.Field != tt.field || fe.Value != tt.give || fe.Row != 0 || !strings.Contains(fe.Reason, tt.wantErr) {
					t.Errorf("Set(%q) = %#v, want field %s, the value and a reason containing %q", tt.give, fe, tt.field, tt.wantErr)
				}
				if strings.Contains(fe.Reason, tt.field) {
					t.Errorf("reason %q repeats the field name", fe.Reason)
				}
				if !reflect.DeepEqual(d, NewDevice()) {
					t.Errorf("a rejected Set changed the device: %+v", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("Set(%q) = %v, want nil", tt.give, err)
			}
			got := f.Value(d)
			if got != tt.want {
				t.Errorf("Value after Set(%q) = %q, want %q", tt.give, got, tt.want)
			}
			// The canonical form is a fixed point: setting it again changes nothing.
			d2 := NewDevice()
			if err := f.Set(d2, got); err != nil {
				t.Fatalf("Set(canonical %q) = %v", got, err)
			}
			if !reflect.DeepEqual(d2, d) {
				t.Errorf("Set(Value(d)) = %+v, want %+v", d2, d)
			}
		})
	}
}

func TestInventoryFieldStoredValues(t *testing.T) {
	d := NewDevice()
	for _, kv := range [][2]string{
		{"last_checkin", "2025-01-31T10:30:00.5+01:00"},
		{"unreachable_endpoints", "edge;autopatch"},
		{"internet_connected", "false"},
		{"account_enabled", "false"},
		{"device_id", "{7C9E6679-7425-40DE-944B-E07FC1F90AE7}"},
	} {
		if err := mustField(t, kv[0]).Set(d, kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if want := time.Date(2025, 1, 31, 9, 30, 0, 0, time.UTC); !d.LastCheckin.Equal(want) || d.LastCheckin.Location() != time.UTC {
		t.Errorf("LastCheckin = %v, want %v in UTC", d.LastCheckin, want)
	}
	if want := []string{"autopatch", "edge"}; !reflect.DeepEqual(d.UnreachableEndpoints, want) {
		t.Errorf("UnreachableEndpoints = %q, want %q", d.UnreachableEndpoints, want)
	}
	if d.InternetConnected != SignalFalse || d.AccountEnabled || d.DeviceID != testID2 {
		t.Errorf("device = %+v", d)
	}
	if err := mustField(t, "unreachable_endpoints").Set(d, ""); err != nil || d.UnreachableEndpoints != nil {
		t.Errorf("empty endpoints: %v, %q; want nil slice", err, d.UnreachableEndpoints)
	}
}

func TestNewDeviceIsEmptyColumns(t *testing.T) {
	d := NewDevice()
	if d.Ownership != OwnershipUnknown || d.Management != ManagementNone || d.DeviceKind != KindPhysical ||
		!d.AccountEnabled || d.InternetConnected != SignalUnknown || !d.LastCheckin.IsZero() {
		t.Errorf("NewDevice() = %+v", d)
	}
	// Every optional field's empty value is NewDevice's default.
	for _, f := range InventoryFields {
		if f.Required {
			continue
		}
		got := &Device{}
		if err := f.Set(got, ""); err != nil {
			t.Errorf("%s: Set(\"\") = %v", f.Key, err)
		}
		if f.Value(got) != f.Value(d) {
			t.Errorf("%s: empty value is %q, NewDevice has %q", f.Key, f.Value(got), f.Value(d))
		}
	}
}

func TestValidateDevice(t *testing.T) {
	valid := func(mod func(d *Device)) *Device {
		d := NewDevice()
		d.DeviceID, d.DisplayName, d.OS, d.OSVersion = testGUID, "PC-1", "Windows", "10.0.22631.4317"
		mod(d)
		return d
	}
	tests := []struct {
		name string
		give *Device
		want []string // field: reason prefix
	}{
		{name: "valid", give: valid(func(*Device) {})},
		{name: "build only", give: valid(func(d *Device) { d.OSVersion = "10.0.17763" })},
		{name: "empty windows version", give: valid(func(d *Device) { d.OSVersion = "" })},
		{name: "other os any version", give: valid(func(d *Device) { d.OS, d.OSVersion = "macOS", "14.4.1" })},
		{name: "windows lower-case os", give: valid(func(d *Device) { d.OS, d.OSVersion = "windows", "22H2" }),
			want: []string{`os_version: "22H2" is not a Windows version; expected 10.0.BUILD or 10.0.BUILD.REVISION`}},
		{name: "windows 6.3", give: valid(func(d *Device) { d.OSVersion = "6.3.9600" }),
			want: []string{`os_version: "6.3.9600" is not a Windows version`}},
		{name: "no build", give: valid(func(d *Device) { d.OSVersion = "10.0" }),
			want: []string{`os_version: "10.0" is not a Windows version`}},
		{name: "empty revision", give: valid(func(d *Device) { d.OSVersion = "10.0.22631." }),
			want: []string{`os_version: "10.0.22631." is not a Windows version`}},
		{name: "five parts", give: valid(func(d *Device) { d.OSVersion = "10.0.22631.1.2" }),
			want: []string{`os_version: "10.0.22631.1.2" is not a Windows version`}},
		{name: "huge build", give: valid(func(d *Device) { d.OSVersion = "10.0.99999999999" }),
			want: []string{`os_version: "10.0.99999999999" is not a Windows version`}},
		{name: "required", give: valid(func(d *Device) { d.DeviceID, d.DisplayName = "", "" }),
			want: []string{"device_id: must not be empty", "display_name: must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, fe := range ValidateDevice(tt.give) {
				if fe.Row != 0 {
					t.Errorf("error has Row %d", fe.Row)
				}
				got = append(got, fe.Error())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("ValidateDevice = %q, want %q", got, tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("error %d = %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// readAll runs ReadInventoryCSV and collects the devices.
func readAll(t testing.TB, in string) ([]*Device, int, error) {
	t.Helper()
	var got []*Device
	rows, err := ReadInventoryCSV(strings.NewReader(in), func(d *Device) error {
		got = append(got, d)
		return nil
	})
	return got, rows, err
}

// fieldErrors renders a ValidationError as "row N: field: reason" lines.
func fieldErrors(t testing.TB, err error) []string {
	t.Helper()
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want a *ValidationError", err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false")
	}
	var out []string
	for _, fe := range verr.Errors {
		out = append(out, fe.Error())
	}
	return out
}

func checkErrors(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("errors =\n  %s\nwant prefixes\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestReadInventoryCSVHeader(t *testing.T) {
	row := testGUID + ",PC-1"
	tests := []struct {
		name     string
		give     string
		wantRows int
		wantErr  []string // prefixes of the rendered FieldErrors; nil when valid
	}{
		{name: "minimal", give: "device_id,display_name\n" + row + "\n", wantRows: 1},
		{name: "any order, case and spaces", give: " Display_Name ,DEVICE_ID\nPC-1," + testGUID + "\n", wantRows: 1},
		{name: "BOM", give: "\xef\xbb\xbfdevice_id,display_name\n" + row + "\n", wantRows: 1},
		{name: "BOM and quoted header", give: "\xef\xbb\xbf\"device_id\",\"display_name\"\r\n" + row + "\r\n", wantRows: 1},
		{name: "header only", give: "device_id,display_name\n", wantRows: 0},
		{name: "header without newline", give: "device_id,display_name", wantRows: 0},
		{name: "blank lines before header", give: "\n\n,\ndevice_id,display_name\n" + row, wantRows: 1},
		{name: "empty file", give: "",
			wantErr: []string{"the file is empty; expected a header row of inventory field names"}},
		{name: "only BOM", give: "\xef\xbb\xbf", wantErr: []string{"the file is empty"}},
		{name: "only blank lines", give: "\n\r\n  \n", wantErr: []string{"the file is empty"}},
		{name: "UTF-16", give: "\xff\xfed\x00e\x00", wantErr: []string{"the file is UTF-16 text; save it as CSV UTF-8"}},
		{name: "unknown column", give: "device_id,display_name,colour\n" + row + ",red\n",
			wantErr: []string{`the header has an unknown column "colour"`}},
		{name: "unknown column suggests key", give: "device_id,display_name,Serial number,deviceKind\n",
			wantErr: []string{
				`the header has an unknown column "Serial number" (did you mean serial_number?)`,
				`the header has an unknown column "deviceKind" (did you mean device_kind?)`,
			}},
		{name: "semicolons", give: "device_id;display_name\n",
			wantErr: []string{
				`the header has an unknown column "device_id;display_name"; inventory files are comma-separated`,
				"device_id: the header has no device_id column; device_id and display_name are required",
				"display_name: the header has no display_name column",
			}},
		{name: "duplicate column", give: "device_id,display_name,Model,model\n",
			wantErr: []string{"model: the header has the column model twice (columns 3 and 4)"}},
		{name: "missing display_name", give: "device_id,model\n" + testGUID + ",X\n",
			wantErr: []string{"display_name: the header has no display_name column; device_id and display_name are required"}},
		{name: "missing device_id", give: "display_name\nPC-1\n",
			wantErr: []string{"device_id: the header has no device_id column"}},
		{name: "unnamed column", give: "device_id,display_name,\n" + row + ",\n",
			wantErr: []string{"column 3 of the header has no name"}},
		{name: "bad CSV header", give: "device_id,\"display_name\n",
			wantErr: []string{"the header row is not valid CSV"}},
		{name: "every problem at once", give: "foo,model,model\n",
			wantErr: []string{
				`the header has an unknown column "foo"`,
				"model: the header has the column model twice",
				"device_id: the header has no device_id column",
				"display_name: the header has no display_name column",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rows, err := readAll(t, tt.give)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if rows != tt.wantRows || len(got) != tt.wantRows {
					t.Fatalf("rows = %d, devices = %d, want %d", rows, len(got), tt.wantRows)
				}
				for _, d := range got {
					if d.DeviceID != testGUID || d.DisplayName != "PC-1" {
						t.Errorf("device = %+v", d)
					}
				}
				return
			}
			if rows != 0 || len(got) != 0 {
				t.Errorf("rows = %d, devices = %d, want none after a header error", rows, len(got))
			}
			checkErrors(t, fieldErrors(t, err), tt.wantErr)
		})
	}
}

func TestReadInventoryCSVMissingColumnsTakeDefaults(t *testing.T) {
	got, _, err := readAll(t, "display_name,device_id,os\nPC-1,"+testGUID+",windows\n")
	if err != nil {
		t.Fatal(err)
	}
	want := NewDevice()
	want.DeviceID, want.DisplayName, want.OS = testGUID, "PC-1", "Windows"
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("devices = %+v, want [%+v]", got, want)
	}
}

func TestReadInventoryCSVFullRow(t *testing.T) {
	var header []string
	for _, f := range InventoryFields {
		header = append(header, f.Key)
	}
	in := strings.Join(header, ",") + "\n" +
		`{0F8FAD5B-D9CB-469F-A165-70867728950E},"AP-01, Finance",SN1,Dell Inc.,Latitude 7440,WINDOWS,10.0.22631.4317,pro,X64,` +
		`Hybrid-Joined,Company,co-managed,pilot-intune,intune,configmgr,2025-01-31T10:30:00+01:00,cloud-pc,FALSE,gpo,cdn,edge;teams,true,` +
		`{8E1D6E4B-0F4E-4C3F-9F57-3C7A0A6A2B11},"[ZTDId]:a1b2; [OrderID]:Kiosk ;[ZTDId]:a1b2;",Autopilot Kiosk,Kiosks,RegisteredDevice,MDM,` +
		`0000000a-0000-0000-c000-000000000000,M365Managed;MDEJoined,False,` +
		`Finance,,HQ` + strings.Repeat(",", 12) + `,DiskFull;SafeguardHold` + "\n"
	got, rows, err := readAll(t, in)
	if err != nil || rows != 1 || len(got) != 1 {
		t.Fatalf("rows = %d, devices = %d, err = %v", rows, len(got), err)
	}
	want := &Device{
		DeviceID: testGUID, DisplayName: "AP-01, Finance", SerialNumber: "SN1", Manufacturer: "Dell Inc.",
		Model: "Latitude 7440", OS: "Windows", OSVersion: "10.0.22631.4317", Edition: "Professional",
		Architecture: "x64", JoinType: "hybrid-joined", Ownership: "company", Management: "co-managed",
		WorkloadWindowsUpdate: "pilot-intune", WorkloadDeviceConfiguration: "intune", WorkloadOfficeC2R: "configmgr",
		LastCheckin: time.Date(2025, 1, 31, 9, 30, 0, 0, time.UTC), DeviceKind: "cloud-pc", AccountEnabled: false,
		WUPolicySource: "gpo", OfficePolicySource: "cdn", UnreachableEndpoints: []string{"teams", "edge"},
		InternetConnected: SignalTrue,
		ObjectID:          "8e1d6e4b-0f4e-4c3f-9f57-3c7a0a6a2b11", PhysicalIDs: []string{"[ZTDId]:a1b2", "[OrderID]:Kiosk"},
		EnrollmentProfileName: "Autopilot Kiosk", DeviceCategory: "Kiosks", ProfileType: "RegisteredDevice",
		ManagementType: "MDM", ManagementAppID: "0000000a-0000-0000-c000-000000000000",
		SystemLabels: []string{"M365Managed", "MDEJoined"}, IsRooted: SignalFalse,
		ExtensionAttributes: &ExtensionAttributes{0: "Finance", 2: "HQ"}, UpdateAlerts: []string{"DiskFull", "SafeguardHold"},
	}
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("device =\n %+v\nwant\n %+v", got[0], want)
	}
}

func TestReadInventoryCSVRowErrors(t *testing.T) {
	const header = "device_id,display_name,architecture,os,os_version,ownership\n"
	id := func(n int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d", n) }
	tests := []struct {
		name     string
		give     string
		wantRows int
		wantIDs  []string // devices passed to each, in order
		wantErr  []string
	}{
		{
			name: "errors across the file",
			give: header +
				id(1) + ",PC-1,x64,Windows,10.0.22631,company\n" +
				"nope,PC-2,jumbo,Windows,10.0.22631,company\n" +
				id(3) + ",PC-3,x64,Windows,10.0.22631,company\n" +
				id(4) + ",,x64,Windows,22H2,boss\n" +
				id(5) + ",PC-5,arm64,macOS,14.4,\n",
			wantRows: 5,
			wantIDs:  []string{id(1), id(3), id(5)},
			wantErr: []string{
				`row 2: device_id: "nope" is not a device ID`,
				`row 2: architecture: "jumbo" is not one of x64, x86, arm64`,
				"row 4: display_name: must not be empty",
				`row 4: ownership: "boss" is not one of company, personal, unknown`,
				`row 4: os_version: "22H2" is not a Windows version`,
			},
		},
		{
			name: "duplicate device_id names the earlier row",
			give: header +
				id(1) + ",PC-1,,,,\n" +
				id(2) + ",PC-2,,,,\n" +
				"{" + strings.ToUpper(id(1)) + "},PC-1 again,,,,\n" +
				id(1) + ",PC-1 thrice,jumbo,,,\n",
			wantRows: 4,
			wantIDs:  []string{id(1), id(2)},
			wantErr: []string{
				`row 3: device_id: "` + id(1) + `" is already on row 1; each device may appear only once`,
				`row 4: architecture: "jumbo"`,
				`row 4: device_id: "` + id(1) + `" is already on row 1`,
			},
		},
		{
			name: "duplicate of an invalid row is still a duplicate",
			give: header +
				id(1) + ",PC-1,jumbo,,,\n" +
				id(1) + ",PC-1,,,,\n",
			wantRows: 2,
			wantErr: []string{
				`row 1: architecture: "jumbo"`,
				`row 2: device_id: "` + id(1) + `" is already on row 1`,
			},
		},
		{
			name: "wrong cell count",
			give: header +
				id(1) + ",PC-1\n" +
				id(2) + ",PC-2,,,,,\n" +
				id(3) + ",PC-3,,,,\n",
			wantRows: 3,
			wantIDs:  []string{id(3)},
			wantErr: []string{
				"row 1: the row has 2 cells but the header has 6 columns",
				"row 2: the row has 7 cells but the header has 6 columns",
			},
		},
		{
			name: "blank lines are skipped and keep line-based row numbers",
			give: header +
				"\n" +
				id(1) + ",PC-1,,,,\n" +
				"\r\n" +
				",,,,,\n" +
				"   \n" +
				id(2) + ",PC-2,x99,,,\n" +
				"\n",
			wantRows: 2,
			wantIDs:  []string{id(1)},
			wantErr:  []string{`row 6: architecture: "x99"`},
		},
		{
			name: "a line break inside a quoted cell",
			give: header +
				id(1) + ",\"two\nlines\",,,,\n" +
				id(2) + ",PC-2,x99,,,\n",
			wantRows: 2,
			wantErr: []string{
				"row 1: display_name: contains a control character",
				`row 3: architecture: "x99"`,
			},
		},
		{
			name: "invalid CSV syntax is a row error and reading goes on",
			give: header +
				id(1) + ",PC \"1\",,,,\n" +
				id(2) + ",\"PC-2\"x,,,,\n" +
				id(3) + ",\"PC, \"\"3\"\"\",,,,\n",
			wantRows: 3,
			wantIDs:  []string{id(3)},
			wantErr: []string{
				"row 1: the row is not valid CSV: a \" at line 2",
				"row 2: the row is not valid CSV: a quoted value is not closed properly (line 3",
			},
		},
		{
			name: "unterminated quote at the end",
			give: header +
				id(1) + ",PC-1,,,,\n" +
				id(2) + ",\"PC-2,,,,\n",
			wantRows: 2,
			wantIDs:  []string{id(1)},
			wantErr:  []string{"row 2: the row is not valid CSV: a quoted value is not closed properly"},
		},
		{
			name: "CRLF and no final newline",
			give: strings.ReplaceAll(header, "\n", "\r\n") +
				id(1) + ",PC-1,x64,,,\r\n" +
				id(2) + ",PC-2,x64,,,",
			wantRows: 2,
			wantIDs:  []string{id(1), id(2)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rows, err := readAll(t, tt.give)
			if rows != tt.wantRows {
				t.Errorf("rows = %d, want %d", rows, tt.wantRows)
			}
			var ids []string
			for _, d := range got {
				ids = append(ids, d.DeviceID)
			}
			if !reflect.DeepEqual(ids, tt.wantIDs) {
				t.Errorf("devices = %q, want %q", ids, tt.wantIDs)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			checkErrors(t, fieldErrors(t, err), tt.wantErr)
		})
	}
}

func TestReadInventoryCSVErrorValue(t *testing.T) {
	_, _, err := readAll(t, "device_id,display_name,architecture\n"+testGUID+",PC-1, Jumbo \n")
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Errors) != 1 {
		t.Fatalf("err = %v", err)
	}
	want := FieldError{Row: 1, Field: "architecture", Value: " Jumbo ",
		Reason: `"Jumbo" is not one of x64, x86, arm64 (or empty)`}
	if verr.Errors[0] != want {
		t.Errorf("error = %#v, want %#v", verr.Errors[0], want)
	}
}

func TestReadInventoryCSVTruncatesErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("device_id,display_name\n")
	const n = maxKeptErrors + 10
	for i := range n {
		fmt.Fprintf(&b, "bad-%d,PC\n", i)
	}
	_, rows, err := readAll(t, b.String())
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v", err)
	}
	if rows != n || len(verr.Errors) != maxKeptErrors || verr.Truncated != 10 {
		t.Errorf("rows = %d, kept = %d, truncated = %d; want %d, %d, 10", rows, len(verr.Errors), verr.Truncated, n, maxKeptErrors)
	}
	if last := verr.Errors[maxKeptErrors-1]; last.Row != maxKeptErrors {
		t.Errorf("last kept error is row %d, want %d", last.Row, maxKeptErrors)
	}
}

func TestReadInventoryCSVEachErrorStops(t *testing.T) {
	stop := errors.New("disk full")
	in := "device_id,display_name\n" +
		testGUID + ",PC-1\n" +
		testID2 + ",PC-2\n" +
		"bad,PC-3\n"
	calls := 0
	rows, err := ReadInventoryCSV(strings.NewReader(in), func(*Device) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 || rows != 1 {
		t.Errorf("rows = %d, calls = %d, err = %v; want 1, 1, %v", rows, calls, err, stop)
	}
}

func TestReadInventoryCSVReadError(t *testing.T) {
	boom := errors.New("connection reset")
	tests := []struct {
		name string
		give io.Reader
	}{
		{name: "before the header", give: iotest.ErrReader(boom)},
		{name: "mid-file", give: io.MultiReader(strings.NewReader("device_id,display_name\n"+testGUID+",PC-1\n"), iotest.ErrReader(boom))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadInventoryCSV(tt.give, func(*Device) error { return nil })
			if !errors.Is(err, boom) || errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "read inventory csv: ") {
				t.Errorf("err = %v, want the read error wrapped with \"read inventory csv: \"", err)
			}
		})
	}
}

// writeInventoryCSV writes devices as export does: every field, canonical values.
func writeInventoryCSV(t testing.TB, devices []*Device) string {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	rec := make([]string, len(InventoryFields))
	for i, f := range InventoryFields {
		rec[i] = f.Key
	}
	_ = w.Write(rec)
	for _, d := range devices {
		for i, f := range InventoryFields {
			rec[i] = f.Value(d)
		}
		_ = w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// checkRoundTrip asserts that a device read from a file re-validates field
// by field through its own canonical values, and that exporting and
// re-importing the devices gives the same devices.
func checkRoundTrip(t testing.TB, devices []*Device) {
	t.Helper()
	for _, d := range devices {
		if errs := ValidateDevice(d); len(errs) > 0 {
			t.Fatalf("ValidateDevice(%+v) = %v", d, errs)
		}
		for _, f := range InventoryFields {
			v := f.Value(d)
			d2 := NewDevice()
			if err := f.Set(d2, v); err != nil {
				t.Fatalf("%s: Set(Value = %q) = %v", f.Key, v, err)
			}
			if v2 := f.Value(d2); v2 != v {
				t.Fatalf("%s: Value(Set(%q)) = %q", f.Key, v, v2)
			}
		}
	}
	again, _, err := readAll(t, writeInventoryCSV(t, devices))
	if err != nil {
		t.Fatalf("re-import of the export: %v", err)
	}
	if len(again) != len(devices) {
		t.Fatalf("re-import gave %d devices, want %d", len(again), len(devices))
	}
	for i := range again {
		if !reflect.DeepEqual(again[i], devices[i]) {
			t.Fatalf("re-import of device %d =\n %+v\nwant\n %+v", i, again[i], devices[i])
		}
	}
}

func TestInventoryExportRoundTrip(t *testing.T) {
	devices := benchInventoryDevices(50)
	in := writeInventoryCSV(t, devices)
	got, rows, err := readAll(t, in)
	if err != nil || rows != len(devices) {
		t.Fatalf("rows = %d, err = %v", rows, err)
	}
	checkRoundTrip(t, got)
}

func FuzzReadInventoryCSV(f *testing.F) {
	f.Add("device_id,display_name\n" + testGUID + ",PC-1\n")
	f.Add("\xef\xbb\xbfDisplay_Name,DEVICE_ID,os,os_version\nPC-1,{" + strings.ToUpper(testGUID) + "},windows,10.0.22631.1\n")
	f.Add("device_id,display_name,last_checkin,unreachable_endpoints,internet_connected,account_enabled\n" +
		testGUID + ",\"a, \"\"b\"\"\",2025-01-31T10:30:00.5+01:00,Teams;edge;teams,TRUE,false\n" +
		testID2 + ",x,,,,\n")
	f.Add("device_id,display_name,edition,architecture,join_type,ownership,management,device_kind\n" +
		testGUID + ",PC,pro,ARM64,hybrid-joined,Personal,CO-MANAGED,avd-pooled\n" + testGUID + ",PC,,,,,,\n")
	f.Add("device_id,display_name\n\"" + testGUID + "\",\"two\nlines\"\n,\n\n")
	f.Add(writeInventoryCSV(f, benchInventoryDevices(3)))
	f.Fuzz(func(t *testing.T, in string) {
		var got []*Device
		_, err := ReadInventoryCSV(strings.NewReader(in), func(d *Device) error {
			got = append(got, d)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid (a strings.Reader cannot fail)", err)
			}
			if len(fieldErrors(t, err)) == 0 {
				t.Fatalf("ValidationError without errors")
			}
		}
		checkRoundTrip(t, got)
	})
}

// benchInventoryDevices returns n varied, valid devices.
func benchInventoryDevices(n int) []*Device {
	kinds := []string{KindPhysical, KindVirtualMachine, KindCloudPC, KindAVDPersonal}
	out := make([]*Device, n)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		d := NewDevice()
		d.DeviceID = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*7919)
		d.DisplayName = fmt.Sprintf("AP-PC-%06d", i)
		d.SerialNumber = fmt.Sprintf("SN%08d", i)
		d.Manufacturer = "Dell Inc."
		d.Model = "Latitude 7440"
		d.OS = OSWindows
		d.OSVersion = fmt.Sprintf("10.0.%d.%d", 19045+i%4000, i%5000)
		d.Edition = "Enterprise"
		d.Architecture = ArchX64
		d.JoinType = JoinEntraJoined
		d.Ownership = OwnershipCompany
		d.Management = ManagementIntune
		if i%5 == 0 {
			d.Management = ManagementCoManaged
			d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = WorkloadPilotIntune, WorkloadIntune, WorkloadConfigMgr
		}
		d.LastCheckin = base.Add(time.Duration(i) * time.Minute)
		d.DeviceKind = kinds[i%len(kinds)]
		d.AccountEnabled = i%50 != 0
		if i%3 == 0 {
			d.WUPolicySource, d.OfficePolicySource = "intune", "cdn"
			d.InternetConnected = SignalTrue
		}
		if i%17 == 0 {
			d.UnreachableEndpoints = []string{"teams", "defender"}
		}
		// The Entra properties as a directory sync fills them.
		d.ObjectID = fmt.Sprintf("%08x-1111-4000-8000-%012x", i, i*31)
		if i%2 == 0 {
			d.PhysicalIDs = []string{fmt.Sprintf("[ZTDId]:%08x-2222-4000-8000-%012x", i, i), "[OrderID]:Kiosk"}
			d.EnrollmentProfileName = "Autopilot user-driven"
		}
		if i%4 == 0 {
			d.DeviceCategory, d.ProfileType, d.ManagementType = "Finance", "RegisteredDevice", "MDM"
			d.ManagementAppID = "0000000a-0000-0000-c000-000000000000"
			d.SystemLabels = []string{"M365Managed"}
			d.SetExtensionAttribute(1, "Cost centre 42")
			d.SetExtensionAttribute(15, "HQ")
			d.IsRooted = SignalFalse
		}
		if i%23 == 0 {
			d.UpdateAlerts = []string{"DiskFull", "PolicyConflict"}
		}
		out[i] = d
	}
	return out
}

func BenchmarkReadInventoryCSV(b *testing.B) {
	const n = 100_000
	in := []byte(writeInventoryCSV(b, benchInventoryDevices(n)))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rows, err := ReadInventoryCSV(bytes.NewReader(in), func(*Device) error { return nil })
		if err != nil || rows != n {
			b.Fatalf("rows = %d, err = %v", rows, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}
