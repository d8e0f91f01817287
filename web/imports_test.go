package web_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"patchboard/store"
)

// upload posts a multipart form with a CSV file the way the import forms
// send it, as htmx does unless hdr says otherwise.
func (c *client) upload(t testing.TB, path string, fields url.Values, name string, file []byte, hdr ...string) *response {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	w.Close()
	hdr = append([]string{"Content-Type", w.FormDataContentType(), "X-CSRF-Token", c.csrf(t), "HX-Request", "true"}, hdr...)
	return c.do(t, http.MethodPost, path, &b, hdr...)
}

// importEnv is a portal with devices 1–5 of testDevice (4 and 5 share a
// serial number) and an assigned group "Pilot" holding device 1.
func importEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, envOptions{})
	devs := []*store.Device{testDevice(1), testDevice(2), testDevice(3), testDevice(4),
		testDevice(5, func(d *store.Device) { d.SerialNumber = testDevice(4).SerialNumber })}
	if _, err := e.st.UpsertDevices(e.ctx, devs, "test", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateGroup(e.ctx, "Pilot", "", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddGroupDevices(e.ctx, "Pilot", []string{testDevice(1).DeviceID}, "test"); err != nil {
		t.Fatal(err)
	}
	return e
}

// members are the device IDs of a group's device members.
func (e *env) members(t testing.TB, group string) []string {
	t.Helper()
	g, err := e.st.Group(e.ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	page, err := e.st.GroupMembers(e.ctx, g.ID, store.MemberQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range page.Devices {
		ids = append(ids, d.DeviceID)
	}
	return ids
}

func memberFile(key string, values ...string) []byte {
	return []byte(key + "\n" + strings.Join(values, "\n") + "\n")
}

// token is the previewed file's token in a preview answer.
func token(t testing.TB, res *response) string {
	t.Helper()
	tok, ok := res.doc().Find(`input[name="token"]`).Attr("value")
	if !ok || tok == "" {
		t.Fatalf("%s: the preview has no token\n%s", res, truncate(res.body))
	}
	return tok
}

func TestImportMembersPreviewAndCommit(t *testing.T) {
	t.Parallel()
	e := importEnv(t)
	admin := e.as(t, store.RoleServiceAdmin)
	ids := func(ns ...int) []string {
		var out []string
		for _, n := range ns {
			out = append(out, testDevice(n).DeviceID)
		}
		return out
	}

	// A file with an unknown device and an ambiguous serial number: the
	// preview lists both with row, field and reason, and writes nothing.
	bad := memberFile("serial_number", testDevice(2).SerialNumber, "NO-SUCH-SERIAL", testDevice(3).SerialNumber, testDevice(4).SerialNumber)
	res := admin.upload(t, "/imports/members/preview", url.Values{"group": {"Pilot"}}, "pilot.csv", bad).
		wantStatus(http.StatusUnprocessableEntity)
	if !res.isFragment() || res.testid("member-import").AttrOr("data-stage", "") != "rejected" {
		t.Fatalf("%s: want the rejected stage as a fragment\n%s", res, truncate(res.body))
	}
	rows := res.testid("rejected-row")
	if rows.Length() != 2 {
		t.Fatalf("%d rejected rows, want 2\n%s", rows.Length(), truncate(res.body))
	}
	wantRows := []struct{ row, reason string }{
		{"2", `no device has serial_number "NO-SUCH-SERIAL"`},
		{"4", "matches more than one device; use device_id"},
	}
	for i, w := range wantRows {
		r := rows.Eq(i)
		if got := strings.TrimSpace(r.Find(`[data-testid="rejected-row-number"]`).Text()); got != w.row {
			t.Errorf("rejected row %d: row %q, want %q", i, got, w.row)
		}
		if got := r.Find(`[data-testid="rejected-reason"]`).Text(); !strings.Contains(got, w.reason) {
			t.Errorf("rejected row %d: reason %q, want %q", i, got, w.reason)
		}
	}
	if !strings.Contains(res.text("preview-rejected"), "Nothing was imported: 2 problems in pilot.csv") {
		t.Errorf("heading %q", res.text("preview-rejected"))
	}
	if res.doc().Find(`input[name="token"]`).Length() != 0 {
		t.Error("a rejected preview offers Import")
	}
	if got := e.members(t, "Pilot"); len(got) != 1 {
		t.Fatalf("the rejected preview changed the members: %v", got)
	}

	// The fixed file previews clean: counts, and an Import button.
	good := memberFile("serial_number", testDevice(2).SerialNumber, testDevice(1).SerialNumber, testDevice(3).SerialNumber, testDevice(3).SerialNumber)
	res = admin.upload(t, "/imports/members/preview", url.Values{"group": {"Pilot"}}, "pilot.csv", good).wantStatus(http.StatusOK)
	if got := res.text("preview-summary"); !strings.Contains(got, "4 rows checked, none rejected. Import adds 2 devices to Pilot; 1 already members; 1 duplicate row skipped.") {
		t.Errorf("summary %q", got)
	}
	if got := e.members(t, "Pilot"); len(got) != 1 {
		t.Fatalf("the preview changed the members: %v", got)
	}

	// Import commits exactly the previewed file.
	res = admin.post(t, "/imports/members/commit", url.Values{"token": {token(t, res)}}, "HX-Request", "true").wantStatus(http.StatusOK)
	if got := res.text("import-result"); !strings.Contains(got, "Imported pilot.csv into Pilot: 2 devices added, 1 already members, 1 duplicate row skipped.") {
		t.Errorf("result %q", got)
	}
	sameSet(t, "Pilot members", e.members(t, "Pilot"), ids(1, 2, 3))
	a := e.wantAudit(t, store.ActionGroupMembers, emailOf(store.RoleServiceAdmin), store.OutcomeSuccess, "Pilot")
	if a.Detail != "import pilot.csv: 4 rows, 2 added, 1 already members, 1 duplicate rows" {
		t.Errorf("audit detail %q", a.Detail)
	}
	for _, id := range ids(2, 3) {
		if len(e.audit(t, store.AuditFilter{DeviceID: id, Action: store.ActionGroupMembers})) == 0 {
			t.Errorf("device %s has no history entry for the import", id)
		}
	}

	// The token is spent.
	res = admin.post(t, "/imports/members/commit", url.Values{"token": {token(t, admin.upload(t, "/imports/members/preview",
		url.Values{"group": {"Pilot"}}, "again.csv", memberFile("device_id", testDevice(4).DeviceID)))}}, "HX-Request", "true").
		wantStatus(http.StatusOK)
	tok := token(t, admin.upload(t, "/imports/members/preview", url.Values{"group": {"Pilot"}}, "again.csv", memberFile("device_id", testDevice(5).DeviceID)))
	admin.post(t, "/imports/members/commit", url.Values{"token": {tok}}, "HX-Request", "true").wantStatus(http.StatusOK)
	res = admin.post(t, "/imports/members/commit", url.Values{"token": {tok}}, "HX-Request", "true").wantStatus(http.StatusUnprocessableEntity)
	if !strings.Contains(res.text("import-note"), "expired or was already imported") {
		t.Errorf("a spent token: %q", res.text("import-note"))
	}
	sameSet(t, "Pilot members", e.members(t, "Pilot"), ids(1, 2, 3, 4, 5))
}

func TestImportDevicesPreviewAndCommit(t *testing.T) {
	t.Parallel()
	e := importEnv(t)
	admin := e.as(t, store.RoleIntuneAdmin)
	header := "device_id,display_name,serial_number\n"
	newID := "11111111-2222-4333-8444-555555555555"
	bad := header + testDevice(1).DeviceID + ",RENAMED,X\nnot-a-guid,PC,Y\n" + newID + ",,Z\n"
	res := admin.upload(t, "/imports/devices/preview", nil, "inventory.csv", []byte(bad)).wantStatus(http.StatusUnprocessableEntity)
	if got := res.testid("rejected-row").Length(); got != 2 {
		t.Fatalf("%d rejected rows, want 2\n%s", got, truncate(res.body))
	}
	if got := res.testid("rejected-reason").First().Text(); !strings.Contains(got, "is not a device ID") {
		t.Errorf("first reason %q", got)
	}
	if e.device(t, testDevice(1).DeviceID).DisplayName != testDevice(1).DisplayName {
		t.Fatal("a rejected preview wrote a device")
	}

	good := header + testDevice(1).DeviceID + ",RENAMED,X\n" + newID + ",NEW-PC,Z\n"
	res = admin.upload(t, "/imports/devices/preview", nil, "inventory.csv", []byte(good)).wantStatus(http.StatusOK)
	if got := res.text("preview-summary"); !strings.Contains(got, "2 rows checked, none rejected. Import adds 1 new device, updates 1 and leaves 0 unchanged.") {
		t.Errorf("summary %q", got)
	}
	if e.device(t, testDevice(1).DeviceID).DisplayName != testDevice(1).DisplayName {
		t.Fatal("the preview wrote a device")
	}
	if _, err := e.st.Device(e.ctx, newID); err == nil {
		t.Fatal("the preview added a device")
	}
	res = admin.post(t, "/imports/devices/commit", url.Values{"token": {token(t, res)}}, "HX-Request", "true").wantStatus(http.StatusOK)
	if got := res.text("import-result"); !strings.Contains(got, "Imported inventory.csv: 1 new device, 1 updated, 0 unchanged.") {
		t.Errorf("result %q", got)
	}
	if res.header.Get("HX-Trigger") != "devices-changed" {
		t.Errorf("HX-Trigger %q, want devices-changed", res.header.Get("HX-Trigger"))
	}
	if got := e.device(t, newID).DisplayName; got != "NEW-PC" {
		t.Errorf("new device name %q", got)
	}
	if got := e.device(t, testDevice(1).DeviceID).DisplayName; got != "RENAMED" {
		t.Errorf("updated device name %q", got)
	}
	a := e.wantAudit(t, store.ActionImportDevice, emailOf(store.RoleIntuneAdmin), store.OutcomeSuccess, "inventory.csv")
	if a.Detail != "2 rows: 1 new, 1 updated, 0 unchanged" {
		t.Errorf("audit detail %q", a.Detail)
	}
}

// TestImportPermissions walks the import routes with a real file for each
// role: Service Readers are refused every one; the Device Registration
// group's members need an Intune or Global Administrator, or a Service
// Administrator who owns the group.
func TestImportPermissions(t *testing.T) {
	t.Parallel()
	e := importEnv(t)
	owner := "owner@example.com"
	ownerUser, err := e.st.AddUser(e.ctx, owner, store.RoleServiceAdmin, password, "test")
	if err != nil {
		t.Fatal(err)
	}
	regID, err := e.st.RegistrationGroupID(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddGroupOwner(e.ctx, regID, ownerUser.ID, "test"); err != nil {
		t.Fatal(err)
	}
	ownerClient := e.newClient()
	ownerClient.signIn(t, owner, password)

	type who struct {
		name  string
		c     *client
		email string
		role  store.Role
	}
	var users []who
	for _, r := range allRoles {
		users = append(users, who{roleName(r), e.as(t, r), emailOf(r), r})
	}
	users = append(users, who{"owner", ownerClient, owner, store.RoleServiceAdmin})

	file := memberFile("device_id", testDevice(2).DeviceID)
	inventory := []byte("device_id,display_name\n" + testDevice(3).DeviceID + "," + testDevice(3).DisplayName + "\n")
	for _, u := range users {
		for _, group := range []string{"Pilot", store.RegistrationGroupName} {
			t.Run(u.name+" members into "+group, func(t *testing.T) {
				want := http.StatusOK
				switch {
				case u.role == store.RoleNone || !u.role.Can(store.PermEditGroups):
					want = http.StatusForbidden
				case group == store.RegistrationGroupName && u.role == store.RoleServiceAdmin && u.email != owner:
					want = http.StatusForbidden
				}
				before := lastAuditID(t, e)
				res := u.c.upload(t, "/imports/members/preview", url.Values{"group": {group}}, "m.csv", file)
				if res.status != want {
					t.Fatalf("%s, want %d\n%s", res, want, truncate(res.body))
				}
				if want == http.StatusForbidden {
					if u.role != store.RoleNone && !strings.Contains(string(res.body), "does not allow") {
						t.Errorf("the refusal does not say why: %s", truncate(res.body))
					}
					wantRefusal(t, e, res, u.email, before)
					return
				}
				tok := token(t, res)
				u.c.post(t, "/imports/members/commit", url.Values{"token": {tok}}, "HX-Request", "true").wantStatus(http.StatusOK)
			})
		}
		t.Run(u.name+" devices", func(t *testing.T) {
			allowed := u.role.Can(store.PermEditGroups)
			res := u.c.upload(t, "/imports/devices/preview", nil, "d.csv", inventory)
			if !allowed {
				if res.status != http.StatusForbidden {
					t.Fatalf("%s, want 403", res)
				}
				return
			}
			res.wantStatus(http.StatusOK)
			u.c.post(t, "/imports/devices/commit", url.Values{"token": {token(t, res)}}, "HX-Request", "true").wantStatus(http.StatusOK)
		})
		t.Run(u.name+" page and nav", func(t *testing.T) {
			page := u.c.get(t, "/imports")
			allowed := u.role.Can(store.PermEditGroups)
			if allowed != (page.status == http.StatusOK) {
				t.Fatalf("%s for %s", page, u.role.Label())
			}
			blade := u.c.get(t, "/devices")
			if u.role != store.RoleNone && (blade.testid("nav-imports").Length() == 1) != allowed {
				t.Errorf("the Import link is shown=%v to %s", !allowed, u.role.Label())
			}
			if !allowed {
				return
			}
			// The registration group is offered, disabled with the reason,
			// to a Service Administrator who does not own it.
			opt := page.doc().Find(fmt.Sprintf(`[data-testid="member-group"] option[value=%q]`, store.RegistrationGroupName))
			_, disabled := opt.Attr("disabled")
			wantDisabled := u.role == store.RoleServiceAdmin && u.email != owner
			if disabled != wantDisabled || wantDisabled && !strings.Contains(opt.Text(), "only its owners") {
				t.Errorf("registration group option disabled=%v text %q, want disabled=%v", disabled, opt.Text(), wantDisabled)
			}
		})
	}

	t.Run("a token is good only for the user who previewed", func(t *testing.T) {
		a, b := e.as(t, store.RoleGlobalAdmin), e.as(t, store.RoleIntuneAdmin)
		tok := token(t, a.upload(t, "/imports/members/preview", url.Values{"group": {"Pilot"}}, "m.csv", memberFile("device_id", testDevice(5).DeviceID)))
		b.post(t, "/imports/members/commit", url.Values{"token": {tok}}, "HX-Request", "true").wantStatus(http.StatusUnprocessableEntity)
		// Nor for the other kind.
		a.post(t, "/imports/devices/commit", url.Values{"token": {tok}}, "HX-Request", "true").wantStatus(http.StatusUnprocessableEntity)
		a.post(t, "/imports/members/commit", url.Values{"token": {tok}}, "HX-Request", "true").wantStatus(http.StatusOK)
	})

	t.Run("the commit asks again", func(t *testing.T) {
		// Ownership taken away between preview and Import: refused.
		tok := token(t, ownerClient.upload(t, "/imports/members/preview", url.Values{"group": {store.RegistrationGroupName}}, "m.csv",
			memberFile("device_id", testDevice(4).DeviceID)))
		u, err := e.st.UserByEmail(e.ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.RemoveGroupOwner(e.ctx, regID, u.ID, "test"); err != nil {
			t.Fatal(err)
		}
		before := lastAuditID(t, e)
		res := ownerClient.post(t, "/imports/members/commit", url.Values{"token": {tok}}, "HX-Request", "true").wantStatus(http.StatusForbidden)
		wantRefusal(t, e, res, owner, before)
		for _, id := range e.members(t, store.RegistrationGroupName) {
			if id == testDevice(4).DeviceID {
				t.Fatal("the refused commit added the device")
			}
		}
	})
}

func TestImportUploadLimits(t *testing.T) {
	t.Parallel()
	e := importEnv(t)
	admin := e.as(t, store.RoleGlobalAdmin)

	t.Run("a body over 32 MB is refused with 413", func(t *testing.T) {
		big := bytes.Repeat([]byte(testDevice(2).DeviceID+"\n"), (33<<20)/37)
		for _, path := range []string{"/imports/members/preview", "/imports/devices/preview"} {
			res := admin.upload(t, path, url.Values{"group": {"Pilot"}}, "big.csv", append([]byte("device_id\n"), big...))
			if res.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(res.body), "larger than 32 MB") {
				t.Errorf("%s, want 413 saying the limit\n%s", res, truncate(res.body))
			}
		}
	})

	t.Run("a body that does not say its length is cut off at 32 MB", func(t *testing.T) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		fw, _ := w.CreateFormFile("file", "big.csv")
		fw.Write([]byte("device_id\n"))
		fw.Write(bytes.Repeat([]byte(testDevice(2).DeviceID+"\n"), (33<<20)/37))
		w.Close()
		// A reader of unknown length makes the client send it chunked.
		body := io.MultiReader(&b)
		res := admin.do(t, http.MethodPost, "/imports/devices/preview", body, "Content-Type", w.FormDataContentType(),
			"X-CSRF-Token", admin.csrf(t), "HX-Request", "true")
		if res.status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s, want 413\n%s", res, truncate(res.body))
		}
	})

	t.Run("a file over 100,000 rows is refused", func(t *testing.T) {
		many := bytes.Repeat([]byte(testDevice(2).DeviceID+"\n"), 100_001)
		res := admin.upload(t, "/imports/members/preview", url.Values{"group": {"Pilot"}}, "many.csv", append([]byte("device_id\n"), many...)).
			wantStatus(http.StatusUnprocessableEntity)
		if got := res.text("import-note"); !strings.Contains(got, "more than 100,000 rows") {
			t.Errorf("note %q", got)
		}
	})

	t.Run("100,000 rows are accepted", func(t *testing.T) {
		// Every row names device 2: the file is fine, the duplicates are counted.
		many := bytes.Repeat([]byte(testDevice(2).DeviceID+"\n"), 100_000)
		admin := admin.fork()
		admin.hc.Timeout = 5 * time.Minute // a second here, but minutes under -race
		res := admin.upload(t, "/imports/members/preview", url.Values{"group": {"Pilot"}}, "many.csv", append([]byte("device_id\n"), many...)).
			wantStatus(http.StatusOK)
		if got := res.text("preview-summary"); !strings.Contains(got, "100,000 rows checked") || !strings.Contains(got, "99,999 duplicate rows") {
			t.Errorf("summary %q", got)
		}
		admin.post(t, "/imports/cancel", url.Values{"token": {token(t, res)}, "kind": {"members"}}, "HX-Request", "true").wantStatus(http.StatusOK)
	})

	t.Run("no file", func(t *testing.T) {
		res := admin.postHX(t, "/imports/devices/preview", url.Values{}).wantStatus(http.StatusUnprocessableEntity)
		if got := res.text("import-note"); !strings.Contains(got, "Choose a CSV file") {
			t.Errorf("note %q", got)
		}
		res = admin.upload(t, "/imports/devices/preview", nil, "empty.csv", nil).wantStatus(http.StatusUnprocessableEntity)
		if got := res.text("import-note"); !strings.Contains(got, "The file is empty") {
			t.Errorf("note %q", got)
		}
		res = admin.upload(t, "/imports/devices/preview", nil, "header.csv", []byte("device_id,display_name\n")).wantStatus(http.StatusUnprocessableEntity)
		if got := res.text("import-note"); !strings.Contains(got, "no rows") {
			t.Errorf("note %q", got)
		}
	})

	t.Run("no group", func(t *testing.T) {
		res := admin.upload(t, "/imports/members/preview", nil, "m.csv", memberFile("device_id", testDevice(2).DeviceID))
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), "Choose the group") {
			t.Errorf("%s\n%s", res, truncate(res.body))
		}
		res = admin.upload(t, "/imports/members/preview", url.Values{"group": {"Nope"}}, "m.csv", memberFile("device_id", testDevice(2).DeviceID))
		res.wantStatus(http.StatusNotFound)
	})
}

