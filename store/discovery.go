package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"
)

// Trigger says what started a discovery run.
type Trigger string

// Triggers.
const (
	TriggerSchedule Trigger = "schedule"
	TriggerButton   Trigger = "button"
	TriggerCLI      Trigger = "cli"
	TriggerAPI      Trigger = "api"
)

// RunState is where a discovery run is.
type RunState string

// Run states.
const (
	RunRunning     RunState = "running"
	RunCompleted   RunState = "completed"
	RunFailed      RunState = "failed"
	RunInterrupted RunState = "interrupted"
)

// DiscoveryRun is the record of one discovery (SPEC §6).
type DiscoveryRun struct {
	ID         int64
	Trigger    Trigger
	Actor      string
	State      RunState
	StartedAt  time.Time
	FinishedAt time.Time
	// Total is how many devices the run has to write; Processed how many it
	// has written so far (progress).
	Total     int
	Processed int
	// Candidates are the devices evaluated for registration (group members
	// that are neither registered nor excluded).
	Candidates          int
	Registered          int // newly registered by this run
	PrerequisitesFailed int // candidates failing at least one prerequisite
	StatusChanges       int // devices whose status changed
	Error               string
}

// Summary is the one-line account of a run the blade and CLI show.
func (r DiscoveryRun) Summary() string {
	return fmt.Sprintf("%d candidates, %d registered, %d not registered, %d status changes",
		r.Candidates, r.Registered, r.PrerequisitesFailed, r.StatusChanges)
}

const (
	// discoveryBatch is how many device outcomes one write transaction
	// commits. Each batch is atomic, so an interrupted run leaves every
	// device either fully updated or untouched.
	discoveryBatch = 2000
)

// discoveryGate lets one run go at a time within the process; callers that
// arrive while it runs join it.
type discoveryGate struct {
	mu  sync.Mutex
	cur *activeRun

	// afterBatch, when set (tests only), is called after each committed batch.
	afterBatch func(batch int)
}

type activeRun struct {
	id    int64
	done  chan struct{}
	run   DiscoveryRun
	err   error
	lease *lease // the discovery lease, held until the run is recorded
}

// Discover runs discovery now and returns the run's record; if a run is
// already going in this process it waits for that one and returns its
// record instead. Cancelling ctx interrupts the run: whatever was committed
// stays consistent and the next run finishes the work.
func (s *Store) Discover(ctx context.Context, trigger Trigger, actor string, now time.Time) (DiscoveryRun, error) {
	a, err := s.startDiscovery(ctx, trigger, actor, now)
	if err != nil {
		return DiscoveryRun{}, err
	}
	select {
	case <-a.done:
		return a.run, a.err
	case <-ctx.Done():
		return DiscoveryRun{}, ctx.Err()
	}
}

// StartDiscovery starts a run in the background (or joins the one going) and
// returns its ID at once; DiscoveryRunByID reports its progress. ctx bounds
// the run itself, so pass a context that lives as long as the server.
func (s *Store) StartDiscovery(ctx context.Context, trigger Trigger, actor string, now time.Time) (int64, error) {
	a, err := s.startDiscovery(ctx, trigger, actor, now)
	if err != nil {
		return 0, err
	}
	return a.id, nil
}

