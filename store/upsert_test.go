package store

import (
	"context"
	"testing"
)

// BenchmarkUpsertDevices1000 upserts batches of 1,000 new records, the
// batch size of PUT /api/v1/devices.
func BenchmarkUpsertDevices1000(b *testing.B) {
	st := openTestStore(b)
	n := 0
	for b.Loop() {
		devs := make([]*Device, 1000)
		for i := range devs {
			n++
			devs[i] = healthy(n)
		}
		if _, err := st.UpsertDevices(context.Background(), devs, "bench", "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}

// TestUpsertDevicesBatches checks the counts when records go through both
// the batched statement and the one-record tail.
func TestUpsertDevicesBatches(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	devs := make([]*Device, 2*upsertBatch+5)
	for i := range devs {
		devs[i] = healthy(i + 1)
	}
	res, err := st.UpsertDevices(ctx, devs, "test", "tester")
	if err != nil || res != (ImportResult{Rows: len(devs), Inserted: len(devs)}) {
		t.Fatalf("first: %+v %v", res, err)
	}
	// Three changed (one in each batch and one in the tail), new ones at
	// both ends.
	for _, i := range []int{0, upsertBatch + 1, 2*upsertBatch + 4} {
		devs[i].Model = "Latitude 5450"
	}
	devs = append([]*Device{healthy(1000)}, devs...)
	devs = append(devs, healthy(1001))
	res, err = st.UpsertDevices(ctx, devs, "test", "tester")
	want := ImportResult{Rows: len(devs), Inserted: 2, Updated: 3, Unchanged: len(devs) - 5}
	if err != nil || res != want {
		t.Fatalf("second: %+v %v, want %+v", res, err, want)
	}
	if d := mustDevice(t, st, devs[upsertBatch+2].DeviceID); d.Model != "Latitude 5450" {
		t.Errorf("batched update not written: %q", d.Model)
	}
	var n int
	st.r.QueryRowContext(ctx, `SELECT count(*) FROM devices`).Scan(&n)
	if n != len(devs) {
		t.Errorf("%d devices stored, want %d", n, len(devs))
	}
}
