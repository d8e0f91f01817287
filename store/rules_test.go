package store

import (
	"context"
	"slices"
	"testing"

	"patchboard/store/rule"
)

// TestRulesOverTheDirectory evaluates rules on the Entra properties,
// device.objectId -ne null and device.memberOf over a real database: in the
// preview, in a dynamic group's members and in discovery.
func TestRulesOverTheDirectory(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	kiosk := healthy(1, func(d *Device) {
		d.DisplayName = "KIOSK-1"
		d.ObjectID = "8e1d6e4b-0f4e-4c3f-9f57-3c7a0a6a2b11"
		d.PhysicalIDs = []string{"[ZTDId]:a1", "[OrderID]:Kiosk"}
		d.SetExtensionAttribute(1, "Finance")
		d.IsRooted = SignalFalse
	})
	plain := healthy(2, func(d *Device) { d.DisplayName = "DESK-2" })
	pilotDevice := healthy(3, func(d *Device) { d.DisplayName = "PILOT-3" })
	mustUpsert(t, st, kiosk, plain, pilotDevice)
	pilot := mustCreateGroup(t, st, "Pilot", "")
	other := mustCreateGroup(t, st, "Other", "")
	mustAddMembers(t, st, "Pilot", pilotDevice)
	if _, ok := parseGUID(pilot.ObjectID); !ok || pilot.ObjectID == other.ObjectID {
		t.Fatalf("group object IDs %q and %q: want two different GUIDs", pilot.ObjectID, other.ObjectID)
	}

	memberOfPilot := `device.memberOf -any (group.objectId -in ["` + pilot.ObjectID + `"])`
	for src, want := range map[string][]string{
		`device.devicePhysicalIds -any (_ -eq "[orderid]:kiosk")`:            {"KIOSK-1"},
		`device.extensionAttribute1 -eq "finance"`:                           {"KIOSK-1"},
		`device.isRooted -eq false`:                                          {"KIOSK-1"},
		`device.objectId -eq "8E1D6E4B-0F4E-4C3F-9F57-3C7A0A6A2B11"`:         {"KIOSK-1"},
		`device.objectId -ne null`:                                           {"DESK-2", "KIOSK-1", "PILOT-3"},
		`device.devicePhysicalIds -eq null`:                                  {"DESK-2", "PILOT-3"},
		memberOfPilot:                                                        {"PILOT-3"},
		`device.memberOf -any (group.objectId -eq "` + other.ObjectID + `")`: nil,
	} {
		p, err := st.PreviewRule(ctx, src, 10)
		if err != nil {
			t.Fatalf("preview %s: %v", src, err)
		}
		var got []string
		for _, d := range p.Devices {
			got = append(got, d.DisplayName)
		}
		if !slices.Equal(got, want) || p.Matches != len(want) || p.Directory != 3 {
			t.Errorf("preview %s: %v (%d of %d), want %v", src, got, p.Matches, p.Directory, want)
		}
	}

	// A dynamic group nested in the registration group discovers the
	// devices of the group its memberOf rule names.
	mustCreateGroup(t, st, "Pilot members", memberOfPilot)
	if err := st.NestGroup(ctx, RegistrationGroupName, "Pilot members", "tester"); err != nil {
		t.Fatal(err)
	}
	counts, err := st.MemberCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := st.Group(ctx, "Pilot members")
	if err != nil {
		t.Fatal(err)
	}
	if counts[dyn.ID] != 1 {
		t.Errorf("member count of the memberOf group = %d, want 1", counts[dyn.ID])
	}
	mustDiscover(t, st, testNow)
	if rec := wantStatus(t, st, pilotDevice.DeviceID, StatusActive); rec.DiscoveredVia != "Pilot members" {
		t.Errorf("discovered via %q, want Pilot members", rec.DiscoveredVia)
	}
	for _, d := range []*Device{kiosk, plain} {
		if rec, _ := st.Device(ctx, d.DeviceID); rec.Status != "" {
			t.Errorf("%s has status %q; it is in no group", d.DisplayName, rec.Status)
		}
	}
	// Every column a rule reads has a loader.
	for _, p := range rule.Properties {
		if len(ruleColumns[p]) == 0 {
			t.Errorf("no columns for %s", p)
		}
	}
}