func (s *Store) startDiscovery(ctx context.Context, trigger Trigger, actor string, now time.Time) (*activeRun, error) {
	switch trigger {
	case TriggerSchedule, TriggerButton, TriggerCLI, TriggerAPI:
	default:
		return nil, invalidf("discovery trigger %q is not one of schedule, button, cli, api", trigger)
	}
	s.disc.mu.Lock()
	defer s.disc.mu.Unlock()
	if a := s.disc.cur; a != nil {
		return a, nil
	}
	// The lease says which process runs discovery. Holding it, no other
	// process can be running one, so a run still marked running is the
	// remains of a process that died: it is recorded as interrupted at once.
	l, err := tryLease(discoveryLeaseName(s.path))
	if errors.Is(err, errLeaseHeld) {
		return nil, s.runningElsewhere(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("start discovery: %w", err)
	}
	// The run's clock is now: checks are evaluated as of now, and the run is
	// recorded as starting then and lasting as long as it really takes.
	run := DiscoveryRun{Trigger: trigger, Actor: actor, State: RunRunning, StartedAt: now.UTC().Truncate(time.Second)}
	id, err := s.beginRun(ctx, run)
	if err != nil {
		return nil, errors.Join(err, l.release())
	}
	run.ID = id
	a := &activeRun{id: id, done: make(chan struct{}), run: run, lease: l}
	s.disc.cur = a
	go func() {
		a.run, a.err = s.runDiscovery(ctx, run)
		s.disc.mu.Lock()
		s.disc.cur = nil
		// Released after the run is recorded, so the next holder never
		// mistakes this run for an interrupted one.
		if err := a.lease.release(); err != nil && a.err == nil {
			a.err = fmt.Errorf("release discovery lease: %w", err)
		}
		s.disc.mu.Unlock()
		close(a.done)
	}()
	return a, nil
}

// runningElsewhere is the conflict answered while another process holds the
// discovery lease; it names that process's run when it has recorded one.
func (s *Store) runningElsewhere(ctx context.Context) error {
	var id int64
	var actor string
	err := s.r.QueryRowContext(ctx, `SELECT id, actor FROM discovery_runs WHERE state = 'running' ORDER BY id DESC LIMIT 1`).Scan(&id, &actor)
	if err != nil {
		return conflictf("discovery is starting in another process; try again in a moment")
	}
	return conflictf("discovery run %d (started by %s) is still running in another process", id, actor)
}

// beginRun records a new run. The caller holds the discovery lease, so any
// run still marked running was cut off by the end of its process: it is
// marked interrupted and audited, and this run, which evaluates every device
// afresh, finishes its work.
func (s *Store) beginRun(ctx context.Context, run DiscoveryRun) (int64, error) {
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := interruptDeadRuns(ctx, tx); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO discovery_runs (trigger, actor, state, started_at, heartbeat_at) VALUES (?, ?, 'running', ?, ?)`,
			run.Trigger, run.Actor, run.StartedAt.Unix(), time.Now().Unix())
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("start discovery: %w", err)
	}
	return id, nil
}

// interruptDeadRuns marks the runs left running by a dead process as
// interrupted, ending when they last wrote, each with an audit entry.
func interruptDeadRuns(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT "+runCols+", heartbeat_at FROM discovery_runs WHERE state = 'running'")
	if err != nil {
		return err
	}
	var dead []DiscoveryRun
	for rows.Next() {
		var beat int64
		r, err := scanRun(rows, &beat)
		if err != nil {
			rows.Close()
			return err
		}
		r.FinishedAt = time.Unix(beat, 0).UTC()
		dead = append(dead, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range dead {
		r.State = RunInterrupted
		r.Error = "the process running it stopped"
		if _, err := tx.ExecContext(ctx, `UPDATE discovery_runs SET state = ?, finished_at = ?, error = ? WHERE id = ?`,
			r.State, r.FinishedAt.Unix(), r.Error, r.ID); err != nil {
			return err
		}
		// The run's end is news too: interrupted, by a process that died.
		if err := enqueueEvent(ctx, tx, Event{Type: EventDiscoveryFinished, Subject: fmt.Sprintf("%d", r.ID),
			At: r.FinishedAt, Data: discoveryFinished(r)}); err != nil {
			return err
		}
		detail := fmt.Sprintf("run %d interrupted after %d of %d devices: %s; the next run finishes its work",
			r.ID, r.Processed, r.Total, r.Error)
		if err := recordAudit(ctx, tx, AuditEntry{At: r.FinishedAt, Actor: r.Actor, Action: ActionDiscovery,
			Target: string(r.Trigger), Outcome: OutcomeFailure, Detail: detail}, nil); err != nil {
			return err
		}
	}
	return nil
}

// runDiscovery evaluates the whole directory and writes what changed.
func (s *Store) runDiscovery(ctx context.Context, run DiscoveryRun) (DiscoveryRun, error) {
	wallStart := time.Now()

	if s.dir.src != nil {
		// A failed sync is recorded with its error (LastSyncRun) and leaves
		// the last good directory, on which discovery still runs.
		_, _ = s.SyncDirectory(ctx, run.Trigger, run.Actor)
	}
	plan, err := s.planDiscovery(ctx, run.StartedAt)
	if err == nil {
		run.Total = len(plan.changes)
		run.Candidates, run.Registered = plan.candidates, plan.registered
		run.PrerequisitesFailed, run.StatusChanges = plan.prereqFailed, plan.statusChanges
		err = s.applyPlan(ctx, &run, plan)
	}
	if err == nil {
		// Update status follows registration, readiness and the clock:
		// recomputed when either changed something it reads.
		err = s.write(ctx, func(tx *sql.Tx) error {
			_, err := recomputeUpdatesIfStale(ctx, tx, run.StartedAt)
			return err
		})
		if err != nil {
			err = fmt.Errorf("recompute update status: %w", err)
		}
	}
	run.FinishedAt = run.StartedAt.Add(time.Since(wallStart)).Truncate(time.Second)
	switch {
	case err == nil:
		run.State = RunCompleted
	case ctx.Err() != nil:
		run.State, run.Error = RunInterrupted, ctx.Err().Error()
	default:
		run.State, run.Error = RunFailed, err.Error()
	}
	// The run's record and audit entry are written even when ctx is done.
	if ferr := s.finishRun(context.WithoutCancel(ctx), run, plan.ignored); ferr != nil && err == nil {
		err = ferr
	}
	// Alerts follow every run, failed ones too (that is one of them). An
	// evaluation that fails is retried by the next run and changes nothing
	// about this one.
	_ = s.EvaluateAlerts(context.WithoutCancel(ctx), run.FinishedAt, true)
	if err == nil && s.dir.rings != nil {
		// After the run's record is final, so the blade shows it done while
		// the (possibly long, throttled) write-back goes on. Recorded like a
		// sync; the next discovery finishes a failed one.
		_, _ = s.WriteBackRings(ctx, run.Trigger, run.Actor)
	}
	if err != nil {
		return run, fmt.Errorf("discovery run %d: %w", run.ID, err)
	}
	return run, nil
}

func (s *Store) finishRun(ctx context.Context, run DiscoveryRun, ignored []string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			UPDATE discovery_runs SET state = ?, finished_at = ?, heartbeat_at = ?, total = ?, processed = ?,
				candidates = ?, registered = ?, prerequisites_failed = ?, status_changes = ?, error = ?
			WHERE id = ?`,
			run.State, run.FinishedAt.Unix(), run.FinishedAt.Unix(), run.Total, run.Processed,
			run.Candidates, run.Registered, run.PrerequisitesFailed, run.StatusChanges, run.Error, run.ID)
		if err != nil {
			return err
		}
		outcome := OutcomeSuccess
		if run.State != RunCompleted {
			outcome = OutcomeFailure
		}
		detail := fmt.Sprintf("run %d %s: %s", run.ID, run.State, run.Summary())
		if len(ignored) > 0 {
			detail += "; groups nested too deep, not followed: " + strings.Join(ignored, ", ")
		}
		if run.Error != "" {
			detail += "; error: " + run.Error
		}
		if run.State == RunCompleted {
			if err := recordSnapshot(ctx, tx, run.FinishedAt); err != nil {
				return err
			}
		}
		if err := enqueueEvent(ctx, tx, Event{Type: EventDiscoveryFinished, Subject: fmt.Sprintf("%d", run.ID),
			At: run.FinishedAt, Data: discoveryFinished(run)}); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{At: run.FinishedAt, Actor: run.Actor, Action: ActionDiscovery,
			Target: string(run.Trigger), Outcome: outcome, Detail: detail}, nil)
	})
}

