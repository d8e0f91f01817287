package web_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/web"
	"patchboard/web/oidctest"
)

// The role map of the SSO tests: Autopatch's two groups by app role, and a
// group object ID for Intune Service Administrators.
const (
	appRoleAdmin  = "Patchboard.ServiceAdministrator"
	appRoleReader = "Patchboard.ServiceReader"
	intuneGroup   = "0b8d3a6e-5e5f-4c39-9d43-1f2a3b4c5d6e"
	globalGroup   = "7c1e2d3f-0a9b-4c8d-8e7f-6a5b4c3d2e1f"
	testRoleMap   = appRoleAdmin + "=service-admin," + appRoleReader + "=service-reader," +
		intuneGroup + "=intune-admin," + globalGroup + "=global-admin"
)

// newOIDC prepares single sign-on against iss for a portal at base.
func newOIDC(t testing.TB, iss *oidctest.Issuer, base, roleMap string, now func() time.Time, hc *http.Client) *web.OIDC {
	t.Helper()
	m, err := store.ParseRoleMap(roleMap)
	if err != nil {
		t.Fatal(err)
	}
	o, err := web.NewOIDC(context.Background(), web.OIDCConfig{Issuer: iss.URL, ClientID: iss.ClientID,
		ClientSecret: iss.ClientSecret, BaseURL: base, Name: "Test IdP", RoleMap: m, HTTPClient: hc}, now)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// ssoEnv is a portal that signs in through its own test provider.
func ssoEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	o.sso = oidctest.New(nil)
	t.Cleanup(o.sso.Close)
	if o.roleMap == "" {
		o.roleMap = testRoleMap
	}
	e := newEnv(t, o)
	e.sso.Now = e.clock.Now
	return e
}

