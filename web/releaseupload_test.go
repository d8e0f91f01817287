package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"patchboard/store"
)

// A Service Administrator uploads a releases CSV on Release management: a
// file with wrong rows is refused whole, naming each row and field, and
// audited; the corrected file adds every release, each audited. A Service
// Reader sees no upload and is refused one.
func TestReleaseUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := e.as(t, store.RoleServiceAdmin)
	reader := e.as(t, store.RoleServiceReader)

	if r := admin.get(t, "/releases").wantStatus(http.StatusOK); r.testid("release-upload").Length() != 1 {
		t.Fatal("no upload form for a Service Administrator")
	}
	if r := reader.get(t, "/releases").wantStatus(http.StatusOK); r.testid("release-upload").Length() != 0 {
		t.Error("a Service Reader sees the upload form")
	}

	bad := "name,date,classification,builds\n2026-11 B,2026-11-10,security,26100.7300 22631.6200\n2026-12 B,2026-12-32,security,26100.7462\n2026-12 OOB,2026-12-12,urgent,26100.7470\n"
	r := admin.upload(t, "/releases/import", nil, "december.csv", []byte(bad)).wantStatus(http.StatusUnprocessableEntity)
	var problems []string
	for _, s := range r.testid("release-upload-error").Nodes {
		problems = append(problems, strings.TrimSpace(s.FirstChild.Data))
	}
	if len(problems) != 2 || !strings.HasPrefix(problems[0], "row 2: date:") || !strings.HasPrefix(problems[1], "row 3: classification:") {
		t.Fatalf("problems shown %q", problems)
	}
	if rels, _ := e.st.Releases(e.ctx); len(rels) != 0 {
		t.Fatalf("a refused file added %d releases", len(rels))
	}
	e.wantAudit(t, store.ActionReleaseAdd, admin.email, store.OutcomeFailure, "december.csv")

	good := strings.NewReplacer("2026-12-32", "2026-12-08", "urgent", "out-of-band").Replace(bad)
	r = admin.upload(t, "/releases/import", nil, "december.csv", []byte("\ufeff"+good)).wantStatus(http.StatusOK)
	if msg := r.text("release-message"); !strings.Contains(msg, "Added 3 release(s) from december.csv") {
		t.Errorf("message %q", msg)
	}
	if r.doc().Find(`[data-testid="release-row"][data-release="2026-12 OOB"]`).Length() != 1 {
		t.Error("the board does not list the uploaded release")
	}
	e.wantAudit(t, store.ActionReleaseAdd, admin.email, store.OutcomeSuccess, "2026-12 OOB")

	// The same file again: every row names an existing release.
	r = admin.upload(t, "/releases/import", nil, "december.csv", []byte(good)).wantStatus(http.StatusUnprocessableEntity)
	if n := r.testid("release-upload-error").Length(); n != 3 {
		t.Errorf("%d problems for a file of existing releases, want 3", n)
	}
	admin.upload(t, "/releases/import", nil, "notes.txt", []byte("hello\n")).wantStatus(http.StatusUnprocessableEntity)
	if r = admin.postHX(t, "/releases/import", url.Values{}).wantStatus(http.StatusUnprocessableEntity); !strings.Contains(r.text("release-upload-errors"), "choose a CSV file") {
		t.Errorf("an upload without a file: %q", r.text("release-upload-errors"))
	}
	reader.upload(t, "/releases/import", nil, "december.csv", []byte(good)).wantStatus(http.StatusForbidden)
}
