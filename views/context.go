// Package views renders the portal with templ: pages, the htmx fragments
// they swap, their view models, typed context accessors (the signed-in user,
// the CSRF token) and URL builders. Views never call the store.
package views

import (
	"context"
	"time"

	"patchboard/store"
)

type ctxKey int

const (
	userKey ctxKey = iota
	csrfKey
	criticalKey
)

// WithUser returns ctx carrying the signed-in user.
func WithUser(ctx context.Context, u store.User) context.Context {
	return context.WithValue(ctx, userKey, u)
}

// User returns the signed-in user, if any.
func User(ctx context.Context) (store.User, bool) {
	u, ok := ctx.Value(userKey).(store.User)
	return u, ok
}

// Can reports whether the signed-in user's role grants p.
func Can(ctx context.Context, p store.Permission) bool {
	u, ok := User(ctx)
	return ok && u.Role.Can(p)
}

// WithCSRF returns ctx carrying the CSRF token for forms and htmx requests.
func WithCSRF(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, csrfKey, token)
}

// CSRF returns the request's CSRF token.
func CSRF(ctx context.Context) string {
	s, _ := ctx.Value(csrfKey).(string)
	return s
}

// csrfHeaders is the hx-headers value that sends the token with every htmx request.
func csrfHeaders(ctx context.Context) string {
	return `{"X-CSRF-Token": "` + CSRF(ctx) + `"}`
}

// roleLabel is the signed-in user's role as the UI names it, starting a
// sentence: "Your role (Service Reader)".
func roleLabel(ctx context.Context) string {
	if u, ok := User(ctx); ok {
		return "Your role (" + u.Role.Label() + ")"
	}
	return "Your role"
}

// UserID is the signed-in user's ID, 0 when signed out.
func UserID(ctx context.Context) int64 {
	if u, ok := User(ctx); ok {
		return u.ID
	}
	return 0
}

// WithCriticalAlerts returns ctx carrying how many Critical alerts are open,
// for the banner every page shows while there is one.
func WithCriticalAlerts(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, criticalKey, n)
}

// CriticalAlerts is how many Critical alerts are open.
func CriticalAlerts(ctx context.Context) int {
	n, _ := ctx.Value(criticalKey).(int)
	return n
}

type unenrollKey struct{}

// WithUnenrollment returns ctx carrying when a pending unenrollment is
// carried out, for the banner every page shows while one waits.
func WithUnenrollment(ctx context.Context, due time.Time) context.Context {
	return context.WithValue(ctx, unenrollKey{}, due)
}

// PendingUnenrollment is when the pending unenrollment is carried out;
// false when none is pending.
func PendingUnenrollment(ctx context.Context) (time.Time, bool) {
	due, ok := ctx.Value(unenrollKey{}).(time.Time)
	return due, ok
}