// change is one device's new outcome. The old values guard the write: if the
// device changed in between (an admin action, an import), the write is
// skipped and the next run evaluates the device afresh.
type change struct {
	pk, version int64
	oldStatus   Status
	oldRing     Ring
	deviceID    string // for the change's events
	name        string
	serial      string

	status       Status
	failures     []CheckResult
	sig          int64
	writeChecks  bool // the failures differ from the stored ones
	ring         Ring // set when the service assigns a ring now
	registeredAt time.Time
	via          string
}

// discoveryPlan is what one run will write, decided on one consistent
// snapshot of the directory.
//
// It holds no device rows: the directory is walked in batches of
// discoveryBatch devices, keeping per device only what the run needs across
// batches (the peer index's keys, and a plannedChange for each device to
// write), so that a million devices plan in a small fraction of the memory
// their rows would take. applyPlan reads each batch's rows again in its
// write transaction and decides them afresh with the same rules, the same
// clock and the same peers.
type discoveryPlan struct {
	now     time.Time
	changes []plannedChange // in PK order; after planDiscovery, only the devices to write
	peers   peerIndex

	candidates, registered, prereqFailed, statusChanges int
	ignored                                             []string
}

// plannedChange is one device of the plan: the version its outcome was
// decided on (applyPlan skips the device when it moved since: the next run
// evaluates it afresh), the group it was found through, the ring the
// service gives it, and what the plan counted of it.
type plannedChange struct {
	pk, version int64
	via         string // "" when the device is not a member of the registration group
	ring        Ring
	outcomeFlags
}

