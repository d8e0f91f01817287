package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The update status of registered devices (SPEC §12). The rules are pure
// functions of the device and an updatePolicy (schedules, releases, pauses,
// feature targets and the clock); recomputeUpdates applies them to every
// registered device inside the writer's transaction and keeps the reports'
// counts and the daily trend with them.

// UpdateStatus is where a registered device stands with updates.
type UpdateStatus string

// Update statuses, in report order.
const (
	UpdateUpToDate    UpdateStatus = "up-to-date"
	UpdateNotUpToDate UpdateStatus = "not-up-to-date"
	UpdateIneligible  UpdateStatus = "ineligible"
	UpdateNotReady    UpdateStatus = "not-ready"
)

// UpdateStatuses lists the statuses in report order.
var UpdateStatuses = []UpdateStatus{UpdateUpToDate, UpdateNotUpToDate, UpdateIneligible, UpdateNotReady}

// Label is the status as the UI names it.
func (s UpdateStatus) Label() string {
	switch s {
	case UpdateUpToDate:
		return "Up to date"
	case UpdateNotUpToDate:
		return "Not up to date"
	case UpdateIneligible:
		return "Ineligible"
	case UpdateNotReady:
		return "Not ready"
	}
	return ""
}

// ParseUpdateStatus accepts a status key or label.
func ParseUpdateStatus(s string) (UpdateStatus, error) {
	for _, st := range UpdateStatuses {
		if equalFoldTrim(s, string(st)) || equalFoldTrim(s, st.Label()) {
			return st, nil
		}
	}
	return "", invalidf("update status %q is not one of up-to-date, not-up-to-date, ineligible, not-ready", strings.TrimSpace(s))
}

// UpdateSubStatus qualifies an update status.
type UpdateSubStatus string

// Sub-statuses.
const (
	SubNone               UpdateSubStatus = ""
	SubInProgress         UpdateSubStatus = "in-progress"
	SubPaused             UpdateSubStatus = "paused"
	SubOverdue            UpdateSubStatus = "overdue"
	SubSyncOld            UpdateSubStatus = "intune-sync-older-than-5-days"
	SubUnsupportedEdition UpdateSubStatus = "unsupported-edition"
	SubUnsupportedBuild   UpdateSubStatus = "unsupported-build"
	// SubWithout is a report filter, never a device's sub-status: the
	// devices without one (the summary's plain Up to date column).
	SubWithout UpdateSubStatus = "none"
)

// UpdateSubStatuses lists the sub-statuses.
var UpdateSubStatuses = []UpdateSubStatus{SubInProgress, SubPaused, SubOverdue, SubSyncOld, SubUnsupportedEdition, SubUnsupportedBuild}

// Label is the sub-status as the UI names it.
func (s UpdateSubStatus) Label() string {
	switch s {
	case SubInProgress:
		return "In progress"
	case SubPaused:
		return "Paused"
	case SubOverdue:
		return "Overdue"
	case SubSyncOld:
		return "Intune sync older than 5 days"
	case SubUnsupportedEdition:
		return "Not on a supported Windows edition"
	case SubUnsupportedBuild:
		return "Not on a supported Windows build"
	case SubWithout:
		return "None"
	}
	return ""
}

// ParseUpdateSubStatus accepts a sub-status key or label, or "none" (the
// SubWithout filter); "" is any.
func ParseUpdateSubStatus(s string) (UpdateSubStatus, error) {
	if strings.TrimSpace(s) == "" {
		return SubNone, nil
	}
	if equalFoldTrim(s, string(SubWithout)) {
		return SubWithout, nil
	}
	for _, st := range UpdateSubStatuses {
		if equalFoldTrim(s, string(st)) || equalFoldTrim(s, st.Label()) {
			return st, nil
		}
	}
	return "", invalidf("update sub-status %q is not one of in-progress, paused, overdue, intune-sync-older-than-5-days, unsupported-edition, unsupported-build", strings.TrimSpace(s))
}

// Thresholds of SPEC §12.
const (
	syncStaleAfter  = 5 * day  // Ineligible: Intune sync older than this
	overdueAfter    = 21 * day // Not up to date: released this long ago; also the SLO line
	supportedWindow = 60 * day // a build line no release named in this long is unsupported
	// SLOPercent is the share of eligible devices that must be on a release
	// 21 days after it.
	SLOPercent = 95
)

// WhoActs says who must act on a status: Customer, Service, or "".
func WhoActs(st UpdateStatus, restart, now time.Time) string {
	switch st {
	case UpdateIneligible, UpdateNotReady:
		return "Customer"
	case UpdateNotUpToDate:
		if !restart.IsZero() && now.After(restart) {
			return "Service and Customer"
		}
		return "Service"
	}
	return ""
}

// OfferState is a release's state in one ring.
type OfferState string

// Offer states.
const (
	OfferScheduled OfferState = "Scheduled"
	OfferOffered   OfferState = "Offered"
	OfferPaused    OfferState = "Paused"
	OfferWaiting   OfferState = "Waiting"
	OfferCompleted OfferState = "Completed"
)

// RingOffer is a release (or feature target) in one ring: when it is
// offered, due and restarted, and its state now.
type RingOffer struct {
	Ring                      Ring
	OfferAt, DueAt, RestartAt time.Time
	State                     OfferState
	// Waiting says why the rollout gate holds the offer.
	Waiting string
}

// Offered reports whether the ring has been offered the release.
func (o RingOffer) Offered() bool { return o.State == OfferOffered || o.State == OfferCompleted }

