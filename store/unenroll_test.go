package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

const orgName = "Contoso Ltd"

// unenrollFixture is a store with a registered fleet, update statuses and
// the organisation's name set.
func unenrollFixture(t *testing.T) *Store {
	t.Helper()
	st := openTestStore(t)
	devs := []*Device{healthy(1), healthy(2), healthy(3), healthy(4, func(d *Device) { d.Edition = "Home" })}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	mustDiscover(t, st, testNow)
	if err := st.SetOrganisationName(context.Background(), orgName, "global@example.com", testNow); err != nil {
		t.Fatal(err)
	}
	return st
}

func count(t *testing.T, st *Store, query string) int {
	t.Helper()
	var n int
	if err := st.r.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestUnenrollTimeline: requested, nothing happens on day 13, everything
// is removed on day 14 (the audit log stays); a cancelled request never
// removes anything.
func TestUnenrollTimeline(t *testing.T) {
	st := unenrollFixture(t)
	ctx := context.Background()
	registered := count(t, st, `SELECT count(*) FROM devices WHERE status IS NOT NULL AND status <> 'excluded'`)
	if registered != 4 || count(t, st, `SELECT count(*) FROM devices WHERE ring IS NOT NULL`) == 0 || count(t, st, `SELECT count(*) FROM update_status`) == 0 {
		t.Fatalf("fixture: %d on the blades, rings or update statuses missing", registered)
	}

	// A wrong confirmation is refused and starts nothing.
	_, err := st.RequestUnenrollment(ctx, "contoso", "global@example.com", testNow)
	wantErrIs(t, err, ErrInvalid)
	if !strings.Contains(err.Error(), `"Contoso Ltd"`) {
		t.Fatalf("message %q", err)
	}
	u, err := st.RequestUnenrollment(ctx, " Contoso Ltd ", "global@example.com", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !u.DueAt.Equal(testNow.Add(14 * 24 * time.Hour)) {
		t.Fatalf("due %v", u.DueAt)
	}
	_, err = st.RequestUnenrollment(ctx, orgName, "other@example.com", testNow)
	wantErrIs(t, err, ErrConflict)
	if _, pending, err := st.PendingUnenrollment(ctx); err != nil || !pending {
		t.Fatalf("pending %v, %v", pending, err)
	}
	wantErrIs(t, st.SetOrganisationName(ctx, "Fabrikam", "g@example.com", testNow), ErrConflict)

	// Day 13 (a second before the end): nothing.
	if did, err := st.CompleteDueUnenrollment(ctx, u.DueAt.Add(-time.Second)); err != nil || did {
		t.Fatalf("day 13: did %v, %v", did, err)
	}
	if n := count(t, st, `SELECT count(*) FROM devices WHERE status = 'active'`); n != 3 {
		t.Fatalf("day 13: %d active", n)
	}

	// Day 14: every device deregistered, rings, checks and update statuses gone.
	if did, err := st.CompleteDueUnenrollment(ctx, u.DueAt); err != nil || !did {
		t.Fatalf("day 14: did %v, %v", did, err)
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM devices WHERE status IS NOT NULL AND status <> 'excluded'`:         0,
		`SELECT count(*) FROM devices WHERE status = 'excluded'`:                                 4,
		`SELECT count(*) FROM devices WHERE ring IS NOT NULL OR registered_at IS NOT NULL`:       0,
		`SELECT count(*) FROM check_results`:                                                     0,
		`SELECT count(*) FROM update_status`:                                                     0,
		`SELECT count(*) FROM audit_log WHERE action = 'unenroll.complete' AND device_count = 4`: 1,
		`SELECT count(*) FROM audit_log WHERE action = 'discovery.run'`:                          1,
	} {
		if got := count(t, st, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	// The webhooks hear of every device that left Ready or Not ready, in
	// one batch: the fixture's 3 active devices (its fourth was Not
	// registered already, and changes no tab).
	events := outboxEvents(t, st, EventDeviceTabChanged)
	last := decodeChanges(t, events[len(events)-1])
	if last.Count != 3 || !strings.HasPrefix(last.Cause, "unenrollment requested by global@example.com") {
		t.Fatalf("last tab change event %+v", last)
	}
	for _, c := range last.Changes {
		if c.To != string(TabNotRegistered) || c.From == c.To {
			t.Errorf("change %+v", c)
		}
	}
	u, _ = st.Unenrollment(ctx)
	if !u.Completed() || u.Devices != 4 {
		t.Fatalf("after: %+v", u)
	}
	// Done once: the next check does nothing, and a discovery registers
	// nothing again.
	if did, err := st.CompleteDueUnenrollment(ctx, u.DueAt.Add(time.Hour)); err != nil || did {
		t.Fatalf("second check: did %v, %v", did, err)
	}
	mustDiscover(t, st, u.DueAt.Add(2*time.Hour))
	if n := count(t, st, `SELECT count(*) FROM devices WHERE status = 'active'`); n != 0 {
		t.Fatalf("discovery after unenrollment registered %d", n)
	}
	_, err = st.RequestUnenrollment(ctx, orgName, "global@example.com", u.DueAt)
	wantErrIs(t, err, ErrConflict)
}

func TestUnenrollCancelled(t *testing.T) {
	st := unenrollFixture(t)
	ctx := context.Background()
	wantErrIs(t, st.CancelUnenrollment(ctx, "g@example.com", testNow), ErrConflict)
	u, err := st.RequestUnenrollment(ctx, orgName, "global@example.com", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CancelUnenrollment(ctx, "second-global@example.com", testNow.Add(7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if did, err := st.CompleteDueUnenrollment(ctx, u.DueAt.Add(time.Hour)); err != nil || did {
		t.Fatalf("after cancel: did %v, %v", did, err)
	}
	if n := count(t, st, `SELECT count(*) FROM devices WHERE status = 'active'`); n != 3 {
		t.Fatalf("a cancelled unenrollment removed devices: %d active", n)
	}
	got, _ := st.Unenrollment(ctx)
	if got.Pending() || got.CancelledBy != "second-global@example.com" {
		t.Fatalf("after cancel %+v", got)
	}
	if _, pending, _ := st.PendingUnenrollment(ctx); pending {
		t.Fatal("still pending")
	}
	// A new request may follow a cancelled one.
	if _, err := st.RequestUnenrollment(ctx, orgName, "global@example.com", testNow.Add(8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, `SELECT count(*) FROM audit_log WHERE action IN ('unenroll.request','unenroll.cancel')`); n != 3 {
		t.Fatalf("audit entries %d", n)
	}
}
