package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"patchboard/store"
)

// Crash test sizes: a fleet large enough that a discovery writes many
// batches, and enough kills to land in every phase (start-up, a run's
// batches, device actions, idle).
const (
	crashFleet = 20_000
	crashKills = 10
	crashFlips = 2_000 // devices a cycle changes, so that each discovery has work
)

// TestCrashRecovery runs the real binary on a fleet of crashFleet devices,
// changes devices, runs discovery and acts on devices over the API, and
// kills the server with SIGKILL at crashKills random moments. After the
// last restart it checks what SPEC §6 and §9 promise: the database is
// sound, every registered device has one ring, the kept counters equal the
// real counts, every acknowledged action is there and audited, every
// interrupted run is recorded and audited, the next discovery starts at
// once (within 5 s of the process starting) and reaches a fixpoint.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 20,000 devices and kills the server 10 times")
	}
	_, bin, err := serveBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "pb.db")
	patchboard := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"--db", db}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("patchboard %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	patchboard("demo", "--devices", strconv.Itoa(crashFleet), "--seed", "14")
	out, err := exec.Command(bin, "--db", db, "token", "create", "--name", "crash", "--role", "service-admin").Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(out))

	plan := newCrashPlan(t, ctx, db)
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 14))

	for kill := range crashKills {
		srv := startCrashServer(t, bin, db)
		actor := &crashActor{base: "", token: token, plan: plan, cycle: kill}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if base, err := srv.waitAddr(30 * time.Second); err == nil {
				actor.base = base
				actor.act()
			}
		}()
		time.Sleep(time.Duration(200+rng.IntN(2300)) * time.Millisecond)
		if err := srv.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-srv.exited
		<-done
	}
	t.Logf("%d kills; acknowledged: %d ring assignments, %d deregistrations, %d device changes",
		crashKills, len(plan.ackedRing), len(plan.ackedDeregister), plan.ackedFlips)

	// The last restart: its start-up discovery must begin at once.
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	before, err := st.LastDiscoveryRun(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := startCrashServer(t, bin, db)
	started := time.Now()
	var run store.DiscoveryRun
	for {
		run, err = st.LastDiscoveryRun(ctx)
		if err == nil && run.ID > before.ID {
			break
		}
		if time.Since(started) > 5*time.Second {
			t.Fatalf("no discovery started within 5 s of the restart (last run %+v, %v)\n%s", run, err, srv.log.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("discovery run %d started %s after the restart", run.ID, time.Since(started).Round(time.Millisecond))
	for run.State == store.RunRunning {
		time.Sleep(50 * time.Millisecond)
		if run, err = st.DiscoveryRunByID(ctx, run.ID); err != nil {
			t.Fatal(err)
		}
		if time.Since(started) > 2*time.Minute {
			t.Fatalf("the discovery after the restart did not finish: %+v", run)
		}
	}
	if run.State != store.RunCompleted {
		t.Fatalf("the discovery after the restart: %+v", run)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-srv.exited
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	checkCrashInvariants(t, ctx, db, plan)

	// The state reached is a fixpoint: another discovery changes nothing.
	if out := patchboard("discover"); !strings.Contains(out, ", 0 registered,") || !strings.Contains(out, ", 0 status changes") {
		t.Errorf("a discovery after recovery still changed devices: %s", out)
	}
}

// crashPlan is what the test does to the fleet, and what the server
// acknowledged.
type crashPlan struct {
	mu              sync.Mutex
	flips           [][]byte          // PUT bodies, alternating readiness of crashFlips devices
	ringDevices     []string          // Active devices to assign, each once
	deregDevices    []string          // Active devices to deregister, each once
	ackedRing       map[string]string // device → ring the server acknowledged
	ackedDeregister map[string]bool
	ackedFlips      int
}

func newCrashPlan(t *testing.T, ctx context.Context, db string) *crashPlan {
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var active []string
	err = st.EachDevice(ctx, store.DeviceQuery{Tab: store.TabReady, Status: store.StatusActive}, func(r *store.DeviceRow) error {
		active = append(active, r.DeviceID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	need := crashFlips + crashKills*(20+5)
	if len(active) < need {
		t.Fatalf("%d Active devices, the test needs %d", len(active), need)
	}
	p := &crashPlan{ackedRing: map[string]string{}, ackedDeregister: map[string]bool{}}
	flip := active[:crashFlips]
	p.ringDevices = active[crashFlips : crashFlips+crashKills*20]
	p.deregDevices = active[crashFlips+crashKills*20 : need]
	for _, source := range []string{"gpo", "intune"} {
		var recs []map[string]string
		for _, id := range flip {
			rec, err := st.Device(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]string{}
			for _, f := range store.InventoryFields {
				if v := f.Value(&rec.Device); v != "" {
					m[f.Key] = v
				}
			}
			m["wu_policy_source"] = source
			recs = append(recs, m)
		}
		body, err := json.Marshal(recs)
		if err != nil {
			t.Fatal(err)
		}
		p.flips = append(p.flips, body)
	}
	return p
}

// crashActor does one cycle's work against a server until it dies.
type crashActor struct {
	base, token string
	plan        *crashPlan
	cycle       int
}

func (a *crashActor) call(method, path string, body []byte) (int, error) {
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return res.StatusCode, err
}

func (a *crashActor) act() {
	p := a.plan
	for range 200 { // wait for /readyz; the server is killed at some point
		res, err := http.Get(a.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, err := a.call(http.MethodPut, "/api/v1/devices", p.flips[a.cycle%2]); err == nil && code == http.StatusOK {
		p.mu.Lock()
		p.ackedFlips += crashFlips
		p.mu.Unlock()
	}
	if _, err := a.call(http.MethodPost, "/api/v1/discovery", nil); err != nil {
		return
	}
	rings := []string{"test", "first", "fast", "broad"}
	for i, id := range p.ringDevices[a.cycle*20 : (a.cycle+1)*20] {
		ring := rings[(a.cycle+i)%len(rings)]
		body := fmt.Appendf(nil, `{"device_ids": [%q], "ring": %q}`, id, ring)
		code, err := a.call(http.MethodPost, "/api/v1/devices/assign-ring", body)
		if err != nil {
			return
		}
		if code == http.StatusOK {
			p.mu.Lock()
			p.ackedRing[id] = ring
			p.mu.Unlock()
		}
	}
	ids, _ := json.Marshal(p.deregDevices[a.cycle*5 : (a.cycle+1)*5])
	if code, err := a.call(http.MethodPost, "/api/v1/devices/deregister", fmt.Appendf(nil, `{"device_ids": %s}`, ids)); err == nil && code == http.StatusOK {
		p.mu.Lock()
		for _, id := range p.deregDevices[a.cycle*5 : (a.cycle+1)*5] {
			p.ackedDeregister[id] = true
		}
		p.mu.Unlock()
	}
}

// crashServer is one run of patchboard serve.
type crashServer struct {
	serveFixture
}

func startCrashServer(t *testing.T, bin, db string, flags ...string) *crashServer {
	t.Helper()
	s := &crashServer{serveFixture{log: &serverLog{}}}
	s.cmd = exec.Command(bin, append([]string{"--db", db, "serve", "--addr", "127.0.0.1:0", "--insecure-cookies", "--discovery-interval", "24h"}, flags...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	return s
}

// checkCrashInvariants reads the database after the last server stopped.
func checkCrashInvariants(t *testing.T, ctx context.Context, db string, p *crashPlan) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	one := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := raw.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	var integrity string
	if err := raw.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Errorf("integrity check: %q %v", integrity, err)
	}
	registered := fmt.Sprintf("status IN ('%s', '%s', '%s')", store.StatusActive, store.StatusReadinessFailed, store.StatusInactive)
	if n := one("SELECT count(*) FROM devices WHERE " + registered + " AND ring IS NULL"); n != 0 {
		t.Errorf("%d registered devices have no ring", n)
	}
	if n := one("SELECT count(*) FROM devices WHERE NOT " + registered + " AND ring IS NOT NULL"); n != 0 {
		t.Errorf("%d devices that are not registered have a ring", n)
	}
	if n := one("SELECT count(*) FROM discovery_runs WHERE state = 'running'"); n != 0 {
		t.Errorf("%d discovery runs are still marked running", n)
	}
	if n := one(`SELECT count(*) FROM discovery_runs r WHERE state = 'interrupted' AND NOT EXISTS (
		SELECT 1 FROM audit_log a WHERE a.action = ? AND a.detail LIKE 'run ' || r.id || ' %')`, store.ActionDiscovery); n != 0 {
		t.Errorf("%d interrupted discovery runs have no audit entry", n)
	}
	t.Logf("discovery runs: %d completed, %d interrupted",
		one("SELECT count(*) FROM discovery_runs WHERE state = 'completed'"), one("SELECT count(*) FROM discovery_runs WHERE state = 'interrupted'"))

	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counts, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range store.Statuses {
		if real := one("SELECT count(*) FROM devices WHERE status = ?", string(s)); counts.Status[s] != real {
			t.Errorf("counter of %s says %d, the devices %d", s, counts.Status[s], real)
		}
	}
	for _, r := range store.Rings {
		if real := one("SELECT count(*) FROM devices WHERE ring = ? AND "+registered, string(r)); counts.Rings.Get(r) != real {
			t.Errorf("counter of ring %s says %d, the devices %d", r, counts.Rings.Get(r), real)
		}
	}

	audited := func(action, deviceID string) bool {
		return one(`SELECT count(*) FROM audit_devices d JOIN audit_log a ON a.id = d.audit_id
			WHERE a.action = ? AND d.device_id = ?`, action, deviceID) > 0
	}
	for id, ring := range p.ackedRing {
		rec, err := st.Device(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if string(rec.Ring) != ring || rec.RingBy != store.RingByAdmin {
			t.Errorf("acknowledged: %s to ring %s; stored ring %q by %q", id, ring, rec.Ring, rec.RingBy)
		}
		if !audited(store.ActionAssignRing, id) {
			t.Errorf("acknowledged ring assignment of %s is not audited", id)
		}
	}
	for id := range p.ackedDeregister {
		if rec, err := st.Device(ctx, id); err != nil || rec.Status != store.StatusExcluded {
			t.Errorf("acknowledged deregistration of %s: status %q %v", id, rec.Status, err)
		}
		if !audited(store.ActionDeregister, id) {
			t.Errorf("acknowledged deregistration of %s is not audited", id)
		}
	}
	// Actions whose answer was lost with the server may or may not have
	// happened; if one did, it is audited (the change and its entry commit
	// together).
	if n := one(`SELECT count(*) FROM devices d WHERE d.ring_by = 'admin' AND NOT EXISTS (
		SELECT 1 FROM audit_devices ad JOIN audit_log a ON a.id = ad.audit_id
		WHERE a.action = ? AND ad.device_id = d.device_id)`, store.ActionAssignRing); n != 0 {
		t.Errorf("%d devices assigned by an admin have no audit entry", n)
	}
}
