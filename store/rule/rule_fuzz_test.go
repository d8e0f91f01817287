package rule

import (
	"errors"
	"regexp"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		specExample,
		`device.displayName -eq "a" -or device.deviceModel -eq "b" -and device.serialNumber -eq "c"`,
		`-not (device.displayName -match "^AP\d+$") -and device.accountEnabled -eq TRUE`,
		"device.deviceModel -notIn [\"a\",\"b`\"c\",'d''e','f`']",
		`device.devicePhysicalIds -any (_ -startsWith "[ZTDId]") and not device.systemLabels all _ eq 'x'`,
		`device.memberOf -any (group.objectId -in ["0a1b2c3d-0000-4000-8000-000000000001"])`,
		`device.objectId -ne null -or device.isRooted -eq $null -or device.extensionAttribute7 eq "a"`,
		"device.displayName \u2013match \"^\\w+\\s\\d$\"",
		`device.displayName -match "(?:.?){1000}Q"`,
		`(device.displayName -eq"a")-and(device.deviceModel -eq "b")`,
		`device.displayName -eq "é" x`,
		`device.displayName -match "(AP"`,
		`device.deviceModel -in []`,
		`-not -not device.displayName -eq "a"`,
		"device.displayName -eq \"a\xff\"",
		`((((device.deviceId -startsWith "0"))))`,
		``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		r, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): error %v is a %T, want *SyntaxError", src, err, err)
			}
			if se.Pos < 1 || se.Pos > len(src)+1 {
				t.Fatalf("Parse(%q): position %d outside 1..%d", src, se.Pos, len(src)+1)
			}
			if se.Msg == "" {
				t.Fatalf("Parse(%q): empty message", src)
			}
			return
		}
		s := r.String()
		// A source near MaxLength may grow past it when made canonical
		// (spaces it omitted); Parse must then reject only the length.
		again, err := Parse(s)
		if utf8.RuneCountInString(s) > MaxLength {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos != MaxLength+1 {
				t.Fatalf("Parse(canonical %q): err = %v, want the length error", s, err)
			}
			again, err = parse(s)
		}
		if err != nil {
			t.Fatalf("Parse(%q) succeeded but its canonical form %q does not parse: %v", src, s, err)
		}
		if got := again.String(); got != s {
			t.Fatalf("String not stable for %q:\n  %q\n  %q", src, s, got)
		}
	})
}

// FuzzFold checks the allocation-free case-insensitive helpers against the
// regexp package, which folds case the same way (simple folding).
func FuzzFold(f *testing.F) {
	f.Add("AP-Desk-042", "desk")
	f.Add("\u212aelvin", "KEL")
	f.Add("xσς", "ΣΣ")
	f.Fuzz(func(t *testing.T, s, sub string) {
		if !utf8.ValidString(s) || !utf8.ValidString(sub) {
			t.Skip()
		}
		q := regexp.QuoteMeta(sub)
		if got, want := containsFold(s, sub), regexp.MustCompile(`(?is)`+q).MatchString(s); got != want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", s, sub, got, want)
		}
		if _, got := prefixFold(s, sub); got != regexp.MustCompile(`(?is)^`+q).MatchString(s) {
			t.Errorf("prefixFold(%q, %q) = %v", s, sub, got)
		}
		if got := hasSuffixFold(s, sub); got != regexp.MustCompile(`(?is)`+q+`\z`).MatchString(s) {
			t.Errorf("hasSuffixFold(%q, %q) = %v", s, sub, got)
		}
	})
}
