package views_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"patchboard/store"
	"patchboard/views"
)

func parseHTML(t *testing.T, s string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestDeviceTableEscapesRowValues renders values an attacker could put in
// the inventory (an import, a directory sync) and checks they come out as
// text, in element content and in attributes alike.
func TestDeviceTableEscapesRowValues(t *testing.T) {
	const evil = `<script>"x"&`
	v := benchView(store.BladeColumns)
	v.Page.Rows = v.Page.Rows[:2]
	r := &v.Page.Rows[0]
	r.DisplayName = evil
	r.DeviceID = `3f2a0000-"><b>` // not a GUID the import would take, but escaped all the same
	r.SerialNumber, r.Model, r.Manufacturer = evil+"1", evil+"2", evil+"3"
	r.RingBy, r.RingActor = store.RingByAdmin, `eve"<i>'@example.com`
	r.Status = store.Status(`active" onclick="x`)

	out := renderString(t, benchContext(), views.DeviceTable(v))
	for _, raw := range []string{"<script>", `"x"`, "<b>", "<i>", `" onclick=`} {
		if strings.Contains(out, raw) {
			t.Errorf("rendered table contains %q unescaped", raw)
		}
	}
	if !strings.Contains(out, "&lt;script&gt;&#34;x&#34;&amp;") {
		t.Errorf("rendered table lacks the escaped display name")
	}

	doc := parseHTML(t, out)
	row := doc.Find(`[data-testid="device-row"]`).First()
	if got, _ := row.Attr("data-device-id"); got != r.DeviceID {
		t.Errorf("data-device-id = %q, want %q", got, r.DeviceID)
	}
	sel := row.Find(`[data-testid="row-select"]`)
	if got, _ := sel.Attr("aria-label"); got != "Select "+evil {
		t.Errorf("row-select aria-label = %q, want %q", got, "Select "+evil)
	}
	if got, _ := sel.Attr("value"); got != r.DeviceID {
		t.Errorf("row-select value = %q, want %q", got, r.DeviceID)
	}
	link := row.Find(`[data-testid="device-link"]`)
	if got := link.Text(); got != evil {
		t.Errorf("device-link text = %q, want %q", got, evil)
	}
	for _, attr := range []string{"href", "hx-get"} {
		if got, _ := link.Attr(attr); got != "/devices/"+r.DeviceID {
			t.Errorf("device-link %s = %q, want %q", attr, got, "/devices/"+r.DeviceID)
		}
	}
	if got, _ := row.Find(`[data-testid="cell-status"]`).Attr("class"); got != "status "+string(r.Status) {
		t.Errorf("status class = %q, want %q", got, "status "+string(r.Status))
	}
	for key, want := range map[string]string{
		"serial_number":    evil + "1",
		"model":            evil + "2",
		"manufacturer":     evil + "3",
		"ring_assigned_by": "Admin (" + r.RingActor + ")",
	} {
		if got := row.Find(`[data-testid="cell-` + key + `"]`).Text(); got != want {
			t.Errorf("cell-%s = %q, want %q", key, got, want)
		}
	}
	if n := doc.Find("script, b, i").Length(); n != 0 {
		t.Errorf("%d injected elements parsed from the table", n)
	}
}

// TestDeviceTableCells checks every row's cells against Cell, for every
// column the blades offer.
func TestDeviceTableCells(t *testing.T) {
	v := benchView(store.BladeColumns)
	doc := parseHTML(t, renderString(t, benchContext(), views.DeviceTable(v)))
	rows := doc.Find(`[data-testid="device-row"]`)
	if rows.Length() != len(v.Page.Rows) {
		t.Fatalf("%d rows rendered, want %d", rows.Length(), len(v.Page.Rows))
	}
	rows.Each(func(i int, row *goquery.Selection) {
		r := &v.Page.Rows[i]
		if got, _ := row.Attr("data-device-id"); got != r.DeviceID {
			t.Errorf("row %d: data-device-id = %q, want %q", i, got, r.DeviceID)
		}
		if n := row.Find("td").Length(); n != len(v.Columns)+1 {
			t.Errorf("row %d: %d cells, want %d columns and the checkbox", i, n, len(v.Columns))
		}
		for _, c := range v.Columns {
			testid := "cell-" + c.Key
			if c.Key == "display_name" {
				testid = "device-link"
			}
			cell := row.Find(`[data-testid="` + testid + `"]`)
			if cell.Length() != 1 {
				t.Errorf("row %d: %d %s cells", i, cell.Length(), testid)
				continue
			}
			if got, want := cell.Text(), views.Cell(r, c.Key); got != want {
				t.Errorf("row %d: %s = %q, want %q", i, testid, got, want)
			}
		}
	})
	if got := doc.Find(`[data-testid="cell-reasons"]`).FilterFunction(func(_ int, s *goquery.Selection) bool {
		return strings.Contains(s.Text(), "more)")
	}).Length(); got == 0 {
		t.Errorf("no row shows further reasons as (+N more)")
	}
}

// TestDeviceTableReaderHasNoRowSelection: the checkboxes are for those who
// may act on devices.
func TestDeviceTableReaderHasNoRowSelection(t *testing.T) {
	tests := []struct {
		role store.Role
		want bool
	}{
		{store.RoleServiceAdmin, true},
		{store.RoleServiceReader, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			ctx := views.WithUser(context.Background(), store.User{ID: 2, Email: "r@example.com", Role: tt.role})
			doc := parseHTML(t, renderString(t, ctx, views.DeviceTable(benchView(store.DefaultColumns(store.TabReady)))))
			n := doc.Find(`[data-testid="row-select"]`).Length()
			if got := n > 0; got != tt.want {
				t.Errorf("%d row checkboxes, want any: %v", n, tt.want)
			}
			if tt.want && n != 50 {
				t.Errorf("%d row checkboxes, want 50", n)
			}
		})
	}
}

