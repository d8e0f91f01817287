package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SupportState is where a support request is in its life (SPEC §13):
// Active → Assigned → Mitigated → Closed. A mitigated request may be
// reactivated for ReactivationWindow; after that it is closed.
type SupportState string

// Support request states.
const (
	SupportActive    SupportState = "active"
	SupportAssigned  SupportState = "assigned"
	SupportMitigated SupportState = "mitigated"
	SupportClosed    SupportState = "closed"
)

// SupportStates lists the states in their order.
var SupportStates = []SupportState{SupportActive, SupportAssigned, SupportMitigated, SupportClosed}

// Label is the state as the UI names it.
func (s SupportState) Label() string {
	switch s {
	case SupportActive:
		return "Active"
	case SupportAssigned:
		return "Assigned"
	case SupportMitigated:
		return "Mitigated"
	case SupportClosed:
		return "Closed"
	}
	return string(s)
}

// SupportSeverity is how badly the problem hurts, in the service desk's
// three levels.
type SupportSeverity string

// Support request severities.
const (
	SeverityCriticalImpact SupportSeverity = "critical"
	SeverityModerate       SupportSeverity = "moderate"
	SeverityMinimal        SupportSeverity = "minimal"
)

// SupportSeverities lists the severities, most severe first.
var SupportSeverities = []SupportSeverity{SeverityCriticalImpact, SeverityModerate, SeverityMinimal}

// Label is the severity as the UI names it.
func (s SupportSeverity) Label() string {
	switch s {
	case SeverityCriticalImpact:
		return "Critical"
	case SeverityModerate:
		return "Moderate"
	case SeverityMinimal:
		return "Minimal"
	}
	return string(s)
}

// Limits of support requests.
const (
	// ReactivationWindow is how long after its mitigation a request can be
	// reactivated; after it the request is closed.
	ReactivationWindow = 24 * time.Hour
	// SupportListPeriod is how far back the list goes (6 months); open
	// requests are listed however old they are.
	SupportListPeriod = 183 * 24 * time.Hour
	// MaxAttachmentBytes is the most one attachment may hold.
	MaxAttachmentBytes = 10 << 20
	// MaxSupportDevices is the most devices one request names.
	MaxSupportDevices = 1000

	maxSupportTitle       = 200
	maxSupportDescription = 10000
	maxSupportNote        = 10000
	maxAttachmentName     = 200
)

// Audit actions of support requests.
const (
	ActionSupportRaise      = "support.raise"
	ActionSupportAssign     = "support.assign"
	ActionSupportNote       = "support.note"
	ActionSupportAttach     = "support.attach"
	ActionSupportMitigate   = "support.mitigate"
	ActionSupportReactivate = "support.reactivate"
	ActionSupportClose      = "support.close"
	ActionSupportExport     = "support.export"
)

// SupportRequest is one support request with what the list shows.
type SupportRequest struct {
	ID           int64
	Title        string
	Description  string
	Severity     SupportSeverity
	State        SupportState // as of the time it was read (a lapsed mitigation reads Closed)
	RaisedBy     string
	AssignedTo   string
	ContactName  string
	ContactEmail string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	MitigatedAt  time.Time // zero: never mitigated
	DeviceCount  int
}

// effectiveState is the state at now: a mitigation not reactivated within
// ReactivationWindow has closed the request, whether or not the server's
// sweep has written that yet.
func effectiveState(st SupportState, mitigated, now time.Time) SupportState {
	if st == SupportMitigated && !now.Before(mitigated.Add(ReactivationWindow)) {
		return SupportClosed
	}
	return st
}

// CanReactivate reports whether the request can still be reactivated at now.
func (r SupportRequest) CanReactivate(now time.Time) bool {
	return r.State == SupportMitigated && now.Before(r.MitigatedAt.Add(ReactivationWindow))
}

// ReactivateUntil is when the reactivation window of a mitigated request ends.
func (r SupportRequest) ReactivateUntil() time.Time { return r.MitigatedAt.Add(ReactivationWindow) }

// Open reports whether the service desk still works on the request.
func (r SupportRequest) Open() bool { return r.State == SupportActive || r.State == SupportAssigned }

