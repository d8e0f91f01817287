package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/notify"
)

const (
	notifyCrashKills   = 6
	notifyCrashPerKill = 40 // ring assignments a cycle asks for
)

// TestWebhookCrashLosesNothing kills the real server (SIGKILL) while it
// assigns rings over the API and delivers the events to a webhook receiver
// inside the test. After the last restart every change the server made —
// acknowledged or not — has reached the receiver, in order; no event was
// invented; repeats are the at-least-once kind only (an event sent before
// a kill and again after it), never more than the kills allow.
func TestWebhookCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the server repeatedly")
	}
	_, bin, err := serveBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "pb.db")
	if out, err := exec.Command(bin, "--db", db, "demo", "--devices", "2000", "--seed", "13").CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--db", db, "token", "create", "--name", "crash", "--role", "service-admin").Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(out))

	rcv := &crashReceiver{}
	srvHTTP := httptest.NewServer(rcv)
	t.Cleanup(srvHTTP.Close)
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddWebhook(ctx, srvHTTP.URL, []store.EventType{store.EventDeviceRingChanged}, crashSecret, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	// Active devices, each to be moved once to a ring it is not in.
	type move struct{ id, ring string }
	var moves []move
	rings := []string{"test", "first", "fast", "broad"}
	err = st.EachDevice(ctx, store.DeviceQuery{Tab: store.TabReady, Status: store.StatusActive}, func(r *store.DeviceRow) error {
		to := rings[len(moves)%len(rings)]
		if to == string(r.Ring) {
			to = rings[(len(moves)+1)%len(rings)]
		}
		moves = append(moves, move{r.DeviceID, to})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if len(moves) < notifyCrashKills*notifyCrashPerKill {
		t.Fatalf("%d Active devices, the test needs %d", len(moves), notifyCrashKills*notifyCrashPerKill)
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 13))
	acked := map[string]string{}
	asked := map[string]string{}
	var mu sync.Mutex
	for kill := range notifyCrashKills {
		srv := startCrashServer(t, bin, db, "--notify-every", "20ms")
		done := make(chan struct{})
		go func() {
			defer close(done)
			base, err := srv.waitAddr(30 * time.Second)
			if err != nil {
				return
			}
			a := &crashActor{base: base, token: token}
			for _, m := range moves[kill*notifyCrashPerKill : (kill+1)*notifyCrashPerKill] {
				mu.Lock()
				asked[m.id] = m.ring
				mu.Unlock()
				code, err := a.call(http.MethodPost, "/api/v1/devices/assign-ring", fmt.Appendf(nil, `{"device_ids": [%q], "ring": %q}`, m.id, m.ring))
				if err != nil {
					return
				}
				if code == http.StatusOK {
					mu.Lock()
					acked[m.id] = m.ring
					mu.Unlock()
				}
			}
		}()
		time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
		if err := srv.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-srv.exited
		<-done
	}

	// The last start delivers what is left.
	srv := startCrashServer(t, bin, db, "--notify-every", "20ms")
	st, err = store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		hooks, err := st.DueWebhooks(ctx, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(hooks) == 0 {
			break // every subscription has every event
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook did not catch up within a minute\n%s", srv.log.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-srv.exited

	got, dupes, order := rcv.result(t)
	if order != "" {
		t.Fatal(order)
	}
	// Nothing lost: every acknowledged assignment arrived, with its ring.
	for id, ring := range acked {
		if got[id] != ring {
			t.Errorf("acknowledged: %s to %s; the receiver has %q", id, ring, got[id])
		}
	}
	// Nothing invented: every device the receiver heard of was asked for,
	// and moved where it was asked to go.
	for id, ring := range got {
		if asked[id] != ring {
			t.Errorf("the receiver heard %s moved to %s; it was asked %q", id, ring, asked[id])
		}
	}
	if dupes > notifyCrashKills*notify.DefaultBatch {
		t.Errorf("%d repeated events after %d kills", dupes, notifyCrashKills)
	}
	t.Logf("%d kills; %d assignments asked, %d acknowledged, %d heard by the receiver, %d repeats", notifyCrashKills,
		len(asked), len(acked), len(got), dupes)
	if len(acked) == 0 {
		t.Fatal("no assignment was acknowledged: the test proved nothing")
	}
}

const crashSecret = "whsec_crash-test-receiver-secret"

// crashReceiver verifies each request and keeps the events in arrival order.
type crashReceiver struct {
	mu     sync.Mutex
	events []notify.Envelope
	bad    int
}

func (r *crashReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	var e notify.Envelope
	if notify.Verify(crashSecret, req.Header.Get(notify.SignatureHeader), body, time.Now(), notify.DefaultTolerance) != nil ||
		json.Unmarshal(body, &e) != nil {
		r.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.events = append(r.events, e)
}

// result reads the devices moved (device → ring), how many events came
// more than once, and what broke the order ("" when nothing did).
func (r *crashReceiver) result(t *testing.T) (map[string]string, int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad > 0 {
		return nil, 0, fmt.Sprintf("%d requests badly signed", r.bad)
	}
	moved := map[string]string{}
	seen := map[string]bool{}
	dupes := 0
	var last int64
	for _, e := range r.events {
		id, _ := strconv.ParseInt(e.ID, 10, 64)
		if seen[e.ID] {
			dupes++
			continue
		}
		if id < last {
			return nil, 0, fmt.Sprintf("event %d arrived for the first time after event %d", id, last)
		}
		seen[e.ID], last = true, id
		var c store.DeviceChanges
		if err := json.Unmarshal(e.Data, &c); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(c.Cause, store.ActionAssignRing+" ") {
			continue // a discovery's own ring assignments are not the test's
		}
		for _, ch := range c.Changes {
			moved[ch.DeviceID] = ch.To
		}
	}
	return moved, dupes, ""
}
