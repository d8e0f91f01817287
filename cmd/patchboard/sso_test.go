package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesBadSSOConfig: serve checks single sign-on's settings
// before it listens, and says what is wrong.
func TestServeRefusesBadSSOConfig(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sso := map[string]string{"PATCHBOARD_OIDC_CLIENT_ID": "client", "PATCHBOARD_OIDC_CLIENT_SECRET_FILE": secretFile,
		"PATCHBOARD_BASE_URL": "https://patchboard.contoso.example"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range sso {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"issuer unreachable", with(nil), []string{"--oidc-issuer", "http://127.0.0.1:1/tenant/v2.0"},
			"OpenID Connect discovery at http://127.0.0.1:1/tenant/v2.0/.well-known/openid-configuration failed"},
		{"issuer not https", with(map[string]string{"PATCHBOARD_OIDC_ISSUER": "http://login.example/tenant"}), nil, "must be an https:// URL"},
		{"no secret", map[string]string{"PATCHBOARD_OIDC_ISSUER": "https://login.example/t", "PATCHBOARD_OIDC_CLIENT_ID": "c",
			"PATCHBOARD_BASE_URL": "https://p.example"}, nil, "single sign-on needs PATCHBOARD_OIDC_CLIENT_SECRET"},
		{"secret file missing", with(map[string]string{"PATCHBOARD_OIDC_ISSUER": "https://login.example/t",
			"PATCHBOARD_OIDC_CLIENT_SECRET_FILE": filepath.Join(dir, "nope")}), nil, "cannot read"},
		{"bad role map", with(map[string]string{"PATCHBOARD_OIDC_ISSUER": "https://login.example/t",
			"PATCHBOARD_OIDC_ROLE_MAP": "Patchboard.ServiceReader=reader"}), nil, "PATCHBOARD_OIDC_ROLE_MAP: role map entry 1"},
		{"bad local sign-in", nil, []string{"--local-signin", "off"}, "must be on or break-glass"},
		{"break-glass without SSO", map[string]string{"PATCHBOARD_LOCAL_SIGNIN": "break-glass"}, nil, "break-glass needs single sign-on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			getenv := func(k string) string { return tt.env[k] }
			args := append([]string{"--db", filepath.Join(t.TempDir(), "pb.db"), "serve", "--addr", "127.0.0.1:0"}, tt.args...)
			err := run(context.Background(), args, strings.NewReader(""), &out, &errOut, getenv)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
