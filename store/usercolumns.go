package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// BladeColumns are the keys Modify columns offers, in SPEC §8 order.
var BladeColumns = []string{"display_name", "device_id", "serial_number", "manufacturer", "model",
	"os_version", "edition", "architecture", "join_type", "management", "ownership", "device_kind",
	"last_checkin", "status", "reasons", "ring", "ring_assigned_by", "registered_on", "discovered_via"}

// DefaultColumns are each tab's columns until a user chooses others.
func DefaultColumns(t Tab) []string {
	switch t {
	case TabReady:
		return []string{"display_name", "serial_number", "model", "os_version", "last_checkin", "status", "ring", "ring_assigned_by", "registered_on"}
	case TabNotReady:
		return []string{"display_name", "serial_number", "model", "last_checkin", "status", "reasons", "ring"}
	}
	return []string{"display_name", "serial_number", "model", "last_checkin", "status", "reasons", "discovered_via"}
}

// UserColumns returns the user's saved columns for a tab, or the tab's defaults.
func (s *Store) UserColumns(ctx context.Context, userID int64, t Tab) ([]string, error) {
	v, err := s.version(ctx)
	if err != nil {
		return nil, err
	}
	cols, err := s.userColumns(ctx, v, userID, t)
	return slices.Clone(cols), err
}

// userColumns reads the user's columns at version v; the slice is shared.
func (s *Store) userColumns(ctx context.Context, v uint64, userID int64, t Tab) ([]string, error) {
	return memoized(s, v, fmt.Sprintf("columns:%d:%s", userID, t), func() ([]string, error) {
		var cols string
		err := s.r.QueryRowContext(ctx, `SELECT columns FROM user_columns WHERE user_id = ? AND tab = ?`, userID, string(t)).Scan(&cols)
		if errors.Is(err, sql.ErrNoRows) {
			return DefaultColumns(t), nil
		}
		if err != nil {
			return nil, fmt.Errorf("user columns: %w", err)
		}
		return strings.Split(cols, ","), nil
	})
}

// SetUserColumns saves the user's columns for a tab. Keys must be blade
// columns; at least one is required. nil resets to the defaults.
func (s *Store) SetUserColumns(ctx context.Context, userID int64, t Tab, keys []string) error {
	if _, err := ParseTab(string(t)); err != nil {
		return err
	}
	if keys == nil {
		_, err := s.exec(ctx, `DELETE FROM user_columns WHERE user_id = ? AND tab = ?`, userID, string(t))
		return err
	}
	allowed := map[string]bool{}
	for _, k := range BladeColumns {
		allowed[k] = true
	}
	var clean []string
	seen := map[string]bool{}
	for _, k := range keys {
		if !allowed[k] {
			return invalidf("column %q cannot be shown on the blades", k)
		}
		if !seen[k] {
			seen[k] = true
			clean = append(clean, k)
		}
	}
	if len(clean) == 0 {
		return invalidf("choose at least one column")
	}
	_, err := s.exec(ctx, `INSERT INTO user_columns (user_id, tab, columns) VALUES (?, ?, ?)
		ON CONFLICT (user_id, tab) DO UPDATE SET columns = excluded.columns`, userID, string(t), strings.Join(clean, ","))
	if err != nil {
		return fmt.Errorf("save columns: %w", err)
	}
	return nil
}