// offerDates computes a release's dates in a ring (SPEC §12): offered on
// the release date + deferral, due deadline days later, restarted grace
// days after that. An expedited release moves to the expedited schedule
// (offer at once, deadline 1, grace 1) from the moment it was expedited,
// unless its own schedule is sooner. An offer falling inside a pause of the
// ring moves to the pause's end, and its due and restart dates with it.
func offerDates(date time.Time, deferral, deadline, grace int, expedited time.Time, pauses []Pause) (offer, due, restart time.Time) {
	offer = date.Add(time.Duration(deferral) * day)
	due = offer.Add(time.Duration(deadline) * day)
	restart = due.Add(time.Duration(grace) * day)
	if !expedited.IsZero() {
		from := expedited
		if from.Before(date) {
			from = date
		}
		offer = minTime(offer, from)
		due = minTime(due, from.Add(expeditedDeadline*day))
		restart = minTime(restart, due.Add(expeditedGrace*day))
	}
	for moved := true; moved; {
		moved = false
		for _, p := range pauses {
			if p.ActiveAt(offer) {
				shift := p.End().Sub(offer)
				offer, due, restart = offer.Add(shift), due.Add(shift), restart.Add(shift)
				moved = true
			}
		}
	}
	return offer, due, restart
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// updatePolicy is everything a device's update status depends on besides
// the device: built once per recomputation.
type updatePolicy struct {
	now       time.Time
	schedules map[Ring]Schedule
	releases  []Release // oldest first
	features  []FeatureTarget
	pauses    []Pause
	gates     map[gateKey]time.Time
	newGates  []gateKey // gates opened by this recomputation
	// recent holds the build lines a release of the last 60 days names.
	recent  map[int]bool
	quality map[Ring]*ringPlan
	feature map[Ring]*ringPlan
}

// ringPlan is one ring's offers of one kind and what they make of a device.
type ringPlan struct {
	ring   Ring
	pause  *Pause      // holding now
	offers []RingOffer // per release (or feature target), in policy order
	// current is the target per build line: the revision of the latest
	// release offered to the ring that names it (for features, line 0 holds
	// the build of the latest target offered).
	current map[int]ringTarget
	// overdue is the highest revision per line of a release offered to the
	// ring and released 21 or more days ago.
	overdue map[int]int
}

type ringTarget struct {
	revision int
	index    int // of the release in the policy
}

func newUpdatePolicy(now time.Time, schedules []Schedule, releases []Release, features []FeatureTarget, pauses []Pause, gates map[gateKey]time.Time) *updatePolicy {
	p := &updatePolicy{now: now, schedules: map[Ring]Schedule{}, releases: releases, features: features, pauses: pauses,
		gates: gates, recent: map[int]bool{}, quality: map[Ring]*ringPlan{}, feature: map[Ring]*ringPlan{}}
	if p.gates == nil {
		p.gates = map[gateKey]time.Time{}
	}
	for _, sc := range schedules {
		p.schedules[sc.Ring] = sc
	}
	for _, r := range releases {
		if !r.Date.After(now) && now.Sub(r.Date) <= supportedWindow {
			for _, b := range r.Builds {
				p.recent[b.Build] = true
			}
		}
	}
	for _, ring := range Rings {
		p.feature[ring] = p.featurePlan(ring)
	}
	return p
}

// ringPauses are the pauses of ring for kind, and the one holding now.
func (p *updatePolicy) ringPauses(ring Ring, kind UpdateKind) (all []Pause, now *Pause) {
	for i := range p.pauses {
		if pp := p.pauses[i]; pp.Ring == ring && pp.Kind == kind {
			all = append(all, pp)
			if pp.ActiveAt(p.now) {
				now = &p.pauses[i]
			}
		}
	}
	return all, now
}

// releaseStats are a ring's eligible devices on each release: those whose
// build line the release names, and how many of them run its revision or
// newer. The rollout gate of the next ring reads them.
type releaseStats struct{ eligible, on []int }

// qualityPlan plans ring's quality releases. prev holds the previous
// ring's figures, which the rollout gate reads (nil for the Test ring).
func (p *updatePolicy) qualityPlan(ring Ring, prev *releaseStats, prevRing Ring) *ringPlan {
	sc := p.schedules[ring]
	pauses, pausedNow := p.ringPauses(ring, KindQuality)
	plan := &ringPlan{ring: ring, pause: pausedNow, current: map[int]ringTarget{}, overdue: map[int]int{}}
	for i, r := range p.releases {
		o := RingOffer{Ring: ring}
		o.OfferAt, o.DueAt, o.RestartAt = offerDates(r.Date, sc.QualityDeferral, sc.QualityDeadline, sc.QualityGrace, r.ExpeditedAt, pauses)
		if sc.GateEnabled && prev != nil && !o.OfferAt.After(p.now) {
			p.gate(&o, i, r, sc, prev, prevRing)
		}
		switch {
		case o.State == OfferWaiting:
		case o.OfferAt.After(p.now) && pausedNow != nil:
			o.State = OfferPaused
		case o.OfferAt.After(p.now):
			o.State = OfferScheduled
		default:
			o.State = OfferOffered
		}
		plan.offers = append(plan.offers, o)
		if !o.Offered() {
			continue
		}
		for _, b := range r.Builds {
			if cur, ok := plan.current[b.Build]; !ok || !o.OfferAt.Before(plan.offers[cur.index].OfferAt) {
				plan.current[b.Build] = ringTarget{b.Revision, i}
			}
			if p.now.Sub(r.Date) >= overdueAfter && b.Revision > plan.overdue[b.Build] {
				plan.overdue[b.Build] = b.Revision
			}
		}
	}
	return plan
}

// gate applies the rollout gate to an offer that is due: the ring gets the
// release once the ring before it has the gate's share of its eligible
// devices on it (an empty ring holds nothing back); an opened gate stays
// open. Releases due before the gate was switched on are not held.
func (p *updatePolicy) gate(o *RingOffer, i int, r Release, sc Schedule, prev *releaseStats, prevRing Ring) {
	key := gateKey{r.ID, sc.Ring}
	if at, ok := p.gates[key]; ok {
		if at.After(o.OfferAt) {
			shift := at.Sub(o.OfferAt)
			o.OfferAt, o.DueAt, o.RestartAt = at, o.DueAt.Add(shift), o.RestartAt.Add(shift)
		}
		return
	}
	if o.OfferAt.Before(sc.UpdatedAt) {
		return
	}
	elig, on := prev.eligible[i], prev.on[i]
	if elig == 0 || on*100 >= sc.GatePercent*elig {
		p.gates[key] = p.now
		p.newGates = append(p.newGates, key)
		shift := p.now.Sub(o.OfferAt)
		o.OfferAt, o.DueAt, o.RestartAt = p.now, o.DueAt.Add(shift), o.RestartAt.Add(shift)
		return
	}
	o.State = OfferWaiting
	o.Waiting = fmt.Sprintf("Waiting for the %s ring: %d %% of its eligible devices are on this release; the rollout gate needs %d %%",
		prevRing.Label(), on*100/elig, sc.GatePercent)
}

// featurePlan plans ring's feature targets.
func (p *updatePolicy) featurePlan(ring Ring) *ringPlan {
	sc := p.schedules[ring]
	pauses, pausedNow := p.ringPauses(ring, KindFeature)
	plan := &ringPlan{ring: ring, pause: pausedNow, current: map[int]ringTarget{}, overdue: map[int]int{}}
	for i, f := range p.features {
		o := RingOffer{Ring: ring}
		o.OfferAt, _, _ = offerDates(f.Start, sc.FeatureDeferral, 0, 0, time.Time{}, pauses)
		o.DueAt, o.RestartAt = o.OfferAt, o.OfferAt
		switch {
		case o.OfferAt.After(p.now) && pausedNow != nil:
			o.State = OfferPaused
		case o.OfferAt.After(p.now):
			o.State = OfferScheduled
		default:
			o.State = OfferOffered
		}
		plan.offers = append(plan.offers, o)
		if !o.Offered() {
			continue
		}
		if cur, ok := plan.current[0]; !ok || !o.OfferAt.Before(plan.offers[cur.index].OfferAt) {
			plan.current[0] = ringTarget{f.Build, i}
		}
		if p.now.Sub(f.Start) >= overdueAfter && f.Build > plan.overdue[0] {
			plan.overdue[0] = f.Build
		}
	}
	return plan
}

// updateDevice is what a device's update status reads of it.
type updateDevice struct {
	pk                     int64
	deviceID, name, serial string
	status                 Status
	ring                   Ring
	edition                string
	build, rev             int
	lastCheckin            time.Time
}

// parseRevision reads BUILD and REVISION of "10.0.BUILD.REVISION"; a
// missing revision is 0.
func parseRevision(version string) (build, rev int) {
	build = OSBuild(version)
	parts := strings.Split(version, ".")
	if len(parts) >= 4 {
		if n, err := strconv.Atoi(parts[3]); err == nil && n >= 0 {
			rev = n
		}
	}
	return build, rev
}

// eligibility applies the first rows of SPEC §12's table, which both kinds
// share: Not ready, then the three Ineligible reasons.
func (p *updatePolicy) eligibility(d *updateDevice) (UpdateStatus, UpdateSubStatus, bool) {
	switch {
	case d.status == StatusReadinessFailed || d.status == StatusInactive:
		return UpdateNotReady, SubNone, false
	case d.lastCheckin.IsZero() || p.now.Sub(d.lastCheckin) > syncStaleAfter:
		return UpdateIneligible, SubSyncOld, false
	case !checkEditionSupported(d.edition):
		return UpdateIneligible, SubUnsupportedEdition, false
	case d.build == 0 || !p.recent[d.build]:
		return UpdateIneligible, SubUnsupportedBuild, false
	}
	return "", "", true
}

// qualityStatus is a device's quality update status, and the ring's current
// target for its line (index -1 when there is none).
func (p *updatePolicy) qualityStatus(d *updateDevice) (UpdateStatus, UpdateSubStatus, ringTarget) {
	plan := p.quality[d.ring]
	none := ringTarget{index: -1}
	if plan == nil {
		return UpdateNotReady, SubNone, none
	}
	target, offered := plan.current[d.build]
	if !offered {
		target = none
	}
	if st, sub, ok := p.eligibility(d); !ok {
		return st, sub, target
	}
	od, hasOverdue := plan.overdue[d.build]
	st, sub := ladder(d.rev, target.revision, offered, od, hasOverdue, plan.pause != nil)
	return st, sub, target
}

// featureStatus is a device's feature update status and the ring's feature
// target (index -1 when there is none).
func (p *updatePolicy) featureStatus(d *updateDevice) (UpdateStatus, UpdateSubStatus, ringTarget) {
	plan := p.feature[d.ring]
	none := ringTarget{index: -1}
	if plan == nil {
		return UpdateNotReady, SubNone, none
	}
	target, offered := plan.current[0]
	if !offered {
		target = none
	}
	if st, sub, ok := p.eligibility(d); !ok {
		return st, sub, target
	}
	od, hasOverdue := plan.overdue[0]
	st, sub := ladder(d.build, target.revision, offered, od, hasOverdue, plan.pause != nil)
	return st, sub, target
}

// ladder applies the last rows of SPEC §12's table to an eligible device
// at version v (its revision; for features, its build): Up to date at or
// above the current target, then Overdue below a target released 21 or
// more days ago, then Paused while the ring is paused, else In progress.
func ladder(v, target int, offered bool, overdue int, hasOverdue, paused bool) (UpdateStatus, UpdateSubStatus) {
	switch {
	case !offered || v >= target:
		return UpdateUpToDate, SubNone
	case hasOverdue && v < overdue:
		return UpdateNotUpToDate, SubOverdue
	case paused:
		return UpdateUpToDate, SubPaused
	}
	return UpdateUpToDate, SubInProgress
}

// UpdateRecompute says what a recomputation did.
type UpdateRecompute struct {
	Devices int // registered devices
	Changed int // update status rows written or removed
}

// RecomputeUpdates recomputes every registered device's update status as
// of now, with the reports' counts and today's trend snapshot. Discovery
// and every change of releases, schedules and pauses do it themselves; the
// command line and tests call it to move the clock on.
func (s *Store) RecomputeUpdates(ctx context.Context, now time.Time) (UpdateRecompute, error) {
	var res UpdateRecompute
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = recomputeUpdates(ctx, tx, now)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("recompute update status: %w", err)
	}
	return res, nil
}

