package store

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestScratchExec(t *testing.T) {
	fx := os.Getenv("PB_FIXTURE")
	if fx == "" {
		t.Skip()
	}
	st, err := Open(context.Background(), fx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Now()
	if _, err := st.w.Exec(os.Getenv("PB_EXEC")); err != nil {
		t.Fatal(err)
	}
	t.Logf("exec took %v", time.Since(t0))
}
