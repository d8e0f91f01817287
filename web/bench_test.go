package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/demo"
	"patchboard/web"
)

// The portal benchmarks drive a real server over loopback at concurrency 8,
// signed in, on a demo fleet of PATCHBOARD_BENCH_DEVICES devices (default
// 100,000). They report requests per second, p50/p99 latency, the CPU time
// per request and the peak live heap of the process while the load runs.
//
// Server and client share this process, which is what makes them useful
// for profiling (-cpuprofile). The figures the portal is judged by come from
// BenchmarkServePortal in cmd/patchboard: the real binary in a process of
// its own.

const benchConcurrency = 8

func benchFleetSize(b *testing.B) int {
	if v := os.Getenv("PATCHBOARD_BENCH_DEVICES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("PATCHBOARD_BENCH_DEVICES=%q is not a positive number", v)
		}
		return n
	}
	return 100_000
}

var benchPortalOnce sync.Map // size → *benchPortalFixture

type benchPortalFixture struct {
	once sync.Once
	srv  *httptest.Server
	st   *store.Store
	err  error
}

// benchPortal returns a signed-in client for a server on a demo fleet, built
// once per size and process.
func benchPortal(b *testing.B) (*httptest.Server, *http.Client, *store.Store) {
	n := benchFleetSize(b)
	v, _ := benchPortalOnce.LoadOrStore(n, &benchPortalFixture{})
	f := v.(*benchPortalFixture)
	f.once.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "patchboard-portal-bench-")
		if err != nil {
			f.err = err
			return
		}
		// PATCHBOARD_BENCH_DB serves a database seeded before, as it is.
		path, reuse := os.LookupEnv("PATCHBOARD_BENCH_DB")
		if !reuse {
			path = filepath.Join(dir, "pb.db")
		}
		f.st, err = store.Open(ctx, path)
		if err != nil {
			f.err = err
			return
		}
		if !reuse {
			now := time.Now()
			if _, err = demo.Load(ctx, f.st, demo.Generate(demo.Options{Devices: n, Seed: 1, Now: now}), now); err != nil {
				f.err = err
				return
			}
		}
		// Pages are fast once the background index sync has caught up
		// with the load; measure that steady state.
		if err = f.st.SyncBladeIndexes(ctx); err != nil {
			f.err = err
			return
		}
		if _, err = f.st.AddUser(ctx, "bench@example.com", store.RoleServiceAdmin, "bench-password-123", "bench"); err != nil {
			f.err = err
			return
		}
		f.srv = httptest.NewServer(web.New(f.st, web.Config{InsecureCookies: true}))
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.srv, benchSignIn(b, f.srv.URL), f.st
}

var benchCSRFInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func benchSignIn(b *testing.B, base string) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency * 2},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/login")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := benchCSRFInput.FindSubmatch(body)
	if m == nil {
		b.Fatal("no CSRF token on the login page")
	}
	res, err = c.PostForm(base+"/login", url.Values{"_csrf": {string(m[1])}, "email": {"bench@example.com"}, "password": {"bench-password-123"}})
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign-in: %s", res.Status)
	}
	return c
}

// benchLoad sends requests made by next from benchConcurrency goroutines for
// the given duration and reports throughput, latency and peak heap.
func benchLoad(b *testing.B, c *http.Client, d time.Duration, next func(i int) *http.Request) {
	var (
		mu    sync.Mutex
		lats  []time.Duration
		count atomic.Int64
		fail  atomic.Value
	)
	runtime.GC()
	stopHeap := benchPeakHeap()
	deadline := time.Now().Add(d)
	start, cpu := time.Now(), processCPU()
	var wg sync.WaitGroup
	for w := 0; w < benchConcurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var mine []time.Duration
			for i := w; time.Now().Before(deadline); i += benchConcurrency {
				req := next(i)
				t0 := time.Now()
				res, err := c.Do(req)
				if err != nil {
					fail.Store(err.Error())
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					fail.Store(fmt.Sprintf("%s %s: %s", req.Method, req.URL, res.Status))
					return
				}
				mine = append(mine, time.Since(t0))
				count.Add(1)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed, used := time.Since(start), processCPU()-cpu
	peak := stopHeap()
	if f := fail.Load(); f != nil {
		b.Fatal(f)
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		return float64(lats[int(p*float64(len(lats)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(count.Load())/elapsed.Seconds(), "req/s")
	// The CPU time per request (server and client, both in this process)
	// does not depend on what else the machine runs.
	b.ReportMetric(float64(used.Microseconds())/float64(max(count.Load(), 1)), "cpu-µs/req")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

func benchPeakHeap() func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer wg.Done()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

func benchGet(base, path string, fragment bool) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if fragment {
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "device-table")
	}
	return req
}

// benchDeepCursor follows Next page links from the start of a tab and
// returns the cursor after the given number of pages.
func benchDeepCursor(b *testing.B, st *store.Store, q store.DeviceQuery, pages int) string {
	q.Limit = 50
	for i := 0; i < pages; i++ {
		p, err := st.DevicePage(context.Background(), q)
		if err != nil {
			b.Fatal(err)
		}
		if p.Next == "" {
			break
		}
		q.After = p.Next
	}
	return q.After
}

func BenchmarkPortal(b *testing.B) {
	srv, c, st := benchPortal(b)
	const d = 3 * time.Second
	deep := benchDeepCursor(b, st, store.DeviceQuery{Tab: store.TabReady}, 200)
	names := []string{"AP-LT", "FIN-DT", "HR-LT", "AP-DT", "LAB-"}
	cases := []struct {
		name     string
		path     func(i int) string
		fragment bool
	}{
		{"page=ready", func(int) string { return "/devices?tab=ready" }, false},
		{"page=overview", func(int) string { return "/overview" }, false},
		{"fragment=ready", func(int) string { return "/devices?tab=ready" }, true},
		{"sort=serial_number", func(int) string { return "/devices?tab=ready&sort=serial_number" }, true},
		{"sort=last_checkin-desc", func(int) string { return "/devices?tab=ready&sort=last_checkin&dir=desc" }, true},
		{"page=deep-cursor", func(int) string { return "/devices?tab=ready&after=" + url.QueryEscape(deep) }, true},
		{"search=common", func(i int) string { return "/devices?tab=ready&q=" + url.QueryEscape(names[i%len(names)]) }, true},
		{"search=rare", func(i int) string { return fmt.Sprintf("/devices?tab=ready&q=%04d", (i*37)%10000) }, true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				benchLoad(b, c, d, func(i int) *http.Request { return benchGet(srv.URL, tc.path(i), tc.fragment) })
			}
		})
	}
}

func BenchmarkPortalExport(b *testing.B) {
	srv, c, st := benchPortal(b)
	counts, err := st.Counts(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	stopHeap := benchPeakHeap()
	for b.Loop() {
		res, err := c.Get(srv.URL + "/devices/export.csv?tab=ready&columns=device_id,display_name,serial_number,status,ring,ring_assigned_by,reasons,last_checkin")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || n == 0 {
			b.Fatalf("export: %s, %d bytes", res.Status, n)
		}
		if !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
			b.Fatal("export is not an attachment")
		}
	}
	b.ReportMetric(float64(counts.Tab(store.TabReady)), "rows")
	b.ReportMetric(float64(stopHeap())/(1<<20), "peak-heap-MB")
}
