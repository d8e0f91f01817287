package web_test

import (
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"patchboard/store"
)

// An audit entry that cannot be written is logged with what it would have
// said, never dropped without a trace.
func TestFailedAuditWriteIsLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	reader := e.as(t, store.RoleServiceReader)
	db, err := sql.Open("sqlite", "file:"+e.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER audit_broken BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END`); err != nil {
		t.Fatal(err)
	}
	// A refused request is audited by the guard.
	reader.postHX(t, "/devices/discover", url.Values{}).wantStatus(http.StatusForbidden)
	logged := e.errs.drain()
	if len(logged) != 1 || !strings.Contains(logged[0], "audit write failed") ||
		!strings.Contains(logged[0], "request.refused") || !strings.Contains(logged[0], "audit log unavailable") {
		t.Errorf("logged %q, want one line naming the lost entry and the error", logged)
	}
}

// drain returns the error records kept so far and forgets them.
func (l *errorLog) drain() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	msgs := l.msgs
	l.msgs = nil
	return msgs
}
