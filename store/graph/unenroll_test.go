package graph_test

import (
	"context"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/graph/graphtest"
)

// TestUnenrollEmptiesTheTenant: in Entra mode an unenrollment, when due,
// empties the ring groups and deletes Patchboard's update policies and
// profiles (leaving others' alone); a failure is retried at the next check,
// and later write-backs write no policy again.
func TestUnenrollEmptiesTheTenant(t *testing.T) {
	tn := newTenant(t)
	tn.st.SetUpdatePolicyWriter(tn.conn)
	ctx := context.Background()
	now := time.Now().UTC()
	const n = 30
	var members []string
	for i := 1; i <= n; i++ {
		tn.addPC(i)
		members = append(members, objectID(i))
	}
	tn.setMembers(tn.reg, "Reg", members...)
	if _, err := tn.st.SetFeatureTarget(ctx, 26100, now.AddDate(0, 0, 7), "admin", now); err != nil {
		t.Fatal(err)
	}
	tn.discover() // sync, discovery, write-back of rings and policies
	if got := tn.ringGroups(); len(got[store.RingBroad]) == 0 {
		t.Fatalf("fixture: ring groups %v", got)
	}
	if len(tn.srv.Policies("deviceConfigurations")) != 4 || len(tn.srv.Policies("windowsFeatureUpdateProfiles")) != 1 {
		t.Fatal("fixture: policies not written")
	}
	if err := tn.st.SetOrganisationName(ctx, "Contoso", "admin", now); err != nil {
		t.Fatal(err)
	}
	u, err := tn.st.RequestUnenrollment(ctx, "Contoso", "admin", now)
	if err != nil {
		t.Fatal(err)
	}

	// The first attempt at the policies is refused (a permission
	// withdrawn): the devices are deregistered all the same, and the error
	// is kept for the next check.
	tn.srv.Inject(graphtest.Fault{Path: "/v1.0/deviceManagement/deviceConfigurations", Status: 403, Count: 1})
	if did, err := tn.st.CompleteDueUnenrollment(ctx, u.DueAt); !did || err == nil {
		t.Fatalf("with the policies refused: did %v, err %v", did, err)
	}
	got, _ := tn.st.Unenrollment(ctx)
	if !got.Completed() || got.Devices != n || got.RemoteError == "" || !got.RemoteDoneAt.IsZero() {
		t.Fatalf("after the refused attempt %+v", got)
	}
	for r, ids := range tn.ringGroups() {
		if len(ids) != 0 {
			t.Errorf("ring group %s still has %d members", r.Label(), len(ids))
		}
	}

	// The next check finishes the work; the one after does nothing.
	if did, err := tn.st.CompleteDueUnenrollment(ctx, u.DueAt.Add(time.Hour)); !did || err != nil {
		t.Fatalf("retry: did %v, %v", did, err)
	}
	if p := tn.srv.Policies("deviceConfigurations"); len(p) != 0 {
		t.Errorf("update ring policies left: %v", p)
	}
	if p := tn.srv.Policies("windowsFeatureUpdateProfiles"); len(p) != 0 {
		t.Errorf("feature update profiles left: %v", p)
	}
	got, _ = tn.st.Unenrollment(ctx)
	if got.RemoteDoneAt.IsZero() || got.RemoteError != "" {
		t.Fatalf("after the retry %+v", got)
	}
	if did, err := tn.st.CompleteDueUnenrollment(ctx, u.DueAt.Add(2*time.Hour)); did || err != nil {
		t.Fatalf("third check: did %v, %v", did, err)
	}

	// A later discovery and write-back writes no policy again.
	tn.discover()
	if p := tn.srv.Policies("deviceConfigurations"); len(p) != 0 {
		t.Errorf("write-back after unenrollment wrote policies: %v", p)
	}
	for r, ids := range tn.ringGroups() {
		if len(ids) != 0 {
			t.Errorf("ring group %s has %d members after unenrollment", r.Label(), len(ids))
		}
	}
}
