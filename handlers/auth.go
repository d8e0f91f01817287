package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Sessions is what Auth needs of the session layer.
type Sessions interface {
	// SignIn starts a fresh session (new ID) for the user.
	SignIn(c echo.Context, userID int64) error
	// SignOut ends the session.
	SignOut(c echo.Context) error
}

// Auth handles local sign-in and sign-out.
type Auth struct {
	Deps
	Sessions Sessions
	Limiter  *Limiter
	// SSO labels the single sign-on button; empty when there is none.
	SSO string
	// BreakGlass keeps the password form for Global Administrators only
	// (PATCHBOARD_LOCAL_SIGNIN=break-glass).
	BreakGlass bool
}

// LoginForm shows the sign-in form.
func (h *Auth) LoginForm(c echo.Context) error {
	if _, ok := views.User(c.Request().Context()); ok {
		return c.Redirect(http.StatusSeeOther, views.StartPage)
	}
	return Render(c, http.StatusOK, views.LoginPage(h.view(views.LoginView{Next: safeNext(c.QueryParam("next"))})))
}

func (h *Auth) view(v views.LoginView) views.LoginView {
	v.SSO, v.BreakGlass = h.SSO, h.BreakGlass
	return v
}

// Login checks the password. Repeated failures slow down the pair of
// account and address: someone guessing an account's password from one
// address does not lock its owner out elsewhere, and one person's typos do
// not lock out everyone behind the same proxy; once the wait is over the
// right password gets through.
func (h *Auth) Login(c echo.Context) error {
	ctx := c.Request().Context()
	email := strings.TrimSpace(c.FormValue("email"))
	next := safeNext(c.FormValue("next"))
	view := h.view(views.LoginView{Email: email, Next: next})
	keys := []string{strings.ToLower(email) + " from " + c.RealIP()}
	now := h.Now()
	if wait := h.Limiter.Wait(now, keys...); wait > 0 {
		h.Audit(c, store.AuditEntry{Actor: email, Action: store.ActionSignIn, Target: c.RealIP(),
			Outcome: store.OutcomeDenied, Detail: "too many failed sign-ins"})
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		view.Error = fmt.Sprintf("Too many failed sign-ins. Try again in %s.", wait.Round(time.Second))
		return Render(c, http.StatusTooManyRequests, views.LoginPage(view))
	}
	u, err := h.Store.Authenticate(ctx, email, c.FormValue("password"))
	if errors.Is(err, store.ErrBadCredentials) {
		h.Limiter.Fail(now, keys...)
		h.Audit(c, store.AuditEntry{Actor: email, Action: store.ActionSignIn, Target: c.RealIP(),
			Outcome: store.OutcomeFailure, Detail: "wrong email or password"})
		view.Error = "Wrong email or password."
		return Render(c, http.StatusUnauthorized, views.LoginPage(view))
	}
	if errors.Is(err, store.ErrDisabled) {
		h.Audit(c, store.AuditEntry{Actor: email, Action: store.ActionSignIn, Target: c.RealIP(),
			Outcome: store.OutcomeDenied, Detail: "account disabled"})
		view.Error = "This account is disabled. Ask a Global Administrator to enable it."
		return Render(c, http.StatusForbidden, views.LoginPage(view))
	}
	if err != nil {
		return err
	}
	h.Limiter.Reset(keys[0])
	if h.BreakGlass && u.Role != store.RoleGlobalAdmin {
		h.Audit(c, store.AuditEntry{Actor: u.Email, Action: store.ActionSignIn, Target: c.RealIP(),
			Outcome: store.OutcomeDenied, Detail: "password sign-in is break-glass only; role " + u.Role.Label()})
		view.Error = "Password sign-in is kept for Global Administrators (break-glass). Sign in with " + h.SSO + "."
		return Render(c, http.StatusForbidden, views.LoginPage(view))
	}
	if err := h.Sessions.SignIn(c, u.ID); err != nil {
		return err
	}
	if err := h.Store.RecordSignIn(ctx, u, c.RealIP(), h.Now()); err != nil {
		return err
	}
	if next == "" {
		next = views.StartPage
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// Logout ends the session.
func (h *Auth) Logout(c echo.Context) error {
	u := CurrentUser(c)
	if err := h.Sessions.SignOut(c); err != nil {
		return err
	}
	h.Audit(c, store.AuditEntry{Actor: u.Email, Action: "auth.sign-out", Outcome: store.OutcomeSuccess})
	return c.Redirect(http.StatusSeeOther, "/login")
}

// safeNext keeps a post-sign-in redirect on this site. Browsers read a
// backslash as a slash, so "/\evil.example" would leave the site like
// "//evil.example": paths with backslashes are refused too.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.IsAbs() || u.Host != "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.Contains(next, `\`) {
		return ""
	}
	return next
}

// Limiter slows down repeated failed sign-ins: after Free failures within
// Window, each further attempt for that key must wait, doubling each time up
// to Max.
type Limiter struct {
	Free   int
	Window time.Duration
	Base   time.Duration
	Max    time.Duration

	mu    sync.Mutex
	fails map[string]*failures
}

type failures struct {
	n     int
	first time.Time
	until time.Time
}

// NewLimiter returns a limiter with the portal's defaults: 5 free attempts
// per 15 minutes, then waits from 30 s doubling up to 15 min.
func NewLimiter() *Limiter {
	return &Limiter{Free: 5, Window: 15 * time.Minute, Base: 30 * time.Second, Max: 15 * time.Minute, fails: map[string]*failures{}}
}

// Wait returns how long the caller must still wait for any of keys.
func (l *Limiter) Wait(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if f := l.fails[k]; f != nil && f.until.After(now) {
			wait = max(wait, f.until.Sub(now))
		}
	}
	return wait
}

// Fail records a failed attempt for keys.
func (l *Limiter) Fail(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) > 100_000 { // bound memory under a spray of addresses
		for k, f := range l.fails {
			if now.Sub(f.first) > l.Window {
				delete(l.fails, k)
			}
		}
	}
	for _, k := range keys {
		f := l.fails[k]
		if f == nil || now.Sub(f.first) > l.Window && f.until.Before(now) {
			f = &failures{first: now}
			l.fails[k] = f
		}
		f.n++
		// The Free-th failure already makes the next attempt wait: "5 free
		// attempts" means the sixth is not free.
		if over := f.n - l.Free; over >= 0 {
			d := l.Base << min(over, 10)
			f.until = now.Add(min(d, l.Max))
		}
	}
}

// Reset forgets the failures of a key (after a good sign-in).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}