// updateRow is one row of update_status. Comparable: a recomputation
// writes only the rows that differ.
type updateRow struct {
	pk                     int64
	deviceID, name, serial string
	ring                   Ring
	readiness              Status
	build, rev             int
	lastCheckin            int64
	status                 UpdateStatus
	sub                    UpdateSubStatus
	targetBuild, targetRev int
	releaseID              int64 // 0: none
	offerAt, dueAt         int64 // 0: none
	restartAt              int64
	fStatus                UpdateStatus
	fSub                   UpdateSubStatus
	fTarget                int
}

const updateRowCols = `id, device_id, display_name, serial_number, ring, readiness, build, revision, last_checkin,
	status, sub_status, target_build, target_revision, coalesce(release_id, 0), coalesce(offer_at, 0), coalesce(due_at, 0),
	coalesce(restart_at, 0), feature_status, feature_sub, feature_target`

func (r *updateRow) scanDest() []any {
	return []any{&r.pk, &r.deviceID, &r.name, &r.serial, &r.ring, &r.readiness, &r.build, &r.rev, &r.lastCheckin,
		&r.status, &r.sub, &r.targetBuild, &r.targetRev, &r.releaseID, &r.offerAt, &r.dueAt,
		&r.restartAt, &r.fStatus, &r.fSub, &r.fTarget}
}

