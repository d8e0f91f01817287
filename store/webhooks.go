package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhook is a subscription: the events of the chosen types are posted to
// URL, signed with Secret, in outbox order (SPEC §13).
type Webhook struct {
	ID     int64
	URL    string
	Secret string // filled only for the dispatcher: the portal never shows it again
	Types  []EventType
	// Cursor is the outbox id the subscription has (delivered, or skipped
	// as not subscribed). The event after it is the next to send.
	Cursor        int64
	Attempts      int // failed attempts of the next event
	NextAttemptAt time.Time
	RetryingSince time.Time // zero unless the next event is failing
	FailingSince  time.Time // zero unless retries ran out: an alert is open
	CreatedBy     string
	CreatedAt     time.Time
}

// Wants reports whether the subscription takes events of type t.
func (w Webhook) Wants(t EventType) bool { return slices.Contains(w.Types, t) }

// Failing reports whether the subscription ran out of retries.
func (w Webhook) Failing() bool { return !w.FailingSince.IsZero() }

// WebhookDelivery is one request the dispatcher sent: what, how it went.
type WebhookDelivery struct {
	ID         int64
	WebhookID  int64
	EventID    int64
	EventType  EventType
	Body       string // the CloudEvents envelope as sent
	Attempt    int    // 1 for the first try; redeliveries count on
	StatusCode int    // 0 when no answer came
	Duration   time.Duration
	Error      string
	At         time.Time
	Redeliver  bool // an administrator asked to send it again
}

// OK reports whether the receiver accepted the delivery (any 2xx).
func (d WebhookDelivery) OK() bool { return d.StatusCode >= 200 && d.StatusCode < 300 }

// OutboxEvent is an event as the outbox holds it.
type OutboxEvent struct {
	ID      int64
	Type    EventType
	Subject string
	Data    string // JSON
	At      time.Time
}

// Retry policy of deliveries: the first retry after RetryBase, doubling up
// to RetryMax between attempts; after RetryWindow of failures the
// subscription is failing (it is still tried, once per RetryMax).
const (
	RetryBase   = 10 * time.Second
	RetryMax    = time.Hour
	RetryWindow = 24 * time.Hour
)

// RetryDelay is how long to wait after the attempt-th failure in a row.
func RetryDelay(attempt int) time.Duration {
	d := RetryBase
	for i := 1; i < attempt && d < RetryMax; i++ {
		d *= 2
	}
	return min(d, RetryMax)
}

// Audit actions of webhooks.
const (
	ActionWebhookAdd       = "webhook.add"
	ActionWebhookDelete    = "webhook.delete"
	ActionWebhookRedeliver = "webhook.redeliver"
)

// WebhookEventTypes lists the event types a subscription can choose, in
// the order the portal shows them.
var WebhookEventTypes = []EventType{EventDeviceTabChanged, EventDeviceRingChanged, EventDiscoveryFinished,
	EventAlertRaised, EventAlertResolved, EventReleaseOffered, EventRingPaused, EventRingResumed, EventSupportChanged}

// Label is the event type as the portal names it.
func (t EventType) Label() string {
	switch t {
	case EventDeviceTabChanged:
		return "Device tab changed"
	case EventDeviceRingChanged:
		return "Device ring changed"
	case EventDiscoveryFinished:
		return "Discovery finished"
	case EventAlertRaised:
		return "Alert raised"
	case EventAlertResolved:
		return "Alert resolved"
	case EventReleaseOffered:
		return "Release offered to a ring"
	case EventRingPaused:
		return "Ring paused"
	case EventRingResumed:
		return "Ring resumed"
	case EventSupportChanged:
		return "Support request changed"
	}
	return string(t)
}

const maxWebhookURL = 2000

// validateWebhook checks a new subscription's URL and types.
func validateWebhook(rawURL string, types []EventType) error {
	var v ValidationError
	u, err := url.Parse(rawURL)
	switch {
	case rawURL == "":
		v.add(FieldError{Field: "url", Reason: "enter the URL the events are posted to"})
	case len(rawURL) > maxWebhookURL:
		v.add(FieldError{Field: "url", Reason: fmt.Sprintf("the URL is longer than %d characters", maxWebhookURL)})
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		v.add(FieldError{Field: "url", Value: rawURL, Reason: "enter an absolute http:// or https:// URL, such as https://hooks.example.com/patchboard"})
	case u.User != nil:
		v.add(FieldError{Field: "url", Value: rawURL, Reason: "the URL must not hold a user name or password: the signature authenticates the events"})
	}
	if len(types) == 0 {
		v.add(FieldError{Field: "types", Reason: "choose at least one event type"})
	}
	for _, t := range types {
		if !slices.Contains(WebhookEventTypes, t) {
			v.add(FieldError{Field: "types", Value: string(t), Reason: "is not an event type Patchboard sends"})
		}
	}
	if len(v.Errors) > 0 {
		return &v
	}
	return nil
}

