package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"patchboard/store"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// clock is the injected time of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "pb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// receiver is a webhook endpoint as a customer would write one: it checks
// the signature and the timestamp, and keeps what it accepted.
type receiver struct {
	t      testing.TB
	secret string
	clock  *clock
	srv    *httptest.Server

	mu sync.Mutex
	// answer decides the response to the n-th request (from 1); nil: 200.
	answer   func(n int, w http.ResponseWriter) bool
	requests int
	got      []Envelope
	badSig   int
}

func newReceiver(t testing.TB, secret string, c *clock) *receiver {
	r := &receiver{t: t, secret: secret, clock: c}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests++
	n, answer := r.requests, r.answer
	r.mu.Unlock()
	if answer != nil && answer(n, w) {
		return
	}
	if err := Verify(r.secret, req.Header.Get(SignatureHeader), body, r.clock.Now(), DefaultTolerance); err != nil {
		r.mu.Lock()
		r.badSig++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/cloudevents+json" {
		http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
		return
	}
	var e Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.got = append(r.got, e)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) envelopes() []Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Envelope(nil), r.got...)
}

const testSecret = "whsec_the-receivers-shared-secret"

func subscribe(t testing.TB, st *store.Store, url string, types ...store.EventType) store.Webhook {
	t.Helper()
	if len(types) == 0 {
		types = store.WebhookEventTypes
	}
	w, err := st.AddWebhook(context.Background(), url, types, testSecret, "ada@example.com", t0)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// pauseAndResume writes 2n ring events (a pause and a resume of the Fast ring, n times).
func pauseAndResume(t testing.TB, st *store.Store, n int, at time.Time) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		at := at.Add(time.Duration(i) * time.Minute)
		if _, err := st.PauseRings(ctx, []store.Ring{store.RingFast}, store.KindQuality, fmt.Sprintf("pause %d", i), "ada@example.com", at); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ResumeRings(ctx, []store.Ring{store.RingFast}, store.KindQuality, "ada@example.com", at.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
}

func dispatcher(st *store.Store, c *clock) *Webhooks {
	return &Webhooks{Store: st, Source: "https://patchboard.example.com", Now: c.Now,
		Client: &http.Client{Timeout: 2 * time.Second}}
}

// drain runs passes until nothing is left to do now.
func drain(t testing.TB, d *Webhooks) {
	t.Helper()
	for range 1000 {
		more, err := d.Pass(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			return
		}
	}
	t.Fatal("the dispatcher never finished")
}

func TestWebhookDeliversSignedCloudEventsInOrder(t *testing.T) {
	st := openStore(t)
	c := &clock{now: t0}
	rcv := newReceiver(t, testSecret, c)
	subscribe(t, st, rcv.srv.URL, store.EventRingPaused, store.EventRingResumed)
	pauseAndResume(t, st, 5, t0)

	d := dispatcher(st, c)
	d.Batch = 3 // several passes: order must hold across them
	drain(t, d)

	got := rcv.envelopes()
	if len(got) != 10 || rcv.badSig != 0 {
		t.Fatalf("received %d events (%d badly signed), want 10", len(got), rcv.badSig)
	}
	prev := int64(0)
	for i, e := range got {
		id, _ := strconv.ParseInt(e.ID, 10, 64)
		if id <= prev {
			t.Fatalf("event %d (id %d) after id %d: out of order", i, id, prev)
		}
		prev = id
		want := store.EventRingPaused
		if i%2 == 1 {
			want = store.EventRingResumed
		}
		if e.SpecVersion != "1.0" || e.Type != string(want) || e.Source != "https://patchboard.example.com" ||
			e.Subject != string(store.RingFast) || e.DataContentType != "application/json" || e.Time == "" {
			t.Fatalf("event %d = %+v", i, e)
		}
		var p store.RingPauseChange
		if err := json.Unmarshal(e.Data, &p); err != nil || p.Ring != store.RingFast || p.By != "ada@example.com" {
			t.Fatalf("event %d data = %s (%v)", i, e.Data, err)
		}
	}
	// Nothing is sent twice once delivered.
	drain(t, d)
	if n := len(rcv.envelopes()); n != 10 {
		t.Fatalf("after another pass: %d events", n)
	}
}

func TestSignatureRefusesTamperingAndReplay(t *testing.T) {
	body := []byte(`{"specversion":"1.0"}`)
	sig := Sign(testSecret, t0, body)
	if err := Verify(testSecret, sig, body, t0.Add(time.Minute), DefaultTolerance); err != nil {
		t.Fatalf("a fresh signature: %v", err)
	}
	if err := Verify(testSecret, sig, []byte(`{"specversion":"2.0"}`), t0, DefaultTolerance); err == nil {
		t.Fatal("a changed body was accepted")
	}
	if err := Verify("whsec_another-secret-entirely", sig, body, t0, DefaultTolerance); err == nil {
		t.Fatal("another secret was accepted")
	}
	if err := Verify(testSecret, sig, body, t0.Add(time.Hour), DefaultTolerance); err == nil {
		t.Fatal("a replay an hour later was accepted")
	}
	if err := Verify(testSecret, "", body, t0, DefaultTolerance); err == nil {
		t.Fatal("no signature was accepted")
	}
}

// A 500 and a timeout are retried with backoff; the next event waits for
// the one before it.
func TestWebhookRetriesAfter500AndTimeout(t *testing.T) {
	st := openStore(t)
	c := &clock{now: t0}
	rcv := newReceiver(t, testSecret, c)
	rcv.answer = func(n int, w http.ResponseWriter) bool {
		switch n {
		case 1, 2:
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return true
		case 3:
			time.Sleep(600 * time.Millisecond) // longer than the client waits
			return true
		}
		return false
	}
	hook := subscribe(t, st, rcv.srv.URL)
	pauseAndResume(t, st, 1, t0)
	d := dispatcher(st, c)
	d.Client.Timeout = 300 * time.Millisecond

	wantDelays := []time.Duration{store.RetryBase, 2 * store.RetryBase, 4 * store.RetryBase}
	for i, delay := range wantDelays {
		drain(t, d)
		if n := len(rcv.envelopes()); n != 0 {
			t.Fatalf("attempt %d: %d events accepted", i+1, n)
		}
		// Not before the backoff is over.
		c.Add(delay - time.Second)
		drain(t, d)
		if rcv.requests != i+1 {
			t.Fatalf("after %d failures and %s: %d requests, want %d", i+1, delay-time.Second, rcv.requests, i+1)
		}
		c.Add(time.Second)
	}
	drain(t, d)
	got := rcv.envelopes()
	if len(got) != 2 || got[0].Type != string(store.EventRingPaused) || got[1].Type != string(store.EventRingResumed) {
		t.Fatalf("received %+v, want the pause then the resume", got)
	}
	log, err := st.WebhookDeliveries(context.Background(), hook.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: the resume, then the pause's fourth, third, second and first attempts.
	want := []struct{ attempt, status int }{{1, 204}, {4, 204}, {3, 0}, {2, 500}, {1, 500}}
	if len(log) != len(want) {
		t.Fatalf("delivery log has %d rows, want %d", len(log), len(want))
	}
	for i, w := range want {
		if log[i].Attempt != w.attempt || log[i].StatusCode != w.status {
			t.Fatalf("log row %d: attempt %d status %d, want %d %d", i, log[i].Attempt, log[i].StatusCode, w.attempt, w.status)
		}
	}
	if log[2].Error == "" || log[1].Error != "" {
		t.Fatalf("errors: timeout %q, success %q", log[2].Error, log[1].Error)
	}
}

// After RetryWindow of failures the subscription is failing and an alert
// is open; when the receiver answers again, both clear.
func TestWebhookFailingAfterRetryWindow(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	c := &clock{now: t0}
	rcv := newReceiver(t, testSecret, c)
	down := true
	rcv.answer = func(_ int, w http.ResponseWriter) bool {
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		return down
	}
	hook := subscribe(t, st, rcv.srv.URL, store.EventRingPaused, store.EventRingResumed)
	pauseAndResume(t, st, 1, t0)
	d := dispatcher(st, c)

	failingAlert := func() bool {
		open, _, err := st.Alerts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range open {
			if a.Type == store.AlertWebhookFailing && a.Subject == strconv.FormatInt(hook.ID, 10) {
				return true
			}
		}
		return false
	}
	for c.Now().Before(t0.Add(store.RetryWindow - store.RetryMax)) {
		drain(t, d)
		if w, _ := st.Webhook(ctx, hook.ID); w.Failing() || failingAlert() {
			t.Fatalf("failing at %s, before the retry window is over", c.Now().Sub(t0))
		}
		c.Add(store.RetryMax)
	}
	c.Add(2 * store.RetryMax)
	drain(t, d)
	w, _ := st.Webhook(ctx, hook.ID)
	if !w.Failing() || !failingAlert() {
		t.Fatalf("after %s: failing %v, alert %v", c.Now().Sub(t0), w.Failing(), failingAlert())
	}
	if rcv.requests > 40 {
		t.Fatalf("%d requests in a day: the backoff does not back off", rcv.requests)
	}

	down = false
	c.Add(store.RetryMax)
	drain(t, d)
	if got := rcv.envelopes(); len(got) != 2 {
		t.Fatalf("after recovery: %d events, want both", len(got))
	}
	if w, _ := st.Webhook(ctx, hook.ID); w.Failing() || failingAlert() {
		t.Fatal("still failing after a delivery")
	}
}

// Redeliver sends a logged delivery again, freshly signed, and logs it.
func TestWebhookRedeliver(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	c := &clock{now: t0}
	rcv := newReceiver(t, testSecret, c)
	hook := subscribe(t, st, rcv.srv.URL, store.EventRingPaused)
	pauseAndResume(t, st, 1, t0)
	d := dispatcher(st, c)
	drain(t, d)
	log, err := st.WebhookDeliveries(ctx, hook.ID, 10)
	if err != nil || len(log) != 1 {
		t.Fatalf("log = %d rows (%v), want the pause", len(log), err)
	}
	c.Add(time.Hour) // the first signature is stale by now: a fresh one is needed
	if err := st.RequestRedelivery(ctx, hook.ID, log[0].ID, "ada@example.com", c.Now()); err != nil {
		t.Fatal(err)
	}
	drain(t, d)
	got := rcv.envelopes()
	if len(got) != 2 || got[1].ID != got[0].ID || rcv.badSig != 0 {
		t.Fatalf("received %d (bad signatures %d), want the same event twice", len(got), rcv.badSig)
	}
	log, _ = st.WebhookDeliveries(ctx, hook.ID, 10)
	if len(log) != 2 || log[0].Attempt != 2 || log[0].EventID != log[1].EventID || log[1].Redeliver {
		t.Fatalf("log after redelivery = %+v", log)
	}
	drain(t, d)
	if len(rcv.envelopes()) != 2 {
		t.Fatal("a redelivery was sent twice")
	}
	if err := st.RequestRedelivery(ctx, hook.ID+1, log[0].ID, "ada@example.com", c.Now()); err == nil {
		t.Fatal("a delivery of another subscription was redelivered")
	}
}

// Delivered events leave the outbox; events a subscription still lacks stay.
func TestOutboxPrunedOnceEverySubscriptionHasThem(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	c := &clock{now: t0}
	up := newReceiver(t, testSecret, c)
	down := newReceiver(t, testSecret, c)
	down.answer = func(_ int, w http.ResponseWriter) bool { w.WriteHeader(http.StatusBadGateway); return true }
	subscribe(t, st, up.srv.URL)
	lagging := subscribe(t, st, down.srv.URL)
	pauseAndResume(t, st, 2, t0)
	drain(t, dispatcher(st, c))
	if _, err := st.PruneOutbox(ctx, c.Now(), false); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.OutboxDepth(ctx); n != 4 {
		t.Fatalf("outbox depth %d, want the 4 events the lagging subscription lacks", n)
	}
	if err := st.DeleteWebhook(ctx, lagging.ID, "ada@example.com", c.Now()); err != nil {
		t.Fatal(err)
	}
	drain(t, dispatcher(st, c)) // the deletion's alert evaluation wrote events too
	if _, err := st.PruneOutbox(ctx, c.Now(), false); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.OutboxDepth(ctx); n != 0 {
		t.Fatalf("outbox depth %d after every subscription has the events", n)
	}
	// Events written after a prune get new ids, above every cursor, and
	// are delivered.
	before := len(up.envelopes())
	pauseAndResume(t, st, 1, t0.Add(30*time.Minute))
	drain(t, dispatcher(st, c))
	if n := len(up.envelopes()) - before; n != 2 {
		t.Fatalf("after the prune %d new events arrived, want 2", n)
	}
	// At most OutboxKeep days, delivered or not.
	subscribe(t, st, down.srv.URL)
	pauseAndResume(t, st, 1, t0.Add(time.Hour))
	if _, err := st.PruneOutbox(ctx, t0.Add(store.OutboxKeep+2*time.Hour), false); err != nil {
		t.Fatal(err)
	}
	// The newest event is kept (its id holds the sequence): it is the one
	// left for the lagging subscription.
	if n, _ := st.OutboxDepth(ctx); n != 1 {
		t.Fatalf("outbox depth %d after %s, want the newest event only", n, store.OutboxKeep)
	}
}

// A discovery moving 20,000 devices reaches the receiver as 40 tab events
// of at most 500 devices each (and 40 ring events), every device once.
func TestWebhookBatchesADiscoveryBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 devices")
	}
	st := openStore(t)
	ctx := context.Background()
	c := &clock{now: t0}
	rcv := newReceiver(t, testSecret, c)
	subscribe(t, st, rcv.srv.URL, store.EventDeviceTabChanged, store.EventDeviceRingChanged)
	const n = 20_000
	devs := make([]*store.Device, n)
	ids := make([]string, n)
	for i := range devs {
		ids[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
		devs[i] = &store.Device{DeviceID: ids[i], DisplayName: fmt.Sprintf("AP-LT-%05d", i+1),
			SerialNumber: fmt.Sprintf("SN%06d", i+1), Manufacturer: "Dell Inc.", Model: "Latitude 7440",
			OS: store.OSWindows, OSVersion: "10.0.22631.4460", Edition: "Enterprise", Architecture: store.ArchX64,
			JoinType: store.JoinEntraJoined, Ownership: store.OwnershipCompany, Management: store.ManagementIntune,
			LastCheckin: t0.Add(-24 * time.Hour), DeviceKind: store.KindPhysical, AccountEnabled: true}
	}
	if _, err := st.UpsertDevices(ctx, devs, "test", "tester"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddGroupDevices(ctx, store.RegistrationGroupName, ids, "tester"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Discover(ctx, store.TriggerCLI, "tester", t0); err != nil {
		t.Fatal(err)
	}
	drain(t, dispatcher(st, c))

	byType := map[string]int{}
	seen := map[string]map[string]bool{}
	for _, e := range rcv.envelopes() {
		var ch store.DeviceChanges
		if err := json.Unmarshal(e.Data, &ch); err != nil {
			t.Fatal(err)
		}
		if len(ch.Changes) > store.MaxEventChanges || ch.Count != len(ch.Changes) {
			t.Fatalf("event %s carries %d changes (count %d)", e.ID, len(ch.Changes), ch.Count)
		}
		byType[e.Type]++
		if seen[e.Type] == nil {
			seen[e.Type] = map[string]bool{}
		}
		for _, d := range ch.Changes {
			seen[e.Type][d.DeviceID] = true
		}
	}
	for _, typ := range []store.EventType{store.EventDeviceTabChanged, store.EventDeviceRingChanged} {
		if byType[string(typ)] != n/store.MaxEventChanges || len(seen[string(typ)]) != n {
			t.Fatalf("%s: %d requests for %d devices, want %d for %d", typ, byType[string(typ)], len(seen[string(typ)]), n/store.MaxEventChanges, n)
		}
	}
}