// SupportDevice is a device a request names, as it was when it was named.
type SupportDevice struct {
	DeviceID     string
	Name         string
	SerialNumber string
}

// SupportNote is one entry of a request's history: a note someone wrote or
// a change of state.
type SupportNote struct {
	ID     int64
	At     time.Time
	Author string
	Kind   string // "note", or the change: raised, assigned, mitigated, reactivated, closed
	Body   string
}

// SupportAttachment describes a stored attachment (without its bytes).
type SupportAttachment struct {
	ID          int64
	RequestID   int64
	Name        string
	ContentType string
	Size        int64
	AddedAt     time.Time
	AddedBy     string
}

// SupportDetail is a request with its devices, history and attachments.
type SupportDetail struct {
	SupportRequest
	Devices     []SupportDevice
	Notes       []SupportNote
	Attachments []SupportAttachment
}

// Upload is an attachment as it arrives: its name and bytes.
type Upload struct {
	Name string
	Data []byte
}

// SupportActor is who changes a request: the service desk (Global
// Administrators) may do everything, the raiser adds notes and attachments
// and reactivates.
type SupportActor struct {
	Email string
	Role  Role
}

func (a SupportActor) desk() bool { return a.Role.Can(PermHandleSupport) }

func (a SupportActor) mayFollow(r SupportRequest) bool {
	return a.desk() || strings.EqualFold(a.Email, r.RaisedBy)
}

// NewSupportRequest is what the raise form sends.
type NewSupportRequest struct {
	Title       string
	Description string
	Severity    SupportSeverity
	// Devices are device IDs or serial numbers, as picked on a blade or
	// pasted; each must name a device.
	Devices     []string
	ContactID   int64
	Attachments []Upload
}

// Validate reports every wrong field of r, each with what to do. Devices are
// checked against the directory by RaiseSupportRequest.
func (r NewSupportRequest) Validate() error {
	var v ValidationError
	bad := func(field, value, reason string) { v.add(FieldError{Field: field, Value: value, Reason: reason}) }
	if strings.TrimSpace(r.Title) == "" {
		bad("title", r.Title, "enter a title that says what is wrong")
	} else if err := checkText(r.Title, maxSupportTitle); err != nil {
		bad("title", r.Title, "the title "+err.Error())
	}
	if strings.TrimSpace(r.Description) == "" {
		bad("description", "", "describe the problem: what you see, since when, and what you tried")
	} else if n := len([]rune(r.Description)); n > maxSupportDescription {
		bad("description", "", fmt.Sprintf("the description is %d characters long; at most %d are allowed (attach longer logs as files)", n, maxSupportDescription))
	}
	if !validSeverity(r.Severity) {
		bad("severity", string(r.Severity), "choose a severity: Critical, Moderate or Minimal")
	}
	if r.ContactID == 0 {
		bad("contact", "", "choose the primary contact the service desk writes to")
	}
	if len(r.Devices) > MaxSupportDevices {
		bad("devices", "", fmt.Sprintf("%d devices are named; a request names at most %d (describe the rest)", len(r.Devices), MaxSupportDevices))
	}
	for _, u := range r.Attachments {
		if err := u.validate(); err != nil {
			bad("attachments", u.Name, err.Error())
		}
	}
	if v.empty() {
		return nil
	}
	return &v
}

func validSeverity(s SupportSeverity) bool {
	for _, k := range SupportSeverities {
		if s == k {
			return true
		}
	}
	return false
}

// validate checks an upload's size and name.
func (u Upload) validate() error {
	switch {
	case len(u.Data) == 0:
		return invalidf("%s is empty; attach a file with content", u.Name)
	case len(u.Data) > MaxAttachmentBytes:
		return invalidf("%s is %.1f MB; an attachment may be at most 10 MB (compress it, or split a log)", u.Name, float64(len(u.Data))/(1<<20))
	}
	return nil
}

// cleanAttachmentName keeps a file name safe to show and to send back in
// Content-Disposition: its last path element, without control characters
// or quotes, and never empty.
func cleanAttachmentName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, strings.TrimSpace(name))
	if r := []rune(name); len(r) > maxAttachmentName {
		name = string(r[len(r)-maxAttachmentName:])
	}
	if name == "" || name == "." || name == ".." {
		name = "attachment"
	}
	return name
}

