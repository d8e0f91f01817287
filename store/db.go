package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is the SQLite-backed model. It is safe for concurrent use.
//
// Writes go through one connection with immediate transactions: SQLite has
// one writer anyway, and taking the write lock at BEGIN means a
// read-then-write never loses an update to a concurrent writer. Reads use a
// bounded pool of query-only connections that WAL lets run beside the writer.
type Store struct {
	path string // the database file; leases are files beside it

	w *sql.DB
	r *sql.DB // the pages' and API's reads

	exports *exportPool // the CSV exports' reads

	disc  discoveryGate
	rules ruleCache
	watch versionWatch
	stmts stmtCache
	sync  bladeSync
	dir   directory

	// countCap, when set, replaces BladeCountCap: the tests count past it
	// with a fleet of hundreds, not of ten thousand devices.
	countCap int
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Open opens (creating if needed) the database at path and applies any
// pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if strings.TrimSpace(path) == "" {
		return nil, invalidf("database path is empty")
	}
	if err := registerSearchGrams(); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrate(ctx, w); err != nil {
		_ = w.Close() // the migration's error is the one to report
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		_ = w.Close() // sql.Open fails only on a bad driver name: nothing was opened
		return nil, fmt.Errorf("open database: %w", err)
	}
	readers := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	x, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		_ = errors.Join(r.Close(), w.Close()) // as above
		return nil, fmt.Errorf("open database: %w", err)
	}
	s := &Store{path: path, w: w, r: r, exports: newExportPool(x)}
	s.stmts.db = r
	s.sync.ctx, s.sync.stop = context.WithCancel(context.Background())
	return s, nil
}

// dsn builds the modernc DSN. Pragmas go in the DSN so that every pooled
// connection gets them, not just the first one.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	for _, p := range []string{
		fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		"foreign_keys(1)",
		"synchronous(NORMAL)",
		"cache_size(-65536)", // 64 MiB page cache per connection
		"temp_store(MEMORY)",
	} {
		q.Add("_pragma", p)
	}
	// Readers map the file instead of copying pages (SQLite caps it at
	// 2 GB). The writer does not: its reads walk the whole fleet (the
	// update status recomputation, a discovery's batches), and each
	// connection's mapping counts in the process's resident set anew, so
	// mapping there too made a million devices' discovery peak at twice
	// the database's size in file pages alone.
	if readOnly {
		q.Add("_pragma", "mmap_size("+strconv.Itoa(readerMmap)+")")
	} else {
		q.Add("_pragma", "mmap_size(0)")
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	q.Set("_time_format", "sqlite")
	return "file:" + path + "?" + q.Encode()
}

// Close closes the pools.
func (s *Store) Close() error {
	s.sync.close()
	s.stmts.close()
	return errors.Join(s.rules.close(), s.watch.close(), s.exports.close(), s.r.Close(), s.w.Close())
}

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	return s.r.QueryRowContext(ctx, "SELECT 1").Scan(&n)
}

