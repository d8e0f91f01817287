package store

import (
	"archive/zip"
	"context"
	"database/sql"
	"fmt"
	"io"
	"strconv"
	"time"
)

// tenantExportFiles are the CSVs of the full export offered before an
// unenrollment, each a query whose columns are the file's header. Times
// are written as ISO 8601 UTC.
var tenantExportFiles = []struct{ name, query string }{
	{"devices.csv", `SELECT device_id, display_name, serial_number, manufacturer, model, os, os_version, edition, architecture,
		join_type, ownership, management, device_kind, account_enabled,
		strftime('%Y-%m-%dT%H:%M:%SZ', last_checkin, 'unixepoch') AS last_checkin FROM devices ORDER BY id`},
	{"registrations.csv", `SELECT device_id, display_name, serial_number, status, tab, reasons, ring, ring_by, ring_actor,
		strftime('%Y-%m-%dT%H:%M:%SZ', ring_at, 'unixepoch') AS ring_at,
		strftime('%Y-%m-%dT%H:%M:%SZ', registered_at, 'unixepoch') AS registered_at, discovered_via
		FROM devices WHERE status IS NOT NULL ORDER BY id`},
	{"checks.csv", `SELECT d.device_id, d.display_name, c.check_id, CASE c.passed WHEN 1 THEN 'passed' ELSE 'failed' END AS result,
		c.reason, c.remediation, strftime('%Y-%m-%dT%H:%M:%SZ', c.evaluated_at, 'unixepoch') AS evaluated_at
		FROM check_results c JOIN devices d ON d.id = c.device_pk ORDER BY d.id, c.position`},
	{"groups.csv", `SELECT g.name AS group_name, g.kind, g.rule, g.builtin AS device_registration_group,
		coalesce(d.device_id, '') AS member_device_id, coalesce(d.display_name, '') AS member_device_name,
		coalesce(mg.name, '') AS member_group
		FROM groups g LEFT JOIN group_members m ON m.group_id = g.id
		LEFT JOIN devices d ON d.id = m.device_pk LEFT JOIN groups mg ON mg.id = m.member_group_id
		ORDER BY g.name, m.rowid`},
	{"releases.csv", `SELECT r.name, strftime('%Y-%m-%d', r.release_date, 'unixepoch') AS release_date, r.classification,
		strftime('%Y-%m-%dT%H:%M:%SZ', r.expedited_at, 'unixepoch') AS expedited_at, b.build, b.revision
		FROM releases r LEFT JOIN release_builds b ON b.release_id = r.id ORDER BY r.release_date, r.id, b.build`},
	{"audit-log.csv", `SELECT id, strftime('%Y-%m-%dT%H:%M:%SZ', at, 'unixepoch') AS at, actor, action, target, outcome, detail
		FROM audit_log ORDER BY id`},
}

// ExportTenant writes the full export offered before an unenrollment: a
// ZIP of CSVs (devices, registrations and rings, checks, groups, releases,
// the audit log) read in one transaction, so the files agree with each
// other. It streams: each row goes to w as it is read. Like every export
// it takes an export slot and reads from the exports' pool.
func (s *Store) ExportTenant(ctx context.Context, w io.Writer, now time.Time) (rows int, err error) {
	release, err := s.exports.acquire(ctx)
	if err != nil {
		return 0, err // a message for the user as it is
	}
	defer release()
	tx, err := s.exports.stmts.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("export tenant: %w", err)
	}
	defer tx.Rollback() // read-only: nothing to undo
	zw := zip.NewWriter(w)
	for _, f := range tenantExportFiles {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return rows, fmt.Errorf("export tenant: %w", err)
		}
		n, err := writeQueryCSV(ctx, tx, fw, f.query)
		rows += n
		if err != nil {
			return rows, fmt.Errorf("export tenant %s: %w", f.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return rows, fmt.Errorf("export tenant: %w", err)
	}
	return rows, nil
}

// writeQueryCSV writes a query's rows as CSV with its column names as the
// header; NULL is an empty cell.
func writeQueryCSV(ctx context.Context, tx *sql.Tx, w io.Writer, query string) (int, error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	cw := NewCSVWriter(w, CSVOptions{})
	if err := cw.Write(cols); err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	rec := make([]string, len(cols))
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				rec[i] = ""
			case int64:
				rec[i] = strconv.FormatInt(v, 10)
			case []byte:
				rec[i] = string(v)
			case string:
				rec[i] = v
			default:
				rec[i] = fmt.Sprint(v)
			}
		}
		if err := cw.Write(rec); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, cw.Flush()
}
