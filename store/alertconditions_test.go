package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func mustEvaluate(t testing.TB, st *Store, now time.Time) {
	t.Helper()
	if err := st.EvaluateAlerts(context.Background(), now, false); err != nil {
		t.Fatal(err)
	}
}

func TestAlertGroupsNestedTooDeep(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	for _, name := range []string{"Finance", "Finance Laptops"} {
		if _, err := st.CreateGroup(ctx, name, "", "tester"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.NestGroup(ctx, RegistrationGroupName, "Finance", "tester"); err != nil {
		t.Fatal(err)
	}
	mustEvaluate(t, st, testNow)
	wantAlert(t, st, "groups-nested-too-deep/", false) // one level is followed

	if err := st.NestGroup(ctx, "Finance", "Finance Laptops", "tester"); err != nil {
		t.Fatal(err)
	}
	mustDiscover(t, st, testNow.Add(time.Hour))
	a := wantAlert(t, st, "groups-nested-too-deep/", true)
	if a.Objects != "Finance Laptops" || a.Severity != SeverityWarning || a.WhoActs != ActsCustomer {
		t.Errorf("alert %+v, want Finance Laptops named", a)
	}
	mustEvaluate(t, st, testNow.Add(2*time.Hour))
	if again := wantAlert(t, st, "groups-nested-too-deep/", true); again.ID != a.ID {
		t.Errorf("raised twice: %d, %d", a.ID, again.ID)
	}

	fin, err := st.Group(ctx, "Finance")
	if err != nil {
		t.Fatal(err)
	}
	laptops, err := st.Group(ctx, "Finance Laptops")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveGroupMember(ctx, fin.ID, laptops.ID, "tester"); err != nil {
		t.Fatal(err)
	}
	mustEvaluate(t, st, testNow.Add(3*time.Hour))
	wantAlert(t, st, "groups-nested-too-deep/", false)
}

func TestAlertDiscoveryOverdue(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	mustDiscover(t, st, testNow)
	// No schedule known (a CLI-only database): never raised.
	mustEvaluate(t, st, testNow.Add(30*24*time.Hour))
	wantAlert(t, st, "discovery-overdue/", false)

	if err := st.SetDiscoveryInterval(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	mustEvaluate(t, st, testNow.Add(2*time.Hour)) // two intervals: not yet
	wantAlert(t, st, "discovery-overdue/", false)
	mustEvaluate(t, st, testNow.Add(2*time.Hour+time.Minute))
	a := wantAlert(t, st, "discovery-overdue/", true)
	if a.Severity != SeverityCritical || !strings.Contains(a.WhatHappened, "every 60 minutes") {
		t.Errorf("alert %+v", a)
	}
	mustEvaluate(t, st, testNow.Add(5*time.Hour))
	if again := wantAlert(t, st, "discovery-overdue/", true); again.ID != a.ID {
		t.Errorf("raised twice: %d, %d", a.ID, again.ID)
	}
	mustDiscover(t, st, testNow.Add(6*time.Hour))
	wantAlert(t, st, "discovery-overdue/", false)
}

func TestAlertCredentialExpiring(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	if err := st.SetCredentialExpiry(ctx, "client secret", testNow.Add(60*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustEvaluate(t, st, testNow)
	wantAlert(t, st, "graph-credential-expiring/", false)

	// 30 days before: a warning.
	mustEvaluate(t, st, testNow.Add(31*24*time.Hour))
	a := wantAlert(t, st, "graph-credential-expiring/", true)
	if a.Severity != SeverityWarning || a.Title != "Microsoft Graph client secret expires soon" || !strings.Contains(a.WhatHappened, "(in 29 days)") {
		t.Errorf("alert %+v", a)
	}
	// A new secret with a later date: resolved.
	if err := st.SetCredentialExpiry(ctx, "client secret", testNow.Add(400*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustEvaluate(t, st, testNow.Add(32*24*time.Hour))
	wantAlert(t, st, "graph-credential-expiring/", false)

	// Past the date it is Critical.
	mustEvaluate(t, st, testNow.Add(401*24*time.Hour))
	if a := wantAlert(t, st, "graph-credential-expiring/", true); a.Severity != SeverityCritical || a.Title != "Microsoft Graph client secret expired" {
		t.Errorf("alert %+v", a)
	}
	// Forgotten (e.g. the server moved to a local directory): resolved.
	if err := st.SetCredentialExpiry(ctx, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	mustEvaluate(t, st, testNow.Add(402*24*time.Hour))
	wantAlert(t, st, "graph-credential-expiring/", false)
}

func TestAlertReleaseSLOAtRisk(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	date := testNow.Truncate(24 * time.Hour)
	rel, err := st.AddRelease(ctx, NewRelease{Name: "2026-11 B", Date: date, Classification: ClassSecurity,
		Builds: []BuildRevision{{Build: 26100, Revision: 7000}}}, "tester", testNow)
	if err != nil {
		t.Fatal(err)
	}
	// The live figure as RecomputeUpdates keeps it: 70 of 100 eligible.
	figure := func(on, eligible int) {
		t.Helper()
		if _, err := st.w.ExecContext(ctx, `UPDATE releases SET slo_on = ?, slo_eligible = ? WHERE id = ?`, on, eligible, rel.ID); err != nil {
			t.Fatal(err)
		}
	}
	figure(70, 100)
	mustEvaluate(t, st, date.Add(13*24*time.Hour)) // before day 14: not yet
	wantAlert(t, st, "release-slo-at-risk/2026-11 B", false)
	mustEvaluate(t, st, date.Add(14*24*time.Hour))
	a := wantAlert(t, st, "release-slo-at-risk/2026-11 B", true)
	if !strings.Contains(a.WhatHappened, "70 of 100 eligible devices (70%)") || a.Severity != SeverityWarning {
		t.Errorf("alert %+v", a)
	}
	figure(85, 100)
	mustEvaluate(t, st, date.Add(15*24*time.Hour))
	wantAlert(t, st, "release-slo-at-risk/2026-11 B", false)

	// Back at risk, then past day 21 (the SLO is measured then): resolved.
	figure(10, 100)
	mustEvaluate(t, st, date.Add(16*24*time.Hour))
	wantAlert(t, st, "release-slo-at-risk/2026-11 B", true)
	mustEvaluate(t, st, date.Add(21*24*time.Hour))
	wantAlert(t, st, "release-slo-at-risk/2026-11 B", false)
}

func TestAlertJumpThresholdSetting(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	if s, err := st.AlertSettings(ctx); err != nil || s.JumpPercent != DefaultJumpPercent {
		t.Fatalf("default settings %+v %v", s, err)
	}
	for _, bad := range []int{0, -5, 101} {
		err := st.SaveAlertSettings(ctx, AlertSettings{JumpPercent: bad}, "admin@example.com", testNow)
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Field != "jump_percent" {
			t.Errorf("jump %d: %v, want a validation error naming jump_percent", bad, err)
		}
	}
	var devs []*Device
	for i := 1; i <= 40; i++ {
		devs = append(devs, healthy(i))
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	mustDiscover(t, st, testNow)

	// At 20 % (8 of 40), four devices going stale is no jump.
	if err := st.SaveAlertSettings(ctx, AlertSettings{JumpPercent: 20}, "admin@example.com", testNow); err != nil {
		t.Fatal(err)
	}
	for _, d := range devs[:4] {
		d.LastCheckin = testNow.Add(-60 * 24 * time.Hour)
	}
	mustUpsert(t, st, devs[:4]...)
	mustDiscover(t, st, testNow.Add(time.Hour))
	wantAlert(t, st, "tab-jump/not-ready", false)
	// Four more at 5 %: a jump, named with the setting.
	if err := st.SaveAlertSettings(ctx, AlertSettings{JumpPercent: 5}, "admin@example.com", testNow); err != nil {
		t.Fatal(err)
	}
	for _, d := range devs[4:8] {
		d.LastCheckin = testNow.Add(-60 * 24 * time.Hour)
	}
	mustUpsert(t, st, devs[4:8]...)
	mustDiscover(t, st, testNow.Add(2*time.Hour))
	if a := wantAlert(t, st, "tab-jump/not-ready", true); !strings.Contains(a.WhatHappened, "+2, 5% of the registered") {
		t.Errorf("alert %+v", a)
	}
	entries, err := st.AuditEntries(ctx, AuditFilter{Action: ActionAlertSettings})
	if err != nil || len(entries) != 2 || entries[1].Detail != "from 5% to 20% of the registered devices" {
		t.Errorf("audit %+v %v", entries, err)
	}
}
