package web_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"patchboard/store"
	"patchboard/views"
	"patchboard/web"
)

// --- sign-in and sessions ---------------------------------------------------

func TestSignInCookies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		insecure   bool
		wantSecure bool
	}{
		{"secure by default", false, true},
		{"insecure cookies for plain HTTP", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{cfg: web.Config{InsecureCookies: tt.insecure}})
			c := e.newClient()
			form := c.get(t, "/login").wantStatus(http.StatusOK)
			checkCookie(t, form.cookie("patchboard_csrf"), "patchboard_csrf", tt.wantSecure)

			res := c.postLogin(t, emailOf(store.RoleServiceReader), password, nil).wantRedirect("/overview")
			sess := res.cookie("patchboard_session")
			checkCookie(t, sess, "patchboard_session", tt.wantSecure)
			if sess != nil && (sess.Path != "/" || sess.MaxAge <= 0) {
				t.Errorf("session cookie Path %q MaxAge %d, want / and a positive MaxAge", sess.Path, sess.MaxAge)
			}
			page := c.get(t, "/devices").wantStatus(http.StatusOK)
			if got := page.text("current-user"); got != emailOf(store.RoleServiceReader) {
				t.Errorf("signed in as %q, want %q", got, emailOf(store.RoleServiceReader))
			}
			if got := page.text("current-role"); got != "Service Reader" {
				t.Errorf("role shown %q, want Service Reader", got)
			}
		})
	}
}

func checkCookie(t *testing.T, c *http.Cookie, name string, secure bool) {
	t.Helper()
	if c == nil {
		t.Fatalf("no %s cookie was set", name)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure {
		t.Errorf("%s cookie HttpOnly=%v SameSite=%v Secure=%v, want HttpOnly, SameSite=Lax, Secure=%v",
			name, c.HttpOnly, c.SameSite, c.Secure, secure)
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	reader := emailOf(store.RoleServiceReader)

	t.Run("good password", func(t *testing.T) {
		c := e.newClient()
		// The start page is the overview, and the portal's root leads there.
		c.postLogin(t, reader, password, nil).wantRedirect("/overview")
		c.get(t, "/overview").wantStatus(http.StatusOK)
		c.get(t, "/").wantRedirect("/overview")
		c.get(t, "/devices").wantStatus(http.StatusOK)
		// Signed in, the sign-in page sends the user on.
		c.get(t, "/login").wantRedirect("/overview")
		e.wantAudit(t, "auth.sign-in", reader, store.OutcomeSuccess, "")
	})

	wrong := []struct {
		name, email, password string
	}{
		{"bad password", reader, "not the password at all"},
		{"unknown email", "nobody@example.com", password},
	}
	// Both get the same answer: the form does not tell which accounts exist.
	for _, tt := range wrong {
		t.Run(tt.name, func(t *testing.T) {
			c := e.newClient()
			res := c.postLogin(t, tt.email, tt.password, nil).wantStatus(http.StatusUnauthorized)
			if got := res.text("login-error"); got != "Wrong email or password." {
				t.Errorf("error %q, want Wrong email or password.", got)
			}
			if got := res.testid("login-email").AttrOr("value", ""); got != tt.email {
				t.Errorf("the form forgot the email: %q", got)
			}
			if res.cookie("patchboard_session") != nil {
				t.Error("a failed sign-in set a session cookie")
			}
			c.get(t, "/devices").wantRedirect("/login?next=%2Fdevices")
			e.wantAudit(t, "auth.sign-in", tt.email, store.OutcomeFailure, "")
		})
	}

	t.Run("next", func(t *testing.T) {
		tests := []struct {
			give, want string
		}{
			{"/devices?tab=not-ready", "/devices?tab=not-ready"},
			{"/audit", "/audit"},
			{"/devices", "/devices"},
			{"//evil.example/", "/overview"},
			{"https://evil.example/", "/overview"},
			{`/\evil.example`, "/overview"},
			{`/\/evil.example`, "/overview"},
			{"devices", "/overview"},
		}
		for _, tt := range tests {
			c := e.newClient()
			res := c.postLogin(t, reader, password, url.Values{"next": {tt.give}})
			if got := res.header.Get("Location"); res.status != http.StatusSeeOther || got != tt.want {
				t.Errorf("next=%q: %d to %q, want 303 to %q", tt.give, res.status, got, tt.want)
			}
		}
		// The redirect to the sign-in page carries the page asked for, and
		// the form carries it on.
		c := e.newClient()
		loc := c.get(t, "/devices?tab=not-ready&q=ap").wantStatus(http.StatusSeeOther).header.Get("Location")
		if loc != "/login?next="+url.QueryEscape("/devices?tab=not-ready&q=ap") {
			t.Fatalf("redirect to %q", loc)
		}
		if got := c.get(t, loc).doc().Find(`input[name="next"]`).AttrOr("value", ""); got != "/devices?tab=not-ready&q=ap" {
			t.Errorf("the sign-in form's next is %q", got)
		}
	})

	t.Run("new session ID at sign-in", func(t *testing.T) {
		// A session cookie planted before sign-in (session fixation) is
		// replaced, not adopted.
		c := e.newClient()
		planted := "planted-by-an-attacker-0123456789abcdef"
		c.setCookie("patchboard_session", planted)
		c.signIn(t, reader, password)
		first := c.cookie("patchboard_session")
		if first == "" || first == planted {
			t.Fatalf("session cookie after sign-in is %q; the planted one was %q", first, planted)
		}
		// Signing in again issues another ID and revokes the previous one.
		old := e.newClient()
		old.setCookie("patchboard_session", first)
		old.get(t, "/devices").wantStatus(http.StatusOK)
		c.signIn(t, reader, password)
		second := c.cookie("patchboard_session")
		if second == first {
			t.Fatal("signing in again kept the session ID")
		}
		old.get(t, "/devices").wantRedirect("/login?next=%2Fdevices")
		c.get(t, "/devices").wantStatus(http.StatusOK)
	})

	t.Run("sign-out revokes the session", func(t *testing.T) {
		c := e.newClient()
		c.signIn(t, reader, password)
		token := c.cookie("patchboard_session")
		stolen := e.newClient()
		stolen.setCookie("patchboard_session", token)
		stolen.get(t, "/devices").wantStatus(http.StatusOK)

		// The sign-out form posts its _csrf field.
		page := c.get(t, "/devices").wantStatus(http.StatusOK)
		tok, _ := page.testid("sign-out").Closest("form").Find(`input[name="_csrf"]`).Attr("value")
		res := c.postRaw(t, "/logout", url.Values{"_csrf": {tok}}).wantRedirect("/login")
		if ck := res.cookie("patchboard_session"); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("sign-out did not clear the session cookie: %+v", ck)
		}
		c.get(t, "/devices").wantRedirect("/login?next=%2Fdevices")
		// The old cookie value is dead on the server, not just forgotten.
		stolen.get(t, "/devices").wantRedirect("/login?next=%2Fdevices")
		e.wantAudit(t, "auth.sign-out", reader, store.OutcomeSuccess, "")
	})

	t.Run("signed out", func(t *testing.T) {
		c := e.newClient()
		c.get(t, "/devices").wantRedirect("/login?next=%2Fdevices")
		c.get(t, "/").wantRedirect("/login?next=%2F")
		res := c.get(t, "/devices?tab=ready", "HX-Request", "true").wantStatus(http.StatusUnauthorized)
		if got := res.header.Get("HX-Redirect"); got != "/login?next="+url.QueryEscape("/devices?tab=ready") {
			t.Errorf("HX-Redirect %q", got)
		}
		if res.header.Get("Location") != "" {
			t.Error("an htmx request was redirected")
		}
		c.post(t, "/devices/assign-ring", url.Values{"ring": {"test"}}).wantStatus(http.StatusUnauthorized)
	})

	t.Run("no role", func(t *testing.T) {
		c := e.newClient()
		c.signIn(t, emailOf(store.RoleNone), password)
		for _, path := range []string{"/", "/overview", "/devices", "/devices?tab=not-ready", "/devices/export.csv", "/audit", "/discovery/runs/1", "/devices/00000000-0000-4000-8000-000000000001"} {
			res := c.get(t, path).wantStatus(http.StatusForbidden)
			if res.testid("no-access").Length() != 1 {
				t.Errorf("%s: not the no-access page\n%s", res, truncate(res.body))
			}
			if res.testid("device-table").Length() != 0 || res.testid("current-role").Length() != 0 {
				t.Errorf("%s: the no-access page shows more than no access", res)
			}
		}
		res := c.postHX(t, "/devices/discover", nil).wantStatus(http.StatusForbidden)
		if res.testid("no-access").Length() != 1 {
			t.Errorf("%s: not the no-access page", res)
		}
		// Sign-out still works from the no-access page.
		page := c.get(t, "/devices")
		tok, _ := page.testid("no-access").Find(`input[name="_csrf"]`).Attr("value")
		c.postRaw(t, "/logout", url.Values{"_csrf": {tok}}).wantRedirect("/login")
		c.get(t, "/devices").wantRedirect("/login?next=%2Fdevices")
	})
}

// TestSignInRateLimit: failures slow down the pair of account and address.
// Someone guessing from one address does not lock the account's owner out
// at another (keyed on the account alone, they did), one person's failures
// do not lock out everyone behind the same proxy (keyed on the address
// alone, they did), and the right password gets through once the wait is
// over.
func TestSignInRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := emailOf(store.RoleServiceAdmin)
	attacker := e.newClientFrom("127.0.0.2")
	for i := 1; i <= 5; i++ {
		form := url.Values{"_csrf": {attacker.loginForm(t)}, "email": {admin}, "password": {"wrong password number " + strconv.Itoa(i)}}
		if res := attacker.postRaw(t, "/login", form); res.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %s, want 401", i, res)
		}
	}
	// The sixth attempt from that address waits, even with the right password.
	res := attacker.postLogin(t, admin, password, nil).wantStatus(http.StatusTooManyRequests)
	retry, err := strconv.Atoi(res.header.Get("Retry-After"))
	if err != nil || retry <= 0 {
		t.Fatalf("Retry-After %q, want a number of seconds", res.header.Get("Retry-After"))
	}
	if msg := res.text("login-error"); !strings.Contains(msg, "Too many failed sign-ins") {
		t.Errorf("error %q", msg)
	}
	if res.cookie("patchboard_session") != nil {
		t.Error("a refused sign-in set a session cookie")
	}
	e.wantAudit(t, "auth.sign-in", admin, store.OutcomeDenied, "127.0.0.2")

	// The owner, at another address, signs in at once; so does another
	// account behind the attacker's address (one proxy for everyone).
	e.newClientFrom("127.0.0.3").postLogin(t, admin, password, nil).wantRedirect("/overview")
	e.newClientFrom("127.0.0.2").postLogin(t, emailOf(store.RoleServiceReader), password, nil).wantRedirect("/overview")

	// Once the wait is over, the right password works from there too.
	e.clock.Advance(time.Duration(retry) * time.Second)
	attacker.postLogin(t, admin, password, nil).wantRedirect("/overview")
}

