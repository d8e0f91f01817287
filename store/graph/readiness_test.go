package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/graph/graphtest"
)

func checkOf(t *testing.T, a store.Assessment, key string) store.ReadinessCheck {
	t.Helper()
	for _, c := range a.Checks {
		if c.Key == key {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", key, a.Checks)
	return store.ReadinessCheck{}
}

// In Entra mode the assessment tests every Graph permission with a real
// request against the connector, and that the ring groups and policies
// exist.
func TestReadinessTestsGraphPermissions(t *testing.T) {
	tn := newTenant(t)
	tn.st.SetUpdatePolicyWriter(tn.conn)
	ctx := context.Background()
	run := func() store.Assessment {
		t.Helper()
		a, err := tn.st.RunReadiness(ctx, store.SignInSetup{}, store.TriggerButton, "admin@example.com", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := run()
	for _, p := range []string{"Device.Read.All", "DeviceManagementManagedDevices.Read.All", "CloudPC.Read.All", "GroupMember.Read.All",
		"DeviceManagementConfiguration.ReadWrite.All"} {
		if c := checkOf(t, a, "graph-permission:"+p); c.Result != store.ReadinessReady {
			t.Errorf("%s: %s (%s)", p, c.Result, c.Detail)
		}
	}
	if c := checkOf(t, a, "ring-objects"); c.Result != store.ReadinessNotReady || !strings.Contains(c.Detail, "Patchboard Ring - Test") {
		t.Errorf("ring objects before a write-back: %+v", c)
	}
	if _, err := tn.st.WriteBackRings(ctx, store.TriggerCLI, "test"); err != nil {
		t.Fatal(err)
	}
	a = run()
	if c := checkOf(t, a, "ring-objects"); c.Result != store.ReadinessReady {
		t.Errorf("ring objects after a write-back: %+v", c)
	}
	if c := checkOf(t, a, "ring-policies-exclusive"); c.Result != store.ReadinessReady {
		t.Errorf("only Patchboard's policies target the ring groups: %+v", c)
	}

	// An administrator's own update ring policy assigned to the Fast ring
	// group (and one assigned elsewhere, which is no concern): Not ready,
	// naming it and the group.
	fast, _ := tn.srv.GroupByName("Patchboard Ring - Fast")
	other := "5b6f1c7e-0000-4000-8000-00000000f001"
	tn.srv.PutGroup(graphtest.Group{ID: other, DisplayName: "Pilot users"})
	tn.srv.AddPolicy("deviceConfigurations", map[string]any{"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration",
		"displayName": "Legacy WUfB ring"}, other, fast.ID)
	tn.srv.AddPolicy("deviceConfigurations", map[string]any{"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration",
		"displayName": "Pilot ring"}, other)
	c := checkOf(t, run(), "ring-policies-exclusive")
	if c.Result != store.ReadinessNotReady || !strings.Contains(c.Detail, `"Legacy WUfB ring" targets Patchboard Ring - Fast`) ||
		strings.Contains(c.Detail, "Pilot ring") || c.Remediation == "" {
		t.Errorf("a foreign policy on the Fast ring group: %+v", c)
	}

	// Intune's managed devices refused: that permission is Not ready, named.
	tn.srv.Inject(graphtest.Fault{Path: "/beta/deviceManagement/managedDevices", Status: 403, Count: 1})
	a = run()
	c = checkOf(t, a, "graph-permission:DeviceManagementManagedDevices.Read.All")
	if c.Result != store.ReadinessNotReady || !strings.Contains(c.Remediation, "DeviceManagementManagedDevices.Read.All") || !strings.Contains(c.Detail, "Not granted") {
		t.Errorf("refused permission: %+v", c)
	}
	if a.Overall != store.ReadinessNotReady {
		t.Errorf("overall %s, want not ready", a.Overall)
	}
	if c := checkOf(t, a, "graph-permission:Device.Read.All"); c.Result != store.ReadinessReady {
		t.Errorf("Device.Read.All: %+v", c)
	}
}
