package browser_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"patchboard/store"
	"patchboard/web"
	"patchboard/web/oidctest"
)

// newSSOApp starts the portal on a demo fleet, signing in through an
// OpenID Connect provider of its own that maps the two Autopatch app roles.
func newSSOApp(t *testing.T, n int) (*app, *oidctest.Issuer) {
	t.Helper()
	iss := oidctest.New(time.Now)
	t.Cleanup(iss.Close)
	roleMap, err := store.ParseRoleMap("Patchboard.ServiceAdministrator=service-admin,Patchboard.ServiceReader=service-reader")
	if err != nil {
		t.Fatal(err)
	}
	a := newAppWith(t, n, func(base string, cfg *web.Config) {
		o, err := web.NewOIDC(t.Context(), web.OIDCConfig{Issuer: iss.URL, ClientID: iss.ClientID, ClientSecret: iss.ClientSecret,
			BaseURL: base, Name: "Contoso Entra ID", RoleMap: roleMap}, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		cfg.OIDC = o
	})
	return a, iss
}

// TestSignInWithProvider: a Service Reader and a Service Administrator sign
// in through the provider button and each sees their own blade: the
// reader's Discover devices and Device actions are disabled, the
// administrator's are there to use.
func TestSignInWithProvider(t *testing.T) {
	a, iss := newSSOApp(t, 200)
	people := []struct {
		person  oidctest.Person
		role    store.Role
		enabled string // the control this role has
		absent  string // the control this role must not have
	}{
		{oidctest.Person{Subject: "reader-1", Email: "reader@contoso.example", Roles: []string{"Patchboard.ServiceReader"}},
			store.RoleServiceReader, "discover-disabled", "discover"},
		{oidctest.Person{Subject: "admin-1", Email: "admin@contoso.example", Roles: []string{"Patchboard.ServiceAdministrator"}},
			store.RoleServiceAdmin, "discover", "discover-disabled"},
	}
	for _, pp := range people {
		iss.SignIn(pp.person)
		p := a.open(t)
		p.navigate("/login")
		if got := p.text("sso-button"); got != "Sign in with Contoso Entra ID" {
			t.Fatalf("button %q", got)
		}
		p.do("sign in with the provider as "+pp.person.Email,
			chromedp.Click(tid("sso-button")),
			chromedp.WaitVisible(tid("current-user")),
		)
		// The provider's sign-in lands on the start page, like a password's.
		if got := p.location(); got != "/overview" {
			t.Fatalf("after sign-in the page is %s, want the overview", got)
		}
		p.navigate("/devices")
		p.waitSettled("the blade after sign-in", `document.querySelector('[data-testid="device-table"]')`)
		if got := p.text("current-user"); got != pp.person.Email {
			t.Fatalf("signed in as %q, want %q", got, pp.person.Email)
		}
		if got := p.text("current-role"); got != pp.role.Label() {
			t.Fatalf("role %q, want %q", got, pp.role.Label())
		}
		if !p.exists(`[data-testid="`+pp.enabled+`"]`) || p.exists(`[data-testid="`+pp.absent+`"]`) {
			t.Errorf("%s: want %s and no %s", pp.role.Label(), pp.enabled, pp.absent)
		}
		p.shot("sso-"+string(pp.role), false)
	}

	// A Global Administrator finds both in Users and roles, with the role
	// the directory gave them.
	if _, err := a.Store.AddUser(t.Context(), "global@example.com", store.RoleGlobalAdmin, password, "test"); err != nil {
		t.Fatal(err)
	}
	p := a.open(t)
	p.signIn("global@example.com")
	p.do("open Users and roles", chromedp.Click(tid("nav-users")), chromedp.WaitVisible(tid("users-table")))
	for _, pp := range people {
		role := eval[string](p, `document.querySelector('[data-testid="user-row"][data-email="`+pp.person.Email+`"] [data-testid="user-role"]').textContent`)
		if !strings.Contains(role, pp.role.Label()) || !strings.Contains(role, "from the directory") {
			t.Errorf("%s's role on Users and roles: %q", pp.person.Email, role)
		}
	}
	p.shot("users-and-roles", true)
}
