package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// UnenrollWait is how long an unenrollment request waits before Patchboard
// carries it out; any Global Administrator may cancel it until then.
const UnenrollWait = 14 * 24 * time.Hour

// settingOrgName is the settings key of the organisation's name, which a
// Global Administrator types to confirm an unenrollment.
const settingOrgName = "organisation_name"

// Audit actions of unenrollment.
const (
	ActionOrgName          = "tenant.organisation-name"
	ActionUnenrollRequest  = "unenroll.request"
	ActionUnenrollCancel   = "unenroll.cancel"
	ActionUnenrollComplete = "unenroll.complete"
	ActionUnenrollRemote   = "unenroll.remove-from-directory"
	ActionUnenrollExport   = "unenroll.export"
)

// Unenrollment is one request to unenroll the tenant.
type Unenrollment struct {
	ID           int64
	RequestedAt  time.Time
	RequestedBy  string
	DueAt        time.Time
	CancelledAt  time.Time // zero: not cancelled
	CancelledBy  string
	CompletedAt  time.Time // zero: not carried out
	Devices      int       // how many devices it deregistered
	RemoteDoneAt time.Time // Entra mode: when the ring groups and policies were emptied
	RemoteError  string    // Entra mode: why that has not worked yet
}

// Pending reports whether the request is waiting.
func (u Unenrollment) Pending() bool {
	return u.ID != 0 && u.CancelledAt.IsZero() && u.CompletedAt.IsZero()
}

// Completed reports whether the tenant was unenrolled.
func (u Unenrollment) Completed() bool { return !u.CompletedAt.IsZero() }

// UpdatePolicyRemover is what a directory connector implements to remove
// Patchboard's update policies from Intune at unenrollment.
type UpdatePolicyRemover interface {
	// RemoveUpdatePolicies deletes every update ring policy and update
	// profile Patchboard created; idempotent.
	RemoveUpdatePolicies(ctx context.Context) error
}

// OrganisationName returns the organisation's name ("" until it is set).
func (s *Store) OrganisationName(ctx context.Context) (string, error) {
	var name string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, settingOrgName).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("organisation name: %w", err)
	}
	return name, nil
}

// SetOrganisationName saves the organisation's name. It cannot change while
// an unenrollment is pending: the confirmation typed was of the old one.
func (s *Store) SetOrganisationName(ctx context.Context, name, actor string, now time.Time) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return invalidf("enter the organisation's name")
	}
	if err := checkText(name, 200); err != nil {
		return invalidf("the organisation's name %s", err.Error())
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := latestUnenrollment(ctx, tx)
		if err != nil {
			return err
		}
		if u.Pending() {
			return conflictf("an unenrollment is pending; cancel it before changing the organisation's name")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			settingOrgName, name, now.Unix(), actor); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: ActionOrgName, Target: name, Outcome: OutcomeSuccess}, nil)
	})
	if err != nil {
		return fmt.Errorf("set organisation name: %w", err)
	}
	return nil
}

// Unenrollment returns the latest request (the zero Unenrollment if there
// was none).
func (s *Store) Unenrollment(ctx context.Context) (Unenrollment, error) {
	var u Unenrollment
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = latestUnenrollment(ctx, tx)
		return err
	})
	if err != nil {
		return Unenrollment{}, fmt.Errorf("unenrollment: %w", err)
	}
	return u, nil
}

// PendingUnenrollment returns the pending request, if any: the banner every
// page shows while one waits. Kept until the next commit.
func (s *Store) PendingUnenrollment(ctx context.Context) (Unenrollment, bool, error) {
	v, err := s.version(ctx)
	if err != nil {
		return Unenrollment{}, false, err
	}
	u, err := memoized(s, v, "pending-unenrollment", func() (Unenrollment, error) { return s.Unenrollment(ctx) })
	if err != nil {
		return Unenrollment{}, false, err
	}
	return u, u.Pending(), nil
}

const unenrollCols = `id, requested_at, requested_by, due_at, cancelled_at, cancelled_by, completed_at, devices, remote_done_at, remote_error`

