package rule

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

// device is a Subject backed by a map; absent properties read "", and a
// collection's items are ;-separated.
type device map[Property]string

func (d device) RuleValue(p Property) string { return d[p] }

func (d device) RuleValues(p Property) []string {
	if d[p] == "" {
		return nil
	}
	return strings.Split(d[p], ";")
}

const specExample = `(device.displayName -contains "AP") -and (device.deviceOSType -ne "Windows 10 Enterprise for Virtual Desktops")`

func mustParse(t testing.TB, src string) *Rule {
	t.Helper()
	r, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return r
}

func TestParseCanonical(t *testing.T) {
	const (
		a = `device.displayName -eq "a"`
		b = `device.deviceModel -eq "b"`
		c = `device.serialNumber -eq "c"`
	)
	tests := []struct {
		name string
		give string
		want string
	}{
		{"single comparison", a, a},
		{"and binds tighter than or", a + ` -or ` + b + ` -and ` + c, a + ` -or (` + b + ` -and ` + c + `)`},
		{"and binds tighter than or, and first", a + ` -and ` + b + ` -or ` + c, `(` + a + ` -and ` + b + `) -or ` + c},
		{"explicit grouping kept", `(` + a + ` -or ` + b + `) -and ` + c, `(` + a + ` -or ` + b + `) -and ` + c},
		{"not binds tighter than and", `-not ` + a + ` -and ` + b, `-not ` + a + ` -and ` + b},
		{"not binds tighter than and, explicit", `(-not ` + a + `) -and ` + b, `-not ` + a + ` -and ` + b},
		{"not of a group", `-not (` + a + ` -and ` + b + `)`, `-not (` + a + ` -and ` + b + `)`},
		{"not of a parenthesised comparison", `-not (` + a + `)`, `-not ` + a},
		{"double negation through parentheses", `-not (-not (` + a + `))`, `-not (-not ` + a + `)`},
		{"and is flattened left", `(` + a + ` -and ` + b + `) -and ` + c, a + ` -and ` + b + ` -and ` + c},
		{"and is flattened right", a + ` -and (` + b + ` -and ` + c + `)`, a + ` -and ` + b + ` -and ` + c},
		{"or is flattened", a + ` -or (` + b + ` -or ` + c + `)`, a + ` -or ` + b + ` -or ` + c},
		{"redundant parentheses dropped", `(((` + a + `)))`, a},
		{"spec example", specExample, `device.displayName -contains "AP" -and device.deviceOSType -ne "Windows 10 Enterprise for Virtual Desktops"`},
		{
			"keywords, properties and operators in any case",
			`DEVICE.DISPLAYNAME -CONTAINS "Ap" -AND -NOT Device.DeviceOsType -NotStartsWith "x" -Or device.SERIALNUMBER -In ["S1"]`,
			`(device.displayName -contains "Ap" -and -not device.deviceOSType -notStartsWith "x") -or device.serialNumber -in ["S1"]`,
		},
		{"every operator spelled canonically", `device.deviceId -STARTSWITH "1" -and device.deviceId -notendswith "2" -and device.deviceId -ENDSWITH "3" -and device.deviceId -NOTCONTAINS "4" -and device.deviceId -NOTMATCH "5" -and device.deviceId -NOTIN ["6"]`,
			`device.deviceId -startsWith "1" -and device.deviceId -notEndsWith "2" -and device.deviceId -endsWith "3" -and device.deviceId -notContains "4" -and device.deviceId -notMatch "5" -and device.deviceId -notIn ["6"]`},
		{"whitespace normalised", "\t( device.displayName\n-eq   \"a\" )\r\n-or\u00a0" + b + "  ", a + ` -or ` + b},
		{"no spaces around punctuation", `(device.displayName -eq"a")-and(device.deviceModel -eq "b")`, a + ` -and ` + b},
		{"list spacing normalised", `device.deviceModel -in [ "a" , "B","c" ]`, `device.deviceModel -in ["a","B","c"]`},
		{"notIn", `device.deviceModel -notIn ["a"]`, `device.deviceModel -notIn ["a"]`},
		{"backtick-escaped quote", "device.displayName -eq \"say `\"hi`\" \\ bye\"", "device.displayName -eq \"say `\"hi`\" \\ bye\""},
		{"lone backtick kept", "device.displayName -eq \"a`b\"", "device.displayName -eq \"a`b\""},
		{"backslashes are ordinary", `device.displayName -match "^AP\d+\.corp\\$"`, `device.displayName -match "^AP\d+\.corp\\$"`},
		{"trailing backslash", `device.displayName -endsWith "a\"`, `device.displayName -endsWith "a\"`},
		{"single quotes", `device.displayName -eq 'it''s "x"'`, "device.displayName -eq \"it's `\"x`\"\""},
		{"single quotes in a list", `device.deviceModel -in ['a', "b"]`, `device.deviceModel -in ["a","b"]`},
		{"trailing backtick in single quotes", "device.displayName -eq 'a`'", "device.displayName -eq 'a`'"},
		{"operators and keywords without hyphens", `device.displayName eq "a" and not device.deviceModel startsWith "b" or device.serialNumber notIn ["c"]`,
			`(device.displayName -eq "a" -and -not device.deviceModel -startsWith "b") -or device.serialNumber -notIn ["c"]`},
		{"en dash as hyphen", "device.displayName \u2013ne \"a\"", `device.displayName -ne "a"`},
		{"null and $null", `device.objectId -ne null -and device.deviceCategory -eq $NULL`, `device.objectId -ne null -and device.deviceCategory -eq null`},
		{"any with parentheses", `device.devicePhysicalIDs -ANY (_ -startsWith "[ZTDId]")`, `device.devicePhysicalIds -any (_ -startsWith "[ZTDId]")`},
		{"any without parentheses", `device.devicePhysicalIds any _ eq "[OrderID]:Kiosk"`, `device.devicePhysicalIds -any (_ -eq "[OrderID]:Kiosk")`},
		{"all", `device.systemLabels -all (_ -contains "Managed")`, `device.systemLabels -all (_ -contains "Managed")`},
		{"memberOf", `device.memberOf -any (group.objectId -in ['0a1b2c3d-0000-4000-8000-000000000001'])`, `device.memberOf -any (group.objectId -in ["0a1b2c3d-0000-4000-8000-000000000001"])`},
		{"isRooted", `device.isRooted -eq "TRUE"`, `device.isRooted -eq true`},
		{"extension attribute", `device.extensionattribute15 -eq "x"`, `device.extensionAttribute15 -eq "x"`},
		{"empty string", `device.serialNumber -eq ""`, `device.serialNumber -eq ""`},
		{"bare true", `device.accountEnabled -eq TRUE`, `device.accountEnabled -eq true`},
		{"quoted false", `device.accountEnabled -ne "False"`, `device.accountEnabled -ne false`},
		{"non-ASCII text", `device.displayName -eq "Bürocomputer ø"`, `device.displayName -eq "Bürocomputer ø"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustParse(t, tt.give)
			got := r.String()
			if got != tt.want {
				t.Fatalf("String() =\n  %s\nwant\n  %s", got, tt.want)
			}
			again := mustParse(t, got)
			if again.String() != got {
				t.Errorf("String() not stable: %q became %q", got, again.String())
			}
		})
	}
}

func TestMatch(t *testing.T) {
	pc := device{
		DisplayName:        "AP-Desk-042",
		DeviceID:           "0f3c8a1e-5b2d-4c6e-9a7f-1b2c3d4e5f60",
		DeviceOSType:       "Windows",
		DeviceOSVersion:    "10.0.22631.4317",
		DeviceManufacturer: "Contoso",
		DeviceModel:        "Surface Laptop 5",
		DeviceOwnership:    "Company",
		DeviceTrustType:    "AzureAD",
		AccountEnabled:     "true",
		SerialNumber:       "SN-1234",
	}
	avd := device{DisplayName: "AP-AVD-01", DeviceOSType: "Windows 10 Enterprise for Virtual Desktops", AccountEnabled: "false"}
	kelvin := device{DisplayName: "\u212aiosk"} // KELVIN SIGN folds to k

	tests := []struct {
		name string
		give string
		dev  device
		want bool
	}{
		{"eq true", `device.deviceOSType -eq "Windows"`, pc, true},
		{"eq ignores case", `device.deviceOSType -eq "WINDOWS"`, pc, true},
		{"eq false", `device.deviceOSType -eq "macOS"`, pc, false},
		{"eq is whole value", `device.deviceOSType -eq "Win"`, pc, false},
		{"eq empty value", `device.serialNumber -eq ""`, avd, true},
		{"ne true", `device.deviceOSType -ne "macOS"`, pc, true},
		{"ne false", `device.deviceOSType -ne "windows"`, pc, false},
		{"startsWith true", `device.displayName -startsWith "ap-"`, pc, true},
		{"startsWith false", `device.displayName -startsWith "Desk"`, pc, false},
		{"startsWith longer than value", `device.displayName -startsWith "AP-Desk-0420"`, pc, false},
		{"notStartsWith true", `device.displayName -notStartsWith "Desk"`, pc, true},
		{"notStartsWith false", `device.displayName -notStartsWith "AP"`, pc, false},
		{"endsWith true", `device.displayName -endsWith "DESK-042"`, pc, true},
		{"endsWith false", `device.displayName -endsWith "AP"`, pc, false},
		{"endsWith longer than value", `device.displayName -endsWith "XAP-Desk-042"`, pc, false},
		{"notEndsWith true", `device.displayName -notEndsWith "AP"`, pc, true},
		{"notEndsWith false", `device.displayName -notEndsWith "042"`, pc, false},
		{"contains true", `device.deviceModel -contains "laptop"`, pc, true},
		{"contains false", `device.deviceModel -contains "Book"`, pc, false},
		{"contains at end", `device.deviceModel -contains "p 5"`, pc, true},
		{"contains empty", `device.deviceModel -contains ""`, pc, true},
		{"notContains true", `device.deviceModel -notContains "Book"`, pc, true},
		{"notContains false", `device.deviceModel -notContains "SURFACE"`, pc, false},
		{"match true", `device.displayName -match "^ap-desk-\d+$"`, pc, true},
		{"match is unanchored", `device.displayName -match "desk"`, pc, true},
		{"match false", `device.displayName -match "^desk"`, pc, false},
		{"match with a large repetition", `device.displayName -match "^.{1,1000}$"`, pc, true},
		{"notMatch true", `device.displayName -notMatch "^desk"`, pc, true},
		{"notMatch false", `device.displayName -notMatch "\d{3}$"`, pc, false},
		{"in true", `device.deviceManufacturer -in ["Fabrikam","contoso"]`, pc, true},
		{"in false", `device.deviceManufacturer -in ["Fabrikam","Contoso Ltd"]`, pc, false},
		{"notIn true", `device.deviceManufacturer -notIn ["Fabrikam"]`, pc, true},
		{"notIn false", `device.deviceManufacturer -notIn ["Fabrikam","CONTOSO"]`, pc, false},
		{"accountEnabled true", `device.accountEnabled -eq true`, pc, true},
		{"accountEnabled false", `device.accountEnabled -eq true`, avd, false},
		{"accountEnabled ne", `device.accountEnabled -ne true`, avd, true},
		{"accountEnabled quoted", `device.accountEnabled -eq "False"`, avd, true},
		{"escaped quote", "device.displayName -eq \"a `\"b`\"\"", device{DisplayName: `A "B"`}, true},
		{"single-quoted quote", `device.displayName -eq 'o''brien'`, device{DisplayName: `O'Brien`}, true},
		{"backslash is ordinary", `device.displayName -eq "a\\b"`, device{DisplayName: `a\\b`}, true},
		{"unicode case folding", `device.displayName -eq "ÄRZTE"`, device{DisplayName: "ärzte"}, true},
		{"kelvin sign startsWith", `device.displayName -startsWith "KI"`, kelvin, true},
		{"kelvin sign contains", `device.displayName -contains "kio"`, kelvin, true},
		{"kelvin sign endsWith", `device.displayName -endsWith "kiosk"`, kelvin, true},
		{"kelvin sign eq", `device.displayName -eq "KIOSK"`, kelvin, true},
		{"and true", `device.displayName -startsWith "AP" -and device.deviceOwnership -eq "company"`, pc, true},
		{"and false", `device.displayName -startsWith "AP" -and device.deviceOwnership -eq "personal"`, pc, false},
		{"or true", `device.deviceOSType -eq "macOS" -or device.deviceTrustType -eq "azuread"`, pc, true},
		{"or false", `device.deviceOSType -eq "macOS" -or device.deviceTrustType -eq "Workplace"`, pc, false},
		{"not", `-not device.deviceOSType -eq "macOS"`, pc, true},
		{"or of and, precedence", `device.deviceOSType -eq "Windows" -or device.deviceOSType -eq "x" -and device.deviceOSType -eq "y"`, pc, true},
		{"explicit grouping", `(device.deviceOSType -eq "Windows" -or device.deviceOSType -eq "x") -and device.deviceOSType -eq "y"`, pc, false},
		{"not before and, precedence", `-not device.deviceOSType -eq "macOS" -and device.deviceOSType -eq "macOS"`, pc, false},
		{"not of group", `-not (device.deviceOSType -eq "macOS" -and device.deviceOSType -eq "macOS")`, pc, true},
		{"spec example, physical", specExample, pc, true},
		{"spec example, multi-session host", specExample, avd, false},
		{"spec example, other name", specExample, device{DisplayName: "HR-01", DeviceOSType: "Windows"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustParse(t, tt.give)
			if got := r.Match(tt.dev); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
			// The canonical form must mean the same.
			if got := mustParse(t, r.String()).Match(tt.dev); got != tt.want {
				t.Errorf("canonical %q: Match = %v, want %v", r.String(), got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	allowed := "device.displayName, device.deviceId, device.objectId, device.deviceOSType, device.deviceOSVersion, " +
		"device.deviceManufacturer, device.deviceModel, device.deviceOwnership, device.deviceTrustType, " +
		"device.accountEnabled, device.deviceCategory, device.deviceManagementAppId, device.devicePhysicalIds, " +
		"device.enrollmentProfileName, device.extensionAttribute1 to device.extensionAttribute15, device.isRooted, " +
		"device.managementType, device.memberOf, device.profileType, device.systemLabels, device.serialNumber"
	const ops = "-eq -ne -startsWith -notStartsWith -endsWith -notEndsWith -contains -notContains -match -notMatch -in -notIn, or -any or -all for a collection"
	const tooComplex = "regular expression is too complex to evaluate quickly over the directory; " +
		"use fewer patterns, fewer optional or repeated parts (such as .* or (.?){n}), or -startsWith, -contains and -in instead"
	tests := []struct {
		name    string
		give    string
		wantPos int
		wantMsg string
	}{
		{"empty", ``, 1, `rule is empty`},
		{"whitespace only", " \t\n", 1, `rule is empty`},
		{"invalid UTF-8", "device.displayName -eq \"a\xff\"", 26, `rule is not valid UTF-8 text`},

		{"operand missing at end", `device.displayName -eq "a" -and`, 32, `unexpected end of rule; expected a property such as device.displayName or "("`},
		{"operand is punctuation", `()`, 2, `expected a property such as device.displayName or "(", found ")"`},
		{"operand is a string", `"a" -eq "b"`, 1, `expected a property such as device.displayName or "(", found the string "a"`},
		{"property without device prefix", `displayName -eq "a"`, 1, `expected a property such as device.displayName, found "displayName"; write "device.displayName"`},
		{"unknown property", `device.extensionAttribute16 -eq "a"`, 1, `unknown property "device.extensionAttribute16"; the device properties are ` + allowed},
		{"user property", `user.department -eq "a"`, 1, `unknown property "user.department"; the device properties are ` + allowed},
		{"operating system property of filters", `device.operatingSystem -eq "Windows"`, 1, `unknown property "device.operatingSystem"; the device properties are ` + allowed},
		{"double not", `-not -not device.displayName -eq "a"`, 6, `expected "(" or a property such as device.displayName after -not, found "-not"`},
		{"not at end", `-not`, 5, `unexpected end of rule; expected "(" or a property such as device.displayName after -not`},

		{"operator missing at end", `device.displayName`, 19, `unexpected end of rule; expected a comparison operator such as -eq`},
		{"operator is a word", `device.displayName foo "a"`, 20, `unknown operator "foo"; expected one of ` + ops},
		{"operator is a keyword", `device.displayName -and "a"`, 20, `expected a comparison operator such as -eq, found "-and"`},
		{"unknown operator", `device.displayName -equals "a"`, 20, `unknown operator "-equals"; expected one of ` + ops},
		{"like", `device.displayName -like "a*"`, 20, `-like is not supported; use -startsWith, -contains or -match instead`},
		{"greater than", `device.deviceOSVersion -ge "10.0.22000"`, 24, `-ge is not supported for device properties; use -startsWith, -in or -match instead`},
		{"any on a single value", `device.displayName -any (_ -eq "a")`, 20, `-any applies only to the collections device.devicePhysicalIds, device.systemLabels and device.memberOf; device.displayName is a single value`},
		{"all without hyphen on a single value", `device.displayName all (_ -eq "a")`, 20, `-all applies only to the collections device.devicePhysicalIds, device.systemLabels and device.memberOf; device.displayName is a single value`},
		{"any without the item", `device.devicePhysicalIds -any (-eq "a")`, 32, `expected _, the item of device.devicePhysicalIds, after -any, found "-eq"`},
		{"any with the wrong item", `device.devicePhysicalIds -any (x -eq "a")`, 32, `expected _, the item of device.devicePhysicalIds, after -any, found "x"`},
		{"memberOf item", `device.memberOf -any (_ -eq "a")`, 23, `expected group.objectId, the item of device.memberOf, after -any, found "_"`},
		{"memberOf without any", `device.memberOf -eq "a"`, 17, `device.memberOf takes -any or -all, as in device.memberOf -any (group.objectId -in ["…"])`},
		{"memberOf with other properties", `device.displayName -eq "a" -and device.memberOf -any (group.objectId -eq "b")`, 33, `device.memberOf cannot be combined with other properties in one rule, as in Entra ID; make a group of the memberOf conditions alone and nest it, or use a rule without memberOf`},
		{"any unclosed", `device.systemLabels -any (_ -eq "a"`, 36, `unexpected end of rule; expected ")"`},
		{"null with contains", `device.displayName -contains null`, 30, `null can be compared only with -eq or -ne, found -contains`},
		{"isRooted operator", `device.isRooted -startsWith "t"`, 17, `device.isRooted takes only -eq or -ne, found "-startsWith"`},
		{"isRooted value", `device.isRooted -eq "rooted"`, 21, `expected true or false for device.isRooted, found the string "rooted"`},
		{"lone dash", `device.displayName - eq "a"`, 20, `expected a comparison operator such as -eq, found character "-"`},

		{"value missing at end", `device.displayName -eq`, 23, `unexpected end of rule; expected a string in quotes`},
		{"value unquoted", `device.displayName -eq AP`, 24, `expected a string in quotes, found "AP"`},
		{"value is a list", `device.displayName -eq ["a"]`, 24, `expected a string in quotes, found "["`},
		{"unterminated string", `device.displayName -eq "AP`, 24, `unterminated string; expected a closing "`},
		{"unterminated after escaped quote", "device.displayName -eq \"a`\"", 24, `unterminated string; expected a closing "`},
		{"unterminated single-quoted", `device.displayName -eq 'a''`, 24, `unterminated string; expected a closing '`},
		{"unterminated where an operator belongs", `device.displayName "a`, 20, `unterminated string; expected a closing "`},
		{"bare true on a text property", `device.displayName -eq true`, 24, `expected a string in quotes, found true; only device.accountEnabled and device.isRooted take true or false`},
		{"accountEnabled value", `device.accountEnabled -eq yes`, 27, `expected true or false for device.accountEnabled, found "yes"`},
		{"accountEnabled quoted value", `device.accountEnabled -eq "yes"`, 27, `expected true or false for device.accountEnabled, found the string "yes"`},
		{"accountEnabled missing value", `device.accountEnabled -eq`, 26, `unexpected end of rule; expected true or false`},
		{"accountEnabled operator", `device.accountEnabled -contains "true"`, 23, `device.accountEnabled takes only -eq or -ne, found "-contains"`},
		{"long string shortened", `device.displayName -eq "a" "0123456789012345678901234567890123456789"`, 28, `expected -and or -or, found the string "0123456789012345678901234567…`},

		{"invalid regexp", `device.displayName -match "(AP"`, 27, `invalid regular expression: missing closing ): "(AP"`},
		{"regexp too large", `device.displayName -match "` + strings.Repeat("a{1000}", 11) + `"`, 27, tooComplex},
		{"regexp too large, alternation", `device.displayName -match "(a{1000}|b{1000}|c{1000}|d{1000}|e{1000}|f{1000}|g{1000}|h{1000}|i{1000}|j{1000}|k{1000})"`, 27, tooComplex},
		{"regexp too slow, issue 14", `device.displayName -match "(?:.?){1000}Q"`, 27, tooComplex},
		{"regexp too slow, nested stars", `device.displayName -match "(.*){40}x"`, 27, tooComplex},
		{"regexps too slow together", `device.displayName -match "(?:.?){10}Q" -or device.deviceModel -notMatch "(?:.?){10}Q"`, 74, tooComplex},
		{"lookahead", `device.displayName -match "^(?!AP)"`, 27, `invalid regular expression: lookahead and lookbehind ((?=…), (?!…), (?<=…), (?<!…)) are not supported (patterns run in linear time); use -notMatch or another comparison joined with -and instead`},
		{"lookbehind", `device.displayName -match "(?<=AP)-\d"`, 27, `invalid regular expression: lookahead and lookbehind ((?=…), (?!…), (?<=…), (?<!…)) are not supported (patterns run in linear time); use -notMatch or another comparison joined with -and instead`},
		{"backreference", `device.displayName -match "(a)\1"`, 27, `invalid regular expression: backreferences such as \1 are not supported (patterns run in linear time); match the repeated text explicitly`},
		{"named backreference", `device.displayName -match "(?<x>a)\k<x>"`, 27, `invalid regular expression: backreferences such as \1 are not supported (patterns run in linear time); match the repeated text explicitly`},
		{"atomic group", `device.displayName -match "(?>a+)b"`, 27, `invalid regular expression: atomic groups (?>…) are not supported; use a plain group (?:…)`},
		{"negated class inside brackets", `device.displayName -match "[\W_]"`, 27, `invalid regular expression: \W inside [...] is not supported; write the class as [^...] instead`},
		{"invalid regexp repetition", `device.displayName -notMatch "a**"`, 30, `invalid regular expression: invalid nested repetition operator: "**"`},

		{"list missing", `device.deviceModel -in "a"`, 24, `expected a list such as ["a","b"] after -in, found the string "a"`},
		{"list missing at end", `device.deviceModel -notIn`, 26, `unexpected end of rule; expected a list such as ["a","b"] after -notIn`},
		{"empty list", `device.deviceModel -in []`, 24, `empty list; -in needs at least one string, such as ["a","b"]`},
		{"list without comma", `device.deviceModel -in ["a" "b"]`, 29, `expected "," or "]", found the string "b"`},
		{"list trailing comma", `device.deviceModel -in ["a",]`, 29, `expected a string in quotes, found "]"`},
		{"list unclosed", `device.deviceModel -in ["a"`, 28, `unexpected end of rule; expected "," or "]"`},
		{"list of bare words", `device.deviceModel -in [a]`, 25, `expected a string in quotes, found "a"`},

		{"missing close paren", `(device.displayName -eq "a"`, 28, `unexpected end of rule; expected ")"`},
		{"missing operator inside parens", `(device.displayName -eq "a" device.deviceModel -eq "b")`, 29, `expected -and, -or or ")", found "device.deviceModel"`},
		{"missing operator", `device.displayName -eq "a" device.deviceModel -eq "b"`, 28, `expected -and or -or, found "device.deviceModel"`},
		{"stray close paren", `device.displayName -eq "a")`, 27, `expected -and or -or, found ")"`},
		{"illegal character", `device.displayName -eq "a" @`, 28, `expected -and or -or, found character "@"`},
		{"position counts characters, not bytes", `device.displayName -eq "é" x`, 28, `expected -and or -or, found "x"`},
		{"first error wins", `device.displayName -eq x "unterminated`, 24, `expected a string in quotes, found "x"`},

		{"too long", `device.displayName -eq "` + strings.Repeat("a", MaxLength) + `"`, MaxLength + 1, `rule is 3097 characters long; the maximum is 3072`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.give)
			if err == nil {
				t.Fatalf("Parse succeeded with %q, want an error", r)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is a %T, want *SyntaxError", err, err)
			}
			if se.Pos != tt.wantPos || se.Msg != tt.wantMsg {
				t.Errorf("got  position %d: %s\nwant position %d: %s", se.Pos, se.Msg, tt.wantPos, tt.wantMsg)
			}
		})
	}
}

func TestSyntaxErrorString(t *testing.T) {
	_, err := Parse(`device.displayName -eq`)
	want := `position 23: unexpected end of rule; expected a string in quotes`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestMaxLength(t *testing.T) {
	// ruleOfLength builds a valid rule of exactly n characters from the
	// rune pad.
	ruleOfLength := func(n int, pad string) string {
		const frame = `device.displayName -eq ""`
		return frame[:len(frame)-1] + strings.Repeat(pad, n-len(frame)) + `"`
	}
	tests := []struct {
		name    string
		give    string
		wantErr bool
	}{
		{"at the limit", ruleOfLength(MaxLength, "a"), false},
		{"one over", ruleOfLength(MaxLength+1, "a"), true},
		{"at the limit in multi-byte characters", ruleOfLength(MaxLength, "é"), false},
		{"one over in multi-byte characters", ruleOfLength(MaxLength+1, "é"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.give)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse: err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				want := "position 3073: rule is 3073 characters long; the maximum is 3072"
				if err.Error() != want {
					t.Errorf("err = %q, want %q", err, want)
				}
			}
		})
	}
}

func TestProperties(t *testing.T) {
	tests := []struct {
		give string
		want []Property
	}{
		{`device.displayName -eq "a"`, []Property{DisplayName}},
		{
			`device.DEVICEMODEL -eq "a" -or -not (device.displayName -eq "b" -and device.deviceModel -in ["c"]) -or device.accountEnabled -eq true`,
			[]Property{DeviceModel, DisplayName, AccountEnabled},
		},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			r := mustParse(t, tt.give)
			got := r.Properties()
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Properties() = %v, want %v", got, tt.want)
			}
			got[0] = "changed"
			if r.Properties()[0] == "changed" {
				t.Error("Properties() exposes the rule's own slice")
			}
		})
	}
}

