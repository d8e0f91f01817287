package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Session is a signed-in browser session, stored server-side.
type Session struct {
	UserID     int64 // 0 before sign-in
	Data       string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// SaveSession creates or replaces the session with this token.
func (s *Store) SaveSession(ctx context.Context, token string, sess Session) error {
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO sessions (token_hash, user_id, data, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (token_hash) DO UPDATE SET user_id = excluded.user_id, data = excluded.data,
			last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at`,
		tokenHash(token), nullID(sess.UserID), sess.Data, sess.CreatedAt.Unix(), sess.LastSeenAt.Unix(), sess.ExpiresAt.Unix())
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// SessionByToken returns a session that has not expired at now.
//
// Every signed-in request asks, so the session is kept until the next
// commit (Store.version): a revoked session is a commit, and is gone at once.
func (s *Store) SessionByToken(ctx context.Context, token string, now time.Time) (Session, error) {
	v, err := s.version(ctx)
	if err != nil {
		return Session{}, err
	}
	hash := tokenHash(token)
	sess, err := memoized(s, v, "session:"+hash, func() (Session, error) {
		var sess Session
		var uid sql.NullInt64
		var created, seen, expires int64
		err := s.r.QueryRowContext(ctx, `SELECT user_id, data, created_at, last_seen_at, expires_at FROM sessions WHERE token_hash = ?`,
			hash).Scan(&uid, &sess.Data, &created, &seen, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return Session{}, notFoundf("session not found or expired")
		}
		if err != nil {
			return Session{}, fmt.Errorf("session: %w", err)
		}
		sess.UserID = uid.Int64
		sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = time.Unix(created, 0), time.Unix(seen, 0), time.Unix(expires, 0)
		return sess, nil
	})
	if err != nil {
		return Session{}, err
	}
	if sess.ExpiresAt.Unix() <= now.Unix() {
		return Session{}, notFoundf("session not found or expired")
	}
	return sess, nil
}

// TouchSession records activity and moves the idle expiry.
func (s *Store) TouchSession(ctx context.Context, token string, seen, expires time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?`,
		seen.Unix(), expires.Unix(), tokenHash(token))
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession revokes one session.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash(token)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions that expired before now.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now.Unix())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}
