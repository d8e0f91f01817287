package web_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"patchboard/handlers"
	"patchboard/store"
)

// --- API helpers --------------------------------------------------------------

// apiToken creates an API token on e's store and returns its value.
func (e *env) apiToken(t testing.TB, name string, role store.Role) string {
	t.Helper()
	_, value, err := e.st.CreateToken(e.ctx, name, role, "test")
	if err != nil {
		t.Fatalf("create token %s: %v", name, err)
	}
	return value
}

// api sends an API request with the bearer token (none when token is "")
// from a client without cookies. body is sent as is when it is a string or
// []byte, and encoded as JSON otherwise (nil: no body).
func (e *env) api(t testing.TB, token, method, path string, body any, hdr ...string) *response {
	t.Helper()
	var r *bytes.Reader
	switch b := body.(type) {
	case nil:
		r = bytes.NewReader(nil)
	case string:
		r = bytes.NewReader([]byte(b))
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		r = bytes.NewReader(j)
	}
	if token != "" {
		hdr = append([]string{"Authorization", "Bearer " + token}, hdr...)
	}
	if body != nil {
		hdr = append([]string{"Content-Type", "application/json"}, hdr...)
	}
	return e.newClient().do(t, method, path, r, hdr...)
}

// decode parses the JSON body into v.
func (r *response) decode(v any) {
	r.t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		r.t.Fatalf("%s: Content-Type %q, want JSON\n%s", r, ct, truncate(r.body))
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		r.t.Fatalf("%s: decode JSON: %v\n%s", r, err, truncate(r.body))
	}
}

// apiErrorBody is the API's error answer.
type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Pointer string `json:"pointer"`
			Field   string `json:"field"`
			Value   string `json:"value"`
			Reason  string `json:"reason"`
		} `json:"details"`
	} `json:"error"`
}

// wantAPIError fails unless the response is the error answer with this
// status and code, and returns it.
func (r *response) wantAPIError(status int, code string) apiErrorBody {
	r.t.Helper()
	var e apiErrorBody
	if r.status != status {
		r.t.Fatalf("%s, want %d %s\n%s", r, status, code, truncate(r.body))
	}
	r.decode(&e)
	if e.Error.Code != code || e.Error.Message == "" || e.Error.Details == nil {
		r.t.Fatalf("%s: error %+v, want code %q with a message and details\n%s", r, e.Error, code, truncate(r.body))
	}
	return e
}

// pointers lists the details' pointers (or fields), in order.
func (e apiErrorBody) pointers() []string {
	var out []string
	for _, d := range e.Error.Details {
		p := d.Pointer
		if p == "" {
			p = d.Field
		}
		out = append(out, p)
	}
	return out
}

// detail returns the reason given for a pointer (or field), or fails.
func (e apiErrorBody) reason(t testing.TB, ptr string) string {
	t.Helper()
	for _, d := range e.Error.Details {
		if d.Pointer == ptr || d.Pointer == "" && d.Field == ptr {
			return d.Reason
		}
	}
	t.Fatalf("no detail for %s in %+v", ptr, e.Error.Details)
	return ""
}

// record is a device as the API's PUT takes it: every inventory field as
// its text.
func record(d *store.Device) map[string]any {
	m := map[string]any{}
	for _, f := range store.InventoryFields {
		m[f.Key] = f.Value(d)
	}
	return m
}

func records(devs ...*store.Device) []map[string]any {
	out := make([]map[string]any, len(devs))
	for i, d := range devs {
		out[i] = record(d)
	}
	return out
}

// apiDeviceJSON is the part of a device answer the tests read.
type apiDeviceJSON struct {
	DeviceID             string   `json:"device_id"`
	DisplayName          string   `json:"display_name"`
	SerialNumber         string   `json:"serial_number"`
	AccountEnabled       bool     `json:"account_enabled"`
	InternetConnected    *bool    `json:"internet_connected"`
	UnreachableEndpoints []string `json:"unreachable_endpoints"`
	LastCheckin          *string  `json:"last_checkin"`
	Registration         struct {
		Status        *string  `json:"status"`
		Tab           *string  `json:"tab"`
		Reasons       []string `json:"reasons"`
		Ring          *string  `json:"ring"`
		RingBy        *string  `json:"ring_assigned_by"`
		RegisteredAt  *string  `json:"registered_at"`
		DiscoveredVia *string  `json:"discovered_via"`
	} `json:"registration"`
	Checks *struct {
		Phase   *string `json:"phase"`
		Results []struct {
			ID          string  `json:"id"`
			Name        string  `json:"name"`
			Passed      bool    `json:"passed"`
			NotReported bool    `json:"not_reported"`
			Reason      *string `json:"reason"`
			Remediation *string `json:"remediation"`
			WhoActs     *string `json:"who_acts"`
		} `json:"results"`
	} `json:"checks"`
}