// Backup writes a consistent copy of the database to path (VACUUM INTO).
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := s.w.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	// For the readiness assessment; the copy is whole whether or not this
	// is written.
	if err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO backup_log (id, last_at) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET last_at = excluded.last_at`, time.Now().Unix())
		return err
	}); err != nil {
		return fmt.Errorf("record the backup: %w", err)
	}
	return nil
}

// busyTimeout is how long SQLite itself waits for the write lock
// (busy_timeout in dsn); writeWait how long a write waits in all, trying
// again each time SQLite gives up. The lock is shared with every process on
// the database: the CLI beside the server, and the server's own background
// writes, which can hold it for seconds on a loaded machine (a discovery
// batch, a blade index chunk, a large import). A batch import or a person's
// action should wait for them, not fail with "database is locked".
const (
	busyTimeout = 5 * time.Second
	writeWait   = 2 * time.Minute
)

// write runs fn in one immediate transaction on the writer.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	defer endVersionScope(ctx) // committed or not, the request reads afresh
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// exec runs one statement as its own immediate transaction, so that a
// single-statement write (a session touch, saved columns, a token's last
// use) waits out a busy database like every other write instead of failing
// after SQLite's busy timeout.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// begin starts an immediate transaction, waiting up to writeWait for the
// write lock (or until ctx ends).
func (s *Store) begin(ctx context.Context) (*sql.Tx, error) {
	deadline := time.Now().Add(writeWait)
	for {
		tx, err := s.w.BeginTx(ctx, nil)
		if err == nil || !isBusy(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return tx, err
		}
		// SQLite waited busyTimeout already; ask again.
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (the lock is held
// elsewhere), in any of its extended forms.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// read runs fn in one read transaction, so that everything it reads comes
// from one snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// readerMmap is how much of the file a reader maps.
const readerMmap = 2147418112

// readWalk is read for a walk of the whole directory (discovery's plan):
// its connection reads the file through its page cache instead of mapping
// it, so that the walk does not leave the whole database mapped (and
// counted in the resident set) on one more connection. The mapping is
// given back before the connection returns to the pool.
func (s *Store) readWalk(ctx context.Context, fn func(tx *sql.Tx) error) error {
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer func() { _ = conn.Close() }() // back to the pool; nothing was left open on it
	if _, err := conn.ExecContext(ctx, "PRAGMA mmap_size = 0"); err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA mmap_size = %d", readerMmap)); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // dropped from the pool rather than kept unmapped
		}
	}()
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// latestMigration is the schema version of this program: the number of its
// last migration.
func latestMigration() int {
	entries, _ := fs.ReadDir(migrationFS, "migrations") // embedded: it cannot fail
	latest := 0
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		if v, err := strconv.Atoi(num); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}

// migrate applies the embedded migrations numbered above PRAGMA user_version,
// each in its own transaction together with the version bump, so a failed
// migration leaves the database at the previous version.
func migrate(ctx context.Context, db *sql.DB) error {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	type mig struct {
		version int
		name    string
	}
	var migs []mig
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migration %s: name must start with a number and '_'", e.Name())
		}
		migs = append(migs, mig{v, e.Name()})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })

	var current int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if n := len(migs); n > 0 && current > migs[n-1].version {
		return fmt.Errorf("database schema version %d is newer than this program (%d)", current, migs[n-1].version)
	}
	for _, m := range migs {
		if m.version <= current {
			continue
		}
		body, err := migrationFS.ReadFile("migrations/" + m.name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", m.name, err)
		}
		if err := applyMigration(ctx, db, m.version, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// foreignKeysOff marks a migration that rebuilds a table others refer to
// (SQLite's way to change a constraint): with foreign keys on, dropping the
// old table would delete the rows that refer to it.
const foreignKeysOff = "-- patchboard:foreign-keys-off"

// applyMigration runs one migration and the version bump in one
// transaction. A migration marked foreignKeysOff runs with foreign keys off
// (a pragma SQLite ignores inside a transaction, hence on the connection
// before it begins) and commits only if every reference still holds.
func applyMigration(ctx context.Context, db *sql.DB, version int, body string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }() // back to the pool; nothing was left open on it
	if strings.HasPrefix(body, foreignKeysOff) {
		if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
			return err
		}
		defer func() {
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON"); err != nil {
				// A connection without foreign keys must not serve anyone:
				// the pool drops a connection that reports itself bad.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	var table string
	switch err := tx.QueryRowContext(ctx, "PRAGMA foreign_key_check").Scan(&table, new(any), new(any), new(any)); {
	case err == nil:
		return fmt.Errorf("a row of %s refers to a row that is gone", table)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	// PRAGMA takes no bound parameters; the version is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		return err
	}
	return tx.Commit()
}

// unix converts a time to the stored form: seconds since the epoch, or NULL
// for the zero time.
func unix(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}

// fromUnix reverses unix.
func fromUnix(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(v.Int64, 0).UTC()
}