// sniffContentType decides an attachment's type from its bytes, never from
// what the browser said, so a file cannot pass itself off as something else.
func sniffContentType(data []byte) string {
	return http.DetectContentType(data)
}

// resolveSupportDevices finds each entry (a device ID or a serial number)
// in the directory; the entries that name no device are refused together.
func resolveSupportDevices(ctx context.Context, tx *sql.Tx, entries []string) ([]SupportDevice, error) {
	var out []SupportDevice
	var unknown []string
	seen := map[string]bool{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		var d SupportDevice
		err := tx.QueryRowContext(ctx, `SELECT device_id, display_name, serial_number FROM devices WHERE device_id = ?
			UNION ALL SELECT device_id, display_name, serial_number FROM devices INDEXED BY devices_serial
				WHERE serial_number <> '' AND serial_number = ? COLLATE NOCASE
			LIMIT 1`, NormalizeDeviceID(e), e).Scan(&d.DeviceID, &d.Name, &d.SerialNumber)
		if errors.Is(err, sql.ErrNoRows) {
			unknown = append(unknown, e)
			continue
		}
		if err != nil {
			return nil, err
		}
		if !seen[d.DeviceID] {
			seen[d.DeviceID] = true
			out = append(out, d)
		}
	}
	if len(unknown) > 0 {
		return nil, &ValidationError{Errors: []FieldError{{Field: "devices", Value: strings.Join(unknown, ", "),
			Reason: fmt.Sprintf("no device has the ID or serial number %s; check the list, or leave them out", quoteList(unknown))}}}
	}
	return out, nil
}

// quoteList names up to ten values for a message.
func quoteList(vs []string) string {
	const most = 10
	q := make([]string, 0, min(len(vs), most))
	for i, v := range vs {
		if i == most {
			break
		}
		q = append(q, strconv.Quote(v))
	}
	s := strings.Join(q, ", ")
	if len(vs) > most {
		s += fmt.Sprintf(" and %d more", len(vs)-most)
	}
	return s
}

