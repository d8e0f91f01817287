package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Audit actions of sign-in and account management (SPEC §10).
const (
	ActionSignIn         = "auth.sign-in"
	ActionUserCreate     = "user.create"
	ActionUserRole       = "user.role"
	ActionUserDisable    = "user.disable"
	ActionUserEnable     = "user.enable"
	ActionUserSignOutAll = "user.sign-out-everywhere"
	ActionRoleMapSave    = "settings.role-map"
)

// settingRoleMap is the settings key of the portal's role map.
const settingRoleMap = "oidc_role_map"

// oneTimePasswords spell passwords without look-alikes (no 0/o, 1/l).
var oneTimePasswords = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// Identity is what a verified id_token says about a person.
type Identity struct {
	Issuer  string
	Subject string // Entra: the oid claim, else sub
	Email   string
	Name    string
	Roles   []string // the roles claim (app roles)
	Groups  []string // the groups claim (group object IDs)
	// GroupOverage: the token names a place to fetch the groups from
	// (_claim_names.groups) instead of listing them, because the person is
	// in too many. Patchboard does not fetch them: map app roles instead.
	GroupOverage bool
}

// SignInSSO records a sign-in through the identity provider: the account
// (keyed by issuer and subject, never e-mail) is created on first sign-in,
// its e-mail and name refreshed, and its role set from the role map, every
// time, so that a person removed from a group loses the role now. The
// matched claim value is returned for the audit and the no-access page. A
// disabled account is refused with ErrDisabled.
func (s *Store) SignInSSO(ctx context.Context, id Identity, m RoleMap, address string, now time.Time) (User, string, error) {
	if id.Issuer == "" || id.Subject == "" {
		return User{}, "", invalidf("the identity provider's token names no issuer or subject")
	}
	role, by := m.Resolve(id.Roles, id.Groups)
	var u User
	var disabled bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		before, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE issuer = ? AND subject = ?`,
			id.Issuer, id.Subject))
		existed := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if existed && before.Disabled() {
			disabled = true
			return recordAudit(ctx, tx, AuditEntry{Actor: before.Email, Action: ActionSignIn, Target: address,
				Outcome: OutcomeDenied, Detail: "account disabled"}, nil)
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `
			INSERT INTO users (email, name, role, role_source, issuer, subject, created_at, updated_at, last_sign_in_at)
			VALUES (?, ?, ?, 'directory', ?, ?, ?, ?, ?)
			ON CONFLICT (issuer, subject) WHERE issuer <> '' DO UPDATE SET email = excluded.email, name = excluded.name,
				role = excluded.role, role_source = 'directory', updated_at = excluded.updated_at,
				last_sign_in_at = excluded.last_sign_in_at
			RETURNING `+userColumns,
			id.Email, id.Name, role, id.Issuer, id.Subject, now.Unix(), now.Unix(), now.Unix()))
		if err != nil {
			return err
		}
		if existed && before.Role != role {
			err := recordAudit(ctx, tx, AuditEntry{Actor: "directory", Action: ActionUserRole, Target: u.Email,
				Outcome: OutcomeSuccess, Detail: fmt.Sprintf("%s → %s at sign-in (%s)", before.Role.Label(), role.Label(), matchedDetail(by))}, nil)
			if err != nil {
				return err
			}
		}
		entry := AuditEntry{Actor: u.Email, Action: ActionSignIn, Target: address, Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("single sign-on as %s (%s)", role.Label(), matchedDetail(by))}
		if role == RoleNone {
			entry.Outcome, entry.Detail = OutcomeDenied, "single sign-on: "+NoRoleReason(id)
		}
		return recordAudit(ctx, tx, entry, nil)
	})
	if err != nil {
		return User{}, "", fmt.Errorf("sign in: %w", err)
	}
	if disabled {
		return User{}, "", ErrDisabled
	}
	return u, by, nil
}

func matchedDetail(by string) string {
	if by == "" {
		return "no role map value matched"
	}
	return fmt.Sprintf("role map value %q", by)
}

// RecordSignIn notes a password sign-in: the account's last sign-in and
// the audit entry, together.
func (s *Store) RecordSignIn(ctx context.Context, u User, address string, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET last_sign_in_at = ? WHERE id = ?`, now.Unix(), u.ID); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: u.Email, Action: ActionSignIn, Target: address, Outcome: OutcomeSuccess}, nil)
	})
	if err != nil {
		return fmt.Errorf("record sign-in: %w", err)
	}
	return nil
}

