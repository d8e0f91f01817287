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
	_, err := s.exec(ctx, `
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
	_, err := s.exec(ctx, `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?`,
		seen.Unix(), expires.Unix(), tokenHash(token))
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession revokes one session.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash(token)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions that expired before now.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now.Unix())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	if _, err := s.exec(ctx, `DELETE FROM sign_in_flows WHERE expires_at <= ?`, now.Unix()); err != nil {
		return 0, fmt.Errorf("delete expired sign-in flows: %w", err)
	}
	return res.RowsAffected()
}

// SaveSignInFlow keeps a single sign-on flow under its token until expires.
func (s *Store) SaveSignInFlow(ctx context.Context, token, data string, expires time.Time) error {
	_, err := s.exec(ctx, `INSERT OR REPLACE INTO sign_in_flows (token_hash, data, expires_at) VALUES (?, ?, ?)`,
		tokenHash(token), data, expires.Unix())
	if err != nil {
		return fmt.Errorf("save sign-in flow: %w", err)
	}
	return nil
}

// SignInFlow returns a flow that has not expired at now.
func (s *Store) SignInFlow(ctx context.Context, token string, now time.Time) (string, error) {
	var data string
	err := s.r.QueryRowContext(ctx, `SELECT data FROM sign_in_flows WHERE token_hash = ? AND expires_at > ?`,
		tokenHash(token), now.Unix()).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFoundf("sign-in flow not found or expired")
	}
	if err != nil {
		return "", fmt.Errorf("sign-in flow: %w", err)
	}
	return data, nil
}

// TakeSignInFlow deletes a flow that has not expired and reports whether
// this call did: of two requests racing with one flow, one wins.
func (s *Store) TakeSignInFlow(ctx context.Context, token string, now time.Time) (bool, error) {
	res, err := s.exec(ctx, `DELETE FROM sign_in_flows WHERE token_hash = ? AND expires_at > ?`, tokenHash(token), now.Unix())
	if err != nil {
		return false, fmt.Errorf("take sign-in flow: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteSignInFlow forgets a flow.
func (s *Store) DeleteSignInFlow(ctx context.Context, token string) error {
	if _, err := s.exec(ctx, `DELETE FROM sign_in_flows WHERE token_hash = ?`, tokenHash(token)); err != nil {
		return fmt.Errorf("delete sign-in flow: %w", err)
	}
	return nil
}