// RaiseSupportRequest records a new request (state Active) with its devices
// and attachments, audits it and enqueues its event for the primary
// contact's e-mail, all in one transaction.
func (s *Store) RaiseSupportRequest(ctx context.Context, in NewSupportRequest, actor SupportActor, now time.Time) (SupportRequest, error) {
	in.Title, in.Description = strings.TrimSpace(in.Title), strings.TrimSpace(in.Description)
	if !actor.Role.Can(PermRaiseSupport) {
		return SupportRequest{}, &kindError{ErrForbidden, "raising a support request needs an administrator role"}
	}
	if err := in.Validate(); err != nil {
		return SupportRequest{}, err
	}
	now = now.UTC().Truncate(time.Second)
	r := SupportRequest{Title: in.Title, Description: in.Description, Severity: in.Severity, State: SupportActive,
		RaisedBy: actor.Email, CreatedAt: now, UpdatedAt: now}
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT name, email FROM admin_contacts WHERE id = ?`, in.ContactID).Scan(&r.ContactName, &r.ContactEmail)
		if errors.Is(err, sql.ErrNoRows) {
			return &ValidationError{Errors: []FieldError{{Field: "contact", Reason: "the chosen contact no longer exists; choose another"}}}
		}
		if err != nil {
			return err
		}
		devs, err := resolveSupportDevices(ctx, tx, in.Devices)
		if err != nil {
			return err
		}
		r.DeviceCount = len(devs)
		res, err := tx.ExecContext(ctx, `INSERT INTO support_requests (title, description, severity, state, raised_by,
			contact_name, contact_email, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Title, r.Description, r.Severity, r.State, r.RaisedBy, r.ContactName, r.ContactEmail, now.Unix(), now.Unix())
		if err != nil {
			return err
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		audit := make([]AuditDevice, len(devs))
		for i, d := range devs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO support_devices (request_id, device_id, name, serial_number) VALUES (?, ?, ?, ?)`,
				r.ID, d.DeviceID, d.Name, d.SerialNumber); err != nil {
				return err
			}
			audit[i] = AuditDevice{DeviceID: d.DeviceID, SerialNumber: d.SerialNumber}
		}
		if err := addAttachments(ctx, tx, r.ID, in.Attachments, actor.Email, now); err != nil {
			return err
		}
		if err := addSupportNote(ctx, tx, r.ID, now, actor.Email, "raised", ""); err != nil {
			return err
		}
		if err := recordAudit(ctx, tx, AuditEntry{At: now, Actor: actor.Email, Action: ActionSupportRaise, Target: supportTarget(r),
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("%s; primary contact %s; %d attachment(s)", r.Severity.Label(), r.ContactEmail, len(in.Attachments))}, audit); err != nil {
			return err
		}
		return enqueueSupportEvent(ctx, tx, r, "created", actor.Email, now)
	})
	if err != nil {
		return SupportRequest{}, fmt.Errorf("raise support request: %w", err)
	}
	return r, nil
}

// AssignSupportRequest gives a request to a service desk account (a Global
// Administrator). Assigning a mitigated or closed request is refused:
// reactivate it first.
func (s *Store) AssignSupportRequest(ctx context.Context, id int64, assignee string, actor SupportActor, now time.Time) error {
	return s.changeSupport(ctx, id, actor, now, "assign", func(tx *sql.Tx, r *SupportRequest) (change string, detail string, err error) {
		if !actor.desk() {
			return "", "", &kindError{ErrForbidden, "only the service desk (Global Administrators) assigns support requests"}
		}
		if !r.Open() {
			return "", "", conflictf("request %d is %s; reactivate it before assigning it", r.ID, r.State.Label())
		}
		var u User
		u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE email = ? COLLATE NOCASE AND disabled_at IS NULL AND role = ? LIMIT 1",
			strings.TrimSpace(assignee), RoleGlobalAdmin))
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", invalidf("%q is not an enabled Global Administrator account; assign the request to one of the service desk", assignee)
		}
		if err != nil {
			return "", "", err
		}
		r.State, r.AssignedTo = SupportAssigned, u.Email
		if _, err := tx.ExecContext(ctx, `UPDATE support_requests SET state = ?, assigned_to = ?, updated_at = ? WHERE id = ?`,
			r.State, r.AssignedTo, now.Unix(), r.ID); err != nil {
			return "", "", err
		}
		return "assigned", "assigned to " + u.Email, nil
	})
}

// MitigateSupportRequest records that the service desk has mitigated the
// problem; the raiser may reactivate it for ReactivationWindow.
func (s *Store) MitigateSupportRequest(ctx context.Context, id int64, note string, actor SupportActor, now time.Time) error {
	return s.changeSupport(ctx, id, actor, now, "mitigate", func(tx *sql.Tx, r *SupportRequest) (string, string, error) {
		if !actor.desk() {
			return "", "", &kindError{ErrForbidden, "only the service desk (Global Administrators) mitigates support requests"}
		}
		if !r.Open() {
			return "", "", conflictf("request %d is already %s", r.ID, r.State.Label())
		}
		r.State, r.MitigatedAt = SupportMitigated, now
		if _, err := tx.ExecContext(ctx, `UPDATE support_requests SET state = ?, mitigated_at = ?, updated_at = ? WHERE id = ?`,
			r.State, now.Unix(), now.Unix(), r.ID); err != nil {
			return "", "", err
		}
		return "mitigated", strings.TrimSpace(note), nil
	})
}

// ReactivateSupportRequest opens a mitigated request again, within
// ReactivationWindow of its mitigation: Assigned if it has an assignee,
// else Active.
func (s *Store) ReactivateSupportRequest(ctx context.Context, id int64, note string, actor SupportActor, now time.Time) error {
	return s.changeSupport(ctx, id, actor, now, "reactivate", func(tx *sql.Tx, r *SupportRequest) (string, string, error) {
		if !actor.mayFollow(*r) {
			return "", "", &kindError{ErrForbidden, "only the person who raised the request or the service desk reactivates it"}
		}
		switch {
		case r.State == SupportClosed:
			return "", "", conflictf("request %d is closed: it can be reactivated only within 24 hours of its mitigation; raise a new request that refers to it", r.ID)
		case !r.CanReactivate(now):
			return "", "", conflictf("request %d is %s, not mitigated; there is nothing to reactivate", r.ID, r.State.Label())
		}
		r.State = SupportActive
		if r.AssignedTo != "" {
			r.State = SupportAssigned
		}
		if _, err := tx.ExecContext(ctx, `UPDATE support_requests SET state = ?, updated_at = ? WHERE id = ?`, r.State, now.Unix(), r.ID); err != nil {
			return "", "", err
		}
		return "reactivated", strings.TrimSpace(note), nil
	})
}

// AddSupportNote adds a note and attachments to a request: the raiser and
// the service desk may, while the request is not closed.
func (s *Store) AddSupportNote(ctx context.Context, id int64, note string, files []Upload, actor SupportActor, now time.Time) error {
	note = strings.TrimSpace(note)
	for _, u := range files {
		if err := u.validate(); err != nil {
			return err
		}
	}
	switch n := len([]rune(note)); {
	case n == 0 && len(files) == 0:
		return invalidf("write a note or attach a file")
	case n > maxSupportNote:
		return invalidf("the note is %d characters long; at most %d are allowed (attach longer logs as files)", n, maxSupportNote)
	}
	return s.changeSupport(ctx, id, actor, now, "note", func(tx *sql.Tx, r *SupportRequest) (string, string, error) {
		if !actor.mayFollow(*r) {
			return "", "", &kindError{ErrForbidden, "only the person who raised the request and the service desk add notes to it"}
		}
		if r.State == SupportClosed {
			return "", "", conflictf("request %d is closed; raise a new request that refers to it", r.ID)
		}
		if err := addAttachments(ctx, tx, r.ID, files, actor.Email, now); err != nil {
			return "", "", err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE support_requests SET updated_at = ? WHERE id = ?`, now.Unix(), r.ID); err != nil {
			return "", "", err
		}
		if note == "" {
			return "", fmt.Sprintf("%d attachment(s)", len(files)), nil // attachments only: no history line
		}
		return "note", note, nil
	})
}

