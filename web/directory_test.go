package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"patchboard/store"
	"patchboard/store/graph"
	"patchboard/store/graph/graphtest"
)

// A portal whose directory is synced from a Graph stand-in: the blade shows
// the last sync (a failure as a warning naming what to fix), and the
// mirrored groups are marked, linked to the Entra admin center and
// read-only.
func TestSyncedDirectoryInThePortal(t *testing.T) {
	e := newEnv(t, envOptions{})
	srv := graphtest.New()
	t.Cleanup(srv.Close)
	reg := srv.NewID()
	const objectID, deviceID = "0b000000-0000-4000-8000-000000000001", "d0000000-0000-4000-8000-000000000001"
	srv.PutDevice(graphtest.Device{ID: objectID, DeviceID: deviceID, DisplayName: "PC-1", OperatingSystem: "Windows",
		OperatingSystemVersion: "10.0.22631.4317", TrustType: "AzureAd", AccountEnabled: true})
	srv.PutGroup(graphtest.Group{ID: reg, DisplayName: "Autopatch devices", Members: []string{objectID}})
	srv.SetOwners(reg, graphtest.Owner{ID: "aaaaaaaa-0000-4000-8000-000000000001", DisplayName: "Service admin",
		UserPrincipalName: emailOf(store.RoleServiceAdmin)})
	conn, err := graph.New(graph.Config{TenantID: graphtest.TenantID, ClientID: graphtest.ClientID, ClientSecret: graphtest.ClientSecret,
		RegistrationGroup: reg, GraphURL: srv.URL, LoginURL: srv.URL}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	e.st.SetDirectory(conn, nil)
	if _, err := e.st.SyncDirectory(e.ctx, store.TriggerCLI, "test"); err != nil {
		t.Fatal(err)
	}
	admin := e.as(t, store.RoleServiceAdmin)
	page := admin.get(t, "/devices").wantStatus(http.StatusOK)
	if s := page.testid("directory-status"); s.AttrOr("data-state", "") != "completed" {
		t.Fatalf("directory status = %q", page.text("directory-status"))
	}

	// The device's detail names its source and links it in the Entra admin
	// center.
	detail := admin.get(t, "/devices/"+deviceID).wantStatus(http.StatusOK)
	if src := detail.testid("detail-source"); src.AttrOr("data-kind", "") != store.OriginEntra ||
		detail.text("detail-source-label") != "Microsoft Entra ID" || detail.text("detail-source-synced") != "just now" {
		t.Errorf("synced device's source = %q (%s)", src.Text(), src.AttrOr("data-kind", ""))
	}
	if href := detail.testid("detail-source-link").AttrOr("href", ""); !strings.HasSuffix(href, "/objectId/"+objectID+"/deviceId/"+deviceID) {
		t.Errorf("Entra admin center device link = %q", href)
	}

	srv.Inject(graphtest.Fault{Path: "/v1.0/deviceManagement/virtualEndpoint/cloudPCs", Status: http.StatusForbidden, Count: 1})
	if _, err := e.st.SyncDirectory(e.ctx, store.TriggerCLI, "test"); err == nil {
		t.Fatal("the refused sync succeeded")
	}
	page = admin.get(t, "/devices").wantStatus(http.StatusOK)
	status := page.testid("directory-status")
	if status.AttrOr("data-state", "") != "failed" || !strings.Contains(status.Text(), "CloudPC.Read.All") ||
		!strings.Contains(status.Text(), "last good sync") {
		t.Errorf("directory status after a failed sync = %q", status.Text())
	}

	regID, err := e.st.RegistrationGroupID(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	gp := admin.get(t, fmt.Sprintf("/groups/%d", regID)).wantStatus(http.StatusOK)
	if href := gp.testid("group-source").AttrOr("href", ""); !strings.HasSuffix(href, "/groupId/"+reg) {
		t.Errorf("Entra admin center link = %q", href)
	}
	if src := gp.testid("group-owners").AttrOr("data-source", ""); src != "entra" ||
		!strings.Contains(gp.text("owner-account"), "signs in as "+emailOf(store.RoleServiceAdmin)) {
		t.Errorf("owners of the synced group (%s) = %q", src, gp.text("group-owners"))
	}
	if gp.testid("owner-add-submit").Length() != 0 {
		t.Error("a synced group offers to add owners")
	}
	if gp.testid("add-devices").Length() != 0 {
		t.Error("a synced group offers to add devices")
	}
	if !strings.Contains(gp.text("members-denied"), "Entra admin center") {
		t.Errorf("members note = %q", gp.text("members-denied"))
	}
	res := admin.post(t, fmt.Sprintf("/groups/%d/add-devices", regID), url.Values{"device_id": {deviceID}})
	if res.status != http.StatusUnprocessableEntity {
		t.Errorf("adding to a synced group: %s, want 422", res)
	}
}

// A local device's detail names the import or API call that created it.
func TestDeviceSourceOfLocalDevices(t *testing.T) {
	e := newEnv(t, envOptions{})
	const fromCSV, fromAPI = "11111111-2222-4333-8444-000000000001", "11111111-2222-4333-8444-000000000002"
	csv := "device_id,display_name\n" + fromCSV + ",CSV-1\n"
	if _, err := e.st.ImportDevices(e.ctx, strings.NewReader(csv), "fleet.csv", "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	body := `[{"device_id": "` + fromAPI + `", "display_name": "API-1"}]`
	if _, err := e.st.ImportDevicesJSON(e.ctx, strings.NewReader(body), "PUT /api/v1/devices", "token:inventory"); err != nil {
		t.Fatal(err)
	}
	// A later import changes the device but not where it came from.
	if _, err := e.st.ImportDevices(e.ctx, strings.NewReader("device_id,display_name\n"+fromAPI+",API-1-RENAMED\n"), "later.csv", "bob"); err != nil {
		t.Fatal(err)
	}
	reader := e.as(t, store.RoleServiceReader)
	for _, tt := range []struct{ id, kind, label, from string }{
		{fromCSV, store.OriginImport, "CSV import", "fleet.csv"},
		{fromAPI, store.OriginAPI, "API", "PUT /api/v1/devices"},
	} {
		d := reader.get(t, "/devices/"+tt.id).wantStatus(http.StatusOK)
		if got := d.testid("detail-source").AttrOr("data-kind", ""); got != tt.kind || d.text("detail-source-label") != tt.label ||
			d.text("detail-source-from") != tt.from {
			t.Errorf("device %s source = %s %q from %q, want %s %q from %q", tt.id, got, d.text("detail-source-label"),
				d.text("detail-source-from"), tt.kind, tt.label, tt.from)
		}
		if d.testid("detail-source-link").Length() != 0 {
			t.Errorf("device %s links to the Entra admin center, but is not in it", tt.id)
		}
	}
}
