package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"patchboard/store/rule"
)

// benchDevices is the fleet size of the store benchmarks: 100,000 unless
// PATCHBOARD_BENCH_DEVICES says otherwise (make bench-scale uses 1,000,000).
// benchID is the n-th bench device's ID: a version 4 GUID whose random
// bits come from n, as Entra ID's are random. (testID's are all zeros but
// the last digits, which made every gram of an ID search common.)
func benchID(n int) string {
	h := sha256.Sum256([]byte(strconv.Itoa(n)))
	h[6] = h[6]&0x0f | 0x40 // version 4
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func benchDevices(b *testing.B) int {
	if v := os.Getenv("PATCHBOARD_BENCH_DEVICES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("PATCHBOARD_BENCH_DEVICES=%q is not a positive number", v)
		}
		return n
	}
	return 100_000
}

// benchInventoryCSV is an inventory of n devices of which about 70 % pass
// every prerequisite; the rest fail one each, in rotation.
func benchInventoryCSV(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString("device_id,display_name,serial_number,manufacturer,model,os,os_version,edition,architecture," +
		"join_type,ownership,management,last_checkin,device_kind,wu_policy_source,office_policy_source,unreachable_endpoints,internet_connected\n")
	checkin := testNow.Add(-36 * time.Hour).Format(time.RFC3339)
	old := testNow.Add(-60 * 24 * time.Hour).Format(time.RFC3339)
	for i := 0; i < n; i++ {
		mgmt, build, edition, arch, join, owner, kind, last := "intune", "22631", "Enterprise", "x64", "entra-joined", "company", "physical", checkin
		wu, endpoints, internet := "intune", "", "true"
		switch i % 20 {
		case 1:
			mgmt = "configmgr"
		case 2:
			last = old
		case 3:
			build = "16299"
		case 4:
			owner = "personal"
		case 5:
			kind = "avd-multi-session"
		case 6:
			edition = "Home"
		case 7:
			wu = "gpo" // registers, then Readiness failed
		case 8:
			endpoints = "teams;edge"
		}
		fmt.Fprintf(&buf, "%s,PC-%07d,SN%08d,Dell Inc.,Latitude 7440,Windows,10.0.%s.4460,%s,%s,%s,%s,%s,%s,%s,%s,cdn,%s,%s\n",
			benchID(i+1), i, i, build, edition, arch, join, owner, mgmt, last, kind, wu, endpoints, internet)
	}
	return buf.Bytes()
}

