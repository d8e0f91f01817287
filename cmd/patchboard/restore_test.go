package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCLIBackupAndRestore(t *testing.T) {
	c := newCLI(t)
	c.ok(inventory(id(1)+",PC-001,SN001,Dell,Latitude,Windows,10.0.22631.1,Enterprise,x64,entra-joined,company,intune,2026-11-01T00:00:00Z"), "import", "devices", "-")
	backup := filepath.Join(t.TempDir(), "pb-backup.db")
	c.ok("", "backup", backup)
	c.ok(inventory(id(2)+",PC-002,SN002,Dell,Latitude,Windows,10.0.22631.1,Enterprise,x64,entra-joined,company,intune,2026-11-01T00:00:00Z"), "import", "devices", "-")

	out := c.ok("", "restore", backup)
	if !strings.Contains(out, "restored") || !strings.Contains(out, "before-restore") {
		t.Errorf("restore said %q", out)
	}
	// The device imported after the backup is gone; the one before is there.
	if _, _, err := c.run("", "deregister", id(2)); err == nil {
		t.Error("a device imported after the backup survived the restore")
	}
	if _, errOut, err := c.run("", "restore", filepath.Join(t.TempDir(), "no-such.db")); err == nil || !strings.Contains(errOut+err.Error(), "no-such.db") {
		t.Errorf("restore of a missing file: %v %q, want it refused (as device IDs it names none)", err, errOut)
	}
}
