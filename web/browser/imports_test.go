package browser_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"patchboard/store"
)

// TestAdminImportsMembers: an admin uploads a member file with a bad row,
// the preview refuses it naming the row and the reason and writes nothing;
// the fixed file previews clean and Import makes the devices members.
func TestAdminImportsMembers(t *testing.T) {
	a := newApp(t, 50)
	ctx := t.Context()
	devs := make([]*store.Device, 3)
	for i := range devs {
		devs[i] = &store.Device{
			DeviceID: fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i+1), DisplayName: fmt.Sprintf("IMPORT-PC-%d", i+1),
			SerialNumber: fmt.Sprintf("IMPSN%04d", i+1), OS: store.OSWindows, Ownership: store.OwnershipCompany,
			Management: store.ManagementIntune, DeviceKind: store.KindPhysical, AccountEnabled: true,
		}
	}
	if _, err := a.Store.UpsertDevices(ctx, devs, "test", "test"); err != nil {
		t.Fatal(err)
	}
	pilot, err := a.Store.CreateGroup(ctx, "Pilot", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeCSV := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := writeCSV("pilot.csv", "serial_number", devs[0].SerialNumber, devs[1].SerialNumber, "NO-SUCH-SERIAL", devs[2].SerialNumber)
	fixed := writeCSV("pilot-fixed.csv", "serial_number", devs[0].SerialNumber, devs[1].SerialNumber, devs[2].SerialNumber)

	p := a.open(t)
	p.signIn(adminEmail)
	p.do("open Import", chromedp.Click(tid("nav-imports")), chromedp.WaitVisible(tid("member-form")))

	// The bad file: the preview names row 3 and why, and imports nothing.
	p.do("choose the group and the bad file",
		chromedp.SetValue(tid("member-group"), "Pilot"),
		chromedp.SetUploadFiles(tid("member-file"), []string{bad}),
		chromedp.Click(tid("member-preview")),
	)
	p.waitSettled("the rejected preview", `document.querySelector('[data-testid="member-import"]').dataset.stage === 'rejected'`)
	if got := p.text("preview-rejected"); !strings.Contains(got, "Nothing was imported: 1 problem in pilot.csv") {
		t.Errorf("heading %q", got)
	}
	if got := p.text("rejected-row-number"); got != "3" {
		t.Errorf("rejected row %q, want 3", got)
	}
	if got := p.text("rejected-reason"); !strings.Contains(got, `no device has serial_number "NO-SUCH-SERIAL"`) {
		t.Errorf("reason %q", got)
	}
	if p.exists(`[data-testid="member-commit"]`) {
		t.Error("a rejected file can be imported")
	}
	visible := eval[bool](p, `(() => { const r = document.querySelector('[data-testid="rejected-row"]').getBoundingClientRect(); return r.width > 0 && r.height > 0; })()`)
	if !visible {
		t.Error("the rejected row is not visible")
	}
	p.shot("import-members-rejected", true)
	if g, err := a.Store.GroupByID(ctx, pilot.ID); err != nil || g.Devices != 0 {
		t.Fatalf("Pilot has %d devices after a rejected preview (%v)", g.Devices, err)
	}

	// The fixed file: the preview counts, Import writes.
	p.do("choose the fixed file",
		chromedp.SetUploadFiles(tid("member-file"), []string{fixed}),
		chromedp.Click(tid("member-preview")),
	)
	p.waitSettled("the clean preview", `document.querySelector('[data-testid="member-import"]').dataset.stage === 'preview'`)
	if got := p.text("preview-summary"); !strings.Contains(got, "Import adds 3 devices to Pilot") {
		t.Errorf("summary %q", got)
	}
	p.shot("import-members-preview", true)
	p.do("import", chromedp.Click(tid("member-commit")))
	p.waitSettled("the import", `document.querySelector('[data-testid="member-import"]').dataset.stage === 'done'`)
	if got := p.text("import-result"); !strings.Contains(got, "Imported pilot-fixed.csv into Pilot: 3 devices added") {
		t.Errorf("result %q", got)
	}
	p.shot("import-members-done", true)

	page, err := a.Store.GroupMembers(ctx, pilot.ID, store.MemberQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range page.Devices {
		got = append(got, d.DeviceID)
	}
	slices.Sort(got)
	want := []string{devs[0].DeviceID, devs[1].DeviceID, devs[2].DeviceID}
	if !slices.Equal(got, want) {
		t.Fatalf("Pilot members %v, want %v", got, want)
	}
}

// TestReaderHasNoImport: a Service Reader sees no Import link, and the page
// refuses them.
func TestReaderHasNoImport(t *testing.T) {
	a := newApp(t, 50)
	p := a.open(t)
	p.signIn(readerEmail)
	if p.exists(`[data-testid="nav-imports"]`) {
		t.Error("a Service Reader sees the Import link")
	}
	p.navigate("/imports")
	if p.exists(`[data-testid="member-form"]`) || p.exists(`[data-testid="device-form"]`) {
		t.Error("a Service Reader sees the import forms")
	}
}
