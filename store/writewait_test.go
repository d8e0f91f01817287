package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Another process holding the write lock longer than SQLite's busy timeout
// (the server's background writes on a loaded machine, seen from the CLI)
// delays an import; it does not fail it with "database is locked".
func TestImportWaitsOutALongWriteElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("holds the write lock for longer than the busy timeout")
	}
	st := openTestStore(t)
	other, err := sql.Open("sqlite", dsn(st.path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin() // _txlock=immediate: takes the write lock now
	if err != nil {
		t.Fatal(err)
	}
	hold := busyTimeout + 2*time.Second
	released := make(chan error, 1)
	go func() {
		time.Sleep(hold)
		released <- tx.Commit()
	}()
	start := time.Now()
	csv := "device_id,display_name\n" + testID(1) + ",AP-LT-0001\n"
	res, err := st.ImportDevices(context.Background(), strings.NewReader(csv), "test.csv", "cli:tester")
	if err != nil {
		t.Fatalf("import while another process writes for %s: %v", hold, err)
	}
	if res.Inserted != 1 || time.Since(start) < hold-time.Second {
		t.Errorf("import %+v after %s; want one device, after the other writer", res, time.Since(start))
	}
	if err := <-released; err != nil {
		t.Fatal(err)
	}
}

// The small writes of every request — a session's activity, a user's saved
// columns, an API token's last use — wait out another process's long write
// like the rest; none fails with "database is locked" after the busy timeout.
func TestRequestWritesWaitOutALongWriteElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("holds the write lock for longer than the busy timeout")
	}
	ctx := context.Background()
	st := openTestStore(t)
	u, err := st.AddUser(ctx, "reader@example.com", RoleServiceReader, "a long enough password", "test")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.SaveSession(ctx, "session-token", Session{UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, tokenValue, err := st.CreateToken(ctx, "provisioning", RoleServiceReader, "test")
	if err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("sqlite", dsn(st.path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin() // _txlock=immediate: takes the write lock now
	if err != nil {
		t.Fatal(err)
	}
	hold := busyTimeout + 2*time.Second
	released := make(chan error, 1)
	go func() {
		time.Sleep(hold)
		released <- tx.Commit()
	}()

	start := time.Now()
	later := now.Add(10 * time.Minute)
	writes := map[string]func() error{
		"touch session": func() error { return st.TouchSession(ctx, "session-token", later, later.Add(time.Hour)) },
		"save columns":  func() error { return st.SetUserColumns(ctx, u.ID, TabReady, []string{"serial_number"}) },
		"use token": func() error {
			_, err := st.TokenByValue(ctx, tokenValue, later)
			return err
		},
	}
	errs := make(chan error, len(writes))
	for name, write := range writes {
		go func() {
			if err := write(); err != nil {
				errs <- fmt.Errorf("%s while another process writes for %s: %w", name, hold, err)
				return
			}
			errs <- nil
		}()
	}
	for range writes {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if waited := time.Since(start); waited < hold-time.Second {
		t.Errorf("the writes returned after %s, before the other writer let go (%s)", waited, hold)
	}
	if err := <-released; err != nil {
		t.Fatal(err)
	}

	// Each write landed.
	sess, err := st.SessionByToken(ctx, "session-token", later)
	if err != nil || sess.LastSeenAt.Unix() != later.Unix() {
		t.Errorf("session after the touch: %+v, %v; want last seen %s", sess, err, later)
	}
	if cols, err := st.UserColumns(ctx, u.ID, TabReady); err != nil || strings.Join(cols, ",") != "serial_number" {
		t.Errorf("saved columns %v, %v; want serial_number", cols, err)
	}
	var used sql.NullInt64
	if err := st.r.QueryRowContext(ctx, `SELECT last_used_at FROM api_tokens`).Scan(&used); err != nil || used.Int64 != later.Unix() {
		t.Errorf("token last used %v, %v; want %d", used, err, later.Unix())
	}
}
