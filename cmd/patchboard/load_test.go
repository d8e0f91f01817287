package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"patchboard/store"
)

// TestLoad is make loadtest (not run by make test): the real binary on a
// demo fleet (PATCHBOARD_LOAD_DEVICES, default 100,000), 50 signed-in
// Service Readers browsing, searching and exporting as fast as they can
// while an administrator's API token runs discovery and acts on devices,
// for PATCHBOARD_LOAD_DURATION (default 60s). It fails on any 5xx other
// than the export queue's 503 (exports run two at a time; a third waits
// 15 s and is then asked to retry) and on any lost write (an acknowledged
// action that is not in the database afterwards), and reports requests,
// p50/p99 per kind and the server's peak memory.
func TestLoad(t *testing.T) {
	if os.Getenv("PATCHBOARD_LOADTEST") == "" {
		t.Skip("make loadtest runs this (PATCHBOARD_LOADTEST=1)")
	}
	devices := envIntOr(t, "PATCHBOARD_LOAD_DEVICES", 100_000)
	duration, err := time.ParseDuration(cmp.Or(os.Getenv("PATCHBOARD_LOAD_DURATION"), "60s"))
	if err != nil {
		t.Fatal(err)
	}
	const readers = 50
	_, bin, err := serveBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "pb.db")
	seedStart := time.Now()
	if out, err := exec.Command(bin, "--db", db, "demo", "--devices", strconv.Itoa(devices), "--seed", "3").CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--db", db, "token", "create", "--name", "load", "--role", "service-admin").Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(out))
	t.Logf("seeded %d devices in %s", devices, time.Since(seedStart).Round(time.Second))

	var active, names []string
	func() {
		st, err := store.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		err = st.EachDevice(ctx, store.DeviceQuery{Tab: store.TabReady, Status: store.StatusActive}, func(r *store.DeviceRow) error {
			active = append(active, r.DeviceID)
			if len(names) < 2000 {
				names = append(names, r.DisplayName)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}()

	srv := startCrashServer(t, bin, db)
	defer func() { _ = srv.cmd.Process.Kill(); <-srv.exited }()
	base, err := srv.waitAddr(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	srv.base = base
	if err := srv.waitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}

	var res loadResults
	stopMem := srv.sampleAnon()
	clients := make([]*http.Client, readers)
	for r := range clients {
		if clients[r], err = signInAs(base, "reader@patchboard.demo", "demo-reader-password"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for r, c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			tabs := []string{"ready", "not-ready", "not-registered"}
			sorts := []string{"", "display_name", "serial_number", "last_checkin", "model", "status"}
			for time.Now().Before(deadline) {
				tab := tabs[rng.IntN(len(tabs))]
				switch n := rng.IntN(100); {
				case n < 60:
					res.get(c, "page", fmt.Sprintf("%s/devices?tab=%s&sort=%s&size=%d", base, tab, sorts[rng.IntN(len(sorts))], []int{25, 50, 100, 200}[rng.IntN(4)]), true)
				case n < 90:
					name := names[rng.IntN(len(names))]
					from := rng.IntN(max(1, len(name)-4))
					q := name[from:min(len(name), from+3+rng.IntN(3))]
					res.get(c, "search", fmt.Sprintf("%s/devices?tab=%s&q=%s", base, tab, url.QueryEscape(q)), true)
				default:
					res.get(c, "export", fmt.Sprintf("%s/devices/export.csv?tab=%s&columns=all", base, tab), false)
				}
			}
		})
	}
	// The administrator: discovery, and ring assignments one device at a
	// time, each remembered when acknowledged.
	acked := map[string]string{}
	wg.Go(func() {
		rings := []string{"test", "first", "fast", "broad"}
		i := 0
		for time.Now().Before(deadline) {
			if i%50 == 0 {
				res.api(base, token, "discover", http.MethodPost, "/api/v1/discovery", "")
			}
			id, ring := active[i%len(active)], rings[i%len(rings)]
			if res.api(base, token, "assign-ring", http.MethodPost, "/api/v1/devices/assign-ring",
				fmt.Sprintf(`{"device_ids": [%q], "ring": %q}`, id, ring)) == http.StatusOK {
				acked[id] = ring
			}
			i++
		}
	})
	wg.Wait()
	peakAnon := stopMem()
	mem, err := readProcMemory(srv.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}

	// Lost writes: every acknowledged assignment is in the database.
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lost := 0
	for id, ring := range acked {
		rec, err := st.Device(ctx, id)
		if err != nil || string(rec.Ring) != ring {
			lost++
		}
	}
	t.Logf("load: %d readers and an administrator for %s on %d devices (%d CPUs)", readers, duration, devices, runtime.NumCPU())
	for _, line := range res.report() {
		t.Log(line)
	}
	t.Logf("acknowledged ring assignments %d, lost %d; server peak RSS %.0f MB, peak anonymous %.0f MB",
		len(acked), lost, mb(mem.peak), mb(peakAnon))
	if res.serverErrors > 0 {
		t.Errorf("%d server errors (5xx other than the export queue's 503); first: %s", res.serverErrors, res.firstError)
	}
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost", lost)
	}
}

