package store

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestScratchMerge(t *testing.T) {
	fx := os.Getenv("PB_FIXTURE")
	if fx == "" {
		t.Skip()
	}
	n, _ := strconv.Atoi(os.Getenv("PB_MERGE"))
	st, err := Open(context.Background(), fx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Now()
	steps := 0
	for {
		var before, after int64
		st.w.QueryRow(`SELECT total_changes()`).Scan(&before)
		if _, err := st.w.Exec(`INSERT INTO devices_fts(devices_fts, rank) VALUES('merge', ?)`, n); err != nil {
			t.Fatal(err)
		}
		st.w.QueryRow(`SELECT total_changes()`).Scan(&after)
		steps++
		if after-before < 2 {
			break
		}
	}
	t.Logf("merge %d: %d steps in %v", n, steps, time.Since(t0))
}
