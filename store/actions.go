package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ActionResult says what a device action did to each device it named.
type ActionResult struct {
	Changed   []string // device IDs changed
	Unchanged []string // device IDs already in the requested state
}

// ActionRefusedError lists the devices an action cannot apply to, with the
// reason for each. It wraps ErrInvalid. A refused action changes nothing.
type ActionRefusedError struct {
	Action  string       // what was asked, as a verb phrase: "assign a ring to"
	Refused []FieldError // Value is the device ID as given, Name its display name when known
}

// Error is the sentence a person reads: the devices by name, why each was
// refused, and what to do.
func (e *ActionRefusedError) Error() string {
	const shown = 5
	var b strings.Builder
	if len(e.Refused) == 1 {
		fmt.Fprintf(&b, "Nothing was changed: cannot %s %s: it %s.", e.Action, refusedName(e.Refused[0]), e.Refused[0].Reason)
	} else {
		fmt.Fprintf(&b, "Nothing was changed: cannot %s %d devices: ", e.Action, len(e.Refused))
		for i, r := range e.Refused {
			if i == shown {
				fmt.Fprintf(&b, "; and %d more", len(e.Refused)-shown)
				break
			}
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s %s", refusedName(r), r.Reason)
		}
		b.WriteString(".")
	}
	b.WriteString(" Deselect them and try again.")
	return b.String()
}

// refusedName names a refused device: its display name, or the ID given.
func refusedName(r FieldError) string {
	if r.Name != "" {
		return r.Name
	}
	return fmt.Sprintf("device %q", r.Value)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ActionRefusedError) Unwrap() error { return ErrInvalid }

// actionTarget is a device an action loads inside its transaction.
type actionTarget struct {
	pk     int64
	id     string
	serial string
	name   string
	status Status
	ring   Ring
	ringBy string
}

// loadTargets resolves device IDs inside tx. Unknown IDs are refusals.
func loadTargets(ctx context.Context, tx *sql.Tx, action string, ids []string) ([]actionTarget, error) {
	if len(ids) == 0 {
		return nil, invalidf("%s: no devices were named", action)
	}
	stmt, err := tx.PrepareContext(ctx, `SELECT id, device_id, serial_number, display_name, status, ring, ring_by FROM devices WHERE device_id = ?`)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	refused := &ActionRefusedError{Action: action}
	seen := map[string]bool{}
	var out []actionTarget
	for _, raw := range ids {
		id := NormalizeDeviceID(raw)
		if seen[id] {
			continue
		}
		seen[id] = true
		var t actionTarget
		var status, ring, ringBy sql.NullString
		err := stmt.QueryRowContext(ctx, id).Scan(&t.pk, &t.id, &t.serial, &t.name, &status, &ring, &ringBy)
		if errors.Is(err, sql.ErrNoRows) {
			refused.Refused = append(refused.Refused, FieldError{Field: "device_id", Value: raw, Reason: "was not found"})
			continue
		}
		if err != nil {
			return nil, err
		}
		t.status, t.ring, t.ringBy = Status(status.String), Ring(ring.String), ringBy.String
		out = append(out, t)
	}
	if len(refused.Refused) > 0 {
		return nil, refused
	}
	return out, nil
}

func auditDevices(ts []actionTarget) []AuditDevice {
	out := make([]AuditDevice, len(ts))
	for i, t := range ts {
		out[i] = AuditDevice{DeviceID: t.id, SerialNumber: t.serial}
	}
	return out
}

// deviceAction is an admin action on named devices. The devices are loaded,
// refused, changed and audited in one transaction: a refusal of any device
// changes nothing.
type deviceAction struct {
	audit string // the audit log's action
	// refuse says why the action cannot apply to a device; "" when it can.
	refuse func(t actionTarget) string
	// done says the device is already in the requested state.
	done func(t actionTarget) bool
	// change changes one device.
	change func(t actionTarget) error
	// after is the device's status and ring once changed: a move of tab or
	// ring is reported as an event, in the action's transaction.
	after func(t actionTarget) (Status, Ring)
	// detail summarises the result for the audit log.
	detail func(res ActionResult) string
}

// act runs a device action for actor. prepare, called inside the
// transaction before any device changes, returns the action with its
// statements prepared on tx and a function releasing them.
func (s *Store) act(ctx context.Context, name, auditAction string, deviceIDs []string, actor string,
	prepare func(tx *sql.Tx) (deviceAction, func(), error)) (ActionResult, error) {
	var res ActionResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		ts, err := loadTargets(ctx, tx, name, deviceIDs)
		if err != nil {
			return err
		}
		a, release, err := prepare(tx)
		if err != nil {
			return err
		}
		defer release()
		refused := &ActionRefusedError{Action: name}
		for _, t := range ts {
			if why := a.refuse(t); why != "" {
				refused.Refused = append(refused.Refused, FieldError{Field: "device_id", Value: t.id, Name: t.name, Reason: why})
			}
		}
		if len(refused.Refused) > 0 {
			return refused
		}
		cause, at := auditAction+" by "+actor, time.Now()
		tabs := newDeviceEvents(EventDeviceTabChanged, cause, at)
		rings := newDeviceEvents(EventDeviceRingChanged, cause, at)
		for _, t := range ts {
			if a.done(t) {
				res.Unchanged = append(res.Unchanged, t.id)
				continue
			}
			if err := a.change(t); err != nil {
				return err
			}
			res.Changed = append(res.Changed, t.id)
			status, ring := a.after(t)
			c := change{deviceID: t.id, name: t.name, serial: t.serial, oldStatus: t.status, oldRing: t.ring, status: status, ring: ring}
			if err := c.events(ctx, tx, tabs, rings); err != nil {
				return err
			}
		}
		if err := errors.Join(tabs.flush(ctx, tx), rings.flush(ctx, tx)); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: a.audit, Outcome: OutcomeSuccess, Detail: a.detail(res)},
			auditDevices(ts))
	})
	var refused *ActionRefusedError
	if errors.As(err, &refused) {
		// The refusal is a message for the user as it is; the attempt is
		// audited, although it changed nothing.
		devs := make([]AuditDevice, len(refused.Refused))
		for i, r := range refused.Refused {
			devs[i] = AuditDevice{DeviceID: NormalizeDeviceID(r.Value)}
		}
		if aerr := s.write(ctx, func(tx *sql.Tx) error {
			return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: auditAction, Outcome: OutcomeDenied, Detail: refused.Error()}, devs)
		}); aerr != nil {
			return ActionResult{}, errors.Join(refused, aerr)
		}
		return ActionResult{}, refused
	}
	if err != nil {
		return ActionResult{}, fmt.Errorf("%s: %w", name, err)
	}
	return res, nil
}

