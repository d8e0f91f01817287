package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// versionWatch tells whether anything was committed to the database since
// it last looked, and keeps the small facts every page reads (the counters,
// the last discovery run, the signed-in user, their columns) until then.
//
// PRAGMA data_version, asked on a connection of its own that never writes,
// changes with every commit by any other connection: this process's writer
// and other processes (the CLI) alike. Asking costs a few microseconds;
// reading the facts again cost a blade page about a third of its time. Any
// commit drops them all, which is simple and, with commits coming from
// discovery runs and admin actions, rare enough.
type versionWatch struct {
	mu   sync.Mutex
	conn *sql.Conn // taken from the reader pool
	last int64     // the connection's data_version when last asked
	// gen is the version callers see: it moves whenever data_version does,
	// and when the connection is replaced (a new connection's data_version
	// is not comparable with the old one's).
	gen  uint64
	memo map[string]any // facts read at gen
	// pages are the keys of the blade pages among them, oldest first.
	pages []string
}

// memoMax bounds the facts kept between commits: a few per signed-in user.
const memoMax = 4096

// keptPagesMax bounds the blade pages among them (a page of 200 rows is
// about 100 kB): the newest are kept, which are the first pages of the
// blades every admin opens, not everything somebody paged through.
const keptPagesMax = 64

// pageKeyPrefix starts the memo key of a blade page.
const pageKeyPrefix = "page:"

// version returns the database's current version: equal versions mean
// nothing was committed in between.
func (s *Store) version(ctx context.Context) (uint64, error) {
	scope, _ := ctx.Value(versionScopeKey{}).(*atomic.Uint64)
	if scope != nil {
		if g := scope.Load(); g != 0 {
			return g - 1, nil
		}
	}
	g, err := s.watch.version(ctx, s.r)
	if err == nil && scope != nil {
		scope.Store(g + 1)
	}
	return g, err
}

// versionScopeKey is the context key of a version scope.
type versionScopeKey struct{}

// WithVersionScope returns a context in which the store asks the
// database's version once, for a whole request: a blade page read it
// seven times (the session, the user, the alerts banner, the pauses, the
// saved views, the blade), each on the one watch connection under its
// lock, which cost a sixth of the page and queued concurrent requests.
// Facts kept at that version are never older than it, so a request sees
// the database as of its start or later, as before; a write made with the
// context ends the scope, so the request's next read sees its own write.
func WithVersionScope(ctx context.Context) context.Context {
	return context.WithValue(ctx, versionScopeKey{}, new(atomic.Uint64)) // version+1; 0: not asked yet
}

// endVersionScope makes the next read in ctx's scope ask again.
func endVersionScope(ctx context.Context) {
	if scope, _ := ctx.Value(versionScopeKey{}).(*atomic.Uint64); scope != nil {
		scope.Store(0)
	}
}

func (w *versionWatch) version(ctx context.Context, pool *sql.DB) (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn == nil {
		conn, err := pool.Conn(ctx)
		if err != nil {
			return 0, fmt.Errorf("data version: %w", err)
		}
		w.conn = conn
		w.advance()
	}
	var v int64
	if err := w.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		_ = w.conn.Close() // broken already: the next call opens another
		w.conn = nil
		return 0, fmt.Errorf("data version: %w", err)
	}
	if v != w.last {
		w.last = v
		w.advance()
	}
	return w.gen, nil
}

func (w *versionWatch) advance() {
	w.gen++
	w.memo, w.pages = nil, nil
}

func (w *versionWatch) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.memo = nil
	if w.conn == nil {
		return nil
	}
	err := w.conn.Close()
	w.conn = nil
	return err
}

// memoized returns the fact under key read at version v, reading it with
// load when it is not kept. A fact read is kept only if nothing was
// committed since v: load runs after v was taken, so what it reads is never
// older than v, and a later commit drops it.
func memoized[T any](s *Store, v uint64, key string, load func() (T, error)) (T, error) {
	w := &s.watch
	w.mu.Lock()
	if w.gen == v {
		if x, ok := w.memo[key]; ok {
			w.mu.Unlock()
			return x.(T), nil
		}
	}
	w.mu.Unlock()
	x, err := load()
	if err != nil {
		return x, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gen != v {
		return x, nil
	}
	if w.memo == nil || len(w.memo) >= memoMax {
		w.memo, w.pages = map[string]any{}, nil
	}
	if _, kept := w.memo[key]; !kept && strings.HasPrefix(key, pageKeyPrefix) {
		if len(w.pages) == keptPagesMax {
			delete(w.memo, w.pages[0])
			w.pages = append(w.pages[:0], w.pages[1:]...)
		}
		w.pages = append(w.pages, key)
	}
	w.memo[key] = x
	return x, nil
}
