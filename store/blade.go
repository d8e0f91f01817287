package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Blade is everything a device blade shows: the page of rows, the tab
// counts, the columns the user chose, the registration group and the last
// discovery run.
type Blade struct {
	Page DevicePage
	// Counts are shared with other readers: do not modify their maps.
	Counts Counts
	// Columns are the keys of the user's visible columns for the tab.
	Columns             []string
	RegistrationGroupID int64
	// LastRun is nil until discovery has run once.
	LastRun *DiscoveryRun
	// LastSync is the last directory sync (nil when the directory is local
	// or has not synced yet); LastGoodSync is when the last one that
	// completed finished.
	LastSync     *SyncRun
	LastGoodSync time.Time
}

// Blade reads a blade for a user in one call. Everything is kept between
// commits (Store.version): the counts and the user's columns, and the last
// pages asked for (up to keptPagesMax). Without q.Columns, the rows hold the
// user's visible columns (see DeviceQuery.Columns). The page's rows are
// shared with other readers: do not modify them.
func (s *Store) Blade(ctx context.Context, userID int64, q DeviceQuery) (Blade, error) {
	v, err := s.version(ctx)
	if err != nil {
		return Blade{}, err
	}
	var b Blade
	if b.Columns, err = s.userColumns(ctx, v, userID, q.Tab); err != nil {
		return Blade{}, err
	}
	if q.Columns == nil {
		q.Columns = b.Columns
	}
	// Between two commits every admin opening a blade asks for the same
	// first page: the page is kept, and only the first asker reads it.
	b.Page, err = memoized(s, v, pageKey(q), func() (DevicePage, error) { return s.devicePage(ctx, v, q) })
	if err != nil {
		return Blade{}, err
	}
	if b.Counts, err = s.counts(ctx, v); err != nil {
		return Blade{}, err
	}
	if b.RegistrationGroupID, err = s.registrationGroupID(ctx, v); err != nil {
		return Blade{}, err
	}
	run, err := s.lastRun(ctx, v)
	if err != nil {
		return Blade{}, err
	}
	if run != nil {
		r := *run // the kept run is shared
		b.LastRun = &r
	}
	if s.dir.src != nil {
		st, err := memoized(s, v, "last-sync", func() (syncStatus, error) { return s.syncStatus(ctx) })
		if err != nil {
			return Blade{}, err
		}
		b.LastSync, b.LastGoodSync = st.last, st.lastGood
	}
	return b, nil
}

// registrationGroupID is the built-in group's ID, read at version v.
func (s *Store) registrationGroupID(ctx context.Context, v uint64) (int64, error) {
	return memoized(s, v, "registration-group", func() (int64, error) { return s.RegistrationGroupID(ctx) })
}

// lastRun is the newest discovery run at version v, nil before the first.
func (s *Store) lastRun(ctx context.Context, v uint64) (*DiscoveryRun, error) {
	return memoized(s, v, "last-run", func() (*DiscoveryRun, error) {
		r, err := scanRun(s.r.QueryRowContext(ctx, "SELECT "+runCols+" FROM discovery_runs ORDER BY id DESC LIMIT 1"))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("last discovery run: %w", err)
		}
		return &r, nil
	})
}

// pageKey is the memo key of a blade page: every field of the query.
func pageKey(q DeviceQuery) string {
	return fmt.Sprintf("%s%s|%s|%s|%q|%s|%t|%d|%d|%s|%s|%s|%d|%q", pageKeyPrefix, q.Tab, q.Status, q.Ring, q.Search, q.Sort, q.Desc,
		q.Limit, q.Offset, q.After, strings.Join(q.Columns, ","), q.Check, q.List, q.Rule)
}
