package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/web"
)

// TestCSRFTokenNotFromQuery: a token in the URL is not accepted (it leaks
// through logs, history and Referer), and every refusal is audited.
func TestCSRFTokenNotFromQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.as(t, store.RoleServiceAdmin)
	uid := mustUser(t, e, store.RoleServiceAdmin).ID
	before, _ := e.st.UserColumns(e.ctx, uid, store.TabReady)
	form := url.Values{"tab": {"ready"}, "column": {"display_name", "model"}}
	c.postRaw(t, "/devices/columns?_csrf="+url.QueryEscape(c.csrf(t)), form).wantStatus(http.StatusForbidden)
	if after, _ := e.st.UserColumns(e.ctx, uid, store.TabReady); !slices.Equal(before, after) {
		t.Errorf("a token in the query string changed the columns to %v", after)
	}
	a := e.wantAudit(t, "request.refused", "address 127.0.0.1", store.OutcomeDenied, "POST /devices/columns")
	if !strings.Contains(a.Detail, "CSRF") {
		t.Errorf("audit detail %q", a.Detail)
	}
	// The same token in the body is good.
	form.Set("_csrf", c.csrf(t))
	c.postRaw(t, "/devices/columns", form).wantRedirect("/devices?tab=ready")
}

// TestStaticListsNoDirectory: /static/ serves files, never a listing.
func TestStaticListsNoDirectory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.newClient()
	for _, p := range []string{"/static/", "/static"} {
		if res := c.get(t, p); res.status != http.StatusNotFound && res.status != http.StatusMovedPermanently {
			t.Errorf("GET %s: %d, want 404\n%s", p, res.status, truncate(res.body))
		} else if strings.Contains(string(res.body), `href="app.css"`) {
			t.Errorf("GET %s lists the directory: %d %s", p, res.status, truncate(res.body))
		}
	}
	c.get(t, "/static/app.css").wantStatus(http.StatusOK)
}

// TestHSTSOverTLS: served over TLS (or with an https public URL behind a
// proxy), every answer tells browsers to keep to HTTPS; over plain HTTP
// none does.
func TestHSTSOverTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if h := e.newClient().get(t, "/login").header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("plain HTTP sent HSTS %q", h)
	}
	tls := httptest.NewTLSServer(e.srv)
	defer tls.Close()
	res, err := tls.Client().Get(tls.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if h := res.Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=") {
		t.Errorf("over TLS: Strict-Transport-Security %q", h)
	}
	proxied := newEnv(t, envOptions{cfg: web.Config{HTTPS: true}})
	if h := proxied.newClient().get(t, "/login").header.Get("Strict-Transport-Security"); h == "" {
		t.Error("with an https public URL: no HSTS")
	}
}

// TestShortIdleActiveSession: at the shortest idle time (1m) a session used
// every 40 s stays signed in; one left alone for longer expires.
func TestShortIdleActiveSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: web.Config{SessionIdle: time.Minute, SessionMax: time.Hour}})
	c := e.as(t, store.RoleServiceReader)
	for i := range 8 {
		e.clock.Advance(40 * time.Second)
		if res := c.get(t, "/groups"); res.status != http.StatusOK {
			t.Fatalf("after %d s of activity: %s, want 200", (i+1)*40, res)
		}
	}
	e.clock.Advance(61 * time.Second)
	c.get(t, "/groups").wantRedirect("/login?next=%2Fgroups")
}

// TestPasswordResetEndsSessions: setting a new password (patchboard user
// add over an existing account) signs the account out everywhere.
func TestPasswordResetEndsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.as(t, store.RoleServiceAdmin)
	c.get(t, "/devices").wantStatus(http.StatusOK)
	if _, err := e.st.AddUser(e.ctx, emailOf(store.RoleServiceAdmin), store.RoleServiceAdmin, "a brand new password", "cli"); err != nil {
		t.Fatal(err)
	}
	c.get(t, "/devices").wantRedirect("/login?next=%2Fdevices")
	e.newClient().signIn(t, emailOf(store.RoleServiceAdmin), "a brand new password")
}