// newClientFrom is a browser whose connections come from this loopback
// address (127.0.0.0/8 is all the machine's).
func (e *env) newClientFrom(ip string) *client {
	c := e.newClient()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c.hc.Transport = &http.Transport{DialContext: d.DialContext}
	return c
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.as(t, store.RoleServiceAdmin)
	uid := mustUser(t, e, store.RoleServiceAdmin).ID
	tok := c.csrf(t)

	tests := []struct {
		name   string
		column string
		form   url.Values
		hdr    []string
		want   int
	}{
		{"no token", "model", nil, nil, http.StatusForbidden},
		{"wrong token", "model", nil, []string{"X-CSRF-Token", "not-the-token"}, http.StatusForbidden},
		{"X-CSRF-Token header", "serial_number", nil, []string{"X-CSRF-Token", tok}, http.StatusSeeOther},
		{"_csrf form field", "manufacturer", url.Values{"_csrf": {tok}}, nil, http.StatusSeeOther},
		// Echo 4.16 trusts the browser's Fetch Metadata before the token.
		{"Sec-Fetch-Site same-origin", "edition", nil, []string{"Sec-Fetch-Site", "same-origin"}, http.StatusSeeOther},
		{"Sec-Fetch-Site cross-site", "model", nil, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"Sec-Fetch-Site cross-site with a token", "model", nil, []string{"Sec-Fetch-Site", "cross-site", "X-CSRF-Token", tok}, http.StatusForbidden},
		{"Sec-Fetch-Site same-site", "model", nil, []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"Sec-Fetch-Site same-site with a token", "architecture", nil, []string{"Sec-Fetch-Site", "same-site", "X-CSRF-Token", tok}, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := e.st.UserColumns(e.ctx, uid, store.TabReady)
			form := url.Values{"tab": {"ready"}, "column": {"display_name", tt.column}}
			for k, v := range tt.form {
				form[k] = v
			}
			res := c.postRaw(t, "/devices/columns", form, tt.hdr...).wantStatus(tt.want)
			after, _ := e.st.UserColumns(e.ctx, uid, store.TabReady)
			if tt.want == http.StatusForbidden {
				if !slices.Equal(before, after) {
					t.Errorf("a refused request changed the columns from %v to %v", before, after)
				}
				return
			}
			res.wantRedirect("/devices?tab=ready")
			if want := []string{"display_name", tt.column}; !slices.Equal(after, want) {
				t.Errorf("columns %v, want %v", after, want)
			}
		})
	}

	t.Run("sign-in form", func(t *testing.T) {
		// Signing someone in to the attacker's account needs the token too.
		c := e.newClient()
		c.csrf(t)
		form := url.Values{"email": {emailOf(store.RoleServiceReader)}, "password": {password}}
		c.postRaw(t, "/login", form).wantStatus(http.StatusForbidden)
		c.postRaw(t, "/login", form, "Sec-Fetch-Site", "cross-site").wantStatus(http.StatusForbidden)
		if c.cookie("patchboard_session") != "" {
			t.Error("a forged sign-in set a session")
		}
	})
}

func mustUser(t testing.TB, e *env, r store.Role) store.User {
	t.Helper()
	u, err := e.st.UserByEmail(e.ctx, emailOf(r))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// --- blades -----------------------------------------------------------------

// walk follows a blade's Next page links from path and returns every page.
func walk(t *testing.T, c *client, path string) []*response {
	t.Helper()
	var pages []*response
	for path != "" {
		res := c.get(t, path).wantStatus(http.StatusOK)
		pages = append(pages, res)
		if len(pages) > 100 {
			t.Fatalf("more than 100 pages from %s", path)
		}
		path = res.testid("next-page").AttrOr("href", "")
	}
	return pages
}

// walkIDs is the device IDs of every page from path, in order.
func walkIDs(t *testing.T, c *client, path string) []string {
	t.Helper()
	var ids []string
	for _, p := range walk(t, c, path) {
		ids = append(ids, rowIDs(p)...)
	}
	return ids
}

func idsOf(rows []store.DeviceRow) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.DeviceID
	}
	return ids
}

// sameSet reports whether a and b hold the same strings, each once.
func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, s := range got {
		seen[s]++
		if seen[s] == 2 {
			t.Errorf("%s: %s appears more than once", what, s)
		}
	}
	wantSet := map[string]bool{}
	for _, s := range want {
		wantSet[s] = true
		if seen[s] == 0 {
			t.Errorf("%s: %s is missing", what, s)
		}
	}
	for s := range seen {
		if !wantSet[s] {
			t.Errorf("%s: %s should not be there", what, s)
		}
	}
	if t.Failed() {
		t.Logf("%s: got %d, want %d", what, len(got), len(want))
	}
}

func labels(ss []store.Status) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Label()
	}
	return out
}

func TestBladeCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	c := e.as(t, store.RoleServiceReader)
	counts, err := e.st.Counts(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	page := c.get(t, "/devices").wantStatus(http.StatusOK)
	for _, tab := range store.Tabs {
		if got := page.text("tab-count-" + string(tab)); got != strconv.Itoa(counts.Tab(tab)) {
			t.Errorf("tab %s shows %s devices, the store counts %d", tab, got, counts.Tab(tab))
		}
	}
	if counts.Tab(store.TabReady) == 0 || counts.Tab(store.TabNotReady) == 0 || counts.Tab(store.TabNotRegistered) == 0 {
		t.Fatalf("the demo fleet should fill every tab: %+v", counts)
	}
	for _, r := range store.Rings {
		if got := page.text("ring-count-" + string(r)); !strings.Contains(got, ": "+strconv.Itoa(counts.Rings.Get(r))+" (") {
			t.Errorf("ring %s shows %q, the store counts %d", r, got, counts.Rings.Get(r))
		}
	}
	if got := page.testid("tab-ready").AttrOr("aria-selected", ""); got != "true" {
		t.Errorf("the Ready tab is not selected by default: aria-selected=%q", got)
	}

	// Every tab lists exactly its own devices, in every status it shows.
	for _, tab := range store.Tabs {
		t.Run(string(tab), func(t *testing.T) {
			pages := walk(t, c, "/devices?tab="+string(tab)+"&size=100")
			var ids, statuses []string
			for _, p := range pages {
				ids = append(ids, rowIDs(p)...)
				statuses = append(statuses, cells(p, "cell-status")...)
				if got := p.testid("tab-"+string(tab)).AttrOr("aria-selected", ""); got != "true" {
					t.Errorf("tab %s is not the selected one", tab)
				}
			}
			sameSet(t, "rows", ids, idsOf(e.allRows(t, store.DeviceQuery{Tab: tab})))
			allowed := labels(tab.Statuses())
			for _, s := range statuses {
				if !slices.Contains(allowed, s) {
					t.Errorf("the %s tab shows a device with status %q", tab, s)
				}
			}
			if got := pages[0].text("result-count"); !strings.HasSuffix(" "+got, " "+views.Thousands(counts.Tab(tab))+" devices") {
				t.Errorf("result count %q, want %d devices", got, counts.Tab(tab))
			}
		})
	}
}

func TestBladeSearchAndFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	c := e.as(t, store.RoleServiceReader)
	ready := e.allRows(t, store.DeviceQuery{Tab: store.TabReady})
	notReg := e.allRows(t, store.DeviceQuery{Tab: store.TabNotRegistered})
	sample := ready[len(ready)/2]
	// A middle part of a name, in another case, matches as a substring.
	name := strings.ToLower(sample.DisplayName[2 : len(sample.DisplayName)-1])

	match := func(rows []store.DeviceRow, keep func(store.DeviceRow) bool) []string {
		var ids []string
		for _, r := range rows {
			if keep(r) {
				ids = append(ids, r.DeviceID)
			}
		}
		return ids
	}
	contains := func(q string) func(store.DeviceRow) bool {
		q = strings.ToLower(q)
		return func(r store.DeviceRow) bool {
			return strings.Contains(strings.ToLower(r.DisplayName), q) || strings.Contains(strings.ToLower(r.SerialNumber), q) ||
				strings.Contains(strings.ToLower(r.DeviceID), q)
		}
	}
	tests := []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"name substring", url.Values{"q": {name}}, match(ready, contains(name))},
		{"serial", url.Values{"q": {sample.SerialNumber}}, match(ready, contains(sample.SerialNumber))},
		{"device ID", url.Values{"q": {sample.DeviceID}}, []string{sample.DeviceID}},
		{"device ID in capitals", url.Values{"q": {strings.ToUpper(sample.DeviceID)}}, []string{sample.DeviceID}},
		{"part of a device ID", url.Values{"q": {sample.DeviceID[9:18]}}, match(ready, contains(sample.DeviceID[9:18]))},
		{"no match", url.Values{"q": {"no-such-device-zzz"}}, nil},
		{"like wildcards are literal", url.Values{"q": {"%_"}}, nil},
		{"status", url.Values{"tab": {"not-ready"}, "status": {"inactive"}},
			idsOf(e.allRows(t, store.DeviceQuery{Tab: store.TabNotReady, Status: store.StatusInactive}))},
		{"status by label", url.Values{"tab": {"not-registered"}, "status": {"Excluded"}},
			match(notReg, func(r store.DeviceRow) bool { return r.Status == store.StatusExcluded })},
		{"status of another tab shows the whole tab", url.Values{"tab": {"ready"}, "status": {"inactive"}}, idsOf(ready)},
		{"ring", url.Values{"ring": {"fast"}}, match(ready, func(r store.DeviceRow) bool { return r.Ring == store.RingFast })},
		{"ring and search", url.Values{"ring": {"broad"}, "q": {"lt"}},
			match(ready, func(r store.DeviceRow) bool { return r.Ring == store.RingBroad && contains("lt")(r) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.query
			if q.Get("tab") == "" {
				q.Set("tab", "ready")
			}
			q.Set("size", "200")
			path := "/devices?" + q.Encode()
			ids := walkIDs(t, c, path)
			sameSet(t, path, ids, tt.want)
			first := c.get(t, path)
			if len(tt.want) == 0 && first.testid("no-rows").Length() != 1 {
				t.Errorf("%s: no rows, but no 'No devices match'", path)
			}
			want := strconv.Itoa(len(tt.want)) + " devices"
			if len(tt.want) == 1 {
				want = "1 device"
			}
			if got := first.text("result-count"); got != want {
				t.Errorf("%s: result count %q, want %q", path, got, want)
			}
		})
	}
	if len(tests[0].want) < 2 {
		t.Errorf("the name substring %q should match several devices", name)
	}

	bad := []struct {
		query, wantMsg string
	}{
		{"tab=nope", "tab"},
		{"tab=ready&status=broken", "status"},
		{"tab=ready&ring=slow", "ring"},
		{"tab=ready&size=7", "Page size"},
		{"tab=ready&size=abc", "Page size"},
		{"tab=ready&after=not-a-cursor", "cursor"},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.query, func(t *testing.T) {
			res := c.get(t, "/devices?"+tt.query).wantStatus(http.StatusUnprocessableEntity)
			if msg := res.text("error-page"); !says(msg, tt.wantMsg) {
				t.Errorf("message %q does not name the %s", msg, tt.wantMsg)
			}
			frag := c.htmx(t, "/devices?"+tt.query, "device-table").wantStatus(http.StatusUnprocessableEntity)
			if !frag.isFragment() || !says(frag.text("error-message"), tt.wantMsg) {
				t.Errorf("htmx: want an error fragment naming the %s\n%s", tt.wantMsg, frag.body)
			}
		})
	}
}

func TestBladeSortAndPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	c := e.as(t, store.RoleServiceReader)
	ready := idsOf(e.allRows(t, store.DeviceQuery{Tab: store.TabReady}))

	sorts := []struct {
		key  string
		cell string
		desc bool
	}{
		{"display_name", "device-link", false},
		{"display_name", "device-link", true},
		{"serial_number", "cell-serial_number", false},
		{"serial_number", "cell-serial_number", true},
		{"model", "cell-model", true}, // many ties: the cursor must break them
		{"last_checkin", "cell-last_checkin", false},
		{"ring", "cell-ring", false},
		{"registered_on", "cell-registered_on", true},
	}
	for _, tt := range sorts {
		dir := "asc"
		if tt.desc {
			dir = "desc"
		}
		t.Run(tt.key+" "+dir, func(t *testing.T) {
			q := url.Values{"tab": {"ready"}, "sort": {tt.key}, "size": {"25"}}
			if tt.desc {
				q.Set("dir", "desc")
			}
			pages := walk(t, c, "/devices?"+q.Encode())
			var ids, values []string
			for i, p := range pages {
				n := len(rowIDs(p))
				if n > 25 || (n < 25 && i < len(pages)-1) {
					t.Errorf("page %d has %d rows, want 25", i+1, n)
				}
				if i > 0 && p.testid("first-page").Length() != 1 {
					t.Errorf("page %d has no First page link", i+1)
				}
				ids = append(ids, rowIDs(p)...)
				values = append(values, cells(p, tt.cell)...)
			}
			if want := (len(ready) + 24) / 25; len(pages) != want {
				t.Errorf("%d pages, want %d", len(pages), want)
			}
			// Paging visits every row once.
			sameSet(t, "rows over all pages", ids, ready)
			// Rows are in order across pages (the cells compare as the
			// database does: case-insensitively; times are ISO-like).
			for i := 1; i < len(values); i++ {
				a, b := strings.ToLower(values[i-1]), strings.ToLower(values[i])
				if tt.desc {
					a, b = b, a
				}
				if a > b {
					t.Errorf("row %d %q comes after %q in %s order", i+1, values[i], values[i-1], dir)
				}
			}
			// The sorted column says so, and its header link flips the
			// direction.
			th := pages[0].testid("sort-" + tt.key).Closest("th")
			wantAria := map[bool]string{false: "ascending", true: "descending"}[tt.desc]
			if got := th.AttrOr("aria-sort", ""); got != wantAria {
				t.Errorf("aria-sort %q, want %q", got, wantAria)
			}
			href, _ := pages[0].testid("sort-" + tt.key).Attr("href")
			u, _ := url.Parse(href)
			wantSort := tt.key
			if wantSort == "display_name" {
				wantSort = "" // the default sort is left out of URLs
			}
			if q := u.Query(); q.Get("sort") != wantSort || (q.Get("dir") == "desc") == tt.desc {
				t.Errorf("the header link %q does not sort by %s the other way", href, tt.key)
			}
		})
	}

	t.Run("page size", func(t *testing.T) {
		for _, size := range []int{25, 50, 100, 200} {
			res := c.get(t, "/devices?tab=ready&size="+strconv.Itoa(size)).wantStatus(http.StatusOK)
			if got, want := len(rowIDs(res)), min(size, len(ready)); got != want {
				t.Errorf("size %d: %d rows, want %d", size, got, want)
			}
			if got := res.testid("page-size").Find("option[selected]").AttrOr("value", ""); got != strconv.Itoa(size) {
				t.Errorf("size %d: the page size control shows %q", size, got)
			}
		}
		if got := len(rowIDs(c.get(t, "/devices?tab=ready"))); got != 50 {
			t.Errorf("default page: %d rows, want 50", got)
		}
	})
}

func TestBladeURLState(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	c := e.as(t, store.RoleServiceAdmin)
	state := url.Values{"tab": {"not-registered"}, "q": {"ap-"}, "status": {"prerequisites-failed"},
		"sort": {"serial_number"}, "dir": {"desc"}, "size": {"25"}}
	page := c.get(t, "/devices?"+state.Encode()).wantStatus(http.StatusOK)

	query := func(href string) url.Values {
		t.Helper()
		u, err := url.Parse(href)
		if err != nil || u.Path == "" {
			t.Fatalf("bad link %q", href)
		}
		return u.Query()
	}
	carries := func(what, href string, keys ...string) {
		t.Helper()
		q := query(href)
		if len(q["tab"]) > 1 {
			t.Errorf("%s %q sends tab twice", what, href)
		}
		for _, k := range keys {
			if q.Get(k) != state.Get(k) {
				t.Errorf("%s %q: %s=%q, want %q", what, href, k, q.Get(k), state.Get(k))
			}
		}
	}
	all := []string{"tab", "q", "status", "sort", "dir", "size"}

	// The controls show the state.
	if got := page.testid("search").AttrOr("value", ""); got != "ap-" {
		t.Errorf("search box shows %q", got)
	}
	if got := page.testid("status-filter").Find("option[selected]").AttrOr("value", ""); got != "prerequisites-failed" {
		t.Errorf("status filter shows %q", got)
	}
	if got := page.testid("tab-not-registered").AttrOr("aria-selected", ""); got != "true" {
		t.Errorf("the Not registered tab is not selected")
	}
	// The filter form holds the state a search or a filter change sends
	// (htmx sends the form's fields, including those tied to it with
	// form="filters").
	filters := formValues(page, "filters")
	for _, k := range all {
		if filters.Get(k) != state.Get(k) {
			t.Errorf("the filter form sends %s=%q, want %q", k, filters.Get(k), state.Get(k))
		}
	}
	// The links carry it: refresh, export, the next page, and sorting
	// (which keeps the filters and starts again on page one).
	carries("blade refresh", hxURL(page, page.doc().Find("#blade")), all...)
	carries("refresh", hxURL(page, page.testid("refresh")), all...)
	carries("export", page.testid("export").AttrOr("href", ""), all...)
	next := page.testid("next-page").AttrOr("href", "")
	carries("next page", next, all...)
	if query(next).Get("after") == "" {
		t.Errorf("the next page link %q has no cursor", next)
	}
	sortLink := page.testid("sort-display_name").AttrOr("href", "")
	carries("sort", sortLink, "tab", "q", "status", "size")
	if query(sortLink).Get("after") != "" {
		t.Errorf("sorting keeps the page cursor: %q", sortLink)
	}
	// Another tab resets the filters.
	other := query(page.testid("tab-ready").AttrOr("href", ""))
	if other.Get("tab") != "ready" || other.Get("q") != "" || other.Get("status") != "" {
		t.Errorf("the Ready tab link keeps another tab's filters: %v", other)
	}

	// Following the links back and forth gives the same page.
	second := c.get(t, next).wantStatus(http.StatusOK)
	carries("next page's first page link", second.testid("first-page").AttrOr("href", ""), all...)
	again := c.get(t, second.testid("first-page").AttrOr("href", "")).wantStatus(http.StatusOK)
	if !slices.Equal(rowIDs(again), rowIDs(page)) {
		t.Errorf("the first page link does not return to the first page")
	}
	if slices.ContainsFunc(rowIDs(second), func(id string) bool { return slices.Contains(rowIDs(page), id) }) {
		t.Errorf("the second page repeats rows of the first")
	}
}

func TestBladeFragments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	c := e.as(t, store.RoleServiceReader)
	const path = "/devices?tab=not-ready&size=25"

	tests := []struct {
		name     string
		hdr      []string
		wantFrag bool
		root     string // the id of the fragment's root element
	}{
		{"page", nil, false, ""},
		{"table", []string{"HX-Request", "true", "HX-Target", "device-table"}, true, "device-table"},
		{"blade", []string{"HX-Request", "true", "HX-Target", "blade"}, true, "blade"},
		{"boosted", []string{"HX-Request", "true", "HX-Boosted", "true", "HX-Target", "device-table"}, false, ""},
		{"history restore", []string{"HX-Request", "true", "HX-History-Restore-Request", "true", "HX-Target", "device-table"}, false, ""},
	}
	var want []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := c.get(t, path, tt.hdr...).wantStatus(http.StatusOK)
			// Pages and fragments differ by HX-Request, and carry the
			// CSRF token of the cookie.
			for _, h := range []string{"HX-Request", "Cookie"} {
				if !varies(res.header, h) {
					t.Errorf("Vary %q, want %s", res.header.Values("Vary"), h)
				}
			}
			if got := res.isFragment(); got != tt.wantFrag {
				t.Fatalf("fragment = %v, want %v\n%s", got, tt.wantFrag, truncate(res.body))
			}
			if tt.wantFrag {
				root := res.doc().Find("body").Children()
				if root.Length() != 1 || root.AttrOr("id", "") != tt.root {
					t.Errorf("the fragment's root is not #%s", tt.root)
				}
			}
			ids := rowIDs(res)
			if want == nil {
				want = ids
			}
			if !slices.Equal(ids, want) || len(ids) != 25 {
				t.Errorf("%d rows, want the page's %d", len(ids), len(want))
			}
			if tt.root == "device-table" && res.testid("tab-ready").Length() != 0 {
				t.Error("the table fragment carries the tabs")
			}
		})
	}
}

