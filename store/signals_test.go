package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeSignalsJSON(t *testing.T) {
	now := testNow
	reps, err := DecodeSignalsJSON(strings.NewReader(`[
		{"device_id": "{`+strings.ToUpper(testID(1))+`}", "wu_policy_source": "Intune", "unreachable_endpoints": "edge;teams",
		 "internet_connected": "TRUE", "update_alerts": ["SafeguardHold"], "reported_at": "2026-11-01T13:00:00+02:00"},
		{"device_id": "`+testID(2)+`", "office_policy_source": null}]`), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 {
		t.Fatalf("%d reports", len(reps))
	}
	a, b := reps[0], reps[1]
	if a.DeviceID != testID(1) || strings.Join(a.Fields, ",") != "wu_policy_source,unreachable_endpoints,internet_connected,update_alerts" ||
		a.Values.WUPolicySource != "intune" || strings.Join(a.Values.UnreachableEndpoints, ";") != "teams;edge" ||
		a.Values.InternetConnected != SignalTrue || !a.ReportedAt.Equal(time.Date(2026, 11, 1, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("first report %+v", a)
	}
	if strings.Join(b.Fields, ",") != "office_policy_source" || b.Values.OfficePolicySource != "" || !b.ReportedAt.Equal(now) {
		t.Errorf("second report %+v", b)
	}

	_, err = DecodeSignalsJSON(strings.NewReader(`[{"device_id": "x"}, 3, {"device_id": "`+testID(1)+`", "Wu_Policy_Source": "gpo"},
		{"device_id": "`+testID(2)+`"}, {"device_id": "`+testID(2)+`"}, {"device_id": "`+testID(3)+`", "reported_at": "yesterday"}]`), now)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a *ValidationError", err)
	}
	var got []string
	for _, fe := range ve.Errors {
		got = append(got, fe.Item+" "+fe.Field+": "+fe.Reason)
	}
	want := []string{
		`/0 device_id: "x" is not a device ID`,
		`/1 : must be an object with a device_id and the signals to report`,
		`/2 Wu_Policy_Source: is not a signal; a report holds device_id, reported_at and any of wu_policy_source, office_policy_source, unreachable_endpoints, internet_connected, update_alerts`,
		`/4 device_id: "` + testID(2) + `" is already at /3`,
		`/5 reported_at: "yesterday" is not an RFC 3339 time`,
	}
	if len(got) != len(want) {
		t.Fatalf("errors:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d = %q, want %q…", i, got[i], want[i])
		}
	}
	if _, err := DecodeSignalsJSON(strings.NewReader(`{}`), now); !errors.Is(err, ErrMalformedJSON) {
		t.Errorf("an object: %v, want ErrMalformedJSON", err)
	}
}

// FuzzDecodeSignalsJSON checks that no body makes the decoder panic, and
// that what it accepts names a device and only signals.
func FuzzDecodeSignalsJSON(f *testing.F) {
	f.Add(`[{"device_id": "` + testID(1) + `", "wu_policy_source": "gpo", "reported_at": "2026-11-01T10:00:00Z"}]`)
	f.Add(`[{"device_id": "` + testID(1) + `", "unreachable_endpoints": ["teams"], "update_alerts": null, "internet_connected": false}]`)
	f.Add(`[null, {}, [], {"device_id": 1}]`)
	f.Add(`[{"device_id": "` + testID(1) + `", "device_id": "` + testID(2) + `"}]`)
	f.Fuzz(func(t *testing.T, body string) {
		reps, err := DecodeSignalsJSON(strings.NewReader(body), testNow)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrMalformedJSON) {
				t.Fatalf("err = %v, want ErrInvalid or ErrMalformedJSON", err)
			}
			return
		}
		for _, r := range reps {
			if _, ok := parseGUID(r.DeviceID); !ok {
				t.Fatalf("accepted device ID %q", r.DeviceID)
			}
			for _, f := range r.Fields {
				if signalColumns[f] == nil {
					t.Fatalf("accepted field %q", f)
				}
			}
		}
	})
}
