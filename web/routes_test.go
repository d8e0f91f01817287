package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/web"
)

// TestRolePermissions is the matrix of SPEC §7, asked of the store's roles.
func TestRolePermissions(t *testing.T) {
	t.Parallel()
	const (
		yes = true
		no  = false
	)
	tests := []struct {
		give store.Permission
		// global admin, Intune service admin, service admin, service reader
		want [4]bool
	}{
		{store.PermView, [4]bool{yes, yes, yes, yes}},
		{store.PermDiscover, [4]bool{yes, yes, yes, no}},
		{store.PermDeviceActions, [4]bool{yes, yes, yes, no}},
		// Service Administrators edit the Device Registration group only as
		// its owners (CanEditGroup below), never through the permission.
		{store.PermEditRegistrationGroup, [4]bool{yes, yes, no, no}},
		{store.PermEditGroups, [4]bool{yes, yes, yes, no}},
		{store.PermViewAudit, [4]bool{yes, yes, yes, no}},
		{store.PermManage, [4]bool{yes, no, no, no}},
		// Only reporter API tokens report signals; no person does.
		{store.PermReportSignals, [4]bool{no, no, no, no}},
		{store.PermEditContacts, [4]bool{yes, yes, yes, no}},
		{store.PermRaiseSupport, [4]bool{yes, yes, yes, no}},
		{store.PermHandleSupport, [4]bool{yes, no, no, no}},
		{store.PermUnenroll, [4]bool{yes, no, no, no}},
	}
	roles := []store.Role{store.RoleGlobalAdmin, store.RoleIntuneAdmin, store.RoleServiceAdmin, store.RoleServiceReader}
	if !slices.Equal(roles, store.Roles) {
		t.Fatalf("store.Roles = %v, want %v: the matrix below names each role", store.Roles, roles)
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			if tt.give.String() == "" {
				t.Fatalf("permission %d has no name", int(tt.give))
			}
			for i, r := range roles {
				if got := r.Can(tt.give); got != tt.want[i] {
					t.Errorf("%s.Can(%s) = %v, want %v", r.Label(), tt.give, got, tt.want[i])
				}
			}
			// The zero role, and a role the store does not know, grant nothing.
			for _, r := range []store.Role{store.RoleNone, "root", "Global Administrator"} {
				if r.Can(tt.give) {
					t.Errorf("Role(%q).Can(%s) = true, want false", r, tt.give)
				}
			}
		})
	}

	registration := store.Group{Name: store.RegistrationGroupName, Builtin: true}
	other := store.Group{Name: "Pilot"}
	nested := store.Group{Name: "Nested", Depth: 1}    // feeds discovery: guarded like the registration group
	tooDeep := store.Group{Name: "Too deep", Depth: 2} // not followed by discovery
	groupTests := []struct {
		role  store.Role
		group store.Group
		owner bool
		want  bool
	}{
		{store.RoleGlobalAdmin, registration, false, true},
		{store.RoleIntuneAdmin, registration, false, true},
		{store.RoleServiceAdmin, registration, false, false},
		{store.RoleServiceAdmin, registration, true, true},
		{store.RoleServiceReader, registration, true, false},
		{store.RoleNone, registration, true, false},
		{store.RoleServiceAdmin, other, false, true},
		{store.RoleServiceReader, other, true, false},
		{store.RoleIntuneAdmin, nested, false, true},
		{store.RoleServiceAdmin, nested, false, false},
		{store.RoleServiceAdmin, nested, true, true},
		{store.RoleServiceAdmin, tooDeep, false, true},
	}
	for _, tt := range groupTests {
		if got := tt.role.CanEditGroup(tt.group, tt.owner); got != tt.want {
			t.Errorf("%s.CanEditGroup(%s, owner=%v) = %v, want %v", tt.role.Label(), tt.group.Name, tt.owner, got, tt.want)
		}
	}
}

// accessName names a route's access level, or fails the test when it is
// none of the known ones: a route added without a permission must not pass.
func accessName(t *testing.T, r web.Route) string {
	t.Helper()
	switch {
	case r.Access == web.Public:
		return "public"
	case r.Access == web.SignedIn:
		return "signed-in"
	case r.Access > 0 && r.Access.String() != "":
		return r.Access.String()
	}
	t.Errorf("route %s %s has access %d, which is neither web.Public, web.SignedIn nor a named store.Permission", r.Method, r.Path, int(r.Access))
	return ""
}

