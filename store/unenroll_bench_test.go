package store

import (
	"context"
	"testing"
	"time"
)

// BenchmarkUnenroll carries out an unenrollment of a discovered fleet of
// benchDevices (issue target: ≤ 30 s at 100,000): every device
// deregistered, rings, checks and update statuses removed, audited with
// every device named. Each iteration works on a fresh copy of the fleet.
func BenchmarkUnenroll(b *testing.B) {
	n := benchDevices(b)
	fixture := benchFixture(b, n, true)
	ctx := context.Background()
	var cpu time.Duration
	devices := 0
	for b.Loop() {
		b.StopTimer()
		st := copyFixture(b, fixture)
		if err := st.SetOrganisationName(ctx, "Bench", "bench", testNow); err != nil {
			b.Fatal(err)
		}
		u, err := st.RequestUnenrollment(ctx, "Bench", "bench", testNow)
		if err != nil {
			b.Fatal(err)
		}
		before := processCPU()
		b.StartTimer()
		if did, err := st.CompleteDueUnenrollment(ctx, u.DueAt); err != nil || !did {
			b.Fatalf("did %v, %v", did, err)
		}
		b.StopTimer()
		cpu += processCPU() - before
		done, err := st.Unenrollment(ctx)
		if err != nil {
			b.Fatal(err)
		}
		devices = done.Devices
		b.StartTimer()
	}
	b.ReportMetric(float64(devices), "devices")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}