// visit GETs an absolute URL (the provider's or the portal's).
func (c *client) visit(t testing.TB, raw string) *response {
	t.Helper()
	res, err := c.hc.Get(raw)
	if err != nil {
		t.Fatalf("GET %s: %v", raw, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{t: t, method: http.MethodGet, path: raw, status: res.StatusCode, header: res.Header, body: b, cookies: res.Cookies()}
}

// startSSO follows the sign-in button to the provider and returns the
// callback URL it redirects back to.
func (c *client) startSSO(t testing.TB) string {
	t.Helper()
	start := c.get(t, "/auth/oidc")
	if start.status != http.StatusSeeOther {
		t.Fatalf("GET /auth/oidc: %d\n%s", start.status, truncate(start.body))
	}
	at := c.visit(t, start.header.Get("Location"))
	if at.status != http.StatusFound {
		t.Fatalf("provider's authorize: %d %s", at.status, at.body)
	}
	return at.header.Get("Location")
}

// ssoSignIn signs p in through the provider and returns the callback's
// answer.
func (c *client) ssoSignIn(t testing.TB, p oidctest.Person) *response {
	t.Helper()
	c.e.sso.SignIn(p)
	return c.visit(t, c.startSSO(t))
}

// wantSignedIn checks that the callback signed the person in with role.
func (r *response) wantSignedIn(c *client, role store.Role) {
	r.t.Helper()
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/overview" {
		r.t.Fatalf("callback: %d Location %q, want 303 to the start page, /overview\n%s", r.status, r.header.Get("Location"), truncate(r.body))
	}
	page := c.get(r.t, "/devices").wantStatus(http.StatusOK)
	if got := page.text("current-role"); got != role.Label() {
		r.t.Fatalf("signed in as %q, want %q", got, role.Label())
	}
}

// wantLoginError checks that the callback refused with a readable message.
func (r *response) wantLoginError(want string) {
	r.t.Helper()
	if r.status != http.StatusUnauthorized || !strings.Contains(r.text("login-error"), want) {
		r.t.Fatalf("callback: %d, error %q; want 401 with %q\n%s", r.status, r.text("login-error"), want, truncate(r.body))
	}
}

func person(sub string, mods ...func(*oidctest.Person)) oidctest.Person {
	p := oidctest.Person{Subject: sub, Email: sub + "@contoso.example", Name: "Person " + sub}
	for _, m := range mods {
		m(&p)
	}
	return p
}

func withRoles(v ...string) func(*oidctest.Person)  { return func(p *oidctest.Person) { p.Roles = v } }
func withGroups(v ...string) func(*oidctest.Person) { return func(p *oidctest.Person) { p.Groups = v } }

// TestSSORoles signs people in with app roles and groups: the most powerful
// mapped value wins.
func TestSSORoles(t *testing.T) {
	t.Parallel()
	e := ssoEnv(t, envOptions{fleet: true})
	tests := []struct {
		name string
		give oidctest.Person
		want store.Role
	}{
		{"reader app role", person("r1", withRoles(appRoleReader)), store.RoleServiceReader},
		{"admin app role", person("a1", withRoles(appRoleAdmin)), store.RoleServiceAdmin},
		{"both app roles", person("a2", withRoles(appRoleReader, appRoleAdmin)), store.RoleServiceAdmin},
		{"intune group", person("i1", withGroups("ffffffff-0000-0000-0000-000000000000", intuneGroup)), store.RoleIntuneAdmin},
		{"group beats app role", person("g1", withRoles(appRoleReader), withGroups(globalGroup)), store.RoleGlobalAdmin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.newClient()
			c.ssoSignIn(t, tt.give).wantSignedIn(c, tt.want)
			a := e.wantAudit(t, store.ActionSignIn, tt.give.Email, store.OutcomeSuccess, "")
			if !strings.Contains(a.Detail, tt.want.Label()) {
				t.Errorf("audit detail %q", a.Detail)
			}
		})
	}
	// Accounts are keyed by issuer and subject: the e-mail of a local
	// account makes another account, and the local one keeps its role.
	c := e.newClient()
	c.ssoSignIn(t, person("r9", withRoles(appRoleReader), func(p *oidctest.Person) { p.Email = emailOf(store.RoleGlobalAdmin) })).
		wantSignedIn(c, store.RoleServiceReader)
	local := mustUser(t, e, store.RoleGlobalAdmin)
	if local.Role != store.RoleGlobalAdmin || !local.Local() {
		t.Errorf("the local account changed: %+v", local)
	}
	// Entra's oid wins over sub, and e-mail and name are refreshed.
	c = e.newClient()
	c.ssoSignIn(t, person("pairwise-1", withRoles(appRoleReader), func(p *oidctest.Person) { p.OID = "oid-42" })).wantSignedIn(c, store.RoleServiceReader)
	c = e.newClient()
	c.ssoSignIn(t, person("pairwise-2", withRoles(appRoleReader), func(p *oidctest.Person) { p.OID = "oid-42"; p.Email = "renamed@contoso.example" })).
		wantSignedIn(c, store.RoleServiceReader)
	n := 0
	accounts, err := e.st.Accounts(e.ctx, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		if a.Subject == "oid-42" {
			n++
			if a.Email != "renamed@contoso.example" || a.RoleSource != store.RoleDirectory {
				t.Errorf("account %+v", a.User)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d accounts for oid-42, want 1", n)
	}
}

// TestSSONoRole: a person whom the map gives no role gets the no-access
// page with the reason, and the audit log says so; group overage is named.
func TestSSONoRole(t *testing.T) {
	t.Parallel()
	e := ssoEnv(t, envOptions{})
	c := e.newClient()
	res := c.ssoSignIn(t, person("n1", withRoles("Some.Other.Role"), withGroups("ffffffff-0000-0000-0000-000000000000")))
	if res.status != http.StatusForbidden || res.testid("no-access").Length() != 1 ||
		!strings.Contains(res.text("no-access-reason"), "None of your roles or groups") {
		t.Fatalf("%s\n%s", res, truncate(res.body))
	}
	e.wantAudit(t, store.ActionSignIn, "n1@contoso.example", store.OutcomeDenied, "")
	// Signed in, the person sees the no-access page and nothing else.
	if p := c.get(t, "/devices"); p.status != http.StatusForbidden || p.testid("no-access").Length() != 1 {
		t.Errorf("after sign-in: %s", p)
	}

	c = e.newClient()
	res = c.ssoSignIn(t, person("o1", func(p *oidctest.Person) { p.Overage = true }))
	if res.status != http.StatusForbidden || !strings.Contains(res.text("no-access-reason"), "group overage") ||
		!strings.Contains(res.text("no-access-reason"), "app role") {
		t.Fatalf("overage: %s\n%s", res, truncate(res.body))
	}
	if a := e.wantAudit(t, store.ActionSignIn, "o1@contoso.example", store.OutcomeDenied, ""); !strings.Contains(a.Detail, "group overage") {
		t.Errorf("overage audit %q", a.Detail)
	}
}

// TestSSORoleRemovedBetweenSignIns: the map is applied at every sign-in.
func TestSSORoleRemovedBetweenSignIns(t *testing.T) {
	t.Parallel()
	e := ssoEnv(t, envOptions{})
	c := e.newClient()
	c.ssoSignIn(t, person("m1", withRoles(appRoleAdmin))).wantSignedIn(c, store.RoleServiceAdmin)
	c = e.newClient()
	res := c.ssoSignIn(t, person("m1", withRoles()))
	if res.status != http.StatusForbidden || res.testid("no-access").Length() != 1 {
		t.Fatalf("second sign-in: %s", res)
	}
	a := e.wantAudit(t, store.ActionUserRole, "directory", store.OutcomeSuccess, "m1@contoso.example")
	if !strings.Contains(a.Detail, "Service Administrator → No access") {
		t.Errorf("audit %q", a.Detail)
	}
}

// TestSSOFlowIsSafe: every way the flow can be forged, replayed or
// answered wrongly ends on the sign-in page with a readable message, never
// a session and never a 500.
func TestSSOFlowIsSafe(t *testing.T) {
	t.Parallel()
	e := ssoEnv(t, envOptions{})
	reader := person("s1", withRoles(appRoleReader))

	t.Run("forged state", func(t *testing.T) {
		c := e.newClient()
		e.sso.SignIn(reader)
		cb, _ := url.Parse(c.startSSO(t))
		q := cb.Query()
		q.Set("state", "forged")
		cb.RawQuery = q.Encode()
		c.visit(t, cb.String()).wantLoginError("did not come from this browser")
		wantSignedOut(t, c)
	})
	t.Run("state of another browser", func(t *testing.T) {
		victim, attacker := e.newClient(), e.newClient()
		e.sso.SignIn(reader)
		cb := attacker.startSSO(t)
		victim.visit(t, cb).wantLoginError("expired or was already used")
		wantSignedOut(t, victim)
	})
	t.Run("replayed state", func(t *testing.T) {
		c := e.newClient()
		e.sso.SignIn(reader)
		cb := c.startSSO(t)
		flow := c.cookieAt("/auth/oidc", "patchboard_oidc")
		c.visit(t, cb).wantSignedIn(c, store.RoleServiceReader)
		// The same callback, with the flow cookie put back.
		again := e.newClient()
		again.setCookieAt("/auth/oidc", "patchboard_oidc", flow)
		again.visit(t, cb).wantLoginError("expired or was already used")
		wantSignedOut(t, again)
	})
	t.Run("expired flow", func(t *testing.T) {
		c := e.newClient()
		e.sso.SignIn(reader)
		cb := c.startSSO(t)
		e.clock.Advance(11 * time.Minute)
		c.visit(t, cb).wantLoginError("expired or was already used")
		wantSignedOut(t, c)
	})
	t.Run("replayed code", func(t *testing.T) {
		c := e.newClient()
		e.sso.SignIn(reader)
		used, _ := url.Parse(c.startSSO(t))
		c.visit(t, used.String()).wantSignedIn(c, store.RoleServiceReader)
		// A new flow of the same browser, answered with the spent code.
		fresh, _ := url.Parse(c.startSSO(t))
		q := fresh.Query()
		q.Set("code", used.Query().Get("code"))
		fresh.RawQuery = q.Encode()
		c.visit(t, fresh.String()).wantLoginError("did not accept the sign-in code")
	})
	tamper := []struct {
		name string
		f    func(map[string]any)
	}{
		{"wrong audience", func(c map[string]any) { c["aud"] = "someone-else" }},
		{"wrong issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }},
		{"expired", func(c map[string]any) { c["exp"] = testNow.Add(-time.Minute).Unix() }},
		{"nonce mismatch", func(c map[string]any) { c["nonce"] = "replayed-nonce" }},
		{"no nonce", func(c map[string]any) { delete(c, "nonce") }},
	}
	for _, tt := range tamper {
		t.Run(tt.name, func(t *testing.T) {
			e.sso.Tamper(tt.f)
			defer e.sso.Tamper(nil)
			c := e.newClient()
			c.ssoSignIn(t, reader).wantLoginError("could not be verified")
			wantSignedOut(t, c)
		})
	}
	t.Run("bad signature", func(t *testing.T) {
		e.sso.SignWithUnpublishedKey(true)
		defer e.sso.SignWithUnpublishedKey(false)
		c := e.newClient()
		c.ssoSignIn(t, reader).wantLoginError("could not be verified")
		wantSignedOut(t, c)
	})
	t.Run("provider error", func(t *testing.T) {
		e.sso.RefuseAuthorization("access_denied", "AADSTS50105: The signed in user is not assigned to a role for the application.\nTrace ID: 1")
		defer e.sso.RefuseAuthorization("", "")
		c := e.newClient()
		res := c.ssoSignIn(t, reader)
		res.wantLoginError("access_denied")
		if !strings.Contains(res.text("login-error"), "AADSTS50105") || strings.Contains(res.text("login-error"), "Trace ID") {
			t.Errorf("message %q", res.text("login-error"))
		}
	})
	t.Run("keys rotated", func(t *testing.T) {
		e.sso.RotateKeys()
		c := e.newClient()
		c.ssoSignIn(t, reader).wantSignedIn(c, store.RoleServiceReader)
	})
	// Every refusal was audited, and no token (a JWT: header.payload, each
	// base64 of JSON, "eyJ") reached the database.
	failures := 0
	for _, a := range e.audit(t, store.AuditFilter{Action: store.ActionSignIn}) {
		if a.Outcome == store.OutcomeFailure && a.Actor == "single sign-on" {
			failures++
		}
	}
	if failures < 10 {
		t.Errorf("%d failed sign-ins audited, want 10", failures)
	}
	db, err := sql.Open("sqlite", "file:"+e.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tokens int
	err = db.QueryRow(`SELECT (SELECT count(*) FROM sessions WHERE data LIKE '%eyJ%.eyJ%') + (SELECT count(*) FROM sign_in_flows WHERE data LIKE '%eyJ%.eyJ%')`).Scan(&tokens)
	if err != nil || tokens != 0 {
		t.Errorf("%d sessions or flows hold a token (%v)", tokens, err)
	}
}

// TestSSOComesBack: signing in from a bookmarked page returns to it; a
// next that leaves the site is ignored.
func TestSSOComesBack(t *testing.T) {
	t.Parallel()
	e := ssoEnv(t, envOptions{fleet: true})
	c := e.newClient()
	c.get(t, "/groups").wantRedirect("/login?next=%2Fgroups")
	form := c.get(t, "/login?next=%2Fgroups").wantStatus(http.StatusOK)
	href, _ := form.testid("sso-button").Attr("href")
	if href != "/auth/oidc?next=%2Fgroups" {
		t.Fatalf("button href %q", href)
	}
	e.sso.SignIn(person("b1", withRoles(appRoleReader)))
	start := c.get(t, href).wantStatus(http.StatusSeeOther)
	at := c.visit(t, start.header.Get("Location"))
	c.visit(t, at.header.Get("Location")).wantRedirect("/groups")

	c = e.newClient()
	start = c.get(t, "/auth/oidc?next=//evil.example/").wantStatus(http.StatusSeeOther)
	at = c.visit(t, start.header.Get("Location"))
	c.visit(t, at.header.Get("Location")).wantRedirect("/overview")
}

// TestSSOSessionRenewed: signing in through the provider replaces the
// browser's session, so a session fixed before is useless.
func TestSSOSessionRenewed(t *testing.T) {
	t.Parallel()
	e := ssoEnv(t, envOptions{})
	c := e.newClient()
	c.signIn(t, emailOf(store.RoleServiceReader), password)
	before := c.cookie("patchboard_session")
	old := c.fork()
	c.ssoSignIn(t, person("x1", withRoles(appRoleAdmin))).wantSignedIn(c, store.RoleServiceAdmin)
	if after := c.cookie("patchboard_session"); after == "" || after == before {
		t.Errorf("session cookie %q after sign-in, was %q", after, before)
	}
	wantSignedOut(t, old)
}

// TestSSODisabledAccount: a disabled SSO account cannot sign in.
func TestSSODisabledAccount(t *testing.T) {
	t.Parallel()
	e := ssoEnv(t, envOptions{})
	c := e.newClient()
	c.ssoSignIn(t, person("d1", withRoles(appRoleReader))).wantSignedIn(c, store.RoleServiceReader)
	u := accountBySubject(t, e, "d1")
	global := e.as(t, store.RoleGlobalAdmin)
	global.post(t, "/settings/users/disable", url.Values{"user_id": {strconv.FormatInt(u.ID, 10)}}).wantRedirect("/settings/users")
	wantSignedOut(t, c)
	res := e.newClient().ssoSignIn(t, person("d1", withRoles(appRoleReader)))
	if res.status != http.StatusForbidden || !strings.Contains(res.text("login-error"), "disabled") {
		t.Errorf("disabled account: %s\n%s", res, truncate(res.body))
	}
}

// TestSSOPortalRoleMapWins: once saved, the portal's role map decides.
func TestSSOPortalRoleMapWins(t *testing.T) {
	t.Parallel()
	e := ssoEnv(t, envOptions{})
	global := e.as(t, store.RoleGlobalAdmin)
	page := global.get(t, "/settings/users").wantStatus(http.StatusOK)
	if got := page.text("role-map"); !strings.Contains(got, appRoleReader+"=service-reader") {
		t.Errorf("the configured map is not shown: %q", got)
	}
	global.post(t, "/settings/users/role-map", url.Values{"role_map": {"Patchboard.Bogus=root"}}).
		wantStatus(http.StatusUnprocessableEntity).wantText("must be one of")
	global.post(t, "/settings/users/role-map", url.Values{"role_map": {appRoleReader + "=intune-admin\n" + appRoleAdmin + "=service-admin"}}).
		wantRedirect("/settings/users")
	e.wantAudit(t, store.ActionRoleMapSave, emailOf(store.RoleGlobalAdmin), store.OutcomeSuccess, "role map")
	c := e.newClient()
	c.ssoSignIn(t, person("p1", withRoles(appRoleReader))).wantSignedIn(c, store.RoleIntuneAdmin)
}

// TestBreakGlass: with PATCHBOARD_LOCAL_SIGNIN=break-glass only Global
// Administrators may use a password.
func TestBreakGlass(t *testing.T) {
	t.Parallel()
	e := ssoEnv(t, envOptions{cfg: web.Config{BreakGlass: true}})
	form := e.newClient().get(t, "/login").wantStatus(http.StatusOK)
	if form.testid("sso-button").Length() != 1 || form.testid("break-glass").Length() != 1 {
		t.Fatalf("sign-in page:\n%s", truncate(form.body))
	}
	res := e.newClient().postLogin(t, emailOf(store.RoleServiceAdmin), password, nil)
	if res.status != http.StatusForbidden || !strings.Contains(res.text("login-error"), "break-glass") {
		t.Fatalf("a Service Administrator's password: %s\n%s", res, truncate(res.body))
	}
	e.wantAudit(t, store.ActionSignIn, emailOf(store.RoleServiceAdmin), store.OutcomeDenied, "")
	e.newClient().signIn(t, emailOf(store.RoleGlobalAdmin), password)
}

func wantSignedOut(t *testing.T, c *client) {
	t.Helper()
	if res := c.get(t, "/devices"); res.status != http.StatusSeeOther || !strings.HasPrefix(res.header.Get("Location"), "/login") {
		t.Errorf("the browser is signed in: %s", res)
	}
}

func accountBySubject(t *testing.T, e *env, sub string) store.User {
	t.Helper()
	accounts, err := e.st.Accounts(e.ctx, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		if a.Subject == sub {
			return a.User
		}
	}
	t.Fatalf("no account with subject %s", sub)
	return store.User{}
}

// cookieAt and setCookieAt read and set a cookie scoped to a path.
func (c *client) cookieAt(path, name string) string {
	u, _ := url.Parse(c.e.ts.URL + path)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func (c *client) setCookieAt(path, name, value string) {
	u, _ := url.Parse(c.e.ts.URL + path)
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: path}})
}