// AssignRing moves devices to a ring (any ring, Test included). Only Active
// devices can be assigned; if any named device is not Active nothing changes
// and the error lists each refused device with its reason. The service never
// moves a device an admin assigned.
func (s *Store) AssignRing(ctx context.Context, ring Ring, deviceIDs []string, actor string) (ActionResult, error) {
	if _, err := ParseRing(string(ring)); err != nil {
		return ActionResult{}, fmt.Errorf("assign ring: %w", err)
	}
	now := time.Now().Unix()
	return s.act(ctx, "assign a ring to", ActionAssignRing, deviceIDs, actor, func(tx *sql.Tx) (deviceAction, func(), error) {
		stmt, err := tx.PrepareContext(ctx, `UPDATE devices SET ring = ?, ring_by = 'admin', ring_actor = ?, ring_at = ? WHERE id = ?`)
		if err != nil {
			return deviceAction{}, nil, err
		}
		return deviceAction{
			audit: ActionAssignRing,
			refuse: func(t actionTarget) string {
				switch t.status {
				case StatusActive:
					return ""
				case "":
					return "is not registered"
				}
				return fmt.Sprintf("is %s (only Active devices move between rings)", t.status.Label())
			},
			done: func(t actionTarget) bool { return t.ring == ring && t.ringBy == RingByAdmin },
			change: func(t actionTarget) error {
				_, err := stmt.ExecContext(ctx, string(ring), actor, now, t.pk)
				return err
			},
			after: func(t actionTarget) (Status, Ring) { return t.status, ring },
			detail: func(res ActionResult) string {
				return fmt.Sprintf("ring %s: %d changed, %d already there", ring.Label(), len(res.Changed), len(res.Unchanged))
			},
		}, func() { stmt.Close() }, nil
	})
}

// Deregister excludes devices: their registration and ring are removed, the
// directory record stays, and discovery never registers them again until
// they are restored. Devices that are on no blade cannot be deregistered.
func (s *Store) Deregister(ctx context.Context, deviceIDs []string, actor string) (ActionResult, error) {
	now := time.Now().Unix()
	return s.act(ctx, "deregister", ActionDeregister, deviceIDs, actor, func(tx *sql.Tx) (deviceAction, func(), error) {
		stmt, err := tx.PrepareContext(ctx, `
			UPDATE devices SET status = 'excluded', reasons = '', reason_count = 0, outcome_sig = 0,
				ring = NULL, ring_by = NULL, ring_actor = NULL, ring_at = NULL, registered_at = NULL,
				evaluated_at = ? WHERE id = ?`)
		if err != nil {
			return deviceAction{}, nil, err
		}
		return deviceAction{
			audit: ActionDeregister,
			refuse: func(t actionTarget) string {
				if t.status == "" {
					return "is neither registered nor a candidate (add it to the Device Registration group first)"
				}
				return ""
			},
			done:  func(t actionTarget) bool { return t.status == StatusExcluded },
			after: func(actionTarget) (Status, Ring) { return StatusExcluded, "" },
			change: func(t actionTarget) error {
				if _, err := stmt.ExecContext(ctx, now, t.pk); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `DELETE FROM check_results WHERE device_pk = ?`, t.pk)
				return err
			},
			detail: func(res ActionResult) string {
				return fmt.Sprintf("%d excluded, %d already excluded", len(res.Changed), len(res.Unchanged))
			},
		}, func() { stmt.Close() }, nil
	})
}

// Restore clears the exclusion of devices. They leave the blades until the
// next discovery evaluates them again like any other device.
func (s *Store) Restore(ctx context.Context, deviceIDs []string, actor string) (ActionResult, error) {
	return s.act(ctx, "restore", ActionRestore, deviceIDs, actor, func(tx *sql.Tx) (deviceAction, func(), error) {
		stmt, err := tx.PrepareContext(ctx, `UPDATE devices SET status = NULL, evaluated_at = NULL, discovered_via = NULL WHERE id = ?`)
		if err != nil {
			return deviceAction{}, nil, err
		}
		return deviceAction{
			audit: ActionRestore,
			refuse: func(t actionTarget) string {
				if t.status != StatusExcluded {
					return "is not excluded"
				}
				return ""
			},
			done:  func(actionTarget) bool { return false },
			after: func(actionTarget) (Status, Ring) { return "", "" },
			change: func(t actionTarget) error {
				_, err := stmt.ExecContext(ctx, t.pk)
				return err
			},
			detail: func(res ActionResult) string {
				return fmt.Sprintf("%d restored; the next discovery evaluates them", len(res.Changed))
			},
		}, func() { stmt.Close() }, nil
	})
}