// outcomeFlags are what decideDevice found besides the change itself.
type outcomeFlags struct {
	candidate     bool // in the group, neither registered nor excluded
	registers     bool // a candidate passing every prerequisite
	statusChanged bool
	write         bool // the outcome differs from what is stored
	wantsRing     bool // registered (or registering) without a ring
}

// evaluated is a device row as discovery reads it.
type evaluated struct {
	row     DeviceRow
	version int64
	sig     int64
}

// decideDevice is the pure core of discovery for one device: given its
// stored state, the group it was found through ("" when none) and its peers
// (for a candidate), it returns its outcome. considered is false for the
// devices discovery leaves alone (excluded, or outside the group and never
// evaluated).
func decideDevice(e *evaluated, via string, p Peers, now time.Time) (c change, f outcomeFlags, considered bool) {
	r := &e.row
	c = change{pk: r.PK, version: e.version, oldStatus: r.Status, oldRing: r.Ring,
		deviceID: r.DeviceID, name: r.DisplayName, serial: r.SerialNumber,
		status: r.Status, via: r.DiscoveredVia, registeredAt: r.RegisteredAt}
	if via != "" {
		c.via = via
	}
	switch {
	case r.Status == StatusExcluded:
		return c, f, false // never re-registered automatically
	case r.Status.Registered():
		results := Readiness(&r.Device, now)
		c.status, c.failures = ReadinessStatus(results), Failures(results)
		f.wantsRing = r.Ring == "" // remediation: every registered device has a ring
	case via != "":
		f.candidate = true
		c.status, c.failures, f.registers = evaluateCandidate(&r.Device, p, now)
		if f.registers {
			c.registeredAt = now
			f.wantsRing = true
		}
	case r.Status == StatusPrerequisitesFailed:
		// Left the group before registering: off the blades.
		c.status, c.failures, c.via = "", nil, ""
	default:
		return c, f, false
	}
	c.sig = outcomeSig(c.failures)
	c.writeChecks = c.sig != e.sig
	f.statusChanged = c.status != r.Status
	// A re-run with nothing changed writes nothing.
	f.write = f.wantsRing || f.statusChanged || c.writeChecks || c.via != r.DiscoveredVia ||
		!c.registeredAt.Equal(r.RegisteredAt)
	return c, f, true
}

// walkDevices calls fn with every device, in batches of discoveryBatch in
// PK order, read through q with the projection of sc: a keyed walk, so no
// query holds more than a batch. The batch and its rows are reused by the
// next call.
func walkDevices(ctx context.Context, q queryer, sc *deviceScanner, fn func(batch []*evaluated) error) error {
	b := newDeviceBatch(sc)
	for after := int64(0); ; {
		batch, err := b.read(ctx, q, "WHERE d.id > ? ORDER BY d.id LIMIT ?", after, discoveryBatch)
		if err != nil || len(batch) == 0 {
			return err
		}
		if err := fn(batch); err != nil {
			return err
		}
		after = batch[len(batch)-1].row.PK
	}
}

// eachDevicesOf calls fn with the devices whose PKs are in pks (sorted), in
// batches of at most discoveryBatch in PK order; devices that no longer
// exist are left out.
func eachDevicesOf(ctx context.Context, q queryer, sc *deviceScanner, pks []int64, fn func(batch []*evaluated) error) error {
	b := newDeviceBatch(sc)
	for len(pks) > 0 {
		part := pks[:min(discoveryBatch, len(pks))]
		pks = pks[len(part):]
		batch, err := b.read(ctx, q, "WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.id", int64sJSON(part))
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return err
			}
		}
	}
	return nil
}

