package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"patchboard/store"
)

// sessionCookie names the session cookie.
const sessionCookie = "patchboard_session"

// sessionStore is a gorilla sessions.Store kept in SQLite: the cookie holds a
// random token, the database the session. Sessions can be revoked, survive
// restarts, and have an idle and an absolute expiry.
type sessionStore struct {
	st       *store.Store
	options  sessions.Options
	idle     time.Duration
	absolute time.Duration
	now      func() time.Time
}

var _ sessions.Store = (*sessionStore)(nil)

func newSessionStore(st *store.Store, secure bool, idle, absolute time.Duration, now func() time.Time) *sessionStore {
	return &sessionStore{
		st: st,
		// gorilla/sessions v1.4 defaults to Secure, SameSite=None and
		// readable by script: every option is set here on purpose. Lax,
		// not Strict, so that following a link into the portal keeps the
		// session.
		options: sessions.Options{Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
			MaxAge: int(absolute.Seconds())},
		idle: idle, absolute: absolute, now: now,
	}
}

// Get returns the request's session, cached for the request.
func (s *sessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the cookie, or starts an empty one.
func (s *sessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	opts := s.options
	sess.Options = &opts
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" {
		return sess, nil
	}
	now := s.now()
	stored, err := s.st.SessionByToken(r.Context(), c.Value, now)
	if errors.Is(err, store.ErrNotFound) {
		return sess, nil
	}
	if err != nil {
		return sess, err
	}
	if now.Sub(stored.CreatedAt) > s.absolute {
		// Expired either way; the scheduler's cleanup retries a failed delete.
		if err := s.st.DeleteSession(r.Context(), c.Value); err != nil {
			return sess, fmt.Errorf("delete expired session: %w", err)
		}
		return sess, nil
	}
	sess.ID = c.Value
	sess.IsNew = false
	sess.Values["user_id"] = stored.UserID
	sess.Values["created_at"] = stored.CreatedAt.Unix()
	sess.Values["last_seen_at"] = stored.LastSeenAt.Unix()
	return sess, nil
}

// Save writes the session and its cookie; MaxAge < 0 deletes it.
func (s *sessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.st.DeleteSession(r.Context(), sess.ID); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	now := s.now()
	if sess.ID == "" {
		sess.ID = newToken()
		sess.Values["created_at"] = now.Unix()
	}
	created, _ := sess.Values["created_at"].(int64)
	uid, _ := sess.Values["user_id"].(int64)
	err := s.st.SaveSession(r.Context(), sess.ID, store.Session{
		UserID: uid, CreatedAt: time.Unix(created, 0), LastSeenAt: now, ExpiresAt: s.expiry(time.Unix(created, 0), now),
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), sess.ID, sess.Options))
	return nil
}

// expiry is the idle timeout from now, never past the absolute limit.
func (s *sessionStore) expiry(created, now time.Time) time.Time {
	exp := now.Add(s.idle)
	if abs := created.Add(s.absolute); abs.Before(exp) {
		return abs
	}
	return exp
}

// touch moves the idle expiry of an active session. It writes at most once
// every tenth of the idle time (and at most once a minute), so that reading
// pages does not turn into a write per request, yet a session used more
// often than its idle time never expires, even at the shortest idle time.
func (s *sessionStore) touch(r *http.Request, sess *sessions.Session) error {
	seen, _ := sess.Values["last_seen_at"].(int64)
	now := s.now()
	if sess.IsNew || now.Sub(time.Unix(seen, 0)) < min(time.Minute, s.idle/10) {
		return nil
	}
	created, _ := sess.Values["created_at"].(int64)
	return s.st.TouchSession(r.Context(), sess.ID, now, s.expiry(time.Unix(created, 0), now))
}

func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// SignIn starts a new session for the user. The old session, if any, is
// revoked and a new ID issued, so a session fixed before sign-in is useless.
func (s *sessionStore) SignIn(c echo.Context, userID int64) error {
	sess, err := s.Get(c.Request(), sessionCookie)
	if err != nil {
		return err
	}
	if sess.ID != "" {
		if err := s.st.DeleteSession(c.Request().Context(), sess.ID); err != nil {
			return err
		}
	}
	sess.ID = ""
	sess.Values = map[any]any{"user_id": userID}
	return sess.Save(c.Request(), c.Response())
}

// SignOut revokes the session and clears the cookie.
func (s *sessionStore) SignOut(c echo.Context) error {
	sess, err := s.Get(c.Request(), sessionCookie)
	if err != nil {
		return err
	}
	sess.Options.MaxAge = -1
	return sess.Save(c.Request(), c.Response())
}