func nullable(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

func (r *updateRow) values() []any {
	return []any{r.pk, r.deviceID, r.name, r.serial, r.ring, r.readiness, r.build, r.rev, r.lastCheckin,
		r.status, r.sub, r.targetBuild, r.targetRev, nullable(r.releaseID), nullable(r.offerAt), nullable(r.dueAt),
		nullable(r.restartAt), r.fStatus, r.fSub, r.fTarget}
}

// loadUpdatePolicy reads the schedules, releases, feature targets, pauses
// and gates.
func loadUpdatePolicy(ctx context.Context, q queryer, now time.Time) (*updatePolicy, error) {
	scs, err := loadSchedules(ctx, q)
	if err != nil {
		return nil, err
	}
	rels, err := loadReleases(ctx, q)
	if err != nil {
		return nil, err
	}
	fts, err := loadFeatureTargets(ctx, q)
	if err != nil {
		return nil, err
	}
	ps, err := loadPauses(ctx, q)
	if err != nil {
		return nil, err
	}
	gates, err := loadGates(ctx, q)
	if err != nil {
		return nil, err
	}
	return newUpdatePolicy(now, scs, rels, fts, ps, gates), nil
}

// recomputeUpdates is RecomputeUpdates inside the caller's transaction:
// every registered device.
func recomputeUpdates(ctx context.Context, tx *sql.Tx, now time.Time) (UpdateRecompute, error) {
	now = now.UTC().Truncate(time.Second)
	res, _, err := recompute(ctx, tx, now, everyDevice)
	return res, err
}

// recomputeUpdatesIfStale recomputes what changed since the last
// recomputation (update_recompute and update_dirty, migration 0160): every
// device once now is at or past the next instant at which a date of the
// policy changes a status, or before the last recomputation's clock; else
// the devices whose columns changed and those whose check-in turned five
// days old meanwhile, and nothing when there are none (then only the
// reports' "as of" moves to now). It reports what it recomputed.
func recomputeUpdatesIfStale(ctx context.Context, tx *sql.Tx, now time.Time) (recomputed, error) {
	now = now.UTC().Truncate(time.Second)
	var until, checked int64
	err := tx.QueryRowContext(ctx, `SELECT valid_until, checked_at FROM update_recompute WHERE id = 1`).Scan(&until, &checked)
	if err != nil {
		return recomputedNothing, err
	}
	if now.Unix() < checked || now.Unix() >= until {
		_, _, err := recompute(ctx, tx, now, everyDevice)
		return recomputedEvery, err
	}
	// Stale once now - check-in > 5 days: those fresh at checked and stale
	// now checked in at or after checked - 5 days and before now - 5 days.
	stale := int64(syncStaleAfter / time.Second)
	if _, err := tx.ExecContext(ctx, `INSERT INTO update_dirty (id) SELECT id FROM update_status
		WHERE last_checkin >= ? AND last_checkin < ? AND id NOT IN (SELECT id FROM update_dirty)`, checked-stale, now.Unix()-stale); err != nil {
		return recomputedNothing, err
	}
	var dirty, rows int
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM update_dirty), (SELECT count(*) FROM update_status)`).Scan(&dirty, &rows); err != nil {
		return recomputedNothing, err
	}
	switch {
	case dirty == 0:
		_, err = tx.ExecContext(ctx, `UPDATE update_summary SET computed_at = ?`, now.Unix())
		if err == nil {
			_, err = tx.ExecContext(ctx, `UPDATE update_recompute SET checked_at = ? WHERE id = 1`, now.Unix())
		}
		return recomputedNothing, err
	case dirty*4 > rows:
		// Reading a device by its id costs several times its share of a
		// walk: past a quarter of the fleet, walk.
		_, _, err := recompute(ctx, tx, now, everyDevice)
		return recomputedEvery, err
	}
	_, replanned, err := recompute(ctx, tx, now, dirtyDevices)
	if err == nil && replanned {
		// A rollout gate opened: its ring's every device has a new target.
		_, _, err = recompute(ctx, tx, now, everyDevice)
		return recomputedEvery, err
	}
	return recomputedDirty, err
}

// recomputed is what recomputeUpdatesIfStale recomputed.
type recomputed int

const (
	recomputedNothing recomputed = iota
	recomputedDirty
	recomputedEvery
)

// recomputeScope is which devices a recomputation computes again.
type recomputeScope int

const (
	everyDevice  recomputeScope = iota
	dirtyDevices                // those of update_dirty; the others' rows are current
)

// recompute recomputes the update status of the devices of scope as of
// now, then the reports' counts, the releases' figures and the offers'
// events, and records what the next recomputation must do.
//
// It keeps no device in memory, so that its memory does not grow with the
// fleet: first it counts the rings' figures, which the rollout gates read
// and which count eligible devices only (no plan decides eligibility), from
// the devices of scope and the stored rows of the others, whose report
// counts it takes too; then, with every ring planned, it computes the row
// of each device of scope, written where its signature changed and
// counted. replanned says that a dirtyDevices recomputation opened a
// rollout gate, whose ring's other rows it did not compute, and wrote
// nothing.
func recompute(ctx context.Context, tx *sql.Tx, now time.Time, scope recomputeScope) (res UpdateRecompute, replanned bool, err error) {
	pol, err := loadUpdatePolicy(ctx, tx, now)
	if err != nil {
		return res, false, err
	}
	figs, counts, err := ringFigures(ctx, tx, pol, scope)
	if err != nil {
		return res, false, err
	}
	slo := pol.newStats()
	var prev *releaseStats
	var prevRing Ring
	for _, ring := range Rings {
		pol.quality[ring] = pol.qualityPlan(ring, prev, prevRing)
		stats := &figs[ring].quality
		for j := range slo.eligible {
			slo.eligible[j] += stats.eligible[j]
			slo.on[j] += stats.on[j]
		}
		prev, prevRing = stats, ring
	}
	if scope == dirtyDevices && len(pol.newGates) > 0 {
		return res, true, nil
	}
	res, err = writeUpdateRows(ctx, tx, pol, scope, func(r *updateRow) {
		if c := counts[r.ring]; c != nil {
			c[0].count(r.status, r.sub, 1)
			c[1].count(r.fStatus, r.fSub, 1)
		}
	})
	if err != nil {
		return res, false, err
	}
	sums := map[UpdateKind]*UpdateSummary{}
	for _, k := range UpdateKinds {
		sums[k] = &UpdateSummary{Kind: k, ComputedAt: now}
	}
	for _, ring := range Rings {
		f := figs[ring]
		sums[KindQuality].add(ring, counts[ring][0], pol.latestQuality(ring, f.quality))
		sums[KindFeature].add(ring, counts[ring][1], pol.latestFeature(ring, f.featureOn, f.featureEligible))
	}
	if err := writeUpdateSummaries(ctx, tx, sums, now); err != nil {
		return res, false, err
	}
	if err := writeReleaseFigures(ctx, tx, pol, slo); err != nil {
		return res, false, err
	}
	if err := announceOffers(ctx, tx, pol); err != nil {
		return res, false, err
	}
	return res, false, recordRecompute(ctx, tx, pol, scope)
}

// recordRecompute empties update_dirty and records the clock and, after
// recomputing every device, the next instant at which a date of the policy
// changes a status.
func recordRecompute(ctx context.Context, tx *sql.Tx, pol *updatePolicy, scope recomputeScope) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM update_dirty`); err != nil {
		return err
	}
	if scope == everyDevice {
		_, err := tx.ExecContext(ctx, `UPDATE update_recompute SET checked_at = ?1, valid_until = ?2 WHERE id = 1`,
			pol.now.Unix(), pol.nextChange().Unix())
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE update_recompute SET checked_at = ? WHERE id = 1`, pol.now.Unix())
	return err
}

// nextChange is the first instant after now at which the clock alone
// changes the plans (an offer, deadline or restart date, a release's
// support window or 21-day line, a pause's start or end, a feature
// target's start), or the next day, whose trend snapshot a recomputation
// writes.
func (p *updatePolicy) nextChange() time.Time {
	next := p.now.Truncate(day).Add(day)
	for _, r := range p.releases {
		for _, t := range []time.Time{r.Date, r.Date.Add(overdueAfter), r.Date.Add(supportedWindow), r.ExpeditedAt} {
			next = p.earlier(next, t)
		}
	}
	for _, f := range p.features {
		next = p.earlier(next, f.Start)
		next = p.earlier(next, f.Start.Add(overdueAfter))
	}
	for _, ps := range p.pauses {
		next = p.earlier(next, ps.At)
		next = p.earlier(next, ps.End())
	}
	for _, plans := range []map[Ring]*ringPlan{p.quality, p.feature} {
		for _, plan := range plans {
			for _, o := range plan.offers {
				next = p.earlier(next, o.OfferAt)
				next = p.earlier(next, o.DueAt)
				next = p.earlier(next, o.RestartAt)
			}
		}
	}
	return next
}

// earlier is next, or t when t is after now and before next. The rules
// compare with the clock both ways (a date reached, a date passed), so t's
// next second counts too: the clock is kept in whole seconds.
func (p *updatePolicy) earlier(next, t time.Time) time.Time {
	for _, c := range []time.Time{t, t.Add(time.Second)} {
		if c.After(p.now) && c.Before(next) {
			next = c
		}
	}
	return next
}

func (p *updatePolicy) newStats() releaseStats {
	return releaseStats{eligible: make([]int, len(p.releases)), on: make([]int, len(p.releases))}
}

// ringFigure is what one ring's eligible devices run: each release's
// figures, and how many run the feature target offered to the ring.
type ringFigure struct {
	quality                    releaseStats
	featureOn, featureEligible int
}

// registeredOnly selects the devices that have an update status.
const registeredOnly = `status IN ('active', 'readiness-failed', 'inactive')`

// ringFigures counts, per ring, the eligible devices on each release and
// on the ring's feature target: those of scope read from devices, the
// others from their stored rows (which say whether they are eligible, and
// on which build and revision). It returns the others' report counts too
// (quality, then feature), to which the rows of scope are added as they
// are computed.
func ringFigures(ctx context.Context, tx *sql.Tx, pol *updatePolicy, scope recomputeScope) (map[Ring]*ringFigure, map[Ring]*[2]UpdateRingCounts, error) {
	figs := map[Ring]*ringFigure{}
	counts := map[Ring]*[2]UpdateRingCounts{}
	for _, ring := range Rings {
		figs[ring] = &ringFigure{quality: pol.newStats()}
		counts[ring] = &[2]UpdateRingCounts{}
	}
	if scope == dirtyDevices {
		// One pass, no sorting: grouping in SQL sorted every row twice.
		err := eachRow(ctx, tx, `SELECT ring, build, revision, status, sub_status, feature_status, feature_sub FROM update_status
			WHERE id NOT IN (SELECT id FROM update_dirty)`, nil, func(rs rowScanner) error {
			var ring, st, sub, fst, fsub sql.RawBytes
			var build, rev int
			if err := rs.Scan(&ring, &build, &rev, &st, &sub, &fst, &fsub); err != nil {
				return err
			}
			c := counts[Ring(ring)]
			if c == nil {
				return nil
			}
			c[0].count(UpdateStatus(st), UpdateSubStatus(sub), 1)
			c[1].count(UpdateStatus(fst), UpdateSubStatus(fsub), 1)
			if st := UpdateStatus(st); st == UpdateUpToDate || st == UpdateNotUpToDate {
				figs[Ring(ring)].add(pol, Ring(ring), build, rev, 1)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	from := `devices d WHERE d.` + registeredOnly
	if scope == dirtyDevices {
		from = `update_dirty x CROSS JOIN devices d ON d.id = x.id WHERE d.` + registeredOnly
	}
	rows, err := tx.QueryContext(ctx, `SELECT d.os_version, d.edition, coalesce(d.last_checkin, 0), d.status, coalesce(d.ring, '') FROM `+from)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var d updateDevice
	var version, edition, status, ring sql.RawBytes
	var checkin int64
	for rows.Next() {
		if err := rows.Scan(&version, &edition, &checkin, &status, &ring); err != nil {
			return nil, nil, err
		}
		f := figs[Ring(ring)] // no allocation: a map index by a converted []byte
		if f == nil {
			continue // no ring yet: not ready, counted nowhere
		}
		d.status, d.edition = Status(status), string(edition)
		d.build, d.rev = parseRevision(string(version))
		d.lastCheckin = time.Time{}
		if checkin != 0 {
			d.lastCheckin = time.Unix(checkin, 0).UTC()
		}
		if _, _, ok := pol.eligibility(&d); ok {
			f.add(pol, Ring(ring), d.build, d.rev, 1)
		}
	}
	return figs, counts, rows.Err()
}

// add counts n eligible devices of ring on build and revision rev.
func (f *ringFigure) add(pol *updatePolicy, ring Ring, build, rev, n int) {
	for j := range pol.releases {
		if want, ok := pol.releases[j].Revision(build); ok {
			f.quality.eligible[j] += n
			if rev >= want {
				f.quality.on[j] += n
			}
		}
	}
	if ft := pol.feature[ring]; ft != nil {
		if cur, ok := ft.current[0]; ok {
			f.featureEligible += n
			if build >= cur.revision {
				f.featureOn += n
			}
		}
	}
}

// row fills out's update status of d.
func (p *updatePolicy) row(d *updateDevice, out *updateRow) *updateRow {
	*out = updateRow{pk: d.pk, deviceID: d.deviceID, name: d.name, serial: d.serial, ring: d.ring, readiness: d.status,
		build: d.build, rev: d.rev}
	if !d.lastCheckin.IsZero() {
		out.lastCheckin = d.lastCheckin.Unix()
	}
	st, sub, target := p.qualityStatus(d)
	out.status, out.sub = st, sub
	if plan := p.quality[d.ring]; plan != nil {
		if target.index >= 0 {
			o := plan.offers[target.index]
			out.targetBuild, out.targetRev = d.build, target.revision
			out.releaseID = p.releases[target.index].ID
			out.offerAt, out.dueAt, out.restartAt = o.OfferAt.Unix(), o.DueAt.Unix(), o.RestartAt.Unix()
		}
	}
	fst, fsub, ftarget := p.featureStatus(d)
	out.fStatus, out.fSub = fst, fsub
	if plan := p.feature[d.ring]; plan != nil {
		if ftarget.index >= 0 {
			out.fTarget = ftarget.revision
		}
	}
	return out
}

// signature hashes the row's columns (FNV-1a), so that a recomputation
// compares one stored integer per device instead of reading every column
// back.
func (r *updateRow) signature() int64 {
	h := uint64(14695981039346656037)
	mix := func(b []byte) {
		for _, c := range b {
			h ^= uint64(c)
			h *= 1099511628211
		}
		h ^= 0xff // a separator, so that "ab","c" and "a","bc" differ
		h *= 1099511628211
	}
	var buf [20]byte
	num := func(v int64) { mix(strconv.AppendInt(buf[:0], v, 10)) }
	num(r.pk)
	mix([]byte(r.deviceID))
	mix([]byte(r.name))
	mix([]byte(r.serial))
	mix([]byte(r.ring))
	mix([]byte(r.readiness))
	num(int64(r.build))
	num(int64(r.rev))
	num(r.lastCheckin)
	mix([]byte(r.status))
	mix([]byte(r.sub))
	num(int64(r.targetBuild))
	num(int64(r.targetRev))
	num(r.releaseID)
	num(r.offerAt)
	num(r.dueAt)
	num(r.restartAt)
	mix([]byte(r.fStatus))
	mix([]byte(r.fSub))
	num(int64(r.fTarget))
	return int64(h)
}

// writeUpdateRows walks the registered devices of scope in batches,
// computes each one's row, writes the rows whose signature differs from
// the stored one (read with the device) and removes the rows of the
// devices of scope no longer registered. An existing row is updated in
// place, which rewrites only the indexes whose columns changed: a pause
// changes every row's sub-status and no index, where a replace rewrote the
// four indexes of every row. (Rows sent as one JSON array per statement
// cost more: SQLite parses each element again for each column it extracts.)
func writeUpdateRows(ctx context.Context, tx *sql.Tx, pol *updatePolicy, scope recomputeScope, count func(*updateRow)) (UpdateRecompute, error) {
	var res UpdateRecompute
	ins, err := tx.PrepareContext(ctx, `INSERT INTO update_status (id, device_id, display_name, serial_number, ring, readiness,
		build, revision, last_checkin, status, sub_status, target_build, target_revision, release_id, offer_at, due_at,
		restart_at, feature_status, feature_sub, feature_target, sig) VALUES (`+strings.Repeat("?, ", 20)+`?)`)
	if err != nil {
		return res, err
	}
	defer ins.Close()
	upd, err := tx.PrepareContext(ctx, `UPDATE update_status SET device_id = ?2, display_name = ?3, serial_number = ?4, ring = ?5,
		readiness = ?6, build = ?7, revision = ?8, last_checkin = ?9, status = ?10, sub_status = ?11, target_build = ?12,
		target_revision = ?13, release_id = ?14, offer_at = ?15, due_at = ?16, restart_at = ?17, feature_status = ?18,
		feature_sub = ?19, feature_target = ?20, sig = ?21 WHERE id = ?1`)
	if err != nil {
		return res, err
	}
	defer upd.Close()
	// A row whose indexed columns (name, status, ring, feature status) did
	// not change is updated without naming them: SQLite rewrites every
	// index a SET names, changed or not, which cost an update of a check-in
	// four index rewrites.
	narrow, err := tx.PrepareContext(ctx, `UPDATE update_status SET device_id = ?2, serial_number = ?4,
		readiness = ?6, build = ?7, revision = ?8, last_checkin = ?9, sub_status = ?11, target_build = ?12,
		target_revision = ?13, release_id = ?14, offer_at = ?15, due_at = ?16, restart_at = ?17,
		feature_sub = ?19, feature_target = ?20, sig = ?21 WHERE id = ?1`)
	if err != nil {
		return res, err
	}
	defer narrow.Close()

	const batch = 2000
	devs := make([]updateDevice, batch)
	old := make([]storedRow, batch)
	kept := 0 // stored rows of devices still registered
	var row updateRow
	for after := int64(0); ; {
		n, err := loadUpdateDevices(ctx, tx, scope, after, devs, old)
		if err != nil {
			return res, err
		}
		// The rows are written after the batch is read: SQLite does not
		// promise what a query sees of rows changed while it runs.
		for i := range n {
			r := pol.row(&devs[i], &row)
			count(r)
			sig := r.signature()
			stmt := ins
			switch o := &old[i]; {
			case o.sig.Valid && o.sig.Int64 == sig:
				kept++
				continue
			case o.sig.Valid && o.name == r.name && o.status == r.status && o.ring == r.ring && o.fStatus == r.fStatus:
				kept++
				stmt = narrow
			case o.sig.Valid:
				kept++
				stmt = upd
			}
			if _, err := stmt.ExecContext(ctx, append(r.values(), sig)...); err != nil {
				return res, err
			}
			res.Changed++
		}
		res.Devices += n
		if n < batch {
			break
		}
		after = devs[n-1].pk
	}

	if scope == dirtyDevices {
		gone, err := tx.ExecContext(ctx, `DELETE FROM update_status WHERE id IN (SELECT id FROM update_dirty) AND NOT EXISTS
			(SELECT 1 FROM devices d WHERE d.id = update_status.id AND d.`+registeredOnly+`)`)
		if err != nil {
			return res, err
		}
		n, err := gone.RowsAffected()
		res.Changed += int(n)
		return res, err
	}
	var stored int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM update_status`).Scan(&stored); err != nil {
		return res, err
	}
	if stored > res.Devices {
		gone, err := tx.ExecContext(ctx, `DELETE FROM update_status WHERE NOT EXISTS
			(SELECT 1 FROM devices d WHERE d.id = update_status.id AND d.`+registeredOnly+`)`)
		if err != nil {
			return res, err
		}
		n, err := gone.RowsAffected()
		if err != nil {
			return res, err
		}
		res.Changed += int(n)
	}
	return res, nil
}