// deviceBatch reads batches of device rows into reused memory.
type deviceBatch struct {
	sc    *deviceScanner
	buf   []evaluated
	batch []*evaluated
}

func newDeviceBatch(sc *deviceScanner) *deviceBatch {
	return &deviceBatch{sc: sc, buf: make([]evaluated, discoveryBatch), batch: make([]*evaluated, 0, discoveryBatch)}
}

// read reads the devices a condition selects, at most discoveryBatch.
func (b *deviceBatch) read(ctx context.Context, q queryer, cond string, args ...any) ([]*evaluated, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, "SELECT "+b.sc.proj.sql+", d.version, d.outcome_sig FROM devices d "+cond, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	b.batch = b.batch[:0]
	for rows.Next() {
		if len(b.batch) == len(b.buf) {
			return nil, fmt.Errorf("read devices: more than %d in one batch", len(b.buf))
		}
		e := &b.buf[len(b.batch)]
		if err := b.sc.scan(rows, &e.row, &e.version, &e.sig); err != nil {
			return nil, err
		}
		b.batch = append(b.batch, e)
	}
	return b.batch, rows.Err()
}

// discoveryScanner reads what discovery decides on: every stored column,
// and the device's group object IDs when a rule reads device.memberOf. It
// shares no strings: the rows are not kept.
func discoveryScanner(memberOf bool) *deviceScanner {
	var cols []string
	for _, c := range storedCols {
		if c.expr == "" || (memberOf && c.name == "member_of") {
			cols = append(cols, c.name)
		}
	}
	return newProjectionScanner(projectionOf(cols))
}

