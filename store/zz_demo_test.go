package store_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/demo"
)

// PB_DEMO_SAVE: build a demo fleet DB there (PB_DEMO_N devices), synced.
func TestScratchDemoFleet(t *testing.T) {
	dst := os.Getenv("PB_DEMO_SAVE")
	if dst == "" {
		t.Skip()
	}
	n, _ := strconv.Atoi(os.Getenv("PB_DEMO_N"))
	ctx := context.Background()
	st, err := store.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	t0 := time.Now()
	if _, err := demo.Load(ctx, st, demo.Generate(demo.Options{Devices: n, Seed: 1, Now: now}), now); err != nil {
		t.Fatal(err)
	}
	t.Logf("load %v", time.Since(t0))
	t0 = time.Now()
	if err := st.SyncSearchIndex(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("sync %v", time.Since(t0))
}
