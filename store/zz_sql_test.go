package store

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// BenchmarkScratchBuildFixture saves the blade fixture to PB_SAVE.
func BenchmarkScratchBuildFixture(b *testing.B) {
	dst := os.Getenv("PB_SAVE")
	if dst == "" {
		b.Skip()
	}
	p := benchBladeFixture(b, benchDevices(b))
	data, _ := os.ReadFile(p)
	os.WriteFile(dst, data, 0o600)
}

// PB_FIXTURE: a saved fixture; PB_SQL: statements separated by ";;", args after "||" separated by "|".
func BenchmarkScratchSQL(b *testing.B) {
	fx := os.Getenv("PB_FIXTURE")
	if fx == "" {
		b.Skip()
	}
	st, err := Open(context.Background(), fx)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for i, s := range strings.Split(os.Getenv("PB_SQL"), ";;") {
		sqlText, argText, _ := strings.Cut(s, "||")
		var args []any
		if argText != "" {
			for _, a := range strings.Split(argText, "|") {
				args = append(args, a)
			}
		}
		b.Run(string(rune('a'+i)), func(b *testing.B) {
			n := 0
			t0 := time.Now()
			for b.Loop() {
				rows, err := st.r.Query(sqlText, args...)
				if err != nil {
					b.Fatal(err)
				}
				n = 0
				for rows.Next() {
					n++
				}
				rows.Close()
			}
			_ = t0
			b.ReportMetric(float64(n), "rows")
		})
	}
}
