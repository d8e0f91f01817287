package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// RegistrationResult says what RegisterDevices did with one device.
type RegistrationResult string

// Registration results.
const (
	// RegistrationRegistered: every prerequisite passed; the device is
	// registered, has a ring, and its readiness gave its status.
	RegistrationRegistered RegistrationResult = "registered"
	// RegistrationFailed: at least one prerequisite failed; the device is
	// Prerequisites failed and Failures says why.
	RegistrationFailed RegistrationResult = "prerequisites-failed"
	// RegistrationAlreadyRegistered: nothing was done; Status and Ring are
	// the device's current ones.
	RegistrationAlreadyRegistered RegistrationResult = "already-registered"
	// RegistrationExcluded: refused, the device was deregistered by an
	// admin and must be restored first.
	RegistrationExcluded RegistrationResult = "excluded"
	// RegistrationNotFound: no device has this ID.
	RegistrationNotFound RegistrationResult = "not-found"
)

// DirectRegistrationVia is the "discovered via" of a device registered by
// RegisterDevices rather than found in the Device Registration group.
const DirectRegistrationVia = "Direct registration"

// MaxRegistrationBatch is the most devices one RegisterDevices call takes.
const MaxRegistrationBatch = 1000

// ActionRegister is the audit action of a direct registration.
const ActionRegister = "device.register"

// RegistrationOutcome is what happened to one device of a RegisterDevices
// call.
type RegistrationOutcome struct {
	// DeviceID is the stored ID, or the ID as given when no device has it.
	DeviceID     string
	Result       RegistrationResult
	DisplayName  string
	SerialNumber string
	// Status, Ring and RingBy are the device's state after the call.
	Status Status
	Ring   Ring
	RingBy string
	// Failures are the failing prerequisites of a device that did not
	// register, or the failing readiness checks of one that did.
	Failures []CheckResult
	// Reason explains a refusal (excluded) or a missing device.
	Reason string
}

// RegisterDevices registers devices by ID now, whether or not they are
// members of the Device Registration group, the way Windows 365 registers
// Cloud PCs: each device that is neither registered nor excluded gets the
// prerequisite checks, and registers, with a ring, if they all pass. It
// applies discovery's rules — Prerequisites with FindPeers over the
// registered devices and these candidates, Readiness, AssignRings from the
// current ring counts — and discovery's write, in one write transaction, so
// that the ring split and the one-serial-per-registered-device rule hold
// whatever runs beside it.
//
// Registered devices are reported as they are; excluded devices are refused
// with the reason; unknown IDs are reported as not found. The outcomes are
// in the order of ids, duplicates once. A registered device stays registered
// at later discoveries whether or not it is a group member; one that failed
// and is not a member leaves the Not registered tab at the next discovery,
// like a candidate that left the group.
func (s *Store) RegisterDevices(ctx context.Context, ids []string, actor string, now time.Time) ([]RegistrationOutcome, error) {
	switch {
	case len(ids) == 0:
		return nil, fmt.Errorf("register devices: %w", invalidf("no devices were named"))
	case len(ids) > MaxRegistrationBatch:
		return nil, fmt.Errorf("register devices: %w", invalidf("at most %d devices can be registered at once, got %d", MaxRegistrationBatch, len(ids)))
	}
	var out []RegistrationOutcome
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = registerDevices(ctx, tx, ids, actor, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("register devices: %w", err)
	}
	return out, nil
}

// registrationLoader reads devices with what discovery's write guards need.
type registrationLoader struct {
	ctx  context.Context
	tx   *sql.Tx
	sc   *deviceScanner
	byPK map[int64]*evaluated
	// order is the devices in the order loaded: FindPeers breaks its ties
	// by PK, so the order does not change its answer.
	order []*evaluated
}