// peakHeap samples live heap bytes until stop is called and returns the peak.
func peakHeap() (stop func() uint64) {
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

// benchCachePath is where the fixture of key is built, and whether it was
// built already. Fixtures live in a temporary directory of the process,
// unless PATCHBOARD_BENCH_CACHE names a directory that keeps them between
// runs: a 1,000,000-device fixture takes minutes to build, and comparing two
// versions of a query needs the same one twice. A cached fixture is opened
// as any database is, so later migrations apply to it. A fixture is built
// under a temporary name and renamed when complete (benchFixtureBuilt), so
// an interrupted build is never taken for a fixture.
func benchCachePath(b *testing.B, key string) (string, bool) {
	dir := os.Getenv("PATCHBOARD_BENCH_CACHE")
	if dir == "" {
		tmp, err := os.MkdirTemp("", "patchboard-bench-")
		if err != nil {
			b.Fatal(err)
		}
		return filepath.Join(tmp, "fixture.db"), false
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "fixture-"+key+".db")
	if _, err := os.Stat(path); err == nil {
		return path, true
	}
	os.Remove(path + ".building")
	return path + ".building", false
}

// benchFixtureBuilt records the fixture of key, built and closed at path,
// and returns where it is now.
func benchFixtureBuilt(b *testing.B, key, path string) string {
	if final, ok := strings.CutSuffix(path, ".building"); ok {
		if err := os.Rename(path, final); err != nil {
			b.Fatal(err)
		}
		path = final
	}
	benchFixtures.Store(key, path)
	return path
}

// benchFixture builds, once per size and process, a database file holding
// the inventory with every device in the registration group (a tenth through
// a nested group), optionally after a first discovery.
var benchFixtures sync.Map // key → path

func benchFixture(b *testing.B, n int, discovered bool) string {
	return seedFixture(b, fmt.Sprintf("%d-%v", n, discovered), n, benchInventoryCSV, true, func(ctx context.Context, st *Store) error {
		if !discovered {
			return nil
		}
		_, err := st.Discover(ctx, TriggerCLI, "bench", testNow)
		return err
	})
}

// seedFixture builds, once per key (and per cache, see benchCachePath), a
// database file holding inventory(n) (devices benchID(1) to benchID(n)) with
// every device in the registration group, every tenth through a nested
// group when nested, and then runs prepare on it. The benchmarks of every
// area seed through it.
func seedFixture(b *testing.B, key string, n int, inventory func(n int) []byte, nested bool, prepare func(context.Context, *Store) error) string {
	if p, ok := benchFixtures.Load(key); ok {
		return p.(string)
	}
	path, cached := benchCachePath(b, key)
	if cached {
		benchFixtures.Store(key, path)
		return path
	}
	ctx := context.Background()
	st, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.ImportDevices(ctx, bytes.NewReader(inventory(n)), "bench", "bench"); err != nil {
		b.Fatal(err)
	}
	if nested {
		if _, err := st.CreateGroup(ctx, "Nested", "", "bench"); err != nil {
			b.Fatal(err)
		}
		if err := st.NestGroup(ctx, RegistrationGroupName, "Nested", "bench"); err != nil {
			b.Fatal(err)
		}
	}
	var direct, inner bytes.Buffer
	direct.WriteString("device_id\n")
	inner.WriteString("device_id\n")
	for i := 0; i < n; i++ {
		w := &direct
		if nested && i%10 == 0 {
			w = &inner
		}
		w.WriteString(benchID(i+1) + "\n")
	}
	if _, err := st.ImportMembers(ctx, RegistrationGroupName, &direct, "bench", "bench", false); err != nil {
		b.Fatal(err)
	}
	if nested {
		if _, err := st.ImportMembers(ctx, "Nested", &inner, "bench", "bench", false); err != nil {
			b.Fatal(err)
		}
	}
	if err := prepare(ctx, st); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	return benchFixtureBuilt(b, key, path)
}

// copyFixture opens a private copy of a fixture.
func copyFixture(b *testing.B, path string) *Store {
	b.Helper()
	dst := filepath.Join(b.TempDir(), "pb.db")
	src, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, src); err != nil {
		b.Fatal(err)
	}
	out.Close()
	st, err := Open(context.Background(), dst)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// peakRSS starts a new peak of the process's resident set (VmHWM, which
// counts the mapped database pages too) and returns a function reading it;
// 0 where /proc does not allow it.
func peakRSS() (read func() uint64) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return func() uint64 { return 0 }
	}
	return func() uint64 {
		data, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return 0
		}
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				return kb << 10
			}
		}
		return 0
	}
}

// reportDiscovery reports a discovery benchmark's figures: devices per
// second, peak heap and peak resident set, and cpu (the CPU time of all
// runs) per run.
func reportDiscovery(b *testing.B, n int, heap, rss uint64, cpu time.Duration) {
	reportRate(b, n, "devices", heap)
	b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MB")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

func reportRate(b *testing.B, n int, what string, peak uint64) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), what+"/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

func BenchmarkImportDevices(b *testing.B) {
	n := benchDevices(b)
	data := benchInventoryCSV(n)
	ctx := context.Background()
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		st := openTestStore(b)
		runtime.GC()
		stop := peakHeap()
		b.StartTimer()
		if _, err := st.ImportDevices(ctx, bytes.NewReader(data), "bench", "bench"); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, stop())
	}
	reportRate(b, n, "rows", peak)
}

func BenchmarkDiscoveryFirst(b *testing.B) {
	n := benchDevices(b)
	path := benchFixture(b, n, false)
	var peak, rss uint64
	var run DiscoveryRun
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		st := copyFixture(b, path)
		runtime.GC()
		stop, readRSS := peakHeap(), peakRSS()
		start := processCPU()
		b.StartTimer()
		var err error
		if run, err = st.Discover(context.Background(), TriggerCLI, "bench", testNow); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - start
		peak, rss = max(peak, stop()), max(rss, readRSS())
	}
	b.ReportMetric(float64(run.Registered), "registered")
	reportDiscovery(b, n, peak, rss, cpu)
}

