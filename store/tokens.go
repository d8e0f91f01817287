package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// TokenPrefix starts every API token, so that a leaked token is easy to
// recognise (secret scanners, logs) and easy to tell from a password.
const TokenPrefix = "pbt_"

// tokenBytes is the randomness of a token: 256 bits.
const tokenBytes = 32

// tokenLen is the length of a token: the prefix and the unpadded base64url
// text of tokenBytes.
var tokenLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenBytes)

// tokenShown is how much of a token the list shows: the prefix and 6
// characters, enough to tell tokens apart and far too little to guess one.
const tokenShown = 10

// lastUsedEvery bounds how often a token's last use is written: a busy
// client would otherwise add a write to every request.
const lastUsedEvery = time.Minute

// Audit actions of API tokens.
const (
	ActionTokenCreate = "token.create"
	ActionTokenRevoke = "token.revoke"
)

// TokenRoles are the roles an API token may hold: a token acts as a Service
// Administrator or a Service Reader, never with the rights to manage users,
// settings or other tokens, or as a Reporter, which only reports device
// signals.
var TokenRoles = []Role{RoleServiceAdmin, RoleServiceReader, RoleReporter}

// tokenGrants is what each token role may do through the API. A service
// admin token has no PermViewAudit: the audit log is not part of the API.
// A reporter token is handed to every device (a script Intune runs), so it
// may report signals and nothing else, not even read.
var tokenGrants = map[Role][]Permission{
	RoleServiceAdmin:  {PermView, PermDiscover, PermDeviceActions, PermEditGroups},
	RoleServiceReader: {PermView},
	RoleReporter:      {PermReportSignals},
}

// APIToken is a credential of the registration API. Its secret is not kept:
// only CreateToken ever returns it.
type APIToken struct {
	ID         int64
	Name       string
	Role       Role
	Prefix     string // the start of the token, e.g. "pbt_Xy3k9Q"
	CreatedAt  time.Time
	CreatedBy  string
	LastUsedAt time.Time // zero when never used
	RevokedAt  time.Time // zero while in use
	RevokedBy  string
}

// Revoked reports whether the token was revoked.
func (t APIToken) Revoked() bool { return !t.RevokedAt.IsZero() }

// Actor names the token in audit entries.
func (t APIToken) Actor() string { return "token:" + t.Name }

// Can reports whether the token's role grants p through the API.
func (t APIToken) Can(p Permission) bool {
	if t.Revoked() {
		return false
	}
	for _, g := range tokenGrants[t.Role] {
		if g == p {
			return true
		}
	}
	return false
}

// ParseTokenRole accepts the roles a token may hold (key or label).
func ParseTokenRole(s string) (Role, error) {
	s = strings.TrimSpace(s)
	for _, r := range TokenRoles {
		if strings.EqualFold(s, string(r)) || strings.EqualFold(s, r.Label()) {
			return r, nil
		}
	}
	return "", invalidf("token role %q is not one of service-admin, service-reader, reporter", s)
}

// maxTokenName bounds a token's name, in characters.
const maxTokenName = 64

func validateTokenName(name string) error {
	switch {
	case name == "":
		return invalidf("token name must not be empty")
	case utf8.RuneCountInString(name) > maxTokenName:
		return invalidf("token name must be at most %d characters", maxTokenName)
	}
	if err := checkText(name, maxTokenName); err != nil {
		return invalidf("token name %s", err)
	}
	return nil
}

// CreateToken makes a new API token and returns its record and its value.
// The value is shown to the admin once and never again: only its hash is
// stored. Names are unique among the tokens in use.
func (s *Store) CreateToken(ctx context.Context, name string, role Role, actor string) (APIToken, string, error) {
	name = strings.TrimSpace(name)
	if err := validateTokenName(name); err != nil {
		return APIToken{}, "", fmt.Errorf("create token: %w", err)
	}
	role, err := ParseTokenRole(string(role))
	if err != nil {
		return APIToken{}, "", fmt.Errorf("create token: %w", err)
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return APIToken{}, "", fmt.Errorf("create token: %w", err)
	}
	value := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	t := APIToken{Name: name, Role: role, Prefix: value[:tokenShown], CreatedAt: time.Now().UTC().Truncate(time.Second), CreatedBy: actor}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens WHERE name = ? COLLATE NOCASE AND revoked_at IS NULL`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return conflictf("a token named %q is already in use; revoke it first or choose another name", name)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (name, role, token_hash, prefix, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)`,
			t.Name, string(t.Role), apiTokenHash(value), t.Prefix, t.CreatedAt.Unix(), actor)
		if err != nil {
			return err
		}
		if t.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionTokenCreate, Target: t.Actor(),
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("role %s, token %s…", t.Role, t.Prefix)}, nil)
	})
	if err != nil {
		return APIToken{}, "", fmt.Errorf("create token: %w", err)
	}
	return t, value, nil
}