// NoRoleReason says why a person got no role from the directory.
func NoRoleReason(id Identity) string {
	if id.GroupOverage {
		return "the token lists no groups because the person is in too many (group overage); map app roles (the roles claim) instead of groups"
	}
	return fmt.Sprintf("none of the token's %d roles and %d groups is in the role map", len(id.Roles), len(id.Groups))
}

// Account is a user as /settings/users lists it.
type Account struct {
	User
	ActiveSessions int
}

// Accounts lists every account, local ones first, with its live sessions.
func (s *Store) Accounts(ctx context.Context, now time.Time) ([]Account, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT `+userColumns+`, (SELECT count(*) FROM sessions WHERE user_id = users.id AND expires_at > ?)
		FROM users ORDER BY issuer <> '', email COLLATE NOCASE, id`, now.Unix())
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		var a Account
		if a.User, err = scanUser(rows, &a.ActiveSessions); err != nil {
			return nil, fmt.Errorf("accounts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// accountForWrite reads an account inside a write transaction.
func accountForWrite(ctx context.Context, tx *sql.Tx, id int64) (User, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, notFoundf("account %d was not found", id)
	}
	return u, err
}

// keepGlobalAdmin refuses a change that would leave no enabled Global
// Administrator: nobody could manage accounts any more.
func keepGlobalAdmin(ctx context.Context, tx *sql.Tx, u User, actor User) error {
	if u.Role != RoleGlobalAdmin {
		return nil
	}
	var others int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = ? AND disabled_at IS NULL AND id <> ?`,
		RoleGlobalAdmin, u.ID).Scan(&others)
	if err != nil {
		return err
	}
	if others == 0 {
		who := u.Email + " is"
		if u.ID == actor.ID {
			who = "you are"
		}
		return conflictf("%s the last Global Administrator: make another account a Global Administrator first", who)
	}
	return nil
}

