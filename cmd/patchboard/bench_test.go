//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"patchboard/store"
)

// The serve benchmarks measure the portal the way its targets are stated:
// the real binary, built and started as a separate process on a demo fleet
// seeded with its own demo command, driven over loopback at concurrency 8
// by a signed-in client. The load generator shares the machine with the
// server, as a browser on the same host would. Fleet size: env
// PATCHBOARD_BENCH_DEVICES, default 100,000, as in web/bench_test.go, whose
// in-process BenchmarkPortal is kept for profiling.
//
// Each case reports the server's memory from /proc/PID/status:
// server-peak-rss-MB is VmHWM over the case (reset before it),
// server-rss-MB VmRSS after it, server-peak-anon-MB the largest RssAnon
// sampled during it (see procMemory). The "startup" cases report the
// seeding, the start-up discovery and the server's peak until then.
//
// Linux only: the memory figures come from /proc, and the server is tied to
// the benchmark's life with Pdeathsig.

const (
	serveConcurrency = 8
	serveWarmup      = 500 * time.Millisecond
	serveDuration    = 3 * time.Second
	serveDemoSeed    = "1"
	serveAdminEmail  = "admin@patchboard.demo"
	serveAdminPass   = "demo-admin-password"
	// serveWalkPages is how many pages of each sort order the walk cases
	// go through, one after the other: more than the server keeps
	// (store.keptPagesMax), so that every request reads its page.
	serveWalkPages = 200
	// serveExportColumns are the columns of the export benchmark, as in
	// web/bench_test.go.
	serveExportColumns = "device_id,display_name,serial_number,status,ring,ring_assigned_by,reasons,last_checkin"
)

// serveHarness holds what the benchmarks of this process started: the
// binary, one server per fleet size, and the directory they live in.
// TestMain stops the servers and removes the directory.
var serveHarness struct {
	mu       sync.Mutex
	root     string
	bin      string
	binErr   error
	fixtures map[int]*serveFixture
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopServeHarness()
	os.Exit(code)
}

func stopServeHarness() {
	serveHarness.mu.Lock()
	defer serveHarness.mu.Unlock()
	for _, f := range serveHarness.fixtures {
		f.stop()
	}
	if serveHarness.root != "" {
		os.RemoveAll(serveHarness.root)
	}
}

func serveFleetSize(b *testing.B) int {
	if v := os.Getenv("PATCHBOARD_BENCH_DEVICES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("PATCHBOARD_BENCH_DEVICES=%q is not a positive number", v)
		}
		return n
	}
	return 100_000
}

// serveExportFleet is the fleet of the export benchmark for n exported rows.
// The demo puts about 61% of a fleet on the Ready tab (the largest), and
// the other two tabs together hold about 31%: no single export of a fleet
// of n reaches n rows. The export benchmark therefore seeds its own fleet of
// 5/3 n devices, whose Ready tab holds about 1.02 n rows, and exports each
// tab once (about 0.17 n, 0.34 n and 1.02 n rows), which also shows whether
// the server's memory grows with the size of an export.
func serveExportFleet(n int) int { return (n*5 + 2) / 3 }

// serveFixture is one server on a demo fleet of one size.
type serveFixture struct {
	once sync.Once
	err  error

	devices int
	cmd     *exec.Cmd
	exited  chan struct{}
	log     *serverLog
	base    string // http://127.0.0.1:PORT
	counts  store.Counts
	// walks holds the cursors of the first serveWalkPages pages of the
	// Ready tab ("" for the first), by sort key ("" is the default order).
	// sort ("" is the default order, "last_checkin-desc" that sort).
	walks   map[string][]string
	summary string
	startup serveStartup
	settled bool // see settle
	// peakReset says whether VmHWM can be reset between cases; when not,
	// the peak reported is the server's since it started.
	peakReset bool
}