// BenchmarkDiscoveryWorstRegexp is BenchmarkDiscoveryUnchanged with a
// dynamic group nested in the registration group whose rule is the most
// expensive -match the budget admits: discovery evaluates it over the whole
// directory at every run (issue 14).
func BenchmarkDiscoveryWorstRegexp(b *testing.B) {
	n := benchDevices(b)
	st := copyFixture(b, benchFixture(b, n, true))
	ctx := context.Background()
	if _, err := st.CreateGroup(ctx, "Worst regexp", `device.displayName -match "`+rule.WorstAcceptedPattern+`"`, "bench"); err != nil {
		b.Fatal(err)
	}
	if err := st.NestGroup(ctx, RegistrationGroupName, "Worst regexp", "bench"); err != nil {
		b.Fatal(err)
	}
	var run DiscoveryRun
	for b.Loop() {
		var err error
		if run, err = st.Discover(ctx, TriggerCLI, "bench", testNow); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, n, "devices", 0)
	b.ReportMetric(float64(run.Candidates), "candidates")
}

func BenchmarkDiscoveryUnchanged(b *testing.B) {
	n := benchDevices(b)
	st := copyFixture(b, benchFixture(b, n, true))
	runtime.GC()
	stop, readRSS := peakHeap(), peakRSS()
	cpu := processCPU()
	var run DiscoveryRun
	for b.Loop() {
		var err error
		if run, err = st.Discover(context.Background(), TriggerCLI, "bench", testNow); err != nil {
			b.Fatal(err)
		}
	}
	if run.Total != 0 {
		b.Fatalf("an unchanged directory wrote %d devices", run.Total)
	}
	reportDiscovery(b, n, stop(), readRSS(), processCPU()-cpu)
}

func BenchmarkExportReady(b *testing.B) {
	def, err := ParseColumns(strings.Join(ExportDefaultColumns, ","))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("columns=default", func(b *testing.B) { benchExport(b, def) })
	b.Run("columns=all", func(b *testing.B) { benchExport(b, Columns) })
}

func benchExport(b *testing.B, cols []Column) {
	n := benchDevices(b)
	st := copyFixture(b, benchFixture(b, n, true))
	runtime.GC()
	stop := peakHeap()
	cpu := processCPU()
	rows := 0
	for b.Loop() {
		var err error
		rows, err = st.ExportCSV(context.Background(), io.Discard, DeviceQuery{Tab: TabReady}, cols, CSVOptions{})
		if err != nil {
			b.Fatal(err)
		}
	}
	cpu = processCPU() - cpu
	b.ReportMetric(float64(rows), "rows")
	reportRate(b, rows, "rows", stop())
	// CPU per row: on a shared machine the wall clock measures the
	// neighbours; the export's goroutines overlap on two cores.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(max(rows, 1)), "cpu-ns/row")
}