// varies reports whether the response varies by the request header name.
func varies(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

func TestColumnsPerUserAndTab(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	admin := e.as(t, store.RoleServiceAdmin)
	other := e.as(t, store.RoleGlobalAdmin)

	// headers are the column keys of the table, in order; checked those of
	// the Modify columns dialog.
	headers := func(res *response) []string {
		var keys []string
		res.doc().Find(`[data-testid="device-table"] thead th[data-column]`).Each(func(_ int, s *goquery.Selection) {
			keys = append(keys, s.AttrOr("data-column", ""))
		})
		return keys
	}
	checked := func(res *response) []string {
		var keys []string
		res.doc().Find(`[data-testid="columns-dialog"] input[name="column"][checked]`).Each(func(_ int, s *goquery.Selection) {
			keys = append(keys, s.AttrOr("value", ""))
		})
		return keys
	}
	wantColumns := func(c *client, tab store.Tab, want []string) {
		t.Helper()
		res := c.get(t, "/devices?tab="+string(tab)).wantStatus(http.StatusOK)
		if got := headers(res); !slices.Equal(got, want) {
			t.Errorf("%s on %s: columns %v, want %v", c.email, tab, got, want)
		}
		if got := checked(res); !slices.Equal(got, want) {
			t.Errorf("%s on %s: Modify columns ticks %v, want %v", c.email, tab, got, want)
		}
	}
	for _, tab := range store.Tabs {
		wantColumns(admin, tab, store.DefaultColumns(tab))
	}

	chosen := []string{"device_id", "serial_number", "status", "ring"}
	res := admin.postHX(t, "/devices/columns", url.Values{"tab": {"ready"}, "column": chosen}).wantStatus(http.StatusOK)
	if !res.isFragment() || res.doc().Find("#blade").Length() != 1 {
		t.Fatalf("saving columns over htmx should answer with the blade\n%s", truncate(res.body))
	}
	if got := headers(res); !slices.Equal(got, chosen) {
		t.Errorf("the refreshed blade shows %v, want %v", got, chosen)
	}
	if cells := cells(res, "cell-device_id"); len(cells) == 0 || cells[0] == "" {
		t.Error("the Device ID column has no values")
	}
	wantColumns(admin, store.TabReady, chosen)
	wantColumns(admin, store.TabNotReady, store.DefaultColumns(store.TabNotReady))
	wantColumns(other, store.TabReady, store.DefaultColumns(store.TabReady))

	// The choice is kept on the server: it survives signing out and in.
	again := e.newClient()
	again.signIn(t, emailOf(store.RoleServiceAdmin), password)
	wantColumns(again, store.TabReady, chosen)

	// The export without a column list writes the visible columns.
	csvRes := again.get(t, "/devices/export.csv?tab=ready").wantStatus(http.StatusOK)
	header, err := csv.NewReader(bytes.NewReader(withoutBOM(t, csvRes.body))).Read()
	if err != nil || !slices.Equal(header, chosen) {
		t.Errorf("export header %q %v, want the visible columns %q", header, err, chosen)
	}

	bad := []struct {
		name string
		form url.Values
		want string
	}{
		{"unknown column", url.Values{"tab": {"ready"}, "column": {"device_id", "password_hash"}}, "password_hash"},
		{"no column", url.Values{"tab": {"ready"}}, "at least one column"},
		{"bad tab", url.Values{"tab": {"all"}, "column": {"device_id"}}, "tab"},
	}
	for _, tt := range bad {
		res := again.postHX(t, "/devices/columns", tt.form).wantStatus(http.StatusUnprocessableEntity)
		if msg := res.text("error-message"); !says(msg, tt.want) {
			t.Errorf("%s: message %q does not name %q", tt.name, msg, tt.want)
		}
	}
	wantColumns(again, store.TabReady, chosen)

	// Reset to defaults; a plain form post is sent back to the blade.
	again.post(t, "/devices/columns", url.Values{"tab": {"ready"}, "reset": {"1"}}).wantRedirect("/devices?tab=ready")
	wantColumns(again, store.TabReady, store.DefaultColumns(store.TabReady))
}

// formValues are the non-empty fields a form submits, as htmx collects them:
// its own fields and those tied to it with form="id".
func formValues(res *response, id string) url.Values {
	v := url.Values{}
	fields := res.doc().Find("form#" + id + " [name]").AddSelection(res.doc().Find(`[form="` + id + `"][name]`))
	fields.Each(func(_ int, s *goquery.Selection) {
		name := s.AttrOr("name", "")
		var val string
		switch goquery.NodeName(s) {
		case "select":
			opt := s.Find("option[selected]")
			if opt.Length() == 0 {
				opt = s.Find("option").First()
			}
			val = opt.AttrOr("value", "")
		case "input":
			if typ := s.AttrOr("type", "text"); (typ == "checkbox" || typ == "radio") && !s.Is("[checked]") {
				return
			}
			val = s.AttrOr("value", "")
		default:
			return
		}
		if val != "" {
			v.Add(name, val)
		}
	})
	return v
}

// hxURL is the URL an element's hx-get requests, with the fields of the
// form its hx-include names.
func hxURL(res *response, s *goquery.Selection) string {
	u, err := url.Parse(s.AttrOr("hx-get", ""))
	if err != nil || u.Path == "" {
		return ""
	}
	q := u.Query()
	if inc := s.AttrOr("hx-include", ""); strings.HasPrefix(inc, "#") {
		for k, vs := range formValues(res, strings.TrimPrefix(inc, "#")) {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// --- device actions ---------------------------------------------------------

func TestDeviceActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	admin := e.as(t, store.RoleServiceAdmin)
	actor := emailOf(store.RoleServiceAdmin)
	var active []store.DeviceRow
	for _, r := range e.allRows(t, store.DeviceQuery{Tab: store.TabReady}) {
		if r.Ring != store.RingTest && len(active) < 3 {
			active = append(active, r)
		}
	}
	failed := e.devicesWith(t, store.StatusReadinessFailed, 1)[0]

	t.Run("assign ring", func(t *testing.T) {
		ids := []string{active[0].DeviceID, active[1].DeviceID}
		res := admin.postHX(t, "/devices/assign-ring", url.Values{"device_id": ids, "ring": {"test"}}).wantStatus(http.StatusOK)
		if got := res.header.Get("HX-Trigger"); got != "devices-changed" {
			t.Errorf("HX-Trigger %q, want devices-changed", got)
		}
		if msg := res.text("action-result"); !strings.Contains(msg, "Assigned 2 device(s) to the Test ring") {
			t.Errorf("toast %q", msg)
		}
		for _, id := range ids {
			rec := e.device(t, id)
			if rec.Ring != store.RingTest || rec.RingBy != store.RingByAdmin || rec.RingActor != actor {
				t.Errorf("device %s: ring %s by %s (%s), want test by admin (%s)", id, rec.Ring, rec.RingBy, rec.RingActor, actor)
			}
			detail := admin.get(t, "/devices/"+id).wantStatus(http.StatusOK)
			if got := detail.text("detail-ring"); got != "Test" {
				t.Errorf("detail ring %q, want Test", got)
			}
			if got := detail.text("detail-ring-by"); !strings.HasPrefix(got, "Admin ("+actor+")") {
				t.Errorf("detail ring assigned by %q, want Admin (%s)", got, actor)
			}
			if hist := detail.testid("detail-history").Text(); !strings.Contains(hist, store.ActionAssignRing) || !strings.Contains(hist, actor) {
				t.Errorf("the history does not show the assignment:\n%s", hist)
			}
		}
		blade := admin.get(t, "/devices?tab=ready&ring=test&size=200")
		for _, id := range ids {
			if !slices.Contains(rowIDs(blade), id) {
				t.Errorf("%s is not listed in the Test ring", id)
			}
		}
		for i, by := range cells(blade, "cell-ring_assigned_by") {
			if rowIDs(blade)[i] == ids[0] && by != "Admin ("+actor+")" {
				t.Errorf("Ring assigned by shows %q", by)
			}
		}
		e.wantAudit(t, store.ActionAssignRing, actor, store.OutcomeSuccess, ids[0])
	})

	t.Run("assign ring refuses a device that is not Active", func(t *testing.T) {
		before := e.device(t, active[2].DeviceID)
		res := admin.postHX(t, "/devices/assign-ring", url.Values{"device_id": {active[2].DeviceID, failed.DeviceID}, "ring": {"first"}})
		res.wantStatus(http.StatusUnprocessableEntity)
		msg := res.text("error-message")
		if !strings.Contains(msg, failed.DisplayName) || !strings.Contains(msg, "Readiness failed") {
			t.Errorf("message %q does not name %s and why", msg, failed.DisplayName)
		}
		if strings.Contains(msg, active[2].DisplayName) || strings.Contains(msg, ": device") || strings.Contains(msg, "assign ring:") {
			t.Errorf("message %q names the Active device too, or reads as a Go error", msg)
		}
		// The refused attempt is audited, naming the refused device.
		entry := e.wantAudit(t, store.ActionAssignRing, actor, store.OutcomeDenied, failed.DeviceID)
		if entry.Devices != 1 {
			t.Errorf("the refusal's audit entry concerns %d devices, want 1", entry.Devices)
		}
		if res.header.Get("HX-Trigger") != "" {
			t.Errorf("a refused action triggers %q", res.header.Get("HX-Trigger"))
		}
		if after := e.device(t, active[2].DeviceID); after.Ring != before.Ring || after.RingBy != before.RingBy {
			t.Errorf("a refused action moved %s from %s to %s", active[2].DeviceID, before.Ring, after.Ring)
		}
	})

	bad := []struct {
		name, path string
		form       url.Values
		want       string
	}{
		{"no device", "/devices/assign-ring", url.Values{"ring": {"test"}}, "select at least one device"},
		{"unknown device", "/devices/assign-ring", url.Values{"ring": {"test"}, "device_id": {"00000000-0000-4000-8000-999999999999"}}, "was not found"},
		{"bad ring", "/devices/assign-ring", url.Values{"ring": {"canary"}, "device_id": {active[2].DeviceID}}, "canary"},
		{"restore a device that is not excluded", "/devices/restore", url.Values{"device_id": {active[2].DeviceID}}, "not excluded"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			res := admin.postHX(t, tt.path, tt.form).wantStatus(http.StatusUnprocessableEntity)
			if msg := res.text("error-message"); !says(msg, tt.want) {
				t.Errorf("message %q, want it to say %q", msg, tt.want)
			}
		})
	}

	t.Run("deregister and restore", func(t *testing.T) {
		id := active[2].DeviceID
		counts := func() store.Counts {
			c, err := e.st.Counts(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		before := counts()
		res := admin.postHX(t, "/devices/deregister", url.Values{"device_id": {id}}).wantStatus(http.StatusOK)
		if res.header.Get("HX-Trigger") != "devices-changed" || !strings.Contains(res.text("action-result"), "Deregistered 1 device") {
			t.Errorf("deregister answered HX-Trigger %q, %q", res.header.Get("HX-Trigger"), res.body)
		}
		if rec := e.device(t, id); rec.Status != store.StatusExcluded || rec.Ring != "" {
			t.Fatalf("after deregister: status %s ring %q, want excluded without a ring", rec.Status, rec.Ring)
		}
		page := admin.get(t, "/devices?tab=not-registered&status=excluded&size=200")
		if !slices.Contains(rowIDs(page), id) {
			t.Errorf("the Excluded filter does not list %s", id)
		}
		if got, want := page.text("tab-count-ready"), strconv.Itoa(before.Tab(store.TabReady)-1); got != want {
			t.Errorf("Ready count %s after deregistering, want %s", got, want)
		}
		// The Excluded view offers Restore instead of Deregister.
		if page.testid("restore-submit").Length() != 1 || page.testid("deregister-submit").Length() != 0 {
			t.Error("the Excluded view does not offer Restore")
		}
		e.wantAudit(t, store.ActionDeregister, actor, store.OutcomeSuccess, id)

		// A plain form post (no htmx) is sent back to the blade.
		admin.post(t, "/devices/restore", url.Values{"device_id": {id}}).wantRedirect("/devices")
		if rec := e.device(t, id); rec.Status != "" {
			t.Fatalf("after restore: status %s, want none until the next discovery", rec.Status)
		}
		if slices.Contains(rowIDs(admin.get(t, "/devices?tab=not-registered&status=excluded&size=200")), id) {
			t.Errorf("%s is still listed as Excluded", id)
		}
		e.wantAudit(t, store.ActionRestore, actor, store.OutcomeSuccess, id)
		if _, err := e.st.Discover(e.ctx, store.TriggerCLI, "test", testNow); err != nil {
			t.Fatal(err)
		}
		if rec := e.device(t, id); rec.Status != store.StatusActive {
			t.Errorf("after the next discovery: status %s, want active", rec.Status)
		}
		if got := counts().Tab(store.TabReady); got != before.Tab(store.TabReady) {
			t.Errorf("Ready count %d after restoring, want %d", got, before.Tab(store.TabReady))
		}
	})

	t.Run("a Service Reader's forged request", func(t *testing.T) {
		reader := e.as(t, store.RoleServiceReader)
		// A reader's page offers no device actions…
		page := reader.get(t, "/devices").wantStatus(http.StatusOK)
		if page.testid("actions-dialog").Length() != 0 || page.testid("device-actions").Length() != 0 || page.testid("device-actions-disabled").Length() != 1 {
			t.Error("a Service Reader is offered device actions")
		}
		if page.testid("discover").Length() != 0 || page.testid("discover-disabled").Length() != 1 {
			t.Error("a Service Reader is offered Discover devices")
		}
		// …and a POST made by hand, with a valid CSRF token, is refused.
		id := active[2].DeviceID
		before := e.device(t, id)
		res := reader.postHX(t, "/devices/assign-ring", url.Values{"device_id": {id}, "ring": {"test"}}).wantStatus(http.StatusForbidden)
		if !strings.Contains(res.text("error-message"), "Service Reader") {
			t.Errorf("the refusal does not name the role: %s", res.body)
		}
		if after := e.device(t, id); after.Ring != before.Ring || after.RingBy != before.RingBy {
			t.Errorf("a refused request moved the device from %s to %s", before.Ring, after.Ring)
		}
		e.wantAudit(t, "request.refused", emailOf(store.RoleServiceReader), store.OutcomeDenied, "POST /devices/assign-ring")
	})
}

// --- export -----------------------------------------------------------------

func TestExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	// Names a spreadsheet would run as formulas.
	formulas := []string{`=HYPERLINK("http://evil.example","x")`, "+SUM(1,2)", "-2+3", "@cmd"}
	var devs []*store.Device
	for i, name := range formulas {
		devs = append(devs, testDevice(900+i, func(d *store.Device) { d.DisplayName = name }))
	}
	e.register(t, devs...)
	reader := e.as(t, store.RoleServiceReader)

	tests := []struct {
		name  string
		query string
		q     store.DeviceQuery
		cols  string
	}{
		{"ready", "tab=ready&columns=device_id,display_name,status,ring,ring_assigned_by,reasons",
			store.DeviceQuery{Tab: store.TabReady}, "device_id,display_name,status,ring,ring_assigned_by,reasons"},
		{"filtered and sorted, every column",
			"tab=not-registered&q=ap&status=prerequisites-failed&sort=serial_number&dir=desc&columns=all",
			store.DeviceQuery{Tab: store.TabNotRegistered, Search: "ap", Status: store.StatusPrerequisitesFailed, Sort: "serial_number", Desc: true}, "all"},
		{"all pages, not the one shown", "tab=ready&size=25&ring=broad&after=" + url.QueryEscape(firstPageCursor(t, reader, "/devices?tab=ready&size=25&ring=broad")) + "&columns=device_id,ring,last_checkin",
			store.DeviceQuery{Tab: store.TabReady, Ring: store.RingBroad}, "device_id,ring,last_checkin"},
		{"not ready", "tab=not-ready&columns=display_name,reasons,ring",
			store.DeviceQuery{Tab: store.TabNotReady}, "display_name,reasons,ring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := reader.get(t, "/devices/export.csv?"+tt.query).wantStatus(http.StatusOK)
			cols, err := store.ParseColumns(tt.cols)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			n, err := e.st.ExportCSV(e.ctx, &want, tt.q, cols, store.CSVOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if n < 2 {
				t.Fatalf("the export has %d rows; the test needs more", n)
			}
			if !bytes.Equal(res.body, want.Bytes()) {
				t.Errorf("the portal's export differs from the CLI's (%d and %d bytes)\nportal:\n%s\nCLI:\n%s",
					len(res.body), want.Len(), truncate(res.body), truncate(want.Bytes()))
			}
			if got := res.header.Get("Content-Type"); got != "text/csv; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			tab := string(tt.q.Tab)
			if got, want := res.header.Get("Content-Disposition"), `attachment; filename="patchboard-`+tab+`-2026-11-01.csv"`; got != want {
				t.Errorf("Content-Disposition %q, want %q", got, want)
			}
			entry := e.wantAudit(t, store.ActionExport, emailOf(store.RoleServiceReader), store.OutcomeSuccess, tab)
			if !strings.HasPrefix(entry.Detail, strconv.Itoa(n)+" rows") {
				t.Errorf("audit detail %q, want it to start with %d rows", entry.Detail, n)
			}
		})
	}

	t.Run("formulas are neutralised", func(t *testing.T) {
		res := reader.get(t, "/devices/export.csv?tab=ready&columns=device_id,display_name").wantStatus(http.StatusOK)
		recs, err := csv.NewReader(bytes.NewReader(withoutBOM(t, res.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{}
		for _, r := range recs[1:] {
			names[r[0]] = r[1]
		}
		for i, d := range devs {
			if got := names[d.DeviceID]; got != "'"+formulas[i] {
				t.Errorf("display name %q exported as %q, want %q", formulas[i], got, "'"+formulas[i])
			}
		}
		// The page shows the name as it is.
		page := reader.get(t, "/devices?tab=ready&q="+url.QueryEscape("HYPERLINK"))
		if got := page.testid("device-link").First().Text(); got != formulas[0] {
			t.Errorf("the blade shows %q, want %q", got, formulas[0])
		}
	})

	t.Run("bad requests are refused before the file starts", func(t *testing.T) {
		for _, q := range []string{"tab=ready&columns=device_id,secret", "tab=everything", "tab=ready&columns=,"} {
			res := reader.get(t, "/devices/export.csv?"+q).wantStatus(http.StatusUnprocessableEntity)
			if res.header.Get("Content-Disposition") != "" {
				t.Errorf("%s: a refused export is still a download", q)
			}
		}
	})
}

// firstPageCursor is the cursor of a blade's Next page link.
func firstPageCursor(t *testing.T, c *client, path string) string {
	t.Helper()
	href := c.get(t, path).wantStatus(http.StatusOK).testid("next-page").AttrOr("href", "")
	u, err := url.Parse(href)
	if err != nil || u.Query().Get("after") == "" {
		t.Fatalf("%s has no next page link", path)
	}
	return u.Query().Get("after")
}

// --- discovery --------------------------------------------------------------

func TestDiscoveryOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	admin := e.as(t, store.RoleIntuneAdmin)
	actor := emailOf(store.RoleIntuneAdmin)
	// New members of the registration group for the run to register.
	var ids []string
	var devs []*store.Device
	for i := range 3 {
		d := testDevice(800 + i)
		devs = append(devs, d)
		ids = append(ids, d.DeviceID)
	}
	if _, err := e.st.UpsertDevices(e.ctx, devs, "test", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddGroupDevices(e.ctx, store.RegistrationGroupName, ids, "test"); err != nil {
		t.Fatal(err)
	}
	previous, err := e.st.LastDiscoveryRun(e.ctx)
	if err != nil {
		t.Fatal(err)
	}

	res := admin.postHX(t, "/devices/discover", nil).wantStatus(http.StatusOK)
	if !res.isFragment() {
		t.Fatalf("the button's answer is not a fragment\n%s", truncate(res.body))
	}
	banner := res.testid("discovery-status")
	if banner.Length() != 1 || banner.AttrOr("id", "") != "discovery-status" {
		t.Fatalf("no progress banner\n%s", res.body)
	}
	// The banner polls its run while it runs; a run that already ended is
	// the last run.
	poll := banner.AttrOr("hx-get", "")
	if poll == "" {
		run, err := e.st.LastDiscoveryRun(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		poll = "/discovery/runs/" + strconv.FormatInt(run.ID, 10)
	} else if banner.AttrOr("hx-trigger", "") != "every 1s" || banner.AttrOr("data-state", "") != "running" {
		t.Errorf("a running banner should poll every second: %s", res.body)
	}
	runID, err := strconv.ParseInt(strings.TrimPrefix(poll, "/discovery/runs/"), 10, 64)
	if err != nil || runID <= previous.ID {
		t.Fatalf("the banner polls %q, not a new run (the last was %d)", poll, previous.ID)
	}

	var last *response
	deadline := time.Now().Add(10 * time.Second)
	for {
		last = admin.get(t, poll, "HX-Request", "true", "HX-Target", "discovery-status")
		if last.status != http.StatusOK || time.Now().After(deadline) {
			break
		}
		if last.testid("discovery-status").AttrOr("data-state", "") != "running" {
			t.Fatalf("a 200 answer for a run that is not running:\n%s", last.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if last.status != 286 {
		t.Fatalf("%s, want 286 (stop polling) once the run has ended", last)
	}
	if got := last.header.Get("HX-Trigger"); got != "devices-changed" {
		t.Errorf("HX-Trigger %q, want devices-changed", got)
	}
	if state := last.testid("discovery-status").AttrOr("data-state", ""); state != string(store.RunCompleted) {
		t.Errorf("the banner says %q, want completed\n%s", state, last.body)
	}

	run, err := e.st.DiscoveryRunByID(e.ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Trigger != store.TriggerButton || run.Actor != actor || run.State != store.RunCompleted || run.Registered < len(ids) {
		t.Errorf("run %+v, want a completed button run by %s registering the %d new devices", run, actor, len(ids))
	}
	if !strings.Contains(last.text("discovery-status"), strconv.Itoa(run.Registered)+" newly registered") {
		t.Errorf("the banner %q does not give the run's outcome", last.text("discovery-status"))
	}
	for _, id := range ids {
		if st := e.device(t, id).Status; st != store.StatusActive {
			t.Errorf("device %s is %s after discovery, want active", id, st)
		}
	}
	page := admin.get(t, "/devices").wantStatus(http.StatusOK)
	counts, _ := e.st.Counts(e.ctx)
	if got := page.text("tab-count-ready"); got != strconv.Itoa(counts.Tab(store.TabReady)) {
		t.Errorf("Ready count %s, want %d", got, counts.Tab(store.TabReady))
	}

	// Without htmx the button is a form post back to the blade.
	admin.post(t, "/devices/discover", nil).wantRedirect("/devices")
	for _, path := range []string{"/discovery/runs/999999", "/discovery/runs/abc"} {
		admin.get(t, path).wantStatus(http.StatusNotFound)
	}
}

// --- device detail ----------------------------------------------------------

func TestDeviceDetail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	c := e.as(t, store.RoleServiceReader)
	var testRing store.DeviceRow
	for _, r := range e.allRows(t, store.DeviceQuery{Tab: store.TabReady, Ring: store.RingTest}) {
		testRing = r
	}
	var multi store.DeviceRow // a device failing several prerequisites
	for _, r := range e.allRows(t, store.DeviceQuery{Tab: store.TabNotRegistered, Status: store.StatusPrerequisitesFailed}) {
		if len(r.Reasons) > len(multi.Reasons) {
			multi = r
		}
	}
	tests := []struct {
		name   string
		id     string
		checks []store.CheckID
	}{
		{"prerequisites failed", multi.DeviceID, store.PrerequisiteChecks},
		{"readiness failed", e.devicesWith(t, store.StatusReadinessFailed, 1)[0].DeviceID, store.ReadinessChecks},
		{"inactive", e.devicesWith(t, store.StatusInactive, 1)[0].DeviceID, store.ReadinessChecks},
		{"active", testRing.DeviceID, store.ReadinessChecks},
	}
	if len(multi.Reasons) < 2 || testRing.DeviceID == "" {
		t.Fatalf("the fleet lacks the devices this test needs")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.device(t, tt.id)
			page := c.get(t, "/devices/"+tt.id).wantStatus(http.StatusOK)
			if page.isFragment() || page.testid("device-detail").Length() != 1 {
				t.Fatalf("not a page with the device's detail\n%s", truncate(page.body))
			}
			if got := page.doc().Find("#detail-title").Text(); got != rec.DisplayName {
				t.Errorf("title %q, want %q", got, rec.DisplayName)
			}
			if got := page.text("detail-status"); got != rec.Status.Label() {
				t.Errorf("status %q, want %q", got, rec.Status.Label())
			}
			failures := map[store.CheckID]store.CheckResult{}
			for _, f := range rec.Failures {
				failures[f.Check] = f
			}
			rows := page.testid("check-row")
			if rows.Length() != len(tt.checks) {
				t.Fatalf("%d checks shown, want %d", rows.Length(), len(tt.checks))
			}
			rows.Each(func(i int, row *goquery.Selection) {
				id := store.CheckID(row.AttrOr("data-check", ""))
				if id != tt.checks[i] {
					t.Errorf("check %d is %s, want %s", i+1, id, tt.checks[i])
				}
				tds := row.Find("td")
				result := strings.TrimSpace(tds.Eq(1).Text())
				if !strings.Contains(tds.Eq(0).Text(), id.Name()) {
					t.Errorf("check %s is not named %q", id, id.Name())
				}
				f, failed := failures[id]
				switch {
				case failed && result != "Failed":
					t.Errorf("check %s shows %q, want Failed", id, result)
				case failed && (strings.TrimSpace(tds.Eq(2).Text()) != f.Reason || strings.TrimSpace(tds.Eq(3).Text()) != f.Remediation):
					t.Errorf("check %s: reason %q and remediation %q, want %q and %q", id, tds.Eq(2).Text(), tds.Eq(3).Text(), f.Reason, f.Remediation)
				case failed && strings.TrimSpace(tds.Eq(4).Text()) != id.Actor():
					t.Errorf("check %s: who acts %q, want %q", id, tds.Eq(4).Text(), id.Actor())
				case !failed && !strings.HasPrefix(result, "Passed"):
					t.Errorf("check %s shows %q, want Passed", id, result)
				}
			})
			if len(failures) != len(rec.Reasons) || len(failures) == 0 && rec.Status != store.StatusActive {
				t.Errorf("%d failures stored, %d reasons", len(failures), len(rec.Reasons))
			}
			fields := page.testid("detail-fields").Text()
			for _, f := range store.InventoryFields {
				if !strings.Contains(fields, f.Label) {
					t.Errorf("the detail does not show %s", f.Label)
				}
			}
			if !strings.Contains(fields, rec.SerialNumber) {
				t.Errorf("the detail does not show the serial number %s", rec.SerialNumber)
			}

			frag := c.get(t, "/devices/"+tt.id, "HX-Request", "true", "HX-Target", "flyout").wantStatus(http.StatusOK)
			if !frag.isFragment() || frag.doc().Find("body").Children().First().AttrOr("data-testid", "") != "device-detail" {
				t.Errorf("the htmx answer is not the detail fragment\n%s", truncate(frag.body))
			}
			if frag.testid("check-row").Length() != len(tt.checks) {
				t.Error("the fragment does not show every check")
			}
		})
	}

	t.Run("history", func(t *testing.T) {
		// The demo put this device in the Test ring.
		page := c.get(t, "/devices/"+testRing.DeviceID).wantStatus(http.StatusOK)
		hist := page.testid("detail-history")
		if hist.Length() != 1 || !strings.Contains(hist.Text(), store.ActionAssignRing) {
			t.Errorf("the history does not show the ring assignment:\n%s", hist.Text())
		}
		if got := page.text("detail-ring-by"); !strings.HasPrefix(got, "Admin (demo)") {
			t.Errorf("ring assigned by %q, want Admin (demo)", got)
		}
	})

	t.Run("IDs in another form", func(t *testing.T) {
		id := strings.ToUpper(testRing.DeviceID)
		c.get(t, "/devices/"+id).wantStatus(http.StatusOK)
		c.get(t, "/devices/"+url.PathEscape("{"+id+"}")).wantStatus(http.StatusOK)
	})

	t.Run("unknown device", func(t *testing.T) {
		res := c.get(t, "/devices/00000000-0000-4000-8000-999999999999").wantStatus(http.StatusNotFound)
		if res.testid("error-page").Length() != 1 {
			t.Errorf("no error page\n%s", res.body)
		}
		frag := c.get(t, "/devices/00000000-0000-4000-8000-999999999999", "HX-Request", "true").wantStatus(http.StatusNotFound)
		if !frag.isFragment() || frag.testid("error-message").Length() != 1 {
			t.Errorf("no error fragment\n%s", frag.body)
		}
	})
}

// --- headers and probes -----------------------------------------------------

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	admin := e.as(t, store.RoleGlobalAdmin)
	anon := e.newClient()
	noRole := e.as(t, store.RoleNone)
	dev := e.devicesWith(t, store.StatusActive, 1)[0]
	pages := []struct {
		c    *client
		path string
		want int
	}{
		{anon, "/login", http.StatusOK},
		{anon, "/devices", http.StatusSeeOther},
		{admin, "/devices", http.StatusOK},
		{admin, "/devices?tab=not-registered", http.StatusOK},
		{admin, "/devices/" + dev.DeviceID, http.StatusOK},
		{admin, "/audit", http.StatusOK},
		{admin, "/devices/no-such-device", http.StatusNotFound},
		{admin, "/no-such-page", http.StatusNotFound},
		{noRole, "/devices", http.StatusForbidden},
		{admin, "/static/app.css", http.StatusOK},
		{admin, "/healthz", http.StatusOK},
	}
	for _, p := range pages {
		res := p.c.get(t, p.path).wantStatus(p.want)
		csp := res.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", res, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline code", res, csp)
		}
		if got := res.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", res, got)
		}
		if got := res.header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", res, got)
		}
		if !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
			continue
		}
		// The CSP forbids inline script and style: the pages must not need
		// them.
		res.doc().Find("script").Each(func(_ int, s *goquery.Selection) {
			if s.AttrOr("src", "") == "" {
				t.Errorf("%s: an inline <script>", res)
			}
		})
		if n := res.doc().Find("style, [style]").Length(); n > 0 {
			t.Errorf("%s: %d inline styles", res, n)
		}
		res.doc().Find("*").Each(func(_ int, s *goquery.Selection) {
			for _, a := range s.Nodes[0].Attr {
				if strings.HasPrefix(a.Key, "on") || strings.HasPrefix(a.Key, "hx-on") {
					t.Errorf("%s: inline handler %s=%q", res, a.Key, a.Val)
				}
			}
		})
	}
}

func TestProbes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.newClient()
	for _, path := range []string{"/healthz", "/readyz"} {
		res := c.get(t, path).wantStatus(http.StatusOK)
		if strings.TrimSpace(string(res.body)) != "ok" {
			t.Errorf("%s: %q", res, res.body)
		}
		if res.cookie("patchboard_csrf") != nil || res.cookie("patchboard_session") != nil {
			t.Errorf("%s sets cookies", res)
		}
	}
	// Readiness follows the database; liveness does not.
	e.st.Close()
	c.get(t, "/readyz").wantStatus(http.StatusServiceUnavailable)
	c.get(t, "/healthz").wantStatus(http.StatusOK)
}

// --- audit log --------------------------------------------------------------

func TestAuditLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	admin := e.as(t, store.RoleServiceAdmin)
	reader := e.as(t, store.RoleServiceReader)
	// A failed sign-in whose "email" is a formula.
	formula := `=HYPERLINK("http://evil.example")`
	e.newClient().postLogin(t, formula, "whatever password", nil).wantStatus(http.StatusUnauthorized)

	page := admin.get(t, "/audit").wantStatus(http.StatusOK)
	rows := page.testid("audit-row")
	if rows.Length() == 0 {
		t.Fatal("the audit log is empty")
	}
	text := page.testid("audit-table").Text()
	for _, want := range []string{"auth.sign-in", emailOf(store.RoleServiceReader), formula} {
		if !strings.Contains(text, want) {
			t.Errorf("the audit log does not show %q", want)
		}
	}

	t.Run("filters", func(t *testing.T) {
		res := admin.get(t, "/audit?"+url.Values{"actor": {emailOf(store.RoleServiceReader)}, "action": {"auth.sign-in"}}.Encode()).wantStatus(http.StatusOK)
		if res.testid("audit-row").Length() == 0 {
			t.Fatal("no entries for the filter")
		}
		res.testid("audit-row").Each(func(_ int, s *goquery.Selection) {
			tds := s.Find("td")
			if tds.Eq(1).Text() != emailOf(store.RoleServiceReader) || tds.Eq(2).Text() != "auth.sign-in" {
				t.Errorf("row %q does not match the filter", s.Text())
			}
		})
		if got := res.testid("audit-actor").AttrOr("value", ""); got != emailOf(store.RoleServiceReader) {
			t.Errorf("the actor filter shows %q", got)
		}
		testRing := e.allRows(t, store.DeviceQuery{Tab: store.TabReady, Ring: store.RingTest})[0]
		dev := admin.get(t, "/audit?device="+testRing.DeviceID).wantStatus(http.StatusOK)
		if dev.testid("audit-row").Length() == 0 || !strings.Contains(dev.testid("audit-table").Text(), testRing.DeviceID) {
			t.Errorf("the device filter does not find the entries naming %s", testRing.DeviceID)
		}
	})

	t.Run("export", func(t *testing.T) {
		href := page.testid("audit-export").AttrOr("href", "")
		want := e.audit(t, store.AuditFilter{})
		res := admin.get(t, href).wantStatus(http.StatusOK)
		if got := res.header.Get("Content-Disposition"); got != `attachment; filename="patchboard-audit-2026-11-01.csv"` {
			t.Errorf("Content-Disposition %q", got)
		}
		recs, err := csv.NewReader(bytes.NewReader(withoutBOM(t, res.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recs[0], []string{"id", "at", "actor", "action", "target", "outcome", "detail"}) {
			t.Errorf("header %v", recs[0])
		}
		if len(recs)-1 != len(want) {
			t.Errorf("%d entries exported, the log has %d", len(recs)-1, len(want))
		}
		for i, r := range recs[1:] {
			if i < len(want) && r[0] != strconv.FormatInt(want[i].ID, 10) {
				t.Errorf("row %d is entry %s, want %d (newest first)", i+1, r[0], want[i].ID)
				break
			}
			if strings.HasPrefix(r[2], "=") || strings.HasPrefix(r[4], "=") || strings.HasPrefix(r[6], "=") {
				t.Errorf("row %d exports a formula: %v", i+1, r)
			}
		}
		found := false
		for _, r := range recs[1:] {
			found = found || r[2] == "'"+formula
		}
		if !found {
			t.Errorf("the formula actor is not exported neutralised as %q", "'"+formula)
		}
		e.wantAudit(t, "audit.export", emailOf(store.RoleServiceAdmin), store.OutcomeSuccess, "")
	})

	t.Run("Service Readers have no access", func(t *testing.T) {
		for _, path := range []string{"/audit", "/audit/export.csv"} {
			res := reader.get(t, path).wantStatus(http.StatusForbidden)
			if res.header.Get("Content-Disposition") != "" {
				t.Errorf("%s: still a download", res)
			}
			e.wantAudit(t, "request.refused", emailOf(store.RoleServiceReader), store.OutcomeDenied, "GET "+path)
		}
		page := reader.get(t, "/devices").wantStatus(http.StatusOK)
		if page.doc().Find(`a[href="/audit"]`).Length() != 0 {
			t.Error("a Service Reader is shown the Audit log link")
		}
		if admin.get(t, "/devices").doc().Find(`a[href="/audit"]`).Length() != 1 {
			t.Error("an admin is not shown the Audit log link")
		}
	})
}

// TestBladePager walks the Ready tab (182 devices, 50 a page) with Next,
// Previous, Last and a jump: each page says where it is, and the rows are
// the query's rows at that place.
func TestBladePager(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	reader := e.as(t, store.RoleServiceReader)
	all := idsOf(e.allRows(t, store.DeviceQuery{Tab: store.TabReady}))
	if len(all) != 182 {
		t.Fatalf("the fleet has %d Ready devices; the test expects 182", len(all))
	}
	page := func(path, wantRange, wantPos string, from int) *response {
		t.Helper()
		res := reader.get(t, path).wantStatus(http.StatusOK)
		if got := res.text("result-count"); got != wantRange {
			t.Errorf("%s: %q, want %q", path, got, wantRange)
		}
		if got := res.text("page-position"); got != wantPos {
			t.Errorf("%s: %q, want %q", path, got, wantPos)
		}
		if ids := rowIDs(res); len(ids) == 0 || ids[0] != all[from] {
			t.Errorf("%s: the page starts with %v, want row %d (%s)", path, ids[:min(1, len(ids))], from, all[from])
		}
		return res
	}
	first := page("/devices?tab=ready", "1–50 of 182 devices", "Page 1 of 4", 0)
	if first.testid("prev-page").Length() != 0 || first.testid("first-page").Length() != 0 {
		t.Error("the first page offers Previous or First")
	}
	second := page(first.testid("next-page").AttrOr("href", ""), "51–100 of 182 devices", "Page 2 of 4", 50)
	page(second.testid("prev-page").AttrOr("href", ""), "1–50 of 182 devices", "Page 1 of 4", 0)
	last := page(second.testid("last-page").AttrOr("href", ""), "151–182 of 182 devices", "Page 4 of 4", 150)
	if last.testid("next-page").Length() != 0 {
		t.Error("the last page offers Next")
	}
	page("/devices?tab=ready&page=3", "101–150 of 182 devices", "Page 3 of 4", 100)
	for _, bad := range []string{"0", "-1", "two", "99999999"} {
		reader.get(t, "/devices?tab=ready&page="+bad).wantStatus(http.StatusUnprocessableEntity)
	}
}

// TestTriage filters Not registered by a failing check through its chip,
// and pastes a list of devices: the blade shows exactly those devices, the
// export follows, and the lines that name no device are listed.
func TestTriage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	reader := e.as(t, store.RoleServiceReader)

	t.Run("failing check chips", func(t *testing.T) {
		page := reader.get(t, "/devices?tab=not-registered").wantStatus(http.StatusOK)
		chips := page.doc().Find(`[data-testid="check-chips"] a.chip`)
		if chips.Length() == 0 {
			t.Fatal("Not registered shows no failing-check chips")
		}
		chip := chips.First()
		href := chip.AttrOr("href", "")
		check := strings.TrimPrefix(chip.AttrOr("data-testid", ""), "check-chip-")
		n, err := strconv.Atoi(strings.ReplaceAll(chip.Find(".count").Text(), ",", ""))
		if err != nil || n == 0 {
			t.Fatalf("chip %q has count %q", check, chip.Find(".count").Text())
		}
		filtered := reader.get(t, href).wantStatus(http.StatusOK)
		if got := filtered.text("result-count"); !strings.HasSuffix(" "+got, " "+views.Thousands(n)+" devices") && got != "1 device" {
			t.Errorf("the %s chip says %d, the filtered blade %q", check, n, got)
		}
		for _, id := range rowIDs(filtered) {
			failed := false
			for _, c := range e.device(t, id).Failures {
				failed = failed || string(c.Check) == check
			}
			if !failed {
				t.Errorf("the %s filter shows %s, which does not fail it", check, id)
			}
		}
		if on := filtered.doc().Find(`[data-testid="check-chip-`+check+`"]`).AttrOr("aria-current", ""); on != "true" {
			t.Errorf("the chip on shows aria-current=%q", on)
		}
		csv := reader.get(t, filtered.testid("export").AttrOr("href", "")).wantStatus(http.StatusOK)
		if lines := strings.Count(strings.TrimSpace(string(csv.body)), "\n"); lines != n {
			t.Errorf("the filtered export has %d rows, the chip says %d", lines, n)
		}
		reader.get(t, "/devices?tab=not-ready&check=no-such-check").wantStatus(http.StatusUnprocessableEntity)
	})

	t.Run("paste a list", func(t *testing.T) {
		ready := e.allRows(t, store.DeviceQuery{Tab: store.TabReady})
		text := ready[0].DisplayName + "\n" + strings.ToLower(ready[1].SerialNumber) + "\n" + ready[2].DeviceID + "\nNOT-A-DEVICE-42\n"
		res := reader.post(t, "/devices/lists", url.Values{"tab": {"ready"}, "entries": {text}}).wantStatus(http.StatusSeeOther)
		loc := res.header.Get("Location")
		if !strings.Contains(loc, "list=") {
			t.Fatalf("the paste sends the browser to %q", loc)
		}
		page := reader.get(t, loc).wantStatus(http.StatusOK)
		want := []string{ready[0].DeviceID, ready[1].DeviceID, ready[2].DeviceID}
		for _, r := range ready {
			if r.DisplayName == ready[0].DisplayName && r.DeviceID != ready[0].DeviceID {
				want = append(want, r.DeviceID)
			}
		}
		sameSet(t, "pasted rows", rowIDs(page), want)
		if got := page.text("list-not-found"); got != "NOT-A-DEVICE-42" {
			t.Errorf("not found %q", got)
		}
		// The list stays on the other tabs, and leaves with Show all devices.
		other := reader.get(t, page.testid("tab-not-ready").AttrOr("href", "")).wantStatus(http.StatusOK)
		if other.testid("list-banner").Length() == 0 {
			t.Error("the pasted list is lost on another tab")
		}
		all := reader.get(t, page.testid("list-clear").AttrOr("href", "")).wantStatus(http.StatusOK)
		if all.testid("list-banner").Length() != 0 || len(rowIDs(all)) <= len(want) {
			t.Error("Show all devices still shows the list")
		}
		for _, bad := range []string{"", " \n ,; "} {
			reader.post(t, "/devices/lists", url.Values{"tab": {"ready"}, "entries": {bad}}).wantStatus(http.StatusUnprocessableEntity)
		}
		reader.get(t, "/devices?tab=ready&list=999999").wantStatus(http.StatusNotFound)
	})
}

// TestActionOnAllMatching restores every Excluded device at once by naming
// the view instead of rows, and refuses a view too large for one action.
func TestActionOnAllMatching(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	admin := e.as(t, store.RoleServiceAdmin)
	ready := e.allRows(t, store.DeviceQuery{Tab: store.TabReady})
	if _, err := e.st.Deregister(e.ctx, []string{ready[0].DeviceID, ready[1].DeviceID}, "test"); err != nil {
		t.Fatal(err)
	}
	excluded := e.allRows(t, store.DeviceQuery{Tab: store.TabNotRegistered, Status: store.StatusExcluded})
	if len(excluded) < 3 {
		t.Fatalf("the fleet has %d Excluded devices; the test needs 3", len(excluded))
	}
	res := admin.postHX(t, "/devices/restore", url.Values{"all_matching": {"1"}, "tab": {"not-registered"}, "status": {"excluded"}}).wantStatus(http.StatusOK)
	if got := res.text("action-result"); !strings.Contains(got, "Restored "+strconv.Itoa(len(excluded))) {
		t.Errorf("toast %q, want %d restored", got, len(excluded))
	}
	if left := e.allRows(t, store.DeviceQuery{Tab: store.TabNotRegistered, Status: store.StatusExcluded}); len(left) != 0 {
		t.Errorf("%d Excluded devices left", len(left))
	}
	res = admin.postHX(t, "/devices/restore", url.Values{"all_matching": {"1"}, "tab": {"not-registered"}, "status": {"excluded"}}).wantStatus(http.StatusUnprocessableEntity)
	if got := res.text("error-message"); !strings.Contains(got, "No device matches") {
		t.Errorf("an empty view says %q", got)
	}
}

// withoutBOM checks that an export starts with the UTF-8 byte-order mark
// Excel needs, and returns the CSV after it.
func withoutBOM(t testing.TB, b []byte) []byte {
	t.Helper()
	rest, ok := bytes.CutPrefix(b, []byte("\ufeff"))
	if !ok {
		t.Fatalf("the export does not start with a UTF-8 byte-order mark: %q", truncate(b))
	}
	return rest
}

// TestSavedViews saves a filtered, sorted view with chosen columns, opens it,
// shares another with everyone, and deletes one: private views stay
// private, and only the owner deletes.
func TestSavedViews(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	admin := e.as(t, store.RoleServiceAdmin)
	reader := e.as(t, store.RoleServiceReader)

	form := url.Values{"name": {"Broad laptops"}, "tab": {"ready"}, "ring": {"broad"}, "q": {"lt"}, "sort": {"serial_number"},
		"columns": {"display_name,serial_number,ring"}}
	res := admin.post(t, "/devices/views", form).wantStatus(http.StatusSeeOther)
	loc := res.header.Get("Location")
	page := admin.get(t, loc).wantStatus(http.StatusOK)
	if got := page.doc().Find(`[data-testid="device-table"] thead th[data-column]`).Map(func(_ int, s *goquery.Selection) string { return s.AttrOr("data-column", "") }); strings.Join(got, ",") != "display_name,serial_number,ring" {
		t.Errorf("the view shows the columns %v", got)
	}
	wantPage, err := e.st.DevicePage(e.ctx, store.DeviceQuery{Tab: store.TabReady, Ring: store.RingBroad, Search: "lt", Sort: "serial_number", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range wantPage.Rows {
		want = append(want, r.DeviceID)
	}
	if got := rowIDs(page); !slices.Equal(got, want) {
		t.Errorf("the view shows %v, want %v", got, want)
	}
	if page.doc().Find(`[data-testid="saved-view"]`).Length() != 1 {
		t.Error("the saved view is not listed beside the tabs")
	}
	// Private: the reader does not see it, nor open it.
	if reader.get(t, "/devices").doc().Find(`[data-testid="saved-view"]`).Length() != 0 {
		t.Error("another user sees a private view")
	}
	reader.get(t, loc).wantStatus(http.StatusNotFound)

	// Shared: everyone sees it; only the owner deletes it.
	admin.post(t, "/devices/views", url.Values{"name": {"Not ready"}, "tab": {"not-ready"}, "shared": {"1"}}).wantStatus(http.StatusSeeOther)
	if reader.get(t, "/devices").doc().Find(`[data-testid="saved-view"]`).Length() != 1 {
		t.Error("the reader does not see the shared view")
	}
	views, err := e.st.Views(e.ctx, 0)
	if err != nil || len(views) != 1 {
		t.Fatalf("shared views %v (%v)", views, err)
	}
	reader.post(t, fmt.Sprintf("/devices/views/%d/delete", views[0].ID), nil).wantStatus(http.StatusNotFound)
	admin.post(t, fmt.Sprintf("/devices/views/%d/delete", views[0].ID), nil).wantStatus(http.StatusSeeOther)

	// A name is unique per owner; an empty one is refused.
	admin.post(t, "/devices/views", form).wantStatus(http.StatusConflict)
	admin.post(t, "/devices/views", url.Values{"name": {" "}, "tab": {"ready"}}).wantStatus(http.StatusUnprocessableEntity)
}

// TestRuleFilterOverHTTP filters a blade with a rule: the rows are the
// rule's, the rule stays in the URL of sorting and export, and a rule that
// does not parse is refused saying where.
func TestRuleFilterOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	reader := e.as(t, store.RoleServiceReader)
	const rule = `device.deviceModel -startsWith "Latitude"`
	page := reader.get(t, "/devices?tab=ready&size=200&rule="+url.QueryEscape(rule)).wantStatus(http.StatusOK)
	var want []string
	for _, r := range e.allRows(t, store.DeviceQuery{Tab: store.TabReady}) {
		if strings.HasPrefix(strings.ToLower(r.Model), "latitude") {
			want = append(want, r.DeviceID)
		}
	}
	if len(want) == 0 {
		t.Fatal("no Latitude on Ready: the test checks nothing")
	}
	sameSet(t, "rule rows", rowIDs(page), want)
	for _, id := range []string{"export", "sort-model"} {
		if href := page.testid(id).AttrOr("href", ""); !strings.Contains(href, "rule=") {
			t.Errorf("%s loses the rule: %s", id, href)
		}
	}
	res := reader.get(t, "/devices?tab=ready&rule="+url.QueryEscape(`device.deviceModel -startsWith`)).wantStatus(http.StatusUnprocessableEntity)
	if !strings.Contains(string(res.body), "position") && !strings.Contains(string(res.body), "expected") {
		t.Errorf("the refusal does not say where the rule is wrong:\n%s", truncate(res.body))
	}
}

// TestRuleFilterRingOverHTTP filters the Ready blade with the issue's
// example, which reads the ring: the rows are the Broad ring's Latitudes;
// the blade's preview checks the rule as it is typed and counts its
// devices, while the group rule editor refuses ring and says why.
func TestRuleFilterRingOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	reader := e.as(t, store.RoleServiceReader)
	const rule = `device.deviceModel -startsWith "Latitude" -and ring -eq "broad"`
	page := reader.get(t, "/devices?tab=ready&size=200&rule="+url.QueryEscape(rule)).wantStatus(http.StatusOK)
	var want []string
	for _, r := range e.allRows(t, store.DeviceQuery{Tab: store.TabReady, Ring: store.RingBroad}) {
		if strings.HasPrefix(strings.ToLower(r.Model), "latitude") {
			want = append(want, r.DeviceID)
		}
	}
	if len(want) == 0 {
		t.Fatal("no Latitude in the Broad ring: the test checks nothing")
	}
	sameSet(t, "rule rows", rowIDs(page), want)

	preview := reader.htmx(t, "/devices/rule-preview?rule="+url.QueryEscape(rule), "rule-preview").wantStatus(http.StatusOK)
	wantPreview, err := e.st.PreviewFilterRule(e.ctx, rule, 20)
	if err != nil {
		t.Fatal(err)
	}
	if got := preview.text("rule-match-count"); got != strconv.Itoa(wantPreview.Matches) {
		t.Errorf("the blade's preview counts %s, want %d", got, wantPreview.Matches)
	}
	misspelt := reader.htmx(t, "/devices/rule-preview?rule="+url.QueryEscape(`ring -eq "brod"`), "rule-preview").wantStatus(http.StatusOK)
	if !strings.Contains(string(misspelt.body), "unknown ring") {
		t.Errorf("the blade's preview of a misspelt ring:\n%s", truncate(misspelt.body))
	}
	group := reader.htmx(t, "/groups/rule-preview?rule="+url.QueryEscape(rule), "rule-preview").wantStatus(http.StatusOK)
	if !strings.Contains(string(group.body), "not by a group rule") {
		t.Errorf("the group rule editor does not refuse ring:\n%s", truncate(group.body))
	}
}