// TestDiscoveryProgress renders a run as it goes: first reading the
// registration group (no total yet: no "0 of 0"), then checking devices
// with the count and the share, with Discover devices disabled beside it
// (swapped out of band); a finished run enables the button again and
// counts what it newly registered.
func TestDiscoveryProgress(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		run          store.DiscoveryRun
		wantText     string
		wantDisabled bool
	}{
		{"reading", store.DiscoveryRun{ID: 7, State: store.RunRunning}, "reading the Device Registration group", true},
		{"checking", store.DiscoveryRun{ID: 7, State: store.RunRunning, Total: 61294, Processed: 20150}, "checking 20,150 of 61,294 devices — 32 %", true},
		{"done", store.DiscoveryRun{ID: 7, State: store.RunCompleted, FinishedAt: now, Registered: 3, PrerequisitesFailed: 2}, "3 newly registered, 2 not registered", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := parseHTML(t, renderString(t, benchContext(), views.DiscoveryProgress(&tt.run, now)))
			if got := doc.Find(`[data-testid="discovery-status"]`).Text(); !strings.Contains(got, tt.wantText) {
				t.Errorf("banner %q, want it to say %q", strings.Join(strings.Fields(got), " "), tt.wantText)
			}
			if strings.Contains(doc.Text(), "0 of 0") {
				t.Error("the banner says 0 of 0")
			}
			btn := doc.Find(`[data-testid="discover"]`)
			if _, oob := btn.Attr("hx-swap-oob"); btn.Length() != 1 || !oob {
				t.Fatalf("the Discover devices button is not swapped beside the banner")
			}
			if _, disabled := btn.Attr("disabled"); disabled != tt.wantDisabled {
				t.Errorf("Discover devices disabled = %v, want %v", disabled, tt.wantDisabled)
			}
		})
	}
}

// TestPagerCounts: an exact count says "51–100 of 8,214 devices" with the
// last page; a count that stopped says "more than 10,000", offers no Last,
// and lets Go to page reach the pages it counted, not beyond.
func TestPagerCounts(t *testing.T) {
	tests := []struct {
		name      string
		total     int
		capped    bool
		page      int
		wantRange string
		wantPos   string
		wantJump  int
	}{
		{"exact", 8214, false, 2, "51–100 of 8,214 devices", "Page 2 of 165", 165},
		{"capped", store.BladeCountCap, true, 1, "1–50 of more than 10,000 devices", "Page 1 of more than 200", 200},
		{"capped, past the count", store.BladeCountCap, true, 203, "10,101–10,150 of more than 10,000 devices", "Page 203", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := views.BladeView{Query: views.BladeQuery{Tab: store.TabReady, Size: 50, Page: tt.page},
				Page: store.DevicePage{Rows: make([]store.DeviceRow, 50), Total: tt.total, Capped: tt.capped}}
			p := v.Pager()
			if got := p.Range(); got != tt.wantRange {
				t.Errorf("Range() = %q, want %q", got, tt.wantRange)
			}
			if got := p.Position(); got != tt.wantPos {
				t.Errorf("Position() = %q, want %q", got, tt.wantPos)
			}
			if got := p.JumpMax(); got != tt.wantJump {
				t.Errorf("JumpMax() = %d, want %d", got, tt.wantJump)
			}
		})
	}
}
