package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"patchboard/store"
)

var tokenLine = regexp.MustCompile(`^pbt_[A-Za-z0-9_-]{43}\n$`)

func TestCLIToken(t *testing.T) {
	c := newCLI(t)
	out, errOut, err := c.run("", "token", "create", "--name", "Windows 365", "--role", "service-admin")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, errOut)
	}
	if !tokenLine.MatchString(out) || !strings.Contains(errOut, "shown only this once") {
		t.Fatalf("token create printed %q, stderr %q: want the token alone on standard output", out, errOut)
	}
	value := strings.TrimSpace(out)

	// The token is one the API accepts, with the role asked for.
	ctx := context.Background()
	st, err := store.Open(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := st.TokenByValue(ctx, value, time.Now())
	if err != nil || tok.Name != "Windows 365" || tok.Role != store.RoleServiceAdmin || tok.CreatedBy != "cli:tester" {
		t.Fatalf("TokenByValue: %+v %v", tok, err)
	}
	entries, err := st.AuditEntries(ctx, store.AuditFilter{Action: store.ActionTokenCreate})
	if err != nil || len(entries) != 1 || entries[0].Actor != "cli:tester" || strings.Contains(entries[0].Detail, value) {
		t.Errorf("audit: %+v %v", entries, err)
	}
	st.Close()

	if out := c.ok("", "token", "list"); !strings.Contains(out, "Windows 365") || !strings.Contains(out, value[:10]+"…") ||
		strings.Contains(out, value) || !strings.Contains(out, "in use") {
		t.Errorf("token list: %q", out)
	}
	if out := c.ok("", "token", "revoke", "Windows 365"); !strings.Contains(out, "revoked") {
		t.Errorf("token revoke: %q", out)
	}
	if out := c.ok("", "token", "list"); !strings.Contains(out, "revoked") {
		t.Errorf("token list after revoke: %q", out)
	}

	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"no name", []string{"token", "create", "--role", "service-reader"}, "--name and --role are required", 2},
		{"no role", []string{"token", "create", "--name", "x"}, "--name and --role are required", 2},
		{"admin role", []string{"token", "create", "--name", "x", "--role", "global-admin"}, "not one of service-admin, service-reader", 1},
		{"revoke unknown", []string{"token", "revoke", "nope"}, "no token named", 1},
		{"revoke no name", []string{"token", "revoke"}, "expected the token NAME", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := c.run("", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to contain %q", err, tt.want)
			}
			if got := exitCode(err); got != tt.code {
				t.Errorf("exit code %d, want %d", got, tt.code)
			}
		})
	}
}
