package store

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestSnapshotOnePerDayKeptNinetyDays(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	day0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	at := func(days int, hour int) time.Time {
		return day0.AddDate(0, 0, days).Add(time.Duration(hour) * time.Hour)
	}
	// Devices that keep checking in whatever the run's clock: the counts
	// stay what the test says.
	fresh := func(d *Device) { d.LastCheckin = at(200, 0) }
	a, noSerial := healthy(1, fresh), healthy(2, fresh, func(d *Device) { d.SerialNumber = "" })
	mustUpsert(t, st, a, noSerial)
	mustAddMembers(t, st, RegistrationGroupName, a, noSerial)

	snaps := func(now time.Time, days int) []Snapshot {
		t.Helper()
		got, err := st.Snapshots(ctx, now, days)
		if err != nil {
			t.Fatalf("snapshots: %v", err)
		}
		return got
	}
	days := func(ss []Snapshot) []string {
		out := []string{}
		for _, s := range ss {
			out = append(out, s.Day.Format(time.DateOnly))
		}
		return out
	}

	mustDiscover(t, st, at(0, 6))
	want := []Snapshot{{Day: day0, Ready: 1, NotRegistered: 1}}
	if got := snaps(at(0, 23), TrendDays); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the day's first run: %+v, want %+v", got, want)
	}

	// A second run the same day changes the counts but not the day's snapshot.
	b := healthy(3, fresh)
	mustUpsert(t, st, b)
	mustAddMembers(t, st, RegistrationGroupName, b)
	mustDiscover(t, st, at(0, 18))
	if got := snaps(at(0, 23), TrendDays); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a second run the same day: %+v, want %+v (one snapshot a day, the first)", got, want)
	}

	// The next day gets its own.
	mustDiscover(t, st, at(1, 0))
	want = append(want, Snapshot{Day: at(1, 0), Ready: 2, NotRegistered: 1})
	if got := snaps(at(1, 12), TrendDays); !reflect.DeepEqual(got, want) {
		t.Fatalf("the next day: %+v, want %+v", got, want)
	}

	// 89 days on, the first day is still kept; 90 days on it is gone.
	mustDiscover(t, st, at(89, 3))
	if got := days(snaps(at(89, 12), SnapshotKeepDays)); !reflect.DeepEqual(got, []string{"2026-11-01", "2026-11-02", "2027-01-29"}) {
		t.Fatalf("89 days on, kept days %v", got)
	}
	mustDiscover(t, st, at(90, 3))
	if got := days(snaps(at(90, 12), 365)); !reflect.DeepEqual(got, []string{"2026-11-02", "2027-01-29", "2027-01-30"}) {
		t.Fatalf("90 days on, kept days %v: the first day should be pruned", got)
	}
	// The trend reads only its window.
	if got := days(snaps(at(90, 12), TrendDays)); !reflect.DeepEqual(got, []string{"2027-01-29", "2027-01-30"}) {
		t.Fatalf("trend of 30 days: %v", got)
	}
}

func TestSnapshotNotTakenByAFailedRun(t *testing.T) {
	st := openTestStore(t)
	a := healthy(1)
	mustUpsert(t, st, a)
	mustAddMembers(t, st, RegistrationGroupName, a)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An interrupted run leaves its record but no snapshot: its counts are
	// half of a run's.
	if _, err := st.Discover(ctx, TriggerCLI, "tester", testNow); err == nil {
		t.Fatal("a run on a cancelled context succeeded")
	}
	got, err := st.Snapshots(context.Background(), testNow, TrendDays)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("snapshots after an interrupted run: %+v", got)
	}
}