func str(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// --- authentication and the route matrix -----------------------------------------

// TestAPIRouteMatrix walks every token-authenticated route of the table
// with a token of each role, a revoked, an unknown and a malformed token,
// no token, Basic credentials and a signed-in session cookie: only a valid
// token whose role grants the route's access gets through; refusals are
// JSON and audited.
func TestAPIRouteMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	dev := e.devicesWith(t, store.StatusActive, 1)[0]
	run, err := e.st.LastDiscoveryRun(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{
		"/api/v1/devices/:id":           "/api/v1/devices/" + dev.DeviceID,
		"/api/v1/discovery/:run":        "/api/v1/discovery/" + strconv.FormatInt(run.ID, 10),
		"/api/v1/releases/:id/expedite": "/api/v1/releases/1/expedite",
		"/api/v1/rings/:ring/schedule":  "/api/v1/rings/broad/schedule",
		"/api/v1/rings/:ring/pause":     "/api/v1/rings/broad/pause",
		"/api/v1/rings/:ring/resume":    "/api/v1/rings/broad/resume",
	}
	revoked := e.apiToken(t, "revoked", store.RoleServiceAdmin)
	if _, err := e.st.RevokeTokenByName(e.ctx, "revoked", "test"); err != nil {
		t.Fatal(err)
	}
	session := e.as(t, store.RoleGlobalAdmin)

	type caller struct {
		name  string
		role  store.Role // a valid token's role; "" for the rest
		token string
		hdr   []string
		c     *client // a session instead of a token
	}
	callers := []caller{
		{name: "service-admin", role: store.RoleServiceAdmin, token: e.apiToken(t, "service-admin", store.RoleServiceAdmin)},
		{name: "service-reader", role: store.RoleServiceReader, token: e.apiToken(t, "service-reader", store.RoleServiceReader)},
		{name: "reporter", role: store.RoleReporter, token: e.apiToken(t, "reporter", store.RoleReporter)},
		{name: "revoked", token: revoked},
		{name: "unknown", token: store.TokenPrefix + strings.Repeat("A", 43)},
		{name: "malformed", token: "not-a-token"},
		{name: "no-token"},
		{name: "basic", hdr: []string{"Authorization", "Basic " + "Z2xvYmFsOnB3"}},
		{name: "session-cookie", c: session},
	}
	var tested int
	for _, route := range e.srv.Routes {
		if !route.TokenAuth() {
			continue
		}
		tested++
		path := route.Path
		if strings.Contains(path, ":") {
			p, ok := paths[path]
			if !ok {
				t.Errorf("route %s %s has a parameter: give it a value in the paths of TestAPIRouteMatrix", route.Method, path)
				continue
			}
			path = p
		}
		var body any
		switch route.Method {
		case http.MethodPut:
			body = "[]"
		case http.MethodPost:
			body = "{}"
		}
		for _, cl := range callers {
			t.Run(fmt.Sprintf("%s %s/%s", route.Method, route.Path, cl.name), func(t *testing.T) {
				before := lastAuditID(t, e)
				var res *response
				if cl.c != nil {
					// A signed-in browser's request, CSRF token and all.
					hdr := []string{"X-CSRF-Token", cl.c.csrf(t), "Content-Type", "application/json"}
					var r *bytes.Reader
					if s, ok := body.(string); ok {
						r = bytes.NewReader([]byte(s))
					} else {
						r = bytes.NewReader(nil)
					}
					res = cl.c.do(t, route.Method, path, r, hdr...)
				} else {
					res = e.api(t, cl.token, route.Method, path, body, cl.hdr...)
				}
				if cc := res.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("%s: Cache-Control %q, want no-store", res, cc)
				}
				tok := store.APIToken{Name: cl.name, Role: cl.role}
				switch {
				case cl.role == "":
					res.wantAPIError(http.StatusUnauthorized, "unauthorized")
					if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("%s: WWW-Authenticate %q", res, res.header.Get("WWW-Authenticate"))
					}
				case !tok.Can(route.Access):
					res.wantAPIError(http.StatusForbidden, "forbidden")
					wantRefusal(t, e, res, tok.Actor(), before)
				default:
					if res.status == http.StatusUnauthorized || res.status == http.StatusForbidden || res.status >= 500 {
						t.Errorf("%s, want the handler's answer\n%s", res, truncate(res.body))
					}
					if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
						t.Errorf("%s: Content-Type %q", res, ct)
					}
				}
			})
		}
	}
	if tested < 10 {
		t.Errorf("only %d API routes in the table", tested)
	}
	// Failed authentications with a token are audited, revoked ones under
	// the token's name.
	e.wantAudit(t, "api.auth", "token:revoked", store.OutcomeFailure, "GET /api/v1/devices")
	e.wantAudit(t, "api.auth", "unknown token", store.OutcomeFailure, "GET /api/v1/devices")
}

// TestAPIErrorsAreJSON checks that everything under /api/ answers JSON:
// unknown endpoints, wrong methods, and that the token's last use shows.
func TestAPIErrorsAreJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.apiToken(t, "admin", store.RoleServiceAdmin)
	e.api(t, tok, http.MethodGet, "/api/v1/nope", nil).wantAPIError(http.StatusNotFound, "not_found")
	e.api(t, tok, http.MethodDelete, "/api/v1/devices", nil).wantAPIError(http.StatusMethodNotAllowed, "method_not_allowed")
	e.api(t, "", http.MethodGet, "/api/v2/devices", nil).wantAPIError(http.StatusNotFound, "not_found")
	// Pages are still pages.
	if res := e.newClient().get(t, "/nope"); strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: a page answered JSON", res)
	}
	tokens, err := e.st.Tokens(e.ctx)
	if err != nil || len(tokens) != 1 || !tokens[0].LastUsedAt.IsZero() {
		t.Fatalf("an unmatched route must not count as a use: %+v %v", tokens, err)
	}
	e.api(t, tok, http.MethodGet, "/api/v1/devices", nil).wantStatus(http.StatusOK)
	tokens, _ = e.st.Tokens(e.ctx)
	if !tokens[0].LastUsedAt.Equal(testNow) {
		t.Errorf("last used %v, want %v", tokens[0].LastUsedAt, testNow)
	}
}

// --- PUT /api/v1/devices ---------------------------------------------------------

func TestAPIPutDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.apiToken(t, "w365", store.RoleServiceAdmin)
	a, b, c := testDevice(1), testDevice(2), testDevice(3)

	type counts struct{ Records, New, Updated, Unchanged int }
	put := func(body any) counts {
		t.Helper()
		var got counts
		e.api(t, tok, http.MethodPut, "/api/v1/devices", body).wantStatus(http.StatusOK).decode(&got)
		return got
	}
	if got := put(records(a, b, c)); got != (counts{3, 3, 0, 0}) {
		t.Errorf("first put: %+v", got)
	}
	if got := put(records(a, b, c)); got != (counts{3, 0, 0, 3}) {
		t.Errorf("same again: %+v", got)
	}
	b.Model = "Latitude 5450"
	if got := put(records(a, b)); got != (counts{2, 0, 1, 1}) {
		t.Errorf("one changed: %+v", got)
	}
	if got := put("[]"); got != (counts{}) {
		t.Errorf("empty batch: %+v", got)
	}
	e.wantAudit(t, store.ActionImportDevice, "token:w365", store.OutcomeSuccess, "PUT /api/v1/devices")

	// JSON types: booleans, null, an array of endpoints; omitted fields
	// take their defaults, as missing CSV columns do.
	typed := `[{"device_id": "{00000000-0000-4000-8000-0000000000AA}", "display_name": "CPC-AA", "account_enabled": false,
		"internet_connected": null, "unreachable_endpoints": ["Teams", "edge"], "last_checkin": "2026-10-31T12:00:00+02:00"}]`
	if got := put(typed); got.New != 1 {
		t.Errorf("typed record: %+v", got)
	}
	var d apiDeviceJSON
	e.api(t, tok, http.MethodGet, "/api/v1/devices/00000000-0000-4000-8000-0000000000aa", nil).wantStatus(http.StatusOK).decode(&d)
	if d.AccountEnabled || d.InternetConnected != nil || strings.Join(d.UnreachableEndpoints, ";") != "teams;edge" ||
		str(d.LastCheckin) != "2026-10-31T10:00:00Z" || d.Registration.Status != nil || d.Checks == nil || d.Checks.Phase != nil || len(d.Checks.Results) != 0 {
		t.Errorf("typed record read back: %+v", d)
	}

	// All or nothing, every problem named with a pointer.
	bad := records(testDevice(10), testDevice(11), testDevice(12), testDevice(13), testDevice(14))
	bad[1]["architecture"] = "sparc"
	bad[2]["colour"] = "red"
	bad[2]["serialNumber"] = "x"
	bad[2]["a/b"] = "y"
	delete(bad[3], "display_name")
	bad[4]["device_id"] = testDevice(10).DeviceID
	bad[4]["last_checkin"] = 12
	res := e.api(t, tok, http.MethodPut, "/api/v1/devices", bad)
	ae := res.wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
	want := []string{"/1/architecture", "/2/a~1b", "/2/colour", "/2/serialNumber", "/3/display_name", "/4/last_checkin"}
	if got := ae.pointers(); !slices.Equal(got, want) {
		t.Errorf("pointers %v, want %v\n%s", got, want, res.body)
	}
	if r := ae.reason(t, "/2/serialNumber"); !strings.Contains(r, "did you mean serial_number") {
		t.Errorf("unknown field reason %q", r)
	}
	if r := ae.reason(t, "/1/architecture"); !strings.Contains(r, `"sparc" is not one of x64, x86, arm64`) {
		t.Errorf("architecture reason %q", r)
	}
	if _, err := e.st.Device(e.ctx, testDevice(10).DeviceID); err == nil {
		t.Error("a rejected batch wrote its valid records")
	}
	// A duplicate is reported once the record is otherwise valid.
	dup := records(testDevice(20), testDevice(20))
	ae = e.api(t, tok, http.MethodPut, "/api/v1/devices", dup).wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
	if r := ae.reason(t, "/1/device_id"); !strings.Contains(r, "already at /0") {
		t.Errorf("duplicate reason %q", r)
	}

	// Malformed bodies are 400.
	for _, body := range []string{"", "[{", `{"device_id": "x"}`, "[] []", "not json"} {
		e.api(t, tok, http.MethodPut, "/api/v1/devices", body).wantAPIError(http.StatusBadRequest, "bad_request")
	}
	// Bodies over 8 MiB are 413, however they start.
	huge := make([]byte, handlers.MaxAPIBody+1)
	for i := range huge {
		huge[i] = ' '
	}
	huge[0] = '['
	e.api(t, tok, http.MethodPut, "/api/v1/devices", huge).wantAPIError(http.StatusRequestEntityTooLarge, "payload_too_large")
	var big bytes.Buffer
	big.WriteString("[")
	for i := 0; big.Len() <= handlers.MaxAPIBody; i++ {
		if i > 0 {
			big.WriteString(",")
		}
		j, _ := json.Marshal(record(testDevice(1000 + i)))
		big.Write(j)
	}
	big.WriteString("]")
	e.api(t, tok, http.MethodPut, "/api/v1/devices", big.Bytes()).wantAPIError(http.StatusRequestEntityTooLarge, "payload_too_large")
	if _, err := e.st.Device(e.ctx, testDevice(1000).DeviceID); err == nil {
		t.Error("an oversized batch wrote records")
	}
}

// --- reading -----------------------------------------------------------------------

func TestAPIListDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	tok := e.apiToken(t, "reader", store.RoleServiceReader)
	counts, err := e.st.Counts(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	type page struct {
		Devices     []apiDeviceJSON `json:"devices"`
		Total       int             `json:"total"`
		TotalCapped bool            `json:"total_capped"`
		NextCursor  *string         `json:"next_cursor"`
	}
	get := func(q string) page {
		t.Helper()
		var p page
		e.api(t, tok, http.MethodGet, "/api/v1/devices?"+q, nil).wantStatus(http.StatusOK).decode(&p)
		return p
	}

	first := get("")
	if first.Total != counts.Tab(store.TabReady) || len(first.Devices) != min(100, first.Total) {
		t.Fatalf("default page: total %d (want %d), %d rows", first.Total, counts.Tab(store.TabReady), len(first.Devices))
	}
	// Walk a tab with the cursor: the rows are the blade's, in its order.
	var ids []string
	q := url.Values{"tab": {"not-registered"}, "limit": {"37"}}
	for pages := 0; ; pages++ {
		p := get(q.Encode())
		for _, d := range p.Devices {
			ids = append(ids, d.DeviceID)
			if str(d.Registration.Tab) != "not-registered" {
				t.Fatalf("row on tab %s", str(d.Registration.Tab))
			}
		}
		if p.NextCursor == nil {
			break
		}
		if pages > 100 {
			t.Fatal("the cursor does not end")
		}
		q.Set("cursor", *p.NextCursor)
	}
	var want []string
	for _, r := range e.allRows(t, store.DeviceQuery{Tab: store.TabNotRegistered}) {
		want = append(want, r.DeviceID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("walked %d rows, the blade has %d (or the order differs)", len(ids), len(want))
	}

	// Filters: a status selects its tab; ring; search.
	p := get("status=prerequisites-failed&limit=1000")
	if p.Total != counts.Status[store.StatusPrerequisitesFailed] || len(p.Devices) != p.Total {
		t.Errorf("status filter: %d rows of %d, want %d", len(p.Devices), p.Total, counts.Status[store.StatusPrerequisitesFailed])
	}
	for _, d := range p.Devices {
		if str(d.Registration.Status) != "prerequisites-failed" || len(d.Registration.Reasons) == 0 {
			t.Fatalf("status filter row %+v", d.Registration)
		}
	}
	for _, d := range get("tab=ready&ring=broad&limit=1000").Devices {
		if str(d.Registration.Ring) != "broad" {
			t.Fatalf("ring filter row %+v", d.Registration)
		}
	}
	target := first.Devices[3]
	p = get("q=" + url.QueryEscape(strings.ToLower(target.SerialNumber)))
	if len(p.Devices) != 1 || p.Devices[0].DeviceID != target.DeviceID {
		t.Errorf("search by serial %s: %+v", target.SerialNumber, p.Devices)
	}

	// Every inventory field is in the answer, with the registration.
	var raw struct {
		Devices []map[string]json.RawMessage `json:"devices"`
	}
	e.api(t, tok, http.MethodGet, "/api/v1/devices?limit=1", nil).decode(&raw)
	var keys []string
	for k := range raw.Devices[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var wantKeys []string
	for _, f := range store.InventoryFields {
		wantKeys = append(wantKeys, f.Key)
	}
	wantKeys = append(wantKeys, "registration")
	sort.Strings(wantKeys)
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("device keys %v, want %v", keys, wantKeys)
	}

	// Bad parameters are named.
	tests := []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=ten", "limit"}, {"tab=sideways", "tab"},
		{"tab=not-ready&status=active", "status"}, {"ring=slow", "ring"}, {"status=asleep", "status"},
	}
	for _, tt := range tests {
		ae := e.api(t, tok, http.MethodGet, "/api/v1/devices?"+tt.query, nil).wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
		if got := ae.pointers(); len(got) != 1 || got[0] != tt.field {
			t.Errorf("%s: details %v, want one for %s", tt.query, got, tt.field)
		}
	}
	e.api(t, tok, http.MethodGet, "/api/v1/devices?cursor=garbage", nil).wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
}

func TestAPIDeviceDetail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	tok := e.apiToken(t, "reader", store.RoleServiceReader)
	get := func(id string) apiDeviceJSON {
		t.Helper()
		var d apiDeviceJSON
		e.api(t, tok, http.MethodGet, "/api/v1/devices/"+id, nil).wantStatus(http.StatusOK).decode(&d)
		return d
	}
	active := e.devicesWith(t, store.StatusActive, 1)[0]
	d := get("{" + strings.ToUpper(active.DeviceID) + "}")
	if d.DeviceID != active.DeviceID || str(d.Registration.Status) != "active" || str(d.Registration.Ring) != string(active.Ring) ||
		d.Registration.RegisteredAt == nil || d.Checks == nil || str(d.Checks.Phase) != "readiness" || len(d.Checks.Results) != len(store.ReadinessChecks) {
		t.Fatalf("active device: %+v", d)
	}
	for i, c := range d.Checks.Results {
		if c.ID != string(store.ReadinessChecks[i]) || !c.Passed || c.Reason != nil || c.WhoActs != nil || c.Name == "" {
			t.Errorf("readiness check %d: %+v", i, c)
		}
	}

	failed := e.devicesWith(t, store.StatusPrerequisitesFailed, 1)[0]
	d = get(failed.DeviceID)
	if str(d.Checks.Phase) != "prerequisites" || len(d.Checks.Results) != len(store.PrerequisiteChecks) {
		t.Fatalf("failed device checks: %+v", d.Checks)
	}
	failing := 0
	for _, c := range d.Checks.Results {
		if c.Passed {
			continue
		}
		failing++
		if c.Reason == nil || c.Remediation == nil || str(c.WhoActs) != "Customer" {
			t.Errorf("failing check without reason, remediation or who acts: %+v", c)
		}
	}
	if failing == 0 || failing != len(d.Registration.Reasons) || d.Registration.Reasons[0] != string(failed.Reasons[0]) {
		t.Errorf("%d failing checks, reasons %v (stored %v)", failing, d.Registration.Reasons, failed.Reasons)
	}

	e.api(t, tok, http.MethodGet, "/api/v1/devices/"+testDevice(999).DeviceID, nil).wantAPIError(http.StatusNotFound, "not_found")
	e.api(t, tok, http.MethodGet, "/api/v1/devices/not-a-guid", nil).wantAPIError(http.StatusNotFound, "not_found")
}

// --- registrations -------------------------------------------------------------------

