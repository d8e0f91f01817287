package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"testing"
	"time"
)

// The update management figures of issue 12, at benchDevices registered
// devices (100,000 unless PATCHBOARD_BENCH_DEVICES says otherwise).

// benchUpdateInventoryCSV is an inventory of n devices that all register,
// on three build lines at revisions below and at the bench release's.
func benchUpdateInventoryCSV(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString("device_id,display_name,serial_number,manufacturer,model,os,os_version,edition,architecture," +
		"join_type,ownership,management,last_checkin,device_kind\n")
	checkin := testNow.Add(-36 * time.Hour).Format(time.RFC3339)
	builds := []string{"26100.7000", "26100.7462", "22631.6000", "22631.6345", "19045.6691"}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&buf, "%s,PC-%07d,SN%08d,Dell Inc.,Latitude 7440,Windows,10.0.%s,Enterprise,x64,entra-joined,company,intune,%s,physical\n",
			benchID(i+1), i, i, builds[i%len(builds)], checkin)
	}
	return buf.Bytes()
}

// benchRelease is released 12 days before testNow: every ring has been
// offered it (Broad on day 9), and no device is overdue yet.
var benchRelease = NewRelease{Name: "bench B", Date: testNow.Truncate(day).Add(-12 * day),
	Builds: []BuildRevision{{26100, 7462}, {22631, 6345}, {19045, 6691}}}

// benchUpdateFixture builds, once per process, n registered devices with
// the blade indexes synced and the bench release added.
func benchUpdateFixture(b *testing.B, n int) string {
	return seedFixture(b, fmt.Sprintf("%d-updates", n), n, benchUpdateInventoryCSV, false, func(ctx context.Context, st *Store) error {
		if _, err := st.Discover(ctx, TriggerCLI, "bench", testNow); err != nil {
			return err
		}
		if err := st.SyncBladeIndexes(ctx); err != nil {
			return err
		}
		_, err := st.AddRelease(ctx, benchRelease, "bench", testNow)
		return err
	})
}