// serveStartup is how the server's start went: seeding the fleet, then
// from exec until its start-up discovery run finished, with the server's
// peak memory until then (discovery is the heaviest thing it does).
type serveStartup struct {
	seed, ready    time.Duration
	peak, peakAnon uint64
}

// serveFixtureFor returns the running server on a fleet of n devices,
// started once per size and process.
func serveFixtureFor(b *testing.B, n int) *serveFixture {
	serveHarness.mu.Lock()
	if serveHarness.fixtures == nil {
		serveHarness.fixtures = map[int]*serveFixture{}
	}
	f, ok := serveHarness.fixtures[n]
	if !ok {
		f = &serveFixture{devices: n, log: &serverLog{}}
		serveHarness.fixtures[n] = f
	}
	serveHarness.mu.Unlock()
	f.once.Do(func() {
		start := time.Now()
		f.err = f.start()
		if f.err == nil {
			b.Logf("server on a fleet of %d devices ready in %s: %s", n, time.Since(start).Round(time.Second), f.summary)
			if !f.peakReset {
				b.Logf("cannot reset VmHWM: server-peak-rss-MB is the peak since the server started")
			}
		}
	})
	if f.err != nil {
		b.Fatalf("start the server on %d devices: %v\nserver output (tail):\n%s", n, f.err, f.log.tail())
	}
	return f
}

// serveBinary builds the patchboard binary once per process.
func serveBinary() (root, bin string, err error) {
	serveHarness.mu.Lock()
	defer serveHarness.mu.Unlock()
	if serveHarness.bin != "" || serveHarness.binErr != nil {
		return serveHarness.root, serveHarness.bin, serveHarness.binErr
	}
	serveHarness.root, serveHarness.binErr = os.MkdirTemp("", "patchboard-serve-bench-")
	if serveHarness.binErr != nil {
		return "", "", serveHarness.binErr
	}
	bin = filepath.Join(serveHarness.root, "patchboard")
	// The test runs in the package directory: "." is this command.
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		serveHarness.binErr = fmt.Errorf("go build: %v\n%s", err, out)
		return "", "", serveHarness.binErr
	}
	serveHarness.bin = bin
	return serveHarness.root, bin, nil
}

