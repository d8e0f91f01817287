package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	raiser = SupportActor{Email: "admin@example.com", Role: RoleServiceAdmin}
	desk   = SupportActor{Email: "desk@example.com", Role: RoleGlobalAdmin}
)

// supportFixture is a store with two devices, a contact and a service desk
// account.
func supportFixture(t *testing.T) (*Store, Contact) {
	t.Helper()
	st := openTestStore(t)
	mustUpsert(t, st, healthy(1), healthy(2))
	c := mustSaveContact(t, st, Contact{Name: "Pat Primary", Email: "pat@example.com", Area: AreaDevices}, testNow)
	if _, err := st.AddUser(context.Background(), desk.Email, RoleGlobalAdmin, "desk-password-123", "test"); err != nil {
		t.Fatal(err)
	}
	return st, c
}

func mustRaise(t *testing.T, st *Store, c Contact, now time.Time) SupportRequest {
	t.Helper()
	r, err := st.RaiseSupportRequest(context.Background(), NewSupportRequest{Title: "Updates stuck", Description: "Since Monday.",
		Severity: SeverityModerate, Devices: []string{testID(1), "sn000002"}, ContactID: c.ID}, raiser, now)
	if err != nil {
		t.Fatalf("raise: %v", err)
	}
	return r
}

// supportEvents returns the changes of the support events in the outbox.
func supportEvents(t *testing.T, st *Store) []string {
	t.Helper()
	rows, err := st.r.Query(`SELECT data FROM outbox WHERE type = ? ORDER BY id`, string(EventSupportChanged))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var raw string
		var c SupportChange
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c.Change+":"+c.State+":"+c.PrimaryContactEmail)
	}
	return out
}

