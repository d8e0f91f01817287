package views_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/a-h/templ"

	"patchboard/store"
	"patchboard/views"
)

// The rendering benchmarks render the Ready blade of 50 rows as the handler
// does: into a pooled buffer, for a signed-in Service Administrator (so the
// row checkboxes render), with the tab's default columns and with every
// column Modify columns offers.

var benchNow = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// benchRows makes n realistic rows of the Ready tab: mostly Active, some
// Readiness failed with their reasons, a few Inactive; rings assigned by
// the service or by an admin.
func benchRows(n int) []store.DeviceRow {
	models := []struct{ make, model string }{
		{"Dell Inc.", "Latitude 7440"}, {"LENOVO", "ThinkPad T14 Gen 4"}, {"HP", "EliteBook 840 G10"},
		{"Microsoft Corporation", "Surface Laptop 5"}, {"Dell Inc.", "OptiPlex 7010"},
	}
	builds := []string{"10.0.22631.4317", "10.0.26100.2314", "10.0.19045.5011", "10.0.22631.4460"}
	reasons := [][]store.CheckID{
		{store.CheckWindowsUpdatePolicy},
		{store.CheckNetworkEndpoints, store.CheckInternetConnectivity},
		{store.CheckOfficeUpdatePolicy, store.CheckWindowsUpdatePolicy, store.CheckNetworkEndpoints},
	}
	rows := make([]store.DeviceRow, n)
	for i := range rows {
		m := models[i%len(models)]
		r := &rows[i]
		r.PK = int64(1000 + i)
		r.DeviceID = fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", 0x3f2a0000+i*7919, i*31, i%4096, (i*17)%4096, 0x5e4d3c2b1a00+i)
		r.DisplayName = fmt.Sprintf("AP-LT-%05d", 123+i*37)
		r.SerialNumber = fmt.Sprintf("PF3K%04dX%d", 7000+i*13, i%10)
		r.Manufacturer, r.Model = m.make, m.model
		r.OS = store.OSWindows
		r.OSVersion = builds[i%len(builds)]
		r.Edition = "Enterprise"
		r.Architecture = store.ArchX64
		r.JoinType = store.JoinEntraJoined
		r.Ownership = store.OwnershipCompany
		r.Management = store.ManagementIntune
		r.DeviceKind = store.KindPhysical
		r.AccountEnabled = true
		r.LastCheckin = benchNow.Add(-time.Duration(1+i*53) * time.Minute)
		r.RegisteredAt = benchNow.Add(-time.Duration(24*(10+i)) * time.Hour)
		r.EvaluatedAt = benchNow.Add(-time.Hour)
		r.DiscoveredVia = "Device Registration"
		r.Status = store.StatusActive
		switch {
		case i%7 == 3:
			r.Status = store.StatusReadinessFailed
			r.Reasons = reasons[i%len(reasons)]
		case i%13 == 5:
			r.Status = store.StatusInactive
			r.Reasons = []store.CheckID{store.CheckInactive}
		}
		r.Ring = store.Rings[i%len(store.Rings)]
		r.RingBy, r.RingAt = store.RingByService, r.RegisteredAt
		if i%5 == 0 {
			r.RingBy, r.RingActor = store.RingByAdmin, "alex.admin@contoso.com"
		}
	}
	return rows
}

// benchView is the Ready blade of 50 rows showing the given columns.
func benchView(keys []string) views.BladeView {
	return views.BladeView{
		Query: views.BladeQuery{Tab: store.TabReady, Size: 50},
		Counts: store.Counts{
			Status: map[store.Status]int{store.StatusActive: 81234, store.StatusReadinessFailed: 9120,
				store.StatusInactive: 3310, store.StatusPrerequisitesFailed: 6001, store.StatusExcluded: 35},
			Rings: store.RingCounts{Test: 912, First: 9364, Fast: 27993, Broad: 55395},
		},
		Columns:    views.ColumnViews(keys),
		AllColumns: views.ColumnViews(store.BladeColumns),
		Page:       store.DevicePage{Rows: benchRows(50), Next: "eyJrIjoiQVAtTFQtMDE5NzMiLCJpZCI6MTA0OX0", Total: 93664},
		LastRun: &store.DiscoveryRun{ID: 412, State: store.RunCompleted, StartedAt: benchNow.Add(-16 * time.Minute),
			FinishedAt: benchNow.Add(-15 * time.Minute), Registered: 12, PrerequisitesFailed: 3, StatusChanges: 40},
		Now:                 benchNow,
		RegistrationGroupID: 7,
	}
}

// benchContext is a request context of a signed-in Service Administrator.
func benchContext() context.Context {
	ctx := views.WithUser(context.Background(), store.User{ID: 1, Email: "sam.admin@contoso.com",
		Name: "Sam Admin", Role: store.RoleServiceAdmin})
	return views.WithCSRF(ctx, "q2S0o1Yv7t8cG3m5JbHk9w")
}

// benchCases are the views the benchmarks render.
var benchCases = []struct {
	name string
	keys []string
}{
	{"default", store.DefaultColumns(store.TabReady)},
	{"all", store.BladeColumns},
}

// renderBench renders comp as handlers.Render does, into a pooled buffer.
func renderBench(b *testing.B, ctx context.Context, comp templ.Component) {
	b.Helper()
	buf := templ.GetBuffer()
	if err := comp.Render(ctx, buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	templ.ReleaseBuffer(buf)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf := templ.GetBuffer()
		if err := comp.Render(ctx, buf); err != nil {
			b.Fatal(err)
		}
		templ.ReleaseBuffer(buf)
	}
}

func BenchmarkDeviceTable(b *testing.B) {
	ctx := benchContext()
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			renderBench(b, ctx, views.DeviceTable(benchView(bc.keys)))
		})
	}
}

func BenchmarkDevicesPage(b *testing.B) {
	ctx := benchContext()
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			renderBench(b, ctx, views.DevicesPage(benchView(bc.keys)))
		})
	}
}

// renderString renders comp for the test's signed-in administrator.
func renderString(t testing.TB, ctx context.Context, comp templ.Component) string {
	t.Helper()
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := comp.Render(ctx, buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
