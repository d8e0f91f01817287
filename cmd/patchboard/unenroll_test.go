package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"patchboard/store"
)

// TestCLIUnenroll: request (typed confirmation), status, cancel, and the
// server's check carrying out a request whose 14 days are over.
func TestCLIUnenroll(t *testing.T) {
	c := newCLI(t)
	c.ok(inventory(device(1, "intune"), device(2, "intune")), "import", "devices", "-")
	if out := c.ok("", "unenroll", "status"); !strings.Contains(out, "no unenrollment was requested") {
		t.Fatalf("status: %q", out)
	}
	if _, _, err := c.run("", "unenroll", "request"); err == nil || exitCode(err) != 2 {
		t.Fatalf("request without --confirm: %v", err)
	}
	if _, _, err := c.run("", "unenroll", "request", "--confirm", "Contoso"); err == nil || !strings.Contains(err.Error(), "not set") {
		t.Fatalf("request before the name is set: %v", err)
	}
	if _, _, err := c.run("", "unenroll", "request", "--organisation", "Contoso Ltd", "--confirm", "Contoso"); err == nil ||
		!strings.Contains(err.Error(), `"Contoso Ltd"`) {
		t.Fatalf("wrong confirmation: %v", err)
	}
	if out := c.ok("", "unenroll", "request", "--confirm", "Contoso Ltd"); !strings.Contains(out, "unenrollment requested") {
		t.Fatalf("request: %q", out)
	}
	if out := c.ok("", "unenroll", "status"); !strings.Contains(out, "pending: requested by cli:tester") {
		t.Fatalf("status: %q", out)
	}
	if out := c.ok("", "unenroll", "cancel"); !strings.Contains(out, "cancelled") {
		t.Fatalf("cancel: %q", out)
	}
	if out := c.ok("", "unenroll", "status"); !strings.Contains(out, "cancelled by cli:tester") {
		t.Fatalf("status after cancel: %q", out)
	}

	// The server's check (at start-up and on every tick) carries it out
	// once its 14 days are over.
	c.ok("", "unenroll", "request", "--confirm", "Contoso Ltd")
	ctx := context.Background()
	st, err := store.Open(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tenantChores(ctx, st, logger, time.Now().Add(13*24*time.Hour))
	if u, _ := st.Unenrollment(ctx); u.Completed() {
		t.Fatal("carried out on day 13")
	}
	tenantChores(ctx, st, logger, time.Now().Add(14*24*time.Hour+time.Minute))
	if u, _ := st.Unenrollment(ctx); !u.Completed() {
		t.Fatalf("not carried out on day 14: %+v", u)
	}
	if out := c.ok("", "unenroll", "status"); !strings.Contains(out, "unenrolled on") {
		t.Fatalf("status after: %q", out)
	}
}
