package graph_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/graph/graphtest"
)

// benchDevices is the tenant's size: PATCHBOARD_BENCH_DEVICES, else 100,000
// Entra devices, each with its Intune managed device, all in the
// registration group.
func benchDevices() int {
	if n, err := strconv.Atoi(os.Getenv("PATCHBOARD_BENCH_DEVICES")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

func benchTenant(b *testing.B, n int) *tenant {
	tn := newTenant(b)
	members := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		tn.addPC(i)
		members = append(members, objectID(i))
	}
	tn.setMembers(tn.reg, "Reg", members...)
	return tn
}

// memPeak samples the Go heap (live objects and the garbage not yet
// collected) until stop is called, and returns its peak and its size at
// the start, after a collection. The process holds the Graph stand-in too:
// its tenant is in base.
func memPeak() (stop func() (peak, base uint64)) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	var mu sync.Mutex
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				v := read()
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		return max(peak, read()), base
	}
}

// cpuTime is the CPU time the process has used (user and system): on a
// machine shared with other work, wall time says more about the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportSync(b *testing.B, run store.SyncRun, elapsed, cpu time.Duration, peak, base uint64) {
	b.ReportMetric(elapsed.Seconds(), "s/sync")
	b.ReportMetric(cpu.Seconds(), "cpu-s/sync")
	b.ReportMetric(float64(run.Requests), "requests")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-above-base-MB")
	b.ReportMetric(float64(run.Added+run.Updated+run.Removed), "devices-written")
}

// BenchmarkSyncFirst is the first sync of a tenant of 100,000 Entra devices
// and 100,000 managed devices, all in the registration group (target: 60 s,
// 300 MB).
func BenchmarkSyncFirst(b *testing.B) {
	n := benchDevices()
	for b.Loop() {
		b.StopTimer()
		tn := benchTenant(b, n)
		stop := memPeak()
		b.StartTimer()
		start, cpu := time.Now(), cpuTime()
		run := tn.sync()
		elapsed, cpu := time.Since(start), cpuTime()-cpu
		b.StopTimer()
		peak, base := stop()
		if run.Added != n {
			b.Fatalf("first sync = %s", run.Summary())
		}
		reportSync(b, run, elapsed, cpu, peak, base)
		b.StartTimer()
	}
}

// BenchmarkSyncDelta is a delta sync of that tenant with 1 % of its devices
// changed (target: 5 s).
func BenchmarkSyncDelta(b *testing.B) {
	n := benchDevices()
	tn := benchTenant(b, n)
	tn.sync()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		for k := 1; k <= n/100; k++ {
			id := objectID((k*97+i)%n + 1)
			tn.srv.UpdateDevice(id, func(d *graphtest.Device) { d.DisplayName = fmt.Sprintf("RENAMED-%d-%d", i, k) })
		}
		stop := memPeak()
		b.StartTimer()
		start, cpu := time.Now(), cpuTime()
		run := tn.sync()
		elapsed, cpu := time.Since(start), cpuTime()-cpu
		b.StopTimer()
		peak, base := stop()
		if run.FullRead || run.Updated != n/100 {
			b.Fatalf("delta sync = %s", run.Summary())
		}
		reportSync(b, run, elapsed, cpu, peak, base)
		b.StartTimer()
	}
}

// BenchmarkWriteBackFirst writes the rings of 100,000 registered devices to
// four new ring groups: one $batch request per 20 memberships.
func BenchmarkWriteBackFirst(b *testing.B) {
	n := benchDevices()
	for b.Loop() {
		b.StopTimer()
		tn := benchTenant(b, n)
		tn.st.SetDirectory(tn.conn, nil) // discovery without write-back
		if run := tn.discover(); run.Registered != n {
			b.Fatalf("discovery = %s", run.Summary())
		}
		tn.st.SetDirectory(tn.conn, tn.conn)
		b.StartTimer()
		start, cpu := time.Now(), cpuTime()
		run, err := tn.st.WriteBackRings(context.Background(), store.TriggerCLI, "bench")
		elapsed, cpu := time.Since(start), cpuTime()-cpu
		b.StopTimer()
		if err != nil || run.Added != n {
			b.Fatalf("write-back = %+v, %v", run, err)
		}
		b.ReportMetric(elapsed.Seconds(), "s/write-back")
		b.ReportMetric(cpu.Seconds(), "cpu-s/write-back")
		b.ReportMetric(float64(run.Requests), "requests")
		b.ReportMetric(float64(tn.srv.Requests("batch")), "batches")
		b.ReportMetric(float64(tn.srv.Requests("batch-item")), "writes")
		b.StartTimer()
	}
}