func TestEveryPropertyParses(t *testing.T) {
	for _, p := range Properties {
		t.Run(string(p), func(t *testing.T) {
			op, v := "-eq ", `"x"`
			switch {
			case p.Kind() == KindBool:
				v = "true"
			case p == MemberOf:
				op, v = "-any (group.objectId -eq ", `"x")`
			}
			src := "device." + strings.ToUpper(string(p)) + " " + op + v
			r := mustParse(t, src)
			if got := r.Properties(); !slices.Equal(got, []Property{p}) {
				t.Errorf("Properties() = %v, want [%s]", got, p)
			}
			if got, want := r.String(), "device."+string(p)+" "+op+v; got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		})
	}
}

func TestNilRule(t *testing.T) {
	var r *Rule
	if r.Match(device{}) || r.String() != "" || r.Properties() != nil {
		t.Error("a nil Rule must match nothing and print as empty")
	}
}

func TestMatchConcurrent(t *testing.T) {
	r := mustParse(t, `device.displayName -match "^ap-\d+" -and device.deviceModel -notIn ["x","y"]`)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			d := device{DisplayName: "AP-" + strings.Repeat("1", i+1), DeviceModel: "z"}
			for range 1000 {
				if !r.Match(d) {
					t.Error("Match = false, want true")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestFold(t *testing.T) {
	tests := []struct {
		s, sub                  string
		prefix, suffix, contain bool
	}{
		{"Hello", "hE", true, false, true},
		{"Hello", "LO", false, true, true},
		{"Hello", "ell", false, false, true},
		{"Hello", "", true, true, true},
		{"", "a", false, false, false},
		{"ab", "abc", false, false, false},
		{"\u212aelvin", "kel", true, false, true}, // Kelvin sign is 3 bytes, k is 1
		{"kelvin", "\u212aEL", true, false, true},
		{"straße", "SSE", false, false, false}, // simple folding: ß is not ss
		{"ÖL", "öl", true, true, true},
		{"xσς", "ΣΣ", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.s+"/"+tt.sub, func(t *testing.T) {
			if _, got := prefixFold(tt.s, tt.sub); got != tt.prefix {
				t.Errorf("prefixFold = %v, want %v", got, tt.prefix)
			}
			if got := hasSuffixFold(tt.s, tt.sub); got != tt.suffix {
				t.Errorf("hasSuffixFold = %v, want %v", got, tt.suffix)
			}
			if got := containsFold(tt.s, tt.sub); got != tt.contain {
				t.Errorf("containsFold = %v, want %v", got, tt.contain)
			}
		})
	}
}

// benchDevice mimics store.Device: a struct whose RuleValue switches on the
// property.
type benchDevice struct{ name, osType, model string }

func (d *benchDevice) RuleValues(Property) []string { return nil }

func (d *benchDevice) RuleValue(p Property) string {
	switch p {
	case DisplayName:
		return d.name
	case DeviceOSType:
		return d.osType
	case DeviceModel:
		return d.model
	}
	return ""
}

func BenchmarkMatch(b *testing.B) {
	r := mustParse(b, specExample)
	devs := []*benchDevice{
		{"AP-Desk-0042", "Windows", "Surface Laptop 5"},
		{"HR-Laptop-17", "Windows", "ThinkPad T14"},
		{"AP-AVD-Host-3", "Windows 10 Enterprise for Virtual Desktops", "Virtual Machine"},
		{"kiosk-lobby-ap", "Windows", "OptiPlex"},
	}
	b.ReportAllocs()
	n := 0
	for i := 0; b.Loop(); i++ {
		if r.Match(devs[i%len(devs)]) {
			n++
		}
	}
	if n == 0 {
		b.Fatal("no device matched")
	}
}

// TestParseFilterRing: the blades' advanced filter reads ring (the issue's
// example), a group rule refuses it and says why, and a ring compared with
// a name that is no ring is refused where it is written.
func TestParseFilterRing(t *testing.T) {
	rings := []string{"test", "first", "fast", "broad"}
	const example = `device.deviceModel -startsWith "Latitude" -and ring -eq "broad"`
	r, err := ParseFilter(example, rings)
	if err != nil {
		t.Fatalf("ParseFilter(%q): %v", example, err)
	}
	if got := r.String(); got != example {
		t.Errorf("String() = %q, want %q", got, example)
	}
	if !slices.Equal(r.Properties(), []Property{DeviceModel, Ring}) {
		t.Errorf("Properties() = %v", r.Properties())
	}
	tests := []struct {
		give device
		want bool
	}{
		{device{DeviceModel: "Latitude 7440", Ring: "broad"}, true},
		{device{DeviceModel: "latitude 5550", Ring: "Broad"}, true},
		{device{DeviceModel: "Latitude 7440", Ring: "fast"}, false},
		{device{DeviceModel: "Latitude 7440"}, false},
		{device{DeviceModel: "OptiPlex", Ring: "broad"}, false},
	}
	for _, tt := range tests {
		if got := r.Match(tt.give); got != tt.want {
			t.Errorf("Match(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
	for _, src := range []string{`RING -in ["Test","first"]`, `device.ring -eq null`, `ring -ne "fast"`, `ring -startsWith "f"`} {
		if _, err := ParseFilter(src, rings); err != nil {
			t.Errorf("ParseFilter(%q): %v", src, err)
		}
	}

	errs := []struct {
		give    string
		filter  bool
		wantPos int
		wantMsg string
	}{
		{example, false, 48, "ring can be read only by the advanced filter of the device blades, not by a group rule"},
		{`device.ring -eq "test"`, false, 1, "not by a group rule"},
		{`ring -eq "brod"`, true, 10, `unknown ring "brod"; the rings are "test", "first", "fast" and "broad"`},
		{`ring -notIn ["test", "slow"]`, true, 13, `unknown ring "slow"`},
		{`ring -any (_ -eq "test")`, true, 6, "-any applies only to the collections device.devicePhysicalIds, device.systemLabels and device.memberOf; ring is a single value"},
	}
	for _, tt := range errs {
		var err error
		if tt.filter {
			_, err = ParseFilter(tt.give, rings)
		} else {
			_, err = Parse(tt.give)
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: err = %v, want a *SyntaxError", tt.give, err)
			continue
		}
		if se.Pos != tt.wantPos || !strings.Contains(se.Msg, tt.wantMsg) {
			t.Errorf("%q: error at %d %q, want at %d containing %q", tt.give, se.Pos, se.Msg, tt.wantPos, tt.wantMsg)
		}
	}
}
