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
	sso       *handlers.SSO
	users     *handlers.Users
	devices   *handlers.Devices
	discovery *handlers.Discovery
	audit     *handlers.Audit
	groups    *handlers.Groups
	api       *handlers.API
	tokens    *handlers.Tokens
	imports   *handlers.Imports
	releases  *handlers.Releases
	reports   *handlers.Reports
	overview  *handlers.Overview
	tenant    *handlers.Tenant
	webhooks  *handlers.Webhooks
	support   *handlers.Support
	unenroll  *handlers.Unenroll
}

// routes is THE route table.
func routes(h handlerSet) []Route {
	return []Route{
		{http.MethodGet, "/healthz", Public, h.health.Live},
		{http.MethodGet, "/readyz", Public, h.health.Ready},
		{http.MethodGet, "/login", Public, h.auth.LoginForm},
		{http.MethodPost, "/login", Public, h.auth.Login},
		{http.MethodPost, "/logout", SignedIn, h.auth.Logout},
		{http.MethodGet, "/auth/oidc", Public, h.sso.Start},
		{http.MethodGet, "/auth/oidc/callback", Public, h.sso.Callback},

		{http.MethodGet, "/", store.PermView, h.devices.Home},
		{http.MethodGet, "/overview", store.PermView, h.overview.Show},
		{http.MethodGet, "/devices", store.PermView, h.devices.List},
		{http.MethodGet, "/devices/export.csv", store.PermView, h.devices.Export},
		{http.MethodGet, "/devices/rule-preview", store.PermView, h.devices.RulePreview},
		{http.MethodGet, "/devices/:id", store.PermView, h.devices.Detail},
		{http.MethodPost, "/devices/columns", store.PermView, h.devices.SaveColumns},
		{http.MethodPost, "/devices/lists", store.PermView, h.devices.PasteList},
		{http.MethodPost, "/devices/views", store.PermView, h.devices.SaveView},
		{http.MethodPost, "/devices/views/:id/delete", store.PermView, h.devices.DeleteView},
		{http.MethodPost, "/devices/assign-ring", store.PermDeviceActions, h.devices.AssignRing},
		{http.MethodPost, "/devices/deregister", store.PermDeviceActions, h.devices.Deregister},
		{http.MethodPost, "/devices/restore", store.PermDeviceActions, h.devices.Restore},

		{http.MethodPost, "/devices/discover", store.PermDiscover, h.discovery.Start},
		{http.MethodGet, "/discovery/runs/:id", store.PermView, h.discovery.Progress},

		{http.MethodGet, "/audit", store.PermViewAudit, h.audit.List},
		{http.MethodGet, "/audit/export.csv", store.PermViewAudit, h.audit.Export},

		// groups: reads need PermView, changes PermEditGroups. Membership
		// changes also need Role.CanEditGroup, which the handlers ask: for
		// the Device Registration group it depends on ownership. Owners are
		// managed by Global Administrators.
		{http.MethodGet, "/groups", store.PermView, h.groups.List},
		{http.MethodPost, "/groups/create", store.PermEditGroups, h.groups.Create},
		{http.MethodGet, "/groups/rule-preview", store.PermView, h.groups.RulePreview},
		{http.MethodGet, "/groups/:id", store.PermView, h.groups.Detail},
		{http.MethodGet, "/groups/:id/members", store.PermView, h.groups.Members},
		{http.MethodGet, "/groups/:id/device-search", store.PermView, h.groups.DeviceSearch},
		{http.MethodPost, "/groups/:id/rename", store.PermEditGroups, h.groups.Rename},
		{http.MethodPost, "/groups/:id/delete", store.PermEditGroups, h.groups.Delete},
		{http.MethodPost, "/groups/:id/rule", store.PermEditGroups, h.groups.SaveRule},
		{http.MethodPost, "/groups/:id/add-devices", store.PermEditGroups, h.groups.AddDevices},
		{http.MethodPost, "/groups/:id/remove-devices", store.PermEditGroups, h.groups.RemoveDevices},
		{http.MethodPost, "/groups/:id/nest", store.PermEditGroups, h.groups.Nest},
		{http.MethodPost, "/groups/:id/unnest", store.PermEditGroups, h.groups.Unnest},
		{http.MethodPost, "/groups/:id/add-owner", store.PermManage, h.groups.AddOwner},
		{http.MethodPost, "/groups/:id/remove-owner", store.PermManage, h.groups.RemoveOwner},

		// imports: bulk import, previewed before it is committed. Member
		// imports into the Device Registration group also need
		// Role.CanEditGroup, which the handler asks (it depends on the group
		// and its owners).
		{http.MethodGet, "/imports", store.PermEditGroups, h.imports.Page},
		{http.MethodPost, "/imports/members/preview", store.PermEditGroups, h.imports.PreviewMembers},
		{http.MethodPost, "/imports/members/commit", store.PermEditGroups, h.imports.CommitMembers},
		{http.MethodPost, "/imports/devices/preview", store.PermEditGroups, h.imports.PreviewDevices},
		{http.MethodPost, "/imports/devices/commit", store.PermEditGroups, h.imports.CommitDevices},
		{http.MethodPost, "/imports/cancel", store.PermEditGroups, h.imports.Cancel},

		// update management (SPEC §12): everyone sees releases, schedules,
		// pauses and the reports; changes need device actions.
		{http.MethodGet, "/releases", store.PermView, h.releases.Page},
		{http.MethodPost, "/releases/add", store.PermDeviceActions, h.releases.Add},
		{http.MethodPost, "/releases/import", store.PermDeviceActions, h.releases.Import},
		{http.MethodPost, "/releases/:id/expedite", store.PermDeviceActions, h.releases.Expedite},
		{http.MethodPost, "/releases/pause", store.PermDeviceActions, h.releases.Pause},
		{http.MethodPost, "/releases/resume", store.PermDeviceActions, h.releases.Resume},
		{http.MethodPost, "/releases/schedule", store.PermDeviceActions, h.releases.Schedule},
		{http.MethodPost, "/releases/feature", store.PermDeviceActions, h.releases.Feature},
		{http.MethodGet, "/reports", store.PermView, h.reports.Summary},
		{http.MethodGet, "/reports/devices", store.PermView, h.reports.Devices},
		{http.MethodGet, "/reports/devices/export.csv", store.PermView, h.reports.Export},

		// tenant operations (SPEC §13): everyone sees the alerts and the
		// admin contacts; Service Administrators and above edit contacts.
		{http.MethodGet, "/tenant/alerts", store.PermView, h.tenant.Alerts},
		{http.MethodPost, "/tenant/alerts/settings", store.PermManageAlerts, h.tenant.SaveAlertSettings},
		{http.MethodPost, "/tenant/alerts/restore", store.PermManageAlerts, h.tenant.RestoreRingSettings},
		{http.MethodGet, "/tenant/readiness", store.PermView, h.tenant.Readiness},
		{http.MethodPost, "/tenant/readiness/run", store.PermManageAlerts, h.tenant.RunReadiness},
		{http.MethodGet, "/tenant/contacts", store.PermView, h.tenant.Contacts},
		{http.MethodPost, "/tenant/contacts/save", store.PermEditContacts, h.tenant.SaveContact},
		{http.MethodPost, "/tenant/contacts/delete", store.PermEditContacts, h.tenant.DeleteContact},
		// webhooks send the tenant's events anywhere: Global Administrators.
		{http.MethodGet, "/tenant/webhooks", store.PermManage, h.webhooks.List},
		{http.MethodPost, "/tenant/webhooks/create", store.PermManage, h.webhooks.Create},
		{http.MethodGet, "/tenant/webhooks/:id", store.PermManage, h.webhooks.Log},
		{http.MethodPost, "/tenant/webhooks/:id/delete", store.PermManage, h.webhooks.Delete},
		{http.MethodPost, "/tenant/webhooks/:id/redeliver", store.PermManage, h.webhooks.Redeliver},

		// support requests (SPEC §7, §13): everyone reads them and their
		// attachments; administrators raise them, and the raiser follows
		// up (the store checks who raised it); Global Administrators
		// handle them.
		{http.MethodGet, "/tenant/support", store.PermView, h.support.List},
		{http.MethodGet, "/tenant/support/export.csv", store.PermView, h.support.Export},
		{http.MethodGet, "/tenant/support/new", store.PermRaiseSupport, h.support.New},
		{http.MethodPost, "/tenant/support/raise", store.PermRaiseSupport, h.support.Raise},
		{http.MethodGet, "/tenant/support/:id", store.PermView, h.support.Detail},
		{http.MethodGet, "/tenant/support/:id/attachments/:att", store.PermView, h.support.Attachment},
		{http.MethodPost, "/tenant/support/:id/note", store.PermRaiseSupport, h.support.Note},
		{http.MethodPost, "/tenant/support/:id/reactivate", store.PermRaiseSupport, h.support.Reactivate},
		{http.MethodPost, "/tenant/support/:id/assign", store.PermHandleSupport, h.support.Assign},
		{http.MethodPost, "/tenant/support/:id/mitigate", store.PermHandleSupport, h.support.Mitigate},

		// unenrollment (SPEC §13): Global Administrators only, the full
		// export included.
		{http.MethodGet, "/tenant/unenroll", store.PermUnenroll, h.unenroll.Page},
		{http.MethodGet, "/tenant/unenroll/export.zip", store.PermUnenroll, h.unenroll.Export},
		{http.MethodPost, "/tenant/unenroll/organisation", store.PermUnenroll, h.unenroll.SaveOrganisation},
		{http.MethodPost, "/tenant/unenroll/request", store.PermUnenroll, h.unenroll.Request},
		{http.MethodPost, "/tenant/unenroll/cancel", store.PermUnenroll, h.unenroll.Cancel},

		{http.MethodGet, "/settings/users", store.PermManage, h.users.List},
		{http.MethodPost, "/settings/users/create", store.PermManage, h.users.Create},
		{http.MethodPost, "/settings/users/role", store.PermManage, h.users.SetRole},
		{http.MethodPost, "/settings/users/disable", store.PermManage, h.users.Disable},
		{http.MethodPost, "/settings/users/enable", store.PermManage, h.users.Enable},
		{http.MethodPost, "/settings/users/sign-out", store.PermManage, h.users.SignOut},
		{http.MethodPost, "/settings/users/role-map", store.PermManage, h.users.SaveRoleMap},

		{http.MethodGet, "/settings/tokens", store.PermManage, h.tokens.List},
		{http.MethodPost, "/settings/tokens/create", store.PermManage, h.tokens.Create},
		{http.MethodPost, "/settings/tokens/revoke", store.PermManage, h.tokens.Revoke},

		// api: the registration API. Every route under /api/ authenticates
		// with a bearer token (Route.TokenAuth), never the session, and
		// Access is what the token's role must grant.
		{http.MethodGet, "/api/v1/openapi.json", store.PermView, h.api.OpenAPI},
		{http.MethodPut, "/api/v1/devices", store.PermEditGroups, h.api.PutDevices},
		{http.MethodGet, "/api/v1/devices", store.PermView, h.api.Devices},
		{http.MethodGet, "/api/v1/devices/:id", store.PermView, h.api.Device},
		{http.MethodPost, "/api/v1/devices/assign-ring", store.PermDeviceActions, h.api.AssignRing},
		{http.MethodPost, "/api/v1/devices/deregister", store.PermDeviceActions, h.api.Deregister},
		{http.MethodPost, "/api/v1/devices/restore", store.PermDeviceActions, h.api.Restore},
		{http.MethodPost, "/api/v1/registrations", store.PermDiscover, h.api.Register},
		{http.MethodPost, "/api/v1/discovery", store.PermDiscover, h.api.StartDiscovery},
		{http.MethodGet, "/api/v1/discovery/:run", store.PermView, h.api.DiscoveryRun},
		{http.MethodGet, "/api/v1/releases", store.PermView, h.api.Releases},
		{http.MethodPost, "/api/v1/releases", store.PermDeviceActions, h.api.AddRelease},
		{http.MethodPost, "/api/v1/releases/:id/expedite", store.PermDeviceActions, h.api.ExpediteRelease},
		{http.MethodGet, "/api/v1/rings/:ring/schedule", store.PermView, h.api.Schedule},
		{http.MethodPut, "/api/v1/rings/:ring/schedule", store.PermDeviceActions, h.api.PutSchedule},
		{http.MethodPost, "/api/v1/rings/:ring/pause", store.PermDeviceActions, h.api.PauseRing},
		{http.MethodPost, "/api/v1/rings/:ring/resume", store.PermDeviceActions, h.api.ResumeRing},
		{http.MethodGet, "/api/v1/reports/quality", store.PermView, h.api.QualityReport},
		{http.MethodPost, "/api/v1/signals", store.PermReportSignals, h.api.ReportSignals},
	}
}