// revokeSessions signs the account out everywhere.
func revokeSessions(ctx context.Context, tx *sql.Tx, userID int64) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SetUserRole changes a local account's role and signs it out everywhere,
// so the new role holds on every browser. An SSO account's role comes from
// the role map at each sign-in and cannot be set by hand.
func (s *Store) SetUserRole(ctx context.Context, userID int64, role Role, actor User) error {
	if role != RoleNone {
		if _, err := ParseRole(string(role)); err != nil {
			return fmt.Errorf("set role: %w", err)
		}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := accountForWrite(ctx, tx, userID)
		if err != nil {
			return err
		}
		if !u.Local() {
			return invalidf("%s signs in through the identity provider: its role comes from the role map; change the map or the person's groups", u.Email)
		}
		if u.Role == role {
			return nil
		}
		if role != RoleGlobalAdmin {
			if err := keepGlobalAdmin(ctx, tx, u, actor); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, role_source = 'manual', updated_at = ? WHERE id = ?`,
			role, time.Now().Unix(), u.ID); err != nil {
			return err
		}
		if _, err := revokeSessions(ctx, tx, u.ID); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor.Email, Action: ActionUserRole, Target: u.Email,
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("%s → %s; signed out everywhere", u.Role.Label(), role.Label())}, nil)
	})
	if err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	return nil
}

// SetUserDisabled disables an account (it cannot sign in, and every session
// of it ends at once) or enables it again.
func (s *Store) SetUserDisabled(ctx context.Context, userID int64, disable bool, actor User) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := accountForWrite(ctx, tx, userID)
		if err != nil {
			return err
		}
		if u.Disabled() == disable {
			return nil
		}
		if !disable {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = NULL, updated_at = ? WHERE id = ?`, time.Now().Unix(), u.ID); err != nil {
				return err
			}
			return recordAudit(ctx, tx, AuditEntry{Actor: actor.Email, Action: ActionUserEnable, Target: u.Email, Outcome: OutcomeSuccess}, nil)
		}
		if u.ID == actor.ID {
			return conflictf("you cannot disable your own account")
		}
		if err := keepGlobalAdmin(ctx, tx, u, actor); err != nil {
			return err
		}
		now := time.Now().Unix()
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = ?, updated_at = ? WHERE id = ?`, now, now, u.ID); err != nil {
			return err
		}
		n, err := revokeSessions(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor.Email, Action: ActionUserDisable, Target: u.Email,
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("%d sessions ended", n)}, nil)
	})
	if err != nil {
		return fmt.Errorf("disable account: %w", err)
	}
	return nil
}

// SignOutEverywhere ends every session of the account at once: the next
// request of any of its browsers is signed out.
func (s *Store) SignOutEverywhere(ctx context.Context, userID int64, actor string) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := accountForWrite(ctx, tx, userID)
		if err != nil {
			return err
		}
		if n, err = revokeSessions(ctx, tx, u.ID); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionUserSignOutAll, Target: u.Email,
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("%d sessions ended", n)}, nil)
	})
	if err != nil {
		return 0, fmt.Errorf("sign out everywhere: %w", err)
	}
	return n, nil
}

// CreateLocalUser creates a local account with a random one-time password,
// returned once for the Global Administrator to hand over; only its hash is
// kept.
func (s *Store) CreateLocalUser(ctx context.Context, email string, role Role, actor string) (User, string, error) {
	email = strings.TrimSpace(email)
	if err := validEmail(email); err != nil {
		return User{}, "", fmt.Errorf("create account: %w", err)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, "", fmt.Errorf("create account: %w", err)
	}
	b := make([]byte, 15)
	rand.Read(b)
	password := oneTimePasswords.EncodeToString(b) // 24 characters, 120 bits
	hash, err := hashPassword(password)
	if err != nil {
		return User{}, "", fmt.Errorf("create account: %w", err)
	}
	var u User
	err = s.write(ctx, func(tx *sql.Tx) error {
		now := time.Now().Unix()
		u, err = scanUser(tx.QueryRowContext(ctx, `
			INSERT INTO users (email, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (email) WHERE issuer = '' DO NOTHING
			RETURNING `+userColumns, email, role, hash, now, now))
		if errors.Is(err, sql.ErrNoRows) {
			return conflictf("a local account with the email %s already exists", email)
		}
		if err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionUserCreate, Target: email,
			Outcome: OutcomeSuccess, Detail: "local account, role " + role.Label() + ", one-time password shown once"}, nil)
	})
	if err != nil {
		return User{}, "", fmt.Errorf("create account: %w", err)
	}
	return u, password, nil
}

// SavedRoleMap is the role map edited in the portal.
type SavedRoleMap struct {
	Map       RoleMap
	Saved     bool // false: never saved; the configured map applies
	UpdatedAt time.Time
	UpdatedBy string
}

// RoleMapSetting returns the role map saved in the portal, if any.
func (s *Store) RoleMapSetting(ctx context.Context) (SavedRoleMap, error) {
	var text string
	var at int64
	var saved SavedRoleMap
	err := s.r.QueryRowContext(ctx, `SELECT value, updated_at, updated_by FROM settings WHERE key = ?`, settingRoleMap).
		Scan(&text, &at, &saved.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return SavedRoleMap{}, nil
	}
	if err != nil {
		return SavedRoleMap{}, fmt.Errorf("role map: %w", err)
	}
	m, err := ParseRoleMap(text)
	if err != nil {
		return SavedRoleMap{}, fmt.Errorf("role map: %w", err)
	}
	saved.Map, saved.Saved, saved.UpdatedAt = m, true, time.Unix(at, 0).UTC()
	return saved, nil
}

// SaveRoleMap checks and saves the portal's role map, which wins over the
// configured one from now on.
func (s *Store) SaveRoleMap(ctx context.Context, text, actor string) (RoleMap, error) {
	m, err := ParseRoleMap(text)
	if err != nil {
		return nil, fmt.Errorf("save role map: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			settingRoleMap, m.String(), time.Now().Unix(), actor)
		if err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionRoleMapSave, Target: "role map",
			Outcome: OutcomeSuccess, Detail: strings.ReplaceAll(m.String(), "\n", ", ")}, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("save role map: %w", err)
	}
	return m, nil
}
