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