// load adds the devices a query selects (deviceCols, version, outcome_sig),
// each once.
func (l *registrationLoader) load(where string, args ...any) ([]*evaluated, error) {
	rows, err := l.tx.QueryContext(l.ctx, "SELECT "+deviceCols+", d.version, d.outcome_sig FROM devices d WHERE "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var got []*evaluated
	for rows.Next() {
		e := new(evaluated)
		if err := l.sc.scan(rows, &e.row, &e.version, &e.sig); err != nil {
			return nil, err
		}
		if prev, ok := l.byPK[e.row.PK]; ok {
			got = append(got, prev)
			continue
		}
		l.byPK[e.row.PK] = e
		l.order = append(l.order, e)
		got = append(got, e)
	}
	return got, rows.Err()
}

func registerDevices(ctx context.Context, tx *sql.Tx, ids []string, actor string, now time.Time) ([]RegistrationOutcome, error) {
	l := &registrationLoader{ctx: ctx, tx: tx, sc: newDeviceScanner(), byPK: map[int64]*evaluated{}}

	// The named devices, in order, each once.
	type named struct {
		raw string
		e   *evaluated
	}
	var req []named
	seen := map[string]bool{}
	for _, raw := range ids {
		id, ok := parseGUID(NormalizeDeviceID(raw))
		key := raw
		if ok {
			key = id
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		n := named{raw: raw}
		if ok {
			got, err := l.load("d.device_id = ?", id)
			if err != nil {
				return nil, err
			}
			if len(got) == 1 {
				n.e = got[0]
			}
		}
		req = append(req, n)
	}

	// The population the hardware-identity and dual-state rules look
	// across: the candidates, every registered device that shares a serial
	// with one of them, and the hybrid-joined devices that share a serial
	// or a name with the devices loaded (their twins make stale records,
	// which hold no serial). It is what discovery would hand FindPeers,
	// less the devices that cannot change these candidates' answers.
	candidate := map[int64]bool{}
	var cands []*evaluated
	for _, n := range req {
		if n.e != nil && !n.e.row.Status.Registered() && n.e.row.Status != StatusExcluded {
			candidate[n.e.row.PK] = true
			cands = append(cands, n.e)
		}
	}
	for _, e := range cands {
		if e.row.SerialNumber != "" {
			if _, err := l.load(`d.serial_number = ? COLLATE NOCASE AND d.serial_number <> ''
				AND (d.status IN ('active', 'readiness-failed', 'inactive') OR d.join_type = 'hybrid-joined')`, e.row.SerialNumber); err != nil {
				return nil, err
			}
		}
	}
	for _, e := range append([]*evaluated(nil), l.order...) {
		if e.row.JoinType == JoinEntraRegistered && e.row.DisplayName != "" {
			if _, err := l.load(`d.display_name = ? COLLATE NOCASE AND d.join_type = 'hybrid-joined'`, e.row.DisplayName); err != nil {
				return nil, err
			}
		}
	}
	peerIn := make([]PeerInput, len(l.order))
	for i, e := range l.order {
		peerIn[i] = PeerInput{Device: &e.row.Device, Registered: e.row.Status.Registered(), Candidate: candidate[e.row.PK]}
	}
	peers := FindPeers(peerIn)

	counts, err := readCounts(ctx, tx)
	if err != nil {
		return nil, err
	}
	changes := make([]change, 0, len(cands))
	var needRing []int
	for _, e := range cands {
		r := &e.row
		c := change{pk: r.PK, version: e.version, oldStatus: r.Status, oldRing: r.Ring, via: r.DiscoveredVia,
			deviceID: r.DeviceID, name: r.DisplayName, serial: r.SerialNumber}
		if c.via == "" {
			c.via = DirectRegistrationVia
		}
		var registers bool
		c.status, c.failures, registers = evaluateCandidate(&r.Device, peers[r.PK], now)
		if registers {
			c.registeredAt = now
			needRing = append(needRing, len(changes))
		}
		c.sig = outcomeSig(c.failures)
		c.writeChecks = c.sig != e.sig
		changes = append(changes, c)
	}
	registeredAfter := counts.Registered() + len(needRing)
	assigned, _ := AssignRings(counts.Rings, registeredAfter, len(needRing))
	for i, idx := range needRing {
		changes[idx].ring = assigned[i]
	}
	if err := writeChanges(ctx, tx, changes, now.Unix(), "registration/"+actor); err != nil {
		return nil, err
	}

	byPK := make(map[int64]*change, len(changes))
	for i := range changes {
		byPK[changes[i].pk] = &changes[i]
	}
	out := make([]RegistrationOutcome, 0, len(req))
	var devs []AuditDevice
	var nReg, nFailed, nAlready, nExcluded, nMissing int
	for _, n := range req {
		if n.e == nil {
			nMissing++
			out = append(out, RegistrationOutcome{DeviceID: n.raw, Result: RegistrationNotFound,
				Reason: fmt.Sprintf("no device has the ID %s", quote(n.raw))})
			continue
		}
		r := &n.e.row
		o := RegistrationOutcome{DeviceID: r.DeviceID, DisplayName: r.DisplayName, SerialNumber: r.SerialNumber,
			Status: r.Status, Ring: r.Ring, RingBy: r.RingBy}
		devs = append(devs, AuditDevice{DeviceID: r.DeviceID, SerialNumber: r.SerialNumber})
		switch c := byPK[r.PK]; {
		case c != nil && c.ring != "":
			nReg++
			o.Result, o.Status, o.Ring, o.RingBy, o.Failures = RegistrationRegistered, c.status, c.ring, RingByService, c.failures
		case c != nil:
			nFailed++
			o.Result, o.Status, o.Failures = RegistrationFailed, c.status, c.failures
		case r.Status == StatusExcluded:
			nExcluded++
			o.Result = RegistrationExcluded
			o.Reason = "the device was deregistered by an admin and is excluded; restore it (Device actions > Restore) before registering it again"
		default:
			nAlready++
			o.Result = RegistrationAlreadyRegistered
			o.Reason = fmt.Sprintf("the device is already registered (%s)", r.Status.Label())
		}
		out = append(out, o)
	}
	detail := fmt.Sprintf("%d registered, %d prerequisites failed, %d already registered, %d excluded, %d not found",
		nReg, nFailed, nAlready, nExcluded, nMissing)
	if err := recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionRegister, Outcome: OutcomeSuccess, Detail: detail}, devs); err != nil {
		return nil, err
	}
	return out, nil
}
