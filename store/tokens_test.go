package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokenCreateUseRevoke(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()

	tok, value, err := st.CreateToken(ctx, "  Windows 365 provisioning ", RoleServiceAdmin, "global@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(value, TokenPrefix) || len(value) != tokenLen || !strings.HasPrefix(value, tok.Prefix) {
		t.Errorf("token value %q (prefix %q): want %s and %d characters", value, tok.Prefix, TokenPrefix, tokenLen)
	}
	if tok.Name != "Windows 365 provisioning" || tok.Actor() != "token:Windows 365 provisioning" {
		t.Errorf("token %+v: name not trimmed", tok)
	}
	// Only the hash is stored.
	var n int
	if err := st.r.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens WHERE token_hash = ? AND token_hash <> ?`, apiTokenHash(value), value).Scan(&n); err != nil || n != 1 {
		t.Fatalf("stored hash: %d rows, %v", n, err)
	}
	var stored string
	st.r.QueryRowContext(ctx, `SELECT name || role || token_hash || prefix || created_by FROM api_tokens`).Scan(&stored)
	if strings.Contains(stored, value[len(tok.Prefix):]) {
		t.Error("the token's secret part is stored")
	}

	now := testNow
	got, err := st.TokenByValue(ctx, value, now)
	if err != nil || got.ID != tok.ID || got.Role != RoleServiceAdmin || !got.LastUsedAt.Equal(now) {
		t.Fatalf("TokenByValue: %+v, %v", got, err)
	}
	// Last use is written at most once a minute.
	got, _ = st.TokenByValue(ctx, value, now.Add(30*time.Second))
	if !got.LastUsedAt.Equal(now) {
		t.Errorf("last used moved after 30 s: %v", got.LastUsedAt)
	}
	got, _ = st.TokenByValue(ctx, value, now.Add(61*time.Second))
	if !got.LastUsedAt.Equal(now.Add(61 * time.Second)) {
		t.Errorf("last used not moved after 61 s: %v", got.LastUsedAt)
	}
	list, err := st.Tokens(ctx)
	if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(now.Add(61*time.Second)) || list[0].CreatedBy != "global@example.com" {
		t.Fatalf("Tokens: %+v, %v", list, err)
	}

	for _, bad := range []string{"", "pbt_", "Bearer " + value, value + "x", strings.ToUpper(value[:4]) + value[4:],
		TokenPrefix + strings.Repeat("A", tokenLen-len(TokenPrefix))} {
		_, err := st.TokenByValue(ctx, bad, now)
		var te *TokenError
		if !errors.As(err, &te) || !errors.Is(err, ErrBadToken) || te.Token.ID != 0 {
			t.Errorf("TokenByValue(%q): %v, want a *TokenError naming no token", bad, err)
		}
	}

	// Names are unique among tokens in use, case-insensitively.
	if _, _, err := st.CreateToken(ctx, "WINDOWS 365 PROVISIONING", RoleServiceReader, "global@example.com"); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate name: %v, want ErrConflict", err)
	}

	revoked, err := st.RevokeToken(ctx, tok.ID, "global@example.com")
	if err != nil || !revoked.Revoked() || revoked.RevokedBy != "global@example.com" {
		t.Fatalf("revoke: %+v, %v", revoked, err)
	}
	_, err = st.TokenByValue(ctx, value, now.Add(time.Hour))
	var te *TokenError
	if !errors.As(err, &te) || te.Token.ID != tok.ID || !strings.Contains(te.Reason, "revoked") {
		t.Fatalf("revoked token: %v", err)
	}
	if revoked.Can(PermView) {
		t.Error("a revoked token grants permissions")
	}
	// Revoking again changes nothing; the name can be used again.
	if _, err := st.RevokeToken(ctx, tok.ID, "someone-else"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateToken(ctx, "Windows 365 provisioning", RoleServiceReader, "global@example.com"); err != nil {
		t.Errorf("name of a revoked token: %v", err)
	}
	if _, err := st.RevokeToken(ctx, 999, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
	if _, err := st.RevokeTokenByName(ctx, "nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke unknown name: %v", err)
	}
	list, _ = st.Tokens(ctx)
	if len(list) != 2 || list[0].Revoked() || !list[1].Revoked() || list[1].RevokedBy != "global@example.com" {
		t.Errorf("tokens in use first, revoked kept: %+v", list)
	}

	entries, err := st.AuditEntries(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+" "+e.Target)
		if strings.Contains(e.Detail+e.Target, value[tokenShown:]) {
			t.Errorf("audit entry holds the token: %+v", e)
		}
	}
	// Newest first; revoking a revoked token records nothing.
	want := "token.create token:Windows 365 provisioning|token.revoke token:Windows 365 provisioning|token.create token:Windows 365 provisioning"
	if got := strings.Join(actions, "|"); got != want {
		t.Errorf("audit %q, want %q", got, want)
	}
}

func TestTokenValidation(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	tests := []struct {
		name string
		role Role
	}{
		{"", RoleServiceAdmin},
		{"   ", RoleServiceAdmin},
		{strings.Repeat("x", 65), RoleServiceAdmin},
		{"tab\tname", RoleServiceAdmin},
		{"ok", RoleGlobalAdmin},
		{"ok", RoleIntuneAdmin},
		{"ok", RoleNone},
		{"ok", "root"},
	}
	for _, tt := range tests {
		if _, _, err := st.CreateToken(ctx, tt.name, tt.role, "x"); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateToken(%q, %q): %v, want ErrInvalid", tt.name, tt.role, err)
		}
	}
	if r, err := ParseTokenRole("Service Reader"); err != nil || r != RoleServiceReader {
		t.Errorf("ParseTokenRole(label): %q, %v", r, err)
	}
}

// TestTokenPermissions pins what each token role may do through the API.
func TestTokenPermissions(t *testing.T) {
	tests := []struct {
		role Role
		want []Permission
	}{
		{RoleServiceAdmin, []Permission{PermView, PermDiscover, PermDeviceActions, PermEditGroups}},
		{RoleServiceReader, []Permission{PermView}},
		{RoleGlobalAdmin, nil}, // a token never holds it; if one did, it would grant nothing
	}
	all := []Permission{PermView, PermDiscover, PermDeviceActions, PermEditRegistrationGroup, PermEditGroups, PermViewAudit, PermManage}
	for _, tt := range tests {
		tok := APIToken{Name: "t", Role: tt.role}
		for _, p := range all {
			want := false
			for _, w := range tt.want {
				want = want || w == p
			}
			if got := tok.Can(p); got != want {
				t.Errorf("%s token Can(%s) = %v, want %v", tt.role, p, got, want)
			}
		}
	}
}
