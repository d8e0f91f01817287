package handlers

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"patchboard/views"
)

func TestRowCounter(t *testing.T) {
	tests := []struct {
		give string
		want int
	}{
		{"", 0},
		{"device_id\n", 1},
		{"device_id\na\nb", 3},
		{"device_id\r\na\r\nb\r\n", 3},
		{"device_id\n\n   \n,,,\n\"\",\"\"\na\n", 2}, // blank lines and empty cells are no rows
		{"name\n\"two\nlines\"\nb\n", 3},             // a line break inside quotes does not end a row
		{"name\n\"say \"\"hi\"\"\nthere\"\n", 2},
		{"\ufeffdevice_id\n", 1},
	}
	for _, tt := range tests {
		// Byte by byte, so that state carries across writes.
		r := &rowCounter{limit: 100}
		for i := 0; i < len(tt.give); i++ {
			if _, err := r.Write([]byte{tt.give[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if got := r.count(); got != tt.want {
			t.Errorf("count(%q) = %d, want %d", tt.give, got, tt.want)
		}
	}
	r := &rowCounter{limit: 2}
	if _, err := r.Write([]byte("h\na\nb\n")); !errors.Is(err, errTooManyRows) {
		t.Errorf("three rows over a limit of two: %v", err)
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct{ give, want string }{
		{"members.csv", "members.csv"},
		{`C:\Users\me\members.csv`, "members.csv"},
		{"../../etc/passwd", "passwd"},
		{"a\x00b\nc.csv", "abc.csv"},
		{"", "upload.csv"},
		{"/", "upload.csv"},
		{strings.Repeat("x", 150), strings.Repeat("x", 100) + "…"},
	}
	for _, tt := range tests {
		if got := displayName(tt.give); got != tt.want {
			t.Errorf("displayName(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func tempFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.csv")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestPendingImports(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newPendingImports(c.now, nil)

	a := tempFile(t)
	tokA := s.put(&pendingImport{kind: views.ImportMembers, userID: 1, path: a})
	if len(tokA) != 32 {
		t.Fatalf("token %q, want 32 hex digits", tokA)
	}
	if s.take(tokA, views.ImportMembers, 2) != nil || s.take(tokA, views.ImportDevices, 1) != nil || s.take("nope", views.ImportMembers, 1) != nil {
		t.Fatal("a token served another user, another kind, or no token served")
	}

	// A new preview of the same kind replaces the last and deletes its file;
	// another kind or user does not.
	d := tempFile(t)
	s.put(&pendingImport{kind: views.ImportDevices, userID: 1, path: d})
	b := tempFile(t)
	tokB := s.put(&pendingImport{kind: views.ImportMembers, userID: 1, path: b})
	if exists(a) || s.take(tokA, views.ImportMembers, 1) != nil {
		t.Fatal("the replaced preview is still there")
	}
	if !exists(d) {
		t.Fatal("a preview of another kind was deleted")
	}

	// take removes; restore puts back.
	p := s.take(tokB, views.ImportMembers, 1)
	if p == nil || p.path != b || s.take(tokB, views.ImportMembers, 1) != nil {
		t.Fatal("take did not hand the import out once")
	}
	s.restore(p)
	if s.take(tokB, views.ImportMembers, 1) == nil {
		t.Fatal("restore did not put it back")
	}
	s.restore(p)
	// Restoring after another preview of the kind drops the older file.
	f := tempFile(t)
	tokF := s.put(&pendingImport{kind: views.ImportMembers, userID: 1, path: f})
	p2 := &pendingImport{token: "old", kind: views.ImportMembers, userID: 1, path: tempFile(t), created: c.now()}
	s.restore(p2)
	if exists(p2.path) || s.take("old", views.ImportMembers, 1) != nil || !exists(f) {
		t.Fatal("restore kept an older preview over a newer one")
	}
	if s.take(tokF, views.ImportMembers, 1) == nil {
		t.Fatal("the newer preview is gone")
	}
	if err := os.WriteFile(b, []byte("x"), 0o600); err != nil { // put deleted it with tokB
		t.Fatal(err)
	}
	s.restore(&pendingImport{token: tokB, kind: views.ImportMembers, userID: 1, path: b, created: p.created})

	// Expiry: take refuses and deletes; sweep deletes.
	c.advance(pendingTTL + time.Second)
	if s.take(tokB, views.ImportMembers, 1) != nil || exists(b) {
		t.Fatal("an expired preview was served or kept")
	}
	s.sweep(false)
	if exists(d) {
		t.Fatal("sweep kept an expired file")
	}
	e := tempFile(t)
	s.put(&pendingImport{kind: views.ImportDevices, userID: 3, path: e})
	s.sweep(false)
	if !exists(e) {
		t.Fatal("sweep deleted a fresh file")
	}
	s.sweep(true)
	if exists(e) {
		t.Fatal("sweep(all) kept a file")
	}
}
