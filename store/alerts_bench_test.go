package store

import (
	"context"
	"testing"
)

// BenchmarkEvaluateAlerts is the evaluation of every tenant alert after a
// discovery, on a discovered fleet of benchDevices (issue target: ≤ 100 ms
// at 100,000). It reads counters and single rows, never the devices.
func BenchmarkEvaluateAlerts(b *testing.B) {
	n := benchDevices(b)
	st := copyFixture(b, benchFixture(b, n, true))
	ctx := context.Background()
	for b.Loop() {
		if err := st.EvaluateAlerts(ctx, testNow, true); err != nil {
			b.Fatal(err)
		}
	}
}