func TestImportPreviewLifecycle(t *testing.T) {
	t.Parallel()
	e := importEnv(t)
	admin := e.as(t, store.RoleGlobalAdmin)
	file := memberFile("device_id", testDevice(2).DeviceID)
	preview := func() string {
		return token(t, admin.upload(t, "/imports/members/preview", url.Values{"group": {"Pilot"}}, "m.csv", file).wantStatus(http.StatusOK))
	}

	t.Run("cancel", func(t *testing.T) {
		tok := preview()
		res := admin.post(t, "/imports/cancel", url.Values{"token": {tok}, "kind": {"members"}}, "HX-Request", "true").wantStatus(http.StatusOK)
		if res.testid("member-import").AttrOr("data-stage", "x") != "" {
			t.Errorf("after Cancel the area is %s", truncate(res.body))
		}
		admin.post(t, "/imports/members/commit", url.Values{"token": {tok}}, "HX-Request", "true").wantStatus(http.StatusUnprocessableEntity)
	})

	t.Run("a new preview replaces the last", func(t *testing.T) {
		first, second := preview(), preview()
		admin.post(t, "/imports/members/commit", url.Values{"token": {first}}, "HX-Request", "true").wantStatus(http.StatusUnprocessableEntity)
		admin.post(t, "/imports/cancel", url.Values{"token": {second}, "kind": {"members"}}, "HX-Request", "true").wantStatus(http.StatusOK)
	})

	t.Run("expiry", func(t *testing.T) {
		tok := preview()
		e.clock.Advance(31 * time.Minute)
		res := admin.post(t, "/imports/members/commit", url.Values{"token": {tok}}, "HX-Request", "true").wantStatus(http.StatusUnprocessableEntity)
		if !strings.Contains(res.text("import-note"), "expired") {
			t.Errorf("note %q", res.text("import-note"))
		}
	})

	t.Run("the directory changed since the preview", func(t *testing.T) {
		tok := token(t, admin.upload(t, "/imports/members/preview", url.Values{"group": {"Pilot"}}, "m.csv",
			memberFile("serial_number", testDevice(3).SerialNumber)).wantStatus(http.StatusOK))
		// Another device now holds the serial number too: the row is ambiguous.
		if _, err := e.st.UpsertDevices(e.ctx, []*store.Device{testDevice(9, func(d *store.Device) { d.SerialNumber = testDevice(3).SerialNumber })}, "test", "test"); err != nil {
			t.Fatal(err)
		}
		res := admin.post(t, "/imports/members/commit", url.Values{"token": {tok}}, "HX-Request", "true").wantStatus(http.StatusUnprocessableEntity)
		if !strings.Contains(res.text("import-note"), "changed since the preview") || res.testid("rejected-row").Length() != 1 {
			t.Errorf("answer %s", truncate(res.body))
		}
	})

	t.Run("a browser streams the upload", func(t *testing.T) {
		// With Sec-Fetch-Site the CSRF check does not parse the form, and
		// the handler reads the file part by part.
		res := admin.upload(t, "/imports/members/preview", url.Values{"group": {"Pilot"}}, "m.csv", file, "Sec-Fetch-Site", "same-origin").
			wantStatus(http.StatusOK)
		admin.post(t, "/imports/members/commit", url.Values{"token": {token(t, res)}}, "HX-Request", "true", "Sec-Fetch-Site", "same-origin").
			wantStatus(http.StatusOK)
		sameSet(t, "Pilot members", e.members(t, "Pilot"), []string{testDevice(1).DeviceID, testDevice(2).DeviceID})
	})

	t.Run("without JavaScript the page comes back whole", func(t *testing.T) {
		res := admin.upload(t, "/imports/devices/preview", nil, "d.csv", []byte("device_id,display_name\n"+testDevice(7).DeviceID+",PC-7\n"),
			"HX-Request", "")
		res.wantStatus(http.StatusOK)
		if res.isFragment() || res.testid("device-commit").Length() != 1 || res.testid("member-form").Length() != 1 {
			t.Fatalf("want the whole page with the preview\n%s", truncate(res.body))
		}
		form := url.Values{"_csrf": {admin.csrf(t)}, "token": {token(t, res)}}
		res = admin.postRaw(t, "/imports/devices/commit", form).wantStatus(http.StatusOK)
		if !strings.Contains(res.text("import-result"), "1 new device") {
			t.Errorf("result %q", res.text("import-result"))
		}
	})
}
