package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Area is an admin contact's area of focus (SPEC §13). Each area needs at
// least one contact; an alert says so while one has none.
type Area string

// Areas of focus.
const (
	AreaDevices Area = "devices"
	AreaUpdates Area = "updates"
)

// Areas lists the areas of focus in the order the portal shows them.
var Areas = []Area{AreaDevices, AreaUpdates}

// Label is the area as the UI names it.
func (a Area) Label() string {
	switch a {
	case AreaDevices:
		return "Devices"
	case AreaUpdates:
		return "Updates"
	}
	return string(a)
}

// Contact is an admin contact: the person the service reaches about an area.
type Contact struct {
	ID          int64
	Name        string
	Email       string
	Phone       string
	Language    string // a BCP 47 tag such as "en" or "de-CH"
	Area        Area
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Audit actions of contacts.
const (
	ActionContactAdd    = "contact.add"
	ActionContactUpdate = "contact.update"
	ActionContactDelete = "contact.delete"
)

// Limits of a contact's fields, in characters.
const (
	maxContactName        = 100
	maxContactEmail       = 254
	maxContactPhone       = 32
	maxContactDescription = 500
)

// normalize trims c's fields and fills the default language.
func (c *Contact) normalize() {
	c.Name, c.Email, c.Phone = strings.TrimSpace(c.Name), strings.TrimSpace(c.Email), strings.TrimSpace(c.Phone)
	c.Language, c.Description = strings.TrimSpace(c.Language), strings.TrimSpace(c.Description)
	c.Area = Area(strings.ToLower(strings.TrimSpace(string(c.Area))))
	if c.Language == "" {
		c.Language = "en"
	}
}

// Validate reports every field of c that is wrong, each with what to do.
func (c Contact) Validate() error {
	var v ValidationError
	bad := func(field, value, reason string) {
		v.add(FieldError{Field: field, Value: value, Reason: reason})
	}
	text := func(field, value string, limit int) {
		if err := checkText(value, limit); err != nil {
			bad(field, value, field+" "+err.Error())
		}
	}
	if c.Name == "" {
		bad("name", c.Name, "enter the contact's name")
	} else {
		text("name", c.Name, maxContactName)
	}
	if c.Email == "" {
		bad("email", c.Email, "enter the contact's e-mail address")
	} else if len(c.Email) > maxContactEmail || validEmail(c.Email) != nil {
		bad("email", c.Email, fmt.Sprintf("%q is not an e-mail address; write it as name@example.com", c.Email))
	}
	if c.Phone != "" && !validPhone(c.Phone) {
		bad("phone", c.Phone, fmt.Sprintf("%q is not a phone number; use digits, spaces, +, -, ( and ), at most %d characters", c.Phone, maxContactPhone))
	}
	if !validLanguage(c.Language) {
		bad("language", c.Language, fmt.Sprintf("%q is not a language tag; write it as en, de or fr-CH", c.Language))
	}
	if c.Area != AreaDevices && c.Area != AreaUpdates {
		bad("area", string(c.Area), "choose the area of focus: Devices or Updates")
	}
	if c.Description != "" {
		text("description", c.Description, maxContactDescription)
	}
	if v.empty() {
		return nil
	}
	return &v
}

// validPhone accepts what people write for phone numbers: digits with
// spaces, a leading +, dashes, dots and brackets, and at least 3 digits.
func validPhone(s string) bool {
	if len(s) > maxContactPhone {
		return false
	}
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return false
		}
	}
	return digits >= 3
}