// changeSupport runs one change of a request in a transaction: it loads the
// request (its state as of now), lets fn decide and write, then records the
// history line, the audit entry and the event together.
func (s *Store) changeSupport(ctx context.Context, id int64, actor SupportActor, now time.Time, op string,
	fn func(tx *sql.Tx, r *SupportRequest) (change, detail string, err error)) error {
	now = now.UTC().Truncate(time.Second)
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := scanSupport(tx.QueryRowContext(ctx, "SELECT "+supportCols+" FROM support_requests r WHERE id = ?", id), now)
		if errors.Is(err, sql.ErrNoRows) {
			return notFoundf("support request %d was not found", id)
		}
		if err != nil {
			return err
		}
		change, detail, err := fn(tx, &r)
		if err != nil {
			return err
		}
		action := map[string]string{"assigned": ActionSupportAssign, "mitigated": ActionSupportMitigate,
			"reactivated": ActionSupportReactivate, "note": ActionSupportNote, "": ActionSupportAttach}[change]
		if change != "" {
			body := detail
			if change == "assigned" {
				body = r.AssignedTo
			}
			if err := addSupportNote(ctx, tx, r.ID, now, actor.Email, change, body); err != nil {
				return err
			}
		}
		if err := recordAudit(ctx, tx, AuditEntry{At: now, Actor: actor.Email, Action: action, Target: supportTarget(r),
			Outcome: OutcomeSuccess, Detail: truncateDetail(detail)}, nil); err != nil {
			return err
		}
		if change == "" {
			change = "attachment"
		}
		return enqueueSupportEvent(ctx, tx, r, change, actor.Email, now)
	})
	if err != nil {
		return fmt.Errorf("%s support request: %w", op, err)
	}
	return nil
}

