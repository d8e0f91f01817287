package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"patchboard/store"
)

// TestAPISignals reports readiness signals with a reporter token, as a
// script run on devices does: partial reports, out-of-order reports,
// rejected batches, and the readiness check that follows.
func TestAPISignals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	devs := e.devicesWith(t, store.StatusActive, 2)
	a, b := devs[0], devs[1]
	tok := e.apiToken(t, "intune script", store.RoleReporter)
	post := func(body string) *response { return e.api(t, tok, http.MethodPost, "/api/v1/signals", body) }
	var res map[string]int

	post(`[{"device_id": "` + strings.ToUpper(a.DeviceID) + `", "wu_policy_source": "GPO", "internet_connected": false,
		"unreachable_endpoints": ["teams"], "update_alerts": ["DiskFull"], "reported_at": "2026-11-01T10:00:00Z"}]`).
		wantStatus(http.StatusOK).decode(&res)
	if res["reports"] != 1 || res["updated"] != 1 {
		t.Fatalf("first report: %v", res)
	}
	d := e.device(t, a.DeviceID)
	if d.WUPolicySource != "gpo" || d.InternetConnected != store.SignalFalse || !slices.Equal(d.UnreachableEndpoints, []string{"teams"}) ||
		!slices.Equal(d.UpdateAlerts, []string{"DiskFull"}) {
		t.Fatalf("after the first report: %+v", d.Device)
	}
	officeBefore, nameBefore := d.OfficePolicySource, d.DisplayName
	e.wantAudit(t, store.ActionReportSignals, "token:intune script", store.OutcomeSuccess, "POST /api/v1/signals")

	// Partial: a field left out keeps its value; null means not reported.
	post(`[{"device_id": "` + a.DeviceID + `", "update_alerts": [], "internet_connected": null, "reported_at": "2026-11-01T11:00:00+01:00"}]`).
		wantStatus(http.StatusOK).decode(&res)
	d = e.device(t, a.DeviceID)
	if d.WUPolicySource != "gpo" || d.InternetConnected != store.SignalUnknown || d.UpdateAlerts != nil ||
		d.OfficePolicySource != officeBefore || d.DisplayName != nameBefore {
		t.Fatalf("after a partial report: %+v", d.Device)
	}
	// The same report again changes nothing; an older one is ignored.
	post(`[{"device_id": "` + a.DeviceID + `", "update_alerts": []}]`).wantStatus(http.StatusOK).decode(&res)
	if res["unchanged"] != 1 {
		t.Errorf("repeated report: %v, want 1 unchanged", res)
	}
	post(`[{"device_id": "` + a.DeviceID + `", "wu_policy_source": "intune", "reported_at": "2026-10-01T00:00:00Z"},
		{"device_id": "` + b.DeviceID + `", "office_policy_source": "gpo"}]`).wantStatus(http.StatusOK).decode(&res)
	if res["stale"] != 1 || res["updated"] != 1 || e.device(t, a.DeviceID).WUPolicySource != "gpo" {
		t.Errorf("stale report: %v, wu_policy_source %q; want it ignored", res, e.device(t, a.DeviceID).WUPolicySource)
	}

	// A batch with any bad report writes nothing, and says why per item.
	before := e.device(t, b.DeviceID)
	bad := post(`[{"device_id": "`+b.DeviceID+`", "wu_policy_source": "none"},
		{"device_id": "00000000-0000-4000-8000-00000000dead", "internet_connected": true},
		{"device_id": "`+a.DeviceID+`", "internet_connected": "maybe", "serial_number": "X", "reported_at": "`+
		time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)+`"},
		{"wu_policy_source": "gpo"}]`).wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
	if got, want := bad.pointers(), []string{"/2/internet_connected", "/2/serial_number", "/2/reported_at", "/3/device_id"}; !slices.Equal(got, want) {
		t.Errorf("pointers %v, want %v", got, want)
	}
	if r := bad.reason(t, "/2/serial_number"); !strings.Contains(r, "is not a signal") {
		t.Errorf("serial_number: %q", r)
	}
	if r := bad.reason(t, "/2/reported_at"); !strings.Contains(r, "is in the future") {
		t.Errorf("reported_at: %q", r)
	}
	unknown := post(`[{"device_id": "`+b.DeviceID+`", "wu_policy_source": "none"},
		{"device_id": "00000000-0000-4000-8000-00000000dead", "internet_connected": true}]`).wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
	if r := unknown.reason(t, "/1/device_id"); !strings.Contains(r, "is not a device of the directory") {
		t.Errorf("unknown device: %q", r)
	}
	if after := e.device(t, b.DeviceID); after.WUPolicySource != before.WUPolicySource {
		t.Errorf("a rejected batch changed wu_policy_source: %q -> %q", before.WUPolicySource, after.WUPolicySource)
	}
	post(`{"device_id": "`+b.DeviceID+`"}`).wantAPIError(http.StatusBadRequest, "bad_request")

	// The reported signals are what the next discovery checks.
	if _, err := e.st.Discover(e.ctx, store.TriggerCLI, "test", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	rec := e.device(t, a.DeviceID)
	if rec.Status != store.StatusReadinessFailed || !slices.Contains(rec.Reasons, store.CheckWindowsUpdatePolicy) {
		t.Errorf("after discovery: status %s, reasons %v; want readiness failed on windows-update-policy", rec.Status, rec.Reasons)
	}
}