// minWebhookSecret is the shortest secret accepted: the HMAC key must not be
// guessable.
const minWebhookSecret = 16

// AddWebhook subscribes url to the event types. The secret is generated
// when empty; it is returned once, here, and never shown again. The
// subscription receives the events written from now on.
func (s *Store) AddWebhook(ctx context.Context, rawURL string, types []EventType, secret, actor string, now time.Time) (Webhook, error) {
	rawURL, secret = strings.TrimSpace(rawURL), strings.TrimSpace(secret)
	types = slices.Compact(slices.Sorted(slices.Values(types)))
	if err := validateWebhook(rawURL, types); err != nil {
		return Webhook{}, fmt.Errorf("add webhook: %w", err)
	}
	if secret == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		secret = "whsec_" + hex.EncodeToString(b)
	} else if len(secret) < minWebhookSecret {
		return Webhook{}, fmt.Errorf("add webhook: %w", &ValidationError{Errors: []FieldError{{Field: "secret",
			Reason: fmt.Sprintf("use at least %d characters, or leave it empty and Patchboard makes one", minWebhookSecret)}}})
	}
	now = now.UTC().Truncate(time.Second)
	w := Webhook{URL: rawURL, Secret: secret, Types: types, CreatedBy: actor, CreatedAt: now}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM outbox`).Scan(&w.Cursor); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO webhooks (url, secret, event_types, cursor, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			w.URL, w.Secret, joinEventTypes(w.Types), w.Cursor, actor, now.Unix())
		if err != nil {
			return err
		}
		if w.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: ActionWebhookAdd, Target: w.URL,
			Outcome: OutcomeSuccess, Detail: "events: " + joinEventTypes(w.Types)}, nil)
	})
	if err != nil {
		return Webhook{}, fmt.Errorf("add webhook: %w", err)
	}
	return w, nil
}

// DeleteWebhook removes a subscription with its delivery log.
func (s *Store) DeleteWebhook(ctx context.Context, id int64, actor string, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var u string
		if err := tx.QueryRowContext(ctx, `SELECT url FROM webhooks WHERE id = ?`, id).Scan(&u); errors.Is(err, sql.ErrNoRows) {
			return notFoundf("there is no webhook subscription %d: it may have been deleted", id)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id); err != nil {
			return err
		}
		if err := recordAudit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: ActionWebhookDelete, Target: u, Outcome: OutcomeSuccess}, nil); err != nil {
			return err
		}
		// A failing subscription's alert goes with it.
		return evaluateAlerts(ctx, tx, now, false)
	})
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}

const webhookCols = `id, url, secret, event_types, cursor, attempts, next_attempt_at, retrying_since, failing_since, created_by, created_at`

func scanWebhook(rs rowScanner) (Webhook, error) {
	var w Webhook
	var types string
	var next, created int64
	var retrying, failing sql.NullInt64
	err := rs.Scan(&w.ID, &w.URL, &w.Secret, &types, &w.Cursor, &w.Attempts, &next, &retrying, &failing, &w.CreatedBy, &created)
	for _, t := range strings.Fields(types) {
		w.Types = append(w.Types, EventType(t))
	}
	w.NextAttemptAt, w.CreatedAt = time.Unix(next, 0).UTC(), time.Unix(created, 0).UTC()
	w.RetryingSince, w.FailingSince = fromUnix(retrying), fromUnix(failing)
	return w, err
}

func joinEventTypes(ts []EventType) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return strings.Join(out, " ")
}

func (s *Store) webhooks(ctx context.Context, where string, args ...any) ([]Webhook, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+webhookCols+" FROM webhooks "+where+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	defer rows.Close()
	var out []Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("webhooks: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Webhooks lists the subscriptions, oldest first, without their secrets.
func (s *Store) Webhooks(ctx context.Context) ([]Webhook, error) {
	ws, err := s.webhooks(ctx, "")
	for i := range ws {
		ws[i].Secret = ""
	}
	return ws, err
}

// Webhook returns one subscription without its secret.
func (s *Store) Webhook(ctx context.Context, id int64) (Webhook, error) {
	ws, err := s.webhooks(ctx, "WHERE id = ?", id)
	if err != nil {
		return Webhook{}, err
	}
	if len(ws) == 0 {
		return Webhook{}, notFoundf("there is no webhook subscription %d: it may have been deleted", id)
	}
	ws[0].Secret = ""
	return ws[0], nil
}

// DueWebhooks lists the subscriptions whose next attempt is due at now,
// with their secrets: the dispatcher's work.
func (s *Store) DueWebhooks(ctx context.Context, now time.Time) ([]Webhook, error) {
	return s.webhooks(ctx, "WHERE next_attempt_at <= ? AND cursor < (SELECT coalesce(max(id), 0) FROM outbox)", now.Unix())
}

// OutboxAfter reads up to limit events after id, in order.
func (s *Store) OutboxAfter(ctx context.Context, after int64, limit int) ([]OutboxEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, type, subject, data, created_at FROM outbox WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxEvent
	for rows.Next() {
		var e OutboxEvent
		var at int64
		if err := rows.Scan(&e.ID, &e.Type, &e.Subject, &e.Data, &at); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		e.At = time.Unix(at, 0).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeliveryOutcome is what one pass of the dispatcher did for a
// subscription: the requests it sent, how far the subscription now has the
// outbox, and whether the event after that failed.
type DeliveryOutcome struct {
	Deliveries []WebhookDelivery
	Cursor     int64
	Failed     bool
}

// RecordDeliveries writes a pass's deliveries and moves the subscription
// on: to the new cursor, and, when the next event failed, to its next
// attempt. After RetryWindow of failures the subscription is marked failing
// and the alert about it raised; a success clears both. w is the
// subscription as the pass read it: if it changed meanwhile (deleted), the
// pass is dropped and its events are sent again (at least once).
func (s *Store) RecordDeliveries(ctx context.Context, w Webhook, o DeliveryOutcome, now time.Time) error {
	now = now.UTC()
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET cursor = ? WHERE id = ? AND cursor = ?`, o.Cursor, w.ID, w.Cursor)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // deleted, or another pass moved it
		}
		if err := insertDeliveries(ctx, tx, w.ID, o.Deliveries); err != nil {
			return err
		}
		wasFailing := w.Failing()
		if !o.Failed {
			if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET attempts = 0, next_attempt_at = 0, retrying_since = NULL, failing_since = NULL WHERE id = ?`, w.ID); err != nil {
				return err
			}
			if wasFailing {
				return evaluateAlerts(ctx, tx, now, false)
			}
			return nil
		}
		attempts := 1
		since := now
		if o.Cursor == w.Cursor {
			attempts = w.Attempts + 1 // the same event failed again
			if !w.RetryingSince.IsZero() {
				since = w.RetryingSince
			}
		}
		failing := wasFailing || now.Sub(since) >= RetryWindow
		failingSince := any(nil)
		if failing {
			failingSince = unixOr(w.FailingSince, now)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET attempts = ?, next_attempt_at = ?, retrying_since = ?, failing_since = ? WHERE id = ?`,
			attempts, now.Add(RetryDelay(attempts)).Unix(), since.Unix(), failingSince, w.ID); err != nil {
			return err
		}
		if failing && !wasFailing {
			return evaluateAlerts(ctx, tx, now, false)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record deliveries: %w", err)
	}
	return nil
}

