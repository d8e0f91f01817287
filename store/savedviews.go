package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// SavedView is a named view of the device blades: a tab with its filters,
// search and sort (Query, the blade's URL query) and its columns, private
// to its owner or shared with everyone.
type SavedView struct {
	ID      int64
	OwnerID int64
	Owner   string // the owner's e-mail
	Name    string
	Shared  bool
	Tab     Tab
	Query   string
	Columns []string
}

// maxViewsPerUser bounds a user's saved views.
const maxViewsPerUser = 100

// SaveView keeps a view for its owner. The name is unique per owner (case
// aside); the columns must be blade columns.
func (s *Store) SaveView(ctx context.Context, v SavedView, now time.Time) (SavedView, error) {
	v.Name = strings.TrimSpace(v.Name)
	if v.Name == "" || len([]rune(v.Name)) > 80 {
		return SavedView{}, invalidf("name the view (1 to 80 characters)")
	}
	if _, err := ParseTab(string(v.Tab)); err != nil {
		return SavedView{}, err
	}
	if _, err := url.ParseQuery(v.Query); err != nil {
		return SavedView{}, invalidf("the view's filters are not a query: %v", err)
	}
	if _, err := columnsByKeys(v.Columns); err != nil || len(v.Columns) == 0 {
		return SavedView{}, invalidf("the view's columns are not blade columns")
	}
	cols, err := json.Marshal(v.Columns)
	if err != nil {
		return SavedView{}, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM saved_views WHERE owner_id = ?`, v.OwnerID).Scan(&n); err != nil {
			return err
		}
		if n >= maxViewsPerUser {
			return invalidf("you have %d saved views already; delete some first", n)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO saved_views (owner_id, name, shared, tab, query, columns, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (owner_id, name COLLATE NOCASE) DO NOTHING`,
			v.OwnerID, v.Name, v.Shared, string(v.Tab), v.Query, string(cols), now.Unix())
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return conflictf("you have a view named %q already; choose another name", v.Name)
		}
		v.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) {
			return SavedView{}, err
		}
		return SavedView{}, fmt.Errorf("save view: %w", err)
	}
	return v, nil
}

// Views lists the views a user sees: their own and those shared, by name.
// The list is kept until the next commit (every blade page shows it); do
// not modify it.
func (s *Store) Views(ctx context.Context, userID int64) ([]SavedView, error) {
	v, err := s.version(ctx)
	if err != nil {
		return nil, err
	}
	return memoized(s, v, fmt.Sprintf("views:%d", userID), func() ([]SavedView, error) { return s.views(ctx, userID) })
}

func (s *Store) views(ctx context.Context, userID int64) ([]SavedView, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT v.id, v.owner_id, coalesce(u.email, ''), v.name, v.shared, v.tab, v.query, v.columns
		FROM saved_views v LEFT JOIN users u ON u.id = v.owner_id
		WHERE v.owner_id = ? OR v.shared = 1 ORDER BY v.name COLLATE NOCASE, v.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("saved views: %w", err)
	}
	defer rows.Close()
	var out []SavedView
	for rows.Next() {
		var v SavedView
		var cols string
		if err := rows.Scan(&v.ID, &v.OwnerID, &v.Owner, &v.Name, &v.Shared, &v.Tab, &v.Query, &cols); err != nil {
			return nil, fmt.Errorf("saved views: %w", err)
		}
		if err := json.Unmarshal([]byte(cols), &v.Columns); err != nil {
			return nil, fmt.Errorf("saved views: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// View reads one view the user may see.
func (s *Store) View(ctx context.Context, userID, id int64) (SavedView, error) {
	views, err := s.Views(ctx, userID)
	if err != nil {
		return SavedView{}, err
	}
	for _, v := range views {
		if v.ID == id {
			return v, nil
		}
	}
	return SavedView{}, notFoundf("the saved view was deleted, or is not shared with you")
}

// DeleteView deletes a view of its owner's.
func (s *Store) DeleteView(ctx context.Context, userID, id int64) error {
	res, err := s.exec(ctx, `DELETE FROM saved_views WHERE id = ? AND owner_id = ?`, id, userID)
	if err != nil {
		return fmt.Errorf("delete view: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFoundf("that view is not one of yours; only its owner can delete it")
	}
	return nil
}
