package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecodeInventoryJSON(t *testing.T) {
	body := `[
		{"device_id": "{0F8FAD5B-D9CB-469F-A165-70867728950E}", "display_name": " CPC-1 ", "os": "windows",
		 "edition": "pro", "architecture": "X64", "account_enabled": false, "internet_connected": true,
		 "unreachable_endpoints": ["Teams", "autopatch"], "last_checkin": "2026-11-01T10:30:00+01:00",
		 "serial_number": null, "device_kind": "cloud-pc", "wu_policy_source": ""},
		{"device_id": "00000000-0000-4000-8000-000000000002", "display_name": "PC \"2\"", "internet_connected": "false",
		 "unreachable_endpoints": "edge;office", "account_enabled": "TRUE", "device\u005fkind": "virtual-machine"}
	]`
	devs, err := DecodeInventoryJSON(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 {
		t.Fatalf("%d devices", len(devs))
	}
	d := devs[0]
	checks := []struct{ got, want any }{
		{d.DeviceID, "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{d.DisplayName, "CPC-1"},
		{d.OS, OSWindows},
		{d.Edition, "Professional"},
		{d.Architecture, ArchX64},
		{d.AccountEnabled, false},
		{d.InternetConnected, SignalTrue},
		{strings.Join(d.UnreachableEndpoints, ";"), "autopatch;teams"},
		{d.LastCheckin, time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)},
		{d.SerialNumber, ""},
		{d.DeviceKind, KindCloudPC},
		{d.Ownership, OwnershipUnknown}, // omitted: the default
		{d.Management, ManagementNone},
		{devs[1].DisplayName, `PC "2"`},
		{devs[1].InternetConnected, SignalFalse},
		{strings.Join(devs[1].UnreachableEndpoints, ";"), "edge;office"},
		{devs[1].AccountEnabled, true},
		{devs[1].DeviceKind, KindVirtualMachine}, // an escaped key
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %v, want %v", i, c.got, c.want)
		}
	}
	if devs, err := DecodeInventoryJSON(strings.NewReader(" [ ] ")); err != nil || len(devs) != 0 {
		t.Errorf("empty array: %v %v", devs, err)
	}
}

func TestDecodeInventoryJSONRejects(t *testing.T) {
	id := func(n int) string { return fmt.Sprintf(`"device_id": %q`, testID(n)) }
	body := `[
		{` + id(1) + `, "display_name": "ok"},
		{` + id(2) + `, "display_name": "PC-2", "architecture": "sparc", "colour": "red", "serialNumber": "x"},
		{` + id(3) + `},
		{"device_id": "nope", "display_name": 7},
		"a string",
		{` + id(1) + `, "display_name": "again"},
		{` + id(6) + `, "display_name": "PC-6", "os": "Windows", "os_version": "22H2"},
		{` + id(7) + `, "display_name": "PC-7", "account_enabled": "yes", "unreachable_endpoints": ["moon"], "internet_connected": 1},
		null
	]`
	_, err := DecodeInventoryJSON(strings.NewReader(body))
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v, want a *ValidationError", err)
	}
	var got []string
	for _, fe := range ve.Errors {
		got = append(got, fe.Item+" "+fe.Field+": "+fe.Reason)
	}
	want := []string{
		"/1 architecture: \"sparc\" is not one of",
		"/1 colour: is not an inventory field; the fields are",
		"/1 serialNumber: is not an inventory field (did you mean serial_number?)",
		"/2 display_name: is required",
		"/3 device_id: \"nope\" is not a device ID",
		"/3 display_name: must be a string",
		"/4 : must be an object of inventory fields",
		"/5 device_id: \"" + testID(1) + "\" is already at /0",
		"/6 os_version: \"22H2\" is not a Windows version",
		"/7 account_enabled: \"yes\" is not one of true, false",
		"/7 unreachable_endpoints: \"moon\" is not one of",
		"/7 internet_connected: must be true, false or a string",
		"/8 : must be an object of inventory fields",
	}
	if len(got) != len(want) {
		t.Fatalf("errors:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d: %q, want it to start with %q", i, got[i], want[i])
		}
	}

	for _, body := range []string{"", "   ", "{}", `{"device_id": "x"}`, "[", `[{"device_id": }]`, "[] []", "[{}", "nul"} {
		_, err := DecodeInventoryJSON(strings.NewReader(body))
		if !errors.Is(err, ErrMalformedJSON) {
			t.Errorf("DecodeInventoryJSON(%q): %v, want ErrMalformedJSON", body, err)
		}
	}
	readErr := errors.New("boom")
	if _, err := DecodeInventoryJSON(&failingReader{err: readErr}); !errors.Is(err, readErr) {
		t.Errorf("read error: %v", err)
	}
}

