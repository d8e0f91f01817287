package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"patchboard/store"
)

// queryOf makes fuzzed bytes a query string a client can send: '&', '='
// and '%' stay (so the fuzzer reaches the server's own parsing, invalid
// escapes included), anything a URL cannot carry is escaped.
func queryOf(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '&' || c == '=' || c == '%' || c == '+' ||
			'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~,;:!*'()/@$", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString(url.QueryEscape(string(c)))
		}
	}
	return b.String()
}

// FuzzBladeQuery sends fuzzed query strings to the blade, its export and the
// API's listing: every answer is a page or a refusal that names the problem
// (4xx), never a server error, and the server logs no error.
func FuzzBladeQuery(f *testing.F) {
	for _, seed := range []string{
		"tab=ready", "tab=not-registered&status=excluded&sort=serial_number&dir=desc&size=200",
		"tab=not-ready&ring=test&q=AP-0&after=abc", "q=%zz&size=-1", "after=" + strings.Repeat("9", 40),
		"tab=sideways", "status=active&tab=not-registered", "sort=reasons&dir=desc&q=%00", "columns=all&tab=ready",
		"cursor=x&limit=1001", "limit=0&q=" + strings.Repeat("ab", 150),
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	e := newEnv(f, envOptions{fleet: true})
	reader := e.as(f, store.RoleServiceReader)
	tok := e.apiToken(f, "fuzz", store.RoleServiceReader)
	f.Fuzz(func(t *testing.T, raw string, htmx bool) {
		q := queryOf(raw)
		var hdr []string
		if htmx {
			hdr = []string{"HX-Request", "true", "HX-Target", "device-table"}
		}
		for _, res := range []*response{
			reader.get(t, "/devices?"+q, hdr...),
			reader.get(t, "/devices/export.csv?"+q),
			e.api(t, tok, http.MethodGet, "/api/v1/devices?"+q, nil),
		} {
			if res.status >= 500 {
				t.Errorf("%s?%s: %d\n%s", res.path, q, res.status, truncate(res.body))
			}
		}
		if logged := e.errs.drain(); len(logged) > 0 {
			t.Errorf("query %q: the server logged %q", q, logged)
		}
	})
}

// formRoutes are the portal's form posts the fuzzer sends bodies to, with
// the group a group route acts on filled in. Discovery is left out: it runs
// in the background.
var formRoutes = []string{
	"/devices/columns", "/devices/assign-ring", "/devices/deregister", "/devices/restore",
	"/groups/create", "/groups/{g}/rename", "/groups/{g}/rule", "/groups/{g}/add-devices",
	"/groups/{g}/remove-devices", "/groups/{g}/nest", "/groups/{g}/unnest", "/groups/{g}/add-owner",
	"/groups/{g}/remove-owner", "/groups/{g}/delete", "/settings/tokens/create", "/settings/tokens/revoke",
	"/imports/cancel", "/login",
}

// FuzzForms posts fuzzed form bodies, with a valid CSRF token, to every
// form route as a Global Administrator: bad input is refused with a
// message (4xx) or accepted; it never makes a server error.
func FuzzForms(f *testing.F) {
	for i := range formRoutes {
		for _, seed := range []string{
			"device_id=00000000-0000-4000-8000-000000000001&ring=test", "device_id=&ring=sideways",
			"tab=ready&columns=device_id&columns=nope", "name=%00&rule=device.displayName -contains \"AP\"",
			"group_id=-1", "group_id=99999999999999999999", "email=nobody@example.com&user_id=abc",
			"rule=(((((((((", "name=" + strings.Repeat("x", 300), "kind=members&token=x", "email=&password=",
		} {
			f.Add(uint8(i), seed, i%2 == 0)
		}
	}
	e := newEnv(f, envOptions{fleet: true})
	admin := e.as(f, store.RoleGlobalAdmin)
	csrf := admin.csrf(f)
	g := e.createGroup(f, "Fuzzed", "")
	f.Fuzz(func(t *testing.T, route uint8, body string, htmx bool) {
		path := strings.ReplaceAll(formRoutes[int(route)%len(formRoutes)], "{g}", strconv.FormatInt(g.ID, 10))
		hdr := []string{"Content-Type", "application/x-www-form-urlencoded", "X-CSRF-Token", csrf}
		if htmx {
			hdr = append(hdr, "HX-Request", "true")
		}
		res := admin.do(t, http.MethodPost, path, strings.NewReader(body), hdr...)
		if res.status >= 500 {
			t.Errorf("POST %s %q: %d\n%s", path, body, res.status, truncate(res.body))
		}
		if logged := e.errs.drain(); len(logged) > 0 {
			t.Errorf("POST %s %q: the server logged %q", path, body, logged)
		}
	})
}
