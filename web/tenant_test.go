package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"patchboard/store"
)

func contactForm(name, email, phone, lang string, area store.Area, desc string) url.Values {
	return url.Values{"name": {name}, "email": {email}, "phone": {phone}, "language": {lang}, "area": {string(area)}, "description": {desc}}
}

// TestContactsEditAndView: a Service Administrator adds, corrects, edits
// and deletes contacts through the form; a Service Reader sees them but no
// form; every change is audited.
func TestContactsEditAndView(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := e.as(t, store.RoleServiceAdmin)

	// A wrong form comes back with the input and a message by each field.
	res := admin.post(t, "/tenant/contacts/save", contactForm("", "ada-at-example", "call me", "en", store.AreaDevices, "")).
		wantStatus(http.StatusUnprocessableEntity)
	fields := map[string]string{}
	res.testid("contact-field-error").Each(func(_ int, s *goquery.Selection) {
		f, _ := s.Attr("data-field")
		fields[f] = s.Text()
	})
	for _, f := range []string{"name", "email", "phone"} {
		if fields[f] == "" {
			t.Errorf("no message for %s (messages %v)", f, fields)
		}
	}
	if !strings.Contains(fields["email"], "ada-at-example") || strings.Contains(res.text("contact-error"), "save contact:") {
		t.Errorf("messages %v / %q", fields, res.text("contact-error"))
	}
	if v, _ := res.testid("contact-email").Attr("value"); v != "ada-at-example" {
		t.Errorf("form lost the input: email %q", v)
	}
	if res.testid("contact-row").Length() != 0 {
		t.Fatal("a refused contact was saved")
	}

	res = admin.post(t, "/tenant/contacts/save", contactForm("Ada Lovelace", "ada@example.com", "+44 20 7946 0000", "en-GB", store.AreaDevices, "Fleet owner")).
		wantStatus(http.StatusOK)
	if res.testid("contact-saved").Length() != 1 || res.testid("contact-row").Length() != 1 {
		t.Fatalf("saved contact not shown\n%s", truncate(res.body))
	}
	e.wantAudit(t, store.ActionContactAdd, emailOf(store.RoleServiceAdmin), store.OutcomeSuccess, "ada@example.com")

	// The same person twice for one area is refused with a plain message.
	res = admin.post(t, "/tenant/contacts/save", contactForm("Ada", "ADA@example.com", "", "en", store.AreaDevices, "")).
		wantStatus(http.StatusUnprocessableEntity)
	if msg := res.text("contact-error"); !strings.Contains(msg, "already a contact for Devices") || strings.Contains(msg, "save contact") {
		t.Errorf("conflict message %q", msg)
	}

	// Edit: the form is filled, the change replaces the contact.
	cs, err := e.st.Contacts(e.ctx)
	if err != nil || len(cs) != 1 {
		t.Fatalf("contacts %v, %v", cs, err)
	}
	id := cs[0].ID
	res = admin.get(t, "/tenant/contacts?edit="+strconv.FormatInt(id, 10)).wantStatus(http.StatusOK)
	if v, _ := res.testid("contact-name").Attr("value"); v != "Ada Lovelace" {
		t.Errorf("edit form name %q", v)
	}
	form := contactForm("Ada Lovelace", "ada@example.com", "", "en", store.AreaUpdates, "Moved to updates")
	form.Set("id", strconv.FormatInt(id, 10))
	admin.post(t, "/tenant/contacts/save", form).wantStatus(http.StatusOK)
	if c, _ := e.st.Contact(e.ctx, id); c.Area != store.AreaUpdates || c.Description != "Moved to updates" {
		t.Errorf("after edit: %+v", c)
	}
	e.wantAudit(t, store.ActionContactUpdate, emailOf(store.RoleServiceAdmin), store.OutcomeSuccess, "ada@example.com")

	// A reader sees the contacts and no controls.
	reader := e.as(t, store.RoleServiceReader)
	res = reader.get(t, "/tenant/contacts").wantStatus(http.StatusOK)
	if res.testid("contact-row").Length() != 1 || res.testid("contact-form").Length() != 0 || res.testid("contact-delete").Length() != 0 {
		t.Errorf("reader's page: %d rows, %d forms, %d delete buttons", res.testid("contact-row").Length(),
			res.testid("contact-form").Length(), res.testid("contact-delete").Length())
	}
	reader.post(t, "/tenant/contacts/delete", url.Values{"id": {strconv.FormatInt(id, 10)}}).wantStatus(http.StatusForbidden)

	admin.post(t, "/tenant/contacts/delete", url.Values{"id": {strconv.FormatInt(id, 10)}}).wantRedirect("/tenant/contacts?deleted=1")
	e.wantAudit(t, store.ActionContactDelete, emailOf(store.RoleServiceAdmin), store.OutcomeSuccess, "ada@example.com")
	admin.post(t, "/tenant/contacts/delete", url.Values{"id": {strconv.FormatInt(id, 10)}}).wantStatus(http.StatusNotFound)
}

// TestAlertsPageAndCriticalBanner: a discovery over an empty Device
// Registration group raises a Critical alert, which puts a banner on every
// page; contacts added through the portal resolve their alerts.
func TestAlertsPageAndCriticalBanner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	reader := e.as(t, store.RoleServiceReader)
	if res := reader.get(t, "/devices").wantStatus(http.StatusOK); res.testid("critical-banner").Length() != 0 {
		t.Fatal("banner shown with no alert open")
	}
	if _, err := e.st.Discover(e.ctx, store.TriggerCLI, "tester", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/devices", "/groups", "/tenant/contacts"} {
		res := reader.get(t, path).wantStatus(http.StatusOK)
		if res.testid("critical-banner").Length() != 1 {
			t.Errorf("%s: no critical banner", path)
		}
	}
	res := reader.get(t, "/tenant/alerts").wantStatus(http.StatusOK)
	open := map[string]string{}
	res.doc().Find(`[data-testid="alerts-open"] [data-testid="alert-row"]`).Each(func(_ int, s *goquery.Selection) {
		typ, _ := s.Attr("data-alert-type")
		sub, _ := s.Attr("data-alert-subject")
		sev, _ := s.Attr("data-severity")
		open[typ+"/"+sub] = sev
	})
	want := map[string]string{
		"registration-group-empty/": "critical",
		"contact-missing/devices":   "warning",
		"contact-missing/updates":   "warning",
	}
	for k, sev := range want {
		if open[k] != sev {
			t.Errorf("open alert %s: severity %q, want %q (open %v)", k, open[k], sev, open)
		}
	}

	admin := e.as(t, store.RoleServiceAdmin)
	admin.post(t, "/tenant/contacts/save", contactForm("Ada", "ada@example.com", "", "en", store.AreaDevices, "")).wantStatus(http.StatusOK)
	res = reader.get(t, "/tenant/alerts").wantStatus(http.StatusOK)
	resolved := res.doc().Find(`[data-testid="alerts-resolved"] [data-alert-type="contact-missing"][data-alert-subject="devices"]`)
	still := res.doc().Find(`[data-testid="alerts-open"] [data-alert-type="contact-missing"][data-alert-subject="updates"]`)
	if resolved.Length() != 1 || still.Length() != 1 {
		t.Errorf("after adding a Devices contact: %d resolved, %d still open for Updates", resolved.Length(), still.Length())
	}
}