// TestRouteTable checks the declarations of the route table itself.
func TestRouteTable(t *testing.T) {
	t.Parallel()
	srv := newEnv(t, envOptions{}).srv
	if len(srv.Routes) == 0 {
		t.Fatal("the route table is empty")
	}
	seen := map[string]bool{}
	for _, r := range srv.Routes {
		key := r.Method + " " + r.Path
		if seen[key] {
			t.Errorf("route %s is declared twice", key)
		}
		seen[key] = true
		if r.Handler == nil {
			t.Errorf("route %s has no handler", key)
		}
		accessName(t, r)
		// Every change is a POST with an action path (DESIGN.md); the API
		// also upserts devices with PUT.
		if r.Method != http.MethodGet && r.Method != http.MethodPost && !(r.TokenAuth() && r.Method == http.MethodPut) {
			t.Errorf("route %s: only GET and POST are used (and PUT in the API)", key)
		}
	}
	// The routes that must stay open, and only those.
	for _, key := range []string{"GET /healthz", "GET /readyz", "GET /login", "POST /login"} {
		if !seen[key] {
			t.Errorf("route %s is missing", key)
		}
	}
	// What SPEC §7 says the existing routes need. A new route only has to
	// declare a known access level; these must not be loosened.
	want := map[string]store.Permission{
		"GET /healthz":              web.Public,
		"GET /readyz":               web.Public,
		"GET /login":                web.Public,
		"POST /login":               web.Public,
		"POST /logout":              web.SignedIn,
		"GET /overview":             store.PermView,
		"GET /devices":              store.PermView,
		"GET /devices/export.csv":   store.PermView,
		"GET /devices/:id":          store.PermView,
		"POST /devices/columns":     store.PermView,
		"POST /devices/assign-ring": store.PermDeviceActions,
		"POST /devices/deregister":  store.PermDeviceActions,
		"POST /devices/restore":     store.PermDeviceActions,
		"POST /devices/discover":    store.PermDiscover,
		"GET /discovery/runs/:id":   store.PermView,
		"GET /audit":                store.PermViewAudit,
		"GET /audit/export.csv":     store.PermViewAudit,

		"GET /auth/oidc":                   web.Public,
		"GET /auth/oidc/callback":          web.Public,
		"GET /settings/users":              store.PermManage,
		"POST /settings/users/create":      store.PermManage,
		"POST /settings/users/role":        store.PermManage,
		"POST /settings/users/disable":     store.PermManage,
		"POST /settings/users/enable":      store.PermManage,
		"POST /settings/users/sign-out":    store.PermManage,
		"POST /settings/users/role-map":    store.PermManage,
		"GET /settings/tokens":             store.PermManage,
		"POST /settings/tokens/create":     store.PermManage,
		"POST /settings/tokens/revoke":     store.PermManage,
		"GET /api/v1/openapi.json":         store.PermView,
		"PUT /api/v1/devices":              store.PermEditGroups,
		"GET /api/v1/devices":              store.PermView,
		"GET /api/v1/devices/:id":          store.PermView,
		"POST /api/v1/devices/assign-ring": store.PermDeviceActions,
		"POST /api/v1/devices/deregister":  store.PermDeviceActions,
		"POST /api/v1/devices/restore":     store.PermDeviceActions,
		"POST /api/v1/registrations":       store.PermDiscover,
		"POST /api/v1/discovery":           store.PermDiscover,
		"GET /api/v1/discovery/:run":       store.PermView,
		"POST /api/v1/signals":             store.PermReportSignals,

		"GET /imports":                  store.PermEditGroups,
		"POST /imports/members/preview": store.PermEditGroups,
		"POST /imports/members/commit":  store.PermEditGroups,
		"POST /imports/devices/preview": store.PermEditGroups,
		"POST /imports/devices/commit":  store.PermEditGroups,
		"POST /imports/cancel":          store.PermEditGroups,

		"GET /groups":                     store.PermView,
		"POST /groups/create":             store.PermEditGroups,
		"GET /groups/rule-preview":        store.PermView,
		"GET /devices/rule-preview":       store.PermView,
		"GET /groups/:id":                 store.PermView,
		"GET /groups/:id/members":         store.PermView,
		"GET /groups/:id/device-search":   store.PermView,
		"POST /groups/:id/rename":         store.PermEditGroups,
		"POST /groups/:id/delete":         store.PermEditGroups,
		"POST /groups/:id/rule":           store.PermEditGroups,
		"POST /groups/:id/add-devices":    store.PermEditGroups,
		"POST /groups/:id/remove-devices": store.PermEditGroups,
		"POST /groups/:id/nest":           store.PermEditGroups,
		"POST /groups/:id/unnest":         store.PermEditGroups,
		"POST /groups/:id/add-owner":      store.PermManage,
		"POST /groups/:id/remove-owner":   store.PermManage,

		"GET /tenant/alerts":           store.PermView,
		"GET /tenant/contacts":         store.PermView,
		"POST /tenant/alerts/settings": store.PermManageAlerts,
		"POST /tenant/alerts/restore":  store.PermManageAlerts,
		"GET /tenant/readiness":        store.PermView,
		"POST /tenant/readiness/run":   store.PermManageAlerts,
		"POST /tenant/contacts/save":   store.PermEditContacts,
		"POST /tenant/contacts/delete": store.PermEditContacts,

		"GET /tenant/webhooks":                     store.PermManage,
		"POST /tenant/webhooks/create":             store.PermManage,
		"GET /tenant/webhooks/:id":                 store.PermManage,
		"POST /tenant/webhooks/:id/delete":         store.PermManage,
		"POST /tenant/webhooks/:id/redeliver":      store.PermManage,
		"GET /tenant/support":                      store.PermView,
		"GET /tenant/support/export.csv":           store.PermView,
		"GET /tenant/support/new":                  store.PermRaiseSupport,
		"POST /tenant/support/raise":               store.PermRaiseSupport,
		"GET /tenant/support/:id":                  store.PermView,
		"GET /tenant/support/:id/attachments/:att": store.PermView,
		"POST /tenant/support/:id/note":            store.PermRaiseSupport,
		"POST /tenant/support/:id/reactivate":      store.PermRaiseSupport,
		"POST /tenant/support/:id/assign":          store.PermHandleSupport,
		"POST /tenant/support/:id/mitigate":        store.PermHandleSupport,
		"GET /tenant/unenroll":                     store.PermUnenroll,
		"GET /tenant/unenroll/export.zip":          store.PermUnenroll,
		"POST /tenant/unenroll/organisation":       store.PermUnenroll,
		"POST /tenant/unenroll/request":            store.PermUnenroll,
		"POST /tenant/unenroll/cancel":             store.PermUnenroll,
	}
	for _, r := range srv.Routes {
		if w, ok := want[r.Method+" "+r.Path]; ok && r.Access != w {
			t.Errorf("route %s %s needs %q, want %q", r.Method, r.Path, accessName(t, r), accessName(t, web.Route{Access: w}))
		}
	}
	for _, r := range srv.Routes {
		if r.Access == web.Public && !slices.Contains([]string{"/healthz", "/readyz", "/login", "/auth/oidc", "/auth/oidc/callback"}, r.Path) {
			t.Errorf("route %s %s is public; only the probes and the sign-in routes may be", r.Method, r.Path)
		}
	}
}

