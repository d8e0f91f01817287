package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"patchboard/store"
	"patchboard/store/graph"
	"patchboard/store/graph/graphtest"
)

// A Service Administrator changes the jump threshold on the alerts page
// (validated, audited); a Service Reader sees it and cannot change it.
func TestAlertSettingsForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := e.as(t, store.RoleServiceAdmin)

	res := admin.post(t, "/tenant/alerts/settings", url.Values{"jump_percent": {"0"}}).wantStatus(http.StatusUnprocessableEntity)
	if msg := res.text("alert-settings-error"); !strings.Contains(msg, "from 1 to 100") || strings.Contains(msg, "save alert settings") {
		t.Errorf("message %q", msg)
	}
	if v, _ := res.testid("alert-jump-percent").Attr("value"); v != "0" {
		t.Errorf("the form lost the input: %q", v)
	}
	admin.post(t, "/tenant/alerts/settings", url.Values{"jump_percent": {"ten"}}).wantStatus(http.StatusUnprocessableEntity)

	res = admin.post(t, "/tenant/alerts/settings", url.Values{"jump_percent": {"12"}}).wantStatus(http.StatusOK)
	if v, _ := res.testid("alert-jump-percent").Attr("value"); v != "12" || res.testid("alerts-message").Length() != 1 {
		t.Errorf("saved value %q, message %q", v, res.text("alerts-message"))
	}
	e.wantAudit(t, store.ActionAlertSettings, emailOf(store.RoleServiceAdmin), store.OutcomeSuccess, "Jump threshold")

	reader := e.as(t, store.RoleServiceReader)
	page := reader.get(t, "/tenant/alerts").wantStatus(http.StatusOK)
	if page.testid("alert-settings-form").Length() != 0 || !strings.Contains(page.text("alert-jump-setting"), "12 %") {
		t.Errorf("reader sees the form or not the setting: %q", page.text("alert-jump-setting"))
	}
	reader.post(t, "/tenant/alerts/settings", url.Values{"jump_percent": {"50"}}).wantStatus(http.StatusForbidden)
}

// A ring policy changed in Intune shows an alert with Restore for a
// Service Administrator (not for a reader); Restore writes Patchboard's
// settings back and the alert resolves.
func TestAlertRestoreRingSettings(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.as(t, store.RoleServiceAdmin)
	// Without the write-back there is nothing to restore: a plain refusal.
	res := admin.post(t, "/tenant/alerts/restore", nil).wantStatus(http.StatusUnprocessableEntity)
	if !strings.Contains(string(res.body), "write-back is off") {
		t.Errorf("refusal %s", truncate(res.body))
	}

	srv := graphtest.New()
	t.Cleanup(srv.Close)
	reg := srv.NewID()
	srv.PutGroup(graphtest.Group{ID: reg, DisplayName: "Autopatch devices"})
	conn, err := graph.New(graph.Config{TenantID: graphtest.TenantID, ClientID: graphtest.ClientID, ClientSecret: graphtest.ClientSecret,
		RegistrationGroup: reg, GraphURL: srv.URL, LoginURL: srv.URL}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	e.st.SetDirectory(conn, conn)
	e.st.SetUpdatePolicyWriter(conn)
	if _, err := e.st.WriteBackRings(e.ctx, store.TriggerCLI, "test"); err != nil {
		t.Fatal(err)
	}
	srv.EditPolicy("Patchboard Ring - Broad", func(p map[string]any) { p["qualityUpdatesDeferralPeriodInDays"] = 30.0 })
	if _, err := e.st.WriteBackRings(e.ctx, store.TriggerCLI, "test"); err != nil {
		t.Fatal(err)
	}
	sel := `[data-testid="alert-row"][data-alert-type="ring-settings-drift"][data-alert-subject="broad"]`
	reader := e.as(t, store.RoleServiceReader)
	page := reader.get(t, "/tenant/alerts").wantStatus(http.StatusOK)
	if page.doc().Find(sel).Length() != 1 || page.testid("alert-restore").Length() != 0 {
		t.Fatalf("reader: drift alert %d, restore buttons %d", page.doc().Find(sel).Length(), page.testid("alert-restore").Length())
	}
	page = admin.get(t, "/tenant/alerts").wantStatus(http.StatusOK)
	if page.doc().Find(sel+` [data-testid="alert-restore"]`).Length() != 1 {
		t.Fatal("no Restore on the drift alert for a Service Administrator")
	}
	res = admin.post(t, "/tenant/alerts/restore", nil).wantStatus(http.StatusSeeOther)
	page = admin.get(t, res.header.Get("Location")).wantStatus(http.StatusOK)
	if page.testid("alerts-message").Length() != 1 || page.doc().Find(`[data-testid="alerts-open"] `+sel).Length() != 0 {
		t.Errorf("after Restore: message %q, drift alert still open", page.text("alerts-message"))
	}
	e.wantAudit(t, store.ActionAlertRestore, emailOf(store.RoleServiceAdmin), store.OutcomeSuccess, "Ring groups and policies")
	reader.post(t, "/tenant/alerts/restore", nil).wantStatus(http.StatusForbidden)
}

// Update alerts a device reports show in its detail (with the
// recommendation and who acts) and in the Alerts column of the update
// report; the OpenAPI document lists the catalogue.
func TestDeviceUpdateAlertsShown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	dev := e.devicesWith(t, store.StatusActive, 1)[0]
	tok := e.apiToken(t, "intune script", store.RoleReporter)
	res := e.api(t, tok, http.MethodPost, "/api/v1/signals", `[{"device_id": "`+dev.DeviceID+`", "update_alerts": ["DiskFull", "Nope"]}]`).
		wantStatus(http.StatusUnprocessableEntity)
	if !strings.Contains(string(res.body), `Nope`) || !strings.Contains(string(res.body), "not a Windows Update alert code") {
		t.Errorf("refusal %s", truncate(res.body))
	}
	e.api(t, tok, http.MethodPost, "/api/v1/signals", `[{"device_id": "`+dev.DeviceID+`", "update_alerts": ["DiskFull", "SafeguardHold"]}]`).
		wantStatus(http.StatusOK)

	reader := e.as(t, store.RoleServiceReader)
	page := reader.get(t, "/devices/"+dev.DeviceID).wantStatus(http.StatusOK)
	rows := page.testid("update-alert-row")
	if rows.Length() != 2 || !strings.Contains(page.doc().Find(`[data-code="DiskFull"]`).Text(), "Free disk space") ||
		!strings.Contains(page.doc().Find(`[data-code="SafeguardHold"]`).Text(), "Service") {
		t.Errorf("detail update alerts: %q", rows.Text())
	}

	page = reader.get(t, "/reports/devices?q="+url.QueryEscape(dev.SerialNumber)).wantStatus(http.StatusOK)
	cell := page.doc().Find(`[data-testid="report-row"][data-device="` + dev.DeviceID + `"] [data-testid="report-alerts-cell"]`)
	if cell.Length() != 1 || !strings.Contains(cell.Text(), "DiskFull") || !strings.Contains(cell.Text(), "SafeguardHold") {
		t.Errorf("report alerts cell %q (%d)", cell.Text(), cell.Length())
	}

	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Enum []string `json:"enum"`
			} `json:"schemas"`
		} `json:"components"`
	}
	e.api(t, e.apiToken(t, "reader", store.RoleServiceReader), http.MethodGet, "/api/v1/openapi.json", nil).wantStatus(http.StatusOK).decode(&doc)
	var want []string
	for _, a := range store.UpdateAlertCodes {
		want = append(want, a.Code)
	}
	if got := doc.Components.Schemas["UpdateAlertCode"].Enum; !slices.Equal(got, want) {
		t.Errorf("OpenAPI UpdateAlertCode enum %v, want the catalogue %v", got, want)
	}
}

