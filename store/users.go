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

// User is a person who signs in.
type User struct {
	ID        int64
	Email     string
	Name      string
	Role      Role
	CreatedAt time.Time
}

// MinPasswordLength is the shortest password AddUser accepts.
const MinPasswordLength = 12

// AddUser creates a local account, or updates the role and password of an
// existing one with the same email. The password is stored as a bcrypt hash.
func (s *Store) AddUser(ctx context.Context, email string, role Role, password, actor string) (User, error) {
	email = strings.TrimSpace(email)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return User{}, fmt.Errorf("add user: %w", invalidf("email %q is not a valid address", email))
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, fmt.Errorf("add user: %w", err)
	}
	if len(password) < MinPasswordLength {
		return User{}, fmt.Errorf("add user: %w", invalidf("password must be at least %d characters", MinPasswordLength))
	}
	if len(password) > 72 {
		return User{}, fmt.Errorf("add user: %w", invalidf("password must be at most 72 bytes"))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return User{}, fmt.Errorf("add user: %w", err)
	}
	now := time.Now().Unix()
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO users (email, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (email) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash,
				updated_at = excluded.updated_at`,
			email, role, string(hash), now, now)
		if err != nil {
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

// UserByEmail returns the user with this email (case-insensitive).
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return s.user(ctx, "email = ? COLLATE NOCASE", strings.TrimSpace(email))
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
	var u User
	var created int64
	err := s.r.QueryRowContext(ctx, "SELECT id, email, name, role, created_at FROM users WHERE "+where, arg).
		Scan(&u.ID, &u.Email, &u.Name, &u.Role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, notFoundf("user %v was not found", arg)
	}
	if err != nil {
		return User{}, fmt.Errorf("user: %w", err)
	}
	u.CreatedAt = time.Unix(created, 0).UTC()
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

// Authenticate checks a local password and returns the user.
func (s *Store) Authenticate(ctx context.Context, email, password string) (User, error) {
	var hash string
	var id int64
	err := s.r.QueryRowContext(ctx, "SELECT id, password_hash FROM users WHERE email = ? COLLATE NOCASE",
		strings.TrimSpace(email)).Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) || hash == "" {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("authenticate: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return User{}, ErrBadCredentials
	}
	return s.UserByID(ctx, id)
}