type failingReader struct{ err error }

func (r *failingReader) Read([]byte) (int, error) { return 0, r.err }

// TestInventoryJSONMatchesCSV checks that a record sent as JSON strings is
// stored exactly as the same CSV row.
func TestInventoryJSONMatchesCSV(t *testing.T) {
	d := healthy(1)
	d.UnreachableEndpoints = []string{"teams", "edge"}
	var csvHead, csvRow, js []string
	for _, f := range InventoryFields {
		v := f.Value(d)
		csvHead = append(csvHead, f.Key)
		csvRow = append(csvRow, v)
		js = append(js, fmt.Sprintf("%q: %q", f.Key, v))
	}
	var fromCSV *Device
	if _, err := ReadInventoryCSV(strings.NewReader(strings.Join(csvHead, ",")+"\n"+strings.Join(csvRow, ",")+"\n"),
		func(x *Device) error { fromCSV = x; return nil }); err != nil {
		t.Fatal(err)
	}
	devs, err := DecodeInventoryJSON(strings.NewReader("[{" + strings.Join(js, ",") + "}]"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range InventoryFields {
		if a, b := f.Value(fromCSV), f.Value(devs[0]); a != b {
			t.Errorf("%s: CSV %q, JSON %q", f.Key, a, b)
		}
	}
}

// FuzzDecodeInventoryJSON checks that no body makes the decoder panic or
// accept what is not an array of valid records.
func FuzzDecodeInventoryJSON(f *testing.F) {
	for _, seed := range []string{
		`[{"device_id": "00000000-0000-4000-8000-000000000001", "display_name": "a"}]`,
		`[{"device_id": "00000000-0000-4000-8000-000000000001", "display_name": "a\"b", "x": {"y": [1, "]"]}}]`,
		`[null, 1, "s", [], {}]`, `[{"unreachable_endpoints": ["a", "b"], "account_enabled": true}]`, `[`, `{}`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		devs, err := DecodeInventoryJSON(strings.NewReader(body))
		if err != nil {
			if devs != nil {
				t.Fatal("devices returned with an error")
			}
			return
		}
		for _, d := range devs {
			if fes := ValidateDevice(d); len(fes) > 0 {
				t.Fatalf("accepted an invalid record: %v", fes)
			}
		}
	})
}

// BenchmarkDecodeInventoryJSON decodes a batch of 1,000 complete records,
// the batch size of the registration API.
func BenchmarkDecodeInventoryJSON(b *testing.B) {
	var body strings.Builder
	body.WriteString("[")
	for i := range 1000 {
		if i > 0 {
			body.WriteString(",")
		}
		d := healthy(i + 1)
		body.WriteString("{")
		for j, f := range InventoryFields {
			if j > 0 {
				body.WriteString(", ")
			}
			fmt.Fprintf(&body, "%q: %q", f.Key, f.Value(d))
		}
		body.WriteString("}")
	}
	body.WriteString("]")
	src := body.String()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		devs, err := DecodeInventoryJSON(strings.NewReader(src))
		if err != nil || len(devs) != 1000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}

func TestImportDevicesJSON(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	body := func(devs []*Device, extra string) string {
		var b strings.Builder
		b.WriteString("[")
		for i, d := range devs {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("{")
			for j, f := range InventoryFields {
				if j > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, "%q:%q", f.Key, f.Value(d))
			}
			b.WriteString("}")
		}
		b.WriteString(extra + "]")
		return b.String()
	}
	var devs []*Device
	for i := range 300 {
		devs = append(devs, healthy(i+1))
	}
	// A bad record after hundreds of good ones, which are being written
	// already: nothing stays.
	_, err := st.ImportDevicesJSON(ctx, strings.NewReader(body(devs, `,{"device_id": "x", "display_name": "y"}`)), "test", "token:t")
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Item != "/300" {
		t.Fatalf("error %v", err)
	}
	if _, err := st.Device(ctx, devs[0].DeviceID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a rejected batch left records: %v", err)
	}
	res, err := st.ImportDevicesJSON(ctx, strings.NewReader(body(devs, "")), "test", "token:t")
	if err != nil || res != (ImportResult{Rows: 300, Inserted: 300}) {
		t.Fatalf("import: %+v %v", res, err)
	}
	devs[7].Model = "Latitude 5450"
	res, err = st.ImportDevicesJSON(ctx, strings.NewReader(body(devs[:10], "")), "test", "token:t")
	if err != nil || res != (ImportResult{Rows: 10, Updated: 1, Unchanged: 9}) {
		t.Fatalf("update: %+v %v", res, err)
	}
	if res, err = st.ImportDevicesJSON(ctx, strings.NewReader("[]"), "test", "token:t"); err != nil || res.Rows != 0 {
		t.Fatalf("empty: %+v %v", res, err)
	}
	entries, _ := st.AuditEntries(ctx, AuditFilter{Action: ActionImportDevice, Actor: "token:t"})
	if len(entries) != 2 || entries[0].Detail != "10 records: 0 new, 1 updated, 9 unchanged" {
		t.Errorf("audit (none for the empty batch): %+v", entries)
	}
	if _, err := st.ImportDevicesJSON(ctx, strings.NewReader(`{"a": 1}`), "test", "token:t"); !errors.Is(err, ErrMalformedJSON) {
		t.Errorf("not an array: %v", err)
	}
}

