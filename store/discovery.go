package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
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
		// Update status follows registration, readiness and the clock.
		_, err = s.RecomputeUpdates(ctx, run.StartedAt)
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

// discoveryPlan is everything one run will write.
type discoveryPlan struct {
	changes                                             []change
	candidates, registered, prereqFailed, statusChanges int
	ignored                                             []string
}

// evaluated is what discovery keeps of a device it loaded.
type evaluated struct {
	row     DeviceRow
	version int64
	sig     int64
}

// planDiscovery loads one consistent snapshot and decides every device's
// outcome.
func (s *Store) planDiscovery(ctx context.Context, now time.Time) (discoveryPlan, error) {
	var devs []evaluated
	var cands candidates
	err := s.read(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM devices`).Scan(&n); err != nil {
			return err
		}
		devs = make([]evaluated, 0, n)
		rows, err := tx.QueryContext(ctx, "SELECT "+deviceCols+", d.version, d.outcome_sig FROM devices d ORDER BY d.id")
		if err != nil {
			return err
		}
		defer rows.Close()
		sc := newDeviceScanner()
		for rows.Next() {
			devs = append(devs, evaluated{})
			e := &devs[len(devs)-1]
			if err := sc.scan(rows, &e.row, &e.version, &e.sig); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		ptrs := make([]*Device, len(devs))
		for i := range devs {
			ptrs[i] = &devs[i].row.Device
		}
		cands, err = expandRegistrationGroup(ctx, tx, ptrs)
		return err
	})
	if err != nil {
		return discoveryPlan{}, fmt.Errorf("load directory: %w", err)
	}
	plan := decide(devs, cands.via, now)
	plan.ignored = cands.ignored
	return plan, nil
}

// decide is the pure core of discovery: given every device with its stored
// state and the candidate set, it returns the outcomes that differ from what
// is stored.
func decide(devs []evaluated, via map[int64]string, now time.Time) discoveryPlan {
	var plan discoveryPlan

	peerIn := make([]PeerInput, len(devs))
	for i := range devs {
		st := devs[i].row.Status
		_, inGroup := via[devs[i].row.PK]
		peerIn[i] = PeerInput{
			Device:     &devs[i].row.Device,
			Registered: st.Registered(),
			Candidate:  inGroup && !st.Registered() && st != StatusExcluded,
		}
	}
	peers := FindPeers(peerIn)

	var rings RingCounts
	registeredAfter := 0
	var needRing []int // indexes into plan.changes
	for i := range devs {
		e := &devs[i]
		r := &e.row
		v, inGroup := via[r.PK]
		wantsRing := false
		c := change{pk: r.PK, version: e.version, oldStatus: r.Status, oldRing: r.Ring,
			deviceID: r.DeviceID, name: r.DisplayName, serial: r.SerialNumber,
			status: r.Status, via: r.DiscoveredVia, registeredAt: r.RegisteredAt}
		if inGroup {
			c.via = v
		}
		switch {
		case r.Status == StatusExcluded:
			continue // never re-registered automatically
		case r.Status.Registered():
			results := Readiness(&r.Device, now)
			c.status, c.failures = ReadinessStatus(results), Failures(results)
			registeredAfter++
			if r.Ring == "" {
				wantsRing = true // remediation: every registered device has a ring
			} else {
				rings.Add(r.Ring, 1)
			}
		case inGroup:
			plan.candidates++
			var registers bool
			c.status, c.failures, registers = evaluateCandidate(&r.Device, peers[r.PK], now)
			if !registers {
				plan.prereqFailed++
				break
			}
			c.registeredAt = now
			plan.registered++
			registeredAfter++
			wantsRing = true
		case r.Status == StatusPrerequisitesFailed:
			// Left the group before registering: off the blades.
			c.status, c.failures, c.via = "", nil, ""
		default:
			continue
		}
		c.sig = outcomeSig(c.failures)
		c.writeChecks = c.sig != e.sig
		if c.status != r.Status {
			plan.statusChanges++
		}
		if !wantsRing && c.status == r.Status && !c.writeChecks && c.via == r.DiscoveredVia &&
			c.registeredAt.Equal(r.RegisteredAt) {
			continue // nothing to write: a re-run with nothing changed writes nothing
		}
		if wantsRing {
			needRing = append(needRing, len(plan.changes))
		}
		plan.changes = append(plan.changes, c)
	}

	// Rings go out in PK order, after every device is counted, so the
	// split is the same however the work is batched.
	assigned, _ := AssignRings(rings, registeredAfter, len(needRing))
	for i, idx := range needRing {
		plan.changes[idx].ring = assigned[i]
	}
	return plan
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

// applyPlan writes the plan in atomic batches, recording progress.
func (s *Store) applyPlan(ctx context.Context, run *DiscoveryRun, plan discoveryPlan) error {
	now := run.StartedAt.Unix()
	for start, batch := 0, 0; start < len(plan.changes); start, batch = start+discoveryBatch, batch+1 {
		if err := ctx.Err(); err != nil {
			return err
		}
		part := plan.changes[start:min(start+discoveryBatch, len(plan.changes))]
		err := s.write(ctx, func(tx *sql.Tx) error {
			if err := writeChanges(ctx, tx, part, now, fmt.Sprintf("discovery/%d", run.ID)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE discovery_runs SET processed = ?, total = ?, heartbeat_at = ? WHERE id = ?`,
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