// storedRow is what a recomputation reads of a device's stored row: its
// signature (not valid: none) and its indexed columns.
type storedRow struct {
	sig     sql.NullInt64
	name    string
	status  UpdateStatus
	ring    Ring
	fStatus UpdateStatus
}

// loadUpdateDevices reads the next registered devices of scope after PK
// after, in PK order, into devs with their stored rows' signatures; it
// returns how many it read.
func loadUpdateDevices(ctx context.Context, tx *sql.Tx, scope recomputeScope, after int64, devs []updateDevice, old []storedRow) (int, error) {
	from := `devices d LEFT JOIN update_status u ON u.id = d.id WHERE d.id > ?1 AND d.` + registeredOnly + ` ORDER BY d.id`
	if scope == dirtyDevices {
		from = `update_dirty x CROSS JOIN devices d ON d.id = x.id LEFT JOIN update_status u ON u.id = d.id
			WHERE x.id > ?1 AND d.` + registeredOnly + ` ORDER BY x.id`
	}
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.device_id, d.display_name, d.serial_number, d.os_version, d.edition,
		coalesce(d.last_checkin, 0), d.status, coalesce(d.ring, ''), u.sig,
		coalesce(u.display_name, ''), coalesce(u.status, ''), coalesce(u.ring, ''), coalesce(u.feature_status, '')
		FROM `+from+` LIMIT ?2`, after, len(devs))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		d := &devs[n]
		var version string
		var checkin int64
		o := &old[n]
		if err := rows.Scan(&d.pk, &d.deviceID, &d.name, &d.serial, &version, &d.edition, &checkin, &d.status, &d.ring,
			&o.sig, &o.name, &o.status, &o.ring, &o.fStatus); err != nil {
			return 0, err
		}
		d.build, d.rev = parseRevision(version)
		d.lastCheckin = time.Time{}
		if checkin != 0 {
			d.lastCheckin = time.Unix(checkin, 0).UTC()
		}
		n++
	}
	return n, rows.Err()
}

// UpdateSummary is a report's counts per ring, kept by each recomputation.
type UpdateSummary struct {
	Kind       UpdateKind
	ComputedAt time.Time
	// Rings are Test, First, Fast and Broad, then the total (Ring "").
	Rings []UpdateRingCounts
}

// UpdateRingCounts are one ring's devices by update status. Up to date
// counts the devices without a sub-status; In progress and Paused are the
// other Up to date devices, so the columns add up to Devices.
type UpdateRingCounts struct {
	Ring                                                                     Ring
	Devices, UpToDate, InProgress, Paused, NotUpToDate, Ineligible, NotReady int
	// Latest is the latest release (or feature build) offered to the
	// ring; OnLatest of the LatestEligible devices it names run it.
	Latest                   string
	OnLatest, LatestEligible int
}

// LatestPercent is the share of eligible devices on the latest release.
func (c UpdateRingCounts) LatestPercent() (int, bool) {
	if c.LatestEligible == 0 {
		return 0, false
	}
	return c.OnLatest * 100 / c.LatestEligible, true
}

// Count is the count of a status and sub-status column.
func (c UpdateRingCounts) Count(st UpdateStatus, sub UpdateSubStatus) int {
	switch {
	case st == UpdateUpToDate && sub == SubInProgress:
		return c.InProgress
	case st == UpdateUpToDate && sub == SubPaused:
		return c.Paused
	case st == UpdateUpToDate:
		return c.UpToDate
	case st == UpdateNotUpToDate:
		return c.NotUpToDate
	case st == UpdateIneligible:
		return c.Ineligible
	case st == UpdateNotReady:
		return c.NotReady
	}
	return 0
}

type latestFigure struct {
	name         string
	on, eligible int
}

// latestQuality is the latest release offered to ring and its figures.
func (p *updatePolicy) latestQuality(ring Ring, stats releaseStats) latestFigure {
	plan := p.quality[ring]
	best := -1
	for i, o := range plan.offers {
		if o.Offered() && (best < 0 || !o.OfferAt.Before(plan.offers[best].OfferAt)) {
			best = i
		}
	}
	if best < 0 {
		return latestFigure{}
	}
	return latestFigure{p.releases[best].Name, stats.on[best], stats.eligible[best]}
}

func (p *updatePolicy) latestFeature(ring Ring, on, eligible int) latestFigure {
	cur, ok := p.feature[ring].current[0]
	if !ok {
		return latestFigure{}
	}
	return latestFigure{strconv.Itoa(cur.revision), on, eligible}
}

// count adds n devices with status st and sub-status sub.
func (c *UpdateRingCounts) count(st UpdateStatus, sub UpdateSubStatus, n int) {
	c.Devices += n
	switch {
	case st == UpdateUpToDate && sub == SubInProgress:
		c.InProgress += n
	case st == UpdateUpToDate && sub == SubPaused:
		c.Paused += n
	case st == UpdateUpToDate:
		c.UpToDate += n
	case st == UpdateNotUpToDate:
		c.NotUpToDate += n
	case st == UpdateIneligible:
		c.Ineligible += n
	default:
		c.NotReady += n
	}
}

// add appends ring's counts, and the total after the last ring.
func (s *UpdateSummary) add(ring Ring, c UpdateRingCounts, latest latestFigure) {
	c.Ring, c.Latest, c.OnLatest, c.LatestEligible = ring, latest.name, latest.on, latest.eligible
	s.Rings = append(s.Rings, c)
	if len(s.Rings) == len(Rings) {
		t := UpdateRingCounts{}
		for _, r := range s.Rings {
			t.Devices, t.UpToDate, t.InProgress, t.Paused = t.Devices+r.Devices, t.UpToDate+r.UpToDate, t.InProgress+r.InProgress, t.Paused+r.Paused
			t.NotUpToDate, t.Ineligible, t.NotReady = t.NotUpToDate+r.NotUpToDate, t.Ineligible+r.Ineligible, t.NotReady+r.NotReady
			t.OnLatest, t.LatestEligible = t.OnLatest+r.OnLatest, t.LatestEligible+r.LatestEligible
		}
		s.Rings = append(s.Rings, t)
	}
}

// UpdateTrendDays is how long the daily snapshots are kept.
const UpdateTrendDays = 90

// writeUpdateSummaries keeps the summaries and today's snapshot, and drops
// snapshots older than 90 days.
func writeUpdateSummaries(ctx context.Context, tx *sql.Tx, sums map[UpdateKind]*UpdateSummary, now time.Time) error {
	today := now.Truncate(day).Unix()
	for _, k := range UpdateKinds {
		s := sums[k]
		body, err := json.Marshal(s.Rings)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO update_summary (kind, computed_at, body) VALUES (?, ?, ?)`, k, now.Unix(), body); err != nil {
			return err
		}
		for _, c := range s.Rings[:len(Rings)] {
			for _, st := range UpdateStatuses {
				n := c.Count(st, SubNone)
				if st == UpdateUpToDate {
					n += c.InProgress + c.Paused
				}
				if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO update_snapshots (day, kind, ring, status, n) VALUES (?, ?, ?, ?, ?)`,
					today, k, c.Ring, st, n); err != nil {
					return err
				}
			}
		}
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM update_snapshots WHERE day < ?`, now.Add(-UpdateTrendDays*day).Truncate(day).Unix())
	return err
}

