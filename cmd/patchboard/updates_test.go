package main

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"
)

// TestCLIUpdates runs a Patch Tuesday from the command line: a release
// that every ring has been offered, a pause of Broad, the report, resume,
// an out-of-band release imported by CSV and expedited, and schedules.
func TestCLIUpdates(t *testing.T) {
	c := newCLI(t)
	inv := c.file("inv.csv", inventory(device(1, "intune"), device(2, "intune"), device(3, "intune")))
	c.ok("", "import", "devices", inv)
	c.ok("", "import", "members", c.file("m.csv", "device_id\n"+id(1)+"\n"+id(2)+"\n"+id(3)+"\n"))
	c.ok("", "discover")
	c.ok("", "assign-ring", "--ring", "broad", id(1), id(2), id(3))

	released := time.Now().UTC().AddDate(0, 0, -10).Format(time.DateOnly)
	if out := c.ok("", "release", "add", "--name", "Patch B", "--date", released, "--build", "22631.6345", "--build", "26100.7462"); !strings.Contains(out, "added release Patch B") {
		t.Fatalf("release add: %q", out)
	}
	if _, _, err := c.run("", "release", "add", "--name", "Bad", "--date", released, "--build", "22631"); err == nil {
		t.Error("a build without a revision was accepted")
	}
	if out := c.ok("", "release", "list"); !strings.Contains(out, "Patch B") || !strings.Contains(out, "Broad  Offered") {
		t.Errorf("release list: %q", out)
	}
	c.ok("", "pause", "--ring", "broad", "--reason", "Test shows trouble")
	if _, _, err := c.run("", "pause", "--ring", "broad", "--reason", "again"); err == nil {
		t.Error("a second pause of Broad was accepted")
	}
	if out := c.ok("", "release", "list"); !strings.Contains(out, "PAUSED Broad quality: Customer paused by cli:tester") {
		t.Errorf("release list while paused: %q", out)
	}

	out := c.ok("", "report", "quality", "--ring", "broad", "--no-bom")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "device_id,display_name,serial_number,ring,update_status,update_sub_status,pause_status,current_version,target_version,readiness,alerts,last_checkin" {
		t.Fatalf("report header %s", got)
	}
	if len(recs) != 4 {
		t.Fatalf("report rows: %d, want 3", len(recs)-1)
	}
	for _, r := range recs[1:] {
		if r[4] != "up-to-date" || r[5] != "paused" || r[6] != "customer-paused" || r[7] != "22631.1" || r[8] != "22631.6345" {
			t.Errorf("report row %v", r)
		}
	}
	if out := c.ok("", "report", "quality", "--status", "not-up-to-date"); strings.Count(out, "\n") != 1 {
		t.Errorf("no device is overdue 10 days after a release: %q", out)
	}
	c.ok("", "resume", "--ring", "broad")
	if out := c.ok("", "report", "quality", "--ring", "broad", "--status", "up-to-date"); strings.Count(out, `,"in-progress",`) != 3 {
		t.Errorf("after resume: %q", out)
	}

	oob := c.file("rel.csv", "name,date,classification,builds\nOOB fix,"+time.Now().UTC().Format(time.DateOnly)+",out-of-band,22631.6350\n")
	c.ok("", "release", "import", oob)
	if out := c.ok("", "release", "expedite", "OOB fix"); !strings.Contains(out, "expedited OOB fix") {
		t.Errorf("expedite: %q", out)
	}
	if _, _, err := c.run("", "release", "expedite", "OOB fix"); err == nil {
		t.Error("a release was expedited twice")
	}
	if out := c.ok("", "report", "feature"); strings.Count(out, "\n") != 4 {
		t.Errorf("feature report: %q", out)
	}

	if out := c.ok("", "schedule", "set", "--ring", "broad", "--deferral", "7", "--gate", "80"); !strings.Contains(out, "broad         7        5     2                0 80%") {
		t.Errorf("schedule set: %q", out)
	}
	if _, _, err := c.run("", "schedule", "set", "--ring", "broad", "--grace", "8"); err == nil {
		t.Error("a grace period of 8 days was accepted")
	}
}

func TestDemoReleaseIsTheLastPatchTuesday(t *testing.T) {
	for _, tt := range []struct{ now, want string }{
		{"2026-12-08T09:00:00Z", "2026-12-08"}, // Patch Tuesday itself
		{"2026-12-07T23:00:00Z", "2026-11-10"}, // the day before: last month's
		{"2026-12-31T12:00:00Z", "2026-12-08"},
		{"2027-01-05T12:00:00Z", "2026-12-08"},
	} {
		now, _ := time.Parse(time.RFC3339, tt.now)
		if got := demoRelease(now).Date.Format(time.DateOnly); got != tt.want {
			t.Errorf("demo release at %s: %s, want %s", tt.now, got, tt.want)
		}
	}
}