func unixOr(t, or time.Time) int64 {
	if t.IsZero() {
		return or.Unix()
	}
	return t.Unix()
}

func insertDeliveries(ctx context.Context, tx *sql.Tx, webhookID int64, ds []WebhookDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, body, attempt, status_code, duration_ms, error, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, d := range ds {
		if _, err := stmt.ExecContext(ctx, webhookID, d.EventID, string(d.EventType), d.Body, d.Attempt, d.StatusCode,
			d.Duration.Milliseconds(), d.Error, d.At.Unix()); err != nil {
			return err
		}
	}
	return nil
}

const deliveryCols = `id, webhook_id, event_id, event_type, body, attempt, status_code, duration_ms, error, at, redeliver`

func scanDelivery(rs rowScanner) (WebhookDelivery, error) {
	var d WebhookDelivery
	var ms, at int64
	err := rs.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &d.Body, &d.Attempt, &d.StatusCode, &ms, &d.Error, &at, &d.Redeliver)
	d.Duration, d.At = time.Duration(ms)*time.Millisecond, time.Unix(at, 0).UTC()
	return d, err
}

func (s *Store) deliveries(ctx context.Context, where string, args ...any) ([]WebhookDelivery, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+deliveryCols+" FROM webhook_deliveries "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("delivery log: %w", err)
	}
	defer rows.Close()
	var out []WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("delivery log: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// WebhookDeliveries is a subscription's delivery log, newest first.
func (s *Store) WebhookDeliveries(ctx context.Context, webhookID int64, limit int) ([]WebhookDelivery, error) {
	return s.deliveries(ctx, "WHERE webhook_id = ? ORDER BY id DESC LIMIT ?", webhookID, limit)
}

// RequestRedelivery asks the dispatcher to send a logged delivery again
// (with a fresh signature); the new attempt is logged as its own row.
func (s *Store) RequestRedelivery(ctx context.Context, webhookID, deliveryID int64, actor string, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var u string
		var eventID int64
		err := tx.QueryRowContext(ctx, `SELECT w.url, d.event_id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.id = ? AND d.webhook_id = ?`, deliveryID, webhookID).Scan(&u, &eventID)
		if errors.Is(err, sql.ErrNoRows) {
			return notFoundf("subscription %d has no delivery %d", webhookID, deliveryID)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET redeliver = 1 WHERE id = ?`, deliveryID); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: ActionWebhookRedeliver, Target: u,
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("event %d (delivery %d)", eventID, deliveryID)}, nil)
	})
	if err != nil {
		return fmt.Errorf("redeliver: %w", err)
	}
	return nil
}

// Redelivery is a delivery an administrator asked to send again, with
// where and how to sign it.
type Redelivery struct {
	WebhookDelivery
	URL, Secret string
}

// Redeliveries lists up to limit deliveries waiting to be sent again.
func (s *Store) Redeliveries(ctx context.Context, limit int) ([]Redelivery, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.body, d.attempt, w.url, w.secret
		FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.redeliver = 1 ORDER BY d.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("redeliveries: %w", err)
	}
	defer rows.Close()
	var out []Redelivery
	for rows.Next() {
		var r Redelivery
		if err := rows.Scan(&r.ID, &r.WebhookID, &r.EventID, &r.EventType, &r.Body, &r.Attempt, &r.URL, &r.Secret); err != nil {
			return nil, fmt.Errorf("redeliveries: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RecordRedelivery logs the new attempt d of the delivery asked for (id)
// and clears the request.
func (s *Store) RecordRedelivery(ctx context.Context, id int64, d WebhookDelivery) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET redeliver = 0 WHERE id = ? AND redeliver = 1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // the subscription was deleted meanwhile
		}
		return insertDeliveries(ctx, tx, d.WebhookID, []WebhookDelivery{d})
	})
	if err != nil {
		return fmt.Errorf("record redelivery: %w", err)
	}
	return nil
}

// OutboxKeep is how long an event stays in the outbox at most, delivered or
// not, and how long the delivery log is kept.
const OutboxKeep = 7 * day

// PruneOutbox deletes the events every consumer has (every subscription,
// and the mail sender when mail is on) and any older than OutboxKeep, and
// delivery log rows older than OutboxKeep. It returns how many events went.
func (s *Store) PruneOutbox(ctx context.Context, now time.Time, mail bool) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var upTo int64
		q := `SELECT min(c) FROM (SELECT cursor AS c FROM webhooks UNION ALL SELECT coalesce(max(id), 0) FROM outbox`
		if mail {
			q += ` UNION ALL SELECT cursor FROM mail_state`
		}
		if err := tx.QueryRowContext(ctx, q+`)`).Scan(&upTo); err != nil {
			return err
		}
		cut := now.Add(-OutboxKeep).Unix()
		// The newest event stays: outbox ids are rowids, and with the table
		// empty SQLite would hand out ids from 1 again, below the cursors.
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE (id <= ? OR created_at < ?) AND id < (SELECT max(id) FROM outbox)`, upTo, cut)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if !mail {
			// Mail is off: when it is turned on, it starts from then.
			if _, err := tx.ExecContext(ctx, `UPDATE mail_state SET cursor = (SELECT coalesce(max(id), cursor) FROM outbox) WHERE id = 1`); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE at < ? AND redeliver = 0`, cut)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune outbox: %w", err)
	}
	return n, nil
}

// OutboxDepth counts the events some consumer has still to take.
func (s *Store) OutboxDepth(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE id > (SELECT min(c) FROM
		(SELECT cursor AS c FROM webhooks UNION ALL SELECT cursor FROM mail_state))`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("outbox depth: %w", err)
	}
	return n, nil
}

// failingWebhooks reads the subscriptions whose retries ran out (the alert
// rules' fact); a few rows at most.
func failingWebhooks(ctx context.Context, tx *sql.Tx) ([]Webhook, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+webhookCols+" FROM webhooks WHERE failing_since IS NOT NULL ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("failing webhooks: %w", err)
	}
	defer rows.Close()
	var out []Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("failing webhooks: %w", err)
		}
		w.Secret = ""
		out = append(out, w)
	}
	return out, rows.Err()
}
