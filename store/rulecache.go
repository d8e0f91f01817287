package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// ruleCache keeps the directory's rule-readable columns in memory between
// evaluations of membership rules.
//
// The rule editor previews a rule on every pause in typing, and a dynamic
// group's page and the groups list evaluate rules over the whole directory.
// Reading 100,000 rows through modernc costs 100 to 300 ms however few
// columns are read (the per-row cost of the driver dominates); evaluating a
// rule over rows held in memory costs a few milliseconds. So the lean rows
// of the last few column sets are kept, and thrown away as soon as the
// database changes: PRAGMA data_version, asked on a connection of its own
// that never writes, changes with every commit by any other connection, this
// process's writer and other processes (the CLI) alike.
type ruleCache struct {
	mu      sync.Mutex
	conn    *sql.Conn // the data_version connection, taken from the reader pool
	version int64
	sets    []*leanDirectory // most recently used first
}

// maxLeanSets bounds how many column sets are kept: the preview (its
// rule's columns and the name), the groups list (every dynamic rule's) and a
// dynamic group's page (with the search columns).
const maxLeanSets = 4

// leanDirectory is every device with only some columns, packed as a
// projection packs them.
type leanDirectory struct {
	key    string
	proj   projection
	pks    []int64
	packed []string
}

// each unpacks every device into a reused row and calls fn.
func (l *leanDirectory) each(fn func(*DeviceRow)) error {
	// No interning: the rows are not kept, and the lookups would cost more
	// than the strings they save.
	sc := newProjectionScanner(l.proj)
	sc.intern = nil
	var r DeviceRow
	for i, pk := range l.pks {
		if err := sc.unpack(pk, l.packed[i], &r); err != nil {
			return err
		}
		fn(&r)
	}
	return nil
}

func (c *ruleCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sets = nil
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// dataVersion asks the cache's own connection whether anything was
// committed since it last asked.
func (s *Store) dataVersion(ctx context.Context) (int64, error) {
	c := &s.rules
	if c.conn == nil {
		conn, err := s.r.Conn(ctx)
		if err != nil {
			return 0, err
		}
		c.conn = conn
	}
	var v int64
	if err := c.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		c.conn.Close()
		c.conn = nil
		return 0, err
	}
	return v, nil
}

// leanDevices returns every device of the directory with the named columns
// (and the row ID), from memory when nothing was committed since they were
// read.
func (s *Store) leanDevices(ctx context.Context, cols []string) (*leanDirectory, error) {
	cols = slices.Clone(cols)
	if len(cols) == 0 {
		cols = []string{"display_name"} // no columns would mean every column
	}
	slices.Sort(cols)
	cols = slices.Compact(cols)
	key := strings.Join(cols, ",")

	c := &s.rules
	c.mu.Lock()
	defer c.mu.Unlock()
	v, err := s.dataVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("data version: %w", err)
	}
	if v != c.version {
		c.sets, c.version = nil, v
	}
	for i, l := range c.sets {
		if l.key == key {
			copy(c.sets[1:i+1], c.sets[:i])
			c.sets[0] = l
			return l, nil
		}
	}
	// Read after taking the version: a commit in between makes the next
	// call read again, never keeps stale rows.
	l, err := s.loadLean(ctx, key, cols)
	if err != nil {
		return nil, err
	}
	c.sets = append([]*leanDirectory{l}, c.sets...)
	if len(c.sets) > maxLeanSets {
		c.sets = c.sets[:maxLeanSets]
	}
	return l, nil
}

// leanChunkRows is about how many rows one reader loads when the directory is
// read in parallel.
const leanChunkRows = 25_000

// loadLean reads the columns of every device. A large directory is read in
// row ID ranges on several reader connections at once: the cost is the
// driver's, per row, and it parallelises.
func (s *Store) loadLean(ctx context.Context, key string, cols []string) (*leanDirectory, error) {
	l := &leanDirectory{key: key, proj: projectionOf(cols)}
	var maxID int64
	if err := s.r.QueryRowContext(ctx, `SELECT ifnull(max(id), 0) FROM devices`).Scan(&maxID); err != nil {
		return nil, fmt.Errorf("lean directory: %w", err)
	}
	chunks := int(min(maxID/leanChunkRows+1, int64(max(2, runtime.GOMAXPROCS(0))), 8))
	type part struct {
		pks    []int64
		packed []string
		err    error
	}
	parts := make([]part, chunks)
	var wg sync.WaitGroup
	for i := range chunks {
		lo, hi := maxID*int64(i)/int64(chunks), maxID*int64(i+1)/int64(chunks)
		if i == chunks-1 {
			hi = math.MaxInt64
		}
		wg.Go(func() {
			p := &parts[i]
			rows, err := s.r.QueryContext(ctx, "SELECT "+l.proj.sql+" FROM devices d WHERE d.id > ? AND d.id <= ?", lo, hi)
			if err != nil {
				p.err = err
				return
			}
			defer rows.Close()
			var pk int64
			var packed string
			for rows.Next() {
				if err := rows.Scan(&pk, &packed); err != nil {
					p.err = err
					return
				}
				p.pks = append(p.pks, pk)
				p.packed = append(p.packed, packed)
			}
			p.err = rows.Err()
		})
	}
	wg.Wait()
	n := 0
	for _, p := range parts {
		if p.err != nil {
			return nil, fmt.Errorf("lean directory: %w", p.err)
		}
		n += len(p.pks)
	}
	l.pks, l.packed = make([]int64, 0, n), make([]string, 0, n)
	for _, p := range parts {
		l.pks = append(l.pks, p.pks...)
		l.packed = append(l.packed, p.packed...)
	}
	return l, nil
}
