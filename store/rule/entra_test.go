package rule

import (
	"strings"
	"testing"
)

// TestDocumentedExamples runs the device examples of Microsoft's "Dynamic
// membership rules for groups in Microsoft Entra ID" page, as printed
// there (spacing, casing and optional parentheses included), against a
// device that matches each and one that does not.
func TestDocumentedExamples(t *testing.T) {
	iphone := device{
		AccountEnabled: "true", DeviceCategory: "BYOD", DeviceID: "d4fe7726-5966-431c-b3b8-cddc8fdb717d",
		DeviceManagementAppID: "0000000a-0000-0000-c000-000000000000", DeviceManufacturer: "Samsung",
		DeviceModel: "iPad Air", DisplayName: "Rob iPhone", DeviceOSType: "iOS", DeviceOSVersion: "9.1",
		DeviceOwnership: "Personal", DevicePhysicalIDs: "[ZTDId]:1234;[OrderID]:179887111881;[PurchaseOrderId]:76222342342",
		DeviceTrustType: "AzureAD", EnrollmentProfileName: "DEP iPhones", ExtensionAttribute(1): "some string value",
		ExtensionAttribute(15): "some string value", IsRooted: "true", ManagementType: "MDM",
		MemberOf: "e6e2dbd3-3c6c-4e5a-8f4a-3c8f0c1d2e3f", ObjectID: "76ad43c9-32c5-45e8-a272-7b58b58f596d",
		ProfileType: "RegisteredDevice", SystemLabels: "M365Managed",
	}
	other := device{AccountEnabled: "false", DeviceOSType: "Windows", DeviceOSVersion: "6.3", IsRooted: "false", ObjectID: "x"}
	tests := []string{
		`device.accountEnabled -eq true`,
		`device.deviceCategory -eq "BYOD"`,
		`device.deviceId -eq "d4fe7726-5966-431c-b3b8-cddc8fdb717d"`,
		`device.deviceManagementAppId -eq "0000000a-0000-0000-c000-000000000000"`,
		`device.deviceManufacturer -eq "Samsung"`,
		`device.deviceModel -eq "iPad Air"`,
		`device.displayName -eq "Rob iPhone"`,
		`(device.deviceOSType -eq "iPad") -or (device.deviceOSType -eq "iOS")`,
		`device.deviceOSVersion -eq "9.1"`,
		`device.deviceOwnership -eq "Personal"`,
		`device.devicePhysicalIDs -any _ -contains "[ZTDId]"`,
		`(device.devicePhysicalIDs -any _ -eq "[OrderID]:179887111881")`,
		`(device.devicePhysicalIds -any _ -eq "[PurchaseOrderId]:76222342342")`,
		`(device.devicePhysicalIDs -any (_ -startsWith "[ZTDid]"))`,
		`device.deviceTrustType -eq "AzureAD"`,
		`device.enrollmentProfileName -eq "DEP iPhones"`,
		`device.extensionAttribute1 -eq "some string value"`,
		`device.extensionAttribute15 -eq "some string value"`,
		`device.isRooted -eq true`,
		`device.managementType -eq "MDM"`,
		`device.memberOf -any (group.objectId -in ['e6e2dbd3-3c6c-4e5a-8f4a-3c8f0c1d2e3f'])`,
		`device.objectId -eq "76ad43c9-32c5-45e8-a272-7b58b58f596d"`,
		`device.profileType -eq "RegisteredDevice"`,
		`device.systemLabels -startsWith "M365Managed"`,
		`device.systemLabels -contains "M365Managed"`,
	}
	for _, src := range tests {
		t.Run(src, func(t *testing.T) {
			r := mustParse(t, src)
			if !r.Match(iphone) {
				t.Errorf("does not match the device it describes")
			}
			if r.Match(other) {
				t.Errorf("matches another device")
			}
			if again := mustParse(t, r.String()); again.Match(iphone) != true || again.Match(other) {
				t.Errorf("canonical %q means something else", r.String())
			}
		})
	}
	// Examples that select by OS type and version alone.
	win := device{DeviceOSType: "Windows", DeviceOSVersion: "10.0.19045"}
	android := device{DeviceOSType: "AndroidEnterprise", DeviceOSVersion: "13"}
	for src, want := range map[string][2]bool{ // [windows, android]
		`device.deviceOSType -startsWith "AndroidEnterprise"`: {false, true},
		`device.deviceOSType -eq "AndroidForWork"`:            {false, false},
		`device.deviceOSType -eq "Windows"`:                   {true, false},
		`device.deviceOSVersion -startsWith "10.0.1"`:         {true, false},
		`device.objectId -ne null`:                            {false, false}, // neither has an object ID here
	} {
		r := mustParse(t, src)
		if got := [2]bool{r.Match(win), r.Match(android)}; got != want {
			t.Errorf("%s: matches [windows android] = %v, want %v", src, got, want)
		}
	}
}