// planDiscovery walks one consistent snapshot of the directory in batches
// and decides every device's outcome.
func (s *Store) planDiscovery(ctx context.Context, now time.Time) (discoveryPlan, error) {
	plan := discoveryPlan{now: now}
	var rings RingCounts
	registeredAfter := 0
	err := s.readWalk(ctx, func(tx *sql.Tx) error {
		g, err := loadRegistrationGroup(ctx, tx)
		if err != nil {
			return err
		}
		plan.ignored = g.ignored
		via := make([]string, discoveryBatch)
		rows := make([]*DeviceRow, discoveryBatch)
		err = walkDevices(ctx, tx, discoveryScanner(g.memberOf), func(batch []*evaluated) error {
			for i, e := range batch {
				rows[i] = &e.row
			}
			if err := g.via(ctx, tx, rows[:len(batch)], via); err != nil {
				return err
			}
			for i, e := range batch {
				st := e.row.Status
				plan.peers.add(newPeerOf(&e.row.Device, st.Registered(), via[i] != "" && !st.Registered() && st != StatusExcluded))
				// A candidate is decided here as if it had no peers, which
				// is the answer for almost every one; those that have peers
				// are decided again once every device is indexed.
				_, f, considered := decideDevice(e, via[i], Peers{}, now)
				if !considered {
					continue
				}
				if st.Registered() {
					registeredAfter++
					if e.row.Ring != "" {
						rings.Add(e.row.Ring, 1)
					}
				}
				if f.write || f.candidate {
					plan.changes = append(plan.changes, plannedChange{pk: e.row.PK, version: e.version, via: via[i], outcomeFlags: f})
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		plan.peers.finish()
		return plan.decidePeered(ctx, tx)
	})
	if err != nil {
		return discoveryPlan{}, fmt.Errorf("load directory: %w", err)
	}

	// Count, keep only the devices to write, and give rings in PK order
	// after every device is counted, so that the split is the same however
	// the work is batched.
	kept := plan.changes[:0]
	var needRing []int // indexes into kept
	for _, c := range plan.changes {
		if c.candidate {
			plan.candidates++
			if c.registers {
				plan.registered++
				registeredAfter++
			} else {
				plan.prereqFailed++
			}
		}
		if c.statusChanged {
			plan.statusChanges++
		}
		if !c.write {
			continue
		}
		if c.wantsRing {
			needRing = append(needRing, len(kept))
		}
		kept = append(kept, c)
	}
	plan.changes = slices.Clip(kept)
	assigned, _ := AssignRings(rings, registeredAfter, len(needRing))
	for i, idx := range needRing {
		plan.changes[idx].ring = assigned[i]
	}
	return plan, nil
}

// decidePeered decides again, with their peers, the candidates the peer
// index says have any (a serial shared with another registered device or
// candidate, or a hybrid-joined twin).
func (p *discoveryPlan) decidePeered(ctx context.Context, q queryer) error {
	var pks []int64
	for _, c := range p.changes {
		if c.candidate && p.peers.mayHavePeers(c.pk) {
			pks = append(pks, c.pk)
		}
	}
	// Membership is the plan's already, so memberOf is not read again.
	return eachDevicesOf(ctx, q, discoveryScanner(false), pks, func(batch []*evaluated) error {
		peers, err := p.peersOf(ctx, q, batch)
		if err != nil {
			return err
		}
		for _, e := range batch {
			i, found := slices.BinarySearchFunc(p.changes, e.row.PK, func(c plannedChange, pk int64) int { return cmp.Compare(c.pk, pk) })
			if !found {
				continue
			}
			_, f, _ := decideDevice(e, p.changes[i].via, peers[e.row.PK], p.now)
			p.changes[i].outcomeFlags = f
		}
		return nil
	})
}

// peersOf returns the Peers of the candidates in batch that have any,
// loading the peer devices the index names (their name and ID are what the
// checks quote).
func (p *discoveryPlan) peersOf(ctx context.Context, q queryer, batch []*evaluated) (map[int64]Peers, error) {
	found := map[int64]peerPKs{}
	var pks []int64
	for _, e := range batch {
		st := e.row.Status
		if st.Registered() || st == StatusExcluded || !p.peers.mayHavePeers(e.row.PK) {
			continue
		}
		pp := p.peers.peers(newPeerOf(&e.row.Device, false, true))
		if pp.none() {
			continue
		}
		found[e.row.PK] = pp
		for _, pk := range []int64{pp.holder, pp.twin} {
			if pk != 0 {
				pks = append(pks, pk)
			}
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	refs, err := deviceRefs(ctx, q, pks)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]Peers, len(found))
	for pk, pp := range found {
		out[pk] = Peers{SerialHolder: refs[pp.holder], SerialHolderRegistered: pp.holderRegistered && refs[pp.holder] != nil,
			HybridTwin: refs[pp.twin]}
	}
	return out, nil
}

// deviceRefs loads the PK, ID and name of the devices with these PKs.
func deviceRefs(ctx context.Context, q queryer, pks []int64) (map[int64]*Device, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, device_id, display_name FROM devices WHERE id IN (SELECT value FROM json_each(?))`, int64sJSON(pks))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int64]*Device, len(pks))
	for rows.Next() {
		d := new(Device)
		if err := rows.Scan(&d.PK, &d.DeviceID, &d.DisplayName); err != nil {
			return nil, err
		}
		out[d.PK] = d
	}
	return out, rows.Err()
}

// evaluateCandidate decides a device that is not registered: it runs the
// prerequisites and, when every one passes, the device registers and its
// readiness checks give its status. failures are the failing prerequisites,
// or the failing readiness checks of a device that registers.
func evaluateCandidate(d *Device, p Peers, now time.Time) (status Status, failures []CheckResult, registers bool) {
	if f := Failures(Prerequisites(d, p, now)); len(f) > 0 {
		return StatusPrerequisitesFailed, f, false
	}
	results := Readiness(d, now)
	return ReadinessStatus(results), Failures(results), true
}

// outcomeSig hashes the failing checks so an unchanged outcome is not
// rewritten. Zero means no failures.
func outcomeSig(failures []CheckResult) int64 {
	if len(failures) == 0 {
		return 0
	}
	h := fnv.New64a()
	for _, f := range failures {
		h.Write([]byte(f.Check))
		h.Write([]byte{0})
		h.Write([]byte(f.Reason))
		h.Write([]byte{0})
		h.Write([]byte(f.Remediation))
		h.Write([]byte{0})
	}
	sig := int64(h.Sum64())
	if sig == 0 {
		sig = 1
	}
	return sig
}

// applyPlan writes the plan in atomic batches, recording progress. Each
// batch reads its devices in the write transaction and decides them again:
// a device whose version moved since the plan (an admin action, an import)
// is skipped, and the next run evaluates it afresh; the others come out as
// planned, with the ring the plan gave them.
func (s *Store) applyPlan(ctx context.Context, run *DiscoveryRun, plan discoveryPlan) error {
	now := run.StartedAt.Unix()
	sc := discoveryScanner(false) // membership is the plan's, so memberOf is not read
	for start, batch := 0, 0; start < len(plan.changes); start, batch = start+discoveryBatch, batch+1 {
		if err := ctx.Err(); err != nil {
			return err
		}
		part := plan.changes[start:min(start+discoveryBatch, len(plan.changes))]
		err := s.write(ctx, func(tx *sql.Tx) error {
			changes, err := plan.redecide(ctx, tx, sc, part)
			if err != nil {
				return err
			}
			if err := writeChanges(ctx, tx, changes, now, fmt.Sprintf("discovery/%d", run.ID)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE discovery_runs SET processed = ?, total = ?, heartbeat_at = ? WHERE id = ?`,
				start+len(part), run.Total, time.Now().Unix(), run.ID)
			return err
		})
		if err != nil {
			return err
		}
		run.Processed = start + len(part)
		if s.disc.afterBatch != nil {
			s.disc.afterBatch(batch)
		}
	}
	return nil
}