// apiTokenHash is the stored form of a token value.
func apiTokenHash(value string) string {
	h := sha256.Sum256([]byte(value))
	return hex.EncodeToString(h[:])
}

const tokenCols = `id, name, role, prefix, created_at, created_by, last_used_at, revoked_at, coalesce(revoked_by, '')`

func scanToken(rs rowScanner) (APIToken, error) {
	var t APIToken
	var created int64
	var used, revoked sql.NullInt64
	err := rs.Scan(&t.ID, &t.Name, &t.Role, &t.Prefix, &created, &t.CreatedBy, &used, &revoked, &t.RevokedBy)
	t.CreatedAt = time.Unix(created, 0).UTC()
	t.LastUsedAt, t.RevokedAt = fromUnix(used), fromUnix(revoked)
	return t, err
}

// Tokens lists every token, those in use first, newest first.
func (s *Store) Tokens(ctx context.Context) ([]APIToken, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+tokenCols+" FROM api_tokens ORDER BY revoked_at IS NOT NULL, id DESC")
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token: the API refuses it from now on. Revoking a
// revoked token changes nothing.
func (s *Store) RevokeToken(ctx context.Context, id int64, actor string) (APIToken, error) {
	var t APIToken
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFoundf("token %d was not found", id)
		}
		if err != nil || t.Revoked() {
			return err
		}
		t.RevokedAt, t.RevokedBy = time.Now().UTC().Truncate(time.Second), actor
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ?`, t.RevokedAt.Unix(), actor, id); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionTokenRevoke, Target: t.Actor(),
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("role %s, token %s…", t.Role, t.Prefix)}, nil)
	})
	if err != nil {
		return APIToken{}, fmt.Errorf("revoke token: %w", err)
	}
	return t, nil
}

// RevokeTokenByName revokes the token in use with this name.
func (s *Store) RevokeTokenByName(ctx context.Context, name, actor string) (APIToken, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT id FROM api_tokens WHERE name = ? COLLATE NOCASE AND revoked_at IS NULL`, strings.TrimSpace(name)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return APIToken{}, fmt.Errorf("revoke token: %w", notFoundf("no token named %q is in use", name))
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("revoke token: %w", err)
	}
	return s.RevokeToken(ctx, id, actor)
}

// ErrBadToken means the presented token is not one the API accepts.
var ErrBadToken = errors.New("invalid API token")

// TokenError says why a token was refused. It wraps ErrBadToken. Token is
// set when the token exists (it was revoked), so the refusal can be audited
// under its name.
type TokenError struct {
	Reason string
	Token  APIToken
}

func (e *TokenError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrBadToken) true.
func (e *TokenError) Unwrap() error { return ErrBadToken }

// TokenByValue returns the token a client presented, or a *TokenError when
// it is malformed, unknown or revoked. It records the token's use, at most
// once a minute.
func (s *Store) TokenByValue(ctx context.Context, value string, now time.Time) (APIToken, error) {
	if len(value) != tokenLen || !strings.HasPrefix(value, TokenPrefix) {
		return APIToken{}, &TokenError{Reason: "the token is not a Patchboard API token"}
	}
	// The lookup is by the hash of 256 random bits: timing tells an attacker
	// nothing about a token they do not have.
	t, err := scanToken(s.r.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE token_hash = ?", apiTokenHash(value)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return APIToken{}, &TokenError{Reason: "the token is not known"}
	case err != nil:
		return APIToken{}, fmt.Errorf("token: %w", err)
	}
	if t.Revoked() {
		return APIToken{}, &TokenError{Reason: "the token was revoked", Token: t}
	}
	if t.LastUsedAt.IsZero() || now.Sub(t.LastUsedAt) >= lastUsedEvery {
		t.LastUsedAt = now.UTC().Truncate(time.Second)
		_, err := s.exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
			t.LastUsedAt.Unix(), t.ID, t.LastUsedAt.Add(-lastUsedEvery).Unix())
		if err != nil {
			return APIToken{}, fmt.Errorf("token: record use: %w", err)
		}
	}
	return t, nil
}
