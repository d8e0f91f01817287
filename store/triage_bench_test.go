package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkTriage measures the blades' triage tools at the benchmark's
// fleet size (100,000 devices): a failing-check filter and its chips, a
// pasted list of 10,000 serial numbers (saved, then its first page), and a
// rule filter's first page — with the directory unchanged since the last
// rule (the lean copy kept) and right after a change (the copy re-read).
func BenchmarkTriage(b *testing.B) {
	n := benchDevices(b)
	st := copyFixture(b, benchBladeFixture(b, n))
	ctx := context.Background()
	run := func(name string, fn func(i int) (DevicePage, error)) {
		b.Run(name, func(b *testing.B) {
			var p DevicePage
			cpu := processCPU()
			i := 0
			for b.Loop() {
				var err error
				if p, err = fn(i); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(len(p.Rows)), "rows")
			b.ReportMetric(float64(p.Total), "total")
		})
	}
	checks, err := st.FailingChecks(ctx, TabNotRegistered)
	if err != nil || len(checks) == 0 {
		b.Fatalf("failing checks: %v %v", checks, err)
	}
	b.Run("chips=not-registered", func(b *testing.B) {
		for b.Loop() {
			// A commit in between: the counts are read again, as after a discovery.
			if err := st.Record(ctx, AuditEntry{Actor: "bench", Action: "bench"}); err != nil {
				b.Fatal(err)
			}
			if _, err := st.FailingChecks(ctx, TabNotRegistered); err != nil {
				b.Fatal(err)
			}
		}
	})
	run("check=most-failed", func(int) (DevicePage, error) {
		if err := st.Record(ctx, AuditEntry{Actor: "bench", Action: "bench"}); err != nil { // no kept page
			return DevicePage{}, err
		}
		return st.DevicePage(ctx, DeviceQuery{Tab: TabNotRegistered, Check: checks[0].Check, Limit: 50})
	})
	serials := make([]string, 0, MaxListEntries)
	for i := range MaxListEntries {
		serials = append(serials, fmt.Sprintf("SN%08d", (i*7919)%n))
	}
	text := strings.Join(serials, "\n")
	run("list=10000-serials", func(int) (DevicePage, error) {
		entries, err := ParseDeviceList(text)
		if err != nil {
			return DevicePage{}, err
		}
		l, err := st.SaveDeviceList(ctx, 1, entries, time.Now())
		if err != nil {
			return DevicePage{}, err
		}
		return st.DevicePage(ctx, DeviceQuery{Tab: TabReady, List: l.ID, Limit: 50})
	})
	run("rule=kept-directory", func(i int) (DevicePage, error) {
		return st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Rule: fmt.Sprintf(`device.displayName -startsWith "PC-%02d"`, i%100), Limit: 50})
	})
	run("rule=after-a-change", func(i int) (DevicePage, error) {
		if err := st.Record(ctx, AuditEntry{Actor: "bench", Action: "bench"}); err != nil {
			return DevicePage{}, err
		}
		return st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Rule: `device.deviceModel -startsWith "Latitude" -and device.deviceOSVersion -startsWith "10.0.2"`, Limit: 50})
	})
}
