package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SupportFilter selects the support requests a list shows.
type SupportFilter struct {
	Search   string          // words in the title, description, raiser, assignee or ID
	State    SupportState    // "" = every state
	Severity SupportSeverity // "" = every severity
}

// supportWhere is the list's condition at now: requests raised within
// SupportListPeriod, and open ones however old. The state is the effective
// one (a lapsed mitigation is Closed).
func supportWhere(f SupportFilter, now time.Time) (string, []any) {
	state := `CASE WHEN r.state = 'mitigated' AND r.mitigated_at <= ? THEN 'closed' ELSE r.state END`
	lapse := now.Add(-ReactivationWindow).Unix()
	where := []string{`(r.created_at >= ? OR r.state IN ('active','assigned'))`}
	args := []any{now.Add(-SupportListPeriod).Unix()}
	if f.State != "" {
		where = append(where, state+" = ?")
		args = append(args, lapse, string(f.State))
	}
	if f.Severity != "" {
		where = append(where, "r.severity = ?")
		args = append(args, string(f.Severity))
	}
	for _, w := range strings.Fields(f.Search) {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(w) + "%"
		where = append(where, `(r.title LIKE ? ESCAPE '\' OR r.description LIKE ? ESCAPE '\' OR r.raised_by LIKE ? ESCAPE '\'
			OR r.assigned_to LIKE ? ESCAPE '\' OR CAST(r.id AS TEXT) = ?)`)
		args = append(args, like, like, like, like, strings.TrimPrefix(w, "#"))
	}
	return strings.Join(where, " AND "), args
}

// SupportRequests lists the requests f selects at now, newest first.
func (s *Store) SupportRequests(ctx context.Context, f SupportFilter, now time.Time) ([]SupportRequest, error) {
	var out []SupportRequest
	err := s.eachSupportRequest(ctx, f, now, func(r SupportRequest) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// EachSupportRequest streams the requests f selects at now to fn, newest
// first: the list's CSV export.
func (s *Store) EachSupportRequest(ctx context.Context, f SupportFilter, now time.Time, fn func(SupportRequest) error) error {
	return s.eachSupportRequest(ctx, f, now, fn)
}

func (s *Store) eachSupportRequest(ctx context.Context, f SupportFilter, now time.Time, fn func(SupportRequest) error) error {
	where, args := supportWhere(f, now)
	rows, err := s.r.QueryContext(ctx, "SELECT "+supportCols+" FROM support_requests r WHERE "+where+" ORDER BY r.created_at DESC, r.id DESC", args...)
	if err != nil {
		return fmt.Errorf("support requests: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanSupport(rows, now)
		if err != nil {
			return fmt.Errorf("support requests: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SupportRequest returns one request with its devices, history and
// attachments, its state as of now.
func (s *Store) SupportRequest(ctx context.Context, id int64, now time.Time) (SupportDetail, error) {
	var d SupportDetail
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		d.SupportRequest, err = scanSupport(tx.QueryRowContext(ctx, "SELECT "+supportCols+" FROM support_requests r WHERE id = ?", id), now)
		if errors.Is(err, sql.ErrNoRows) {
			return notFoundf("support request %d was not found", id)
		}
		if err != nil {
			return err
		}
		if err := eachRow(ctx, tx, `SELECT device_id, name, serial_number FROM support_devices WHERE request_id = ? ORDER BY name COLLATE NOCASE, device_id`,
			[]any{id}, func(rs rowScanner) error {
				var v SupportDevice
				err := rs.Scan(&v.DeviceID, &v.Name, &v.SerialNumber)
				d.Devices = append(d.Devices, v)
				return err
			}); err != nil {
			return err
		}
		if err := eachRow(ctx, tx, `SELECT id, at, author, kind, body FROM support_notes WHERE request_id = ? ORDER BY id`,
			[]any{id}, func(rs rowScanner) error {
				var n SupportNote
				var at int64
				err := rs.Scan(&n.ID, &at, &n.Author, &n.Kind, &n.Body)
				n.At = time.Unix(at, 0).UTC()
				d.Notes = append(d.Notes, n)
				return err
			}); err != nil {
			return err
		}
		return eachRow(ctx, tx, `SELECT `+attachmentCols+` FROM support_attachments WHERE request_id = ? ORDER BY id`,
			[]any{id}, func(rs rowScanner) error {
				a, err := scanAttachment(rs)
				d.Attachments = append(d.Attachments, a)
				return err
			})
	})
	if err != nil {
		return SupportDetail{}, fmt.Errorf("support request: %w", err)
	}
	return d, nil
}

// SupportAttachment returns an attachment of request id with its bytes.
func (s *Store) SupportAttachment(ctx context.Context, requestID, id int64) (SupportAttachment, []byte, error) {
	var data []byte
	a, err := scanAttachment(s.r.QueryRowContext(ctx, `SELECT `+attachmentCols+`, data FROM support_attachments WHERE request_id = ? AND id = ?`,
		requestID, id), &data)
	if errors.Is(err, sql.ErrNoRows) {
		return SupportAttachment{}, nil, notFoundf("attachment %d of support request %d was not found", id, requestID)
	}
	if err != nil {
		return SupportAttachment{}, nil, fmt.Errorf("support attachment: %w", err)
	}
	return a, data, nil
}

const attachmentCols = `id, request_id, name, content_type, size, added_at, added_by`

func scanAttachment(rs rowScanner, extra ...any) (SupportAttachment, error) {
	var a SupportAttachment
	var at int64
	err := rs.Scan(append([]any{&a.ID, &a.RequestID, &a.Name, &a.ContentType, &a.Size, &at, &a.AddedBy}, extra...)...)
	a.AddedAt = time.Unix(at, 0).UTC()
	return a, err
}

// ServiceDesk lists the accounts a request can be assigned to: the enabled
// Global Administrators.
func (s *Store) ServiceDesk(ctx context.Context) ([]string, error) {
	var out []string
	err := s.read(ctx, func(tx *sql.Tx) error {
		return eachRow(ctx, tx, `SELECT email FROM users WHERE role = ? AND disabled_at IS NULL ORDER BY email COLLATE NOCASE`,
			[]any{RoleGlobalAdmin}, func(rs rowScanner) error {
				var e string
				err := rs.Scan(&e)
				out = append(out, e)
				return err
			})
	})
	if err != nil {
		return nil, fmt.Errorf("service desk: %w", err)
	}
	return out, nil
}

// eachRow runs a query in tx and calls fn for each row.
func eachRow(ctx context.Context, tx *sql.Tx, query string, args []any, fn func(rowScanner) error) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
