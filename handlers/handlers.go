// Package handlers holds one struct per portal resource (Auth, Devices,
// Discovery, Audit, Health). Each handler parses its input, makes one store
// call, maps the outcome and renders a page or an htmx fragment.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"patchboard/metrics"
	"patchboard/store"
	"patchboard/views"
)

// Deps are what every handler is built with.
type Deps struct {
	Store  *store.Store
	Logger *slog.Logger
	// Background outlives requests: discovery runs started from the portal
	// use it, so closing the browser tab does not stop them.
	Background context.Context
	// Now is the clock; time.Now in production.
	Now func() time.Time
	// WriteStall bounds how long one write of a download waits for the
	// client; DefaultWriteStall when zero.
	WriteStall time.Duration
	// Metrics counts exported and imported rows; nil counts nothing.
	Metrics *metrics.Metrics
}

// Audit records e in the audit log. A failed insert is logged with the
// request ID and the entry's fields, never dropped silently; the request it
// describes keeps its answer. The entry is written even when the client has
// gone away: what it did still happened.
func (d Deps) Audit(c echo.Context, e store.AuditEntry) {
	ctx := context.WithoutCancel(c.Request().Context())
	if err := d.Store.Record(ctx, e); err != nil {
		d.Logger.LogAttrs(ctx, slog.LevelError, "audit write failed",
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slog.String("actor", e.Actor), slog.String("action", e.Action), slog.String("target", e.Target),
			slog.String("outcome", e.Outcome), slog.String("detail", e.Detail), slog.String("error", err.Error()))
	}
}

// IsFragment reports whether the request wants a fragment rather than a
// whole page: an htmx request that is neither boosted nor a history restore.
func IsFragment(c echo.Context) bool {
	h := c.Request().Header
	return h.Get("HX-Request") == "true" && h.Get("HX-Boosted") != "true" && h.Get("HX-History-Restore-Request") != "true"
}

// Render writes a component through a buffer, so that a render error
// becomes a clean 500 instead of half a page.
func Render(c echo.Context, status int, comp templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	// Add, not Set: the CSRF middleware has already sent Vary: Cookie.
	c.Response().Header().Add(echo.HeaderVary, "HX-Request")
	return c.HTMLBlob(status, buf.Bytes())
}

// CurrentUser is the signed-in user the guard put in the request context.
func CurrentUser(c echo.Context) store.User {
	u, _ := views.User(c.Request().Context())
	return u
}

// Actor names the current user in audit entries.
func Actor(c echo.Context) string { return CurrentUser(c).Email }

// Health answers the liveness and readiness probes.
type Health struct{ Deps }

// Live says the process is up.
func (h *Health) Live(c echo.Context) error { return c.String(http.StatusOK, "ok\n") }

// Ready says the database answers.
func (h *Health) Ready(c echo.Context) error {
	if err := h.Store.Ping(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	return c.String(http.StatusOK, "ok\n")
}
