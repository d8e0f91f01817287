package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"patchboard/handlers"
	"patchboard/store"
)

// Access levels below the store's permissions, for routes that need no role.
const (
	// Public routes need no sign-in.
	Public store.Permission = -1
	// SignedIn routes need a session but no role (sign-out, the no-access page).
	SignedIn store.Permission = -2
)

// Route is one entry of the route table: every route states the access it
// needs, and the guard enforces it before the handler runs.
type Route struct {
	Method  string
	Path    string
	Access  store.Permission
	Handler echo.HandlerFunc
}

// handlerSet is every handler the routes call.
type handlerSet struct {
	health    *handlers.Health
	auth      *handlers.Auth
	devices   *handlers.Devices
	discovery *handlers.Discovery
	audit     *handlers.Audit
}

// routes is THE route table.
func routes(h handlerSet) []Route {
	return []Route{
		{http.MethodGet, "/healthz", Public, h.health.Live},
		{http.MethodGet, "/readyz", Public, h.health.Ready},
		{http.MethodGet, "/login", Public, h.auth.LoginForm},
		{http.MethodPost, "/login", Public, h.auth.Login},
		{http.MethodPost, "/logout", SignedIn, h.auth.Logout},

		{http.MethodGet, "/", store.PermView, h.devices.Home},
		{http.MethodGet, "/devices", store.PermView, h.devices.List},
		{http.MethodGet, "/devices/export.csv", store.PermView, h.devices.Export},
		{http.MethodGet, "/devices/:id", store.PermView, h.devices.Detail},
		{http.MethodPost, "/devices/columns", store.PermView, h.devices.SaveColumns},
		{http.MethodPost, "/devices/assign-ring", store.PermDeviceActions, h.devices.AssignRing},
		{http.MethodPost, "/devices/deregister", store.PermDeviceActions, h.devices.Deregister},
		{http.MethodPost, "/devices/restore", store.PermDeviceActions, h.devices.Restore},

		{http.MethodPost, "/devices/discover", store.PermDiscover, h.discovery.Start},
		{http.MethodGet, "/discovery/runs/:id", store.PermView, h.discovery.Progress},

		{http.MethodGet, "/audit", store.PermViewAudit, h.audit.List},
		{http.MethodGet, "/audit/export.csv", store.PermViewAudit, h.audit.Export},
	}
}