func TestSupportRequestLifecycle(t *testing.T) {
	st, c := supportFixture(t)
	ctx := context.Background()
	r := mustRaise(t, st, c, testNow)
	if r.State != SupportActive || r.DeviceCount != 2 || r.ContactEmail != "pat@example.com" {
		t.Fatalf("raised %+v", r)
	}
	// The raiser is not the service desk.
	wantErrIs(t, st.AssignSupportRequest(ctx, r.ID, desk.Email, raiser, testNow), ErrForbidden)
	// Only a Global Administrator account takes a request.
	wantErrIs(t, st.AssignSupportRequest(ctx, r.ID, raiser.Email, desk, testNow), ErrInvalid)
	if err := st.AssignSupportRequest(ctx, r.ID, "DESK@example.com", desk, testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.AddSupportNote(ctx, r.ID, "Here is the log.", []Upload{{Name: `C:\logs\wu.log`, Data: []byte("line 1\nline 2\n")}},
		raiser, testNow.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Another administrator who did not raise it cannot add to it.
	other := SupportActor{Email: "other@example.com", Role: RoleIntuneAdmin}
	wantErrIs(t, st.AddSupportNote(ctx, r.ID, "me too", nil, other, testNow), ErrForbidden)
	wantErrIs(t, st.MitigateSupportRequest(ctx, r.ID, "", raiser, testNow), ErrForbidden)
	if err := st.MitigateSupportRequest(ctx, r.ID, "Cleared the stuck download.", desk, testNow.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	d, err := st.SupportRequest(ctx, r.ID, testNow.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if d.State != SupportMitigated || d.AssignedTo != desk.Email || len(d.Devices) != 2 || len(d.Attachments) != 1 {
		t.Fatalf("detail %+v", d)
	}
	if a := d.Attachments[0]; a.Name != "wu.log" || !strings.HasPrefix(a.ContentType, "text/plain") || a.Size != 14 {
		t.Fatalf("attachment %+v", a)
	}
	var kinds []string
	for _, n := range d.Notes {
		kinds = append(kinds, n.Kind)
	}
	if got := strings.Join(kinds, ","); got != "raised,assigned,note,mitigated" {
		t.Fatalf("history %s", got)
	}
	_, data, err := st.SupportAttachment(ctx, r.ID, d.Attachments[0].ID)
	if err != nil || !bytes.Equal(data, []byte("line 1\nline 2\n")) {
		t.Fatalf("attachment bytes %q, %v", data, err)
	}
	want := "created:active:pat@example.com,assigned:assigned:pat@example.com,note:assigned:pat@example.com,mitigated:mitigated:pat@example.com"
	if got := strings.Join(supportEvents(t, st), ","); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	entries, err := st.AuditEntries(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Action] = true
	}
	for _, a := range []string{ActionSupportRaise, ActionSupportAssign, ActionSupportNote, ActionSupportMitigate} {
		if !seen[a] {
			t.Errorf("no audit entry %s", a)
		}
	}
}

// TestSupportReactivationWindow: a mitigated request can be reactivated
// until 24 hours have passed; at 24 hours it is closed.
func TestSupportReactivationWindow(t *testing.T) {
	st, c := supportFixture(t)
	ctx := context.Background()
	mitigated := testNow.Add(time.Hour)
	raise := func() int64 {
		r := mustRaise(t, st, c, testNow)
		if err := st.MitigateSupportRequest(ctx, r.ID, "", desk, mitigated); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	inside, edge := raise(), raise()

	justBefore := mitigated.Add(ReactivationWindow - time.Second)
	if err := st.ReactivateSupportRequest(ctx, inside, "still broken", raiser, justBefore); err != nil {
		t.Fatalf("reactivate 1 s before the window ends: %v", err)
	}
	if d, _ := st.SupportRequest(ctx, inside, justBefore); d.State != SupportActive {
		t.Fatalf("reactivated state %s", d.State)
	}

	at := mitigated.Add(ReactivationWindow)
	if d, _ := st.SupportRequest(ctx, edge, at); d.State != SupportClosed {
		t.Fatalf("state at 24 h: %s, want closed", d.State)
	}
	err := st.ReactivateSupportRequest(ctx, edge, "", raiser, at)
	wantErrIs(t, err, ErrConflict)
	if !strings.Contains(err.Error(), "within 24 hours") {
		t.Fatalf("message %q", err)
	}
	wantErrIs(t, st.AddSupportNote(ctx, edge, "hello?", nil, raiser, at), ErrConflict)

	// The sweep writes the closure once, with its event; the filter agrees.
	if n, err := st.CloseLapsedSupportRequests(ctx, at); err != nil || n != 1 {
		t.Fatalf("closed %d, %v", n, err)
	}
	if n, _ := st.CloseLapsedSupportRequests(ctx, at.Add(time.Hour)); n != 0 {
		t.Fatalf("closed again: %d", n)
	}
	closed, err := st.SupportRequests(ctx, SupportFilter{State: SupportClosed}, at)
	if err != nil || len(closed) != 1 || closed[0].ID != edge {
		t.Fatalf("closed list %+v, %v", closed, err)
	}
	evs := supportEvents(t, st)
	if last := evs[len(evs)-1]; !strings.HasPrefix(last, "closed:") {
		t.Fatalf("last event %s", last)
	}
}

func TestSupportRaiseRefusals(t *testing.T) {
	st, c := supportFixture(t)
	ctx := context.Background()
	_, err := st.RaiseSupportRequest(ctx, NewSupportRequest{Title: "x", Description: "y", Severity: SeverityMinimal,
		Devices: []string{testID(1), "NOPE-1", "nope-2"}, ContactID: c.ID}, raiser, testNow)
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), `"NOPE-1", "nope-2"`) {
		t.Fatalf("unknown devices: %v", err)
	}
	_, err = st.RaiseSupportRequest(ctx, NewSupportRequest{Severity: "urgent"}, raiser, testNow)
	if !errors.As(err, &ve) || len(ve.Errors) != 4 {
		t.Fatalf("empty form: %v", err)
	}
	big := make([]byte, MaxAttachmentBytes+1)
	_, err = st.RaiseSupportRequest(ctx, NewSupportRequest{Title: "x", Description: "y", Severity: SeverityMinimal, ContactID: c.ID,
		Attachments: []Upload{{Name: "dump.bin", Data: big}}}, raiser, testNow)
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "at most 10 MB") {
		t.Fatalf("big attachment: %v", err)
	}
	_, err = st.RaiseSupportRequest(ctx, NewSupportRequest{Title: "x", Description: "y", Severity: SeverityMinimal, ContactID: c.ID},
		SupportActor{Email: "r@example.com", Role: RoleServiceReader}, testNow)
	wantErrIs(t, err, ErrForbidden)
	if list, _ := st.SupportRequests(ctx, SupportFilter{}, testNow); len(list) != 0 {
		t.Fatalf("a refused request was saved: %+v", list)
	}
	if evs := supportEvents(t, st); len(evs) != 0 {
		t.Fatalf("a refused request enqueued %v", evs)
	}
}

func TestSupportListFilters(t *testing.T) {
	st, c := supportFixture(t)
	ctx := context.Background()
	old := mustRaise(t, st, c, testNow.Add(-200*24*time.Hour))
	if err := st.MitigateSupportRequest(ctx, old.ID, "", desk, testNow.Add(-199*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	oldOpen := mustRaise(t, st, c, testNow.Add(-300*24*time.Hour))
	crit, err := st.RaiseSupportRequest(ctx, NewSupportRequest{Title: "Ring groups 50% wrong", Description: "d",
		Severity: SeverityCriticalImpact, ContactID: c.ID}, raiser, testNow)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(f SupportFilter) []int64 {
		list, err := st.SupportRequests(ctx, f, testNow)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range list {
			out = append(out, r.ID)
		}
		return out
	}
	// Six months back, plus what is still open.
	if got := ids(SupportFilter{}); len(got) != 2 || got[0] != crit.ID || got[1] != oldOpen.ID {
		t.Fatalf("list %v", got)
	}
	if got := ids(SupportFilter{Severity: SeverityCriticalImpact}); len(got) != 1 || got[0] != crit.ID {
		t.Fatalf("severity filter %v", got)
	}
	if got := ids(SupportFilter{Search: "50%"}); len(got) != 1 || got[0] != crit.ID {
		t.Fatalf("search %v", got)
	}
	if got := ids(SupportFilter{Search: "50_"}); len(got) != 0 {
		t.Fatalf("a LIKE wildcard matched: %v", got)
	}
	if got := ids(SupportFilter{State: SupportActive, Search: "stuck"}); len(got) != 1 || got[0] != oldOpen.ID {
		t.Fatalf("state and search %v", got)
	}
}
