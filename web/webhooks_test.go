package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/notify"
)

// TestWebhooksPage: a Global Administrator subscribes a receiver (the
// secret shown once), a wrong form says what to mend, the delivery log
// shows what was sent and Redeliver sends it again; other roles are refused.
func TestWebhooksPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := e.as(t, store.RoleGlobalAdmin)
	const secret = "whsec_web-test-shared-secret"
	var got atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if notify.Verify(secret, r.Header.Get(notify.SignatureHeader), body, time.Now(), notify.DefaultTolerance) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got.Add(1)
	}))
	t.Cleanup(rcv.Close)

	res := admin.post(t, "/tenant/webhooks/create", url.Values{"url": {"ftp://files.example.com"}, "types": {"io.patchboard.nope"}}).
		wantStatus(http.StatusUnprocessableEntity)
	fields := map[string]string{}
	for _, s := range res.testid("webhook-field-error").EachIter() {
		f, _ := s.Attr("data-field")
		fields[f] = s.Text()
	}
	if !strings.Contains(fields["url"], "https://") || !strings.Contains(fields["types"], "io.patchboard.nope") {
		t.Fatalf("field messages = %v", fields)
	}

	res = admin.post(t, "/tenant/webhooks/create", url.Values{"url": {rcv.URL}, "secret": {secret},
		"types": {string(store.EventRingPaused), string(store.EventRingResumed)}}).wantStatus(http.StatusOK)
	if res.text("webhook-secret") != secret {
		t.Fatalf("secret shown = %q", res.text("webhook-secret"))
	}
	list := admin.get(t, "/tenant/webhooks").wantStatus(http.StatusOK)
	if list.testid("webhook-row").Length() != 1 || strings.Contains(string(list.body), secret) {
		t.Fatalf("the list has %d rows or shows the secret", list.testid("webhook-row").Length())
	}
	logURL, _ := list.testid("webhook-log-link").Attr("href")

	if _, err := e.st.PauseRings(e.ctx, []store.Ring{store.RingBroad}, store.KindQuality, "hold", "ada", time.Now()); err != nil {
		t.Fatal(err)
	}
	d := &notify.Webhooks{Store: e.st, Source: "https://patchboard.test"}
	if _, err := d.Pass(e.ctx); err != nil {
		t.Fatal(err)
	}
	log := admin.get(t, logURL).wantStatus(http.StatusOK)
	rows := log.testid("delivery-row")
	if rows.Length() != 1 || rows.AttrOr("data-status", "") != "200" || got.Load() != 1 {
		t.Fatalf("log has %d rows (status %s), receiver got %d", rows.Length(), rows.AttrOr("data-status", ""), got.Load())
	}
	delivery, _ := log.testid("delivery-redeliver").Parent().Find(`input[name="delivery"]`).Attr("value")
	admin.post(t, logURL+"/redeliver", url.Values{"delivery": {delivery}}).wantRedirect(logURL + "?redelivered=1")
	if _, err := d.Pass(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := admin.get(t, logURL).testid("delivery-row").Length(); n != 2 || got.Load() != 2 {
		t.Fatalf("after Redeliver: %d log rows, receiver got %d", n, got.Load())
	}

	for _, r := range []store.Role{store.RoleIntuneAdmin, store.RoleServiceAdmin, store.RoleServiceReader} {
		c := e.as(t, r)
		c.get(t, "/tenant/webhooks").wantStatus(http.StatusForbidden)
		c.post(t, logURL+"/delete", nil).wantStatus(http.StatusForbidden)
	}
	admin.post(t, logURL+"/delete", nil).wantRedirect("/tenant/webhooks?deleted=1")
	if n := admin.get(t, "/tenant/webhooks").testid("webhook-row").Length(); n != 0 {
		t.Fatalf("%d subscriptions after the delete", n)
	}
}