// writeReleaseFigures keeps each release's SLO figure (live until its
// 21-day line, then measured once) and the gates this recomputation
// opened.
func writeReleaseFigures(ctx context.Context, tx *sql.Tx, pol *updatePolicy, slo releaseStats) error {
	for i, r := range pol.releases {
		if !r.SLOMeasured.IsZero() {
			continue
		}
		var measured any
		if pol.now.Sub(r.Date) >= overdueAfter {
			measured = pol.now.Unix()
		}
		if r.SLOOn == slo.on[i] && r.SLOEligible == slo.eligible[i] && measured == nil {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE releases SET slo_on = ?, slo_eligible = ?, slo_measured_at = ? WHERE id = ?`,
			slo.on[i], slo.eligible[i], measured, r.ID); err != nil {
			return err
		}
	}
	for _, g := range pol.newGates {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO release_gates (release_id, ring, opened_at) VALUES (?, ?, ?)`,
			g.release, g.ring, pol.gates[g].Unix()); err != nil {
			return err
		}
	}
	return nil
}

// pausedRings are the rings paused for kind at the last recomputation,
// which the stored statuses are as of. Every report page asks: the answer
// is kept between commits.
func (s *Store) pausedRings(ctx context.Context, kind UpdateKind) (map[Ring]bool, error) {
	v, err := s.version(ctx)
	if err != nil {
		return nil, err
	}
	return memoized(s, v, "paused-rings:"+string(kind), func() (map[Ring]bool, error) {
		sum, err := s.UpdateSummary(ctx, kind)
		if err != nil {
			return nil, err
		}
		ps, err := s.allPauses(ctx, v)
		if err != nil {
			return nil, err
		}
		out := map[Ring]bool{}
		for _, p := range ps {
			if p.Kind == kind && p.ActiveAt(sum.ComputedAt) {
				out[p.Ring] = true
			}
		}
		return out, nil
	})
}