// recountChecks counts the failing checks per tab from the check results,
// the way the kept counts must agree with.
func recountChecks(t *testing.T, st *Store) map[Tab][]CheckCount {
	t.Helper()
	rows, err := st.r.Query(`SELECT d.tab, c.check_id, count(*) FROM check_results c JOIN devices d ON d.id = c.device_pk
		WHERE d.tab IS NOT NULL GROUP BY d.tab, c.check_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[Tab][]CheckCount{}
	for rows.Next() {
		var tab Tab
		var c CheckCount
		if err := rows.Scan(&tab, &c.Check, &c.N); err != nil {
			t.Fatal(err)
		}
		out[tab] = append(out[tab], c)
	}
	for _, cs := range out {
		slices.SortFunc(cs, compareCheckCounts)
	}
	return out
}

func TestFailingChecksFollowEveryChange(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	stale := testNow.Add(-60 * 24 * time.Hour)
	quiet := healthy(1, func(d *Device) { d.LastCheckin = stale })                                              // last-checkin
	bare := healthy(2, func(d *Device) { d.SerialNumber, d.LastCheckin = "", stale })                           // hardware-identity, last-checkin
	gpo := healthy(3, func(d *Device) { d.WUPolicySource = "gpo" })                                             // registers, then windows-update-policy
	both := healthy(4, func(d *Device) { d.WUPolicySource, d.UnreachableEndpoints = "gpo", []string{"teams"} }) // two readiness failures
	ok := healthy(5)
	mustUpsert(t, st, quiet, bare, gpo, both, ok)
	mustAddMembers(t, st, RegistrationGroupName, quiet, bare, gpo, both, ok)

	check := func(step string, want map[Tab][]CheckCount) {
		t.Helper()
		got := mustFailingChecks(t, st)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: failing checks %+v, want %+v", step, got, want)
		}
		if recount := recountChecks(t, st); !reflect.DeepEqual(got, recount) {
			t.Errorf("%s: kept counts %+v differ from the check results %+v", step, got, recount)
		}
	}

	check("before discovery", map[Tab][]CheckCount{})
	mustDiscover(t, st, testNow)
	check("after discovery", map[Tab][]CheckCount{
		TabNotRegistered: {{CheckLastCheckin, 2}, {CheckHardwareIdentity, 1}},
		TabNotReady:      {{CheckWindowsUpdatePolicy, 2}, {CheckNetworkEndpoints, 1}},
	})

	// Deregistering excludes the device and clears its failures.
	if _, err := st.Deregister(ctx, []string{quiet.DeviceID}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	check("after deregister", map[Tab][]CheckCount{
		TabNotRegistered: {{CheckHardwareIdentity, 1}, {CheckLastCheckin, 1}},
		TabNotReady:      {{CheckWindowsUpdatePolicy, 2}, {CheckNetworkEndpoints, 1}},
	})

	// Fixes in the directory reach the counts at the next discovery: bare
	// registers, gpo becomes ready, both keeps one failure.
	bare.SerialNumber, bare.LastCheckin = "SN-BARE", testNow
	gpo.WUPolicySource = "intune"
	both.WUPolicySource = "intune"
	mustUpsert(t, st, bare, gpo, both)
	mustDiscover(t, st, testNow.Add(time.Hour))
	check("after fixes", map[Tab][]CheckCount{TabNotReady: {{CheckNetworkEndpoints, 1}}})

	// A device gone quiet for 28 days moves from Ready to Not ready.
	mustDiscover(t, st, testNow.Add(40*24*time.Hour))
	got := mustFailingChecks(t, st)
	if recount := recountChecks(t, st); !reflect.DeepEqual(got, recount) {
		t.Errorf("after inactivity: kept counts %+v differ from the check results %+v", got, recount)
	}
	if cs := got[TabNotReady]; len(cs) == 0 || cs[0].Check != CheckInactive || cs[0].N != 4 {
		t.Errorf("after inactivity: not-ready checks %+v, want inactive first with 4 devices", cs)
	}

	// Restoring the excluded device takes it off the blades.
	if _, err := st.Restore(ctx, []string{quiet.DeviceID}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	if got, recount := mustFailingChecks(t, st), recountChecks(t, st); !reflect.DeepEqual(got, recount) {
		t.Errorf("after restore: kept counts %+v differ from the check results %+v", got, recount)
	}
}

// mustFailingChecks reads every tab's failing checks; a tab with none has
// no entry.
func mustFailingChecks(t *testing.T, st *Store) map[Tab][]CheckCount {
	t.Helper()
	out := map[Tab][]CheckCount{}
	for _, tab := range Tabs {
		cs, err := st.FailingChecks(context.Background(), tab)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) > 0 {
			out[tab] = cs
		}
	}
	return out
}

func TestOverviewReadsEverythingInOneCall(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	a, b := healthy(1), healthy(2, func(d *Device) { d.Model = "" })
	mustUpsert(t, st, a, b)
	mustAddMembers(t, st, RegistrationGroupName, a, b)
	mustDiscover(t, st, testNow)
	if _, err := st.Discover(ctx, TriggerSchedule, "scheduler", testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustDiscover(t, st, testNow.Add(2*time.Hour))

	o, err := st.Overview(ctx, testNow.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if o.Counts.Tab(TabReady) != 1 || o.Counts.Tab(TabNotRegistered) != 1 {
		t.Errorf("counts %+v", o.Counts)
	}
	if o.LastRun == nil || o.LastRun.Trigger != TriggerCLI || !o.LastRun.StartedAt.Equal(testNow.Add(2*time.Hour)) {
		t.Errorf("last run %+v, want the CLI run at +2h", o.LastRun)
	}
	if o.LastScheduledRun == nil || !o.LastScheduledRun.StartedAt.Equal(testNow.Add(time.Hour)) {
		t.Errorf("last scheduled run %+v, want the run at +1h", o.LastScheduledRun)
	}
	if want := []CheckCount{{CheckHardwareIdentity, 1}}; !reflect.DeepEqual(o.FailingChecks[TabNotRegistered], want) {
		t.Errorf("failing checks %+v, want %+v", o.FailingChecks, want)
	}
	if len(o.Trend) != 1 || o.Trend[0].Ready != 1 {
		t.Errorf("trend %+v, want today's snapshot", o.Trend)
	}
}

// undoOverviewMigration takes a database back to before migration 0060.
const undoOverviewMigration = `DROP TRIGGER devices_check_counts_insert; DROP TRIGGER devices_check_counts_leave;
	DROP TRIGGER devices_check_counts_enter; DROP TRIGGER devices_check_counts_delete;
	DROP TABLE check_counts; DROP TABLE daily_snapshots; -- migration 0060`

// TestOverviewMigrationCountsExistingFailures upgrades a database whose
// devices were discovered before migration 0060: the migration counts
// their failing checks, and the triggers keep the counts from then on.
func TestOverviewMigrationCountsExistingFailures(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	stale := testNow.Add(-60 * 24 * time.Hour)
	quiet := healthy(1, func(d *Device) { d.LastCheckin = stale })
	bare := healthy(2, func(d *Device) { d.SerialNumber, d.LastCheckin = "", stale })
	gpo := healthy(3, func(d *Device) { d.WUPolicySource = "gpo" })
	mustUpsert(t, st, quiet, bare, gpo, healthy(4))
	mustAddMembers(t, st, RegistrationGroupName, quiet, bare, gpo)
	mustDiscover(t, st, testNow)
	if _, err := st.w.ExecContext(ctx, undoOverviewMigration+"\nPRAGMA user_version = 59;"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want := map[Tab][]CheckCount{
		TabNotRegistered: {{CheckLastCheckin, 2}, {CheckHardwareIdentity, 1}},
		TabNotReady:      {{CheckWindowsUpdatePolicy, 1}},
	}
	if got := mustFailingChecks(t, st); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the migration: %+v, want %+v", got, want)
	}
	gpo.WUPolicySource = "intune"
	mustUpsert(t, st, gpo)
	mustDiscover(t, st, testNow.Add(time.Hour))
	delete(want, TabNotReady)
	if got := mustFailingChecks(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("after a fix: %+v, want %+v", got, want)
	}
}
