package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "pb.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	mustUpsert(t, st, healthy(1))
	backup := filepath.Join(dir, "backup.db")
	if err := st.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	mustUpsert(t, st, healthy(2)) // after the backup: gone once restored

	// A serving process holds the server lease: the restore is refused.
	lease, err := st.HoldServerLease()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.HoldServerLease(); !errors.Is(err, ErrConflict) {
		t.Errorf("a second server lease: %v, want a conflict", err)
	}
	if _, err := Restore(ctx, path, backup); !errors.Is(err, ErrConflict) {
		t.Fatalf("restore under a server: %v, want a conflict", err)
	}
	if err := lease.Release(); err != nil {
		t.Fatal(err)
	}

	// A damaged or foreign file is refused before anything changes.
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte("SQLite format 3\x00 but not really"), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	fdb, err := sql.Open("sqlite", "file:"+foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fdb.Exec(`CREATE TABLE notes (body TEXT)`); err != nil {
		t.Fatal(err)
	}
	fdb.Close()
	for _, bad := range []string{garbage, foreign, filepath.Join(dir, "missing.db")} {
		if _, err := Restore(ctx, path, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("restore %s: %v, want it refused as invalid", filepath.Base(bad), err)
		}
	}
	mustDevice(t, st, healthy(2).DeviceID) // still the live database
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	kept, err := Restore(ctx, path, backup)
	if err != nil {
		t.Fatal(err)
	}
	st, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mustDevice(t, st, healthy(1).DeviceID)
	if _, err := st.Device(ctx, healthy(2).DeviceID); !errors.Is(err, ErrNotFound) {
		t.Errorf("device written after the backup: %v, want not found after the restore", err)
	}
	// The replaced database is kept, whole.
	old, err := Open(ctx, kept)
	if err != nil {
		t.Fatalf("open the kept database %s: %v", kept, err)
	}
	defer old.Close()
	mustDevice(t, old, healthy(2).DeviceID)
}

func TestBackupIntoKeepsTheNewest(t *testing.T) {
	st := openTestStore(t)
	dir := filepath.Join(t.TempDir(), "backups")
	start := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	var paths []string
	for i := range 4 {
		p, err := st.BackupInto(context.Background(), dir, 2, start.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	left, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0] != paths[2] || left[1] != paths[3] {
		t.Errorf("backups left %v, want the newest two %v", left, paths[2:])
	}
	if err := checkBackup(context.Background(), paths[3]); err != nil {
		t.Errorf("the newest backup does not check: %v", err)
	}
}