type registrationResponse struct {
	Results []struct {
		DeviceID     string  `json:"device_id"`
		Result       string  `json:"result"`
		SerialNumber *string `json:"serial_number"`
		Status       *string `json:"status"`
		Ring         *string `json:"ring"`
		RingBy       *string `json:"ring_assigned_by"`
		Failures     []struct {
			ID          string  `json:"id"`
			Reason      *string `json:"reason"`
			Remediation *string `json:"remediation"`
			WhoActs     *string `json:"who_acts"`
		} `json:"failures"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"results"`
	Registered          int `json:"registered"`
	PrerequisitesFailed int `json:"prerequisites_failed"`
	AlreadyRegistered   int `json:"already_registered"`
	Excluded            int `json:"excluded"`
	NotFound            int `json:"not_found"`
}

func TestAPIRegistrations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.apiToken(t, "w365", store.RoleServiceAdmin)
	cloudPC := func(d *store.Device) { d.DeviceKind = store.KindCloudPC; d.Manufacturer = "Microsoft Corporation" }
	pass := testDevice(1, cloudPC)
	fail := testDevice(2, cloudPC, func(d *store.Device) { d.Management = store.ManagementNone; d.Edition = "Home" })
	excluded := testDevice(3, cloudPC)
	member := testDevice(4)
	e.register(t, member) // through the group and discovery
	e.api(t, tok, http.MethodPut, "/api/v1/devices", records(pass, fail, excluded)).wantStatus(http.StatusOK)

	register := func(ids ...string) registrationResponse {
		t.Helper()
		var r registrationResponse
		e.api(t, tok, http.MethodPost, "/api/v1/registrations", map[string]any{"device_ids": ids}).wantStatus(http.StatusOK).decode(&r)
		return r
	}
	r := register(excluded.DeviceID)
	if r.Registered != 1 {
		t.Fatalf("%+v", r)
	}
	e.api(t, tok, http.MethodPost, "/api/v1/devices/deregister", map[string]any{"device_ids": []string{excluded.DeviceID}}).wantStatus(http.StatusOK)

	unknown := testDevice(99).DeviceID
	r = register(pass.DeviceID, fail.DeviceID, member.DeviceID, excluded.DeviceID, unknown, strings.ToUpper(pass.DeviceID))
	if r.Registered != 1 || r.PrerequisitesFailed != 1 || r.AlreadyRegistered != 1 || r.Excluded != 1 || r.NotFound != 1 || len(r.Results) != 5 {
		t.Fatalf("counts: %+v", r)
	}
	got := r.Results[0]
	if got.DeviceID != pass.DeviceID || got.Result != "registered" || str(got.Status) != "active" || got.Ring == nil ||
		str(got.RingBy) != "service" || str(got.SerialNumber) != pass.SerialNumber || len(got.Failures) != 0 || got.Error != nil {
		t.Errorf("registered: %+v", got)
	}
	got = r.Results[1]
	if got.Result != "prerequisites-failed" || str(got.Status) != "prerequisites-failed" || got.Ring != nil || len(got.Failures) != 2 ||
		got.Failures[0].ID != string(store.CheckIntuneOrCloudAttached) || got.Failures[1].ID != string(store.CheckWindowsOS) ||
		got.Failures[0].Reason == nil || got.Failures[0].Remediation == nil || str(got.Failures[0].WhoActs) != "Customer" {
		t.Errorf("failed: %+v", got)
	}
	if got = r.Results[2]; got.Result != "already-registered" || str(got.Status) != "active" || got.Ring == nil {
		t.Errorf("already registered: %+v", got)
	}
	if got = r.Results[3]; got.Result != "excluded" || got.Error == nil || got.Error.Code != "excluded" || !strings.Contains(got.Error.Message, "restore") {
		t.Errorf("excluded: %+v", got)
	}
	if got = r.Results[4]; got.Result != "not-found" || got.DeviceID != unknown || got.Error == nil || got.Error.Code != "not_found" {
		t.Errorf("unknown: %+v", got)
	}
	e.wantAudit(t, store.ActionRegister, "token:w365", store.OutcomeSuccess, pass.DeviceID+" (serial "+pass.SerialNumber+")")

	// The blades show it; the directly registered device is no group
	// member and stays registered at later discoveries.
	rec := e.device(t, pass.DeviceID)
	if rec.Status != store.StatusActive || rec.DiscoveredVia != store.DirectRegistrationVia {
		t.Fatalf("stored: %+v", rec.Registration)
	}
	var run struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	}
	e.api(t, tok, http.MethodPost, "/api/v1/discovery", nil).wantStatus(http.StatusAccepted).decode(&run)
	waitRun(t, e, tok, run.ID)
	if rec := e.device(t, pass.DeviceID); rec.Status != store.StatusActive || rec.Ring != store.Ring(*r.Results[0].Ring) {
		t.Errorf("after discovery: %+v", rec.Registration)
	}
	if rec := e.device(t, fail.DeviceID); rec.Status != "" {
		t.Errorf("a failed non-member after discovery: %+v, want off the blades", rec.Registration)
	}

	// Bad requests.
	tests := []struct {
		body   string
		status int
		code   string
		ptr    string
	}{
		{`{}`, 422, "validation_failed", "/device_ids"},
		{`{"device_ids": []}`, 422, "validation_failed", "/device_ids"},
		{`{"device_ids": "x"}`, 422, "validation_failed", "/device_ids"},
		{`{"device_ids": [1]}`, 422, "validation_failed", "/device_ids"},
		{`{"device_ids": ["x"], "ring": "test"}`, 422, "validation_failed", "/ring"},
		{`{"device_ids": [`, 400, "bad_request", ""},
		{``, 400, "bad_request", ""},
		{`[]`, 400, "bad_request", ""},
		{`{"device_ids": ["x"]} {}`, 400, "bad_request", ""},
	}
	for _, tt := range tests {
		ae := e.api(t, tok, http.MethodPost, "/api/v1/registrations", tt.body).wantAPIError(tt.status, tt.code)
		if tt.ptr != "" && (len(ae.pointers()) != 1 || ae.pointers()[0] != tt.ptr) {
			t.Errorf("%s: pointers %v, want %s", tt.body, ae.pointers(), tt.ptr)
		}
	}
	many := make([]string, store.MaxRegistrationBatch+1)
	for i := range many {
		many[i] = testDevice(i).DeviceID
	}
	e.api(t, tok, http.MethodPost, "/api/v1/registrations", map[string]any{"device_ids": many}).wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
}

