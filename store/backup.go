package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ServerLease is held by a serving process for its whole life, so that a
// restore never replaces the database under it, and a second server on the
// same file is refused.
type ServerLease struct{ l *lease }

// HoldServerLease takes the server lease on the store's database;
// ErrConflict when another process serves it.
func (s *Store) HoldServerLease() (*ServerLease, error) {
	l, err := tryLease(serverLeaseName(s.path))
	if errors.Is(err, errLeaseHeld) {
		return nil, conflictf("another Patchboard server is using %s; stop it first", s.path)
	}
	if err != nil {
		return nil, fmt.Errorf("server lease: %w", err)
	}
	return &ServerLease{l: l}, nil
}

// Release gives the lease up.
func (l *ServerLease) Release() error { return l.l.release() }

// Restore replaces the database at dbPath with the backup at from. It
// refuses while a server (or a discovery) holds the database, and checks
// the backup first: it must be a Patchboard database this program can
// open, and SQLite's integrity check must pass. The database it replaces
// is kept beside it (its name is returned), with its write-ahead log, so a
// restore loses nothing. The restored file is brought to this program's
// schema before Restore returns.
func Restore(ctx context.Context, dbPath, from string) (kept string, err error) {
	for _, name := range []string{serverLeaseName(dbPath), discoveryLeaseName(dbPath)} {
		l, err := tryLease(name)
		if errors.Is(err, errLeaseHeld) {
			return "", conflictf("a Patchboard server or discovery is using %s; stop it, then restore", dbPath)
		}
		if err != nil {
			return "", fmt.Errorf("restore: %w", err)
		}
		defer func() { _ = l.release() }() // held until the swap is done; closing cannot lose anything
	}
	if err := checkBackup(ctx, from); err != nil {
		return "", err
	}

	// Copy first, beside the database, so that the swap is two renames.
	tmp := dbPath + ".restoring"
	if err := copyFile(from, tmp); err != nil {
		return "", fmt.Errorf("restore: copy %s: %w", from, err)
	}
	defer func() { _ = os.Remove(tmp) }() // gone after the rename; a leftover otherwise

	if _, err := os.Stat(dbPath); err == nil {
		kept = fmt.Sprintf("%s.before-restore-%s", dbPath, time.Now().UTC().Format("20060102-150405"))
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(dbPath+suffix, kept+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("restore: keep the current database: %w", err)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("restore: %w", err)
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return kept, fmt.Errorf("restore: %w", err)
	}
	st, err := Open(ctx, dbPath) // applies this program's migrations
	if err != nil {
		return kept, fmt.Errorf("restore: open the restored database: %w", err)
	}
	return kept, st.Close()
}

// checkBackup opens from read-only and checks that it is a sound Patchboard
// database no newer than this program.
func checkBackup(ctx context.Context, from string) error {
	if _, err := os.Stat(from); err != nil {
		return invalidf("backup %s: %s", from, strings.TrimPrefix(err.Error(), "stat "+from+": "))
	}
	db, err := sql.Open("sqlite", "file:"+from+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return fmt.Errorf("open backup: %w", err)
	}
	defer func() { _ = db.Close() }() // read only
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check(1)").Scan(&result); err != nil {
		return invalidf("backup %s is not a readable SQLite database (%v); nothing was changed", from, err)
	}
	if result != "ok" {
		return invalidf("backup %s failed SQLite's integrity check (%s); nothing was changed", from, result)
	}
	var version, tables int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read backup schema version: %w", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('devices', 'discovery_runs', 'audit_log')`).Scan(&tables); err != nil {
		return fmt.Errorf("read backup schema: %w", err)
	}
	if tables != 3 || version == 0 {
		return invalidf("backup %s is not a Patchboard database; nothing was changed", from)
	}
	if latest := latestMigration(); version > latest {
		return invalidf("backup %s has schema version %d, newer than this program's %d: restore it with the version that wrote it", from, version, latest)
	}
	return nil
}

func copyFile(from, to string) (err error) {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }() // read only
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Sync() // on disk before it replaces the database
}

// BackupName is the file name a scheduled backup taken at t gets; names
// sort by time.
func BackupName(t time.Time) string {
	return "patchboard-" + t.UTC().Format("20060102-150405") + ".db"
}

// BackupInto writes a backup named BackupName(now) into dir, then deletes
// the oldest backups there beyond keep. The backup is written under a
// temporary name and renamed when complete, so a backup that is listed is
// whole. It returns the backup's path.
func (s *Store) BackupInto(ctx context.Context, dir string, keep int, now time.Time) (string, error) {
	if keep < 1 {
		return "", invalidf("keep at least one backup")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	path := filepath.Join(dir, BackupName(now))
	tmp := path + ".partial"
	_ = os.Remove(tmp) // a leftover of a crash; VACUUM INTO wants no file
	if err := s.Backup(ctx, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "patchboard-*.db"))
	if err != nil {
		return path, fmt.Errorf("backup: list %s: %w", dir, err)
	}
	sort.Strings(old)
	var errs []error
	for len(old) > keep {
		if err := os.Remove(old[0]); err != nil {
			errs = append(errs, err)
		}
		old = old[1:]
	}
	if err := errors.Join(errs...); err != nil {
		return path, fmt.Errorf("backup: delete old backups: %w", err)
	}
	return path, nil
}
