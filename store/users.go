package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// User is a person who signs in: a local account (e-mail and password) or
// an account of the identity provider, keyed by issuer and subject.
type User struct {
	ID        int64
	Email     string
	Name      string
	Role      Role
	CreatedAt time.Time
	// Issuer and Subject identify an SSO account; both are empty for a
	// local account.
	Issuer  string
	Subject string
	// RoleSource says where Role comes from.
	RoleSource   RoleSource
	DisabledAt   time.Time // zero: enabled
	LastSignInAt time.Time // zero: never
}

// RoleSource is where an account's role comes from.
type RoleSource string

// Role sources.
const (
	// RoleManual: set by a Global Administrator or on the command line.
	RoleManual RoleSource = "manual"
	// RoleDirectory: the role map applied to the id_token at every sign-in.
	RoleDirectory RoleSource = "directory"
)

// Local reports whether the account signs in with a password.
func (u User) Local() bool { return u.Issuer == "" }

// Disabled reports whether the account may no longer sign in.
func (u User) Disabled() bool { return !u.DisabledAt.IsZero() }

// userColumns are what scanUser reads, in its order.
const userColumns = `id, email, name, role, created_at, issuer, subject, role_source, disabled_at, last_sign_in_at`

func scanUser(r rowScanner, extra ...any) (User, error) {
	var u User
	var created int64
	var disabled, lastSignIn sql.NullInt64
	dest := append([]any{&u.ID, &u.Email, &u.Name, &u.Role, &created, &u.Issuer, &u.Subject, &u.RoleSource, &disabled, &lastSignIn}, extra...)
	if err := r.Scan(dest...); err != nil {
		return User{}, err
	}
	u.CreatedAt = time.Unix(created, 0).UTC()
	u.DisabledAt, u.LastSignInAt = fromUnix(disabled), fromUnix(lastSignIn)
	return u, nil
}

// MinPasswordLength is the shortest password AddUser accepts.
const MinPasswordLength = 12

// AddUser creates a local account, or updates the role and password of an
// existing one with the same email. The password is stored as a bcrypt hash.
// Changing an existing account's password or role signs it out everywhere:
// a reset password must not leave an attacker's session alive, and a
// reduced role takes effect on every browser at once.
func (s *Store) AddUser(ctx context.Context, email string, role Role, password, actor string) (User, error) {
	email = strings.TrimSpace(email)
	if err := validEmail(email); err != nil {
		return User{}, fmt.Errorf("add user: %w", err)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, fmt.Errorf("add user: %w", err)
	}
	hash, err := hashPassword(password)
	if err != nil {
		return User{}, fmt.Errorf("add user: %w", err)
	}
	now := time.Now().Unix()
	err = s.write(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `
			INSERT INTO users (email, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (email) WHERE issuer = '' DO UPDATE SET role = excluded.role, role_source = 'manual',
				password_hash = excluded.password_hash, updated_at = excluded.updated_at
			RETURNING id`,
			email, role, hash, now, now).Scan(&id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{Actor: actor, Action: ActionUserAdd, Target: email,
			Outcome: OutcomeSuccess, Detail: "role " + string(role)}, nil)
	})
	if err != nil {
		return User{}, fmt.Errorf("add user: %w", err)
	}
	return s.UserByEmail(ctx, email)
}

func validEmail(email string) error {
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return invalidf("email %q is not a valid address", email)
	}
	return nil
}

// hashPassword checks a new password's length and hashes it.
func hashPassword(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", invalidf("password must be at least %d characters", MinPasswordLength)
	}
	if len(password) > 72 {
		return "", invalidf("password must be at most 72 bytes")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(hash), err
}

// UserByEmail returns the local account with this email (case-insensitive).
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return s.user(ctx, "issuer = '' AND email = ? COLLATE NOCASE", strings.TrimSpace(email))
}

// UserByID returns the user with this ID. Every signed-in request asks, so
// the answer is kept until the next commit (Store.version).
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	v, err := s.version(ctx)
	if err != nil {
		return User{}, err
	}
	return memoized(s, v, "user:"+strconv.FormatInt(id, 10), func() (User, error) { return s.user(ctx, "id = ?", id) })
}

func (s *Store) user(ctx context.Context, where string, arg any) (User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, notFoundf("user %v was not found", arg)
	}
	if err != nil {
		return User{}, fmt.Errorf("user: %w", err)
	}
	return u, nil
}

// dummyHash is compared against when the email is unknown, so that a wrong
// email takes as long as a wrong password and does not reveal which accounts
// exist.
// It is made on first use, not at start-up.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("patchboard-no-such-user"), bcrypt.DefaultCost)
	return h
})

// ErrBadCredentials means the email or password was wrong.
var ErrBadCredentials = errors.New("wrong email or password")

// ErrDisabled means the account was disabled by a Global Administrator.
var ErrDisabled = errors.New("this account is disabled")

// Authenticate checks a local password and returns the user. A disabled
// account answers ErrDisabled, only once the password was right.
func (s *Store) Authenticate(ctx context.Context, email, password string) (User, error) {
	var hash string
	var id int64
	var disabled sql.NullInt64
	err := s.r.QueryRowContext(ctx, "SELECT id, password_hash, disabled_at FROM users WHERE issuer = '' AND email = ? COLLATE NOCASE",
		strings.TrimSpace(email)).Scan(&id, &hash, &disabled)
	if errors.Is(err, sql.ErrNoRows) || err == nil && hash == "" {
		// The same work as a real check (its result is known), so the time taken
		// does not tell which accounts exist.
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("authenticate: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return User{}, ErrBadCredentials
	}
	if disabled.Valid {
		return User{}, ErrDisabled
	}
	return s.UserByID(ctx, id)
}