func (f *serveFixture) start() error {
	ctx := context.Background()
	root, bin, err := serveBinary()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(root, fmt.Sprintf("fleet-%d-", f.devices))
	if err != nil {
		return err
	}
	db := filepath.Join(dir, "pb.db")
	seedStart := time.Now()
	if reuse := os.Getenv("PATCHBOARD_BENCH_DB"); reuse != "" {
		// A demo database seeded before (seeding 1,000,000 devices takes
		// minutes), served as it is: the server's start-up discovery
		// changes it.
		db, f.summary = reuse, "reused "+reuse
	} else {
		out, err := exec.Command(bin, "--db", db, "demo", "--devices", strconv.Itoa(f.devices), "--seed", serveDemoSeed).CombinedOutput()
		if err != nil {
			return fmt.Errorf("patchboard demo: %v\n%s", err, out)
		}
		f.summary, _, _ = strings.Cut(string(out), "\n")
	}
	f.startup.seed = time.Since(seedStart)

	// The benchmark process opens the database beside the server only to
	// prepare: catch the blade indexes up, see discovery finish, compute
	// the deep cursors. It closes it before any load runs.
	st, err := store.Open(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	// Pages are fast once the background index sync has caught up with
	// the bulk load; measure that steady state.
	if err := st.SyncBladeIndexes(ctx); err != nil {
		return err
	}
	last, err := st.LastDiscoveryRun(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}

	// Port 0: the server picks a free port and prints it, so no other
	// process can take it between our choice and its listen. The long
	// discovery interval keeps a scheduled run out of the measurements
	// (the one at start-up is waited for below).
	f.cmd = exec.Command(bin, "--db", db, "serve", "--addr", "127.0.0.1:0", "--insecure-cookies",
		"--discovery-interval", "24h")
	f.cmd.Stdout, f.cmd.Stderr = f.log, f.log
	// Should the benchmark die without TestMain's clean-up (a -timeout
	// panic, a signal), the kernel kills the server too.
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	serveStart := time.Now()
	if err := f.cmd.Start(); err != nil {
		return err
	}
	f.exited = make(chan struct{})
	go func() { f.cmd.Wait(); close(f.exited) }()
	stopAnon := f.sampleAnon()
	defer stopAnon()

	if f.base, err = f.waitAddr(30 * time.Second); err != nil {
		return err
	}
	if err := f.waitReady(60 * time.Second); err != nil {
		return err
	}
	if err := f.waitDiscovery(ctx, st, last.ID, 30*time.Minute); err != nil {
		return err
	}
	f.startup.ready = time.Since(serveStart)
	f.startup.peakAnon = stopAnon()
	mem, err := readProcMemory(f.cmd.Process.Pid)
	if err != nil {
		return err
	}
	f.startup.peak = mem.peak
	// The start-up run may have queued devices for the indexes again.
	if err := st.SyncBladeIndexes(ctx); err != nil {
		return err
	}
	if f.counts, err = st.Counts(ctx); err != nil {
		return err
	}
	f.walks = map[string][]string{}
	for _, key := range append([]string{""}, store.SortableColumns()...) {
		if f.walks[key], err = walkCursors(ctx, st, store.DeviceQuery{Tab: store.TabReady, Sort: key}, serveWalkPages); err != nil {
			return err
		}
	}
	f.peakReset = resetPeak(f.cmd.Process.Pid) == nil
	return nil
}

// waitAddr waits for the line the server prints once it listens.
func (f *serveFixture) waitAddr(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if a := f.log.addr(); a != "" {
			return a, nil
		}
		select {
		case <-f.exited:
			return "", fmt.Errorf("the server exited: %v", f.cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", errors.New("the server did not say where it listens")
}

func (f *serveFixture) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		res, err := http.Get(f.base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-f.exited:
			return fmt.Errorf("the server exited: %v", f.cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("/readyz did not answer 200")
}

// waitDiscovery waits until the scheduler's start-up run (a run after the
// one numbered after) is no longer running: it writes to the blades, and
// it would be measured with the pages otherwise.
func (f *serveFixture) waitDiscovery(ctx context.Context, st *store.Store, after int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		run, err := st.LastDiscoveryRun(ctx)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if run.ID > after && run.State != store.RunRunning {
			if run.State != store.RunCompleted {
				return fmt.Errorf("start-up discovery run %d %s: %s", run.ID, run.State, run.Error)
			}
			return nil
		}
		select {
		case <-f.exited:
			return fmt.Errorf("the server exited: %v", f.cmd.ProcessState)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("the start-up discovery run did not finish")
}

// stop ends the server: gracefully, then by force.
func (f *serveFixture) stop() {
	if f.cmd == nil || f.cmd.Process == nil || f.exited == nil {
		return
	}
	f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.exited:
	case <-time.After(15 * time.Second):
		f.cmd.Process.Kill()
		<-f.exited
	}
}

// fatal fails the benchmark with the tail of the server's output.
func (f *serveFixture) fatal(b *testing.B, err error) {
	b.Helper()
	select {
	case <-f.exited:
		err = fmt.Errorf("%w (the server exited: %v)", err, f.cmd.ProcessState)
	default:
	}
	b.Fatalf("%v\nserver output (tail):\n%s", err, f.log.tail())
}

// checkLog fails the benchmark if the server logged warnings or errors
// since mark (serverLog.problemCount).
func (f *serveFixture) checkLog(b *testing.B, mark int) {
	b.Helper()
	if p := f.log.problemsSince(mark); len(p) > 0 {
		b.Errorf("the server logged %d warning(s) or error(s):\n%s", len(p), strings.Join(p, "\n"))
	}
}

// procMemory is the resident set of a process, in bytes. The server maps
// the database file (mmap_size), so its resident set counts the pages of
// the file it has read (RssFile) beside its heap and stacks (RssAnon): a
// growing RSS with a flat RssAnon is the page cache, not the process.
type procMemory struct {
	peak uint64 // VmHWM
	rss  uint64 // VmRSS
	anon uint64 // RssAnon
}

func (f *serveFixture) memory(b *testing.B) procMemory {
	b.Helper()
	m, err := readProcMemory(f.cmd.Process.Pid)
	if err != nil {
		f.fatal(b, err)
	}
	return m
}

// sampleAnon samples the server's RssAnon every 10 ms until the returned
// function is called, which returns the largest value seen: the kernel
// keeps a peak of the whole resident set only.
func (f *serveFixture) sampleAnon() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if m, err := readProcMemory(f.cmd.Process.Pid); err == nil {
				peak = max(peak, m.anon)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	var once sync.Once
	return func() uint64 {
		once.Do(func() { close(done); wg.Wait() })
		return peak
	}
}

// settle brings the server to rest before its first cases, so that their
// memory figures are theirs, not the remains of the start-up discovery. The
// Go runtime keeps the heap discovery grew until a collection, which comes
// once requests have allocated enough (or, idle, after two minutes), and
// returns the pages in the background after it. So: rounds of page loads
// and a pause, until the resident heap is under half its start-up peak (or
// 64 MB) and has stopped moving. At most three minutes: a figure a little
// high beats a hang.
func (f *serveFixture) settle(b *testing.B, c *http.Client) {
	b.Helper()
	if f.settled {
		return
	}
	f.settled = true
	page := func(int) *http.Request { return serveGet(f.base, "/devices?tab=ready", false) }
	target := max(f.startup.peakAnon/2, 64<<20)
	prev := f.memory(b).anon
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); {
		if _, _, err := serveLoadFor(c, serveWarmup, page); err != nil {
			f.fatal(b, err)
		}
		cpu := processCPUTime(f.cmd.Process.Pid)
		time.Sleep(time.Second)
		now := f.memory(b).anon
		// At rest: its memory steady, and no work of its own in the
		// second without requests (the sort and search indexes are synced
		// in the background after the start-up discovery, for seconds).
		idle := processCPUTime(f.cmd.Process.Pid)-cpu < 50*time.Millisecond
		if now < target && max(now, prev)-min(now, prev) < 2<<20 && idle {
			return
		}
		prev = now
	}
	b.Logf("the server did not come to rest: RssAnon %.0f MB", mb(prev))
}

// resetPeak starts a new peak for the next case, when the kernel lets us.
func (f *serveFixture) resetPeak(b *testing.B) {
	b.Helper()
	if !f.peakReset {
		return
	}
	if err := resetPeak(f.cmd.Process.Pid); err != nil {
		f.fatal(b, err)
	}
}

func readProcMemory(pid int) (procMemory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, err
	}
	var m procMemory
	for line := range strings.Lines(string(data)) {
		key, val, _ := strings.Cut(line, ":")
		var dst *uint64
		switch key {
		case "VmHWM":
			dst = &m.peak
		case "VmRSS":
			dst = &m.rss
		case "RssAnon":
			dst = &m.anon
		default:
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc/%d/status: %s: %w", pid, key, err)
		}
		*dst = kb << 10
	}
	if m.peak == 0 || m.rss == 0 || m.anon == 0 {
		return m, fmt.Errorf("/proc/%d/status lacks VmHWM, VmRSS or RssAnon", pid)
	}
	return m, nil
}

// resetPeak sets a process's VmHWM to its current VmRSS (Linux 4.0+), so
// that the next reading is the peak of what happens in between.
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

func mb(n uint64) float64 { return float64(n) / (1 << 20) }

// walkCursors follows Next page links from the start of a sort order and
// returns the cursors of its first pages ("" for the first).
func walkCursors(ctx context.Context, st *store.Store, q store.DeviceQuery, pages int) ([]string, error) {
	q.Limit = 50
	out := []string{""}
	for len(out) < pages {
		p, err := st.DevicePage(ctx, q)
		if err != nil {
			return nil, err
		}
		if p.Next == "" {
			break
		}
		q.After = p.Next
		out = append(out, p.Next)
	}
	return out, nil
}

var serveCSRFInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signIn returns a client signed in as the demo Service Administrator,
// the way a person signs in: the login form, its CSRF token, the POST.
func (f *serveFixture) signIn(b *testing.B) *http.Client {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: serveConcurrency * 2},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(f.base + "/login")
	if err != nil {
		f.fatal(b, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := serveCSRFInput.FindSubmatch(body)
	if m == nil {
		f.fatal(b, fmt.Errorf("GET /login: %s, no CSRF token on the page", res.Status))
	}
	res, err = c.PostForm(f.base+"/login", url.Values{"_csrf": {string(m[1])}, "email": {serveAdminEmail}, "password": {serveAdminPass}})
	if err != nil {
		f.fatal(b, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		f.fatal(b, fmt.Errorf("sign-in: %s", res.Status))
	}
	return c
}

// processCPUTime is the CPU time (user and system) process pid has used,
// from /proc/PID/stat; 0 if it cannot be read. On a shared machine the
// server's CPU time per request measures its work where requests per
// second measure the neighbours too.
func processCPUTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (which may hold spaces), from the
	// state on: utime and stime are the 12th and 13th, in clock ticks.
	i := bytes.LastIndex(data, []byte(") "))
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(data[i+2:]))
	if len(fields) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	const clockTicks = 100 // USER_HZ, 100 on every Linux build Go supports
	return time.Duration(utime+stime) * time.Second / clockTicks
}

func serveGet(base, path string, fragment bool) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if fragment {
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "device-table")
	}
	return req
}