// redecide reads the planned devices through q and decides them again.
func (p *discoveryPlan) redecide(ctx context.Context, q queryer, sc *deviceScanner, part []plannedChange) ([]change, error) {
	pks := make([]int64, len(part))
	for i, c := range part {
		pks[i] = c.pk
	}
	changes := make([]change, 0, len(part))
	err := eachDevicesOf(ctx, q, sc, pks, func(batch []*evaluated) error {
		peers, err := p.peersOf(ctx, q, batch)
		if err != nil {
			return err
		}
		j := 0
		for _, e := range batch {
			for j < len(part) && part[j].pk < e.row.PK {
				j++
			}
			if j == len(part) || part[j].pk != e.row.PK {
				continue // not planned (cannot happen: batch ⊆ part)
			}
			pc := &part[j]
			if e.version != pc.version {
				continue // changed since the plan: the next run sees it afresh
			}
			c, f, considered := decideDevice(e, pc.via, peers[e.row.PK], p.now)
			if !considered || !f.write || f.wantsRing != (pc.ring != "") {
				// Not what was planned (a peer changed since): left for
				// the next run rather than registered without a ring.
				continue
			}
			c.ring = pc.ring
			changes = append(changes, c)
		}
		return nil
	})
	return changes, err
}

// writeChanges writes a batch of outcomes inside tx, with the events of the
// devices that changed tab or ring (batched, in the same transaction).
func writeChanges(ctx context.Context, tx *sql.Tx, changes []change, now int64, cause string) error {
	at := time.Unix(now, 0)
	tabs := newDeviceEvents(EventDeviceTabChanged, cause, at)
	rings := newDeviceEvents(EventDeviceRingChanged, cause, at)
	const guard = ` WHERE id = ? AND version = ? AND status IS ? AND ring IS ?`
	const set = `UPDATE devices SET status = ?, reasons = ?, reason_count = ?, outcome_sig = ?,
		evaluated_at = ?, discovered_via = ?, registered_at = ?`
	keepRing, err := tx.PrepareContext(ctx, set+guard)
	if err != nil {
		return err
	}
	defer keepRing.Close()
	setRing, err := tx.PrepareContext(ctx, set+`, ring = ?, ring_by = 'service', ring_actor = NULL, ring_at = ?`+guard)
	if err != nil {
		return err
	}
	defer setRing.Close()
	delChecks, err := tx.PrepareContext(ctx, `DELETE FROM check_results WHERE device_pk = ?`)
	if err != nil {
		return err
	}
	defer delChecks.Close()
	insCheck, err := tx.PrepareContext(ctx, `INSERT INTO check_results (device_pk, check_id, position, reason, remediation, evaluated_at) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer insCheck.Close()

	for i := range changes {
		c := &changes[i]
		args := []any{nullString(string(c.status)), joinChecks(c.failures), len(c.failures), c.sig,
			now, nullString(c.via), unix(c.registeredAt)}
		stmt := keepRing
		if c.ring != "" {
			stmt = setRing
			args = append(args, string(c.ring), now)
		}
		args = append(args, c.pk, c.version, nullString(string(c.oldStatus)), nullString(string(c.oldRing)))
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("write device %d: %w", c.pk, err)
		}
		n, _ := res.RowsAffected()
		if n == 0 {
			continue // changed since the snapshot: the next run sees it afresh
		}
		if err := c.events(ctx, tx, tabs, rings); err != nil {
			return err
		}
		if !c.writeChecks {
			continue
		}
		if _, err := delChecks.ExecContext(ctx, c.pk); err != nil {
			return err
		}
		for pos, f := range c.failures {
			if _, err := insCheck.ExecContext(ctx, c.pk, string(f.Check), pos, f.Reason, f.Remediation, now); err != nil {
				return err
			}
		}
	}
	if err := tabs.flush(ctx, tx); err != nil {
		return err
	}
	return rings.flush(ctx, tx)
}

// events queues the change's tab and ring moves, if any.
func (c *change) events(ctx context.Context, tx *sql.Tx, tabs, rings *deviceEvents) error {
	if from, to := c.oldStatus.Tab(), c.status.Tab(); from != to {
		if err := tabs.add(ctx, tx, DeviceChange{DeviceID: c.deviceID, DisplayName: c.name, SerialNumber: c.serial,
			From: string(from), To: string(to)}); err != nil {
			return err
		}
	}
	if c.ring != "" && c.ring != c.oldRing {
		return rings.add(ctx, tx, DeviceChange{DeviceID: c.deviceID, DisplayName: c.name, SerialNumber: c.serial,
			From: string(c.oldRing), To: string(c.ring)})
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func joinChecks(cs []CheckResult) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(string(c.Check))
	}
	return b.String()
}

const runCols = `id, trigger, actor, state, started_at, finished_at, total, processed, candidates,
	registered, prerequisites_failed, status_changes, error`

// scanRun scans runCols, then any extra columns into extra.
func scanRun(rs rowScanner, extra ...any) (DiscoveryRun, error) {
	var r DiscoveryRun
	var started int64
	var finished sql.NullInt64
	dest := []any{&r.ID, &r.Trigger, &r.Actor, &r.State, &started, &finished, &r.Total, &r.Processed,
		&r.Candidates, &r.Registered, &r.PrerequisitesFailed, &r.StatusChanges, &r.Error}
	err := rs.Scan(append(dest, extra...)...)
	r.StartedAt = time.Unix(started, 0).UTC()
	r.FinishedAt = fromUnix(finished)
	return r, err
}

// DiscoveryRunByID returns one run's record, with live progress while it runs.
func (s *Store) DiscoveryRunByID(ctx context.Context, id int64) (DiscoveryRun, error) {
	r, err := scanRun(s.r.QueryRowContext(ctx, "SELECT "+runCols+" FROM discovery_runs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return DiscoveryRun{}, notFoundf("discovery run %d was not found", id)
	}
	if err != nil {
		return DiscoveryRun{}, fmt.Errorf("discovery run %d: %w", id, err)
	}
	return r, nil
}

// LastDiscoveryRun returns the most recent run, running or not; ErrNotFound
// when discovery has never run.
func (s *Store) LastDiscoveryRun(ctx context.Context) (DiscoveryRun, error) {
	v, err := s.version(ctx)
	if err != nil {
		return DiscoveryRun{}, err
	}
	r, err := s.lastRun(ctx, v)
	if err != nil {
		return DiscoveryRun{}, err
	}
	if r == nil {
		return DiscoveryRun{}, notFoundf("discovery has not run yet")
	}
	return *r, nil
}

// RunningDiscovery returns the ID of the run going in this process, if any.
func (s *Store) RunningDiscovery() (int64, bool) {
	s.disc.mu.Lock()
	defer s.disc.mu.Unlock()
	if s.disc.cur == nil {
		return 0, false
	}
	return s.disc.cur.id, true
}
