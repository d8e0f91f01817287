package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// AuditEntry is one line of the audit log (SPEC §9).
type AuditEntry struct {
	ID      int64
	At      time.Time
	Actor   string
	Action  string
	Target  string
	Outcome string
	Detail  string
	// Devices counts the devices the entry concerns (Target lists the
	// first of them).
	Devices int
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// Audit actions written by the store itself.
const (
	ActionDiscovery    = "discovery.run"
	ActionAssignRing   = "device.assign-ring"
	ActionDeregister   = "device.deregister"
	ActionRestore      = "device.restore"
	ActionImportDevice = "inventory.import"
	ActionGroupCreate  = "group.create"
	ActionGroupNest    = "group.nest"
	ActionGroupMembers = "group.members"
	ActionUserAdd      = "user.add"
	ActionExport       = "devices.export"

	ActionDirectorySync      = "directory.sync"
	ActionDirectoryWriteBack = "directory.write-back"
	ActionDirectoryRemove    = "directory.remove"
)

// AuditDevice names a device in an audit entry: its ID and serial number.
type AuditDevice struct {
	DeviceID     string
	SerialNumber string
}

// Record writes an audit entry that concerns no devices.
func (s *Store) Record(ctx context.Context, e AuditEntry) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		return recordAudit(ctx, tx, e, nil)
	})
}

// maxTargetDevices bounds how many devices an entry's target text lists; the
// audit_devices rows still name every one of them.
const maxTargetDevices = 50

// recordAudit writes e inside tx, naming devs in the target and linking each
// of them to the entry for its history.
func recordAudit(ctx context.Context, tx *sql.Tx, e AuditEntry, devs []AuditDevice) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if len(devs) > 0 {
		var b strings.Builder
		b.WriteString(e.Target)
		for i, d := range devs {
			if i == maxTargetDevices {
				fmt.Fprintf(&b, " … and %d more", len(devs)-i)
				break
			}
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(d.DeviceID)
			if d.SerialNumber != "" {
				b.WriteString(" (serial " + d.SerialNumber + ")")
			}
		}
		e.Target = b.String()
	}
	res, err := tx.ExecContext(ctx,
		`INSERT INTO audit_log (at, actor, action, target, outcome, detail, device_count) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.At.Unix(), e.Actor, e.Action, e.Target, e.Outcome, e.Detail, len(devs))
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	if len(devs) == 0 {
		return nil
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	// The IDs go in batches as one JSON array each: an import of 100,000
	// members links 100,000 devices, and one statement per device would
	// cost about as much as the import itself.
	stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO audit_devices (audit_id, device_id) SELECT ?, value FROM json_each(?)`)
	if err != nil {
		return fmt.Errorf("write audit devices: %w", err)
	}
	defer stmt.Close()
	const batch = 1000
	ids := make([]string, 0, min(batch, len(devs)))
	for start := 0; start < len(devs); start += batch {
		ids = ids[:0]
		for _, d := range devs[start:min(start+batch, len(devs))] {
			ids = append(ids, d.DeviceID)
		}
		arg, err := json.Marshal(ids)
		if err != nil {
			return fmt.Errorf("write audit devices: %w", err)
		}
		if _, err := stmt.ExecContext(ctx, id, string(arg)); err != nil {
			return fmt.Errorf("write audit devices: %w", err)
		}
	}
	return nil
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	Actor    string // exact, case-insensitive
	Action   string // exact
	DeviceID string // entries that concern this device
	Before   int64  // entries with ID below this (a cursor); 0 = newest
	Limit    int    // 0 = all
}

// AuditEntries returns entries newest first.
func (s *Store) AuditEntries(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.eachAuditEntry(ctx, s.r, f, func(e AuditEntry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// EachAuditEntry streams entries newest first to fn, for a download: like
// ExportCSV it takes an export slot and reads from the exports' pool, so a
// client that stops reading holds no reader that pages need.
func (s *Store) EachAuditEntry(ctx context.Context, f AuditFilter, fn func(AuditEntry) error) error {
	release, err := s.exports.acquire(ctx)
	if err != nil {
		return err // a message for the user as it is
	}
	defer release()
	return s.eachAuditEntry(ctx, s.exports.stmts.db, f, fn)
}

func (s *Store) eachAuditEntry(ctx context.Context, db queryer, f AuditFilter, fn func(AuditEntry) error) error {
	var where []string
	var args []any
	if f.Actor != "" {
		where = append(where, "a.actor = ? COLLATE NOCASE")
		args = append(args, f.Actor)
	}
	if f.Action != "" {
		where = append(where, "a.action = ?")
		args = append(args, f.Action)
	}
	if f.DeviceID != "" {
		where = append(where, "a.id IN (SELECT audit_id FROM audit_devices WHERE device_id = ?)")
		args = append(args, strings.ToLower(strings.TrimSpace(f.DeviceID)))
	}
	if f.Before > 0 {
		where = append(where, "a.id < ?")
		args = append(args, f.Before)
	}
	q := "SELECT a.id, a.at, a.actor, a.action, a.target, a.outcome, a.detail, a.device_count FROM audit_log a"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY a.id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("audit entries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.Detail, &e.Devices); err != nil {
			return fmt.Errorf("audit entries: %w", err)
		}
		e.At = time.Unix(at, 0).UTC()
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}
