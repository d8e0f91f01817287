package web_test

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"patchboard/store"
)

// TestUnenrollFlow: a Global Administrator downloads the full export, names
// the organisation, requests unenrollment by typing it; every page shows
// the banner; it is cancelled, requested again and carried out on day 14.
func TestUnenrollFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	global, reader := e.as(t, store.RoleGlobalAdmin), e.as(t, store.RoleServiceReader)

	// The export: one CSV per kind of data, each with its header and rows.
	res := global.get(t, "/tenant/unenroll/export.zip").wantStatus(http.StatusOK)
	if ct, cd := res.header.Get("Content-Type"), res.header.Get("Content-Disposition"); ct != "application/zip" || !strings.HasPrefix(cd, "attachment;") {
		t.Fatalf("export headers %q %q", ct, cd)
	}
	zr, err := zip.NewReader(bytes.NewReader(res.body), int64(len(res.body)))
	if err != nil {
		t.Fatal(err)
	}
	rowsOf := map[string]int{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff")))).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		rowsOf[f.Name] = len(recs) - 1
	}
	for _, name := range []string{"devices.csv", "registrations.csv", "checks.csv", "groups.csv", "releases.csv", "audit-log.csv"} {
		if n, ok := rowsOf[name]; !ok || n == 0 && name != "releases.csv" {
			t.Errorf("%s: %d rows (files %v)", name, n, rowsOf)
		}
	}
	if rowsOf["devices.csv"] != 300 {
		t.Errorf("devices.csv has %d rows, want the 300 of the fleet", rowsOf["devices.csv"])
	}
	e.wantAudit(t, store.ActionUnenrollExport, emailOf(store.RoleGlobalAdmin), store.OutcomeSuccess, "full export")

	// No name yet: no request form. Name it, then confirm by typing it.
	res = global.get(t, "/tenant/unenroll").wantStatus(http.StatusOK)
	if res.testid("unenroll-request-form").Length() != 0 {
		t.Fatal("a request form before the organisation has a name")
	}
	global.post(t, "/tenant/unenroll/organisation", url.Values{"name": {"Contoso Ltd"}}).wantStatus(http.StatusOK)
	res = global.post(t, "/tenant/unenroll/request", url.Values{"confirm": {"Contoso"}}).wantStatus(http.StatusUnprocessableEntity)
	if !strings.Contains(res.text("unenroll-error"), `"Contoso Ltd"`) || res.testid("unenroll-banner").Length() != 0 {
		t.Fatalf("wrong confirmation: %q", res.text("unenroll-error"))
	}
	res = global.post(t, "/tenant/unenroll/request", url.Values{"confirm": {"Contoso Ltd"}}).wantStatus(http.StatusOK)
	if !strings.Contains(res.text("unenroll-due"), "2026-11-15") {
		t.Fatalf("due %q", res.text("unenroll-due"))
	}
	e.wantAudit(t, store.ActionUnenrollRequest, emailOf(store.RoleGlobalAdmin), store.OutcomeSuccess, "Contoso Ltd")

	// The banner is on every page, for everyone; only Global
	// Administrators get the link.
	for _, p := range []string{"/overview", "/devices", "/tenant/support"} {
		res = reader.get(t, p).wantStatus(http.StatusOK)
		if !strings.Contains(res.text("unenroll-banner"), "2026-11-15") || res.testid("unenroll-banner").Find("a").Length() != 0 {
			t.Errorf("%s banner %q", p, res.text("unenroll-banner"))
		}
	}
	if global.get(t, "/groups").testid("unenroll-banner").Find("a").Length() != 1 {
		t.Error("no link to cancel in a Global Administrator's banner")
	}

	// Cancelled on day 7: nothing is removed on day 14.
	e.clock.Advance(7 * 24 * time.Hour)
	global = signInAgain(t, e, store.RoleGlobalAdmin)
	global.post(t, "/tenant/unenroll/cancel", url.Values{}).wantStatus(http.StatusOK)
	e.wantAudit(t, store.ActionUnenrollCancel, emailOf(store.RoleGlobalAdmin), store.OutcomeSuccess, "unenrollment")
	if global.get(t, "/devices").testid("unenroll-banner").Length() != 0 {
		t.Error("banner after cancel")
	}
	activeCount := func() int {
		return len(e.allRows(t, store.DeviceQuery{Tab: store.TabReady, Status: store.StatusActive}))
	}
	active := activeCount()
	if did, err := e.st.CompleteDueUnenrollment(e.ctx, e.clock.Now().Add(8*24*time.Hour)); err != nil || did {
		t.Fatalf("after cancel: did %v, %v", did, err)
	}
	if active == 0 || activeCount() != active {
		t.Fatal("a cancelled unenrollment removed devices")
	}

	// Requested again and carried out when its 14 days are over.
	global.post(t, "/tenant/unenroll/request", url.Values{"confirm": {"Contoso Ltd"}}).wantStatus(http.StatusOK)
	if did, err := e.st.CompleteDueUnenrollment(e.ctx, e.clock.Now().Add(14*24*time.Hour-time.Second)); err != nil || did {
		t.Fatalf("day 13: did %v, %v", did, err)
	}
	if did, err := e.st.CompleteDueUnenrollment(e.ctx, e.clock.Now().Add(14*24*time.Hour)); err != nil || !did {
		t.Fatalf("day 14: did %v, %v", did, err)
	}
	if n := activeCount(); n != 0 {
		t.Fatalf("%d active devices after unenrollment", n)
	}
	res = global.get(t, "/tenant/unenroll").wantStatus(http.StatusOK)
	if res.testid("unenroll-done").Length() != 1 || res.testid("unenroll-banner").Length() != 0 {
		t.Fatalf("page after unenrollment\n%s", truncate(res.body))
	}
}
