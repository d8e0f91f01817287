package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"patchboard/store"
	"patchboard/web/oidctest"
)

func idForm(u store.User, kv ...string) url.Values {
	f := url.Values{"user_id": {strconv.FormatInt(u.ID, 10)}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// userRow is an account's row of /settings/users.
func userRow(t *testing.T, page *response, email, source string) map[string]string {
	t.Helper()
	out := map[string]string{}
	page.doc().Find(`[data-testid="user-row"]`).Each(func(_ int, s *goquery.Selection) {
		if s.AttrOr("data-email", "") != email || !strings.HasPrefix(s.AttrOr("data-source", ""), source) {
			return
		}
		for _, id := range []string{"user-source", "user-role-source", "user-sessions", "user-state", "user-last-sign-in"} {
			out[id] = strings.TrimSpace(s.Find(`[data-testid="` + id + `"]`).Text())
		}
		out["role"] = strings.TrimSpace(s.Find(`[data-testid="user-role"]`).Text())
		if sel := s.Find(`[data-testid="user-role-select"] option[selected]`); sel.Length() > 0 {
			out["role"] = sel.AttrOr("value", "")
		}
	})
	if len(out) == 0 {
		t.Fatalf("no row for %s (%s) on /settings/users", email, source)
	}
	return out
}

// TestUsersPage: a Global Administrator sees every account with its source,
// role and where the role comes from, and its live sessions.
func TestUsersPage(t *testing.T) {
	t.Parallel()
	e := ssoEnv(t, envOptions{})
	c := e.newClient()
	c.ssoSignIn(t, person("u1", withRoles(appRoleAdmin), func(p *oidctest.Person) { p.Email = emailOf(store.RoleServiceReader) })).
		wantSignedIn(c, store.RoleServiceAdmin)
	e.as(t, store.RoleServiceReader)
	global := e.as(t, store.RoleGlobalAdmin)
	page := global.get(t, "/settings/users").wantStatus(http.StatusOK)

	local := userRow(t, page, emailOf(store.RoleServiceReader), "Local")
	if local["role"] != string(store.RoleServiceReader) || !strings.Contains(local["user-role-source"], "set by hand") || local["user-sessions"] != "1" ||
		local["user-last-sign-in"] != "just now" {
		t.Errorf("local row %v", local)
	}
	sso := userRow(t, page, emailOf(store.RoleServiceReader), "Single sign-on")
	if !strings.Contains(sso["role"], "Service Administrator") || !strings.Contains(sso["user-role-source"], "directory") ||
		sso["user-sessions"] != "1" || sso["user-last-sign-in"] != "just now" {
		t.Errorf("SSO row %v", sso)
	}
	if page.testid("role-map").Length() != 1 {
		t.Error("no role map editor")
	}
}

// TestUsersManage walks every change of /settings/users: each is audited,
// and each that takes rights away ends the account's sessions at once.
func TestUsersManage(t *testing.T) {
	t.Parallel()
	e := ssoEnv(t, envOptions{})
	global := e.as(t, store.RoleGlobalAdmin)
	reader := e.as(t, store.RoleServiceReader)
	readerUser := mustUser(t, e, store.RoleServiceReader)
	actor := emailOf(store.RoleGlobalAdmin)

	t.Run("sign out everywhere kills a live cookie at once", func(t *testing.T) {
		other := e.newClient()
		other.signIn(t, emailOf(store.RoleServiceAdmin), password)
		other2 := e.newClient()
		other2.signIn(t, emailOf(store.RoleServiceAdmin), password)
		global.post(t, "/settings/users/sign-out", idForm(mustUser(t, e, store.RoleServiceAdmin))).wantRedirect("/settings/users")
		wantSignedOut(t, other)
		wantSignedOut(t, other2)
		e.wantAudit(t, store.ActionUserSignOutAll, actor, store.OutcomeSuccess, emailOf(store.RoleServiceAdmin))
	})
	t.Run("role change signs the account out", func(t *testing.T) {
		reader.get(t, "/devices").wantStatus(http.StatusOK)
		global.post(t, "/settings/users/role", idForm(readerUser, "role", "service-admin")).wantRedirect("/settings/users")
		wantSignedOut(t, reader)
		if u := mustUser(t, e, store.RoleServiceReader); u.Role != store.RoleServiceAdmin {
			t.Errorf("role %s", u.Role)
		}
		a := e.wantAudit(t, store.ActionUserRole, actor, store.OutcomeSuccess, readerUser.Email)
		if !strings.Contains(a.Detail, "Service Reader → Service Administrator") {
			t.Errorf("audit %q", a.Detail)
		}
		global.post(t, "/settings/users/role", idForm(readerUser, "role", "root")).wantStatus(http.StatusUnprocessableEntity)
	})
	t.Run("an SSO account's role comes from the directory", func(t *testing.T) {
		c := e.newClient()
		c.ssoSignIn(t, person("v1", withRoles(appRoleReader))).wantSignedIn(c, store.RoleServiceReader)
		u := accountBySubject(t, e, "v1")
		global.post(t, "/settings/users/role", idForm(u, "role", "global-admin")).
			wantStatus(http.StatusUnprocessableEntity).wantText("comes from the role map")
	})
	t.Run("the last Global Administrator stays", func(t *testing.T) {
		me := mustUser(t, e, store.RoleGlobalAdmin)
		global.post(t, "/settings/users/role", idForm(me, "role", "service-reader")).
			wantStatus(http.StatusConflict).wantText("You are the last Global Administrator")
		global.post(t, "/settings/users/disable", idForm(me)).wantStatus(http.StatusConflict)
		global.get(t, "/settings/users").wantStatus(http.StatusOK)
		// With a second one, a Global Administrator may step down.
		second, err := e.st.AddUser(e.ctx, "second-global@example.com", store.RoleGlobalAdmin, password, "test")
		if err != nil {
			t.Fatal(err)
		}
		c := e.newClient()
		c.signIn(t, second.Email, password)
		c.post(t, "/settings/users/role", idForm(second, "role", "service-reader")).wantRedirect("/settings/users")
	})
	t.Run("disable and enable", func(t *testing.T) {
		intune := e.as(t, store.RoleIntuneAdmin)
		u := mustUser(t, e, store.RoleIntuneAdmin)
		global.post(t, "/settings/users/disable", idForm(u)).wantRedirect("/settings/users")
		wantSignedOut(t, intune)
		res := e.newClient().postLogin(t, u.Email, password, nil)
		if res.status != http.StatusForbidden || !strings.Contains(res.text("login-error"), "disabled") {
			t.Errorf("disabled account signs in: %s", res)
		}
		e.wantAudit(t, store.ActionUserDisable, actor, store.OutcomeSuccess, u.Email)
		global.post(t, "/settings/users/enable", idForm(u)).wantRedirect("/settings/users")
		e.newClient().signIn(t, u.Email, password)
		e.wantAudit(t, store.ActionUserEnable, actor, store.OutcomeSuccess, u.Email)
	})
	t.Run("create a local account with a one-time password", func(t *testing.T) {
		page := global.post(t, "/settings/users/create", url.Values{"email": {"new.person@example.com"}, "role": {"service-reader"}}).
			wantStatus(http.StatusOK)
		pw, _ := page.testid("new-user-password").Attr("value")
		if len(pw) < store.MinPasswordLength {
			t.Fatalf("one-time password %q", pw)
		}
		e.newClient().signIn(t, "new.person@example.com", pw)
		if again := global.get(t, "/settings/users"); strings.Contains(string(again.body), pw) {
			t.Error("the one-time password is shown again")
		}
		a := e.wantAudit(t, store.ActionUserCreate, actor, store.OutcomeSuccess, "new.person@example.com")
		if strings.Contains(a.Detail, pw) {
			t.Error("the audit log holds the password")
		}
		global.post(t, "/settings/users/create", url.Values{"email": {"new.person@example.com"}, "role": {"service-reader"}}).
			wantStatus(http.StatusConflict).wantText("already exists")
		global.post(t, "/settings/users/create", url.Values{"email": {"not an address"}, "role": {"service-reader"}}).
			wantStatus(http.StatusUnprocessableEntity).wantText("not a valid address")
	})
	t.Run("owners are chosen from the accounts", func(t *testing.T) {
		c := e.newClient()
		c.ssoSignIn(t, person("w1", withRoles(appRoleAdmin))).wantSignedIn(c, store.RoleServiceAdmin)
		u := accountBySubject(t, e, "w1")
		reg := e.group(t, store.RegistrationGroupName)
		page := global.get(t, groupPath(reg, "")).wantStatus(http.StatusOK)
		if page.doc().Find(`[data-testid="owner-add-account"] option[value="`+strconv.FormatInt(u.ID, 10)+`"]`).Length() != 1 {
			t.Fatal("the SSO account is not offered as an owner")
		}
		global.postHX(t, groupPath(reg, "add-owner"), idForm(u)).wantStatus(http.StatusOK)
		if ok, err := e.st.IsGroupOwner(e.ctx, reg.ID, u.ID); err != nil || !ok {
			t.Errorf("owner: %v %v", ok, err)
		}
	})
}