// load runs requests made by next from serveConcurrency goroutines, first
// for serveWarmup unmeasured, then for serveDuration, and reports
// throughput, latency, and the server's peak and current resident set over
// the measured part (server-peak-anon-MB: see procMemory). It is
// web/bench_test.go's benchLoad with the server in another process.
func (f *serveFixture) load(b *testing.B, c *http.Client, next func(i int) *http.Request) {
	b.Helper()
	if _, _, err := serveLoadFor(c, serveWarmup, next); err != nil {
		f.fatal(b, err)
	}
	f.resetPeak(b)
	stopAnon := f.sampleAnon()
	cpu := processCPUTime(f.cmd.Process.Pid)
	lats, elapsed, err := serveLoadFor(c, serveDuration, next)
	cpu = processCPUTime(f.cmd.Process.Pid) - cpu
	anon := stopAnon()
	if err != nil {
		f.fatal(b, err)
	}
	mem := f.memory(b)
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		return float64(lats[int(p*float64(len(lats)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "req/s")
	if len(lats) > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(len(lats)), "server-cpu-µs/req")
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(mb(mem.peak), "server-peak-rss-MB")
	b.ReportMetric(mb(mem.rss), "server-rss-MB")
	b.ReportMetric(mb(anon), "server-peak-anon-MB")
}

// serveLoadFor sends requests for d and returns each one's latency. Every
// response must be 200 and is read to the end; the first failure stops
// all workers.
func serveLoadFor(c *http.Client, d time.Duration, next func(i int) *http.Request) ([]time.Duration, time.Duration, error) {
	var (
		mu     sync.Mutex
		lats   []time.Duration
		failed atomic.Bool
		first  error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		failed.Store(true)
	}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range serveConcurrency {
		wg.Go(func() {
			var mine []time.Duration
			for i := w; !failed.Load() && time.Now().Before(deadline); i += serveConcurrency {
				req := next(i)
				t0 := time.Now()
				res, err := c.Do(req)
				if err != nil {
					fail(err)
					return
				}
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if err != nil {
					fail(fmt.Errorf("%s %s: %w", req.Method, req.URL, err))
					return
				}
				if res.StatusCode != http.StatusOK {
					fail(fmt.Errorf("%s %s: %s", req.Method, req.URL, res.Status))
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return lats, time.Since(start), first
}

// reportStartup reports the fixture's start as a case of its own.
func (f *serveFixture) reportStartup(b *testing.B) {
	b.Run("startup", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(float64(f.devices), "devices")
		b.ReportMetric(f.startup.seed.Seconds(), "seed-s")
		b.ReportMetric(f.startup.ready.Seconds(), "discovery-done-s")
		b.ReportMetric(mb(f.startup.peak), "server-peak-rss-MB")
		b.ReportMetric(mb(f.startup.peakAnon), "server-peak-anon-MB")
	})
}

// BenchmarkServeStartup is the server's start alone: seeding (or
// PATCHBOARD_BENCH_DB), then from exec until its start-up discovery is
// done, with the server's peak resident set (VmHWM: the Go heap, SQLite's
// page caches and the database pages it mapped) and peak anonymous memory
// until then. make scale runs it at 1,000,000 devices, where the server must
// stay within 1 GB.
func BenchmarkServeStartup(b *testing.B) {
	serveFixtureFor(b, serveFleetSize(b)).reportStartup(b)
}

func BenchmarkServePortal(b *testing.B) {
	f := serveFixtureFor(b, serveFleetSize(b))
	f.reportStartup(b)
	c := f.signIn(b)
	f.settle(b, c)
	names := []string{"AP-LT", "FIN-DT", "HR-LT", "AP-DT", "LAB-"}
	fixed := func(path string) func(int) string { return func(int) string { return path } }
	// walk goes through the first pages of a sort order, a different page
	// each request: the server keeps the pages asked for last, so these
	// cases measure reading a page, the fixed ones serving a kept page.
	walk := func(key string) func(int) string {
		cursors := f.walks[key]
		return func(i int) string {
			p := "/devices?tab=ready"
			if key != "" {
				p += "&sort=" + key
			}
			if cur := cursors[i%len(cursors)]; cur != "" {
				p += "&after=" + url.QueryEscape(cur)
			}
			return p
		}
	}
	type serveCase struct {
		name     string
		path     func(i int) string
		fragment bool
		identity bool // ask for the page uncompressed, as the harness did before the server gzipped
	}
	cases := []serveCase{
		{"page=ready", fixed("/devices?tab=ready"), false, false},
		{"page=ready/identity", fixed("/devices?tab=ready"), false, true},
		{"fragment=ready", fixed("/devices?tab=ready"), true, false},
		{"page=ready/walk", walk(""), false, false},
		{"page=ready/walk/identity", walk(""), false, true},
		{"fragment=ready/walk", walk(""), true, false},
		{"page=overview", fixed("/overview"), false, false},
		// The All devices report beside the Ready blade (issue: its pages at
		// least as fast as the blades').
		{"page=report", fixed("/reports/devices"), false, false},
		{"page=report/identity", fixed("/reports/devices"), false, true},
		{"page=report/search", func(i int) string { return fmt.Sprintf("/reports/devices?q=%04d", (i*37)%10000) }, false, false},
	}
	for _, key := range store.SortableColumns() {
		cases = append(cases, serveCase{"sort=" + key + "/walk", walk(key), true, false})
	}
	cases = append(cases,
		serveCase{"search=common", func(i int) string { return "/devices?tab=ready&q=" + url.QueryEscape(names[i%len(names)]) }, true, false},
		serveCase{"search=rare", func(i int) string { return fmt.Sprintf("/devices?tab=ready&q=%04d", (i*37)%10000) }, true, false},
	)
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			mark := f.log.problemCount()
			for b.Loop() {
				f.load(b, c, func(i int) *http.Request {
					req := serveGet(f.base, tc.path(i), tc.fragment)
					if tc.identity {
						req.Header.Set("Accept-Encoding", "identity")
					}
					return req
				})
			}
			f.checkLog(b, mark)
		})
	}
}

func BenchmarkServeExport(b *testing.B) {
	f := serveFixtureFor(b, serveExportFleet(serveFleetSize(b)))
	f.reportStartup(b)
	c := f.signIn(b)
	f.settle(b, c)
	// Smallest tab first: the peak must not grow with the rows.
	for _, tab := range []store.Tab{store.TabNotReady, store.TabNotRegistered, store.TabReady} {
		b.Run("tab="+string(tab), func(b *testing.B) {
			mark := f.log.problemCount()
			before := f.memory(b)
			f.resetPeak(b)
			stopAnon := f.sampleAnon()
			var rows, size int64
			for b.Loop() {
				rows, size = f.export(b, c, tab)
			}
			anon := stopAnon()
			after := f.memory(b)
			if want := f.counts.Tab(tab); rows != int64(want) {
				b.Errorf("export of %s: %d rows, want %d", tab, rows, want)
			}
			b.SetBytes(size)
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/export")
			b.ReportMetric(mb(before.rss), "server-rss-before-MB")
			b.ReportMetric(mb(after.peak), "server-peak-rss-MB")
			b.ReportMetric(mb(before.anon), "server-anon-before-MB")
			b.ReportMetric(mb(anon), "server-peak-anon-MB")
			f.checkLog(b, mark)
		})
	}
}

// export downloads one tab's CSV and returns its data rows and bytes.
func (f *serveFixture) export(b *testing.B, c *http.Client, tab store.Tab) (rows, size int64) {
	b.Helper()
	res, err := c.Get(f.base + "/devices/export.csv?tab=" + string(tab) + "&columns=" + serveExportColumns)
	if err != nil {
		f.fatal(b, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
		f.fatal(b, fmt.Errorf("export of %s: %s, Content-Disposition %q", tab, res.Status, res.Header.Get("Content-Disposition")))
	}
	// Counting lines is enough: no exported cell holds a line break, and
	// the row count is checked against the tab's.
	buf := make([]byte, 64<<10)
	var lines int64
	for {
		n, err := res.Body.Read(buf)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		size += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			f.fatal(b, fmt.Errorf("export of %s: %w", tab, err))
		}
	}
	return lines - 1, size
}

// serverLog is the server's standard output and error: the tail, for
// failure messages, every line logged at WARN or ERROR, and the address
// the server says it serves on.
type serverLog struct {
	mu       sync.Mutex
	buf      []byte // the last serverLogTail bytes
	partial  []byte // a line not yet ended
	problems []string
	serving  string
}

const serverLogTail = 32 << 10

var serveServingLine = regexp.MustCompile(`^Patchboard is serving on (http://\S+)`)

func (l *serverLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if len(l.buf) > 2*serverLogTail {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-serverLogTail:]...)
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		switch {
		case strings.Contains(line, "level=WARN"), strings.Contains(line, "level=ERROR"):
			l.problems = append(l.problems, line)
		case l.serving == "":
			if m := serveServingLine.FindStringSubmatch(line); m != nil {
				l.serving = m[1]
			}
		}
	}
	l.partial = append([]byte(nil), l.partial...)
	return len(p), nil
}

func (l *serverLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf
	if len(b) > serverLogTail {
		b = b[len(b)-serverLogTail:]
	}
	return string(b)
}

func (l *serverLog) addr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.serving
}

func (l *serverLog) problemCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.problems)
}

func (l *serverLog) problemsSince(mark int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.problems[mark:]...)
}
