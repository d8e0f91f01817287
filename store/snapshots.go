package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// SnapshotKeepDays is how long daily snapshots are kept: the overview draws
// the last TrendDays of them; the rest is history for reports to come.
const SnapshotKeepDays = 90

// TrendDays is the window of the overview's trend.
const TrendDays = 30

// Snapshot is the tabs' counts on one day (UTC), taken when that day's first
// discovery run finished.
type Snapshot struct {
	Day                            time.Time // midnight UTC
	Ready, NotReady, NotRegistered int
}

// Tab is the snapshot's count of t.
func (s Snapshot) Tab(t Tab) int {
	switch t {
	case TabReady:
		return s.Ready
	case TabNotReady:
		return s.NotReady
	case TabNotRegistered:
		return s.NotRegistered
	}
	return 0
}

// snapshotDay is the key of t's day.
func snapshotDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// recordSnapshot keeps the tabs' counts of at's day, unless the day has its
// snapshot already, and drops the snapshots older than SnapshotKeepDays.
// It runs inside the transaction that finishes a discovery run, so the
// counts are the ones the run left, and once a day is all it writes.
func recordSnapshot(ctx context.Context, tx *sql.Tx, at time.Time) error {
	c, err := readCounts(ctx, tx)
	if err != nil {
		return err
	}
	day := at.UTC().Truncate(24 * time.Hour)
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO daily_snapshots (day, taken_at, ready, not_ready, not_registered) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (day) DO NOTHING`,
		snapshotDay(day), at.Unix(), c.Tab(TabReady), c.Tab(TabNotReady), c.Tab(TabNotRegistered)); err != nil {
		return fmt.Errorf("daily snapshot: %w", err)
	}
	oldest := day.AddDate(0, 0, -(SnapshotKeepDays - 1))
	if _, err := tx.ExecContext(ctx, `DELETE FROM daily_snapshots WHERE day < ?`, snapshotDay(oldest)); err != nil {
		return fmt.Errorf("prune daily snapshots: %w", err)
	}
	return nil
}

// Snapshots returns the daily snapshots of the last days days, now's day
// (UTC) included, oldest first; days without a discovery have none.
func (s *Store) Snapshots(ctx context.Context, now time.Time, days int) ([]Snapshot, error) {
	v, err := s.version(ctx)
	if err != nil {
		return nil, err
	}
	return s.snapshots(ctx, v, now, days)
}

func (s *Store) snapshots(ctx context.Context, v uint64, now time.Time, days int) ([]Snapshot, error) {
	last := now.UTC().Truncate(24 * time.Hour)
	first := last.AddDate(0, 0, -(days - 1))
	key := fmt.Sprintf("snapshots|%s|%s", snapshotDay(first), snapshotDay(last))
	return memoized(s, v, key, func() ([]Snapshot, error) {
		rows, err := s.query(ctx, `SELECT day, ready, not_ready, not_registered FROM daily_snapshots
			WHERE day BETWEEN ? AND ? ORDER BY day`, snapshotDay(first), snapshotDay(last))
		if err != nil {
			return nil, fmt.Errorf("daily snapshots: %w", err)
		}
		defer rows.Close()
		var out []Snapshot
		for rows.Next() {
			var day string
			var sn Snapshot
			if err := rows.Scan(&day, &sn.Ready, &sn.NotReady, &sn.NotRegistered); err != nil {
				return nil, fmt.Errorf("daily snapshots: %w", err)
			}
			if sn.Day, err = time.Parse(time.DateOnly, day); err != nil {
				return nil, fmt.Errorf("daily snapshot %q: %w", day, err)
			}
			out = append(out, sn)
		}
		return out, rows.Err()
	})
}

// CheckCount is how many devices of a tab fail one check.
type CheckCount struct {
	Check CheckID
	N     int
}

// FailingChecks counts, per check, the devices of a tab that fail it, most
// failed first (the blades' check chips). The triggers of migration 0060
// keep the counts, so this never counts devices; the result is kept until
// the next commit and shared between readers: do not modify it.
func (s *Store) FailingChecks(ctx context.Context, tab Tab) ([]CheckCount, error) {
	if _, err := ParseTab(string(tab)); err != nil {
		return nil, err
	}
	v, err := s.version(ctx)
	if err != nil {
		return nil, err
	}
	all, err := s.failingChecks(ctx, v)
	if err != nil {
		return nil, err
	}
	return all[tab], nil
}

// failingChecks reads the kept counts of every tab at version v. A tab
// with no failures has no entry.
func (s *Store) failingChecks(ctx context.Context, v uint64) (map[Tab][]CheckCount, error) {
	return memoized(s, v, "failing-checks", func() (map[Tab][]CheckCount, error) {
		rows, err := s.query(ctx, `SELECT tab, check_id, n FROM check_counts WHERE n > 0`)
		if err != nil {
			return nil, fmt.Errorf("failing checks: %w", err)
		}
		defer rows.Close()
		out := map[Tab][]CheckCount{}
		for rows.Next() {
			var tab Tab
			var c CheckCount
			if err := rows.Scan(&tab, &c.Check, &c.N); err != nil {
				return nil, fmt.Errorf("failing checks: %w", err)
			}
			out[tab] = append(out[tab], c)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("failing checks: %w", err)
		}
		for _, cs := range out {
			slices.SortFunc(cs, compareCheckCounts)
		}
		return out, nil
	})
}

// compareCheckCounts orders by devices, most first; ties in the order the
// checks are evaluated, so that the list is stable.
func compareCheckCounts(a, b CheckCount) int {
	if a.N != b.N {
		return b.N - a.N
	}
	ia, ib := slices.Index(allCheckIDs, a.Check), slices.Index(allCheckIDs, b.Check)
	if ia != ib {
		return ia - ib
	}
	if a.Check < b.Check {
		return -1
	}
	if a.Check > b.Check {
		return 1
	}
	return 0
}

// Overview is everything the overview page shows.
type Overview struct {
	// Counts are shared with other readers: do not modify their maps.
	Counts Counts
	// FailingChecks are the devices per failing check of each tab, most
	// failed first; shared with other readers: do not modify them.
	FailingChecks map[Tab][]CheckCount
	// LastRun is the newest discovery run, nil before the first.
	LastRun *DiscoveryRun
	// LastScheduledRun is the newest run the scheduler started, nil before
	// the first: the next one is due an interval after it started.
	LastScheduledRun *DiscoveryRun
	// Trend holds the snapshots of the last TrendDays days, oldest first.
	Trend []Snapshot
}

// Overview reads the overview page's facts as of now in one call; all of
// them are kept between commits, as the blade's are.
func (s *Store) Overview(ctx context.Context, now time.Time) (Overview, error) {
	v, err := s.version(ctx)
	if err != nil {
		return Overview{}, err
	}
	var o Overview
	if o.Counts, err = s.counts(ctx, v); err != nil {
		return Overview{}, err
	}
	if o.FailingChecks, err = s.failingChecks(ctx, v); err != nil {
		return Overview{}, err
	}
	if o.LastRun, err = s.lastRun(ctx, v); err != nil {
		return Overview{}, err
	}
	if o.LastScheduledRun, err = s.lastScheduledRun(ctx, v); err != nil {
		return Overview{}, err
	}
	if o.Trend, err = s.snapshots(ctx, v, now, TrendDays); err != nil {
		return Overview{}, err
	}
	// The kept runs are shared: the caller gets copies.
	if o.LastRun != nil {
		r := *o.LastRun
		o.LastRun = &r
	}
	if o.LastScheduledRun != nil {
		r := *o.LastScheduledRun
		o.LastScheduledRun = &r
	}
	return o, nil
}

// lastScheduledRun is the newest run the scheduler started, at version v.
// Almost every run is a scheduled one, so walking back from the newest is
// short.
func (s *Store) lastScheduledRun(ctx context.Context, v uint64) (*DiscoveryRun, error) {
	return memoized(s, v, "last-scheduled-run", func() (*DiscoveryRun, error) {
		r, err := scanRun(s.queryRow(ctx, "SELECT "+runCols+" FROM discovery_runs WHERE trigger = 'schedule' ORDER BY id DESC LIMIT 1"))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("last scheduled discovery run: %w", err)
		}
		return &r, nil
	})
}
