package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"patchboard/store"
	"patchboard/views"
	"patchboard/web"
)

// TestOverviewShowsTheFleet: every role that views devices sees the same
// overview, and what it says is what the store holds.
func TestOverviewShowsTheFleet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	counts, err := e.st.Counts(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[store.Tab][]store.CheckCount{}
	for _, tab := range store.Tabs {
		if checks[tab], err = e.st.FailingChecks(e.ctx, tab); err != nil {
			t.Fatal(err)
		}
	}
	run, err := e.st.LastDiscoveryRun(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := e.st.Snapshots(e.ctx, testNow, store.TrendDays)
	if err != nil || len(snaps) != 1 {
		t.Fatalf("the demo fleet's snapshots: %+v, %v; want today's", snaps, err)
	}
	if len(checks[store.TabNotRegistered]) == 0 || len(checks[store.TabNotReady]) == 0 {
		t.Fatalf("the demo fleet fails no checks on a tab: %+v", checks)
	}
	for _, role := range []store.Role{store.RoleGlobalAdmin, store.RoleIntuneAdmin, store.RoleServiceAdmin, store.RoleServiceReader} {
		t.Run(roleName(role), func(t *testing.T) {
			page := e.as(t, role).get(t, "/overview").wantStatus(http.StatusOK)
			if nav := page.testid("nav-overview"); nav.Length() != 1 || !nav.HasClass("active") {
				t.Errorf("the Overview navigation link is missing or not current")
			}
			for _, tab := range store.Tabs {
				if got, want := page.text("overview-count-"+string(tab)), views.Thousands(counts.Tab(tab)); got != want {
					t.Errorf("%s count %q, want %q", tab, got, want)
				}
				if got, want := page.testid("overview-tab-"+string(tab)).AttrOr("href", ""), "/devices?tab="+string(tab); got != want {
					t.Errorf("%s tile links %q, want %q", tab, got, want)
				}
			}
			for _, r := range store.Rings {
				row := page.testid("overview-ring-" + string(r))
				if got, want := strings.TrimSpace(row.Find(`[data-testid="ring-devices"]`).Text()), views.Thousands(counts.Rings.Get(r)); got != want {
					t.Errorf("ring %s devices %q, want %q", r, got, want)
				}
				if row.Find(`svg[data-testid="share-bar"] rect.fill`).Length() != 1 {
					t.Errorf("ring %s has no bar", r)
				}
			}
			for _, tab := range []store.Tab{store.TabNotRegistered, store.TabNotReady} {
				rows := page.testid("overview-checks-" + string(tab)).Find(`[data-testid="failing-check"]`)
				want := checks[tab][:min(5, len(checks[tab]))]
				if rows.Length() != len(want) {
					t.Fatalf("%s lists %d checks, want %d", tab, rows.Length(), len(want))
				}
				rows.Each(func(i int, row *goquery.Selection) {
					link := row.Find(`[data-testid="failing-check-link"]`)
					if got, want := link.AttrOr("href", ""), "/devices?tab="+string(tab)+"&check="+string(want[i].Check); got != want {
						t.Errorf("%s check %d links %q, want %q", tab, i, got, want)
					}
					if got := strings.TrimSpace(link.Text()); got != want[i].Check.Name() {
						t.Errorf("%s check %d named %q, want %q", tab, i, got, want[i].Check.Name())
					}
					if got := strings.TrimSpace(row.Find(`[data-testid="failing-check-count"]`).Text()); got != views.Thousands(want[i].N) {
						t.Errorf("%s check %s count %q, want %d", tab, want[i].Check, got, want[i].N)
					}
				})
			}
			// The fleet's discovery ran today: the last run and the day's
			// snapshot are shown.
			if got, want := page.text("overview-last-run"), views.Thousands(run.Candidates)+" candidates"; !strings.Contains(got, want) {
				t.Errorf("last run %q does not say %q", got, want)
			}
			chart := page.testid("trend-chart")
			if chart.Length() != 1 || chart.AttrOr("role", "") != "img" {
				t.Fatalf("no trend chart with role img")
			}
			for _, tab := range store.Tabs {
				if n := chart.Find(`[data-testid="trend-series-` + string(tab) + `"] circle`).Length(); n != 1 {
					t.Errorf("%s series has %d points, want today's", tab, n)
				}
			}
			desc := chart.Find("desc").Text()
			if want := "Ready: " + views.Thousands(snaps[0].Ready) + " on Nov 1."; !strings.HasPrefix(desc, want) {
				t.Errorf("chart description %q does not start with %q", desc, want)
			}
			if n := page.testid("trend-table").Find("tbody tr").Length(); n != 1 {
				t.Errorf("trend table has %d rows, want 1", n)
			}
		})
	}
}

// TestOverviewTrendAndTestRing draws the trend over days with and without
// snapshots, and warns about the Test ring until it holds enough devices.
func TestOverviewTrendAndTestRing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := e.as(t, store.RoleServiceAdmin)

	page := admin.get(t, "/overview").wantStatus(http.StatusOK)
	if page.testid("trend-empty").Length() != 1 || page.testid("trend-chart").Length() != 0 {
		t.Error("an empty portal draws a trend")
	}
	if got := page.text("overview-last-run"); got != "Discovery has not run yet." {
		t.Errorf("last run %q", got)
	}
	if page.testid("overview-test-ring-warning").Length() != 0 {
		t.Error("the Test ring warning shows before anything is registered")
	}
	for _, tab := range []store.Tab{store.TabNotRegistered, store.TabNotReady} {
		if page.testid("overview-checks-"+string(tab)).Find(`[data-testid="no-failing-checks"]`).Length() != 1 {
			t.Errorf("%s: no 'no failing checks' note", tab)
		}
	}

	// Three devices registered 10 days ago, one more 2 days ago (a gap of
	// days without discovery between), and one failing today.
	devs := []*store.Device{testDevice(1), testDevice(2), testDevice(3)}
	e.register(t, devs...)
	day := func(days int) time.Time { return testNow.AddDate(0, 0, days) }
	for _, d := range devs {
		d.LastCheckin = day(1)
	}
	mustDiscoverAt(t, e, day(-10), devs...)
	late := testDevice(4, func(d *store.Device) { d.LastCheckin = day(1) })
	mustDiscoverAt(t, e, day(-2), late)
	mustDiscoverAt(t, e, day(-1))
	failing := testDevice(5, func(d *store.Device) { d.SerialNumber = "" })
	mustDiscoverAt(t, e, testNow, failing)

	page = admin.get(t, "/overview").wantStatus(http.StatusOK)
	chart := page.testid("trend-chart")
	ready := chart.Find(`[data-testid="trend-series-ready"]`)
	// The register helper ran discovery at testNow already, so today's
	// snapshot was taken then: 3 ready. Days -10, -2, -1 and today.
	if n := ready.Find("circle").Length(); n != 4 {
		t.Errorf("ready series has %d points, want 4", n)
	}
	// Day -10 stands alone; days -2, -1 and today make one line.
	if n := ready.Find("polyline").Length(); n != 1 {
		t.Errorf("ready series has %d lines, want 1 (a lone day is a dot)", n)
	}
	var rows []string
	page.testid("trend-table").Find("tbody tr").Each(func(_ int, s *goquery.Selection) {
		var cells []string
		s.Find("th, td").Each(func(_ int, c *goquery.Selection) { cells = append(cells, strings.TrimSpace(c.Text())) })
		rows = append(rows, strings.Join(cells, " "))
	})
	want := []string{
		day(-10).Format(time.DateOnly) + " 3 0 0",
		day(-2).Format(time.DateOnly) + " 4 0 0",
		day(-1).Format(time.DateOnly) + " 4 0 0",
		testNow.Format(time.DateOnly) + " 3 0 0",
	}
	if strings.Join(rows, "|") != strings.Join(want, "|") {
		t.Errorf("trend table\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}

	// No device is in the Test ring: the warning names the minimum.
	warn := page.text("overview-test-ring-warning")
	if !strings.Contains(warn, "The Test ring has 0 devices; at least 1 are") {
		t.Errorf("Test ring warning %q", warn)
	}
	if _, err := e.st.AssignRing(e.ctx, store.RingTest, []string{devs[0].DeviceID}, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	page = admin.get(t, "/overview").wantStatus(http.StatusOK)
	if page.testid("overview-test-ring-warning").Length() != 0 {
		t.Error("the Test ring warning stays once the ring holds its minimum")
	}
	if got := strings.TrimSpace(page.testid("overview-ring-test").Find(`[data-testid="ring-target"]`).Text()); got != "≥ 1 device" {
		t.Errorf("Test ring target %q", got)
	}
	if got := strings.TrimSpace(page.testid("overview-ring-broad").Find(`[data-testid="ring-target"]`).Text()); got != "80 %" {
		t.Errorf("Broad ring target %q, want 80 %% (a fleet of 200 or fewer)", got)
	}
	checks := page.testid("overview-checks-not-registered").Find(`[data-testid="failing-check"]`)
	if checks.Length() != 1 || checks.AttrOr("data-check", "") != string(store.CheckHardwareIdentity) {
		t.Errorf("not-registered failing checks: %d rows, first %q", checks.Length(), checks.AttrOr("data-check", ""))
	}
}

// mustDiscoverAt upserts devs (into the Device Registration group) and runs
// discovery as of at.
func mustDiscoverAt(t *testing.T, e *env, at time.Time, devs ...*store.Device) {
	t.Helper()
	if len(devs) > 0 {
		if _, err := e.st.UpsertDevices(e.ctx, devs, "test", "test"); err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(devs))
		for i, d := range devs {
			ids[i] = d.DeviceID
		}
		if _, err := e.st.AddGroupDevices(e.ctx, store.RegistrationGroupName, ids, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.st.Discover(e.ctx, store.TriggerCLI, "test", at); err != nil {
		t.Fatal(err)
	}
}

// TestOverviewNextDiscovery counts the next run from the scheduler's last.
func TestOverviewNextDiscovery(t *testing.T) {
	t.Parallel()
	next := func(e *env) string {
		return e.as(t, store.RoleServiceReader).get(t, "/overview").wantStatus(http.StatusOK).text("overview-next-run")
	}
	if got := next(newEnv(t, envOptions{})); !strings.HasPrefix(got, "Not scheduled") {
		t.Errorf("without a scheduler: %q", got)
	}

	e := newEnv(t, envOptions{cfg: web.Config{DiscoveryInterval: time.Hour}})
	if got := next(e); got != "Due now" {
		t.Errorf("before the scheduler's first run: %q", got)
	}
	if _, err := e.st.Discover(e.ctx, store.TriggerSchedule, "scheduler", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// A run from the button does not move the schedule.
	e.clock.Advance(10 * time.Minute)
	if _, err := e.st.Discover(e.ctx, store.TriggerButton, "admin@example.com", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(20 * time.Minute)
	want := "in 30 min (" + testNow.Add(time.Hour).Format("2006-01-02 15:04") + " UTC)"
	if got := next(e); got != want {
		t.Errorf("30 min after the scheduled run: %q, want %q", got, want)
	}
	e.clock.Advance(31 * time.Minute)
	if got := next(e); got != "Due now" {
		t.Errorf("past the interval: %q", got)
	}
}