// A Service Administrator runs the readiness assessment from its page;
// every check shows its result and, unless Ready, the remediation; a
// reader sees the assessments and their history but cannot run one.
func TestReadinessPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	reader := e.as(t, store.RoleServiceReader)
	page := reader.get(t, "/tenant/readiness").wantStatus(http.StatusOK)
	if page.testid("readiness-none").Length() != 1 || page.testid("readiness-run").Length() != 0 {
		t.Fatal("reader: want no assessment yet and no Run button")
	}
	reader.post(t, "/tenant/readiness/run", nil).wantStatus(http.StatusForbidden)

	admin := e.as(t, store.RoleServiceAdmin)
	res := admin.post(t, "/tenant/readiness/run", nil).wantStatus(http.StatusSeeOther)
	page = admin.get(t, res.header.Get("Location")).wantStatus(http.StatusOK)
	checks := page.testid("readiness-check")
	if checks.Length() < 6 {
		t.Fatalf("%d checks shown", checks.Length())
	}
	contacts := page.doc().Find(`[data-testid="readiness-check"][data-check="contacts"]`)
	if contacts.AttrOr("data-result", "") != "not-ready" || !strings.Contains(contacts.Find(`[data-testid="readiness-remediation"]`).Text(), "Admin contacts") {
		t.Errorf("contacts check %q", contacts.Text())
	}
	if page.text("readiness-overall") != "Not ready" {
		t.Errorf("overall %q", page.text("readiness-overall"))
	}
	e.wantAudit(t, store.ActionReadinessRun, emailOf(store.RoleServiceAdmin), store.OutcomeSuccess, "button")

	page = reader.get(t, "/tenant/readiness").wantStatus(http.StatusOK)
	if page.testid("readiness-history-row").Length() != 1 || page.testid("readiness-check").Length() != checks.Length() {
		t.Errorf("reader: history %d, checks %d", page.testid("readiness-history-row").Length(), page.testid("readiness-check").Length())
	}
	reader.get(t, "/tenant/readiness?id=999").wantStatus(http.StatusNotFound)
	reader.get(t, "/tenant/readiness?id=x").wantStatus(http.StatusNotFound)
}
