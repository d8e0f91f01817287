package store

import (
	"context"
	"testing"
)

// BenchmarkEvaluateAlerts is the evaluation of every tenant alert after a
// discovery, on a discovered fleet of benchDevices (issue target: ≤ 100 ms
// at 100,000). It reads counters, single rows and small tables, never the
// devices.
func BenchmarkEvaluateAlerts(b *testing.B) {
	n := benchDevices(b)
	st := copyFixture(b, benchFixture(b, n, true))
	ctx := context.Background()
	cpu := processCPU()
	for b.Loop() {
		if err := st.EvaluateAlerts(ctx, testNow, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}
