package graph_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/graph"
	"patchboard/store/graph/graphtest"
)

// ringPolicy reads one ring's update ring policy from the tenant.
func (tn *tenant) ringPolicy(r store.Ring) graphtest.Policy {
	tn.t.Helper()
	p, ok := tn.srv.Policies("deviceConfigurations")["Patchboard Ring - "+r.Label()]
	if !ok {
		tn.t.Fatalf("no update ring policy for %s", r.Label())
	}
	return p
}

func (tn *tenant) wantPolicies(now time.Time) []store.RingPolicy {
	tn.t.Helper()
	want, err := tn.st.UpdatePolicies(context.Background(), now)
	if err != nil {
		tn.t.Fatal(err)
	}
	return want
}

func num(p graphtest.Policy, k string) float64 { v, _ := p.Props[k].(float64); return v }
func flag(p graphtest.Policy, k string) bool   { v, _ := p.Props[k].(bool); return v }

// One update ring policy per ring carries the ring's schedule, is assigned
// to the ring's group, and a second write changes nothing.
func TestRingPoliciesWritten(t *testing.T) {
	tn := newTenant(t)
	ctx := context.Background()
	now := time.Now().UTC()
	if err := tn.st.SetSchedule(ctx, store.Schedule{Ring: store.RingFast, QualityDeferral: 4, QualityDeadline: 3, QualityGrace: 1, FeatureDeferral: 30, GatePercent: 90}, "admin", now); err != nil {
		t.Fatal(err)
	}
	if err := tn.conn.WriteRingPolicies(ctx, tn.wantPolicies(now)); err != nil {
		t.Fatal(err)
	}
	if n := len(tn.srv.Policies("deviceConfigurations")); n != 4 {
		t.Fatalf("%d update ring policies, want 4", n)
	}
	broad := tn.ringPolicy(store.RingBroad)
	if broad.Props["@odata.type"] != "#microsoft.graph.windowsUpdateForBusinessConfiguration" ||
		num(broad, "qualityUpdatesDeferralPeriodInDays") != 9 || num(broad, "deadlineForQualityUpdatesInDays") != 5 ||
		num(broad, "deadlineGracePeriodInDays") != 2 || flag(broad, "qualityUpdatesPaused") {
		t.Errorf("Broad policy %v", broad.Props)
	}
	fast := tn.ringPolicy(store.RingFast)
	if num(fast, "qualityUpdatesDeferralPeriodInDays") != 4 || num(fast, "deadlineForQualityUpdatesInDays") != 3 ||
		num(fast, "deadlineGracePeriodInDays") != 1 || num(fast, "featureUpdatesDeferralPeriodInDays") != 30 {
		t.Errorf("Fast policy %v", fast.Props)
	}
	for _, r := range store.Rings {
		g, ok := tn.srv.GroupByName("Patchboard Ring - " + r.Label())
		if p := tn.ringPolicy(r); !ok || len(p.Groups) != 1 || p.Groups[0] != g.ID {
			t.Errorf("%s policy assigned to %v, want its ring group", r.Label(), p.Groups)
		}
	}
	creates, updates := tn.srv.Requests("policy-create"), tn.srv.Requests("policy-update")
	if err := tn.conn.WriteRingPolicies(ctx, tn.wantPolicies(now)); err != nil {
		t.Fatal(err)
	}
	if tn.srv.Requests("policy-create") != creates || tn.srv.Requests("policy-update") != updates {
		t.Error("an unchanged schedule was written again")
	}
	if len(tn.srv.Policies("deviceConfigurations")) != 4 {
		t.Error("a second write made more policies")
	}
}

