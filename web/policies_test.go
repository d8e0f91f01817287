package web_test

import (
	"net/http"
	"strings"
	"testing"

	"patchboard/store"
	"patchboard/store/graph"
	"patchboard/store/graph/graphtest"
)

// A change made in Intune to a ring's update ring policy is found at the
// next write-back and shown on Release management to every role.
func TestPolicyDriftOnReleasePage(t *testing.T) {
	e := newEnv(t, envOptions{})
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
	reader := e.as(t, store.RoleServiceReader)
	if reader.get(t, "/releases").wantStatus(http.StatusOK).testid("policy-drift").Length() != 0 {
		t.Error("drift shown before any change in Intune")
	}
	if !srv.EditPolicy("Patchboard Ring - Broad", func(p map[string]any) { p["qualityUpdatesDeferralPeriodInDays"] = 30.0 }) {
		t.Fatal("no Broad policy written")
	}
	if _, err := e.st.WriteBackRings(e.ctx, store.TriggerCLI, "test"); err != nil {
		t.Fatal(err)
	}
	page := reader.get(t, "/releases").wantStatus(http.StatusOK)
	rows := page.doc().Find(`[data-testid="policy-drift-row"][data-ring="broad"]`)
	if rows.Length() != 1 || !strings.Contains(rows.Text(), "qualityUpdatesDeferralPeriodInDays") || !strings.Contains(rows.Text(), "30") {
		t.Errorf("drift rows = %q", rows.Text())
	}
}
