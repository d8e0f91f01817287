package store

import (
	"context"
	"database/sql"
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
