package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRoleMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		want    string // String() of the map; "" with wantErr
		wantErr string
	}{
		{"", "", ""},
		{"Patchboard.ServiceAdministrator=service-admin, Patchboard.ServiceReader=service-reader",
			"Patchboard.ServiceAdministrator=service-admin\nPatchboard.ServiceReader=service-reader", ""},
		{" a=global-admin \r\n\n b = intune-admin ,", "a=global-admin\nb=intune-admin", ""},
		{"x=y=service-reader", "x=y=service-reader", ""},
		{"Patchboard.ServiceReader", "", "is not VALUE=ROLE"},
		{"=service-reader", "", "is not VALUE=ROLE"},
		{"a=reader", "", "must be one of"},
		{"a=Global Administrator", "", "must be one of"},
		{"a=service-reader,a=service-admin", "", "mapped twice"},
	}
	for _, tt := range tests {
		m, err := ParseRoleMap(tt.give)
		switch {
		case tt.wantErr != "":
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRoleMap(%q) error %v, want %q", tt.give, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("ParseRoleMap(%q): %v", tt.give, err)
		case m.String() != tt.want:
			t.Errorf("ParseRoleMap(%q) = %q, want %q", tt.give, m.String(), tt.want)
		}
	}
}

func TestRoleMapResolve(t *testing.T) {
	t.Parallel()
	m, err := ParseRoleMap("reader=service-reader,admin=service-admin,g-intune=intune-admin,g-global=global-admin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		roles, groups []string
		want          Role
		by            string
	}{
		{nil, nil, RoleNone, ""},
		{[]string{"Reader"}, nil, RoleNone, ""}, // exact, case and all
		{[]string{"reader"}, nil, RoleServiceReader, "reader"},
		{[]string{"reader", "admin"}, nil, RoleServiceAdmin, "admin"},
		{[]string{"admin"}, []string{"g-intune"}, RoleIntuneAdmin, "g-intune"},
		{[]string{"g-global"}, []string{"reader"}, RoleGlobalAdmin, "g-global"},
	}
	for _, tt := range tests {
		if got, by := m.Resolve(tt.roles, tt.groups); got != tt.want || by != tt.by {
			t.Errorf("Resolve(%v, %v) = %s by %q, want %s by %q", tt.roles, tt.groups, got, by, tt.want, tt.by)
		}
	}
}

// TestAccountsMigrationKeepsReferences: rebuilding the users table keeps
// every account's id, so sessions, columns and group owners survive, and a
// local and an SSO account may then share an e-mail address.
func TestAccountsMigrationKeepsReferences(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pb.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.AddUser(ctx, "owner@example.com", RoleServiceAdmin, "long enough password", "test")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := st.Group(ctx, RegistrationGroupName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddGroupOwner(ctx, reg.ID, u.ID, "test"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.SaveSession(ctx, "tok", Session{UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	// Back to the users table before 0010, then run 0010 again as the
	// migrator does.
	_, err = st.w.ExecContext(ctx, `PRAGMA foreign_keys = OFF;
		CREATE TABLE users_old (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE, name TEXT NOT NULL DEFAULT '',
			role TEXT NOT NULL DEFAULT '', password_hash TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
		INSERT INTO users_old SELECT id, email, name, role, password_hash, created_at, updated_at FROM users;
		DROP TABLE users; ALTER TABLE users_old RENAME TO users; DROP TABLE settings; DROP TABLE sign_in_flows;
		PRAGMA foreign_keys = ON;`)
	if err != nil {
		t.Fatal(err)
	}
	var version int
	if err := st.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	body, err := migrationFS.ReadFile("migrations/0010_accounts.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := applyMigration(ctx, st.w, version, string(body)); err != nil {
		t.Fatal(err)
	}
	var fk int
	if err := st.w.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign keys are %d after the migration (%v), want 1", fk, err)
	}
	if ok, err := st.IsGroupOwner(ctx, reg.ID, u.ID); err != nil || !ok {
		t.Errorf("group owner lost: %v %v", ok, err)
	}
	if s, err := st.SessionByToken(ctx, "tok", now); err != nil || s.UserID != u.ID {
		t.Errorf("session lost: %+v %v", s, err)
	}
	if _, err := st.Authenticate(ctx, "owner@example.com", "long enough password"); err != nil {
		t.Errorf("password lost: %v", err)
	}
	sso, _, err := st.SignInSSO(ctx, Identity{Issuer: "https://idp.example", Subject: "s1", Email: "owner@example.com"}, nil, "127.0.0.1", now)
	if err != nil || sso.ID == u.ID || sso.Local() {
		t.Errorf("an SSO account with a local account's e-mail: %+v %v", sso, err)
	}
}