// Pausing a ring sets its policy's pause (Intune counts the 35 days);
// resuming clears it; the other rings and the other kind stay as they are.
func TestRingPolicyPauseAndResume(t *testing.T) {
	tn := newTenant(t)
	ctx := context.Background()
	now := time.Now().UTC()
	if _, err := tn.st.PauseRings(ctx, []store.Ring{store.RingBroad}, store.KindQuality, "Test shows trouble", "admin", now); err != nil {
		t.Fatal(err)
	}
	if err := tn.conn.WriteRingPolicies(ctx, tn.wantPolicies(now)); err != nil {
		t.Fatal(err)
	}
	broad := tn.ringPolicy(store.RingBroad)
	if !flag(broad, "qualityUpdatesPaused") || flag(broad, "featureUpdatesPaused") {
		t.Errorf("paused Broad policy %v", broad.Props)
	}
	if exp, _ := time.Parse(time.RFC3339, broad.Props["qualityUpdatesPauseExpiryDateTime"].(string)); exp.Sub(now) < 34*24*time.Hour {
		t.Errorf("pause expires %v", exp)
	}
	if flag(tn.ringPolicy(store.RingFast), "qualityUpdatesPaused") {
		t.Error("Fast paused too")
	}
	if _, err := tn.st.ResumeRings(ctx, []store.Ring{store.RingBroad}, store.KindQuality, "admin", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := tn.conn.WriteRingPolicies(ctx, tn.wantPolicies(now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if flag(tn.ringPolicy(store.RingBroad), "qualityUpdatesPaused") {
		t.Error("Broad still paused after resume")
	}
}

// Changes made in Intune are found setting by setting, a deleted policy is
// found as missing, and the next write puts everything back.
func TestRingPolicyDriftDetected(t *testing.T) {
	tn := newTenant(t)
	ctx := context.Background()
	now := time.Now().UTC()
	want := tn.wantPolicies(now)
	if err := tn.conn.WriteRingPolicies(ctx, want); err != nil {
		t.Fatal(err)
	}
	if d, err := tn.conn.RingPolicyDrift(ctx, want); err != nil || len(d) != 0 {
		t.Fatalf("drift right after writing: %v %v", d, err)
	}
	tn.srv.EditPolicy("Patchboard Ring - Broad", func(p map[string]any) {
		p["qualityUpdatesDeferralPeriodInDays"] = 20.0
		p["qualityUpdatesPaused"] = true
	})
	tn.srv.DeletePolicy("Patchboard Ring - Test")
	drift, err := tn.conn.RingPolicyDrift(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.PolicyDrift{}
	for _, d := range drift {
		got[string(d.Ring)+"/"+d.Setting] = d
	}
	if len(drift) != 3 {
		t.Errorf("drift %+v, want 3 entries", drift)
	}
	if d := got[string(store.RingBroad)+"/qualityUpdatesDeferralPeriodInDays"]; d.Want != "9" || d.Found != "20" {
		t.Errorf("deferral drift %+v", d)
	}
	if d := got[string(store.RingBroad)+"/qualityUpdatesPaused"]; d.Want != "false" || d.Found != "true" {
		t.Errorf("pause drift %+v", d)
	}
	if d := got[string(store.RingTest)+"/policy"]; d.Found != "missing" {
		t.Errorf("deleted policy drift %+v", d)
	}
	if err := tn.conn.WriteRingPolicies(ctx, want); err != nil {
		t.Fatal(err)
	}
	if d, err := tn.conn.RingPolicyDrift(ctx, want); err != nil || len(d) != 0 {
		t.Errorf("drift after writing again: %v %v", d, err)
	}
}

// Expediting a release creates the quality update profile with expedited
// settings for the release's date, assigned to every ring group.
func TestExpediteCreatesQualityProfile(t *testing.T) {
	tn := newTenant(t)
	ctx := context.Background()
	rel := store.Release{Name: "2026-12 OOB", Date: time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC)}
	for range 2 { // the second is idempotent
		if err := tn.conn.ExpediteQualityUpdate(ctx, rel); err != nil {
			t.Fatal(err)
		}
	}
	ps := tn.srv.Policies("windowsQualityUpdateProfiles")
	p, ok := ps["Patchboard Expedite - 2026-12 OOB"]
	if len(ps) != 1 || !ok {
		t.Fatalf("quality update profiles %v", ps)
	}
	ex, _ := p.Props["expeditedUpdateSettings"].(map[string]any)
	if ex["qualityUpdateRelease"] != "2026-12-09T00:00:00Z" || ex["daysUntilForcedReboot"] != 1.0 {
		t.Errorf("expedited settings %v", ex)
	}
	if len(p.Groups) != 4 {
		t.Errorf("assigned to %v, want the four ring groups", p.Groups)
	}
}

// The feature target is the feature update profile offering the build
// line's version from its start; a build line Intune does not offer is
// refused with a message naming the ones it does.
func TestFeatureTargetProfile(t *testing.T) {
	tn := newTenant(t)
	ctx := context.Background()
	start := time.Date(2027, 1, 12, 0, 0, 0, 0, time.UTC)
	if err := tn.conn.WriteFeatureTarget(ctx, store.FeatureTarget{Build: 22631, Start: start}); err != nil {
		t.Fatal(err)
	}
	if err := tn.conn.WriteFeatureTarget(ctx, store.FeatureTarget{Build: 26100, Start: start}); err != nil {
		t.Fatal(err)
	}
	ps := tn.srv.Policies("windowsFeatureUpdateProfiles")
	p := ps["Patchboard Feature Update"]
	if len(ps) != 1 || p.Props["featureUpdateVersion"] != "Windows 11, version 24H2" || len(p.Groups) != 4 {
		t.Fatalf("feature update profiles %v", ps)
	}
	if ro, _ := p.Props["rolloutSettings"].(map[string]any); ro["offerStartDateTimeInUTC"] != "2027-01-12T00:00:00Z" {
		t.Errorf("rollout %v", ro)
	}
	if err := tn.conn.WriteFeatureTarget(ctx, store.FeatureTarget{Build: 12345, Start: start}); err == nil {
		t.Error("an unknown build line was written")
	}
}

// Without the Intune permission the error names it.
func TestPolicyWriteNamesPermission(t *testing.T) {
	tn := newTenant(t)
	tn.srv.Inject(graphtest.Fault{Path: "/v1.0/deviceManagement/deviceConfigurations", Status: 403, Count: 1})
	err := tn.conn.WriteRingPolicies(context.Background(), tn.wantPolicies(time.Now()))
	var pe *graph.PermissionError
	if !errors.As(err, &pe) || pe.Permission != "DeviceManagementConfiguration.ReadWrite.All" {
		t.Fatalf("error %v, want one naming DeviceManagementConfiguration.ReadWrite.All", err)
	}
}

// At every write-back the ring policies are compared with what Patchboard
// last wrote: a change made in Intune is recorded (and audited) as drift
// and undone; a change made in Patchboard meanwhile is not drift.
func TestWriteBackDetectsPolicyDrift(t *testing.T) {
	tn := newTenant(t)
	tn.st.SetUpdatePolicyWriter(tn.conn)
	ctx := context.Background()
	writeBack := func() {
		t.Helper()
		if _, err := tn.st.WriteBackRings(ctx, store.TriggerSchedule, "scheduler"); err != nil {
			t.Fatal(err)
		}
	}
	drifts := func() []store.PolicyDrift {
		t.Helper()
		d, err := tn.st.PolicyDrifts(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	writeBack()
	if num(tn.ringPolicy(store.RingBroad), "qualityUpdatesDeferralPeriodInDays") != 9 {
		t.Fatal("write-back did not write the update ring policies")
	}
	// Patchboard pauses Broad: written at the next write-back, not drift.
	if _, err := tn.st.PauseRings(ctx, []store.Ring{store.RingBroad}, store.KindQuality, "trouble in Test", "admin", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	writeBack()
	if d := drifts(); len(d) != 0 {
		t.Errorf("a pause made in Patchboard reported as drift: %+v", d)
	}
	if !flag(tn.ringPolicy(store.RingBroad), "qualityUpdatesPaused") {
		t.Error("the pause was not written")
	}
	// Someone shortens First's deadline in Intune.
	tn.srv.EditPolicy("Patchboard Ring - First", func(p map[string]any) { p["deadlineForQualityUpdatesInDays"] = 0.0 })
	writeBack()
	d := drifts()
	if len(d) != 1 || d[0].Ring != store.RingFirst || d[0].Setting != "deadlineForQualityUpdatesInDays" || d[0].Want != "2" || d[0].Found != "0" {
		t.Fatalf("drift %+v", d)
	}
	if num(tn.ringPolicy(store.RingFirst), "deadlineForQualityUpdatesInDays") != 2 {
		t.Error("the drift was not undone")
	}
	entries, err := tn.st.AuditEntries(ctx, store.AuditFilter{Action: store.ActionUpdatePolicyDrift})
	if err != nil || len(entries) != 1 || entries[0].Target != "First" {
		t.Errorf("audit %+v %v", entries, err)
	}
	writeBack()
	if len(drifts()) != 1 {
		t.Error("drift reported again after it was undone")
	}
}

// An expedited release and the newest feature target reach Intune at the
// next write-back, as their profiles, once each.
func TestWriteBackWritesProfiles(t *testing.T) {
	tn := newTenant(t)
	tn.st.SetUpdatePolicyWriter(tn.conn)
	ctx := context.Background()
	now := time.Now().UTC()
	rel, err := tn.st.AddRelease(ctx, store.NewRelease{Name: "2026-12 OOB", Date: now.Truncate(24 * time.Hour),
		Classification: store.ClassOutOfBand, Builds: []store.BuildRevision{{Build: 26100, Revision: 7500}}}, "admin", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.st.ExpediteRelease(ctx, rel.Name, "admin", now); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.st.SetFeatureTarget(ctx, 26100, now.AddDate(0, 0, 7), "admin", now); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := tn.st.WriteBackRings(ctx, store.TriggerSchedule, "scheduler"); err != nil {
			t.Fatal(err)
		}
	}
	if q := tn.srv.Policies("windowsQualityUpdateProfiles"); len(q) != 1 || len(q["Patchboard Expedite - 2026-12 OOB"].Groups) != 4 {
		t.Errorf("quality update profiles %v", q)
	}
	if f := tn.srv.Policies("windowsFeatureUpdateProfiles"); len(f) != 1 || f["Patchboard Feature Update"].Props["featureUpdateVersion"] != "Windows 11, version 24H2" {
		t.Errorf("feature update profiles %v", f)
	}
	if n := tn.srv.Requests("policy-create"); n != 4+2 {
		t.Errorf("%d policies created, want the 4 ring policies and 2 profiles, once", n)
	}
}
