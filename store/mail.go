package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// MailState is the mail sender's place in the outbox (SPEC §13): the event
// after Cursor is the next whose mails go out; while they fail, Attempts
// and NextAttemptAt back off as webhooks do. DigestDay is the UTC day
// (YYYY-MM-DD) of the last daily digest.
type MailState struct {
	Cursor        int64
	Attempts      int
	NextAttemptAt time.Time
	RetryingSince time.Time
	DigestDay     string
}

// MailRecord is one mail sent or given up, with the recipient's language.
type MailRecord struct {
	EventID   int64 // 0: the daily digest
	Kind      string
	Recipient string
	Language  string
	Subject   string
	Error     string // "" when sent
	At        time.Time
}

// Mail kinds in the mail log.
const (
	MailAlert   = "alert"
	MailSupport = "support"
	MailDigest  = "digest"
)

// MailState reads the mail sender's state.
func (s *Store) MailState(ctx context.Context) (MailState, error) {
	var m MailState
	var next int64
	var retrying sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT cursor, attempts, next_attempt_at, retrying_since, digest_day FROM mail_state WHERE id = 1`).
		Scan(&m.Cursor, &m.Attempts, &next, &retrying, &m.DigestDay)
	if err != nil {
		return m, fmt.Errorf("mail state: %w", err)
	}
	m.NextAttemptAt, m.RetryingSince = time.Unix(next, 0).UTC(), fromUnix(retrying)
	return m, nil
}

// MailOutcome is what one pass of the mail sender did: the mails it sent
// (or gave up), how far it now has the outbox, whether the next event's
// mails failed, and the digest day when a digest went out.
type MailOutcome struct {
	Sent      []MailRecord
	Cursor    int64
	Failed    bool
	DigestDay string // "" when no digest went out
}

// RecordMails logs a pass's mails and moves the sender on, backing off
// while the next event's mails fail. prev is the state the pass read.
func (s *Store) RecordMails(ctx context.Context, prev MailState, o MailOutcome, now time.Time) error {
	now = now.UTC()
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO mail_log (event_id, kind, recipient, language, subject, error, at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, m := range o.Sent {
			if _, err := stmt.ExecContext(ctx, m.EventID, m.Kind, m.Recipient, m.Language, m.Subject, m.Error, m.At.Unix()); err != nil {
				return err
			}
		}
		attempts, next, since := 0, int64(0), any(nil)
		if o.Failed {
			attempts, retrying := 1, now
			if o.Cursor == prev.Cursor {
				attempts = prev.Attempts + 1
				if !prev.RetryingSince.IsZero() {
					retrying = prev.RetryingSince
				}
			}
			next, since = now.Add(RetryDelay(attempts)).Unix(), retrying.Unix()
		}
		day := prev.DigestDay
		if o.DigestDay != "" {
			day = o.DigestDay
		}
		_, err = tx.ExecContext(ctx, `UPDATE mail_state SET cursor = max(cursor, ?), attempts = ?, next_attempt_at = ?, retrying_since = ?, digest_day = ? WHERE id = 1`,
			o.Cursor, attempts, next, since, day)
		return err
	})
	if err != nil {
		return fmt.Errorf("record mails: %w", err)
	}
	return nil
}

// MailLog lists the latest mails sent or given up, newest first.
func (s *Store) MailLog(ctx context.Context, limit int) ([]MailRecord, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT event_id, kind, recipient, language, subject, error, at FROM mail_log ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("mail log: %w", err)
	}
	defer rows.Close()
	var out []MailRecord
	for rows.Next() {
		var m MailRecord
		var at int64
		if err := rows.Scan(&m.EventID, &m.Kind, &m.Recipient, &m.Language, &m.Subject, &m.Error, &at); err != nil {
			return nil, fmt.Errorf("mail log: %w", err)
		}
		m.At = time.Unix(at, 0).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// Digest is the daily summary of one area for its contacts.
type Digest struct {
	Area  Area
	Since time.Time
	Tabs  map[Tab]int
	Rings RingCounts
	// NewFailures counts, per check, the devices whose failures of it
	// were found since Since.
	NewFailures []CheckCount
	Offers      []ReleaseOffer // releases that reached a ring since Since
	OpenAlerts  int
}

// Digest gathers the daily digest of area: counts per tab and ring, the
// failures found since since by check, and the releases offered to rings
// since then.
func (s *Store) Digest(ctx context.Context, area Area, since time.Time) (Digest, error) {
	d := Digest{Area: area, Since: since, Tabs: map[Tab]int{}}
	err := s.read(ctx, func(tx *sql.Tx) error {
		counts, err := readCounts(ctx, tx)
		if err != nil {
			return err
		}
		for _, t := range Tabs {
			d.Tabs[t] = counts.Tab(t)
		}
		d.Rings = counts.Rings
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM alerts WHERE resolved_at IS NULL`).Scan(&d.OpenAlerts); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT check_id, count(DISTINCT device_pk) FROM check_results WHERE evaluated_at >= ?
			GROUP BY check_id ORDER BY 2 DESC, 1`, since.Unix())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c CheckCount
			if err := rows.Scan(&c.Check, &c.N); err != nil {
				return err
			}
			d.NewFailures = append(d.NewFailures, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		orows, err := tx.QueryContext(ctx, `SELECT r.id, r.name, o.ring, o.at FROM release_offer_events o JOIN releases r ON r.id = o.release_id
			WHERE o.at >= ? ORDER BY o.at, r.id`, since.Unix())
		if err != nil {
			return err
		}
		defer orows.Close()
		for orows.Next() {
			var o ReleaseOffer
			var at int64
			if err := orows.Scan(&o.ReleaseID, &o.Name, &o.Ring, &at); err != nil {
				return err
			}
			o.Kind, o.OfferedAt = KindQuality, time.Unix(at, 0).UTC().Format(time.RFC3339)
			d.Offers = append(d.Offers, o)
		}
		return orows.Err()
	})
	if err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	return d, nil
}
