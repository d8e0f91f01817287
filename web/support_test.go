package web_test

import (
	"bytes"
	"encoding/csv"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"patchboard/store"
)

// postMultipart submits a multipart form with files (field name → file
// name → bytes), as a browser sends the support forms.
func (c *client) postMultipart(t testing.TB, path string, fields url.Values, files map[string][]byte) *response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, data := range files {
		w, err := mw.CreateFormFile("attachment", name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return c.do(t, http.MethodPost, path, &body, "Content-Type", mw.FormDataContentType(), "X-CSRF-Token", c.csrf(t))
}

// supportContact adds the primary contact the forms choose.
func supportContact(t testing.TB, e *env) store.Contact {
	t.Helper()
	c, err := e.st.SaveContact(e.ctx, store.Contact{Name: "Pat Primary", Email: "pat@example.com", Area: store.AreaDevices}, "test", testNow)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// raiseSupport raises a request with one attachment through the store and
// returns the paths of the request and of its attachment.
func raiseSupport(t testing.TB, e *env, deviceID string) (string, string) {
	t.Helper()
	c := supportContact(t, e)
	r, err := e.st.RaiseSupportRequest(e.ctx, store.NewSupportRequest{Title: "Matrix", Description: "d", Severity: store.SeverityMinimal,
		Devices: []string{deviceID}, ContactID: c.ID, Attachments: []store.Upload{{Name: "a.txt", Data: []byte("hello")}}},
		store.SupportActor{Email: emailOf(store.RoleServiceAdmin), Role: store.RoleServiceAdmin}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.st.SupportRequest(e.ctx, r.ID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	p := "/tenant/support/" + strconv.FormatInt(r.ID, 10)
	return p, p + "/attachments/" + strconv.FormatInt(d.Attachments[0].ID, 10)
}

// TestSupportRequestFlow: a Service Administrator raises a request for
// devices picked on a blade, the service desk assigns and mitigates it, the
// raiser reactivates it within 24 hours and cannot after; a reader reads
// everything and changes nothing; another administrator cannot add to it.
func TestSupportRequestFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	d1, d2 := testDevice(1), testDevice(2)
	e.register(t, d1, d2)
	contact := supportContact(t, e)
	admin, global, reader := e.as(t, store.RoleServiceAdmin), e.as(t, store.RoleGlobalAdmin), e.as(t, store.RoleServiceReader)

	// The blade's device action opens the form with the devices filled in.
	res := admin.get(t, "/tenant/support/new?device_id="+d1.DeviceID+"&device_id="+d2.DeviceID).wantStatus(http.StatusOK)
	if got := res.text("support-devices"); got != d1.DeviceID+"\n"+d2.DeviceID {
		t.Fatalf("devices field %q", got)
	}
	if !strings.Contains(res.text("support-device-count"), "2 devices") {
		t.Errorf("count %q", res.text("support-device-count"))
	}

	// A selection of every matching device names no rows: the form says
	// to name them.
	res = admin.get(t, "/tenant/support/new?all_matching=1&tab=ready").wantStatus(http.StatusOK)
	if res.testid("support-all-matching").Length() != 1 || res.text("support-devices") != "" {
		t.Errorf("all matching: %q", res.text("support-devices"))
	}

	form := url.Values{"title": {"Updates stuck on two laptops"}, "description": {"Both stopped at 0 %."}, "severity": {"critical"},
		"contact": {strconv.FormatInt(contact.ID, 10)}, "devices": {d1.DeviceID + "\nTSN000002\nGHOST-1"}}
	// An unknown device is named, the input is kept, nothing is saved.
	res = admin.postMultipart(t, "/tenant/support/raise", form, nil).wantStatus(http.StatusUnprocessableEntity)
	if msg := res.text("support-field-error"); !strings.Contains(msg, `"GHOST-1"`) {
		t.Fatalf("unknown device message %q", msg)
	}
	if v, _ := res.testid("support-title").Attr("value"); v != "Updates stuck on two laptops" {
		t.Errorf("title lost: %q", v)
	}
	if list, _ := e.st.SupportRequests(e.ctx, store.SupportFilter{}, testNow); len(list) != 0 {
		t.Fatalf("refused request saved: %+v", list)
	}

	form.Set("devices", d1.DeviceID+"\nTSN000002")
	log := []byte("<html><script>alert(1)</script></html>")
	res = admin.postMultipart(t, "/tenant/support/raise", form, map[string][]byte{"wu.html": log}).wantStatus(http.StatusSeeOther)
	loc := res.header.Get("Location")
	path := strings.TrimSuffix(loc, "?raised=1")
	res = admin.get(t, loc).wantStatus(http.StatusOK)
	if res.testid("support-saved").Length() != 1 || res.testid("support-device").Length() != 2 || res.text("support-state-value") != "Active" {
		t.Fatalf("raised request page\n%s", truncate(res.body))
	}
	if facts := res.text("support-facts"); !strings.Contains(facts, "by "+emailOf(store.RoleServiceAdmin)) {
		t.Errorf("the facts do not say who raised it: %q", facts)
	}
	if h := res.text("support-history"); !strings.Contains(h, "raised the request") {
		t.Errorf("history %q", h)
	}
	e.wantAudit(t, store.ActionSupportRaise, emailOf(store.RoleServiceAdmin), store.OutcomeSuccess, "Updates stuck")

	// The attachment downloads as a file, whatever it contains.
	href, _ := res.testid("support-attachment").Find("a").Attr("href")
	dl := reader.get(t, href).wantStatus(http.StatusOK)
	if cd := dl.header.Get("Content-Disposition"); cd != `attachment; filename=wu.html` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if dl.header.Get("X-Content-Type-Options") != "nosniff" || !bytes.Equal(dl.body, log) {
		t.Errorf("download headers %v body %q", dl.header, dl.body)
	}

	// A reader sees the request but no form; another administrator may not
	// add to someone else's request (403, audited).
	res = reader.get(t, path).wantStatus(http.StatusOK)
	if res.testid("support-note-form").Length() != 0 || res.testid("support-assign-form").Length() != 0 {
		t.Error("a reader got a form")
	}
	if reader.get(t, "/tenant/support").testid("support-new").Length() != 0 {
		t.Error("a reader got the raise button")
	}
	e.as(t, store.RoleIntuneAdmin).postMultipart(t, path+"/note", url.Values{"note": {"me too"}}, nil).wantStatus(http.StatusForbidden)
	e.wantAudit(t, "support.refused", emailOf(store.RoleIntuneAdmin), store.OutcomeDenied, path+"/note")

	// The service desk assigns and mitigates; the raiser adds a note.
	res = global.get(t, path).wantStatus(http.StatusOK)
	if res.testid("support-assign-form").Length() != 1 {
		t.Fatal("the service desk has no assign form")
	}
	global.post(t, path+"/assign", url.Values{"assignee": {emailOf(store.RoleGlobalAdmin)}}).wantStatus(http.StatusOK)
	admin.postMultipart(t, path+"/note", url.Values{"note": {"It happens after 5 pm."}}, map[string][]byte{"trace.txt": []byte("trace")}).
		wantStatus(http.StatusOK)
	res = global.post(t, path+"/mitigate", url.Values{"note": {"Cleared the cache."}}).wantStatus(http.StatusOK)
	if res.text("support-state-value") == "" || !strings.HasPrefix(res.text("support-state-value"), "Mitigated") {
		t.Fatalf("state after mitigation %q", res.text("support-state-value"))
	}

	// 23 h 59 min later the raiser can still reactivate it.
	// (Sessions end after idle time: the people sign in again.)
	e.clock.Advance(24*time.Hour - time.Minute)
	admin, global = signInAgain(t, e, store.RoleServiceAdmin), signInAgain(t, e, store.RoleGlobalAdmin)
	res = admin.get(t, path).wantStatus(http.StatusOK)
	if res.testid("support-reactivate-form").Length() != 1 {
		t.Fatal("no reactivate form inside the window")
	}
	res = admin.post(t, path+"/reactivate", url.Values{"note": {"Back again."}}).wantStatus(http.StatusOK)
	if res.text("support-state-value") != "Assigned" {
		t.Fatalf("state after reactivation %q", res.text("support-state-value"))
	}

	// Mitigated again and left 24 h: closed, and reactivation is refused.
	global.post(t, path+"/mitigate", url.Values{}).wantStatus(http.StatusOK)
	e.clock.Advance(24 * time.Hour)
	admin, reader = signInAgain(t, e, store.RoleServiceAdmin), signInAgain(t, e, store.RoleServiceReader)
	res = admin.get(t, path).wantStatus(http.StatusOK)
	if res.text("support-state-value") != "Closed" || res.testid("support-reactivate-form").Length() != 0 {
		t.Fatalf("after 24 h: state %q", res.text("support-state-value"))
	}
	res = admin.post(t, path+"/reactivate", url.Values{}).wantStatus(http.StatusConflict)
	if !strings.Contains(res.text("support-refused"), "within 24 hours") {
		t.Errorf("refusal %q", res.text("support-refused"))
	}

	// The list filters by state and exports what it shows.
	res = reader.get(t, "/tenant/support?state=closed&q=laptops").wantStatus(http.StatusOK)
	if res.testid("support-row").Length() != 1 {
		t.Fatalf("closed filter rows %d", res.testid("support-row").Length())
	}
	if reader.get(t, "/tenant/support?state=active").testid("support-row").Length() != 0 {
		t.Error("the active filter lists a closed request")
	}
	csvRes := reader.get(t, "/tenant/support/export.csv?state=closed").wantStatus(http.StatusOK)
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(csvRes.body, []byte("\ufeff")))).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][1] != "Updates stuck on two laptops" || recs[1][3] != "Closed" || recs[1][7] != "2" {
		t.Fatalf("export %q, %v", recs, err)
	}
	e.wantAudit(t, store.ActionSupportExport, emailOf(store.RoleServiceReader), store.OutcomeSuccess, "support requests")
}

// signInAgain signs the user holding r in on a new browser.
func signInAgain(t testing.TB, e *env, r store.Role) *client {
	t.Helper()
	c := e.newClient()
	c.signIn(t, emailOf(r), password)
	return c
}

// TestSupportAttachmentTooLarge: an attachment over 10 MB is refused by
// name and nothing is saved.
func TestSupportAttachmentTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	contact := supportContact(t, e)
	admin := e.as(t, store.RoleServiceAdmin)
	form := url.Values{"title": {"Big"}, "description": {"dump"}, "severity": {"minimal"}, "contact": {strconv.FormatInt(contact.ID, 10)}}
	res := admin.postMultipart(t, "/tenant/support/raise", form, map[string][]byte{"memory.dmp": make([]byte, store.MaxAttachmentBytes+1)}).
		wantStatus(http.StatusUnprocessableEntity)
	if msg := res.text("support-field-error"); !strings.Contains(msg, "memory.dmp") || !strings.Contains(msg, "10 MB") {
		t.Fatalf("message %q", msg)
	}
	if list, _ := e.st.SupportRequests(e.ctx, store.SupportFilter{}, testNow); len(list) != 0 {
		t.Fatalf("saved: %+v", list)
	}
}
