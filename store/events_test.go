package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"
)

// An event is written with its change or not at all: a rolled-back change
// leaves no event behind.
func TestEnqueueEventCommitsWithTheChange(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	ev := Event{Type: EventSupportChanged, Subject: "7", At: at,
		Data: SupportChange{RequestID: 7, Title: "Printers", Change: "created", State: "active"}}
	if err := st.write(ctx, func(tx *sql.Tx) error { return enqueueEvent(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("the change failed")
	if err := st.write(ctx, func(tx *sql.Tx) error {
		if err := enqueueEvent(ctx, tx, ev); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("write = %v, want the change's error", err)
	}
	var n int
	var typ, data string
	var created int64
	if err := st.w.QueryRowContext(ctx, `SELECT count(*), max(type), max(data), max(created_at) FROM outbox`).Scan(&n, &typ, &data, &created); err != nil {
		t.Fatal(err)
	}
	if n != 1 || typ != string(EventSupportChanged) || created != at.Unix() {
		t.Fatalf("outbox = %d rows, type %q, at %d; want the one committed event", n, typ, created)
	}
	if want := `{"request_id":7,"title":"Printers","change":"created","state":"active","by":""}`; data != want {
		t.Fatalf("data = %s, want %s", data, want)
	}
}
