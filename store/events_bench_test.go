package store

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// BenchmarkDiscoveryEvents: a discovery that moves 20,000 devices between
// tabs (and gives each a ring) writes 80 batched events; issue 13 asks that
// writing them take at most 10 % of the discovery. The events' share is
// measured by writing the same 40,000 changes through deviceEvents alone,
// in one transaction that is rolled back, and reported beside the run.
func BenchmarkDiscoveryEvents(b *testing.B) {
	const n = 20_000
	ctx := context.Background()
	var runWall, runCPU, evWall, evCPU time.Duration
	for range b.N {
		b.StopTimer()
		st := openTestStore(b)
		devs := make([]*Device, n)
		for i := range devs {
			devs[i] = healthy(i + 1)
		}
		mustUpsert(b, st, devs...)
		mustAddMembers(b, st, RegistrationGroupName, devs...)
		b.StartTimer()

		start, cpu := time.Now(), processCPU()
		mustDiscover(b, st, testNow)
		runWall, runCPU = runWall+time.Since(start), runCPU+processCPU()-cpu

		b.StopTimer()
		changes := make([]DeviceChange, n)
		for i, d := range devs {
			changes[i] = DeviceChange{DeviceID: d.DeviceID, DisplayName: d.DisplayName, SerialNumber: d.SerialNumber, From: "", To: string(TabReady)}
		}
		tx, err := st.begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		start, cpu = time.Now(), processCPU()
		for _, typ := range []EventType{EventDeviceTabChanged, EventDeviceRingChanged} {
			ev := newDeviceEvents(typ, "discovery/1", testNow)
			for _, c := range changes {
				if err := ev.add(ctx, tx, c); err != nil {
					b.Fatal(err)
				}
			}
			if err := ev.flush(ctx, tx); err != nil {
				b.Fatal(err)
			}
		}
		evWall, evCPU = evWall+time.Since(start), evCPU+processCPU()-cpu
		if err := tx.Rollback(); err != nil && err != sql.ErrTxDone {
			b.Fatal(err)
		}
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(runWall.Milliseconds())/float64(b.N), "discovery-ms")
	b.ReportMetric(float64(runCPU.Milliseconds())/float64(b.N), "discovery-cpu-ms")
	b.ReportMetric(float64(evWall.Microseconds())/1000/float64(b.N), "events-ms")
	b.ReportMetric(float64(evCPU.Microseconds())/1000/float64(b.N), "events-cpu-ms")
	b.ReportMetric(100*evWall.Seconds()/runWall.Seconds(), "events-%")
	b.ReportMetric(100*evCPU.Seconds()/max(runCPU.Seconds(), 1e-9), "events-cpu-%")
}