func latestUnenrollment(ctx context.Context, tx *sql.Tx) (Unenrollment, error) {
	var u Unenrollment
	var req, due int64
	var cancelled, completed, remote sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT `+unenrollCols+` FROM unenrollments ORDER BY id DESC LIMIT 1`).Scan(
		&u.ID, &req, &u.RequestedBy, &due, &cancelled, &u.CancelledBy, &completed, &u.Devices, &remote, &u.RemoteError)
	if errors.Is(err, sql.ErrNoRows) {
		return Unenrollment{}, nil
	}
	if err != nil {
		return Unenrollment{}, err
	}
	u.RequestedAt, u.DueAt = time.Unix(req, 0).UTC(), time.Unix(due, 0).UTC()
	u.CancelledAt, u.CompletedAt, u.RemoteDoneAt = fromUnix(cancelled), fromUnix(completed), fromUnix(remote)
	return u, nil
}

// RequestUnenrollment starts the 14-day wait. confirm must be the
// organisation's name as saved (surrounding spaces aside), so nobody
// unenrolls by a slip of the mouse.
func (s *Store) RequestUnenrollment(ctx context.Context, confirm, actor string, now time.Time) (Unenrollment, error) {
	now = now.UTC().Truncate(time.Second)
	var u Unenrollment
	err := s.write(ctx, func(tx *sql.Tx) error {
		var name string
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, settingOrgName).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return invalidf("the organisation's name is not set; set it first, then type it to confirm")
		}
		if err != nil {
			return err
		}
		if strings.TrimSpace(confirm) != name {
			return invalidf("the confirmation does not match the organisation's name; type %q exactly", name)
		}
		last, err := latestUnenrollment(ctx, tx)
		if err != nil {
			return err
		}
		switch {
		case last.Pending():
			return conflictf("an unenrollment is already pending (requested by %s, carried out %s UTC)", last.RequestedBy, last.DueAt.Format("2 Jan 2006 15:04"))
		case last.Completed():
			return conflictf("the tenant was already unenrolled on %s UTC", last.CompletedAt.Format("2 Jan 2006 15:04"))
		}
		u = Unenrollment{RequestedAt: now, RequestedBy: actor, DueAt: now.Add(UnenrollWait)}
		if err := tx.QueryRowContext(ctx, `INSERT INTO unenrollments (requested_at, requested_by, due_at) VALUES (?, ?, ?) RETURNING id`,
			now.Unix(), actor, u.DueAt.Unix()).Scan(&u.ID); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: ActionUnenrollRequest, Target: name, Outcome: OutcomeSuccess,
			Detail: "every device is deregistered on " + u.DueAt.Format("2 Jan 2006 15:04") + " UTC unless a Global Administrator cancels"}, nil)
	})
	if err != nil {
		return Unenrollment{}, fmt.Errorf("request unenrollment: %w", err)
	}
	return u, nil
}

// CancelUnenrollment ends the pending request; nothing was removed.
func (s *Store) CancelUnenrollment(ctx context.Context, actor string, now time.Time) error {
	now = now.UTC().Truncate(time.Second)
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := latestUnenrollment(ctx, tx)
		if err != nil {
			return err
		}
		if !u.Pending() {
			return conflictf("no unenrollment is pending; there is nothing to cancel")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE unenrollments SET cancelled_at = ?, cancelled_by = ? WHERE id = ?`, now.Unix(), actor, u.ID); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: ActionUnenrollCancel, Target: fmt.Sprintf("unenrollment %d", u.ID),
			Outcome: OutcomeSuccess, Detail: "requested by " + u.RequestedBy}, nil)
	})
	if err != nil {
		return fmt.Errorf("cancel unenrollment: %w", err)
	}
	return nil
}

// Unenrolled reports whether the tenant has been unenrolled: the ring
// write-back then writes no update policies again.
func (s *Store) Unenrolled(ctx context.Context) (bool, error) {
	u, err := s.Unenrollment(ctx)
	return u.Completed(), err
}

// CompleteDueUnenrollment carries out a pending request whose wait has
// ended at now: in one transaction every device is deregistered (excluded,
// as Deregister does, so discovery never registers it again), its ring
// assignment, check results and update status removed, the request marked
// done and audited; the audit log stays. Then, in Entra mode, the ring
// groups are emptied and Patchboard's update policies deleted; if that
// fails it is retried at the next call. The server calls this at start-up
// and on its loop. It reports whether it did anything.
func (s *Store) CompleteDueUnenrollment(ctx context.Context, now time.Time) (bool, error) {
	now = now.UTC().Truncate(time.Second)
	u, err := s.Unenrollment(ctx)
	if err != nil {
		return false, err
	}
	did := false
	if u.Pending() && !now.Before(u.DueAt) {
		if u, err = s.unenrollDevices(ctx, u.ID, now); err != nil {
			return false, err
		}
		did = true
	}
	if u.Completed() && u.RemoteDoneAt.IsZero() && s.dir.rings != nil {
		return true, s.unenrollDirectory(ctx, u, now)
	}
	return did, nil
}

