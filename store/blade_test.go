package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// otherProcess opens a second store on st's database, as the CLI does while
// a server runs.
func otherProcess(t *testing.T, st *Store) *Store {
	t.Helper()
	var path string
	if err := st.r.QueryRowContext(context.Background(), `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&path); err != nil {
		t.Fatal(err)
	}
	other, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

func TestBladeReadsEverythingTheBladeShows(t *testing.T) {
	st, _ := bladeFleet(t, 30)
	ctx := context.Background()
	u, err := st.AddUser(ctx, "admin@example.com", RoleServiceAdmin, "long-enough-password", "test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.Blade(ctx, u.ID, DeviceQuery{Tab: TabReady, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := st.Counts(ctx)
	if !slices.Equal(b.Columns, DefaultColumns(TabReady)) {
		t.Errorf("columns %v, want the Ready defaults", b.Columns)
	}
	if len(b.Page.Rows) != 5 || b.Page.Total != counts.Tab(TabReady) || b.Page.Next == "" {
		t.Errorf("page: %d rows, total %d, next %q; want 5 of %d with a next page", len(b.Page.Rows), b.Page.Total, b.Page.Next, counts.Tab(TabReady))
	}
	if b.Counts.Tab(TabReady) != counts.Tab(TabReady) || b.RegistrationGroupID == 0 || b.LastRun == nil {
		t.Errorf("counts %v, registration group %d, last run %v", b.Counts, b.RegistrationGroupID, b.LastRun)
	}
	// The rows hold the visible columns, not the others.
	r := b.Page.Rows[0]
	if r.SerialNumber == "" || r.Model == "" || r.Manufacturer != "" {
		t.Errorf("row %+v: want serial and model read, manufacturer not", r)
	}

	// What another process commits shows at once: columns, rings, runs.
	other := otherProcess(t, st)
	if err := other.SetUserColumns(ctx, u.ID, TabReady, []string{"display_name", "manufacturer"}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.AssignRing(ctx, RingTest, []string{r.DeviceID}, "other@example.com"); err != nil {
		t.Fatal(err)
	}
	mustDiscover(t, other, testNow.Add(time.Hour))
	b2, err := st.Blade(ctx, u.ID, DeviceQuery{Tab: TabReady, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b2.Columns, []string{"display_name", "manufacturer"}) || b2.Page.Rows[0].Manufacturer == "" {
		t.Errorf("after another process saved columns: %v, row %+v", b2.Columns, b2.Page.Rows[0])
	}
	if b2.Counts.Rings.Test != b.Counts.Rings.Test+1 {
		t.Errorf("Test ring count %d, want %d", b2.Counts.Rings.Test, b.Counts.Rings.Test+1)
	}
	if b2.LastRun == nil || b2.LastRun.ID == b.LastRun.ID {
		t.Errorf("last run %v: want the other process's run", b2.LastRun)
	}

	// A kept page is read again after a commit, whoever made it.
	q := DeviceQuery{Tab: TabReady, Limit: 5, Columns: []string{"display_name", "ring"}}
	before, err := st.Blade(ctx, u.ID, q)
	if err != nil {
		t.Fatal(err)
	}
	first := before.Page.Rows[0]
	if _, err := other.AssignRing(ctx, RingFirst, []string{first.DeviceID}, "other@example.com"); err != nil {
		t.Fatal(err)
	}
	after, err := st.Blade(ctx, u.ID, q)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.Page.Rows[0]; got.DeviceID != first.DeviceID || got.Ring != RingFirst {
		t.Errorf("after another process assigned %s to First: row %s in ring %q", first.DeviceID, got.DeviceID, got.Ring)
	}
}

func TestSessionsAndUsersFollowOtherProcesses(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	u, err := st.AddUser(ctx, "reader@example.com", RoleServiceReader, "long-enough-password", "test")
	if err != nil {
		t.Fatal(err)
	}
	now := testNow
	if err := st.SaveSession(ctx, "tok", Session{UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // read, then kept
		if s, err := st.SessionByToken(ctx, "tok", now); err != nil || s.UserID != u.ID {
			t.Fatalf("session: %+v, %v", s, err)
		}
		if got, err := st.UserByID(ctx, u.ID); err != nil || got.Role != RoleServiceReader {
			t.Fatalf("user: %+v, %v", got, err)
		}
	}
	// A kept session still expires on time.
	if _, err := st.SessionByToken(ctx, "tok", now.Add(time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired session: %v, want ErrNotFound", err)
	}
	// Another process changes the role and revokes the session.
	other := otherProcess(t, st)
	if _, err := other.AddUser(ctx, "reader@example.com", RoleServiceAdmin, "long-enough-password", "test"); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.UserByID(ctx, u.ID); got.Role != RoleServiceAdmin {
		t.Errorf("role after another process changed it: %v", got.Role)
	}
	if err := other.DeleteSession(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SessionByToken(ctx, "tok", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked session: %v, want ErrNotFound", err)
	}
}

func TestBladeKeepsFewPages(t *testing.T) {
	st, _ := bladeFleet(t, 30)
	// A background sync's commit would drop the kept pages midway (on a
	// busy machine it lands after dozens of them): none runs here.
	holdQueue(t, st)
	ctx := context.Background()
	for size := 1; size <= keptPagesMax+20; size++ {
		if _, err := st.Blade(ctx, 1, DeviceQuery{Tab: TabReady, Limit: size}); err != nil {
			t.Fatal(err)
		}
	}
	st.watch.mu.Lock()
	defer st.watch.mu.Unlock()
	pages := 0
	for k := range st.watch.memo {
		if strings.HasPrefix(k, pageKeyPrefix) {
			pages++
		}
	}
	if pages != keptPagesMax || len(st.watch.pages) != pages {
		t.Errorf("%d pages kept (listed %d), want %d", pages, len(st.watch.pages), keptPagesMax)
	}
	// The newest are kept: the last page asked for, not the first.
	if _, ok := st.watch.memo[pageKey(DeviceQuery{Tab: TabReady, Limit: keptPagesMax + 20, Columns: DefaultColumns(TabReady)})]; !ok {
		t.Error("the last page asked for was not kept")
	}
	if _, ok := st.watch.memo[pageKey(DeviceQuery{Tab: TabReady, Limit: 1, Columns: DefaultColumns(TabReady)})]; ok {
		t.Error("the oldest page was kept")
	}
}
