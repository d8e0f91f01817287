package store

import (
	"context"
	"os"
	"strings"
	"testing"
)

func BenchmarkScratchProjection(b *testing.B) {
	fx := os.Getenv("PB_FIXTURE")
	if fx == "" {
		b.Skip()
	}
	st, err := Open(context.Background(), fx)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	p := projectionOf(nil)
	var parts []string
	for _, c := range p.cols {
		parts = append(parts, "ifnull(d."+c.name+", '')")
	}
	cw := "d.id, concat_ws(char(31), " + strings.Join(parts, ", ") + ")"
	var cols []string
	for _, c := range p.cols {
		cols = append(cols, "d."+c.name)
	}
	many := "d.id, " + strings.Join(cols, ", ")
	for name, sel := range map[string]string{"concat": p.sql, "concat_ws": cw, "id-only": "d.id, ''", "columns": many} {
		b.Run(name, func(b *testing.B) {
			q := "SELECT " + sel + " FROM devices d INDEXED BY devices_tab_name WHERE d.status IS NOT NULL AND d.tab = 'ready' ORDER BY d.display_name COLLATE NOCASE, d.id LIMIT 51"
			stmt, err := st.r.Prepare(q)
			if err != nil {
				b.Fatal(err)
			}
			cpu := processCPU()
			var first string
			for b.Loop() {
				rows, err := stmt.Query()
				if err != nil {
					b.Fatal(err)
				}
				cols, _ := rows.Columns()
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				for rows.Next() {
					if len(cols) > 2 {
						rows.Scan(ptrs...)
						continue
					}
					var id int64
					var s string
					rows.Scan(&id, &s)
					if first == "" {
						first = s
					}
				}
				rows.Close()
			}
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")

		})
	}
}