// waitRun polls a discovery run over the API until it ends.
func waitRun(t *testing.T, e *env, tok string, id int64) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var run map[string]any
		e.api(t, tok, http.MethodGet, fmt.Sprintf("/api/v1/discovery/%d", id), nil).wantStatus(http.StatusOK).decode(&run)
		if run["state"] != "running" {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("discovery run %d still running", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// --- discovery ---------------------------------------------------------------------

func TestAPIDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.apiToken(t, "w365", store.RoleServiceAdmin)
	// Enough devices that a first run lasts long enough to be joined.
	const n = 6000
	devs := make([]*store.Device, n)
	ids := make([]string, n)
	for i := range devs {
		devs[i] = testDevice(i + 1)
		ids[i] = devs[i].DeviceID
	}
	if _, err := e.st.UpsertDevices(e.ctx, devs, "test", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddGroupDevices(e.ctx, store.RegistrationGroupName, ids, "test"); err != nil {
		t.Fatal(err)
	}

	type run struct {
		ID         int64   `json:"id"`
		Trigger    string  `json:"trigger"`
		Actor      string  `json:"actor"`
		State      string  `json:"state"`
		StartedAt  string  `json:"started_at"`
		FinishedAt *string `json:"finished_at"`
		Registered int     `json:"registered"`
		Candidates int     `json:"candidates"`
	}
	var first, second run
	res := e.api(t, tok, http.MethodPost, "/api/v1/discovery", nil).wantStatus(http.StatusAccepted)
	res.decode(&first)
	e.api(t, tok, http.MethodPost, "/api/v1/discovery", "{}").wantStatus(http.StatusAccepted).decode(&second)
	if res.header.Get("Location") != fmt.Sprintf("/api/v1/discovery/%d", first.ID) || first.Trigger != "api" || first.Actor != "token:w365" {
		t.Errorf("started run %+v, Location %q", first, res.header.Get("Location"))
	}
	if second.ID != first.ID {
		t.Errorf("a request while run %d is going started run %d instead of joining it", first.ID, second.ID)
	}
	done := waitRun(t, e, tok, first.ID)
	if done["state"] != "completed" || done["registered"] != float64(n) || done["candidates"] != float64(n) || done["finished_at"] == nil {
		t.Errorf("finished run: %v", done)
	}
	e.wantAudit(t, store.ActionDiscovery, "token:w365", store.OutcomeSuccess, "api")

	e.api(t, tok, http.MethodGet, "/api/v1/discovery/999999", nil).wantAPIError(http.StatusNotFound, "not_found")
	e.api(t, tok, http.MethodGet, "/api/v1/discovery/latest", nil).wantAPIError(http.StatusNotFound, "not_found")
	ae := e.api(t, tok, http.MethodPost, "/api/v1/discovery", `{"force": true}`).wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
	if p := ae.pointers(); len(p) != 1 || p[0] != "/force" {
		t.Errorf("pointers %v", p)
	}

	// A run going in another process (the CLI beside the server) is a
	// conflict: that process holds the discovery lease and has recorded its run.
	lock, err := os.OpenFile(e.path+"-discovery.lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	// The server releases its lease just after it records the run: the
	// run reads completed a moment before the lease is free.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			t.Fatalf("take the discovery lease: %v", err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+e.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().Unix()
	if _, err := db.Exec(`INSERT INTO discovery_runs (trigger, actor, state, started_at, heartbeat_at) VALUES ('cli', 'cli:other', 'running', ?, ?)`, now, now); err != nil {
		t.Fatal(err)
	}
	ae = e.api(t, tok, http.MethodPost, "/api/v1/discovery", nil).wantAPIError(http.StatusConflict, "conflict")
	if !strings.Contains(ae.Error.Message, "cli:other") {
		t.Errorf("conflict message %q", ae.Error.Message)
	}
	// The other process dies (SIGKILL): the system drops its lock, and the
	// next request starts a run at once, recording the dead one as interrupted.
	lock.Close()
	var started struct {
		ID int64 `json:"id"`
	}
	e.api(t, tok, http.MethodPost, "/api/v1/discovery", nil).wantStatus(http.StatusAccepted).decode(&started)
	var state string
	if err := db.QueryRow(`SELECT state FROM discovery_runs WHERE actor = 'cli:other'`).Scan(&state); err != nil || state != "interrupted" {
		t.Errorf("dead run's state %q %v, want interrupted", state, err)
	}
	waitRun(t, e, tok, started.ID)
}

// --- device actions ------------------------------------------------------------------

func TestAPIDeviceActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	tok := e.apiToken(t, "ops", store.RoleServiceAdmin)
	active := e.devicesWith(t, store.StatusActive, 2)
	notReg := e.devicesWith(t, store.StatusPrerequisitesFailed, 1)[0]
	type result struct{ Changed, Unchanged []string }
	act := func(path string, body any) result {
		t.Helper()
		var r result
		e.api(t, tok, http.MethodPost, "/api/v1/devices/"+path, body).wantStatus(http.StatusOK).decode(&r)
		return r
	}

	r := act("assign-ring", map[string]any{"device_ids": []string{active[0].DeviceID}, "ring": "Test"})
	if !slices.Equal(r.Changed, []string{active[0].DeviceID}) || len(r.Unchanged) != 0 {
		t.Errorf("assign: %+v", r)
	}
	if rec := e.device(t, active[0].DeviceID); rec.Ring != store.RingTest || rec.RingBy != store.RingByAdmin || rec.RingActor != "token:ops" {
		t.Errorf("stored ring %+v", rec.Registration)
	}
	if r = act("assign-ring", map[string]any{"device_ids": []string{active[0].DeviceID}, "ring": "test"}); len(r.Unchanged) != 1 {
		t.Errorf("assign again: %+v", r)
	}
	e.wantAudit(t, store.ActionAssignRing, "token:ops", store.OutcomeSuccess, active[0].DeviceID+" (serial "+active[0].SerialNumber+")")

	// One refusal refuses all; each refused device is pointed at. Unknown
	// devices are refused first, then those in the wrong state.
	unknown := testDevice(999).DeviceID
	ae := e.api(t, tok, http.MethodPost, "/api/v1/devices/assign-ring",
		map[string]any{"device_ids": []string{active[1].DeviceID, notReg.DeviceID, unknown}, "ring": "first"}).
		wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
	if r := ae.reason(t, "/device_ids/2"); r != "the device was not found" || len(ae.pointers()) != 1 {
		t.Errorf("unknown device: %v %q", ae.pointers(), r)
	}
	ae = e.api(t, tok, http.MethodPost, "/api/v1/devices/assign-ring",
		map[string]any{"device_ids": []string{active[1].DeviceID, strings.ToUpper(notReg.DeviceID)}, "ring": "first"}).
		wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
	if r := ae.reason(t, "/device_ids/1"); !strings.Contains(r, "Prerequisites failed") || len(ae.pointers()) != 1 {
		t.Errorf("refusal: %v %q", ae.pointers(), r)
	}
	if rec := e.device(t, active[1].DeviceID); rec.Ring != active[1].Ring || rec.RingBy != store.RingByService {
		t.Errorf("a refused action moved a device: %+v", rec.Registration)
	}
	for _, tt := range []struct {
		body string
		ptr  string
	}{
		{`{"device_ids": ["` + active[1].DeviceID + `"]}`, "/ring"},
		{`{"device_ids": ["` + active[1].DeviceID + `"], "ring": "slow"}`, "/ring"},
		{`{"device_ids": [], "ring": "test"}`, "/device_ids"},
		{`{"device_ids": ["` + active[1].DeviceID + `"], "ring": 3}`, "/ring"},
	} {
		ae := e.api(t, tok, http.MethodPost, "/api/v1/devices/assign-ring", tt.body).wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
		if p := ae.pointers(); len(p) != 1 || p[0] != tt.ptr {
			t.Errorf("%s: pointers %v, want %s", tt.body, p, tt.ptr)
		}
	}

	ids := map[string]any{"device_ids": []string{active[1].DeviceID}}
	if r = act("deregister", ids); len(r.Changed) != 1 {
		t.Errorf("deregister: %+v", r)
	}
	if rec := e.device(t, active[1].DeviceID); rec.Status != store.StatusExcluded {
		t.Errorf("deregistered: %+v", rec.Registration)
	}
	if r = act("deregister", ids); len(r.Unchanged) != 1 {
		t.Errorf("deregister again: %+v", r)
	}
	if r = act("restore", ids); len(r.Changed) != 1 {
		t.Errorf("restore: %+v", r)
	}
	ae = e.api(t, tok, http.MethodPost, "/api/v1/devices/restore", ids).wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
	if r := ae.reason(t, "/device_ids/0"); !strings.Contains(r, "not excluded") {
		t.Errorf("restore refusal %q", r)
	}
	e.api(t, tok, http.MethodPost, "/api/v1/devices/deregister", `{"device_ids": ["`+unknown+`"], "ring": "test"}`).
		wantAPIError(http.StatusUnprocessableEntity, "validation_failed")
	e.wantAudit(t, store.ActionDeregister, "token:ops", store.OutcomeSuccess, active[1].DeviceID)
	e.wantAudit(t, store.ActionRestore, "token:ops", store.OutcomeSuccess, active[1].DeviceID)
}

// --- the settings page ----------------------------------------------------------------

var newTokenValue = regexp.MustCompile(`pbt_[A-Za-z0-9_-]{43}`)

func TestTokensSettingsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := e.as(t, store.RoleGlobalAdmin)
	res := admin.get(t, "/settings/tokens").wantStatus(http.StatusOK)
	if res.testid("tokens-empty").Length() != 1 || res.testid("nav-settings").Length() != 1 {
		t.Fatalf("empty settings page:\n%s", truncate(res.body))
	}
	if res := e.as(t, store.RoleIntuneAdmin).get(t, "/devices"); res.testid("nav-settings").Length() != 0 {
		t.Error("the Settings link shows for a role that cannot manage settings")
	}

	res = admin.post(t, "/settings/tokens/create", url.Values{"name": {"Windows 365"}, "role": {"service-admin"}}).wantStatus(http.StatusOK)
	value, _ := res.testid("new-token").Attr("value")
	if !newTokenValue.MatchString(value) || res.testid("token-row").Length() != 1 {
		t.Fatalf("created token %q:\n%s", value, truncate(res.body))
	}
	if res.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the page showing a token may be cached: %q", res.header.Get("Cache-Control"))
	}
	e.wantAudit(t, store.ActionTokenCreate, emailOf(store.RoleGlobalAdmin), store.OutcomeSuccess, "token:Windows 365")
	if strings.Contains(string(admin.get(t, "/settings/tokens").body), value) {
		t.Error("the list shows the token again")
	}

	// The token works; the list shows its use.
	e.api(t, value, http.MethodGet, "/api/v1/devices", nil).wantStatus(http.StatusOK)
	res = admin.get(t, "/settings/tokens")
	if got := strings.TrimSpace(res.testid("token-last-used").Text()); got != "just now" {
		t.Errorf("last used %q", got)
	}

	// Refusals keep the form.
	res = admin.post(t, "/settings/tokens/create", url.Values{"name": {"windows 365"}, "role": {"service-reader"}}).wantStatus(http.StatusUnprocessableEntity)
	if !strings.Contains(res.text("token-error"), "already in use") || res.testid("new-token").Length() != 0 {
		t.Errorf("duplicate name:\n%s", truncate(res.body))
	}
	res = admin.post(t, "/settings/tokens/create", url.Values{"name": {"root"}, "role": {"global-admin"}}).wantStatus(http.StatusUnprocessableEntity)
	if !strings.Contains(res.text("token-error"), "service-admin, service-reader") {
		t.Errorf("bad role:\n%s", truncate(res.body))
	}
	// CSRF applies to the settings forms.
	admin.postRaw(t, "/settings/tokens/create", url.Values{"name": {"x"}, "role": {"service-reader"}}).wantStatus(http.StatusForbidden)

	tokens, err := e.st.Tokens(e.ctx)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("%+v %v", tokens, err)
	}
	admin.post(t, "/settings/tokens/revoke", url.Values{"id": {strconv.FormatInt(tokens[0].ID, 10)}}).wantRedirect("/settings/tokens")
	e.api(t, value, http.MethodGet, "/api/v1/devices", nil).wantAPIError(http.StatusUnauthorized, "unauthorized")
	res = admin.get(t, "/settings/tokens")
	if got := strings.TrimSpace(res.testid("token-state").Text()); !strings.HasPrefix(got, "Revoked") || res.testid("token-revoke").Length() != 0 {
		t.Errorf("revoked token state %q", got)
	}
	e.wantAudit(t, store.ActionTokenRevoke, emailOf(store.RoleGlobalAdmin), store.OutcomeSuccess, "token:Windows 365")
	admin.post(t, "/settings/tokens/revoke", url.Values{"id": {"12345"}}).wantStatus(http.StatusNotFound)
}

