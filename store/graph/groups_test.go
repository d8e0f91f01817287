package graph_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/graph/graphtest"
)

// The registration group's tree is read by groups delta: an unchanged
// tenant costs one request a round, members added and removed (directly
// and in a nested group) and a renamed group arrive as changes, and the
// members listing is never read.
func TestGroupsDelta(t *testing.T) {
	tn := newTenant(t)
	tn.srv.PageCap = 4 // the first round's members over several pages
	for n := 1; n <= 12; n++ {
		tn.addPC(n)
	}
	kiosks := tn.srv.NewID()
	tn.setMembers(tn.reg, "Autopatch Device Registration", objectID(1), objectID(2), objectID(3), objectID(4), objectID(5), kiosks)
	tn.setMembers(kiosks, "Kiosks", objectID(6), objectID(7))
	tn.sync()
	if reg := tn.group(store.RegistrationGroupName); reg.Devices != 5 || reg.Groups != 1 {
		t.Fatalf("registration group after the first sync = %+v, want 5 devices and 1 group", reg)
	}

	before := tn.srv.Requests("groupdelta")
	run := tn.sync()
	if got := tn.srv.Requests("groupdelta") - before; got != 2 {
		t.Errorf("an unchanged tenant's sync made %d groups delta requests, want 2 (one round for the registration group, one for the nested)", got)
	}
	if run.Added+run.Updated+run.Removed != 0 {
		t.Errorf("unchanged sync = %s", run.Summary())
	}

	tn.setMembers(tn.reg, "Autopatch Device Registration", objectID(2), objectID(3), objectID(4), objectID(5), objectID(8), kiosks)
	tn.setMembers(kiosks, "Kiosks - Front desk", objectID(7), objectID(9))
	before = tn.srv.Requests("groupdelta")
	tn.sync()
	if got := tn.srv.Requests("groupdelta") - before; got != 2 {
		t.Errorf("a sync of a few membership changes made %d groups delta requests, want 2", got)
	}
	if got := tn.srv.Requests("members"); got != 0 {
		t.Errorf("the members listing was read %d times, want none (groups delta carries the members)", got)
	}
	reg := tn.group(store.RegistrationGroupName)
	nested := tn.group("Kiosks - Front desk")
	if reg.Devices != 5 || nested.Devices != 2 || nested.Depth != 1 {
		t.Errorf("after the changes: registration %+v, nested %+v; want 5 devices and a renamed nested group of 2", reg, nested)
	}
	disc := tn.discover()
	if disc.Candidates != 7 {
		t.Errorf("discovery = %s, want 7 candidates (2-5, 8 and the nested 7, 9)", disc.Summary())
	}
	if rec := tn.mustDevice(1); rec.Status == store.StatusActive {
		t.Error("device 1 left the registration group but was registered")
	}
	if rec := tn.mustDevice(9); rec.Status != store.StatusActive {
		t.Errorf("device 9, added to the nested group, has status %q, want active", rec.Status)
	}
}

// Nesting a new group changes the groups a round follows: the tree is read
// in full, the new group with its members and the group nested in it (two
// levels: listed, not followed). Deleting the nested group removes it.
func TestGroupsDeltaNestingChanges(t *testing.T) {
	tn := newTenant(t)
	for n := 1; n <= 6; n++ {
		tn.addPC(n)
	}
	tn.setMembers(tn.reg, "Reg", objectID(1))
	tn.sync()

	labs, deeper := tn.srv.NewID(), tn.srv.NewID()
	tn.setMembers(labs, "Labs", objectID(2), objectID(3), deeper)
	tn.setMembers(deeper, "Labs - Night", objectID(4))
	tn.setMembers(tn.reg, "Reg", objectID(1), labs)
	tn.sync()
	if g := tn.group("Labs"); g.Depth != 1 || g.Devices != 2 {
		t.Errorf("newly nested group = %+v, want depth 1 with 2 devices", g)
	}
	if g := tn.group("Labs - Night"); g.Depth != 2 || g.Devices != 0 {
		t.Errorf("group two levels down = %+v, want depth 2 with its members not read", g)
	}
	before := tn.srv.Requests("groupdelta")
	tn.sync()
	if got := tn.srv.Requests("groupdelta") - before; got != 2 {
		t.Errorf("unchanged sync after nesting made %d groups delta requests, want 2", got)
	}

	tn.srv.DeleteGroup(labs)
	tn.sync()
	if _, err := tn.st.Group(context.Background(), "Labs"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a group deleted in Entra ID is still mirrored (err %v)", err)
	}
	if _, err := tn.st.Group(context.Background(), "Labs - Night"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the group nested in a deleted group is still mirrored (err %v)", err)
	}
	if reg := tn.group(store.RegistrationGroupName); reg.Devices != 1 || reg.Groups != 0 {
		t.Errorf("registration group = %+v, want 1 device and no groups", reg)
	}
}

