package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// openAlertTypes returns the open alerts by key "type/subject".
func openAlertTypes(t testing.TB, st *Store) map[string]Alert {
	t.Helper()
	open, _, err := st.Alerts(context.Background())
	if err != nil {
		t.Fatalf("alerts: %v", err)
	}
	out := make(map[string]Alert)
	for _, a := range open {
		k := string(a.Type) + "/" + a.Subject
		if _, dup := out[k]; dup {
			t.Fatalf("alert %s is open twice", k)
		}
		out[k] = a
	}
	return out
}

func wantAlert(t testing.TB, st *Store, key string, open bool) Alert {
	t.Helper()
	got := openAlertTypes(t, st)
	a, ok := got[key]
	if ok != open {
		t.Fatalf("alert %s open = %v, want %v (open: %v)", key, ok, open, keys(got))
	}
	return a
}

func keys(m map[string]Alert) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mustSaveContact(t testing.TB, st *Store, c Contact, now time.Time) Contact {
	t.Helper()
	c, err := st.SaveContact(context.Background(), c, "admin@example.com", now)
	if err != nil {
		t.Fatalf("save contact: %v", err)
	}
	return c
}

func TestAlertContactMissingRaisedAndResolved(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	if err := st.EvaluateAlerts(ctx, testNow, false); err != nil {
		t.Fatal(err)
	}
	a := wantAlert(t, st, "contact-missing/devices", true)
	if a.Severity != SeverityWarning || a.WhoActs != ActsCustomer || !a.RaisedAt.Equal(testNow) || a.Action == "" {
		t.Errorf("alert = %+v", a)
	}
	wantAlert(t, st, "contact-missing/updates", true)

	// Evaluating again does not raise it twice.
	if err := st.EvaluateAlerts(ctx, testNow.Add(time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if again := wantAlert(t, st, "contact-missing/devices", true); again.ID != a.ID {
		t.Errorf("re-raised: id %d, was %d", again.ID, a.ID)
	}

	c := mustSaveContact(t, st, Contact{Name: "Ada", Email: "ada@example.com", Area: AreaDevices}, testNow.Add(time.Hour))
	wantAlert(t, st, "contact-missing/devices", false)
	wantAlert(t, st, "contact-missing/updates", true)
	_, resolved, err := st.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(resolved) != 1 || resolved[0].ID != a.ID || !resolved[0].ResolvedAt.Equal(testNow.Add(time.Hour)) {
		t.Fatalf("resolved = %+v", resolved)
	}

	// Moving the only contact to another area raises it again, as a new alert.
	c.Area = AreaUpdates
	mustSaveContact(t, st, c, testNow.Add(2*time.Hour))
	wantAlert(t, st, "contact-missing/updates", false)
	if b := wantAlert(t, st, "contact-missing/devices", true); b.ID == a.ID || !b.RaisedAt.Equal(testNow.Add(2*time.Hour)) {
		t.Errorf("new alert = %+v", b)
	}
	if err := st.DeleteContact(ctx, c.ID, "admin@example.com", testNow.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantAlert(t, st, "contact-missing/updates", true)
}

func TestAlertRegistrationGroupEmptyIsCriticalUntilItHasMembers(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	mustDiscover(t, st, testNow)
	a := wantAlert(t, st, "registration-group-empty/", true)
	if a.Severity != SeverityCritical {
		t.Errorf("severity %s, want critical", a.Severity)
	}
	if n, err := st.OpenCriticalAlerts(ctx); err != nil || n != 1 {
		t.Fatalf("open critical = %d, %v; want 1", n, err)
	}
	d := healthy(1)
	mustUpsert(t, st, d)
	mustAddMembers(t, st, RegistrationGroupName, d)
	mustDiscover(t, st, testNow.Add(time.Hour))
	wantAlert(t, st, "registration-group-empty/", false)
	if n, _ := st.OpenCriticalAlerts(ctx); n != 0 {
		t.Fatalf("open critical = %d, want 0", n)
	}
}

func TestAlertTestRingBelowMinimum(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	var devs []*Device
	for i := 1; i <= 3; i++ {
		devs = append(devs, healthy(i))
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	mustDiscover(t, st, testNow)
	c, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rings.Test >= 1 {
		// The service put a device in Test: take it out to go below the minimum.
		for _, d := range devs {
			if mustDevice(t, st, d.DeviceID).Ring == RingTest {
				if _, err := st.AssignRing(ctx, RingBroad, []string{d.DeviceID}, "admin@example.com"); err != nil {
					t.Fatal(err)
				}
			}
		}
		mustDiscover(t, st, testNow.Add(time.Minute))
	}
	a := wantAlert(t, st, "test-ring-below-minimum/", true)
	if a.Objects != "Test ring" || a.WhatHappened == "" {
		t.Errorf("alert = %+v", a)
	}
	if _, err := st.AssignRing(ctx, RingTest, []string{devs[0].DeviceID}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	mustDiscover(t, st, testNow.Add(time.Hour))
	wantAlert(t, st, "test-ring-below-minimum/", false)
}

func TestAlertDiscoveryFailedResolvesWhenARunCompletes(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	d := healthy(1)
	mustUpsert(t, st, d)
	mustAddMembers(t, st, RegistrationGroupName, d)
	// A write failure in the middle of the run: the writer pool is one
	// connection, so a temporary trigger on it fails the run's device writes.
	if _, err := st.w.ExecContext(ctx, `CREATE TEMP TRIGGER fail_writes BEFORE UPDATE OF status ON devices
		BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`); err != nil {
		t.Fatal(err)
	}
	run, err := st.Discover(ctx, TriggerCLI, "tester", testNow)
	if err == nil || run.State != RunFailed {
		t.Fatalf("discover = %v, %v; want a failed run", run.State, err)
	}
	a := wantAlert(t, st, "discovery-failed/", true)
	if a.Severity != SeverityCritical || a.WhoActs != ActsService {
		t.Errorf("alert = %+v", a)
	}
	if _, err := st.w.ExecContext(ctx, `DROP TRIGGER temp.fail_writes`); err != nil {
		t.Fatal(err)
	}
	mustDiscover(t, st, testNow.Add(time.Hour))
	wantAlert(t, st, "discovery-failed/", false)
}

func TestAlertJumpInNotReady(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	var devs []*Device
	for i := 1; i <= 40; i++ {
		devs = append(devs, healthy(i))
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	mustDiscover(t, st, testNow) // 40 registered; threshold +2
	wantAlert(t, st, "tab-jump/not-ready", false)

	// One device going stale is within the threshold.
	stale := func(ds ...*Device) {
		for _, d := range ds {
			d.LastCheckin = testNow.Add(-60 * 24 * time.Hour)
		}
		mustUpsert(t, st, ds...)
	}
	stale(devs[0])
	mustDiscover(t, st, testNow.Add(time.Hour))
	if c, _ := st.Counts(ctx); c.Tab(TabNotReady) != 1 {
		t.Fatalf("not ready = %d, want 1", c.Tab(TabNotReady))
	}
	wantAlert(t, st, "tab-jump/not-ready", false)

	// Three more at one discovery: +3 ≥ 5 % of 40.
	stale(devs[1:4]...)
	mustDiscover(t, st, testNow.Add(2*time.Hour))
	a := wantAlert(t, st, "tab-jump/not-ready", true)
	if a.Baseline != 1 {
		t.Errorf("baseline %d, want 1", a.Baseline)
	}
	// It stays open while the devices stay not ready, and is not raised twice.
	mustDiscover(t, st, testNow.Add(3*time.Hour))
	if b := wantAlert(t, st, "tab-jump/not-ready", true); b.ID != a.ID {
		t.Errorf("raised twice: %d, %d", a.ID, b.ID)
	}
	// The devices check in again: the jump clears.
	for _, d := range devs[1:4] {
		d.LastCheckin = testNow
	}
	mustUpsert(t, st, devs[1:4]...)
	mustDiscover(t, st, testNow.Add(4*time.Hour))
	wantAlert(t, st, "tab-jump/not-ready", false)
}

func TestContactValidation(t *testing.T) {
	st := openTestStore(t)
	tests := []struct {
		name string
		give Contact
		want []string // fields rejected
	}{
		{"empty", Contact{}, []string{"name", "email", "area"}},
		{"bad email", Contact{Name: "A", Email: "nope", Area: AreaDevices}, []string{"email"}},
		{"bad phone", Contact{Name: "A", Email: "a@example.com", Phone: "call me", Area: AreaDevices}, []string{"phone"}},
		{"bad language", Contact{Name: "A", Email: "a@example.com", Language: "english!", Area: AreaUpdates}, []string{"language"}},
		{"bad area", Contact{Name: "A", Email: "a@example.com", Area: "printers"}, []string{"area"}},
		{"control char", Contact{Name: "A\tB", Email: "a@example.com", Area: AreaUpdates}, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.SaveContact(context.Background(), tt.give, "admin@example.com", testNow)
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			var got []string
			for _, fe := range ve.Errors {
				got = append(got, fe.Field)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("fields %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("fields %v, want %v", got, tt.want)
				}
			}
		})
	}
	cs, _ := st.Contacts(context.Background())
	if len(cs) != 0 {
		t.Fatalf("rejected contacts were saved: %v", cs)
	}

	ok := mustSaveContact(t, st, Contact{Name: " Ada ", Email: "ada@example.com", Phone: "+41 44 123 45 67", Language: "de-CH", Area: "Updates", Description: "Patch owner"}, testNow)
	if ok.Name != "Ada" || ok.Area != AreaUpdates || ok.Language != "de-CH" {
		t.Errorf("saved %+v", ok)
	}
	_, err := st.SaveContact(context.Background(), Contact{Name: "Ada 2", Email: "ADA@example.com", Area: AreaUpdates}, "admin@example.com", testNow)
	wantErrIs(t, err, ErrConflict)
	entries, _ := st.AuditEntries(context.Background(), AuditFilter{Action: ActionContactAdd})
	if len(entries) != 1 || entries[0].Actor != "admin@example.com" || entries[0].Target != "ada@example.com" {
		t.Errorf("audit = %+v", entries)
	}
}
