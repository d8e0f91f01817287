package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ruleCache keeps the directory's rule-readable columns in memory between
// evaluations of membership rules.
//
// The rule editor previews a rule on every pause in typing, and a dynamic
// group's page and the groups list evaluate rules over the whole directory.
// Reading 100,000 devices costs 50 to 150 ms even for one or two columns
// (see loadLean); evaluating a rule over rows held in memory costs a few
// milliseconds. So the lean rows of the last few column sets are kept, and
// thrown away as soon as the database changes (Store.version). Any commit
// drops them, not only changes to devices: telling those apart would cost a
// pass over the table, about what reading it again does.
type ruleCache struct {
	mu      sync.Mutex
	version uint64
	sets    []*leanDirectory // most recently used first
	idle    *time.Timer      // drops the sets when nobody used them for leanIdle
}

// leanIdle is how long unused rows are kept: a 1,000,000-device directory
// costs tens of megabytes per column set.
const leanIdle = 10 * time.Minute

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
	sc := newProjectionScanner(l.proj)
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
	if c.idle != nil {
		c.idle.Stop()
	}
	return nil
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
	if c.idle == nil {
		c.idle = time.AfterFunc(leanIdle, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.sets = nil
		})
	} else {
		c.idle.Reset(leanIdle)
	}
	v, err := s.version(ctx)
	if err != nil {
		return nil, err
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
	l, err := s.loadLean(ctx, key, cols, 0)
	if err != nil {
		return nil, err
	}
	c.sets = append([]*leanDirectory{l}, c.sets...)
	if len(c.sets) > maxLeanSets {
		c.sets = c.sets[:maxLeanSets]
	}
	return l, nil
}

// leanChunkRows is how many row IDs one statement of a directory read
// spans.
const leanChunkRows = 25_000

// loadLean reads the columns of every device.
//
// The rows come packed, and many to a value: each statement returns one
// group_concat of the packed rows of a range of row IDs. Stepping through
// rows one by one through the driver costs about twice as much as SQLite
// building the string. The ranges are read on several reader connections at
// once (readers of 0 chooses how many).
func (s *Store) loadLean(ctx context.Context, key string, cols []string, readers int) (*leanDirectory, error) {
	l := &leanDirectory{key: key, proj: projectionOf(cols)}
	var maxID int64
	if err := s.r.QueryRowContext(ctx, `SELECT ifnull(max(id), 0) FROM devices`).Scan(&maxID); err != nil {
		return nil, fmt.Errorf("lean directory: %w", err)
	}
	chunks := int(maxID/leanChunkRows + 1)
	if readers <= 0 {
		readers = min(max(2, runtime.GOMAXPROCS(0)), 4)
	}
	// "pk<US>col<US>col…" rows joined by the record separator.
	row := strings.Replace(l.proj.sql, "d.id, ", "d.id || char(31) || ", 1)
	q := "SELECT ifnull(group_concat(" + row + ", char(30)), '') FROM devices d WHERE d.id > ? AND d.id <= ?"
	texts := make([]string, chunks)
	errs := make([]error, chunks)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(readers, chunks) {
		wg.Go(func() {
			for i := range next {
				lo := int64(i) * leanChunkRows
				errs[i] = s.r.QueryRowContext(ctx, q, lo, lo+leanChunkRows).Scan(&texts[i])
			}
		})
	}
	for i := range chunks {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("lean directory: %w", err)
	}
	n := 0
	for _, t := range texts {
		if t != "" {
			n += strings.Count(t, recordSep) + 1
		}
	}
	l.pks, l.packed = make([]int64, 0, n), make([]string, 0, n)
	for _, t := range texts {
		for t != "" {
			var rec string
			rec, t, _ = strings.Cut(t, recordSep)
			id, packed, _ := strings.Cut(rec, unitSep)
			pk, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("lean directory: row id %q: %w", id, err)
			}
			// packed shares the chunk's memory: no copy per device.
			l.pks = append(l.pks, pk)
			l.packed = append(l.packed, packed)
		}
	}
	return l, nil
}

// recordSep separates the packed rows of a lean read. Stored text holds no
// control characters (see projection).
const recordSep = "\x1e"
