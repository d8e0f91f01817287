package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"patchboard/store"
)

// A Service Administrator who does not own the Device Registration group
// must not reach it through the groups nested in it: adding devices to one,
// rewriting a nested dynamic group's rule, renaming, deleting, nesting into
// it or importing members into it are all refused (403, audited) and change
// nothing; an owner may do each of them (SPEC §7).
func TestRegistrationGroupOwnershipCoversNestedGroups(t *testing.T) {
	t.Parallel()
	e := importEnv(t)
	nested := e.createGroup(t, "Nested", "")
	dynamic := e.createGroup(t, "Nested rule", `device.displayName -startsWith "NOTHING"`)
	free := e.createGroup(t, "Free", "")
	spare := e.createGroup(t, "Spare", "")
	for _, g := range []store.Group{nested, dynamic} {
		if err := e.st.NestGroup(e.ctx, store.RegistrationGroupName, g.Name, "test"); err != nil {
			t.Fatal(err)
		}
	}
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
	admin := e.as(t, store.RoleServiceAdmin)
	dev := testDevice(2).DeviceID
	everything := `device.deviceId -ne "none"`

	steps := []struct {
		name string
		path string
		form url.Values
	}{
		{"add devices to a nested group", groupPath(nested, "add-devices"), url.Values{"device_id": {dev}}},
		{"nest a group into a nested group", groupPath(nested, "nest"), url.Values{"group_id": {strconv.FormatInt(spare.ID, 10)}}},
		{"rewrite a nested dynamic group's rule", groupPath(dynamic, "rule"), url.Values{"rule": {everything}}},
		{"rename a nested group", groupPath(nested, "rename"), url.Values{"name": {"Renamed"}}},
		{"delete a nested group", groupPath(dynamic, "delete"), nil},
	}
	for _, st := range steps {
		before := lastAuditID(t, e)
		res := admin.postHX(t, st.path, st.form).wantStatus(http.StatusForbidden)
		if !strings.Contains(string(res.body), "owners of the Device Registration group") {
			t.Errorf("%s: the refusal does not say why\n%s", st.name, truncate(res.body))
		}
		wantRefusal(t, e, res, emailOf(store.RoleServiceAdmin), before)
	}
	res := admin.upload(t, "/imports/members/preview", url.Values{"group": {nested.Name}}, "m.csv", memberFile("device_id", dev))
	res.wantStatus(http.StatusForbidden)

	// Nothing changed.
	if got := e.members(t, nested.Name); len(got) != 0 {
		t.Errorf("refused requests added members %v", got)
	}
	if g := e.group(t, dynamic.Name); g.Rule == everything {
		t.Error("a refused request rewrote the nested rule")
	}
	e.group(t, nested.Name)
	e.group(t, dynamic.Name)

	// A group outside the registration group stays open to every administrator.
	admin.postHX(t, groupPath(free, "add-devices"), url.Values{"device_id": {dev}}).wantStatus(http.StatusOK)
	// The owner may do all of it.
	ownerClient.postHX(t, groupPath(nested, "add-devices"), url.Values{"device_id": {dev}}).wantStatus(http.StatusOK)
	ownerClient.postHX(t, groupPath(dynamic, "rule"), url.Values{"rule": {everything}}).wantStatus(http.StatusOK)
	ownerClient.postHX(t, groupPath(dynamic, "delete"), nil).wantStatus(http.StatusOK)
	if got := e.members(t, nested.Name); len(got) != 1 || got[0] != dev {
		t.Errorf("members after the owner's add %v", got)
	}
}