// TestEntraFieldsStored checks the Entra properties of SPEC §1 from a JSON
// body (arrays and booleans) through the database and back, and that a
// re-upsert of the same record changes nothing.
func TestEntraFieldsStored(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	body := `[{"device_id": "` + testID(1) + `", "display_name": "KIOSK-1",
		"object_id": "8E1D6E4B-0F4E-4C3F-9F57-3C7A0A6A2B11", "physical_ids": ["[ZTDId]:a1", "[OrderID]:Kiosk"],
		"enrollment_profile_name": "Kiosk profile", "device_category": "Kiosks", "profile_type": "RegisteredDevice",
		"management_type": "MDM", "management_app_id": "0000000a-0000-0000-c000-000000000000",
		"system_labels": "M365Managed;MDEJoined", "is_rooted": false,
		"extension_attribute_1": "Finance", "extension_attribute_15": "HQ", "update_alerts": ["DiskFull"]}]`
	if _, err := st.ImportDevicesJSON(ctx, strings.NewReader(body), "api", "tester"); err != nil {
		t.Fatal(err)
	}
	rec, err := st.Device(ctx, testID(1))
	if err != nil {
		t.Fatal(err)
	}
	d := rec.Device
	want := &ExtensionAttributes{0: "Finance", 14: "HQ"}
	if d.ObjectID != "8e1d6e4b-0f4e-4c3f-9f57-3c7a0a6a2b11" || strings.Join(d.PhysicalIDs, "|") != "[ZTDId]:a1|[OrderID]:Kiosk" ||
		d.EnrollmentProfileName != "Kiosk profile" || d.DeviceCategory != "Kiosks" || d.ProfileType != "RegisteredDevice" ||
		d.ManagementType != "MDM" || d.ManagementAppID != "0000000a-0000-0000-c000-000000000000" ||
		strings.Join(d.SystemLabels, "|") != "M365Managed|MDEJoined" || d.IsRooted != SignalFalse ||
		d.ExtensionAttributes == nil || *d.ExtensionAttributes != *want || strings.Join(d.UpdateAlerts, "|") != "DiskFull" {
		t.Fatalf("stored device = %+v (extension attributes %v)", d, d.ExtensionAttributes)
	}
	res, err := st.ImportDevicesJSON(ctx, strings.NewReader(body), "api", "tester")
	if err != nil || res.Unchanged != 1 {
		t.Fatalf("re-upsert: %+v, %v; want 1 unchanged", res, err)
	}
	// Clearing a field is a change, and clears it.
	cleared := strings.Replace(body, `"extension_attribute_1": "Finance", "extension_attribute_15": "HQ", `, "", 1)
	if res, err := st.ImportDevicesJSON(ctx, strings.NewReader(cleared), "api", "tester"); err != nil || res.Updated != 1 {
		t.Fatalf("clearing: %+v, %v; want 1 updated", res, err)
	}
	if rec, _ := st.Device(ctx, testID(1)); rec.ExtensionAttributes != nil {
		t.Errorf("extension attributes after clearing = %v, want none", *rec.ExtensionAttributes)
	}

	_, err = DecodeInventoryJSON(strings.NewReader(`[{"device_id": "` + testID(2) + `", "display_name": "x",
		"physical_ids": ["a;b"], "is_rooted": "maybe", "system_labels": true}]`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v, want a *ValidationError", err)
	}
	var got []string
	for _, fe := range ve.Errors {
		got = append(got, fe.Item+" "+fe.Field+": "+fe.Reason)
	}
	for _, want := range []string{
		`/0 physical_ids: item "a;b" contains a ;, which separates the items of this field`,
		`/0 is_rooted: "maybe" is not one of true, false`,
		`/0 system_labels: must be an array of strings or a ;-separated string`,
	} {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, want) }) {
			t.Errorf("errors %q do not include %q", got, want)
		}
	}
}
