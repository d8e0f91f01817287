package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The figures an operator watches (the /metrics endpoint): each is read
// when asked, from counters the database keeps or from small tables.

// RunStat sums the discovery runs of one trigger that ended one way.
type RunStat struct {
	Trigger Trigger
	State   RunState
	Runs    int
	Seconds float64 // their durations added up
}

// DiscoveryRunStats counts the finished discovery runs by trigger and state.
func (s *Store) DiscoveryRunStats(ctx context.Context) ([]RunStat, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT trigger, state, count(*), total(max(finished_at - started_at, 0)) FROM discovery_runs
		WHERE state <> 'running' GROUP BY trigger, state`)
	if err != nil {
		return nil, fmt.Errorf("discovery run stats: %w", err)
	}
	defer rows.Close()
	var out []RunStat
	for rows.Next() {
		var r RunStat
		if err := rows.Scan(&r.Trigger, &r.State, &r.Runs, &r.Seconds); err != nil {
			return nil, fmt.Errorf("discovery run stats: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("discovery run stats: %w", err)
	}
	return out, nil
}

// CheckFailureCounts counts the devices failing each check now.
func (s *Store) CheckFailureCounts(ctx context.Context) (map[CheckID]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT check_id, count(*) FROM check_results WHERE passed = 0 GROUP BY check_id`)
	if err != nil {
		return nil, fmt.Errorf("check failure counts: %w", err)
	}
	defer rows.Close()
	out := map[CheckID]int{}
	for rows.Next() {
		var id CheckID
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("check failure counts: %w", err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check failure counts: %w", err)
	}
	return out, nil
}

// ActiveSessions counts the sessions that have not expired at now.
func (s *Store) ActiveSessions(ctx context.Context, now time.Time) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE expires_at > ?`, now.Unix()).Scan(&n); err != nil {
		return 0, fmt.Errorf("active sessions: %w", err)
	}
	return n, nil
}

// PoolStat is how busy one of the database connection pools is.
type PoolStat struct {
	Pool string // "reads" (pages and API), "exports", "writes"
	sql.DBStats
}

// PoolStats reports the connection pools: how many connections are in use
// and how often and how long callers waited for one.
func (s *Store) PoolStats() []PoolStat {
	return []PoolStat{
		{"reads", s.r.Stats()},
		{"exports", s.exports.stmts.db.Stats()},
		{"writes", s.w.Stats()},
	}
}