// A lost groups delta token falls back to a full read of the tree; a
// deleted registration group fails the sync with a message naming the
// setting, and the last good data stays.
func TestGroupsDeltaLostTokenAndDeletedGroup(t *testing.T) {
	tn := newTenant(t)
	tn.addPC(1)
	tn.addPC(2)
	tn.setMembers(tn.reg, "Reg", objectID(1))
	tn.sync()
	tn.srv.ExpireDeltaTokens()
	tn.setMembers(tn.reg, "Reg", objectID(1), objectID(2))
	tn.sync()
	if reg := tn.group(store.RegistrationGroupName); reg.Devices != 2 {
		t.Errorf("after a lost token the registration group has %d devices, want 2", reg.Devices)
	}

	tn.srv.DeleteGroup(tn.reg)
	_, err := tn.st.SyncDirectory(context.Background(), store.TriggerCLI, "test")
	if err == nil || !strings.Contains(err.Error(), "PATCHBOARD_GRAPH_REGISTRATION_GROUP") {
		t.Fatalf("sync with the registration group deleted: err = %v, want one naming the setting", err)
	}
	if reg := tn.group(store.RegistrationGroupName); reg.Devices != 2 {
		t.Errorf("a failed sync changed the registration group: %d devices, want the last good 2", reg.Devices)
	}
}

// The registration group's owners come from Entra ID: an account that
// signed in with Entra ID as an owner (its subject is the owner's object
// ID), or whose e-mail is an owner's user principal name, owns the group;
// other Service Administrators do not. Owners are not edited in Patchboard.
func TestRegistrationGroupOwnersFromEntra(t *testing.T) {
	tn := newTenant(t)
	ctx := context.Background()
	tn.addPC(1)
	tn.setMembers(tn.reg, "Reg", objectID(1))
	const adaOID, bobOID = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
	tn.srv.SetOwners(tn.reg,
		graphtest.Owner{ID: adaOID, DisplayName: "Ada", UserPrincipalName: "ada@contoso.com"},
		graphtest.Owner{ID: bobOID, DisplayName: "Bob", UserPrincipalName: "bob@contoso.com"},
		graphtest.Owner{ID: "cccccccc-0000-4000-8000-000000000003", DisplayName: "Provisioning app"})
	m, err := store.ParseRoleMap("admins=" + string(store.RoleServiceAdmin))
	if err != nil {
		t.Fatal(err)
	}
	sso := func(oid, email string) store.User {
		u, _, err := tn.st.SignInSSO(ctx, store.Identity{Issuer: "https://login.microsoftonline.com/" + graphtest.TenantID + "/v2.0",
			Subject: oid, Email: email, Roles: []string{"admins"}}, m, "192.0.2.1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	// Ada signs in with a different e-mail than her UPN: her object ID
	// matches. Bob has a local account named by his UPN. Eve owns nothing.
	ada := sso(adaOID, "ada.lovelace@contoso.com")
	bob, err := tn.st.AddUser(ctx, "BOB@contoso.com", store.RoleServiceAdmin, "correct horse battery staple 1", "test")
	if err != nil {
		t.Fatal(err)
	}
	eve := sso("eeeeeeee-0000-4000-8000-000000000005", "eve@contoso.com")
	// Eve was made an owner in Patchboard while the directory was local:
	// once synced, the owners are Entra's alone.
	regID, err := tn.st.RegistrationGroupID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.st.AddGroupOwner(ctx, regID, eve.ID, "test"); err != nil {
		t.Fatal(err)
	}
	tn.sync()

	reg := tn.group(store.RegistrationGroupName)
	owners, err := tn.st.DirectoryOwners(ctx, reg.ID)
	if err != nil || len(owners) != 3 {
		t.Fatalf("directory owners = %+v, %v; want 3", owners, err)
	}
	for _, tt := range []struct {
		user store.User
		want bool
	}{{ada, true}, {bob, true}, {eve, false}} {
		got, err := tn.st.IsGroupOwner(ctx, reg.ID, tt.user.ID)
		if err != nil || got != tt.want {
			t.Errorf("%s owns the registration group = %v, %v; want %v", tt.user.Email, got, err, tt.want)
		}
	}
	if owners[2].Account != nil {
		t.Errorf("the service principal owner matched account %s", owners[2].Account.Email)
	}
	if _, err := tn.st.AddGroupOwner(ctx, reg.ID, eve.ID, "test"); !errors.Is(err, store.ErrInvalid) ||
		!strings.Contains(err.Error(), "Entra admin center") {
		t.Errorf("adding an owner to the synced group: %v, want refused naming the Entra admin center", err)
	}

	// Bob stops owning it in Entra ID: the next sync takes it away.
	tn.srv.SetOwners(tn.reg, graphtest.Owner{ID: adaOID, DisplayName: "Ada", UserPrincipalName: "ada@contoso.com"})
	tn.sync()
	if got, _ := tn.st.IsGroupOwner(ctx, reg.ID, bob.ID); got {
		t.Error("an owner removed in Entra ID still owns the registration group")
	}
}