// cpuPerOp reports the process's CPU time per operation since start: the
// machine the figures come from is shared, and CPU time measures the work
// where the wall clock measures the neighbours too.
func cpuPerOp(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((processCPU()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkUpdateSummary reads the Quality update status report's counts.
func BenchmarkUpdateSummary(b *testing.B) {
	st := copyFixture(b, benchUpdateFixture(b, benchDevices(b)))
	ctx := context.Background()
	cpu := processCPU()
	for b.Loop() {
		sum, err := st.UpdateSummary(ctx, KindQuality)
		if err != nil || sum.Rings[len(Rings)].Devices == 0 {
			b.Fatalf("summary %+v, %v", sum, err)
		}
	}
	cpuPerOp(b, cpu)
}

// BenchmarkRecomputeUpdates recomputes every registered device's update
// status: the first time (every row written, as in a first discovery),
// after a pause of every ring and its resume (every eligible row changes),
// and with nothing changed (every hourly discovery).
func BenchmarkRecomputeUpdates(b *testing.B) {
	n := benchDevices(b)
	ctx := context.Background()
	b.Run("first", func(b *testing.B) {
		st := copyFixture(b, benchUpdateFixture(b, n))
		var cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			if _, err := st.w.ExecContext(ctx, `DELETE FROM update_status`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := processCPU()
			res, err := st.RecomputeUpdates(ctx, testNow)
			if err != nil || res.Changed != n {
				b.Fatalf("recompute: %+v, %v", res, err)
			}
			cpu += processCPU() - start
		}
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	})
	b.Run("pause-all", func(b *testing.B) {
		st := copyFixture(b, benchUpdateFixture(b, n))
		now := testNow
		var cpu time.Duration
		for b.Loop() {
			start := processCPU()
			if _, err := st.PauseRings(ctx, Rings, KindQuality, "bench", "bench", now); err != nil {
				b.Fatal(err)
			}
			cpu += processCPU() - start
			now = now.Add(time.Minute)
			b.StopTimer()
			if _, err := st.ResumeRings(ctx, Rings, KindQuality, "bench", now); err != nil {
				b.Fatal(err)
			}
			now = now.Add(time.Minute)
			b.StartTimer()
		}
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	})
	b.Run("unchanged", func(b *testing.B) {
		st := copyFixture(b, benchUpdateFixture(b, n))
		cpu := processCPU()
		for b.Loop() {
			res, err := st.RecomputeUpdates(ctx, testNow)
			if err != nil || res.Changed != 0 {
				b.Fatalf("recompute: %+v, %v", res, err)
			}
		}
		cpuPerOp(b, cpu)
	})
	// What a discovery recomputes an hour after the last when a tenth of
	// the fleet checked in meanwhile (Intune devices sync about every
	// eight hours): nothing, as they all stay eligible.
	b.Run("checkins-10pct", func(b *testing.B) {
		st := copyFixture(b, benchUpdateFixture(b, n))
		if _, err := st.RecomputeUpdates(ctx, testNow); err != nil {
			b.Fatal(err)
		}
		afterCheckins(b, st, func() {
			var did recomputed
			err := st.write(ctx, func(tx *sql.Tx) error {
				var err error
				did, err = recomputeUpdatesIfStale(ctx, tx, testNow.Add(time.Minute))
				return err
			})
			if err != nil || did == recomputedEvery {
				b.Fatalf("recompute: %v, %v", did, err)
			}
		})
	})
}

// afterCheckins runs op once an iteration, each time after a tenth of the
// fleet checked in (not measured), and reports op's CPU.
func afterCheckins(b *testing.B, st *Store, op func()) {
	b.Helper()
	var cpu time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		checkInTenth(b, st, i)
		b.StartTimer()
		start := processCPU()
		op()
		cpu += processCPU() - start
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// checkInTenth moves the check-in of a tenth of the devices (the i-th
// tenth) a second on, as an Intune sync does.
func checkInTenth(b *testing.B, st *Store, i int) {
	b.Helper()
	if _, err := st.w.ExecContext(context.Background(), `UPDATE devices SET last_checkin = last_checkin + 1 WHERE id % 10 = ?`, i%10); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkUpdateReportPage measures 50-row pages of the All devices report
// beside the same pages of the Ready blade, at concurrency 8 (4 goroutines
// per core on 2 cores): the first page, a page deep in the order, a status
// filter and a search. Each page is read, not taken from those kept
// between commits (UpdateReportPage and Blade keep them; DevicePage does
// not), so that the two reads compare.
func BenchmarkUpdateReportPage(b *testing.B) {
	n := benchDevices(b)
	st := copyFixture(b, benchUpdateFixture(b, n))
	ctx := context.Background()
	// The deep cursors are read unkept: a page of 90,000 rows kept in the
	// store would be the larger part of the heap the cases below run in.
	deepReport := func(q UpdateQuery) UpdateQuery {
		at := UpdateQuery{Limit: n * 9 / 10, Sort: q.Sort}
		if err := at.validate(); err != nil {
			b.Fatal(err)
		}
		p, err := st.updateReportPage(ctx, at)
		if err != nil {
			b.Fatal(err)
		}
		q.After = p.Next
		return q
	}
	deepBlade := func(q DeviceQuery) DeviceQuery {
		at := q
		at.Offset, at.Limit = n*9/10, 50
		p, err := st.DevicePage(ctx, at)
		if err != nil {
			b.Fatal(err)
		}
		q.After = p.Next
		return q
	}
	cases := []struct {
		name   string
		report UpdateQuery
		blade  DeviceQuery
	}{
		{"first", UpdateQuery{}, DeviceQuery{Tab: TabReady}},
		{"deep", deepReport(UpdateQuery{}), deepBlade(DeviceQuery{Tab: TabReady})},
		{"ring", UpdateQuery{Ring: RingBroad}, DeviceQuery{Tab: TabReady, Ring: RingBroad}},
		{"search-one", UpdateQuery{Search: fmt.Sprintf("PC-%07d", n/2)}, DeviceQuery{Tab: TabReady, Search: fmt.Sprintf("PC-%07d", n/2)}},
		{"search-rare", UpdateQuery{Search: "0370"}, DeviceQuery{Tab: TabReady, Search: "0370"}},
	}
	for _, c := range cases {
		c.report.Limit, c.blade.Limit = 50, 50
		b.Run(c.name+"/report", func(b *testing.B) {
			b.SetParallelism(4)
			cpu := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					q := c.report
					if err := q.validate(); err != nil {
						b.Error(err)
						return
					}
					if p, err := st.updateReportPage(ctx, q); err != nil || len(p.Rows) == 0 {
						b.Errorf("report page: %d rows, %v", len(p.Rows), err)
						return
					}
				}
			})
			cpuPerOp(b, cpu)
		})
		b.Run(c.name+"/blade", func(b *testing.B) {
			b.SetParallelism(4)
			cpu := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if p, err := st.DevicePage(ctx, c.blade); err != nil || len(p.Rows) == 0 {
						b.Errorf("blade page: %d rows, %v", len(p.Rows), err)
						return
					}
				}
			})
			cpuPerOp(b, cpu)
		})
	}
}

// BenchmarkExportUpdateReport writes the All devices report of every
// registered device as CSV.
func BenchmarkExportUpdateReport(b *testing.B) {
	st := copyFixture(b, benchUpdateFixture(b, benchDevices(b)))
	rows := 0
	cpu := processCPU()
	for b.Loop() {
		var err error
		if rows, err = st.ExportUpdateReport(context.Background(), io.Discard, UpdateQuery{}, CSVOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	cpuPerOp(b, cpu)
	b.ReportMetric(float64(rows), "rows")
}

// BenchmarkDiscoveryUpdates is a discovery of the registered fleet with
// nothing changed, which recomputes the update status too; set beside
// BenchmarkRecomputeUpdates/unchanged it gives the recomputation's share.
func BenchmarkDiscoveryUpdates(b *testing.B) {
	b.Run("unchanged", func(b *testing.B) {
		st := copyFixture(b, benchUpdateFixture(b, benchDevices(b)))
		cpu := processCPU()
		for b.Loop() {
			if _, err := st.Discover(context.Background(), TriggerCLI, "bench", testNow); err != nil {
				b.Fatal(err)
			}
		}
		cpuPerOp(b, cpu)
	})
	// A tenth of the fleet checked in since the last run: the discovery
	// recomputes their update status (BenchmarkRecomputeUpdates/checkins-10pct
	// gives that part's cost).
	b.Run("checkins-10pct", func(b *testing.B) {
		st := copyFixture(b, benchUpdateFixture(b, benchDevices(b)))
		afterCheckins(b, st, func() {
			if _, err := st.Discover(context.Background(), TriggerCLI, "bench", testNow.Add(time.Minute)); err != nil {
				b.Fatal(err)
			}
		})
	})
}
