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
			logged := false
			for b.Loop() {
				rows, err := st.r.Query(sqlText, args...)
				if err != nil {
					b.Fatal(err)
				}
				n = 0
				cols, _ := rows.Columns()
				for rows.Next() {
					if n < 3 && !logged {
						vals := make([]any, len(cols))
						ptrs := make([]any, len(cols))
						for i := range vals {
							ptrs[i] = &vals[i]
						}
						rows.Scan(ptrs...)
						b.Logf("row: %v", vals)
					}
					n++
				}
				logged = true
				rows.Close()
			}
			_ = t0
			b.ReportMetric(float64(n), "rows")
		})
	}
}

// PB_FIXTURE + PB_Q (tab|search|sort|desc) : DevicePage loop.
func BenchmarkScratchPage(b *testing.B) {
	fx := os.Getenv("PB_FIXTURE")
	if fx == "" || os.Getenv("PB_Q") == "" {
		b.Skip()
	}
	st, err := Open(context.Background(), fx)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for i, spec := range strings.Split(os.Getenv("PB_Q"), ";;") {
		f := strings.Split(spec, "|")
		q := DeviceQuery{Tab: Tab(f[0]), Limit: 50}
		if len(f) > 1 {
			q.Search = f[1]
		}
		if len(f) > 2 {
			q.Sort = f[2]
		}
		if len(f) > 3 {
			q.Desc = f[3] == "desc"
		}
		b.Run(string(rune('a'+i)), func(b *testing.B) {
			var p DevicePage
			cpu := processCPU()
			for b.Loop() {
				p, err = st.DevicePage(context.Background(), q)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(len(p.Rows)), "rows")
			b.ReportMetric(float64(p.Total), "total")
		})
	}
}