func (s *Store) unenrollDevices(ctx context.Context, id int64, now time.Time) (Unenrollment, error) {
	var u Unenrollment
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if u, err = latestUnenrollment(ctx, tx); err != nil {
			return err
		}
		if u.ID != id || !u.Pending() {
			return nil // cancelled or done meanwhile
		}
		// Every device leaving a blade tab is a tab change for the webhooks,
		// sent in batches as a discovery's are.
		var devs []AuditDevice
		tabs := newDeviceEvents(EventDeviceTabChanged, "unenrollment requested by "+u.RequestedBy, now)
		if err := eachRow(ctx, tx, `SELECT device_id, serial_number, display_name, status FROM devices
				WHERE status IS NOT NULL AND status <> 'excluded' ORDER BY id`, nil,
			func(rs rowScanner) error {
				var d AuditDevice
				var name string
				var status Status
				if err := rs.Scan(&d.DeviceID, &d.SerialNumber, &name, &status); err != nil {
					return err
				}
				devs = append(devs, d)
				c := change{deviceID: d.DeviceID, name: name, serial: d.SerialNumber, oldStatus: status, status: StatusExcluded}
				return c.events(ctx, tx, tabs, nil)
			}); err != nil {
			return err
		}
		if err := tabs.flush(ctx, tx); err != nil {
			return err
		}
		// As Deregister does, for every device that is on a blade.
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = 'excluded', reasons = '', reason_count = 0, outcome_sig = 0,
				ring = NULL, ring_by = NULL, ring_actor = NULL, ring_at = NULL, registered_at = NULL,
				evaluated_at = ? WHERE status IS NOT NULL AND status <> 'excluded'`, now.Unix()); err != nil {
			return err
		}
		for _, table := range []string{"check_results", "update_status", "update_summary"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
				return err
			}
		}
		u.CompletedAt, u.Devices = now, len(devs)
		if _, err := tx.ExecContext(ctx, `UPDATE unenrollments SET completed_at = ?, devices = ? WHERE id = ?`, now.Unix(), len(devs), u.ID); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{At: now, Actor: "Patchboard", Action: ActionUnenrollComplete, Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("unenrollment requested by %s on %s UTC: %d devices deregistered, rings and update statuses removed; the audit log is kept",
				u.RequestedBy, u.RequestedAt.Format("2 Jan 2006 15:04"), len(devs))}, devs)
	})
	if err != nil {
		return Unenrollment{}, fmt.Errorf("unenroll: %w", err)
	}
	return u, nil
}

// unenrollDirectory empties the ring groups and deletes the update
// policies in the directory, and records the outcome either way.
func (s *Store) unenrollDirectory(ctx context.Context, u Unenrollment, now time.Time) error {
	s.dir.mu.Lock()
	empty := make(map[Ring][]string, len(Rings))
	for _, r := range Rings {
		empty[r] = nil
	}
	res, err := s.dir.rings.WriteRings(ctx, empty)
	if remover, ok := s.dir.policies.(UpdatePolicyRemover); err == nil && ok {
		err = remover.RemoveUpdatePolicies(ctx)
	}
	s.dir.mu.Unlock()
	werr := s.write(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if err != nil {
			_, xerr := tx.ExecContext(ctx, `UPDATE unenrollments SET remote_error = ? WHERE id = ?`, err.Error(), u.ID)
			return xerr
		}
		if _, err := tx.ExecContext(ctx, `UPDATE unenrollments SET remote_done_at = ?, remote_error = '' WHERE id = ?`, now.Unix(), u.ID); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{At: now, Actor: "Patchboard", Action: ActionUnenrollRemote, Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("%d ring group members removed; Patchboard's update policies deleted", res.Removed)}, nil)
	})
	if err != nil {
		return errors.Join(fmt.Errorf("unenroll from the directory: %w", err), werr)
	}
	return werr
}
