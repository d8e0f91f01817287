package store

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkNow is the fixed clock of these tests.
var checkNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// goodDevice passes every prerequisite and readiness check; each case
// changes one thing so the failure it expects is the only one.
func goodDevice() *Device {
	return &Device{
		PK:                          1,
		DeviceID:                    "11111111-1111-1111-1111-111111111111",
		DisplayName:                 "PC-0001",
		SerialNumber:                "SN-0001",
		Manufacturer:                "Contoso",
		Model:                       "Laptop 7",
		OS:                          "Windows",
		OSVersion:                   "10.0.22631.4037",
		Edition:                     "Enterprise",
		Architecture:                "x64",
		JoinType:                    JoinEntraJoined,
		Ownership:                   OwnershipCompany,
		Management:                  ManagementIntune,
		WorkloadWindowsUpdate:       WorkloadIntune,
		WorkloadDeviceConfiguration: WorkloadIntune,
		WorkloadOfficeC2R:           WorkloadIntune,
		LastCheckin:                 checkNow.Add(-2 * time.Hour),
		DeviceKind:                  KindPhysical,
		AccountEnabled:              true,
		WUPolicySource:              "intune",
		OfficePolicySource:          "cdn",
		InternetConnected:           SignalTrue,
	}
}

func TestCheckIDText(t *testing.T) {
	tests := []struct {
		give     CheckID
		wantName string
	}{
		{CheckIntuneOrCloudAttached, "Intune or Cloud-Attached"},
		{CheckHardwareIdentity, "Serial number, model and manufacturer"},
		{CheckLastCheckin, "Last communication with Intune"},
		{CheckWindowsOS, "Windows OS (build, architecture and edition)"},
		{CheckPersonalOrNonWindows, "Personal or non-Windows devices"},
		{CheckCoManagementWorkloads, "ConfigMgr co-management workloads"},
		{CheckVirtualDesktop, "Azure Virtual Desktop session type"},
		{CheckWindowsUpdatePolicy, "Windows update policies managed via Intune"},
		{CheckOfficeUpdatePolicy, "Office update policy managed via Group Policy"},
		{CheckNetworkEndpoints, "Network endpoints"},
		{CheckInternetConnectivity, "Internet connectivity"},
		{CheckInactive, "Last communication with Intune"},
	}
	for _, tt := range tests {
		t.Run(string(tt.give), func(t *testing.T) {
			if got := tt.give.Name(); got != tt.wantName {
				t.Errorf("Name() = %q, want %q", got, tt.wantName)
			}
			if tt.give.Description() == "" {
				t.Error("Description() is empty")
			}
			if got := tt.give.Actor(); got != "Customer" {
				t.Errorf("Actor() = %q, want Customer", got)
			}
		})
	}
	t.Run("intune description", func(t *testing.T) {
		want := "Device must be either Intune-managed or Co-managed"
		if got := CheckIntuneOrCloudAttached.Description(); got != want {
			t.Errorf("Description() = %q, want %q", got, want)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		c := CheckID("bogus")
		if c.Name() != "" || c.Description() != "" || c.Actor() != "" {
			t.Errorf("unknown check has text: %q %q %q", c.Name(), c.Description(), c.Actor())
		}
	})
}

func TestCheckLists(t *testing.T) {
	wantPrereq := []CheckID{"intune-or-cloud-attached", "hardware-identity", "last-checkin", "windows-os", "personal-or-non-windows", "co-management-workloads", "virtual-desktop"}
	if !slices.Equal(PrerequisiteChecks, wantPrereq) {
		t.Errorf("PrerequisiteChecks = %v, want %v", PrerequisiteChecks, wantPrereq)
	}
	wantReady := []CheckID{"windows-os", "windows-update-policy", "office-update-policy", "network-endpoints", "internet-connectivity", "inactive"}
	if !slices.Equal(ReadinessChecks, wantReady) {
		t.Errorf("ReadinessChecks = %v, want %v", ReadinessChecks, wantReady)
	}
}

func TestParseCheckID(t *testing.T) {
	tests := []struct {
		give    string
		want    CheckID
		wantErr bool
	}{
		{give: "hardware-identity", want: CheckHardwareIdentity},
		{give: "  Windows-OS ", want: CheckWindowsOS},
		{give: "inactive", want: CheckInactive},
		{give: "INTERNET-CONNECTIVITY", want: CheckInternetConnectivity},
		{give: "", wantErr: true},
		{give: "bogus", wantErr: true},
		// Names are ambiguous (two checks share this one), so only ids parse.
		{give: "Last communication with Intune", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := ParseCheckID(tt.give)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				if !strings.Contains(err.Error(), "virtual-desktop") {
					t.Errorf("error %q does not list the allowed ids", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseCheckID(%q) = %q, %v; want %q", tt.give, got, err, tt.want)
			}
		})
	}
}

// assertResults checks ids, order, and that exactly the failures wanted
// failed with reasons containing the wanted text; every other check must
// pass with no text.
func assertResults(t *testing.T, got []CheckResult, order []CheckID, wantFailed, wantFix map[CheckID][]string) {
	t.Helper()
	if len(got) != len(order) {
		t.Fatalf("got %d results, want %d", len(got), len(order))
	}
	for i, r := range got {
		if r.Check != order[i] {
			t.Errorf("result %d is %s, want %s", i, r.Check, order[i])
		}
		want, shouldFail := wantFailed[r.Check]
		if !shouldFail {
			if !r.Passed || r.Reason != "" || r.Remediation != "" {
				t.Errorf("%s: got %+v, want a clean pass", r.Check, r)
			}
			continue
		}
		if r.Passed {
			t.Errorf("%s passed, want a failure", r.Check)
			continue
		}
		if r.NotReported {
			t.Errorf("%s: a failure is marked not reported", r.Check)
		}
		if r.Reason == "" || r.Remediation == "" {
			t.Errorf("%s: reason %q / remediation %q must both be set", r.Check, r.Reason, r.Remediation)
		}
		if !strings.HasSuffix(r.Reason, ".") || strings.ToUpper(r.Reason[:1]) != r.Reason[:1] {
			t.Errorf("%s: reason %q is not a sentence", r.Check, r.Reason)
		}
		for _, s := range want {
			if !strings.Contains(r.Reason, s) {
				t.Errorf("%s: reason %q does not contain %q", r.Check, r.Reason, s)
			}
		}
		for _, s := range wantFix[r.Check] {
			if !strings.Contains(r.Remediation, s) {
				t.Errorf("%s: remediation %q does not contain %q", r.Check, r.Remediation, s)
			}
		}
	}
}

func TestPrerequisites(t *testing.T) {
	holder := &Device{PK: 9, DeviceID: "99999999-9999-9999-9999-999999999999", DisplayName: "OLD-PC", SerialNumber: "SN-0001"}
	twin := &Device{PK: 8, DeviceID: "88888888-8888-8888-8888-888888888888", DisplayName: "PC-0001-HYB", JoinType: JoinHybridJoined}
	tests := []struct {
		name       string
		give       func(d *Device)
		givePeers  Peers
		giveNow    time.Time // zero means checkNow
		wantFailed map[CheckID][]string
		wantFix    map[CheckID][]string
	}{
		{name: "all pass"},
		{name: "co-managed passes", give: func(d *Device) {
			d.Management = ManagementCoManaged
			d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = WorkloadPilotIntune, WorkloadIntune, WorkloadPilotIntune
		}},
		{name: "management case-insensitive", give: func(d *Device) { d.Management = "Intune" }},

		// intune-or-cloud-attached
		{name: "configmgr only", give: func(d *Device) { d.Management = ManagementConfigMgr },
			wantFailed: map[CheckID][]string{CheckIntuneOrCloudAttached: {"configmgr"}},
			wantFix:    map[CheckID][]string{CheckIntuneOrCloudAttached: {"Intune admin center", "Configuration Manager"}}},
		{name: "unmanaged", give: func(d *Device) { d.Management = ManagementNone },
			wantFailed: map[CheckID][]string{CheckIntuneOrCloudAttached: {"Management is none"}}},
		{name: "management not reported", give: func(d *Device) { d.Management = "" },
			wantFailed: map[CheckID][]string{CheckIntuneOrCloudAttached: {"not reported"}}},

		// hardware-identity
		{name: "serial missing", give: func(d *Device) { d.SerialNumber = "" },
			wantFailed: map[CheckID][]string{CheckHardwareIdentity: {"Serial number is missing"}},
			wantFix:    map[CheckID][]string{CheckHardwareIdentity: {"Intune admin center"}}},
		{name: "model blank", give: func(d *Device) { d.Model = "   " },
			wantFailed: map[CheckID][]string{CheckHardwareIdentity: {"Model is missing"}}},
		{name: "manufacturer missing", give: func(d *Device) { d.Manufacturer = "" },
			wantFailed: map[CheckID][]string{CheckHardwareIdentity: {"Manufacturer is missing"}}},
		{name: "all three missing", give: func(d *Device) { d.SerialNumber, d.Model, d.Manufacturer = "", "", " " },
			wantFailed: map[CheckID][]string{CheckHardwareIdentity: {"Serial number, model and manufacturer are missing"}}},
		{name: "duplicate candidate", givePeers: Peers{SerialHolder: holder},
			wantFailed: map[CheckID][]string{CheckHardwareIdentity: {`"SN-0001"`, "another candidate", `"OLD-PC"`, holder.DeviceID}},
			wantFix:    map[CheckID][]string{CheckHardwareIdentity: {"Remove the duplicate record", "OLD-PC", holder.DeviceID, "Device Registration group", "serial number in Intune"}}},
		{name: "registered holder is a hardware repair", givePeers: Peers{SerialHolder: holder, SerialHolderRegistered: true},
			wantFailed: map[CheckID][]string{CheckHardwareIdentity: {"registered device", `"OLD-PC"`, holder.DeviceID}},
			wantFix:    map[CheckID][]string{CheckHardwareIdentity: {"hardware repair", "deregister the old record", "OLD-PC", holder.DeviceID}}},
		{name: "holder and missing model both named", give: func(d *Device) { d.Model = "" }, givePeers: Peers{SerialHolder: holder},
			wantFailed: map[CheckID][]string{CheckHardwareIdentity: {"Model is missing", "OLD-PC"}}},

		// last-checkin
		{name: "checked in exactly 28 days ago", give: func(d *Device) { d.LastCheckin = checkNow.Add(-InactiveAfter) }},
		{name: "checked in 28 days and 1s ago", give: func(d *Device) { d.LastCheckin = checkNow.Add(-InactiveAfter - time.Second) },
			wantFailed: map[CheckID][]string{CheckLastCheckin: {"2025-05-04", "28 days ago"}}},
		{name: "checked in 40 days ago", give: func(d *Device) { d.LastCheckin = checkNow.AddDate(0, 0, -40) },
			wantFailed: map[CheckID][]string{CheckLastCheckin: {"2025-04-22", "40 days ago"}},
			wantFix:    map[CheckID][]string{CheckLastCheckin: {"Sync"}}},
		{name: "never checked in", give: func(d *Device) { d.LastCheckin = time.Time{} },
			wantFailed: map[CheckID][]string{CheckLastCheckin: {"never checked in"}}},
		{name: "check-in ahead of our clock", give: func(d *Device) { d.LastCheckin = checkNow.Add(time.Hour) }},

		// windows-os
		{name: "build 17763 passes", give: func(d *Device) { d.OSVersion = "10.0.17763.1" }},
		{name: "build 17762 fails", give: func(d *Device) { d.OSVersion = "10.0.17762.1" },
			wantFailed: map[CheckID][]string{CheckWindowsOS: {"OS build 17762 is below 17763"}},
			wantFix:    map[CheckID][]string{CheckWindowsOS: {"feature update"}}},
		{name: "build 16299", give: func(d *Device) { d.OSVersion = "10.0.16299" },
			wantFailed: map[CheckID][]string{CheckWindowsOS: {"OS build 16299 is below 17763 (Windows 10 1809)"}}},
		{name: "unreadable version", give: func(d *Device) { d.OSVersion = "10.0" },
			wantFailed: map[CheckID][]string{CheckWindowsOS: {"10.0", "no readable build"}}},
		{name: "arm64", give: func(d *Device) { d.Architecture = ArchARM64 },
			wantFailed: map[CheckID][]string{CheckWindowsOS: {"Architecture arm64 is not supported", "x64 is required"}}},
		{name: "x86", give: func(d *Device) { d.Architecture = ArchX86 },
			wantFailed: map[CheckID][]string{CheckWindowsOS: {"Architecture x86"}}},
		{name: "architecture not reported", give: func(d *Device) { d.Architecture = "" },
			wantFailed: map[CheckID][]string{CheckWindowsOS: {"Architecture is not reported"}}},
		{name: "edition Home", give: func(d *Device) { d.Edition = "Home" },
			wantFailed: map[CheckID][]string{CheckWindowsOS: {`Edition "Home" is not supported`}},
			wantFix:    map[CheckID][]string{CheckWindowsOS: {"edition upgrade"}}},
		{name: "edition empty", give: func(d *Device) { d.Edition = "" },
			wantFailed: map[CheckID][]string{CheckWindowsOS: {"Edition is not reported"}}},
		{name: "edition lower case", give: func(d *Device) { d.Edition = "enterprise" }},
		{name: "edition Professional", give: func(d *Device) { d.Edition = "Professional" }},
		{name: "edition Pro for Workstations upper case", give: func(d *Device) { d.Edition = "PRO FOR WORKSTATIONS" }},
		{name: "edition Education", give: func(d *Device) { d.Edition = "Education" }},
		{name: "edition Enterprise LTSC", give: func(d *Device) { d.Edition = " enterprise ltsc " }},
		{name: "os lower case windows", give: func(d *Device) { d.OS = "windows" }},
		{name: "every windows-os problem named", give: func(d *Device) { d.OSVersion, d.Architecture, d.Edition = "10.0.10240", ArchARM64, "Home" },
			wantFailed: map[CheckID][]string{CheckWindowsOS: {"10240", "arm64", `"Home"`}}},
		{name: "macOS fails windows-os and personal-or-non-windows", give: func(d *Device) { d.OS, d.OSVersion = "macOS", "14.5" },
			wantFailed: map[CheckID][]string{
				CheckWindowsOS:            {"OS is macOS; only Windows devices can be registered"},
				CheckPersonalOrNonWindows: {"macOS"},
			}},

		// personal-or-non-windows
		{name: "personal", give: func(d *Device) { d.Ownership = OwnershipPersonal },
			wantFailed: map[CheckID][]string{CheckPersonalOrNonWindows: {"Ownership is personal"}},
			wantFix:    map[CheckID][]string{CheckPersonalOrNonWindows: {"Intune admin center", "Corporate"}}},
		{name: "ownership unknown passes", give: func(d *Device) { d.Ownership = OwnershipUnknown }},
		{name: "hybrid joined passes", give: func(d *Device) { d.JoinType = JoinHybridJoined }},
		{name: "entra registered", give: func(d *Device) { d.JoinType = JoinEntraRegistered },
			wantFailed: map[CheckID][]string{CheckPersonalOrNonWindows: {"Join type entra-registered"}},
			wantFix:    map[CheckID][]string{CheckPersonalOrNonWindows: {"Entra admin center"}}},
		{name: "join type not reported", give: func(d *Device) { d.JoinType = "" },
			wantFailed: map[CheckID][]string{CheckPersonalOrNonWindows: {"Join type is not reported"}}},
		{name: "stale dual-state record", give: func(d *Device) { d.JoinType = JoinEntraRegistered }, givePeers: Peers{HybridTwin: twin},
			wantFailed: map[CheckID][]string{CheckPersonalOrNonWindows: {"stale dual-state record", `"PC-0001-HYB"`, twin.DeviceID}},
			wantFix:    map[CheckID][]string{CheckPersonalOrNonWindows: {"Remove the Entra-registered record", "register the hybrid-joined record", "PC-0001-HYB"}}},

		// co-management-workloads
		{name: "co-managed, Windows Update on configmgr", give: func(d *Device) {
			d.Management = ManagementCoManaged
			d.WorkloadWindowsUpdate = WorkloadConfigMgr
		},
			wantFailed: map[CheckID][]string{CheckCoManagementWorkloads: {"Windows Update policies (configmgr)"}},
			wantFix:    map[CheckID][]string{CheckCoManagementWorkloads: {"Configuration Manager console", "Windows Update policies", "Pilot Intune or Intune"}}},
		{name: "co-managed, device configuration on configmgr", give: func(d *Device) {
			d.Management = ManagementCoManaged
			d.WorkloadDeviceConfiguration = WorkloadConfigMgr
		},
			wantFailed: map[CheckID][]string{CheckCoManagementWorkloads: {"Device configuration (configmgr)"}}},
		{name: "co-managed, Office C2R unset", give: func(d *Device) {
			d.Management = ManagementCoManaged
			d.WorkloadOfficeC2R = ""
		},
			wantFailed: map[CheckID][]string{CheckCoManagementWorkloads: {"Office Click-to-Run apps (not set)"}}},
		{name: "co-managed, all three on configmgr", give: func(d *Device) {
			d.Management = ManagementCoManaged
			d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = WorkloadConfigMgr, WorkloadConfigMgr, WorkloadConfigMgr
		},
			wantFailed: map[CheckID][]string{CheckCoManagementWorkloads: {"Windows Update policies (configmgr), Device configuration (configmgr) and Office Click-to-Run apps (configmgr)"}}},
		{name: "intune-managed ignores workloads", give: func(d *Device) {
			d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration, d.WorkloadOfficeC2R = WorkloadConfigMgr, "", WorkloadConfigMgr
		}},

		// virtual-desktop
		{name: "avd multi-session", give: func(d *Device) { d.DeviceKind = KindAVDMultiSession },
			wantFailed: map[CheckID][]string{CheckVirtualDesktop: {"avd-multi-session", "multi-session host"}},
			wantFix:    map[CheckID][]string{CheckVirtualDesktop: {"Device Registration group"}}},
		{name: "avd pooled", give: func(d *Device) { d.DeviceKind = KindAVDPooled },
			wantFailed: map[CheckID][]string{CheckVirtualDesktop: {"avd-pooled", "pooled"}}},
		{name: "avd personal passes", give: func(d *Device) { d.DeviceKind = KindAVDPersonal }},
		{name: "cloud pc passes", give: func(d *Device) { d.DeviceKind = KindCloudPC }},
		{name: "virtual machine passes", give: func(d *Device) { d.DeviceKind = KindVirtualMachine }},
		{name: "device kind not reported passes", give: func(d *Device) { d.DeviceKind = "" }},

		// Readiness signals do not matter before registration.
		{name: "readiness signals ignored", give: func(d *Device) {
			d.WUPolicySource, d.OfficePolicySource, d.InternetConnected = "gpo", "gpo", SignalFalse
			d.UnreachableEndpoints = []string{"teams"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := goodDevice()
			if tt.give != nil {
				tt.give(d)
			}
			now := tt.giveNow
			if now.IsZero() {
				now = checkNow
			}
			got := Prerequisites(d, tt.givePeers, now)
			assertResults(t, got, PrerequisiteChecks, tt.wantFailed, tt.wantFix)
			if n := len(Failures(got)); n != len(tt.wantFailed) {
				t.Errorf("Failures() has %d results, want %d", n, len(tt.wantFailed))
			}
		})
	}
}

func TestReadiness(t *testing.T) {
	tests := []struct {
		name            string
		give            func(d *Device)
		wantFailed      map[CheckID][]string
		wantFix         map[CheckID][]string
		wantNotReported []CheckID
		wantStatus      Status
	}{
		{name: "all pass", wantStatus: StatusActive},
		{name: "prerequisite-only facts are ignored", give: func(d *Device) {
			d.Management, d.SerialNumber, d.Ownership, d.DeviceKind = ManagementNone, "", OwnershipPersonal, KindAVDPooled
		}, wantStatus: StatusActive},
		{name: "nothing reported", give: func(d *Device) {
			d.WUPolicySource, d.OfficePolicySource, d.InternetConnected = "", "", SignalUnknown
		}, wantNotReported: []CheckID{CheckWindowsUpdatePolicy, CheckOfficeUpdatePolicy, CheckInternetConnectivity}, wantStatus: StatusActive},

		{name: "windows build 17762", give: func(d *Device) { d.OSVersion = "10.0.17762.100" },
			wantFailed: map[CheckID][]string{CheckWindowsOS: {"17762"}}, wantStatus: StatusReadinessFailed},
		{name: "non-Windows", give: func(d *Device) { d.OS = "Linux" },
			wantFailed: map[CheckID][]string{CheckWindowsOS: {"OS is Linux"}}, wantStatus: StatusReadinessFailed},

		{name: "wu gpo", give: func(d *Device) { d.WUPolicySource = "gpo" },
			wantFailed: map[CheckID][]string{CheckWindowsUpdatePolicy: {"gpo", "Group Policy"}},
			wantFix:    map[CheckID][]string{CheckWindowsUpdatePolicy: {"Group Policy", "Windows Update"}},
			wantStatus: StatusReadinessFailed},
		{name: "wu GPO upper case", give: func(d *Device) { d.WUPolicySource = "GPO" },
			wantFailed: map[CheckID][]string{CheckWindowsUpdatePolicy: {"GPO"}}, wantStatus: StatusReadinessFailed},
		{name: "wu none passes", give: func(d *Device) { d.WUPolicySource = "none" }, wantStatus: StatusActive},

		{name: "office gpo", give: func(d *Device) { d.OfficePolicySource = "gpo" },
			wantFailed: map[CheckID][]string{CheckOfficeUpdatePolicy: {"gpo"}},
			wantFix:    map[CheckID][]string{CheckOfficeUpdatePolicy: {"Group Policy"}},
			wantStatus: StatusReadinessFailed},
		{name: "office intune passes", give: func(d *Device) { d.OfficePolicySource = "intune" }, wantStatus: StatusActive},
		{name: "office none passes", give: func(d *Device) { d.OfficePolicySource = "none" }, wantStatus: StatusActive},

		{name: "one endpoint unreachable", give: func(d *Device) { d.UnreachableEndpoints = []string{"autopatch"} },
			wantFailed: map[CheckID][]string{CheckNetworkEndpoints: {"autopatch endpoint"}},
			wantFix:    map[CheckID][]string{CheckNetworkEndpoints: {"autopatch", "proxy and firewall"}},
			wantStatus: StatusReadinessFailed},
		{name: "endpoints unreachable", give: func(d *Device) { d.UnreachableEndpoints = []string{"teams", "edge", "defender"} },
			wantFailed: map[CheckID][]string{CheckNetworkEndpoints: {"teams, edge and defender endpoints"}},
			wantFix:    map[CheckID][]string{CheckNetworkEndpoints: {"teams, edge and defender"}},
			wantStatus: StatusReadinessFailed},
		{name: "empty endpoint list passes", give: func(d *Device) { d.UnreachableEndpoints = []string{} }, wantStatus: StatusActive},

		{name: "offline", give: func(d *Device) { d.InternetConnected = SignalFalse },
			wantFailed: map[CheckID][]string{CheckInternetConnectivity: {"false"}}, wantStatus: StatusReadinessFailed},

		{name: "checked in exactly 28 days ago", give: func(d *Device) { d.LastCheckin = checkNow.Add(-InactiveAfter) }, wantStatus: StatusActive},
		{name: "checked in 28 days and 1s ago", give: func(d *Device) { d.LastCheckin = checkNow.Add(-InactiveAfter - time.Second) },
			wantFailed: map[CheckID][]string{CheckInactive: {"28 days ago"}}, wantStatus: StatusInactive},
		{name: "never checked in", give: func(d *Device) { d.LastCheckin = time.Time{} },
			wantFailed: map[CheckID][]string{CheckInactive: {"never checked in"}}, wantStatus: StatusInactive},
		{name: "inactive wins over readiness failed", give: func(d *Device) {
			d.LastCheckin = checkNow.AddDate(0, -3, 0)
			d.WUPolicySource, d.InternetConnected = "gpo", SignalFalse
		},
			wantFailed: map[CheckID][]string{CheckInactive: {"2025-03-01"}, CheckWindowsUpdatePolicy: {"gpo"}, CheckInternetConnectivity: {"false"}},
			wantStatus: StatusInactive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := goodDevice()
			if tt.give != nil {
				tt.give(d)
			}
			got := Readiness(d, checkNow)
			assertResults(t, got, ReadinessChecks, tt.wantFailed, tt.wantFix)
			var notReported []CheckID
			for _, r := range got {
				if r.NotReported {
					notReported = append(notReported, r.Check)
					if !r.Passed {
						t.Errorf("%s is not reported but failed", r.Check)
					}
				}
			}
			if !slices.Equal(notReported, tt.wantNotReported) {
				t.Errorf("not reported = %v, want %v", notReported, tt.wantNotReported)
			}
			if s := ReadinessStatus(got); s != tt.wantStatus {
				t.Errorf("ReadinessStatus() = %s, want %s", s, tt.wantStatus)
			}
		})
	}
}

func TestReadinessStatus(t *testing.T) {
	pass := func(id CheckID) CheckResult { return CheckResult{Check: id, Passed: true} }
	fail := func(id CheckID) CheckResult { return CheckResult{Check: id, Reason: "x.", Remediation: "y."} }
	tests := []struct {
		name string
		give []CheckResult
		want Status
	}{
		{"no results", nil, StatusActive},
		{"all pass", []CheckResult{pass(CheckWindowsOS), pass(CheckInactive)}, StatusActive},
		{"not reported passes", []CheckResult{{Check: CheckInternetConnectivity, Passed: true, NotReported: true}}, StatusActive},
		{"one readiness failure", []CheckResult{fail(CheckNetworkEndpoints), pass(CheckInactive)}, StatusReadinessFailed},
		{"inactive alone", []CheckResult{pass(CheckWindowsOS), fail(CheckInactive)}, StatusInactive},
		{"inactive last wins", []CheckResult{fail(CheckWindowsOS), fail(CheckInactive)}, StatusInactive},
		{"inactive first wins", []CheckResult{fail(CheckInactive), fail(CheckOfficeUpdatePolicy)}, StatusInactive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReadinessStatus(tt.give); got != tt.want {
				t.Errorf("ReadinessStatus() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name string
		give []CheckResult
		want []CheckID
	}{
		{"none", nil, nil},
		{"all pass", []CheckResult{{Check: CheckWindowsOS, Passed: true}}, nil},
		{"order kept", []CheckResult{
			{Check: CheckIntuneOrCloudAttached},
			{Check: CheckHardwareIdentity, Passed: true},
			{Check: CheckLastCheckin},
			{Check: CheckWindowsOS, Passed: true, NotReported: true},
			{Check: CheckVirtualDesktop},
		}, []CheckID{CheckIntuneOrCloudAttached, CheckLastCheckin, CheckVirtualDesktop}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []CheckID
			for _, r := range Failures(tt.give) {
				got = append(got, r.Check)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Failures() = %v, want %v", got, tt.want)
			}
		})
	}
}