// UpdateSummary reads the kept counts of a report; before the first
// recomputation every count is zero. The summary is kept between commits
// and shared: do not modify it.
func (s *Store) UpdateSummary(ctx context.Context, kind UpdateKind) (UpdateSummary, error) {
	v, err := s.version(ctx)
	if err != nil {
		return UpdateSummary{}, fmt.Errorf("update summary: %w", err)
	}
	return memoized(s, v, "update-summary:"+string(kind), func() (UpdateSummary, error) { return s.updateSummary(ctx, kind) })
}

func (s *Store) updateSummary(ctx context.Context, kind UpdateKind) (UpdateSummary, error) {
	sum := UpdateSummary{Kind: kind}
	var at int64
	var body []byte
	err := s.queryRow(ctx, `SELECT computed_at, body FROM update_summary WHERE kind = ?`, kind).Scan(&at, &body)
	switch {
	case errNoRows(err):
		for _, r := range append(Rings, "") {
			sum.Rings = append(sum.Rings, UpdateRingCounts{Ring: r})
		}
		return sum, nil
	case err != nil:
		return sum, fmt.Errorf("update summary: %w", err)
	}
	sum.ComputedAt = time.Unix(at, 0).UTC()
	if err := json.Unmarshal(body, &sum.Rings); err != nil {
		return sum, fmt.Errorf("update summary: %w", err)
	}
	return sum, nil
}