// CloseLapsedSupportRequests writes Closed for every request mitigated
// ReactivationWindow or more before now (reads already show them closed),
// each audited with its event. The server runs it on its loop.
func (s *Store) CloseLapsedSupportRequests(ctx context.Context, now time.Time) (int, error) {
	now = now.UTC().Truncate(time.Second)
	n := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+supportCols+" FROM support_requests r WHERE state = 'mitigated' AND mitigated_at <= ?",
			now.Add(-ReactivationWindow).Unix())
		if err != nil {
			return err
		}
		var lapsed []SupportRequest
		for rows.Next() {
			r, err := scanSupport(rows, now)
			if err != nil {
				rows.Close()
				return err
			}
			lapsed = append(lapsed, r)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, r := range lapsed {
			if _, err := tx.ExecContext(ctx, `UPDATE support_requests SET state = 'closed', updated_at = ? WHERE id = ?`, now.Unix(), r.ID); err != nil {
				return err
			}
			if err := addSupportNote(ctx, tx, r.ID, now, "Patchboard", "closed", "not reactivated within 24 hours of its mitigation"); err != nil {
				return err
			}
			if err := recordAudit(ctx, tx, AuditEntry{At: now, Actor: "Patchboard", Action: ActionSupportClose, Target: supportTarget(r),
				Outcome: OutcomeSuccess, Detail: "not reactivated within 24 hours of its mitigation"}, nil); err != nil {
				return err
			}
			if err := enqueueSupportEvent(ctx, tx, r, "closed", "Patchboard", now); err != nil {
				return err
			}
		}
		n = len(lapsed)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("close lapsed support requests: %w", err)
	}
	return n, nil
}

func addSupportNote(ctx context.Context, tx *sql.Tx, id int64, at time.Time, author, kind, body string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO support_notes (request_id, at, author, kind, body) VALUES (?, ?, ?, ?, ?)`,
		id, at.Unix(), author, kind, body)
	return err
}

func addAttachments(ctx context.Context, tx *sql.Tx, id int64, files []Upload, by string, at time.Time) error {
	for _, u := range files {
		if _, err := tx.ExecContext(ctx, `INSERT INTO support_attachments (request_id, name, content_type, size, data, added_at, added_by)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, cleanAttachmentName(u.Name), sniffContentType(u.Data), len(u.Data), u.Data, at.Unix(), by); err != nil {
			return err
		}
	}
	return nil
}

// enqueueSupportEvent writes the request's change to the outbox: the
// webhooks and the primary contact's e-mail come from it.
func enqueueSupportEvent(ctx context.Context, tx *sql.Tx, r SupportRequest, change, by string, now time.Time) error {
	return enqueueEvent(ctx, tx, Event{Type: EventSupportChanged, Subject: strconv.FormatInt(r.ID, 10), At: now,
		Data: SupportChange{RequestID: r.ID, Title: r.Title, Change: change, State: string(r.State), By: by,
			PrimaryContactName: r.ContactName, PrimaryContactEmail: r.ContactEmail}})
}

func supportTarget(r SupportRequest) string {
	return fmt.Sprintf("support request %d: %s", r.ID, r.Title)
}

// truncateDetail keeps an audit entry's detail to a readable length.
func truncateDetail(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 300 {
		return string(r[:300]) + "…"
	}
	return s
}

const supportCols = `r.id, r.title, r.description, r.severity, r.state, r.raised_by, r.assigned_to, r.contact_name, r.contact_email,
	r.created_at, r.updated_at, r.mitigated_at, (SELECT count(*) FROM support_devices d WHERE d.request_id = r.id)`

func scanSupport(rs rowScanner, now time.Time) (SupportRequest, error) {
	var r SupportRequest
	var created, updated int64
	var mitigated sql.NullInt64
	err := rs.Scan(&r.ID, &r.Title, &r.Description, &r.Severity, &r.State, &r.RaisedBy, &r.AssignedTo, &r.ContactName, &r.ContactEmail,
		&created, &updated, &mitigated, &r.DeviceCount)
	r.CreatedAt, r.UpdatedAt, r.MitigatedAt = time.Unix(created, 0).UTC(), time.Unix(updated, 0).UTC(), fromUnix(mitigated)
	r.State = effectiveState(r.State, r.MitigatedAt, now)
	return r, err
}