// TestMatchEntraSemantics covers null, collections, the true/false
// properties and -match as .NET runs it.
func TestMatchEntraSemantics(t *testing.T) {
	kiosk := device{
		DisplayName: "Büro-Kiosk 12", DevicePhysicalIDs: "[ZTDId]:abc;[OrderID]:Kiosk", SystemLabels: "",
		IsRooted: "", DeviceCategory: "", MemberOf: "g1;g2", ExtensionAttribute(3): "Finance",
	}
	tests := []struct {
		give string
		want bool
	}{
		{`device.deviceCategory -eq null`, true},
		{`device.deviceCategory -ne null`, false},
		{`device.displayName -ne $null`, true},
		{`device.isRooted -eq null`, true},
		{`device.isRooted -eq false`, false},
		{`device.isRooted -ne true`, true},
		{`device.systemLabels -eq null`, true},
		{`device.devicePhysicalIds -ne null`, true},
		{`device.devicePhysicalIds -any (_ -eq "[orderid]:kiosk")`, true},
		{`device.devicePhysicalIds -any (_ -eq "[OrderID]:Lobby")`, false},
		{`device.devicePhysicalIds -all (_ -startsWith "[")`, true},
		{`device.devicePhysicalIds -all (_ -startsWith "[ZTDId]")`, false},
		{`device.devicePhysicalIds -any (_ -notStartsWith "[ZTDId]")`, true},
		{`device.systemLabels -all (_ -eq "x")`, true}, // no labels: vacuously true
		{`device.systemLabels -any (_ -eq "x")`, false},
		{`device.devicePhysicalIds -contains "Kiosk"`, true},
		{`device.devicePhysicalIds -notContains "Kiosk"`, false},
		{`device.devicePhysicalIds -notContains "Lobby"`, true},
		{`device.devicePhysicalIds -in ["[OrderID]:Kiosk"]`, true},
		{`device.devicePhysicalIds -any (_ -match "^\[OrderID\]:K")`, true},
		{`device.memberOf -any (group.objectId -in ["g2","g9"])`, true},
		{`device.memberOf -any (group.objectId -eq "g9")`, false},
		{`device.memberOf -all (group.objectId -in ["g1","g2"])`, true},
		{`device.memberOf -any (group.objectId -in ["g9"]) -or device.memberOf -any (group.objectId -eq "G1")`, true},
		{`device.extensionAttribute3 -eq "finance"`, true},
		{`device.extensionAttribute4 -eq null`, true},
		// -match: case-insensitive, searched anywhere, Unicode classes.
		{`device.displayName -match "^\w+-kiosk \d+$"`, true}, // ü is a word character, as in .NET
		{`device.displayName -match "^[\w]{4}-"`, true},
		{`device.displayName -match "KIOSK\s\d"`, true},
		{`device.displayName -match "kiosk\S"`, false},
		{`device.displayName -match "\W\d\d$"`, true},
		{`device.displayName -match "^\D+\d+$"`, true},
		{`device.displayName -match "^ro"`, false},
		{`device.displayName -notMatch "^ro"`, true},
		// Keywords and operators without hyphens.
		{`device.displayName startsWith "büro" and not (device.deviceCategory ne null)`, true},
		{`device.displayName eq "x" or device.displayName contains "kiosk"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			r := mustParse(t, tt.give)
			if got := r.Match(kiosk); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
			if got := mustParse(t, r.String()).Match(kiosk); got != tt.want {
				t.Errorf("canonical %q: Match = %v, want %v", r.String(), got, tt.want)
			}
		})
	}
}

// TestRegexpCost checks that ordinary patterns fit the budget with room to
// spare, and that the pattern of issue 14 and its kin do not.
func TestRegexpCost(t *testing.T) {
	for _, p := range []string{
		`^(AP|CPC)-\d{3,5}$`, `^AP\d+$`, `desk`, `kiosk|lobby|reception`, `\bAP\b`, `[a-z]+[0-9]+[a-z]+`,
		`^(Surface Pro 7|Surface Laptop 4|Latitude 7440|ThinkPad X1 Carbon|EliteBook 840 G9)$`,
		`^[A-Z]{2,4}-(LT|DT|VM)-\d{4,6}$`, `^.{1,1000}$`, `^.*(test|lab|pilot).*$`, `[\w\s]*x[\w\s]*y[\w\s]*z`,
	} {
		_, cost, err := compileRegexp(p)
		if err != nil || cost.width > maxRegexpWidth*2/3 {
			t.Errorf("%s: width %d, err %v; want an ordinary pattern well within %d", p, cost.width, err, maxRegexpWidth)
		}
	}
	for _, p := range []string{`(?:.?){1000}Q`, `(?:.?){16}Q`, `(.*){20}`, `\w{40}Q`, strings.Repeat(".*", 40)} {
		if _, cost, err := compileRegexp(p); err != errRegexpTooComplex {
			t.Errorf("%s: width %d, err %v; want it refused as too complex", p, cost.width, err)
		}
	}
	// The worst pattern the budget admits, used by the store's benchmarks.
	if _, cost, err := compileRegexp(WorstAcceptedPattern); err != nil || cost.width < maxRegexpWidth-2 {
		t.Errorf("WorstAcceptedPattern: width %d, err %v; want accepted, close to %d", cost.width, err, maxRegexpWidth)
	}
}
