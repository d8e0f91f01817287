package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cli runs the program in-process against db and returns its output.
type cli struct {
	t  *testing.T
	db string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, db: filepath.Join(t.TempDir(), "pb.db")}
}

func (c *cli) run(stdin string, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "USER" {
			return "tester"
		}
		return ""
	}
	err = run(context.Background(), append([]string{"--db", c.db}, args...), strings.NewReader(stdin), &out, &errOut, getenv)
	return out.String(), errOut.String(), err
}

func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(stdin, args...)
	if err != nil {
		c.t.Fatalf("patchboard %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func (c *cli) file(name, body string) string {
	p := filepath.Join(c.t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func id(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func inventory(rows ...string) string {
	return "device_id,display_name,serial_number,manufacturer,model,os,os_version,edition,architecture,join_type,ownership,management,last_checkin\n" +
		strings.Join(rows, "\n") + "\n"
}

func device(n int, mgmt string) string {
	checkin := time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	return fmt.Sprintf("%s,PC-%03d,SN%03d,Dell Inc.,Latitude 7440,Windows,10.0.22631.1,Enterprise,x64,entra-joined,company,%s,%s",
		id(n), n, n, mgmt, checkin)
}

func TestCLIEndToEnd(t *testing.T) {
	c := newCLI(t)
	inv := c.file("inv.csv", inventory(device(1, "intune"), device(2, "intune"), device(3, "none"), device(4, "intune")))
	if out := c.ok("", "import", "devices", "--dry-run", inv); !strings.Contains(out, "would import 4 rows: 4 new") {
		t.Fatalf("import --dry-run: %q", out)
	}
	if out := c.ok("", "import", "devices", inv); !strings.Contains(out, "imported 4 rows: 4 new") {
		t.Fatalf("import: %q", out)
	}
	if out := c.ok("", "import", "devices", inv); !strings.Contains(out, "4 unchanged") {
		t.Fatalf("re-import: %q", out)
	}
	c.ok("", "group", "create", "Finance")
	c.ok("", "group", "create", "Lab")
	c.ok("", "group", "nest", "Device Registration", "Finance")
	if out := c.ok("", "group", "nest", "Finance", "Lab"); !strings.Contains(out, "not discovered") {
		t.Errorf("nesting two levels deep must warn: %q", out)
	}
	members := c.file("m.csv", "serial_number\nSN001\nSN003\n")
	c.ok("", "import", "members", "--group", "Device Registration", members)
	c.ok("device_id\n"+id(2)+"\n", "import", "members", "--group", "Finance", "-")
	c.ok("display_name\nPC-004\n", "import", "members", "--group", "Lab", "-")

	out := c.ok("", "discover")
	if !strings.Contains(out, "2 registered, 1 not registered") || !strings.Contains(out, "Ready                 2") {
		t.Fatalf("discover: %q", out)
	}

	c.ok("", "assign-ring", "--ring", "test", id(1))
	if out := c.ok("", "export", "--tab", "ready"); !strings.HasPrefix(out, "\ufeff") {
		t.Errorf("export without --no-bom starts %q, want a byte-order mark", out[:min(len(out), 10)])
	}
	csvOut := c.ok("", "export", "--tab", "ready", "--no-bom")
	if strings.HasPrefix(csvOut, "\ufeff") {
		t.Error("export --no-bom starts with a byte-order mark")
	}
	recs, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := strings.Join(recs[0], ",")
	for _, k := range []string{"device_id", "display_name", "serial_number", "status", "ring", "ring_assigned_by", "reasons"} {
		if !strings.Contains(header, k) {
			t.Errorf("export header %q lacks %s", header, k)
		}
	}
	if len(recs) != 3 || recs[1][0] != id(1) {
		t.Fatalf("export rows %v", recs)
	}
	col := map[string]int{}
	for i, k := range recs[0] {
		col[k] = i
	}
	if recs[1][col["ring"]] != "test" || recs[1][col["ring_assigned_by"]] != "admin" || recs[2][col["ring_assigned_by"]] != "service" {
		t.Errorf("ring columns: %v", recs[1:])
	}

	notReg := c.ok("", "export", "--tab", "not-registered", "--columns", "device_id,status,reasons", "--no-bom")
	if want := "\"device_id\",\"status\",\"reasons\"\r\n\"" + id(3) + "\",\"prerequisites-failed\",\"intune-or-cloud-attached\"\r\n"; notReg != want {
		t.Errorf("not-registered export:\n%s\nwant:\n%s", notReg, want)
	}

	c.ok("", "deregister", id(2))
	if out := c.ok("", "export", "--tab", "not-registered", "--status", "excluded", "--columns", "device_id"); !strings.Contains(out, id(2)) {
		t.Errorf("excluded export: %q", out)
	}
	c.ok("", "restore", id(2))
	c.ok("", "discover")
	if out := c.ok("", "export", "--tab", "ready", "--columns", "device_id"); !strings.Contains(out, id(2)) {
		t.Errorf("restored device not back after discovery: %q", out)
	}

	if out := c.ok("a-long-enough-password\n", "user", "add", "--email", "admin@example.com", "--role", "service-admin"); !strings.Contains(out, "Service Administrator") {
		t.Errorf("user add: %q", out)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	c.ok("", "backup", backup)
	if _, err := os.Stat(backup); err != nil {
		t.Errorf("backup: %v", err)
	}
}

func TestCLIRejectsBadInput(t *testing.T) {
	c := newCLI(t)
	bad := c.file("bad.csv", inventory(device(1, "intune"), strings.Replace(device(2, "intune"), "x64", "sparc", 1),
		"not-a-guid,PC-9,,,,,,,,,,,"))
	_, errOut, err := c.run("", "import", "devices", bad)
	if err == nil || !strings.Contains(errOut, "row 2: architecture") || !strings.Contains(errOut, "row 3: device_id") ||
		!strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("bad import: err %v, stderr %q", err, errOut)
	}
	if out := c.ok("", "export", "--tab", "not-registered", "--columns", "device_id", "--no-bom"); out != "\"device_id\"\r\n" {
		t.Errorf("a rejected import wrote rows: %q", out)
	}

	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"unknown command", []string{"frobnicate"}, "unknown command", 2},
		{"unknown subcommand", []string{"group", "delete"}, "group create", 2},
		{"export without tab", []string{"export"}, "--tab is required", 2},
		{"export bad tab", []string{"export", "--tab", "sideways"}, "not one of ready", 1},
		{"export bad column", []string{"export", "--tab", "ready", "--columns", "colour"}, `unknown column "colour"`, 1},
		{"bad ring", []string{"assign-ring", "--ring", "slow", id(1)}, "not one of", 1},
		{"unknown device", []string{"deregister", id(99)}, "nothing was changed", 1},
		{"bad rule", []string{"group", "create", "X", "--rule", "device.colour -eq \"red\""}, "position", 1},
		{"missing members file", []string{"import", "members", "nope.csv"}, "no such file", 1},
		{"short password", []string{"user", "add", "--email", "a@b.example", "--role", "service-reader"}, "at least 12", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := c.run("short\n", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to contain %q", err, tt.want)
			}
			if got := exitCode(err); got != tt.code {
				t.Errorf("exit code %d, want %d", got, tt.code)
			}
		})
	}
}

func TestCLIHelp(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{"--help"}, {"help"}, {"discover", "--help"}, {"import", "devices", "--help"}} {
		if _, _, err := c.run("", args...); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}
