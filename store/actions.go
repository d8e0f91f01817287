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
	Action  string
	Refused []FieldError // Value is the device ID
}

func (e *ActionRefusedError) Error() string {
	if len(e.Refused) == 1 {
		return fmt.Sprintf("%s: device %s: %s", e.Action, e.Refused[0].Value, e.Refused[0].Reason)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s refused for %d devices", e.Action, len(e.Refused))
	for i, r := range e.Refused {
		if i == 5 {
			fmt.Fprintf(&b, "; …")
			break
		}
		fmt.Fprintf(&b, "; %s: %s", r.Value, r.Reason)
	}
	return b.String()
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
			refused.Refused = append(refused.Refused, FieldError{Field: "device_id", Value: raw, Reason: "no such device"})
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

// AssignRing moves devices to a ring (any ring, Test included). Only Active
// devices can be assigned; if any named device is not Active nothing changes
// and the error lists each refused device with its reason. The service never
// moves a device an admin assigned.
func (s *Store) AssignRing(ctx context.Context, ring Ring, deviceIDs []string, actor string) (ActionResult, error) {
	if _, err := ParseRing(string(ring)); err != nil {
		return ActionResult{}, fmt.Errorf("assign ring: %w", err)
	}
	var res ActionResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		ts, err := loadTargets(ctx, tx, "assign ring", deviceIDs)
		if err != nil {
			return err
		}
		refused := &ActionRefusedError{Action: "assign ring"}
		for _, t := range ts {
			if t.status != StatusActive {
				why := "device is not registered"
				if t.status != "" {
					why = fmt.Sprintf("device is %s; only Active devices can be assigned to a ring", t.status.Label())
				}
				refused.Refused = append(refused.Refused, FieldError{Field: "device_id", Value: t.id, Reason: why})
			}
		}
		if len(refused.Refused) > 0 {
			return refused
		}
		now := time.Now().Unix()
		stmt, err := tx.PrepareContext(ctx, `UPDATE devices SET ring = ?, ring_by = 'admin', ring_actor = ?, ring_at = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, t := range ts {
			if t.ring == ring && t.ringBy == RingByAdmin {
				res.Unchanged = append(res.Unchanged, t.id)
				continue
			}
			if _, err := stmt.ExecContext(ctx, string(ring), actor, now, t.pk); err != nil {
				return err
			}
			res.Changed = append(res.Changed, t.id)
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionAssignRing, Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("ring %s: %d changed, %d already there", ring.Label(), len(res.Changed), len(res.Unchanged))},
			auditDevices(ts))
	})
	if err != nil {
		return ActionResult{}, fmt.Errorf("assign ring: %w", err)
	}
	return res, nil
}

// Deregister excludes devices: their registration and ring are removed, the
// directory record stays, and discovery never registers them again until
// they are restored. Devices that are on no blade cannot be deregistered.
func (s *Store) Deregister(ctx context.Context, deviceIDs []string, actor string) (ActionResult, error) {
	var res ActionResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		ts, err := loadTargets(ctx, tx, "deregister", deviceIDs)
		if err != nil {
			return err
		}
		refused := &ActionRefusedError{Action: "deregister"}
		for _, t := range ts {
			if t.status == "" {
				refused.Refused = append(refused.Refused, FieldError{Field: "device_id", Value: t.id,
					Reason: "device is neither registered nor a candidate; add it to the Device Registration group first"})
			}
		}
		if len(refused.Refused) > 0 {
			return refused
		}
		now := time.Now().Unix()
		stmt, err := tx.PrepareContext(ctx, `
			UPDATE devices SET status = 'excluded', reasons = '', reason_count = 0, outcome_sig = 0,
				ring = NULL, ring_by = NULL, ring_actor = NULL, ring_at = NULL, registered_at = NULL,
				evaluated_at = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, t := range ts {
			if t.status == StatusExcluded {
				res.Unchanged = append(res.Unchanged, t.id)
				continue
			}
			if _, err := stmt.ExecContext(ctx, now, t.pk); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM check_results WHERE device_pk = ?`, t.pk); err != nil {
				return err
			}
			res.Changed = append(res.Changed, t.id)
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionDeregister, Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("%d excluded, %d already excluded", len(res.Changed), len(res.Unchanged))},
			auditDevices(ts))
	})
	if err != nil {
		return ActionResult{}, fmt.Errorf("deregister: %w", err)
	}
	return res, nil
}

// Restore clears the exclusion of devices. They leave the blades until the
// next discovery evaluates them again like any other device.
func (s *Store) Restore(ctx context.Context, deviceIDs []string, actor string) (ActionResult, error) {
	var res ActionResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		ts, err := loadTargets(ctx, tx, "restore", deviceIDs)
		if err != nil {
			return err
		}
		refused := &ActionRefusedError{Action: "restore"}
		for _, t := range ts {
			if t.status != StatusExcluded {
				refused.Refused = append(refused.Refused, FieldError{Field: "device_id", Value: t.id,
					Reason: "device is not excluded"})
			}
		}
		if len(refused.Refused) > 0 {
			return refused
		}
		stmt, err := tx.PrepareContext(ctx, `UPDATE devices SET status = NULL, evaluated_at = NULL, discovered_via = NULL WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, t := range ts {
			if _, err := stmt.ExecContext(ctx, t.pk); err != nil {
				return err
			}
			res.Changed = append(res.Changed, t.id)
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionRestore, Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("%d restored; the next discovery evaluates them", len(res.Changed))},
			auditDevices(ts))
	})
	if err != nil {
		return ActionResult{}, fmt.Errorf("restore: %w", err)
	}
	return res, nil
}