// benchBladeFixture is the discovered fixture with blade_order and the search
// index synced, as a server has it once the background sync after a
// discovery is done.
func benchBladeFixture(b *testing.B, n int) string {
	key := fmt.Sprintf("%d-blades", n)
	if p, ok := benchFixtures.Load(key); ok {
		return p.(string)
	}
	path, cached := benchCachePath(b, key)
	if cached {
		benchFixtures.Store(key, path)
		return path
	}
	src := benchFixture(b, n, true)
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	st, err := Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := st.SyncBladeIndexes(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Logf("blade order and search index of %d devices synced in %v", n, time.Since(start).Round(time.Millisecond))
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	return benchFixtureBuilt(b, key, path)
}

// processCPU is the CPU time the process has used: on a shared machine it
// measures a query better than the wall clock does, and it is what bounds
// requests per second once the cores are busy.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDevicePage measures one 50-row blade page with its total, as the
// device blades ask for it: the first page, a page deep in the tab through
// its cursor, each sortable column (first and deep, descending), filters,
// and searches that match one device, a thousand, or most of the tab.
func BenchmarkDevicePage(b *testing.B) {
	n := benchDevices(b)
	st := copyFixture(b, benchBladeFixture(b, n))
	ctx := context.Background()
	c, err := st.Counts(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// deep returns the cursor of the page at 90 % of q's rows.
	deep := func(b *testing.B, q DeviceQuery) DeviceQuery {
		rows := c.Tab(q.Tab)
		if q.Status != "" {
			rows = c.Status[q.Status]
		}
		at := q
		at.Offset, at.Limit = rows*9/10, 50
		p, err := st.DevicePage(ctx, at)
		if err != nil || p.Next == "" {
			b.Fatalf("deep cursor of %+v: %v", q, err)
		}
		q.After = p.Next
		return q
	}
	run := func(name string, q DeviceQuery, deepPage bool) {
		b.Run(name, func(b *testing.B) {
			q.Limit = 50
			if deepPage {
				q = deep(b, q)
			}
			var p DevicePage
			cpu := processCPU()
			for b.Loop() {
				var err error
				if p, err = st.DevicePage(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(len(p.Rows)), "rows")
			b.ReportMetric(float64(p.Total), "total")
		})
	}
	run("first=default", DeviceQuery{Tab: TabReady}, false)
	run("deep=default", DeviceQuery{Tab: TabReady}, true)
	run("first=not-ready", DeviceQuery{Tab: TabNotReady}, false)
	run("deep=not-ready", DeviceQuery{Tab: TabNotReady}, true)
	for _, key := range SortableColumns() {
		run("sort="+key, DeviceQuery{Tab: TabReady, Sort: key}, false)
		run("sort="+key+"/deep-desc", DeviceQuery{Tab: TabReady, Sort: key, Desc: true}, true)
	}
	run("filter=status", DeviceQuery{Tab: TabNotReady, Status: StatusReadinessFailed}, false)
	run("filter=status/sort=last_checkin", DeviceQuery{Tab: TabNotReady, Status: StatusReadinessFailed, Sort: "last_checkin"}, false)
	run("filter=ring-first", DeviceQuery{Tab: TabReady, Ring: RingFirst}, false)
	run("filter=ring-broad/sort=serial_number", DeviceQuery{Tab: TabReady, Ring: RingBroad, Sort: "serial_number"}, false)
	// PC-%07d names and SN%08d serials: one device; a thousand names across
	// the tabs (about the gather limit); every name; a one-character search.
	mid := fmt.Sprintf("PC-%05d", n/200)
	run("search=rare-name", DeviceQuery{Tab: TabReady, Search: fmt.Sprintf("pc-%07d", n/2)}, false)
	run("search=rare-name-suffix", DeviceQuery{Tab: TabReady, Search: fmt.Sprintf("%07d", n/2)[2:]}, false)
	run("search=rare-serial", DeviceQuery{Tab: TabReady, Search: fmt.Sprintf("SN%08d", n/2)}, false)
	run("search=rare-device-id", DeviceQuery{Tab: TabReady, Search: benchID(n/2 + 1)}, false)
	run("search=rare-device-id-part", DeviceQuery{Tab: TabReady, Search: benchID(n/2 + 1)[20:]}, false)
	run("search=thousand", DeviceQuery{Tab: TabReady, Search: mid}, false)
	run("search=thousand/sort=serial_number", DeviceQuery{Tab: TabReady, Search: mid, Sort: "serial_number"}, false)
	run("search=common-prefix", DeviceQuery{Tab: TabReady, Search: "PC-0"}, false)
	run("search=common-prefix/deep", DeviceQuery{Tab: TabReady, Search: "PC-0"}, true)
	run("search=common-prefix/sort=last_checkin", DeviceQuery{Tab: TabReady, Search: "PC-0", Sort: "last_checkin"}, false)
	run("search=common-infix", DeviceQuery{Tab: TabReady, Search: "C-00"}, false)
	run("search=one-char", DeviceQuery{Tab: TabReady, Search: "C"}, false)
	// A run of one digit: every gram of it is "0000", which thousands of
	// names and serial numbers hold, while few hold six zeros in a row.
	run("search=run-of-zeros", DeviceQuery{Tab: TabReady, Search: "000000"}, false)
	// Pieces of the names' and serial numbers' pattern, whose grams are each
	// in thousands of devices: a few hundred names, and 6,000 serials (at
	// 1,000,000; the count is exact from the index).
	run("search=pattern-name", DeviceQuery{Tab: TabReady, Search: "C-0000"}, false)
	run("search=pattern-serial", DeviceQuery{Tab: TabReady, Search: "N0000"}, false)
	// Five characters a device ID may hold too: 6,000 names at 1,000,000,
	// counted from the index with the device IDs tested.
	run("search=pattern-hex", DeviceQuery{Tab: TabReady, Search: "C-000"}, false)
	// BenchmarkExportReady exports right after a discovery, with blade_order
	// still to sync; this is the export once it is.
	b.Run("export=ready-default-columns", func(b *testing.B) {
		cols, err := ParseColumns(strings.Join(ExportDefaultColumns, ","))
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		cpu := processCPU()
		for b.Loop() {
			if rows, err = st.ExportCSV(ctx, io.Discard, DeviceQuery{Tab: TabReady}, cols, CSVOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
		b.ReportMetric(float64(rows), "rows")
	})
}
