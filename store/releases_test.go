package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// patchMonth registers 20 devices on 26100.7000 (two moved to Test) at the
// morning of Patch Tuesday and returns the store, the clock and the Test
// devices' IDs.
func patchMonth(t *testing.T) (*Store, time.Time, []string) {
	t.Helper()
	st := openTestStore(t)
	now := at(2026, 12, 8, 9, 0)
	var devs []*Device
	for i := range 20 {
		devs = append(devs, healthy(i+1, func(d *Device) {
			d.OSVersion, d.LastCheckin = "10.0.26100.7000", now.Add(-time.Hour)
		}))
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, "Device Registration", devs...)
	mustDiscover(t, st, now)
	test := []string{devs[0].DeviceID, devs[1].DeviceID}
	if _, err := st.AssignRing(context.Background(), RingTest, test, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecomputeUpdates(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	return st, now, test
}

// checkIn makes every device check in at when (stale check-ins make them
// Ineligible) and recomputes the update status then.
func checkIn(t *testing.T, st *Store, when time.Time) {
	t.Helper()
	for i := range 20 {
		d := mustDevice(t, st, testID(i+1)).Device
		d.LastCheckin = when
		mustUpsert(t, st, &d)
	}
	if _, err := st.RecomputeUpdates(context.Background(), when); err != nil {
		t.Fatal(err)
	}
}

func summaryOf(t *testing.T, st *Store, kind UpdateKind) map[Ring]UpdateRingCounts {
	t.Helper()
	sum, err := st.UpdateSummary(context.Background(), kind)
	if err != nil {
		t.Fatal(err)
	}
	out := map[Ring]UpdateRingCounts{}
	for _, c := range sum.Rings {
		out[c.Ring] = c
	}
	return out
}

func TestReleaseLifecycle(t *testing.T) {
	ctx := context.Background()
	st, now, test := patchMonth(t)

	// No release names 26100 yet: every device is on an unsupported build.
	if c := summaryOf(t, st, KindQuality)[""]; c.Devices != 20 || c.Ineligible != 20 {
		t.Fatalf("before any release: %+v, want 20 ineligible", c)
	}

	rel, err := st.AddRelease(ctx, NewRelease{Name: "2026-12 B", Date: patchTuesday,
		Builds: []BuildRevision{{26100, 7462}, {22631, 6345}}}, "admin@example.com", now)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Classification != ClassSecurity {
		t.Errorf("classification %q, want security by default", rel.Classification)
	}
	_, err = st.AddRelease(ctx, NewRelease{Name: "2026-12 b", Date: patchTuesday, Builds: []BuildRevision{{26100, 1}}}, "x", now)
	wantErrIs(t, err, ErrConflict)

	sum := summaryOf(t, st, KindQuality)
	if c := sum[RingTest]; c.Devices != 2 || c.InProgress != 2 || c.Latest != "2026-12 B" {
		t.Errorf("Test on release day: %+v, want 2 in progress on 2026-12 B", c)
	}
	if c := sum[RingBroad]; c.UpToDate != c.Devices || c.Devices == 0 {
		t.Errorf("Broad on release day: %+v, want all up to date (not offered yet)", c)
	}
	u, err := st.DeviceUpdate(ctx, test[0])
	if err != nil {
		t.Fatal(err)
	}
	if u.Target != (BuildRevision{26100, 7462}) || u.Release != "2026-12 B" || !u.OfferAt.Equal(patchTuesday) || u.Sub != SubInProgress {
		t.Errorf("Test device's update: %+v", u)
	}

	// Test shows trouble: pause Broad.
	if _, err := st.PauseRings(ctx, []Ring{RingBroad}, KindQuality, "", "admin@example.com", now); !strings.Contains(fmt.Sprint(err), "reason") {
		t.Errorf("pause without a reason: %v", err)
	}
	pauses, err := st.PauseRings(ctx, []Ring{RingBroad}, KindQuality, "Test shows trouble", "admin@example.com", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if p := pauses[0]; !p.Until.Equal(now.Add(time.Hour + 35*day)) {
		t.Errorf("pause until %s, want 35 days", p.Until)
	}
	_, err = st.PauseRings(ctx, []Ring{RingBroad}, KindQuality, "again", "admin@example.com", now.Add(2*time.Hour))
	wantErrIs(t, err, ErrConflict)
	board, err := st.ReleaseBoard(ctx, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := board.Pause(RingBroad, KindQuality); !ok || p.Reason != "Test shows trouble" || p.By != "admin@example.com" {
		t.Errorf("board pause: %+v, %v", p, ok)
	}
	if states := offerStates(board.Releases[0]); states != "Offered Scheduled Scheduled Paused" {
		t.Errorf("states Test..Broad = %s", states)
	}

	// The Broad offer day passes while paused: nothing offered.
	later := at(2026, 12, 18, 9, 0)
	checkIn(t, st, later)
	if c := summaryOf(t, st, KindQuality)[RingBroad]; c.UpToDate != c.Devices {
		t.Errorf("Broad while paused past its offer day: %+v", c)
	}
	// Resume: the held offer is made now.
	if _, err := st.ResumeRings(ctx, []Ring{RingBroad}, KindQuality, "admin@example.com", later); err != nil {
		t.Fatal(err)
	}
	_, err = st.ResumeRings(ctx, []Ring{RingBroad}, KindQuality, "admin@example.com", later)
	wantErrIs(t, err, ErrConflict)
	if c := summaryOf(t, st, KindQuality)[RingBroad]; c.InProgress != c.Devices {
		t.Errorf("Broad after resume: %+v, want all in progress", c)
	}

	// A device that installs the release is up to date at the next discovery.
	d := mustDevice(t, st, test[0]).Device
	d.OSVersion = "10.0.26100.7462"
	mustUpsert(t, st, &d)
	mustDiscover(t, st, later)
	if u, _ := st.DeviceUpdate(ctx, test[0]); u.Status != UpdateUpToDate || u.Sub != SubNone {
		t.Errorf("after installing: %s/%s", u.Status, u.Sub)
	}

	// 21 days after the release, the others are overdue, and the SLO is
	// measured once.
	line := patchTuesday.Add(21 * day)
	checkIn(t, st, line)
	c := summaryOf(t, st, KindQuality)[""]
	if c.NotUpToDate == 0 {
		t.Errorf("at the 21-day line: %+v, want overdue devices", c)
	}
	rels, _ := st.Releases(ctx)
	if r := rels[0]; r.SLOMeasured.IsZero() || r.SLOOn != 1 {
		t.Errorf("SLO: %d of %d measured %s, want 1 measured", r.SLOOn, r.SLOEligible, r.SLOMeasured)
	}
	trend, err := st.UpdateTrend(ctx, KindQuality)
	if err != nil || len(trend) == 0 {
		t.Fatalf("trend: %v, %d points", err, len(trend))
	}
	days := map[time.Time]bool{}
	for _, p := range trend {
		days[p.Day] = true
	}
	if len(days) < 3 {
		t.Errorf("trend days: %v, want one per day recomputed", days)
	}
}

func offerStates(r ReleaseRow) string {
	s := make([]string, len(r.Rings))
	for i, o := range r.Rings {
		s[i] = string(o.State)
	}
	return strings.Join(s, " ")
}

func TestPauseEndsByItselfAndExpedite(t *testing.T) {
	ctx := context.Background()
	st, now, _ := patchMonth(t)
	if _, err := st.AddRelease(ctx, NewRelease{Name: "2026-12 B", Date: patchTuesday, Builds: []BuildRevision{{26100, 7462}}}, "a", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PauseRings(ctx, Rings, KindQuality, "freeze", "a", now); err != nil {
		t.Fatal(err)
	}
	if ps, _ := st.ActivePauses(ctx, now.Add(35*day-time.Second)); len(ps) != 4 {
		t.Errorf("pauses a second before 35 days: %d, want 4", len(ps))
	}
	if ps, _ := st.ActivePauses(ctx, now.Add(35*day)); len(ps) != 0 {
		t.Errorf("pauses after 35 days: %d, want none", len(ps))
	}
	if _, err := st.ResumeRings(ctx, Rings, KindQuality, "a", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	oob, err := st.AddRelease(ctx, NewRelease{Name: "2026-12 OOB", Date: patchTuesday.Add(2 * day), Classification: ClassOutOfBand,
		Builds: []BuildRevision{{26100, 7470}}}, "a", now.Add(2*day))
	if err != nil {
		t.Fatal(err)
	}
	exp := now.Add(2*day + time.Hour)
	if _, err := st.ExpediteRelease(ctx, oob.Name, "a", exp); err != nil {
		t.Fatal(err)
	}
	_, err = st.ExpediteRelease(ctx, oob.Name, "a", exp)
	wantErrIs(t, err, ErrConflict)
	_, err = st.ExpediteRelease(ctx, "no such release", "a", exp)
	wantErrIs(t, err, ErrNotFound)
	board, _ := st.ReleaseBoard(ctx, exp)
	for _, o := range board.Releases[0].Rings {
		wantDue := exp.Add(day)
		if o.Ring == RingTest {
			wantDue = oob.Date // its own schedule (deadline 0) is sooner
		}
		if o.State != OfferOffered || !o.DueAt.Equal(wantDue) {
			t.Errorf("%s after expedite: %s due %s", o.Ring, o.State, o.DueAt)
		}
	}
	if c := summaryOf(t, st, KindQuality)[RingBroad]; c.InProgress != c.Devices {
		t.Errorf("Broad after expedite: %+v, want all in progress", c)
	}
}

func TestUpdateReportPagesAndExport(t *testing.T) {
	ctx := context.Background()
	st, now, _ := patchMonth(t)
	if _, err := st.AddRelease(ctx, NewRelease{Name: "2026-12 B", Date: patchTuesday, Builds: []BuildRevision{{26100, 7462}}}, "a", now); err != nil {
		t.Fatal(err)
	}
	for _, sort := range UpdateSorts {
		for _, desc := range []bool{false, true} {
			var seen []string
			q := UpdateQuery{Sort: sort, Desc: desc, Limit: 3}
			for {
				page, err := st.UpdateReportPage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if page.Total != 20 {
					t.Fatalf("total %d, want 20", page.Total)
				}
				for _, r := range page.Rows {
					seen = append(seen, r.DeviceID)
				}
				if page.Next == "" {
					break
				}
				q.After = page.Next
			}
			uniq := map[string]bool{}
			for _, id := range seen {
				uniq[id] = true
			}
			if len(seen) != 20 || len(uniq) != 20 {
				t.Errorf("sort %s desc %v: paged %d rows (%d distinct), want 20", sort, desc, len(seen), len(uniq))
			}
		}
	}
	// The totals read from the kept summary are the rows' counts.
	for _, ring := range append(Rings, "") {
		for _, status := range append(UpdateStatuses, "") {
			for _, sub := range []UpdateSubStatus{SubNone, SubWithout, SubInProgress, SubPaused} {
				q := UpdateQuery{Ring: ring, Status: status, Sub: sub}
				page, err := st.UpdateReportPage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				q.Search = "AP-" // counted, not kept
				counted, err := st.UpdateReportPage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if page.Total != len(page.Rows) || counted.Total != len(page.Rows) {
					t.Errorf("%+v: total %d (counted %d), %d rows", q, page.Total, counted.Total, len(page.Rows))
				}
			}
		}
	}
	page, err := st.UpdateReportPage(ctx, UpdateQuery{Ring: RingTest, Status: UpdateUpToDate, Sub: SubInProgress})
	if err != nil || len(page.Rows) != 2 {
		t.Fatalf("Test in progress: %d rows, %v", len(page.Rows), err)
	}
	if r := page.Rows[0]; r.Current.String() != "26100.7000" || r.Target != "26100.7462" || r.Readiness != StatusActive {
		t.Errorf("row: %+v", r)
	}
	page, _ = st.UpdateReportPage(ctx, UpdateQuery{Search: "lt-0003"})
	if len(page.Rows) != 1 || page.Rows[0].DisplayName != "AP-LT-0003" {
		t.Errorf("search: %+v", page.Rows)
	}
	_, err = st.UpdateReportPage(ctx, UpdateQuery{Sort: "model"})
	wantErrIs(t, err, ErrInvalid)

	var buf bytes.Buffer
	n, err := st.ExportUpdateReport(ctx, &buf, UpdateQuery{Ring: RingTest}, CSVOptions{})
	if err != nil || n != 2 {
		t.Fatalf("export: %d rows, %v", n, err)
	}
	// Written as the blades' exports: a byte-order mark, every cell quoted.
	out, ok := strings.CutPrefix(buf.String(), utf8BOM)
	if !ok || !strings.HasPrefix(out, `"device_id","display_name",`) {
		t.Fatalf("export starts %q, want a byte-order mark and quoted cells", buf.String()[:min(buf.Len(), 40)])
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "device_id,display_name,serial_number,ring,update_status,update_sub_status,pause_status,current_version,target_version,readiness,alerts,last_checkin" {
		t.Errorf("header %s", got)
	}
	if r := recs[1]; r[3] != "test" || r[4] != "up-to-date" || r[5] != "in-progress" || r[8] != "26100.7462" {
		t.Errorf("exported row %v", r)
	}
}

// TestUpdateReportSearchFindsEveryMatch compares the report's searches
// with every row of the report tested in Go, before and after the search
// index catches up with a renamed device: the candidates the report
// gathers from the blades' indexes must hold every match.
func TestUpdateReportSearchFindsEveryMatch(t *testing.T) {
	ctx := context.Background()
	st, now, _ := patchMonth(t)
	holdQueue(t, st)
	renamed := mustDevice(t, st, testID(7)).Device
	renamed.DisplayName, renamed.SerialNumber = "Payroll-Desk 100%_x", "PF3XYZ"
	notReady := mustDevice(t, st, testID(11)).Device // on the Not ready tab, which the index codes apart
	notReady.WUPolicySource = "gpo"
	mustUpsert(t, st, &renamed, &notReady)
	mustDiscover(t, st, now.Add(time.Minute))
	if _, err := st.RecomputeUpdates(ctx, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	all, err := st.UpdateReportPage(ctx, UpdateQuery{})
	if err != nil || len(all.Rows) != 20 {
		t.Fatalf("report: %d rows, %v", len(all.Rows), err)
	}
	if r := all.Rows[slices.IndexFunc(all.Rows, func(r UpdateReportRow) bool { return r.DeviceID == notReady.DeviceID })]; r.Readiness != StatusReadinessFailed {
		t.Fatalf("device 11 is %s, want %s", r.Readiness, StatusReadinessFailed)
	}
	searches := []string{"AP-LT", "ap-lt-0001", "lt-0003", "T-0011", "SN00001", "sn0", "n000011", "0000-4000", "-000000000007", "p-l",
		"payroll", "DESK 100%_", "pf3", "3XYZ", "00000", "no such device"}
	for _, synced := range []bool{false, true} {
		if synced {
			if err := st.SyncBladeIndexes(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, search := range searches {
			var want []string
			for _, r := range all.Rows {
				for _, v := range []string{r.DisplayName, r.SerialNumber, r.DeviceID} {
					if strings.Contains(strings.ToLower(v), strings.ToLower(search)) {
						want = append(want, r.DeviceID)
						break
					}
				}
			}
			for _, sort := range UpdateSorts {
				q := UpdateQuery{Search: search, Sort: sort, Limit: 4}
				var got []string
				for {
					page, err := st.UpdateReportPage(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					if page.Total != len(want) {
						t.Errorf("synced=%v %q by %s: total %d, want %d", synced, search, sort, page.Total, len(want))
					}
					for _, r := range page.Rows {
						got = append(got, r.DeviceID)
					}
					if q.After = page.Next; q.After == "" {
						break
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("synced=%v %q by %s: found %v, want %v", synced, search, sort, got, want)
				}
			}
		}
	}
}

func TestScheduleValidation(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	err := st.SetSchedule(ctx, Schedule{Ring: RingBroad, QualityDeferral: 31, GatePercent: 90}, "a", testNow)
	wantErrIs(t, err, ErrInvalid)
	err = st.SetSchedule(ctx, Schedule{Ring: RingTest, GateEnabled: true, GatePercent: 90}, "a", testNow)
	wantErrIs(t, err, ErrInvalid)
	if err := st.SetSchedule(ctx, Schedule{Ring: RingBroad, QualityDeferral: 10, QualityDeadline: 3, QualityGrace: 1, FeatureDeferral: 30, GatePercent: 90}, "a", testNow); err != nil {
		t.Fatal(err)
	}
	scs, _ := st.Schedules(ctx)
	if b := scs[3]; b.QualityDeferral != 10 || b.FeatureDeferral != 30 || b.UpdatedBy != "a" {
		t.Errorf("Broad schedule %+v", b)
	}
	if scs[1].QualityDeferral != 1 || scs[1].QualityDeadline != 2 || scs[1].QualityGrace != 2 {
		t.Errorf("First default %+v", scs[1])
	}
}

func TestUpdatePoliciesCarrySchedulesAndPauses(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	now := at(2026, 12, 9, 10, 0)
	if _, err := st.PauseRings(ctx, []Ring{RingBroad}, KindQuality, "trouble", "a", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PauseRings(ctx, []Ring{RingFast}, KindFeature, "hold", "a", now); err != nil {
		t.Fatal(err)
	}
	ps, err := st.UpdatePolicies(ctx, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	broad, fast := ps[3], ps[2]
	if broad.DisplayName != "Patchboard Ring - Broad" || broad.QualityDeferral != 9 || broad.QualityDeadline != 5 || broad.QualityGrace != 2 {
		t.Errorf("Broad policy %+v", broad)
	}
	if !broad.QualityPausedUntil.Equal(now.Add(MaxPause)) || !broad.FeaturePausedUntil.IsZero() {
		t.Errorf("Broad pauses %+v", broad)
	}
	if !fast.FeaturePausedUntil.Equal(now.Add(MaxPause)) || !fast.QualityPausedUntil.IsZero() {
		t.Errorf("Fast pauses %+v", fast)
	}
	// After 35 days the pauses have ended by themselves.
	ps, _ = st.UpdatePolicies(ctx, now.Add(MaxPause))
	if !ps[3].QualityPausedUntil.IsZero() || !ps[2].FeaturePausedUntil.IsZero() {
		t.Errorf("pauses still written after 35 days: %+v", ps)
	}
}

// A discovery recomputes the update status of the devices whose columns
// it reads changed or whose check-in turned too old, and of every device
// when the clock passed a date of the policy; each time, what it leaves
// equals a full recomputation at its clock.
func TestRecomputeUpdatesWhatChanged(t *testing.T) {
	ctx := context.Background()
	st, now, _ := patchMonth(t)
	if _, err := st.AddRelease(ctx, NewRelease{Name: "2026-12 B", Date: patchTuesday,
		Builds: []BuildRevision{{26100, 7462}}}, "admin@example.com", now); err != nil {
		t.Fatal(err)
	}
	recompute := func(when time.Time, want recomputed) { t.Helper(); checkRecompute(t, st, when, want) }
	setVersion := func(i int, version string) {
		t.Helper()
		d := mustDevice(t, st, testID(i)).Device
		d.OSVersion = version
		mustUpsert(t, st, &d)
	}

	// An hour later nothing changed: nothing is recomputed.
	recompute(now.Add(time.Hour), recomputedNothing)
	// A device that stays eligible checks in: nothing either, and the
	// report shows its new check-in.
	d := mustDevice(t, st, testID(7)).Device
	d.LastCheckin = now.Add(80 * time.Minute)
	mustUpsert(t, st, &d)
	recompute(now.Add(90*time.Minute), recomputedNothing)
	page, err := st.UpdateReportPage(ctx, UpdateQuery{Kind: KindQuality, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.Rows {
		if r.DeviceID == testID(7) && !r.LastCheckin.Equal(d.LastCheckin) {
			t.Errorf("the report's check-in of device 7: %s, want %s", r.LastCheckin, d.LastCheckin)
		}
	}
	// A Test device and a Broad device updated: those two.
	setVersion(1, "10.0.26100.7462")
	setVersion(3, "10.0.26100.7462")
	recompute(now.Add(2*time.Hour), recomputedDirty)
	recompute(now.Add(3*time.Hour), recomputedNothing)
	// A device deregistered, one moved to Test: those two.
	if _, err := st.Deregister(ctx, []string{testID(4)}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AssignRing(ctx, RingTest, []string{testID(5)}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	recompute(now.Add(4*time.Hour), recomputedDirty)
	// Most of the fleet changed: every device.
	for i := 6; i <= 20; i++ {
		setVersion(i, "10.0.26100.7100")
	}
	recompute(now.Add(5*time.Hour), recomputedEvery)
	// First's offer (day 1) passes with nothing else changed: every device.
	recompute(patchTuesday.Add(day+time.Hour), recomputedEvery)
	// The check-ins (an hour before 9:00 on the 8th) turn older than 5
	// days a second after 8:00 on the 13th: every device Ineligible, most
	// of the fleet at once.
	recompute(at(2026, 12, 13, 8, 0), recomputedEvery) // the day's first
	if c := summaryOf(t, st, KindQuality)[""]; c.Ineligible == c.Devices {
		t.Errorf("5 days after the check-ins: %+v, want them eligible still", c)
	}
	recompute(at(2026, 12, 13, 8, 0).Add(time.Second), recomputedEvery)
	if c := summaryOf(t, st, KindQuality)[""]; c.Ineligible != c.Devices-1 { // device 7 checked in later
		t.Errorf("after 5 days without a check-in: %+v", c)
	}
	recompute(at(2026, 12, 13, 8, 0).Add(2*time.Second), recomputedNothing)
	// A clock set back recomputes every device too.
	recompute(now.Add(6*time.Hour), recomputedEvery)
	// One device checks in with a time five days before 16:30 (going
	// back): that device; then at 17:00 it has turned too old — that
	// device alone.
	d = mustDevice(t, st, testID(2)).Device
	d.LastCheckin = now.Add(7*time.Hour + 30*time.Minute - 5*day)
	mustUpsert(t, st, &d)
	recompute(now.Add(7*time.Hour), recomputedDirty)
	recompute(now.Add(8*time.Hour), recomputedDirty)
	if u, err := st.DeviceUpdate(ctx, testID(2)); err != nil || u.Sub != SubSyncOld {
		t.Errorf("device 2 at 17:00: %+v, %v; want Ineligible, sync older than 5 days", u, err)
	}
	recompute(now.Add(9*time.Hour), recomputedNothing)
}

// updateRows is every stored update status row and the reports' counts,
// as text, for comparing two recomputations.
func updateRows(t *testing.T, st *Store) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	rs, err := st.r.QueryContext(ctx, `SELECT device_id, status, sub_status, revision, target_revision, feature_status, feature_sub,
		coalesce(offer_at, 0), coalesce(due_at, 0) FROM update_status ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var id, status, sub, fStatus, fSub string
		var rev, target, offer, due int64
		if err := rs.Scan(&id, &status, &sub, &rev, &target, &fStatus, &fSub, &offer, &due); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, id, status, sub, rev, target, fStatus, fSub, offer, due)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range UpdateKinds {
		sum, err := st.UpdateSummary(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %+v\n", k, sum.Rings)
	}
	return b.String()
}

// checkRecompute does what a discovery at when does for the update
// status, checks that it recomputed what want says, and that it left what
// a full recomputation at the same clock leaves.
func checkRecompute(t *testing.T, st *Store, when time.Time, want recomputed) {
	t.Helper()
	ctx := context.Background()
	var did recomputed
	if err := st.write(ctx, func(tx *sql.Tx) error {
		var err error
		did, err = recomputeUpdatesIfStale(ctx, tx, when)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if did != want {
		t.Errorf("at %s: recomputed %d, want %d", when, did, want)
	}
	if sum, err := st.UpdateSummary(ctx, KindQuality); err != nil || !sum.ComputedAt.Equal(when) {
		t.Fatalf("the report is as of %v (%v), want %s", sum.ComputedAt, err, when)
	}
	got := updateRows(t, st)
	if _, err := st.RecomputeUpdates(ctx, when); err != nil {
		t.Fatal(err)
	}
	if full := updateRows(t, st); got != full {
		t.Fatalf("at %s the recomputation left\n%s\na full one gives\n%s", when, got, full)
	}
}

// Devices that bring the ring before a gated one to its share open the
// gate: the recomputation of those devices becomes one of every device,
// since the gated ring's devices all have a new target.
func TestRecomputeUpdatesOpensGate(t *testing.T) {
	ctx := context.Background()
	st, now, test := patchMonth(t)
	if err := st.SetSchedule(ctx, Schedule{Ring: RingFirst, QualityDeferral: 1, QualityDeadline: 2, QualityGrace: 2,
		GateEnabled: true, GatePercent: 90}, "admin@example.com", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddRelease(ctx, NewRelease{Name: "2026-12 B", Date: patchTuesday,
		Builds: []BuildRevision{{26100, 7462}}}, "admin@example.com", now); err != nil {
		t.Fatal(err)
	}
	day2 := patchTuesday.Add(day + time.Hour)
	checkRecompute(t, st, day2, recomputedEvery)
	if c := summaryOf(t, st, KindQuality)[RingFirst]; c.Devices == 0 || c.InProgress != 0 {
		t.Fatalf("First while Test is at 0 %%: %+v, want it waiting", c)
	}
	for _, id := range test {
		d := mustDevice(t, st, id).Device
		d.OSVersion, d.LastCheckin = "10.0.26100.7462", day2
		mustUpsert(t, st, &d)
	}
	checkRecompute(t, st, day2.Add(time.Hour), recomputedEvery)
	if c := summaryOf(t, st, KindQuality)[RingFirst]; c.InProgress != c.Devices {
		t.Errorf("First once Test is up to date: %+v, want every device in progress", c)
	}
}