// outcome is what the guard should make of a request.
type outcome int

const (
	allowed    outcome = iota // the handler answers
	mustSignIn                // signed out: redirect to sign in, or 401
	noAccess                  // signed in without a role: the no-access page
	refused                   // the role lacks the permission: 403, audited
)

func (o outcome) String() string {
	return [...]string{"allowed", "sign-in required", "no access", "refused"}[o]
}

// expect is the outcome of a route for a user: role nil means signed out.
func expect(access store.Permission, role *store.Role) outcome {
	switch {
	case access == web.Public:
		return allowed
	case role == nil:
		return mustSignIn
	case access == web.SignedIn:
		return allowed
	case *role == store.RoleNone:
		return noAccess
	case !role.Can(access):
		return refused
	}
	return allowed
}

// TestRouteMatrix walks every route of the table for every role, signed out
// included, and checks the guard's answer against the route's declared
// access and the store's Role.Can.
func TestRouteMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	dev := e.devicesWith(t, store.StatusActive, 1)[0]
	run, err := e.st.LastDiscoveryRun(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Concrete paths for the routes with parameters. The group routes use
	// an assigned group that is not the Device Registration group (whose
	// membership also depends on ownership: TestGroupMembershipByRole), and
	// delete a group of their own.
	groupPath := func(name string) string {
		g, err := e.st.CreateGroup(e.ctx, name, "", "test")
		if err != nil {
			t.Fatal(err)
		}
		return "/groups/" + strconv.FormatInt(g.ID, 10)
	}
	matrixGroup, doomedGroup := groupPath("Matrix"), groupPath("Matrix delete")
	hookPath := func() string {
		w, err := e.st.AddWebhook(e.ctx, "https://hooks.example.com/matrix", store.WebhookEventTypes, "", "test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return "/tenant/webhooks/" + strconv.FormatInt(w.ID, 10)
	}
	matrixHook, doomedHook := hookPath(), hookPath()
	supportPath, supportAttachment := raiseSupport(t, e, dev.DeviceID)
	paths := map[string]string{
		"/devices/:id":                   "/devices/" + dev.DeviceID,
		"/discovery/runs/:id":            "/discovery/runs/" + strconv.FormatInt(run.ID, 10),
		"/groups/:id":                    matrixGroup,
		"/groups/:id/members":            matrixGroup + "/members",
		"/groups/:id/device-search":      matrixGroup + "/device-search?find=ap",
		"/groups/:id/rename":             matrixGroup + "/rename",
		"/groups/:id/delete":             doomedGroup + "/delete",
		"/groups/:id/rule":               matrixGroup + "/rule",
		"/groups/:id/add-devices":        matrixGroup + "/add-devices",
		"/groups/:id/remove-devices":     matrixGroup + "/remove-devices",
		"/groups/:id/nest":               matrixGroup + "/nest",
		"/groups/:id/unnest":             matrixGroup + "/unnest",
		"/groups/:id/add-owner":          matrixGroup + "/add-owner",
		"/groups/:id/remove-owner":       matrixGroup + "/remove-owner",
		"/devices/views/:id/delete":      "/devices/views/999999/delete",
		"/releases/:id/expedite":         "/releases/1/expedite",
		"/tenant/webhooks/:id":           matrixHook,
		"/tenant/webhooks/:id/delete":    doomedHook + "/delete",
		"/tenant/webhooks/:id/redeliver": matrixHook + "/redeliver",
		// Reads open a real request; changes name none (404 once the guard
		// lets them through), so the walk changes nothing.
		"/tenant/support/:id":                  supportPath,
		"/tenant/support/:id/attachments/:att": supportAttachment,
		"/tenant/support/:id/note":             "/tenant/support/999999/note",
		"/tenant/support/:id/reactivate":       "/tenant/support/999999/reactivate",
		"/tenant/support/:id/assign":           "/tenant/support/999999/assign",
		"/tenant/support/:id/mitigate":         "/tenant/support/999999/mitigate",
	}

	type who struct {
		name string
		role *store.Role // nil: signed out
		c    *client
	}
	var users []who
	for _, r := range allRoles {
		r := r
		users = append(users, who{roleName(r), &r, e.as(t, r)})
	}
	anon := e.newClient()
	anon.csrf(t) // a signed-out browser has the CSRF cookie of the sign-in page
	users = append(users, who{"signed-out", nil, anon})

	// Sign-out ends the session the other requests use: walk it last.
	routes := slices.Clone(e.srv.Routes)
	slices.SortStableFunc(routes, func(a, b web.Route) int {
		endsSession := func(r web.Route) bool { return r.Method == http.MethodPost && r.Path == "/logout" }
		switch {
		case endsSession(a) == endsSession(b):
			return 0
		case endsSession(a):
			return 1
		}
		return -1
	})

	for _, route := range routes {
		name := accessName(t, route)
		if name == "" {
			continue
		}
		if route.TokenAuth() {
			continue // token-authenticated: TestAPIRouteMatrix walks these
		}
		path := route.Path
		if strings.ContainsAny(path, ":*") {
			p, ok := paths[path]
			if !ok {
				t.Errorf("route %s %s has a parameter: give it a value in the paths of TestRouteMatrix", route.Method, path)
				continue
			}
			path = p
		}
		for _, u := range users {
			want := expect(route.Access, u.role)
			t.Run(fmt.Sprintf("%s %s/%s", route.Method, route.Path, u.name), func(t *testing.T) {
				c := u.c
				var res *response
				before := lastAuditID(t, e)
				switch route.Method {
				case http.MethodGet:
					res = c.get(t, path)
				case http.MethodPost:
					form := url.Values{}
					if route.Path == "/login" {
						// Sign-in is walked with good credentials: a signed-in
						// user signs in again (a new session, same user); the
						// signed-out browser does it on a copy of itself so
						// that it stays signed out.
						if c.email == "" {
							c = c.fork()
							c.email = emailOf(store.RoleServiceReader)
						}
						form.Set("email", c.email)
						form.Set("password", password)
					}
					res = c.post(t, path, form)
				default:
					t.Fatalf("no request for method %s", route.Method)
				}
				checkOutcome(t, e, res, want, u.role, before)
			})
		}
		// Signed out, an htmx request is told where to sign in instead of
		// being redirected.
		if route.Access != web.Public {
			t.Run(fmt.Sprintf("%s %s/signed-out-htmx", route.Method, route.Path), func(t *testing.T) {
				var res *response
				if route.Method == http.MethodGet {
					res = anon.get(t, path, "HX-Request", "true")
				} else {
					res = anon.post(t, path, url.Values{}, "HX-Request", "true")
				}
				if res.status != http.StatusUnauthorized || !strings.HasPrefix(res.header.Get("HX-Redirect"), "/login") {
					t.Errorf("%s HX-Redirect %q, want 401 with HX-Redirect to /login", res, res.header.Get("HX-Redirect"))
				}
			})
		}
	}
}

// lastAuditID is the ID of the newest audit entry.
func lastAuditID(t *testing.T, e *env) int64 {
	entries := e.audit(t, store.AuditFilter{Limit: 1})
	if len(entries) == 0 {
		return 0
	}
	return entries[0].ID
}

// checkOutcome asserts that res is the outcome want; audited refusals must
// have written an entry after the entry before.
func checkOutcome(t *testing.T, e *env, res *response, want outcome, role *store.Role, before int64) {
	t.Helper()
	loc := res.header.Get("Location")
	switch want {
	case allowed:
		if res.status == http.StatusUnauthorized && res.testid("login-error").Length() == 0 || res.status == http.StatusForbidden {
			t.Errorf("%s, want the handler's answer, not %d\n%s", res, res.status, truncate(res.body))
		}
		if strings.HasPrefix(loc, "/login?next=") || res.testid("no-access").Length() > 0 {
			t.Errorf("%s Location %q: the guard refused an allowed request", res, loc)
		}
		if res.status >= 500 {
			t.Errorf("%s: server error\n%s", res, truncate(res.body))
		}
	case mustSignIn:
		if res.method == http.MethodGet {
			wantLoc := "/login?next=" + url.QueryEscape(res.path)
			if res.status != http.StatusSeeOther || loc != wantLoc {
				t.Errorf("%s Location %q, want 303 to %q", res, loc, wantLoc)
			}
		} else if res.status != http.StatusUnauthorized {
			t.Errorf("%s, want 401", res)
		}
	case noAccess:
		if res.status != http.StatusForbidden || res.testid("no-access").Length() != 1 {
			t.Errorf("%s, want 403 with the no-access page\n%s", res, truncate(res.body))
		}
		wantRefusal(t, e, res, emailOf(*role), before)
	case refused:
		if res.status != http.StatusForbidden || res.testid("no-access").Length() != 0 {
			t.Errorf("%s, want 403 (not the no-access page)\n%s", res, truncate(res.body))
		}
		if !strings.Contains(string(res.body), "does not allow") {
			t.Errorf("%s: the refusal does not say why\n%s", res, truncate(res.body))
		}
		wantRefusal(t, e, res, emailOf(*role), before)
	}
}

// wantRefusal fails unless a "denied" entry for this request was written
// after the entry before.
func wantRefusal(t *testing.T, e *env, res *response, actor string, before int64) {
	t.Helper()
	target := res.method + " " + strings.SplitN(res.path, "?", 2)[0]
	for _, a := range e.audit(t, store.AuditFilter{Actor: actor}) {
		if a.ID <= before {
			break
		}
		if a.Outcome == store.OutcomeDenied && a.Target == target {
			return
		}
	}
	t.Errorf("%s: no audit entry with outcome %q and target %q by %s", res, store.OutcomeDenied, target, actor)
}
