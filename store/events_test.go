package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

// An event is written with its change or not at all: a rolled-back change
// leaves no event behind.
func TestEnqueueEventCommitsWithTheChange(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	ev := Event{Type: EventSupportChanged, Subject: "7", At: at,
		Data: SupportChange{RequestID: 7, Title: "Printers", Change: "created", State: "active"}}
	if err := st.write(ctx, func(tx *sql.Tx) error { return enqueueEvent(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("the change failed")
	if err := st.write(ctx, func(tx *sql.Tx) error {
		if err := enqueueEvent(ctx, tx, ev); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("write = %v, want the change's error", err)
	}
	var n int
	var typ, data string
	var created int64
	if err := st.w.QueryRowContext(ctx, `SELECT count(*), max(type), max(data), max(created_at) FROM outbox`).Scan(&n, &typ, &data, &created); err != nil {
		t.Fatal(err)
	}
	if n != 1 || typ != string(EventSupportChanged) || created != at.Unix() {
		t.Fatalf("outbox = %d rows, type %q, at %d; want the one committed event", n, typ, created)
	}
	if want := `{"request_id":7,"title":"Printers","change":"created","state":"active","by":""}`; data != want {
		t.Fatalf("data = %s, want %s", data, want)
	}
}

// outboxEvents reads the outbox, oldest first.
func outboxEvents(t *testing.T, st *Store, typ EventType) []OutboxEvent {
	t.Helper()
	all, err := st.OutboxAfter(context.Background(), 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	var out []OutboxEvent
	for _, e := range all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func decodeChanges(t *testing.T, e OutboxEvent) DeviceChanges {
	t.Helper()
	var c DeviceChanges
	if err := json.Unmarshal([]byte(e.Data), &c); err != nil {
		t.Fatalf("event %d: %v", e.ID, err)
	}
	return c
}

// A discovery that moves 20,000 devices writes its tab and ring changes as
// 40 events of at most 500 devices each, every device once.
func TestDiscoveryBatchesDeviceEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 devices")
	}
	st := openTestStore(t)
	const n = 20_000
	devs := make([]*Device, n)
	for i := range devs {
		devs[i] = healthy(i + 1)
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	run := mustDiscover(t, st, testNow)

	for _, typ := range []EventType{EventDeviceTabChanged, EventDeviceRingChanged} {
		events := outboxEvents(t, st, typ)
		if len(events) != n/MaxEventChanges {
			t.Fatalf("%s: %d events, want %d", typ, len(events), n/MaxEventChanges)
		}
		seen := map[string]bool{}
		for _, e := range events {
			c := decodeChanges(t, e)
			if c.Count != len(c.Changes) || c.Count > MaxEventChanges || c.Cause != fmt.Sprintf("discovery/%d", run.ID) {
				t.Fatalf("%s event %d: count %d, %d changes, cause %q", typ, e.ID, c.Count, len(c.Changes), c.Cause)
			}
			for _, ch := range c.Changes {
				if seen[ch.DeviceID] {
					t.Fatalf("%s: device %s twice", typ, ch.DeviceID)
				}
				seen[ch.DeviceID] = true
				if typ == EventDeviceTabChanged && (ch.From != "" || ch.To != string(TabReady)) {
					t.Fatalf("tab change %+v, want '' -> ready", ch)
				}
			}
		}
		if len(seen) != n {
			t.Fatalf("%s: %d devices, want %d", typ, len(seen), n)
		}
	}
	if got := outboxEvents(t, st, EventDiscoveryFinished); len(got) != 1 || got[0].Subject != fmt.Sprint(run.ID) {
		t.Fatalf("discovery finished events = %+v", got)
	}
	// A run that changes nothing reports no device change.
	mustDiscover(t, st, testNow.Add(time.Hour))
	if got := outboxEvents(t, st, EventDeviceTabChanged); len(got) != n/MaxEventChanges {
		t.Fatalf("after a quiet run: %d tab events", len(got))
	}
}

// Administrators' actions, pauses and alerts write their events too.
func TestActionsPausesAndAlertsWriteEvents(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	devs := []*Device{healthy(1), healthy(2), healthy(3, func(d *Device) { d.Edition = "Home" })}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	mustDiscover(t, st, testNow)

	if _, err := st.AssignRing(ctx, RingTest, []string{testID(1), testID(2)}, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	rings := outboxEvents(t, st, EventDeviceRingChanged)
	last := decodeChanges(t, rings[len(rings)-1])
	if last.Count != 2 || last.Changes[0].To != string(RingTest) || last.Cause != ActionAssignRing+" by ada@example.com" {
		t.Fatalf("ring event = %+v", last)
	}
	if _, err := st.Deregister(ctx, []string{testID(1)}, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	tabs := outboxEvents(t, st, EventDeviceTabChanged)
	if c := decodeChanges(t, tabs[len(tabs)-1]); c.Count != 1 || c.Changes[0].From != string(TabReady) || c.Changes[0].To != string(TabNotRegistered) {
		t.Fatalf("deregister tab event = %+v", c)
	}

	if _, err := st.PauseRings(ctx, []Ring{RingFast}, KindQuality, "bad patch", "ada@example.com", testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ResumeRings(ctx, []Ring{RingFast}, KindQuality, "ada@example.com", testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []EventType{EventRingPaused, EventRingResumed} {
		got := outboxEvents(t, st, typ)
		if len(got) != 1 || got[0].Subject != string(RingFast) {
			t.Fatalf("%s events = %+v", typ, got)
		}
	}

	// No contact for either area: raised at the discovery; a contact for
	// Devices resolves one.
	raised := outboxEvents(t, st, EventAlertRaised)
	var a AlertChange
	for _, e := range raised {
		if err := json.Unmarshal([]byte(e.Data), &a); err != nil {
			t.Fatal(err)
		}
		if a.Type == string(AlertContactMissing) && a.Subject == string(AreaDevices) {
			break
		}
	}
	if a.Area != AreaDevices || a.AlertID == 0 || a.Title == "" {
		t.Fatalf("contact alert raised = %+v", a)
	}
	if _, err := st.SaveContact(ctx, Contact{Name: "Ada", Email: "ada@example.com", Area: AreaDevices}, "ada@example.com", testNow); err != nil {
		t.Fatal(err)
	}
	var r AlertChange
	for _, e := range outboxEvents(t, st, EventAlertResolved) {
		if err := json.Unmarshal([]byte(e.Data), &r); err != nil {
			t.Fatal(err)
		}
		if r.AlertID == a.AlertID {
			break
		}
	}
	if r.AlertID != a.AlertID || r.ResolvedAt == "" {
		t.Fatalf("resolved = %+v, want alert %d with its time", r, a.AlertID)
	}
}

// A release reaching each ring's offer date is told once per ring, at the
// recomputation that finds it; a pause that ends by itself is told as a
// resume by the service.
func TestReleaseOfferAndPauseEndEvents(t *testing.T) {
	ctx := context.Background()
	st, now, _ := patchMonth(t)
	if _, err := st.AddRelease(ctx, NewRelease{Name: "2026-12 B", Date: patchTuesday, Builds: []BuildRevision{{26100, 7462}}}, "a", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PauseRings(ctx, []Ring{RingBroad}, KindFeature, "freeze", "a", now); err != nil {
		t.Fatal(err)
	}
	for d := range 40 {
		for range 2 { // twice a day: the second finds nothing new
			if _, err := st.RecomputeUpdates(ctx, now.Add(time.Duration(d)*day)); err != nil {
				t.Fatal(err)
			}
		}
	}
	offered := map[Ring]int{}
	for _, e := range outboxEvents(t, st, EventReleaseOffered) {
		var o ReleaseOffer
		if err := json.Unmarshal([]byte(e.Data), &o); err != nil {
			t.Fatal(err)
		}
		if o.Name != "2026-12 B" || o.Kind != KindQuality {
			t.Fatalf("offer event %+v", o)
		}
		offered[o.Ring]++
	}
	for _, r := range Rings {
		if offered[r] != 1 {
			t.Errorf("the %s ring was told of the offer %d times, want once (%v)", r, offered[r], offered)
		}
	}
	var ends []RingPauseChange
	for _, e := range outboxEvents(t, st, EventRingResumed) {
		var p RingPauseChange
		if err := json.Unmarshal([]byte(e.Data), &p); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, p)
	}
	if len(ends) != 1 || ends[0].Ring != RingBroad || ends[0].By != AlertActor || ends[0].Kind != KindFeature {
		t.Fatalf("resume events %+v, want the Broad pause ending by itself", ends)
	}
}
