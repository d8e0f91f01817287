package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func readinessOf(t *testing.T, a Assessment) map[string]ReadinessResult {
	t.Helper()
	out := map[string]ReadinessResult{}
	for _, c := range a.Checks {
		out[c.Key] = c.Result
		if c.Result != ReadinessReady && c.Remediation == "" {
			t.Errorf("%s is %s without a remediation", c.Key, c.Result)
		}
	}
	return out
}

func TestReadinessChecks(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	a, err := st.RunReadiness(ctx, SignInSetup{}, TriggerButton, "admin@example.com", testNow)
	if err != nil {
		t.Fatal(err)
	}
	got := readinessOf(t, a)
	want := map[string]ReadinessResult{"registration-group": ReadinessNotReady, "registration-group-assigned": ReadinessReady,
		"service-admin": ReadinessNotReady, "contacts": ReadinessNotReady, "sign-in": ReadinessAdvisory, "backup": ReadinessAdvisory}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %s, want %s", k, got[k], w)
		}
	}
	if len(got) != len(want) || a.Overall != ReadinessNotReady {
		t.Errorf("checks %v, overall %s", got, a.Overall)
	}

	// Put everything in place.
	d := healthy(1)
	mustUpsert(t, st, d)
	mustAddMembers(t, st, RegistrationGroupName, d)
	if _, err := st.AddUser(ctx, "sa@example.com", RoleServiceAdmin, "another long password", "tester"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddUser(ctx, "ga@example.com", RoleGlobalAdmin, "a long break-glass password", "tester"); err != nil {
		t.Fatal(err)
	}
	for _, area := range Areas {
		mustSaveContact(t, st, Contact{Name: "Ada", Email: "ada@example.com", Area: area}, testNow)
	}
	if err := st.Backup(ctx, filepath.Join(t.TempDir(), "b.db")); err != nil {
		t.Fatal(err)
	}
	a, err = st.RunReadiness(ctx, SignInSetup{SSO: true, BreakGlass: true}, TriggerButton, "admin@example.com", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for k, r := range readinessOf(t, a) {
		if r != ReadinessReady {
			t.Errorf("%s = %s after the fixes", k, r)
		}
	}
	if a.Overall != ReadinessReady {
		t.Errorf("overall %s", a.Overall)
	}
	// A backup more than a day old is Not ready.
	a, err = st.RunReadiness(ctx, SignInSetup{SSO: true, BreakGlass: true}, TriggerButton, "admin@example.com", time.Now().Add(25*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if readinessOf(t, a)["backup"] != ReadinessNotReady {
		t.Error("a backup 25 hours old passed")
	}
	entries, err := st.AuditEntries(ctx, AuditFilter{Action: ActionReadinessRun})
	if err != nil || len(entries) != 3 {
		t.Errorf("audit %d entries (%v), want 3", len(entries), err)
	}
}

// The daily run runs when none ran for 24 hours; assessments are kept 12
// months and listed newest first.
func TestReadinessDailyAndKept(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	for i, tt := range []struct {
		at   time.Time
		want bool
	}{
		{testNow, true}, {testNow.Add(23 * time.Hour), false}, {testNow.Add(24 * time.Hour), true},
		{testNow.Add(400 * 24 * time.Hour), true},
	} {
		ran, err := st.RunReadinessIfDue(ctx, SignInSetup{}, tt.at)
		if err != nil || ran != tt.want {
			t.Errorf("%d: ran %v (%v), want %v", i, ran, err, tt.want)
		}
	}
	list, err := st.Assessments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !list[0].RanAt.Equal(testNow.Add(400*24*time.Hour)) {
		t.Fatalf("kept %d assessments (%+v), want only the one within 12 months", len(list), list)
	}
	a, err := st.Assessment(ctx, list[0].ID)
	if err != nil || len(a.Checks) == 0 || a.Trigger != TriggerSchedule {
		t.Errorf("assessment %+v %v", a, err)
	}
	if _, err := st.Assessment(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing assessment: %v", err)
	}
}
