package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runEnv runs the program with the given environment.
func runEnv(t *testing.T, env map[string]string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	db := filepath.Join(t.TempDir(), "pb.db")
	err := run(context.Background(), append([]string{"--db", db}, args...), strings.NewReader(""), &out, &errOut,
		func(k string) string { return env[k] })
	return out.String() + errOut.String(), err
}

// A bad directory configuration is refused at start-up, before anything
// opens or listens, with a message that names the setting; the secret is
// never repeated.
func TestDirectoryConfigurationRefused(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("file-secret-value\n"), 0o600)
	good := map[string]string{
		"PATCHBOARD_DIRECTORY":                "entra",
		"PATCHBOARD_GRAPH_TENANT_ID":          "contoso.onmicrosoft.com",
		"PATCHBOARD_GRAPH_CLIENT_ID":          "5b3f0c9a-21e4-4c8b-a6a0-7d2e9f1b3c44",
		"PATCHBOARD_GRAPH_CLIENT_SECRET":      "env-secret-value",
		"PATCHBOARD_GRAPH_REGISTRATION_GROUP": "8f1c2b7e-4d1a-4a55-9f0e-2f6c1d9b7a10",
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown directory", map[string]string{"PATCHBOARD_DIRECTORY": "ldap"}, nil, "must be local or entra"},
		{"nothing set", map[string]string{"PATCHBOARD_DIRECTORY": "entra"}, nil, "PATCHBOARD_GRAPH_TENANT_ID is not set"},
		{"flag wins over the environment", good, []string{"--graph-client-id", "nope"}, "PATCHBOARD_GRAPH_CLIENT_ID \"nope\" is not a GUID"},
		{"secret twice", merge(good, map[string]string{"PATCHBOARD_GRAPH_CLIENT_SECRET_FILE": secretFile}), nil, "not both"},
		{"missing secret file", merge(good, map[string]string{"PATCHBOARD_GRAPH_CLIENT_SECRET": "", "PATCHBOARD_GRAPH_CLIENT_SECRET_FILE": "/nonexistent/secret"}), nil, "PATCHBOARD_GRAPH_CLIENT_SECRET_FILE: cannot read /nonexistent/secret: no such file"},
		{"missing certificate", merge(good, map[string]string{"PATCHBOARD_GRAPH_CLIENT_SECRET": "", "PATCHBOARD_GRAPH_CERTIFICATE_FILE": "/nonexistent/cert.pem"}), nil, "PATCHBOARD_GRAPH_CERTIFICATE_FILE: no such file"},
		{"short interval", merge(good, map[string]string{"PATCHBOARD_GRAPH_SYNC_INTERVAL": "10s"}), nil, "must be at least 1m"},
		{"secret expiry not a date", merge(good, map[string]string{"PATCHBOARD_GRAPH_CLIENT_SECRET_EXPIRES": "next June"}), nil, "PATCHBOARD_GRAPH_CLIENT_SECRET_EXPIRES) must be a date such as 2027-06-30"},
		{"write-back yes", merge(good, map[string]string{"PATCHBOARD_GRAPH_WRITE_BACK": "yes"}), nil, "must be on or off"},
		{"release catalog yes", merge(good, map[string]string{"PATCHBOARD_GRAPH_RELEASE_CATALOG": "yes"}), nil, "PATCHBOARD_GRAPH_RELEASE_CATALOG"},
		{"bad cloud URL", good, []string{"--graph-url", "graph.microsoft.us"}, "PATCHBOARD_GRAPH_URL \"graph.microsoft.us\" must be an https URL"},
	}
	for _, tt := range tests {
		for _, cmd := range []string{"serve", "sync", "discover"} {
			t.Run(tt.name+"/"+cmd, func(t *testing.T) {
				out, err := runEnv(t, tt.env, append([]string{cmd}, tt.args...)...)
				if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("patchboard %s = %v (exit %d), want a usage error saying %q\n%s", cmd, err, exitCode(err), tt.want, out)
				}
				for _, s := range []string{"env-secret-value", "file-secret-value"} {
					if strings.Contains(err.Error(), s) || strings.Contains(out, s) {
						t.Errorf("the message repeats the secret: %v", err)
					}
				}
			})
		}
	}
	// sync with a local directory says how to turn the connector on.
	if _, err := runEnv(t, nil, "sync"); err == nil || !strings.Contains(err.Error(), "PATCHBOARD_DIRECTORY=entra") {
		t.Errorf("sync with a local directory: %v", err)
	}
}

func merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