// validLanguage accepts a simple BCP 47 tag: a 2–3 letter language and
// optional 2–8 character subtags ("en", "de-CH", "zh-Hans").
func validLanguage(s string) bool {
	parts := strings.Split(s, "-")
	if l := len(parts[0]); l < 2 || l > 3 || len(parts) > 3 {
		return false
	}
	for i, p := range parts {
		if i > 0 && (len(p) < 2 || len(p) > 8) {
			return false
		}
		for _, r := range p {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

const contactCols = `id, name, email, phone, language, area, description, created_at, updated_at`

func scanContact(rs rowScanner) (Contact, error) {
	var c Contact
	var created, updated int64
	err := rs.Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &c.Language, &c.Area, &c.Description, &created, &updated)
	c.CreatedAt, c.UpdatedAt = time.Unix(created, 0).UTC(), time.Unix(updated, 0).UTC()
	return c, err
}

// Contacts lists the admin contacts by area, then name.
func (s *Store) Contacts(ctx context.Context) ([]Contact, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+contactCols+" FROM admin_contacts ORDER BY area, name COLLATE NOCASE, id")
	if err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	defer rows.Close()
	var out []Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, fmt.Errorf("contacts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Contact returns one admin contact.
func (s *Store) Contact(ctx context.Context, id int64) (Contact, error) {
	c, err := scanContact(s.r.QueryRowContext(ctx, "SELECT "+contactCols+" FROM admin_contacts WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, notFoundf("admin contact %d was not found; it may have been deleted", id)
	}
	if err != nil {
		return Contact{}, fmt.Errorf("contact: %w", err)
	}
	return c, nil
}

// SaveContact adds c (ID 0) or replaces the contact with c's ID, audits the
// change and re-evaluates the tenant alerts in the same transaction, so the
// "no admin contact" alert follows the contacts exactly.
func (s *Store) SaveContact(ctx context.Context, c Contact, actor string, now time.Time) (Contact, error) {
	c.normalize()
	if err := c.Validate(); err != nil {
		return Contact{}, err // the form shows each field's message as it is
	}
	c.UpdatedAt = now.UTC().Truncate(time.Second)
	err := s.write(ctx, func(tx *sql.Tx) error {
		var dup int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM admin_contacts WHERE area = ? AND email = ? COLLATE NOCASE AND id <> ?`,
			c.Area, c.Email, c.ID).Scan(&dup)
		if err == nil {
			return conflictf("%s is already a contact for %s; edit that contact instead", c.Email, c.Area.Label())
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		action := ActionContactUpdate
		if c.ID == 0 {
			action, c.CreatedAt = ActionContactAdd, c.UpdatedAt
			res, err := tx.ExecContext(ctx, `INSERT INTO admin_contacts (name, email, phone, language, area, description, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Name, c.Email, c.Phone, c.Language, c.Area, c.Description, c.CreatedAt.Unix(), c.UpdatedAt.Unix())
			if err != nil {
				return err
			}
			if c.ID, err = res.LastInsertId(); err != nil {
				return err
			}
		} else {
			old, err := scanContact(tx.QueryRowContext(ctx, "SELECT "+contactCols+" FROM admin_contacts WHERE id = ?", c.ID))
			if errors.Is(err, sql.ErrNoRows) {
				return notFoundf("admin contact %d was not found; it may have been deleted", c.ID)
			}
			if err != nil {
				return err
			}
			c.CreatedAt = old.CreatedAt
			if _, err := tx.ExecContext(ctx, `UPDATE admin_contacts SET name = ?, email = ?, phone = ?, language = ?, area = ?,
				description = ?, updated_at = ? WHERE id = ?`, c.Name, c.Email, c.Phone, c.Language, c.Area, c.Description, c.UpdatedAt.Unix(), c.ID); err != nil {
				return err
			}
		}
		if err := recordAudit(ctx, tx, AuditEntry{At: c.UpdatedAt, Actor: actor, Action: action, Target: c.Email,
			Outcome: OutcomeSuccess, Detail: contactDetail(c)}, nil); err != nil {
			return err
		}
		return evaluateAlerts(ctx, tx, now, false)
	})
	if err != nil {
		return Contact{}, fmt.Errorf("save contact: %w", err)
	}
	return c, nil
}

// DeleteContact removes an admin contact, audits it and re-evaluates the
// tenant alerts.
func (s *Store) DeleteContact(ctx context.Context, id int64, actor string, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		c, err := scanContact(tx.QueryRowContext(ctx, "SELECT "+contactCols+" FROM admin_contacts WHERE id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFoundf("admin contact %d was not found; it may have been deleted", id)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_contacts WHERE id = ?`, id); err != nil {
			return err
		}
		if err := recordAudit(ctx, tx, AuditEntry{At: now, Actor: actor, Action: ActionContactDelete, Target: c.Email,
			Outcome: OutcomeSuccess, Detail: contactDetail(c)}, nil); err != nil {
			return err
		}
		return evaluateAlerts(ctx, tx, now, false)
	})
	if err != nil {
		return fmt.Errorf("delete contact: %w", err)
	}
	return nil
}

func contactDetail(c Contact) string {
	return fmt.Sprintf("%s, %s, phone %q, language %s", c.Name, c.Area.Label(), c.Phone, c.Language)
}
