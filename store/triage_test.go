package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCheckFilter narrows blades to the devices failing one check, with
// searches, sorts, pages and exports, against the devices' own results.
func TestCheckFilter(t *testing.T) {
	st, _ := bladeFleet(t, 120)
	ctx := context.Background()
	failing := func(tab Tab, check CheckID) []string {
		var ids []string
		for _, r := range allRows(t, st, DeviceQuery{Tab: tab}) {
			rec := mustDevice(t, st, r.DeviceID)
			for _, c := range rec.Checks() {
				if c.Check == check && !c.Passed {
					ids = append(ids, r.DeviceID)
				}
			}
		}
		slices.Sort(ids)
		return ids
	}
	var checked int
	for _, tab := range []Tab{TabNotRegistered, TabNotReady} {
		for _, check := range allCheckIDs {
			want := failing(tab, check)
			q := DeviceQuery{Tab: tab, Check: check, Limit: 7, Sort: "serial_number"}
			var got []string
			for {
				page, err := st.DevicePage(ctx, q)
				if err != nil {
					t.Fatalf("%s %s: %v", tab, check, err)
				}
				if page.Total != len(want) || page.Capped {
					t.Fatalf("%s %s: total %d (capped %v), want %d", tab, check, page.Total, page.Capped, len(want))
				}
				for _, r := range page.Rows {
					got = append(got, r.DeviceID)
				}
				if page.Next == "" {
					break
				}
				q.After = page.Next
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: %v, want %v", tab, check, got, want)
			}
			checked += len(want)
		}
	}
	if checked == 0 {
		t.Fatal("no device fails any check: the test checks nothing")
	}
	if _, err := st.DevicePage(ctx, DeviceQuery{Tab: TabNotReady, Check: "no-such-check"}); err == nil {
		t.Error("an unknown check is accepted")
	}
}

// TestPastedList keeps the devices a pasted list names by name, serial
// number or device ID, in any case, lists the entries that name no device,
// and refuses lists that are empty or too long.
func TestPastedList(t *testing.T) {
	st, devs := bladeFleet(t, 30)
	ctx := context.Background()
	text := devs[0].DisplayName + "\n" + "sn000005" + "\r\n" + devs[9].DeviceID + ",  no-such-device ;" + devs[0].DisplayName
	entries, err := ParseDeviceList(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		t.Fatalf("entries %q, want 4 (the repeat dropped)", entries)
	}
	l, err := st.SaveDeviceList(ctx, 1, entries, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.NotFound, []string{"no-such-device"}) {
		t.Errorf("not found %q", l.NotFound)
	}
	var got []string
	for _, tab := range Tabs {
		for _, r := range allRows(t, st, DeviceQuery{Tab: tab, List: l.ID}) {
			got = append(got, r.DeviceID)
		}
	}
	slices.Sort(got)
	want := []string{devs[0].DeviceID, devs[4].DeviceID, devs[9].DeviceID}
	for _, d := range devs {
		if d.DisplayName == devs[0].DisplayName && d.DeviceID != devs[0].DeviceID {
			want = append(want, d.DeviceID) // a shared name names every device that has it
		}
	}
	want = slices.Compact(slices.Sorted(slices.Values(want)))
	if !slices.Equal(got, want) {
		t.Errorf("list shows %v, want %v", got, want)
	}
	if _, err := ParseDeviceList(" \n ,"); err == nil {
		t.Error("an empty list is accepted")
	}
	long := make([]byte, 0, (MaxListEntries+1)*8)
	for i := range MaxListEntries + 1 {
		long = append(long, []byte(testID(i)[28:]+"\n")...)
	}
	if _, err := ParseDeviceList(string(long)); err == nil {
		t.Error("a list past the limit is accepted")
	}
	if _, err := st.DeviceListByID(ctx, l.ID+100); err == nil {
		t.Error("an unknown list is found")
	}
	// A week later the list is gone.
	if _, err := st.SaveDeviceList(ctx, 1, []string{"x"}, testNow.Add(8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeviceListByID(ctx, l.ID); err == nil {
		t.Error("a list older than a week is still kept")
	}
}

// TestFailingChecks counts each tab's devices per failing check, the same
// as the check filter finds them.
func TestFailingChecks(t *testing.T) {
	st, _ := bladeFleet(t, 120)
	ctx := context.Background()
	for _, tab := range []Tab{TabNotRegistered, TabNotReady, TabReady} {
		counts, err := st.FailingChecks(ctx, tab)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range counts {
			page, err := st.DevicePage(ctx, DeviceQuery{Tab: tab, Check: c.Check, Limit: 1})
			if err != nil || page.Total != c.N || c.N == 0 {
				t.Errorf("%s %s: counted %d, the filter finds %d (%v)", tab, c.Check, c.N, page.Total, err)
			}
			if i > 0 && counts[i-1].N < c.N {
				t.Errorf("%s: %v is not most failed first", tab, counts)
			}
		}
		if tab != TabReady && len(counts) == 0 {
			t.Errorf("%s: no failing checks counted", tab)
		}
	}
}

// TestRuleFilter narrows blades with a rule of the membership-rule
// language, with the blade's own filters and sorts, and refuses a rule
// that does not parse with the parser's message.
func TestRuleFilter(t *testing.T) {
	st, _ := bladeFleet(t, 120)
	ctx := context.Background()
	for _, tab := range Tabs {
		var want []string
		for _, r := range allRows(t, st, DeviceQuery{Tab: tab}) {
			if strings.HasPrefix(strings.ToLower(r.Model), "latitude") {
				want = append(want, r.DeviceID)
			}
		}
		var got []string
		for _, r := range allRows(t, st, DeviceQuery{Tab: tab, Rule: `device.deviceModel -startsWith "Latitude"`}) {
			got = append(got, r.DeviceID)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d devices, want %d", tab, len(got), len(want))
		}
		page, err := st.DevicePage(ctx, DeviceQuery{Tab: tab, Rule: `device.deviceModel -startsWith "Latitude"`, Limit: 5, Sort: "last_checkin"})
		if err != nil || page.Total != len(want) {
			t.Errorf("%s: page total %d (%v), want %d", tab, page.Total, err, len(want))
		}
	}
	_, err := st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Rule: `device.deviceModel -startsWith`, Limit: 5})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("a rule that does not parse: %v", err)
	}
}

