package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// benchMemberCSV is a member file of column key naming devices 1..n of the
// benchmark inventory.
func benchMemberCSV(key string, n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(key + "\n")
	for i := 0; i < n; i++ {
		switch key {
		case "device_id":
			buf.WriteString(benchID(i+1) + "\n")
		case "serial_number":
			fmt.Fprintf(&buf, "SN%08d\n", i)
		case "display_name":
			fmt.Fprintf(&buf, "PC-%07d\n", i)
		}
	}
	return buf.Bytes()
}

func BenchmarkImportMembersPreviewCommit(b *testing.B) {
	n := benchDevices(b)
	path := benchFixture(b, n, false)
	ctx := context.Background()
	for _, key := range memberKeys {
		data := benchMemberCSV(key, n)
		b.Run(key, func(b *testing.B) {
			var prev, commit time.Duration
			for b.Loop() {
				b.StopTimer()
				st := copyFixture(b, path)
				if _, err := st.CreateGroup(ctx, "Import", "", "bench"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				res, err := st.ImportMembers(ctx, "Import", bytes.NewReader(data), "bench", "bench", true)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if res.Added != n {
					b.Fatalf("preview: %+v", res.Added)
				}
				if _, err := st.ImportMembers(ctx, "Import", bytes.NewReader(data), "bench", "bench", false); err != nil {
					b.Fatal(err)
				}
				prev += t1.Sub(t0)
				commit += time.Since(t1)
			}
			b.ReportMetric(prev.Seconds()/float64(b.N), "preview-s")
			b.ReportMetric(commit.Seconds()/float64(b.N), "commit-s")
		})
	}
}

// BenchmarkPreviewDevices previews an inventory of benchDevices new devices
// (the rolled-back upserts of PreviewDevices).
func BenchmarkPreviewDevices(b *testing.B) {
	n := benchDevices(b)
	data := benchInventoryCSV(n)
	ctx := context.Background()
	st := openTestStore(b)
	for b.Loop() {
		res, err := st.PreviewDevices(ctx, bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if res.Inserted != n {
			b.Fatalf("preview: %+v", res)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