// TrendPoint is one day's devices of one ring and status.
type TrendPoint struct {
	Day    time.Time
	Ring   Ring
	Status UpdateStatus
	N      int
}

// UpdateTrend reads the daily snapshots of the last 90 days, oldest first.
func (s *Store) UpdateTrend(ctx context.Context, kind UpdateKind) ([]TrendPoint, error) {
	rows, err := s.query(ctx, `SELECT day, ring, status, n FROM update_snapshots WHERE kind = ? ORDER BY day, ring, status`, kind)
	if err != nil {
		return nil, fmt.Errorf("update trend: %w", err)
	}
	defer rows.Close()
	var out []TrendPoint
	for rows.Next() {
		var p TrendPoint
		var d int64
		if err := rows.Scan(&d, &p.Ring, &p.Status, &p.N); err != nil {
			return nil, fmt.Errorf("update trend: %w", err)
		}
		p.Day = time.Unix(d, 0).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeviceUpdate is one device's update status, as its detail view shows it.
type DeviceUpdate struct {
	Registered bool // false: the device has no update status
	Ring       Ring
	Status     UpdateStatus
	Sub        UpdateSubStatus
	Paused     bool
	Current    BuildRevision
	Target     BuildRevision // zero: no release offered to the ring names its line
	Release    string
	OfferAt    time.Time
	DueAt      time.Time
	RestartAt  time.Time

	FeatureStatus UpdateStatus
	FeatureSub    UpdateSubStatus
	FeatureTarget int
}

// WhoActs says who must act on the quality status at now.
func (u DeviceUpdate) WhoActs(now time.Time) string { return WhoActs(u.Status, u.RestartAt, now) }

// DeviceUpdate reads a device's update status as of the last recomputation.
func (s *Store) DeviceUpdate(ctx context.Context, deviceID string) (DeviceUpdate, error) {
	var r updateRow
	err := s.queryRow(ctx, "SELECT "+updateRowCols+" FROM update_status WHERE device_id = ?", NormalizeDeviceID(deviceID)).Scan(r.scanDest()...)
	switch {
	case errNoRows(err):
		return DeviceUpdate{}, nil
	case err != nil:
		return DeviceUpdate{}, fmt.Errorf("update status of %s: %w", deviceID, err)
	}
	u := r.deviceUpdate()
	paused, err := s.pausedRings(ctx, KindQuality)
	if err != nil {
		return u, fmt.Errorf("update status of %s: %w", deviceID, err)
	}
	u.Paused = paused[u.Ring]
	if r.releaseID != 0 {
		if err := s.queryRow(ctx, `SELECT name FROM releases WHERE id = ?`, r.releaseID).Scan(&u.Release); err != nil && !errNoRows(err) {
			return u, fmt.Errorf("update status of %s: %w", deviceID, err)
		}
	}
	return u, nil
}

func (r *updateRow) deviceUpdate() DeviceUpdate {
	u := DeviceUpdate{Registered: true, Ring: r.ring, Status: r.status, Sub: r.sub,
		Current: BuildRevision{r.build, r.rev}, Target: BuildRevision{r.targetBuild, r.targetRev},
		FeatureStatus: r.fStatus, FeatureSub: r.fSub, FeatureTarget: r.fTarget}
	if r.offerAt != 0 {
		u.OfferAt, u.DueAt, u.RestartAt = time.Unix(r.offerAt, 0).UTC(), time.Unix(r.dueAt, 0).UTC(), time.Unix(r.restartAt, 0).UTC()
	}
	return u
}