// --- the OpenAPI document ---------------------------------------------------------------

// TestOpenAPIDocument keeps the document true: every operation it
// describes is a route of the table, every API route is described (methods
// too), every reference resolves, and the device schema has the fields the
// API answers.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	tok := e.apiToken(t, "reader", store.RoleServiceReader)
	var doc map[string]any
	e.api(t, tok, http.MethodGet, "/api/v1/openapi.json", nil).wantStatus(http.StatusOK).decode(&doc)

	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Fatalf("openapi %q, want 3.x", v)
	}
	servers, _ := doc["servers"].([]any)
	base := ""
	if len(servers) == 1 {
		base, _ = servers[0].(map[string]any)["url"].(string)
	}
	if base != "/api/v1" {
		t.Fatalf("servers %v, want one with url /api/v1", servers)
	}

	routes := map[string]bool{}
	for _, r := range e.srv.Routes {
		if r.TokenAuth() {
			if !strings.HasPrefix(r.Path, base+"/") {
				t.Errorf("API route %s %s is outside %s", r.Method, r.Path, base)
			}
			routes[r.Method+" "+r.Path] = true
		}
	}
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	documented := map[string]bool{}
	paths, _ := doc["paths"].(map[string]any)
	for p, item := range paths {
		for method, opv := range item.(map[string]any) {
			key := strings.ToUpper(method) + " " + base + param.ReplaceAllString(p, ":$1")
			documented[key] = true
			if !routes[key] {
				t.Errorf("the document describes %s %s, which is not in the route table (%s)", strings.ToUpper(method), p, key)
			}
			op := opv.(map[string]any)
			resp, _ := op["responses"].(map[string]any)
			if op["operationId"] == nil || op["summary"] == nil || resp["401"] == nil {
				t.Errorf("%s: needs an operationId, a summary and the 401 response", key)
			}
			for code := range resp {
				if code[0] == '2' {
					continue
				}
				if code != "400" && code != "401" && code != "403" && code != "404" && code != "409" && code != "413" && code != "422" {
					t.Errorf("%s: undocumented error status %s", key, code)
				}
			}
		}
	}
	for key := range routes {
		if !documented[key] {
			t.Errorf("route %s is not in the OpenAPI document", key)
		}
	}

	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if resolve(doc, ref) == nil {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)

	// The schemas have the fields the API reads and answers.
	var invKeys []string
	for _, f := range store.InventoryFields {
		invKeys = append(invKeys, f.Key)
	}
	schemaKeys := func(ref string) []string {
		s, _ := resolve(doc, ref).(map[string]any)
		props, _ := s["properties"].(map[string]any)
		var keys []string
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	}
	sortedInv := slices.Clone(invKeys)
	sort.Strings(sortedInv)
	if got := schemaKeys("#/components/schemas/InventoryRecord"); !slices.Equal(got, sortedInv) {
		t.Errorf("InventoryRecord properties %v, want the inventory fields %v", got, sortedInv)
	}
	dev := e.devicesWith(t, store.StatusPrerequisitesFailed, 1)[0]
	var answer map[string]any
	e.api(t, tok, http.MethodGet, "/api/v1/devices/"+dev.DeviceID, nil).decode(&answer)
	wantKeys := append(slices.Clone(sortedInv), "registration")
	sort.Strings(wantKeys)
	if got := schemaKeys("#/components/schemas/Device"); !slices.Equal(got, wantKeys) {
		t.Errorf("Device properties %v, want %v", got, wantKeys)
	}
	var gotKeys []string
	for k := range answer {
		gotKeys = append(gotKeys, k)
	}
	sort.Strings(gotKeys)
	if want := append(slices.Clone(wantKeys), "checks"); !slices.Equal(gotKeys, sortedStrings(want)) {
		t.Errorf("a device answer has keys %v, the document %v", gotKeys, sortedStrings(want))
	}
	var regKeys []string
	for k := range answer["registration"].(map[string]any) {
		regKeys = append(regKeys, k)
	}
	sort.Strings(regKeys)
	if got := schemaKeys("#/components/schemas/Registration"); !slices.Equal(got, regKeys) {
		t.Errorf("Registration properties %v, the answer's %v", got, regKeys)
	}
	var checkKeys []string
	for k := range answer["checks"].(map[string]any)["results"].([]any)[0].(map[string]any) {
		checkKeys = append(checkKeys, k)
	}
	sort.Strings(checkKeys)
	if got := schemaKeys("#/components/schemas/Check"); !slices.Equal(got, checkKeys) {
		t.Errorf("Check properties %v, the answer's %v", got, checkKeys)
	}
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// resolve follows a local JSON reference ("#/components/schemas/X").
func resolve(doc map[string]any, ref string) any {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = doc
	for _, part := range strings.Split(p, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}
