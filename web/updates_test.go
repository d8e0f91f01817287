package web_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"patchboard/store"
)

// octoberB is the release the update tests add: Patch Tuesday of October
// 2026, 19 days before the servers' clock, with the newest revisions of the
// demo fleet's build lines.
var octoberB = url.Values{"name": {"2026-10 B"}, "date": {"2026-10-13"}, "classification": {"security"},
	"builds": {"26100.4202, 22631.5624 19045.6093"}}

func summaryCount(t *testing.T, r *response, ring, testid string) int {
	t.Helper()
	s := r.doc().Find(`[data-testid="summary-row"][data-ring="` + ring + `"] [data-testid="` + testid + `"]`)
	n, err := strconv.Atoi(strings.TrimSpace(s.Text()))
	if err != nil {
		t.Fatalf("summary %s %s: %q", ring, testid, s.Text())
	}
	return n
}

func TestReleaseManagementAndReports(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	admin := e.as(t, store.RoleServiceAdmin)
	reader := e.as(t, store.RoleServiceReader)

	// Before any release, every eligible device is on an unsupported build.
	r := reader.get(t, "/reports").wantStatus(http.StatusOK)
	before := summaryCount(t, r, "", "summary-ineligible-")
	if before == 0 {
		t.Fatal("no ineligible devices before any release")
	}

	// The admin adds the month's release; the board comes back with it.
	r = admin.postHX(t, "/releases/add", octoberB).wantStatus(http.StatusOK)
	if !r.isFragment() || !strings.Contains(r.text("release-message"), "2026-10 B") {
		t.Fatalf("add release answered %s", truncate(r.body))
	}
	states := r.doc().Find(`[data-testid="release-row"][data-release="2026-10 B"] [data-testid="offer-state"]`)
	if states.Length() != 4 {
		t.Fatalf("release row has %d ring states, want 4", states.Length())
	}
	e.wantAudit(t, store.ActionReleaseAdd, admin.email, store.OutcomeSuccess, "2026-10 B")

	// A bad build is refused naming it, and nothing is added.
	bad := url.Values{"name": {"2026-11 B"}, "date": {"2026-11-10"}, "builds": {"26100"}}
	r = admin.postHX(t, "/releases/add", bad).wantStatus(http.StatusUnprocessableEntity)
	if !strings.Contains(string(r.body), "26100") {
		t.Errorf("refusal does not name the build: %s", r.body)
	}
	if rels, _ := e.st.Releases(e.ctx); len(rels) != 1 {
		t.Errorf("%d releases after a refused add, want 1", len(rels))
	}

	// Readers see the board without its controls.
	r = reader.get(t, "/releases").wantStatus(http.StatusOK)
	if r.testid("release-add").Length() != 0 || r.testid("pause-form").Length() != 0 || r.testid("release-expedite").Length() != 0 {
		t.Error("a Service Reader sees release controls")
	}
	if r.testid("releases-read-only").Length() != 1 || r.testid("release-row").Length() != 1 {
		t.Error("a Service Reader does not see the releases")
	}
	reader.postHX(t, "/releases/pause", url.Values{"ring": {"broad"}, "reason": {"no"}}).wantStatus(http.StatusForbidden)

	// The release makes the fleet's build lines supported.
	r = reader.get(t, "/reports").wantStatus(http.StatusOK)
	broad := summaryCount(t, r, "broad", "summary-up-to-date-in-progress")
	if summaryCount(t, r, "", "summary-ineligible-") >= before || broad == 0 {
		t.Fatalf("after the release: ineligible %d (before %d), Broad in progress %d", summaryCount(t, r, "", "summary-ineligible-"), before, broad)
	}

	// Pause Broad: the report and the board say Customer paused, with who and why.
	r = admin.postHX(t, "/releases/pause", url.Values{"ring": {"broad"}, "kind": {"quality"}, "reason": {"Test ring shows trouble"}}).
		wantStatus(http.StatusOK)
	if p := r.doc().Find(`[data-testid="pause"][data-ring="broad"]`).Text(); !strings.Contains(p, "Customer paused by "+admin.email) ||
		!strings.Contains(p, "Test ring shows trouble") {
		t.Errorf("pause banner: %q", p)
	}
	r = reader.get(t, "/reports").wantStatus(http.StatusOK)
	if p := r.doc().Find(`[data-testid="summary-row"][data-ring="broad"] [data-testid="summary-pause"]`).Text(); !strings.Contains(p, "Customer paused") {
		t.Errorf("report pause cell: %q", p)
	}
	if n := summaryCount(t, r, "broad", "summary-up-to-date-paused"); n != broad {
		t.Errorf("Broad paused %d, want the %d in progress before", n, broad)
	}

	// The All devices report pages through Broad's paused devices.
	path := "/reports/devices?ring=broad&status=up-to-date&sub=paused"
	seen := map[string]bool{}
	for path != "" {
		r = reader.get(t, path).wantStatus(http.StatusOK)
		r.testid("report-row").Each(func(_ int, s *goquery.Selection) {
			seen[s.AttrOr("data-device", "")] = true
		})
		r.testid("report-pause-cell").Each(func(_ int, s *goquery.Selection) {
			if strings.TrimSpace(s.Text()) != "Customer paused" || s.Find("span.status.paused").Length() != 1 {
				t.Errorf("pause cell %q, want the Customer paused pill", s.Text())
			}
		})
		// Statuses are pills, as everywhere a status appears.
		r.testid("report-status-cell").Each(func(_ int, s *goquery.Selection) {
			if pill := s.Find("span.status.update-up-to-date"); pill.Length() != 1 || pill.Text() != "Up to date" {
				t.Errorf("status cell %q, want the Up to date pill", s.Text())
			}
		})
		path = r.testid("report-next").AttrOr("href", "")
	}
	if len(seen) != broad {
		t.Errorf("paged %d devices, want %d", len(seen), broad)
	}

	// The export writes the same rows with the report's columns.
	r = reader.get(t, "/reports/devices/export.csv?ring=broad&status=up-to-date&sub=paused").wantStatus(http.StatusOK)
	body, bom := strings.CutPrefix(string(r.body), "\ufeff")
	if !bom || !strings.HasPrefix(body, `"device_id",`) {
		t.Errorf("export starts %q: want the blades' CSV (a byte-order mark, quoted cells)", truncate(r.body))
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(store.UpdateReportColumns, ",") || len(recs)-1 != broad {
		t.Errorf("export: header %v, %d rows, want %d", recs[0], len(recs)-1, broad)
	}
	for _, rec := range recs[1:] {
		if !seen[rec[0]] || rec[6] != "customer-paused" {
			t.Errorf("exported row %v", rec)
			break
		}
	}
	e.wantAudit(t, store.ActionExport, reader.email, store.OutcomeSuccess, "quality update report")

	// The device detail shows the device's update status and target.
	var id string
	for id = range seen {
		break
	}
	r = reader.get(t, "/devices/"+id).wantStatus(http.StatusOK)
	if got := r.text("detail-update-status"); got != "Up to date · Paused" {
		t.Errorf("detail update status %q", got)
	}
	if r.text("detail-update-target") == "—" {
		t.Error("detail shows no target version")
	}
	if got := r.text("detail-pause"); !strings.Contains(got, "Customer paused by "+admin.email) || !strings.Contains(got, "Test ring shows trouble") ||
		!strings.Contains(got, "until ") {
		t.Errorf("detail pause %q: want who, why and until when", got)
	}

	// The blades show the pill on Broad's devices only, its details in it.
	r = reader.get(t, "/devices?tab=ready&size=200").wantStatus(http.StatusOK)
	pills := 0
	r.testid("device-row").Each(func(_ int, row *goquery.Selection) {
		ring := strings.TrimSpace(row.Find(`[data-testid="cell-ring"]`).Contents().First().Text())
		pill := row.Find(`[data-testid="cell-paused"]`)
		switch {
		case ring == "Broad" && pill.Length() == 1:
			pills++
			if tip := pill.Find(`[role="tooltip"]`).Text(); !strings.Contains(tip, "Quality updates: Customer paused by "+admin.email) ||
				!strings.Contains(tip, "Test ring shows trouble") {
				t.Errorf("pill details %q", tip)
			}
		case ring != "Broad" && pill.Length() != 0:
			t.Errorf("a %s device shows Customer paused", ring)
		case ring == "Broad":
			t.Error("a Broad device shows no Customer paused")
		}
	})
	if pills == 0 {
		t.Error("no Broad device on the Ready blade shows Customer paused")
	}

	// Resume: in progress again.
	admin.postHX(t, "/releases/resume", url.Values{"ring": {"broad"}, "kind": {"quality"}}).wantStatus(http.StatusOK)
	r = reader.get(t, "/reports").wantStatus(http.StatusOK)
	if n := summaryCount(t, r, "broad", "summary-up-to-date-in-progress"); n != broad {
		t.Errorf("Broad in progress after resume: %d, want %d", n, broad)
	}
	admin.postHX(t, "/releases/resume", url.Values{"ring": {"broad"}}).wantStatus(http.StatusConflict)
	if r = reader.get(t, "/devices?tab=ready&size=200").wantStatus(http.StatusOK); r.testid("cell-paused").Length() != 0 {
		t.Error("the blade shows Customer paused after the resume")
	}

	// Schedules: saved and audited; bad values refused naming the field.
	form := url.Values{"ring": {"broad"}, "deferral": {"10"}, "deadline": {"5"}, "grace": {"2"}, "feature_deferral": {"0"}, "gate_percent": {"90"}}
	admin.postHX(t, "/releases/schedule", form).wantStatus(http.StatusOK)
	form.Set("deadline", "x")
	if r := admin.postHX(t, "/releases/schedule", form).wantStatus(http.StatusUnprocessableEntity); !strings.Contains(string(r.body), "deadline") {
		t.Errorf("bad deadline: %s", r.body)
	}
	e.wantAudit(t, store.ActionScheduleSet, admin.email, store.OutcomeSuccess, "broad")

	// The feature report and the trend have their text equivalents.
	r = reader.get(t, "/reports?kind=feature").wantStatus(http.StatusOK)
	if r.testid("summary-row").Length() != 5 {
		t.Error("feature summary rows")
	}
	if !strings.Contains(r.text("trend-summary"), "Up to date") || r.testid("trend-chart").Length() != 1 {
		t.Errorf("trend: %q", r.text("trend-summary"))
	}
}

// The All devices report offers 25, 50, 100 and 250 rows a page; the size
// chosen stays in the URL of the pager, the sort links and the export.
func TestReportPageSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	admin := e.as(t, store.RoleServiceAdmin)
	admin.postHX(t, "/releases/add", octoberB).wantStatus(http.StatusOK)

	r := admin.get(t, "/reports/devices").wantStatus(http.StatusOK)
	var sizes []string
	r.testid("report-size").Find("option").Each(func(_ int, s *goquery.Selection) { sizes = append(sizes, s.AttrOr("value", "")) })
	if strings.Join(sizes, " ") != "25 50 100 250" || r.testid("report-size").Find("option[selected]").AttrOr("value", "") != "50" {
		t.Fatalf("page sizes %v, selected %q", sizes, r.testid("report-size").Find("option[selected]").AttrOr("value", ""))
	}
	total := r.testid("report-row").Length()

	seen := 0
	for path := "/reports/devices?size=25&sort=ring"; path != ""; {
		r = admin.get(t, path).wantStatus(http.StatusOK)
		rows := r.testid("report-row").Length()
		if rows > 25 || r.testid("report-size").Find("option[selected]").AttrOr("value", "") != "25" {
			t.Fatalf("%s: %d rows, size shown %q", path, rows, r.testid("report-size").Find("option[selected]").AttrOr("value", ""))
		}
		seen += rows
		path = r.testid("report-next").AttrOr("href", "")
		if path != "" && !strings.Contains(path, "size=25") {
			t.Fatalf("the next page %s forgets the page size", path)
		}
	}
	if seen <= 25 || seen < total {
		t.Errorf("paged %d rows by 25 (a 50-row page showed %d)", seen, total)
	}
	if href := r.testid("report-devices-export").AttrOr("href", ""); !strings.Contains(href, "sort=ring") {
		t.Errorf("export link %s forgets the sort", href)
	}
	if r = admin.get(t, "/reports/devices?size=250").wantStatus(http.StatusOK); r.testid("report-row").Length() < total {
		t.Errorf("250 a page shows %d rows", r.testid("report-row").Length())
	}
	admin.get(t, "/reports/devices?size=200").wantStatus(http.StatusUnprocessableEntity)
}

func TestUpdateAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fleet: true})
	admin := e.apiToken(t, "updates", store.RoleServiceAdmin)
	reader := e.apiToken(t, "reports", store.RoleServiceReader)

	body := map[string]any{"name": "2026-10 B", "date": "2026-10-13", "builds": []string{"26100.4202", "22631.5624"}}
	var rel struct {
		ID             int64    `json:"id"`
		Classification string   `json:"classification"`
		Builds         []string `json:"builds"`
	}
	e.api(t, admin, http.MethodPost, "/api/v1/releases", body).wantStatus(http.StatusCreated).decode(&rel)
	if rel.Classification != "security" || len(rel.Builds) != 2 {
		t.Errorf("release %+v", rel)
	}
	e.api(t, admin, http.MethodPost, "/api/v1/releases", body).wantStatus(http.StatusConflict)
	var apiErr struct {
		Error struct {
			Details []struct{ Pointer string } `json:"details"`
		} `json:"error"`
	}
	e.api(t, admin, http.MethodPost, "/api/v1/releases", map[string]any{"name": "x", "date": "2026-13-01", "builds": []string{"26100.1", "2610"}}).
		wantStatus(http.StatusUnprocessableEntity).decode(&apiErr)
	if d := apiErr.Error.Details; len(d) != 2 || d[0].Pointer != "/date" || d[1].Pointer != "/builds/1" {
		t.Errorf("details %+v", d)
	}
	e.api(t, reader, http.MethodPost, "/api/v1/releases", body).wantStatus(http.StatusForbidden)

	var list struct {
		Releases []struct {
			Name  string `json:"name"`
			Rings []struct {
				Ring, State string
			} `json:"rings"`
		} `json:"releases"`
	}
	e.api(t, reader, http.MethodGet, "/api/v1/releases", nil).wantStatus(http.StatusOK).decode(&list)
	if len(list.Releases) != 1 || len(list.Releases[0].Rings) != 4 || list.Releases[0].Rings[3].State != "Offered" {
		t.Fatalf("releases %+v", list)
	}

	e.api(t, admin, http.MethodPost, "/api/v1/releases/"+strconv.FormatInt(rel.ID, 10)+"/expedite", nil).wantStatus(http.StatusOK)
	e.api(t, admin, http.MethodPost, "/api/v1/releases/"+url.PathEscape("2026-10 B")+"/expedite", nil).wantStatus(http.StatusConflict)
	e.api(t, admin, http.MethodPost, "/api/v1/releases/999/expedite", nil).wantStatus(http.StatusNotFound)

	var sc map[string]any
	e.api(t, reader, http.MethodGet, "/api/v1/rings/first/schedule", nil).wantStatus(http.StatusOK).decode(&sc)
	if sc["quality_deferral"] != 1.0 || sc["quality_deadline"] != 2.0 || sc["quality_grace"] != 2.0 {
		t.Errorf("First schedule %v", sc)
	}
	e.api(t, admin, http.MethodPut, "/api/v1/rings/first/schedule", map[string]any{"quality_deferral": 2}).wantStatus(http.StatusOK).decode(&sc)
	if sc["quality_deferral"] != 2.0 || sc["quality_deadline"] != 2.0 {
		t.Errorf("First schedule after PUT %v", sc)
	}
	e.api(t, admin, http.MethodPut, "/api/v1/rings/first/schedule", map[string]any{"quality_grace": 9}).wantStatus(http.StatusUnprocessableEntity)
	e.api(t, reader, http.MethodGet, "/api/v1/rings/nine/schedule", nil).wantStatus(http.StatusNotFound)

	e.api(t, admin, http.MethodPost, "/api/v1/rings/all/pause", map[string]any{"reason": "holiday freeze"}).wantStatus(http.StatusOK)
	e.api(t, admin, http.MethodPost, "/api/v1/rings/broad/pause", map[string]any{"reason": "again"}).wantStatus(http.StatusConflict)
	e.api(t, admin, http.MethodPost, "/api/v1/rings/broad/pause", map[string]any{"kind": "feature", "reason": "feature hold"}).wantStatus(http.StatusOK)

	var page struct {
		Devices []struct {
			DeviceID    string  `json:"device_id"`
			PauseStatus *string `json:"pause_status"`
		} `json:"devices"`
		Total      int     `json:"total"`
		NextCursor *string `json:"next_cursor"`
	}
	e.api(t, reader, http.MethodGet, "/api/v1/reports/quality?ring=broad&limit=10", nil).wantStatus(http.StatusOK).decode(&page)
	if len(page.Devices) != 10 || page.NextCursor == nil || page.Devices[0].PauseStatus == nil || *page.Devices[0].PauseStatus != "customer-paused" {
		t.Fatalf("report page %+v", page)
	}
	total, seen := page.Total, len(page.Devices)
	for page.NextCursor != nil {
		next := *page.NextCursor
		page.NextCursor = nil
		e.api(t, reader, http.MethodGet, "/api/v1/reports/quality?ring=broad&limit=10&cursor="+url.QueryEscape(next), nil).wantStatus(http.StatusOK).decode(&page)
		seen += len(page.Devices)
	}
	if seen != total {
		t.Errorf("paged %d of %d", seen, total)
	}
	e.api(t, reader, http.MethodGet, "/api/v1/reports/quality?status=sideways", nil).wantStatus(http.StatusUnprocessableEntity)

	e.api(t, admin, http.MethodPost, "/api/v1/rings/all/resume", nil).wantStatus(http.StatusOK)
	e.api(t, admin, http.MethodPost, "/api/v1/rings/all/resume", nil).wantStatus(http.StatusConflict)
	e.api(t, admin, http.MethodPost, "/api/v1/rings/broad/resume", map[string]any{"kind": "feature"}).wantStatus(http.StatusOK)
	e.wantAudit(t, store.ActionResume, "token:updates", store.OutcomeSuccess, "broad")
}
