package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDiscoveryNestingOneLevelNotTwo(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	direct, level1, level2, outside := healthy(1), healthy(2), healthy(3), healthy(4)
	mustUpsert(t, st, direct, level1, level2, outside)
	for _, g := range []string{"Finance", "Lab"} {
		if _, err := st.CreateGroup(ctx, g, "", "tester"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.NestGroup(ctx, RegistrationGroupName, "Finance", "tester"); err != nil {
		t.Fatal(err)
	}
	if err := st.NestGroup(ctx, "Finance", "Lab", "tester"); err != nil {
		t.Fatal(err)
	}
	mustAddMembers(t, st, RegistrationGroupName, direct)
	mustAddMembers(t, st, "Finance", level1)
	mustAddMembers(t, st, "Lab", level2)

	run := mustDiscover(t, st, testNow)
	if run.Registered != 2 || run.Candidates != 2 {
		t.Fatalf("run: %+v, want 2 candidates both registered", run)
	}
	rec := wantStatus(t, st, direct.DeviceID, StatusActive)
	if rec.DiscoveredVia != RegistrationGroupName {
		t.Errorf("direct member discovered via %q", rec.DiscoveredVia)
	}
	rec = wantStatus(t, st, level1.DeviceID, StatusActive)
	if rec.DiscoveredVia != "Finance" {
		t.Errorf("nested member discovered via %q, want Finance", rec.DiscoveredVia)
	}
	wantStatus(t, st, level2.DeviceID, "")
	wantStatus(t, st, outside.DeviceID, "")

	groups, err := st.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	depth := map[string]int{}
	for _, g := range groups {
		depth[g.Name] = g.Depth
	}
	if depth["Finance"] != 1 || depth["Lab"] != 2 || depth[RegistrationGroupName] != 0 {
		t.Errorf("depths %v", depth)
	}
	entries, err := st.AuditEntries(ctx, AuditFilter{Action: ActionDiscovery})
	if err != nil || len(entries) != 1 || !strings.Contains(entries[0].Detail, "not followed: Lab") {
		t.Errorf("discovery audit should name the group not followed: %+v %v", entries, err)
	}
}

func TestDiscoveryDynamicGroupExcludesAVDMultiSession(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	laptop := healthy(1, func(d *Device) { d.DisplayName = "AP-LT-0001" })
	avd := healthy(2, func(d *Device) { d.DisplayName = "AP-AVD-0001"; d.DeviceKind = KindAVDMultiSession })
	other := healthy(3, func(d *Device) { d.DisplayName = "HR-DT-0003" })
	mustUpsert(t, st, laptop, avd, other)
	rule := `(device.displayName -contains "AP") -and (device.deviceOSType -ne "Windows 10 Enterprise for Virtual Desktops")`
	if _, err := st.CreateGroup(ctx, "AP devices", rule, "tester"); err != nil {
		t.Fatal(err)
	}
	if err := st.NestGroup(ctx, RegistrationGroupName, "AP devices", "tester"); err != nil {
		t.Fatal(err)
	}
	mustDiscover(t, st, testNow)
	if rec := wantStatus(t, st, laptop.DeviceID, StatusActive); rec.DiscoveredVia != "AP devices" {
		t.Errorf("discovered via %q", rec.DiscoveredVia)
	}
	wantStatus(t, st, avd.DeviceID, "")
	wantStatus(t, st, other.DeviceID, "")

	if _, err := st.CreateGroup(ctx, "Broken", `device.displayName -contains`, "tester"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a rule that does not parse must be refused, got %v", err)
	}
	if err := st.NestGroup(ctx, "AP devices", RegistrationGroupName, "tester"); !errors.Is(err, ErrInvalid) {
		t.Errorf("nesting into a dynamic group must be refused, got %v", err)
	}
}

func TestDiscoveryExcludedStaysOutAndRemovalDoesNotDeregister(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	a, b := healthy(1), healthy(2)
	mustUpsert(t, st, a, b)
	mustAddMembers(t, st, RegistrationGroupName, a, b)
	mustDiscover(t, st, testNow)

	if _, err := st.Deregister(ctx, []string{a.DeviceID}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	rec := wantStatus(t, st, a.DeviceID, StatusExcluded)
	if rec.Ring != "" || !rec.RegisteredAt.IsZero() {
		t.Errorf("excluded device keeps ring %q / registered %v", rec.Ring, rec.RegisteredAt)
	}
	mustDiscover(t, st, testNow.Add(time.Hour))
	wantStatus(t, st, a.DeviceID, StatusExcluded) // never re-registered automatically

	// Removing b from the group does not deregister it.
	if _, err := st.RemoveGroupDevices(ctx, RegistrationGroupName, []string{b.DeviceID}, "tester"); err != nil {
		t.Fatal(err)
	}
	mustDiscover(t, st, testNow.Add(2*time.Hour))
	wantStatus(t, st, b.DeviceID, StatusActive)

	// Restore: the next discovery evaluates a again.
	if _, err := st.Restore(ctx, []string{a.DeviceID}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, st, a.DeviceID, "")
	mustDiscover(t, st, testNow.Add(3*time.Hour))
	wantStatus(t, st, a.DeviceID, StatusActive)

	hist, err := st.AuditEntries(ctx, AuditFilter{DeviceID: a.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range hist {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); !strings.Contains(got, ActionRestore+","+ActionDeregister) {
		t.Errorf("device history %q lacks deregister and restore", got)
	}
}

func TestDiscoveryHardwareReplacement(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	old := healthy(1, func(d *Device) { d.SerialNumber = "5CG1234XYZ" })
	mustUpsert(t, st, old)
	mustAddMembers(t, st, RegistrationGroupName, old)
	mustDiscover(t, st, testNow)
	wantStatus(t, st, old.DeviceID, StatusActive)

	// After a motherboard repair the directory has a new ID for the same serial.
	repaired := healthy(2, func(d *Device) { d.SerialNumber = " 5cg1234xyz "; d.DisplayName = old.DisplayName })
	mustUpsert(t, st, repaired)
	mustAddMembers(t, st, RegistrationGroupName, repaired)
	mustDiscover(t, st, testNow.Add(time.Hour))
	rec := wantStatus(t, st, repaired.DeviceID, StatusPrerequisitesFailed)
	if len(rec.Failures) != 1 || rec.Failures[0].Check != CheckHardwareIdentity ||
		!strings.Contains(rec.Failures[0].Reason, old.DeviceID) ||
		!strings.Contains(strings.ToLower(rec.Failures[0].Remediation), "deregister") {
		t.Fatalf("failures %+v: want hardware-identity naming %s and telling to deregister", rec.Failures, old.DeviceID)
	}
	// Deregistering the old record frees the serial.
	if _, err := st.Deregister(ctx, []string{old.DeviceID}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	mustDiscover(t, st, testNow.Add(2*time.Hour))
	wantStatus(t, st, repaired.DeviceID, StatusActive)
}

func TestDiscoveryDuplicateCandidates(t *testing.T) {
	st := openTestStore(t)
	a := healthy(1, func(d *Device) { d.SerialNumber = "DUP-1" })
	b := healthy(2, func(d *Device) { d.SerialNumber = "dup-1" })
	mustUpsert(t, st, a, b)
	mustAddMembers(t, st, RegistrationGroupName, a, b)
	mustDiscover(t, st, testNow)
	ra := wantStatus(t, st, a.DeviceID, StatusPrerequisitesFailed)
	rb := wantStatus(t, st, b.DeviceID, StatusPrerequisitesFailed)
	if !strings.Contains(ra.Failures[0].Reason, b.DeviceID) || !strings.Contains(rb.Failures[0].Reason, a.DeviceID) {
		t.Errorf("each duplicate must name the other: %q / %q", ra.Failures[0].Reason, rb.Failures[0].Reason)
	}
}

func TestDiscoveryDualState(t *testing.T) {
	st := openTestStore(t)
	hybrid := healthy(1, func(d *Device) { d.JoinType = JoinHybridJoined; d.SerialNumber = "PF3ABCDE" })
	stale := healthy(2, func(d *Device) {
		d.JoinType = JoinEntraRegistered
		d.SerialNumber = "PF3ABCDE"
		d.DisplayName = hybrid.DisplayName
	})
	mustUpsert(t, st, hybrid, stale)
	mustAddMembers(t, st, RegistrationGroupName, hybrid, stale)
	mustDiscover(t, st, testNow)
	wantStatus(t, st, hybrid.DeviceID, StatusActive) // the twin is not a duplicate
	rec := wantStatus(t, st, stale.DeviceID, StatusPrerequisitesFailed)
	if len(rec.Failures) != 1 || rec.Failures[0].Check != CheckPersonalOrNonWindows ||
		!strings.Contains(rec.Failures[0].Reason, hybrid.DeviceID) {
		t.Fatalf("stale record failures %+v: want only personal-or-non-windows naming the hybrid twin", rec.Failures)
	}
}

func TestDiscoveryInactiveAndBack(t *testing.T) {
	st := openTestStore(t)
	d := healthy(1)
	mustUpsert(t, st, d)
	mustAddMembers(t, st, RegistrationGroupName, d)
	mustDiscover(t, st, testNow)
	wantStatus(t, st, d.DeviceID, StatusActive)

	// 28 days after the last check-in it is still Active; a second later it is Inactive.
	edge := d.LastCheckin.Add(InactiveAfter)
	mustDiscover(t, st, edge)
	wantStatus(t, st, d.DeviceID, StatusActive)
	// Also failing a readiness check: Inactive wins.
	d.WUPolicySource = "gpo"
	mustUpsert(t, st, d)
	mustDiscover(t, st, edge.Add(time.Second))
	rec := wantStatus(t, st, d.DeviceID, StatusInactive)
	if rec.Reasons[0] != CheckWindowsUpdatePolicy && rec.Reasons[len(rec.Reasons)-1] != CheckInactive {
		t.Errorf("reasons %v", rec.Reasons)
	}
	if rec.Ring == "" {
		t.Errorf("an inactive device keeps its ring")
	}

	// A check-in brings it back (to Readiness failed while GPO still rules, then Active).
	d.LastCheckin = edge.Add(time.Minute)
	mustUpsert(t, st, d)
	mustDiscover(t, st, edge.Add(time.Hour))
	wantStatus(t, st, d.DeviceID, StatusReadinessFailed)
	d.WUPolicySource = "intune"
	mustUpsert(t, st, d)
	mustDiscover(t, st, edge.Add(2*time.Hour))
	rec = wantStatus(t, st, d.DeviceID, StatusActive)
	if len(rec.Failures) != 0 {
		t.Errorf("stale check results kept: %+v", rec.Failures)
	}
}

func TestDiscoveryIdempotent(t *testing.T) {
	st := openTestStore(t)
	var devs []*Device
	for i := 1; i <= 300; i++ {
		devs = append(devs, healthy(i, func(d *Device) {
			if i%10 == 0 {
				d.Management = ManagementConfigMgr
			}
			if i%15 == 0 {
				d.UnreachableEndpoints = []string{"teams"}
			}
		}))
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	first := mustDiscover(t, st, testNow)
	if first.Registered != 270 || first.PrerequisitesFailed != 30 || first.StatusChanges != 300 {
		t.Fatalf("first run %+v", first)
	}
	second := mustDiscover(t, st, testNow.Add(time.Hour))
	if second.Total != 0 || second.Registered != 0 || second.StatusChanges != 0 || second.Candidates != 30 {
		t.Fatalf("second run wrote something: %+v", second)
	}
	c, err := st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Tab(TabReady) != 260 || c.Tab(TabNotReady) != 10 || c.Tab(TabNotRegistered) != 30 {
		t.Errorf("counts %+v", c)
	}
	// N = 270 > 200: First 1 %, Fast 9 %, Broad 90 % of 270, never Test.
	if c.Rings.Test != 0 || c.Rings.Total() != 270 || c.Rings.First != 3 || c.Rings.Fast != 24 || c.Rings.Broad != 243 {
		t.Errorf("rings %+v", c.Rings)
	}
}

func TestDiscoveryKeepsAdminRingAndRemediatesMissingRing(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	a, b := healthy(1), healthy(2)
	mustUpsert(t, st, a, b)
	mustAddMembers(t, st, RegistrationGroupName, a, b)
	mustDiscover(t, st, testNow)
	if _, err := st.AssignRing(ctx, RingTest, []string{a.DeviceID}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	// A registered device that lost its ring (say, a restored backup) gets one.
	if _, err := st.w.Exec(`UPDATE devices SET ring = NULL, ring_by = NULL WHERE device_id = ?`, b.DeviceID); err != nil {
		t.Fatal(err)
	}
	mustDiscover(t, st, testNow.Add(time.Hour))
	ra := mustDevice(t, st, a.DeviceID)
	if ra.Ring != RingTest || ra.RingBy != RingByAdmin || ra.RingActor != "admin@example.com" {
		t.Errorf("admin ring not kept: %+v", ra.Registration)
	}
	if rb := mustDevice(t, st, b.DeviceID); rb.Ring == "" || rb.Ring == RingTest || rb.RingBy != RingByService {
		t.Errorf("missing ring not remediated: %+v", rb.Registration)
	}

	// Only Active devices can be assigned; a refused batch changes nothing.
	c := healthy(3, func(d *Device) { d.Management = ManagementNone })
	mustUpsert(t, st, c)
	mustAddMembers(t, st, RegistrationGroupName, c)
	mustDiscover(t, st, testNow.Add(2*time.Hour))
	_, err := st.AssignRing(ctx, RingFirst, []string{b.DeviceID, c.DeviceID}, "admin@example.com")
	var refused *ActionRefusedError
	if !errors.As(err, &refused) || len(refused.Refused) != 1 || refused.Refused[0].Value != c.DeviceID {
		t.Fatalf("want refusal naming %s, got %v", c.DeviceID, err)
	}
	if rb := mustDevice(t, st, b.DeviceID); rb.RingBy != RingByService {
		t.Errorf("refused batch changed %s", b.DeviceID)
	}
}

func TestDiscoveryInterruptedRunIsCompletedByTheNext(t *testing.T) {
	st := openTestStore(t)
	var devs []*Device
	for i := 1; i <= 3*discoveryBatch+10; i++ {
		devs = append(devs, healthy(i))
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)

	ctx, cancel := context.WithCancel(context.Background())
	st.disc.afterBatch = func(batch int) {
		if batch == 0 {
			cancel()
		}
	}
	_, err := st.Discover(ctx, TriggerCLI, "tester", testNow)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	st.disc.afterBatch = nil
	// Wait for the run goroutine to record itself.
	waitNoRun(t, st)
	last, err := st.LastDiscoveryRun(context.Background())
	if err != nil || last.State != RunInterrupted || last.Processed != discoveryBatch {
		t.Fatalf("last run %+v %v", last, err)
	}
	c, _ := st.Counts(context.Background())
	if c.Registered() != discoveryBatch {
		t.Fatalf("after one batch %d registered, want %d", c.Registered(), discoveryBatch)
	}
	run := mustDiscover(t, st, testNow)
	if run.Registered != len(devs)-discoveryBatch {
		t.Fatalf("next run registered %d, want %d", run.Registered, len(devs)-discoveryBatch)
	}
	c, _ = st.Counts(context.Background())
	if c.Registered() != len(devs) || c.Rings.Total() != len(devs) {
		t.Fatalf("counts after completion %+v", c)
	}
}

func waitNoRun(t *testing.T, st *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, running := st.RunningDiscovery(); !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("discovery run did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDiscoveryConcurrentCallsJoinOneRun(t *testing.T) {
	st := openTestStore(t)
	var devs []*Device
	for i := 1; i <= 2000; i++ {
		devs = append(devs, healthy(i))
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)

	release := make(chan struct{})
	st.disc.afterBatch = func(int) { <-release }
	var wg sync.WaitGroup
	runs := make([]DiscoveryRun, 4)
	errs := make([]error, 4)
	first := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		runs[0], errs[0] = st.Discover(context.Background(), TriggerButton, "a", testNow)
	}()
	go func() {
		for {
			if _, ok := st.RunningDiscovery(); ok {
				close(first)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	<-first
	for i := 1; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			runs[i], errs[i] = st.Discover(context.Background(), TriggerAPI, "b", testNow)
		}(i)
	}
	time.Sleep(20 * time.Millisecond) // let the joiners arrive while the run is held
	close(release)
	wg.Wait()
	for i := range runs {
		if errs[i] != nil || runs[i].ID != runs[0].ID {
			t.Fatalf("call %d: run %d err %v; want all to join run %d", i, runs[i].ID, errs[i], runs[0].ID)
		}
	}
	if runs[0].Registered != 2000 {
		t.Errorf("registered %d", runs[0].Registered)
	}
}

func TestDiscoveryRefusesWhileAnotherProcessRuns(t *testing.T) {
	st := openTestStore(t)
	devs := []*Device{healthy(1), healthy(2)}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	// A second Store on the same file stands for another process (the CLI
	// beside the server): its lease is a lock of its own.
	other, err := Open(context.Background(), st.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	release := make(chan struct{})
	other.disc.afterBatch = func(int) { <-release }
	done := make(chan error, 1)
	go func() {
		_, err := other.Discover(context.Background(), TriggerCLI, "cli:other", testNow)
		done <- err
	}()
	waitRunning(t, other)

	_, err = st.Discover(context.Background(), TriggerButton, "admin", testNow)
	wantErrIs(t, err, ErrConflict)
	if !strings.Contains(err.Error(), "cli:other") {
		t.Errorf("conflict %q does not name the other run's actor", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Once the other process's run ends, a run here goes ahead.
	mustDiscover(t, st, testNow)
}

func waitRunning(t *testing.T, st *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, running := st.RunningDiscovery(); running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("discovery run did not start")
		}
		time.Sleep(time.Millisecond)
	}
}

// A process killed in the middle of a run leaves it marked running with a
// fresh heartbeat and some of its batches committed; the operating system
// drops its lease. The next run must start at once, record the dead run as
// interrupted (in the audit log too) and finish its work.
func TestDiscoveryTakesOverAtOnceAfterACrash(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	var devs []*Device
	for i := 1; i <= discoveryBatch+10; i++ {
		devs = append(devs, healthy(i))
	}
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)
	// The dead run's first batch is committed: apply it as the run did.
	plan, err := st.planDiscovery(ctx, testNow)
	if err != nil {
		t.Fatal(err)
	}
	plan.changes = plan.changes[:discoveryBatch]
	beat := time.Now().Unix()
	res, err := st.w.Exec(`INSERT INTO discovery_runs (trigger, actor, state, started_at, heartbeat_at, total, processed) VALUES ('schedule', 'scheduler', 'running', ?, ?, ?, 0)`,
		testNow.Unix(), beat, len(devs))
	if err != nil {
		t.Fatal(err)
	}
	deadID, _ := res.LastInsertId()
	if err := st.applyPlan(ctx, &DiscoveryRun{ID: deadID, StartedAt: testNow, Total: len(devs)}, plan); err != nil {
		t.Fatal(err)
	}
	if err := st.r.QueryRow(`SELECT heartbeat_at FROM discovery_runs WHERE id = ?`, deadID).Scan(&beat); err != nil {
		t.Fatal(err)
	}

	run, err := st.Discover(ctx, TriggerButton, "admin@example.com", testNow)
	if err != nil {
		t.Fatalf("discovery after a crash: %v", err)
	}
	if run.Registered != 10 {
		t.Errorf("the next run registered %d, want the 10 the dead run left", run.Registered)
	}
	c, _ := st.Counts(ctx)
	if c.Registered() != len(devs) || c.Rings.Total() != len(devs) {
		t.Errorf("counts after the next run %+v, want %d registered with rings", c, len(devs))
	}
	dead, err := st.DiscoveryRunByID(ctx, deadID)
	if err != nil || dead.State != RunInterrupted || dead.FinishedAt.Unix() != beat || dead.Error == "" {
		t.Errorf("dead run %+v %v, want interrupted at its last heartbeat with a reason", dead, err)
	}
	var audited int
	if err := st.r.QueryRow(`SELECT count(*) FROM audit_log WHERE action = ? AND outcome = ? AND detail LIKE ?`,
		ActionDiscovery, OutcomeFailure, fmt.Sprintf("run %d interrupted after %d of %d devices%%", deadID, discoveryBatch, len(devs))).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited != 1 {
		t.Errorf("interrupted run audited %d times, want once", audited)
	}
	var states []string
	for _, e := range outboxEvents(t, st, EventDiscoveryFinished) {
		var f DiscoveryFinished
		if err := json.Unmarshal([]byte(e.Data), &f); err != nil {
			t.Fatal(err)
		}
		states = append(states, fmt.Sprintf("%d %s", f.RunID, f.State))
	}
	if want := []string{fmt.Sprintf("%d interrupted", deadID), fmt.Sprintf("%d completed", run.ID)}; !slices.Equal(states, want) {
		t.Errorf("discovery finished events %v, want %v", states, want)
	}
}

func TestDiscoveryConcurrentActionIsNotOverwritten(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	a := healthy(1)
	mustUpsert(t, st, a)
	mustAddMembers(t, st, RegistrationGroupName, a)
	mustDiscover(t, st, testNow)
	// Plan a run, then let an admin deregister before it writes.
	plan, err := st.planDiscovery(ctx, testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	a.WUPolicySource = "gpo"
	mustUpsert(t, st, a)
	plan, err = st.planDiscovery(ctx, testNow.Add(time.Hour))
	if err != nil || len(plan.changes) != 1 {
		t.Fatalf("plan %+v %v", plan, err)
	}
	if _, err := st.Deregister(ctx, []string{a.DeviceID}, "admin"); err != nil {
		t.Fatal(err)
	}
	run := DiscoveryRun{ID: 0, StartedAt: testNow}
	if err := st.applyPlan(ctx, &run, plan); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, st, a.DeviceID, StatusExcluded)
}

// Discovery reads the directory in batches, but a device's peers are
// found across all of it: a candidate whose serial is held by a device
// batches later, or whose hybrid-joined twin comes batches later, fails
// its prerequisites as it would if the directory were read at once; the
// devices between them register.
func TestDiscoveryFindsPeersAcrossBatches(t *testing.T) {
	st := openTestStore(t)
	n := 2*discoveryBatch + 10
	devs := make([]*Device, n)
	for i := range devs {
		devs[i] = healthy(i + 1)
	}
	first, last := devs[0], devs[n-1]
	last.SerialNumber = strings.ToLower(first.SerialNumber) // matched case-insensitively
	stale, twin := devs[1], devs[n-2]
	stale.JoinType, twin.JoinType = JoinEntraRegistered, JoinHybridJoined
	twin.DisplayName = stale.DisplayName
	mustUpsert(t, st, devs...)
	mustAddMembers(t, st, RegistrationGroupName, devs...)

	run := mustDiscover(t, st, testNow)
	for _, d := range []*Device{first, last} {
		rec := wantStatus(t, st, d.DeviceID, StatusPrerequisitesFailed)
		if !slices.Contains(rec.Reasons, CheckHardwareIdentity) {
			t.Errorf("%s shares its serial with a device in another batch: reasons %v, want %s", d.DisplayName, rec.Reasons, CheckHardwareIdentity)
		}
	}
	rec := wantStatus(t, st, stale.DeviceID, StatusPrerequisitesFailed)
	if !strings.Contains(strings.Join(failureReasons(rec.Failures), " "), twin.DeviceID) {
		t.Errorf("stale dual-state record: failures %+v, want its hybrid twin %s named", rec.Failures, twin.DeviceID)
	}
	wantStatus(t, st, twin.DeviceID, StatusActive)
	if run.Registered != n-3 || run.PrerequisitesFailed != 3 {
		t.Errorf("run %s; want %d registered and 3 not", run.Summary(), n-3)
	}
	c, _ := st.Counts(context.Background())
	if c.Registered() != n-3 || c.Rings.Total() != n-3 {
		t.Errorf("counts %+v, want %d registered, each with a ring", c, n-3)
	}
}

func failureReasons(fs []CheckResult) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Reason)
	}
	return out
}