// TestRuleFilterRing narrows the Ready blade with the example, which
// reads the ring: exactly the Latitudes of the Broad ring, as the blade's own
// Ring filter finds them; the rule preview of the filter counts them too,
// while a group rule that reads the ring is refused and says why.
func TestRuleFilterRing(t *testing.T) {
	st, _ := bladeFleet(t, 120)
	ctx := context.Background()
	if _, err := st.AssignRing(ctx, RingFast, []string{allRows(t, st, DeviceQuery{Tab: TabReady, Ring: RingBroad})[0].DeviceID}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	const example = `device.deviceModel -startsWith "Latitude" -and ring -eq "broad"`
	var want []string
	for _, r := range allRows(t, st, DeviceQuery{Tab: TabReady, Ring: RingBroad}) {
		if strings.HasPrefix(strings.ToLower(r.Model), "latitude") {
			want = append(want, r.DeviceID)
		}
	}
	if len(want) == 0 {
		t.Fatal("the fleet has no Latitude in the Broad ring")
	}
	var got []string
	for _, r := range allRows(t, st, DeviceQuery{Tab: TabReady, Rule: example}) {
		got = append(got, r.DeviceID)
		if r.Ring != RingBroad {
			t.Errorf("%s is in the %s ring", r.DisplayName, r.Ring)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("rule filter: %d devices, want %d", len(got), len(want))
	}
	// The preview counts the directory, every tab.
	everywhere := 0
	for _, tab := range Tabs {
		for _, r := range allRows(t, st, DeviceQuery{Tab: tab, Ring: RingBroad}) {
			if strings.HasPrefix(strings.ToLower(r.Model), "latitude") {
				everywhere++
			}
		}
	}
	p, err := st.PreviewFilterRule(ctx, example, 20)
	if err != nil || p.Matches != everywhere {
		t.Errorf("filter preview: %d matches (%v), want %d", p.Matches, err, everywhere)
	}
	none, err := st.DevicePage(ctx, DeviceQuery{Tab: TabNotRegistered, Rule: `ring -ne null`, Limit: 5})
	if err != nil || none.Total != 0 {
		t.Errorf("Not registered devices with a ring: %d (%v)", none.Total, err)
	}
	var re *RuleError
	if _, err := st.DevicePage(ctx, DeviceQuery{Tab: TabReady, Rule: `ring -eq "brod"`, Limit: 5}); !errors.As(err, &re) || !strings.Contains(re.Syntax.Msg, `unknown ring "brod"`) {
		t.Errorf("a misspelt ring: %v", err)
	}
	if _, err := st.PreviewRule(ctx, example, 20); !errors.As(err, &re) || !strings.Contains(re.Syntax.Msg, "not by a group rule") {
		t.Errorf("group rule preview with ring: %v", err)
	}
	if _, err := st.CreateGroup(ctx, "Broad Latitudes", example, "admin@example.com"); !errors.As(err, &re) {
		t.Errorf("group with a ring rule: %v", err)
	}
}