// loadResults gathers latencies by kind of request.
type loadResults struct {
	mu           sync.Mutex
	lats         map[string][]time.Duration
	statuses     map[string]map[int]int
	serverErrors int
	busy         int
	firstError   string
}

func (r *loadResults) record(kind string, status int, took time.Duration, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lats == nil {
		r.lats, r.statuses = map[string][]time.Duration{}, map[string]map[int]int{}
	}
	if r.statuses[kind] == nil {
		r.statuses[kind] = map[int]int{}
	}
	r.statuses[kind][status]++
	switch {
	case status == http.StatusServiceUnavailable && kind == "export":
		r.busy++
	case status >= 500 || status == 0:
		r.serverErrors++
		if r.firstError == "" {
			r.firstError = fmt.Sprintf("%s → %d", what, status)
		}
	default:
		r.lats[kind] = append(r.lats[kind], took)
	}
}

func (r *loadResults) get(c *http.Client, kind, u string, fragment bool) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if fragment {
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "device-table")
	}
	r.do(c, kind, req)
}

func (r *loadResults) api(base, token, kind, method, path, body string) int {
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return r.do(http.DefaultClient, kind, req)
}

func (r *loadResults) do(c *http.Client, kind string, req *http.Request) int {
	start := time.Now()
	res, err := c.Do(req)
	status := 0
	if err == nil {
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err == nil {
			status = res.StatusCode
		}
	}
	r.record(kind, status, time.Since(start), req.Method+" "+req.URL.RequestURI())
	return status
}

func (r *loadResults) report() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	total := 0
	kinds := make([]string, 0, len(r.statuses))
	for k := range r.statuses {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		lats := r.lats[k]
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		pct := func(p float64) time.Duration {
			if len(lats) == 0 {
				return 0
			}
			return lats[int(p*float64(len(lats)-1))]
		}
		n := 0
		for _, c := range r.statuses[k] {
			n += c
		}
		total += n
		out = append(out, fmt.Sprintf("%-12s %7d requests  p50 %8s  p99 %8s  statuses %v", k, n,
			pct(.5).Round(time.Millisecond), pct(.99).Round(time.Millisecond), r.statuses[k]))
	}
	out = append(out, fmt.Sprintf("total %d requests, %d server errors, %d exports asked to retry (503)", total, r.serverErrors, r.busy))
	return out
}

// signInAs signs a new client in with the sign-in form.
func signInAs(base, email, password string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/login")
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := serveCSRFInput.FindSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("GET /login: %s, no CSRF token", res.Status)
	}
	res, err = c.PostForm(base+"/login", url.Values{"_csrf": {string(m[1])}, "email": {email}, "password": {password}})
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("sign-in as %s: %s", email, res.Status)
	}
	return c, nil
}

func envIntOr(t *testing.T, key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q is not a positive number", key, v)
	}
	return n
}
