package store

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestSearchGrams(t *testing.T) {
	tok := func(s string) string { return hex.EncodeToString([]byte(s)) }
	tests := []struct {
		give []string
		want []string // the grams, in order
	}{
		{[]string{"Ab1"}, []string{"ab1\x00"}},                                                         // 3 bytes: one gram, with the end
		{[]string{"AP-1"}, []string{"ap-1", "p-1\x00"}},                                                // folded
		{[]string{"ab"}, nil},                                                                          // under 3 bytes: no search is in it
		{[]string{"aaaaa"}, []string{"aaaa", "r615", "aaa\x00"}},                                       // repeats once; a run of 5
		{[]string{"x0000000000"}, []string{"x000", "0000", "r305", "r306", "r307", "r308", "000\x00"}}, // runs of 5 to 8
		{[]string{"a0000b", "c00000", "d00000"}, []string{"a000", "0000", "000b", "00b\x00", "c000", "r305", "000\x00", "d000"}},
		{[]string{"x81", "X81"}, []string{"x81\x00"}},                                       // across values too
		{[]string{"Ü-1"}, []string{"\xc3\x9c-1", "\x9c-1\x00"}},                             // bytes; only ASCII folds
		{[]string{"", "ab", "abc"}, []string{"abc\x00"}},                                    // values too short are skipped
		{[]string{"12345", "0123"}, []string{"1234", "2345", "345\x00", "0123", "123\x00"}}, // 123\x00 twice
	}
	for _, tt := range tests {
		var want []string
		for _, g := range tt.want {
			if strings.HasPrefix(g, "r") && len(g) == 4 { // a run token, as written
				want = append(want, g)
				continue
			}
			want = append(want, tok(g))
		}
		if got := searchGrams(tt.give...); got != strings.Join(want, " ") {
			t.Errorf("searchGrams(%q) = %q, want %q", tt.give, got, strings.Join(want, " "))
		}
	}
}

func TestSearchMatch(t *testing.T) {
	for give, want := range map[string]string{
		"AbC":             "616263*",                                     // 3 bytes: the grams starting with them
		"0123":            "30313233",                                    // one gram
		"0123-0123":       "30313233 AND 2d303132",                       // the tiles at 0 and 4; the last repeats the first
		"LT-0042":         "6c742d30 AND 30303432",                       // first and last
		"SN-000000":       "r306 AND 736e2d30 AND 30303030",              // its run; tiles at 0 and 4, the last the same as the second
		"Ü-0":             "c39c2d30",                                    // 3 characters, 4 bytes
		`"*" NOT x`:       "222a2220 AND 6e6f7420 AND 6f742078",          // query syntax is text: only hex reaches FTS5
		"00000":           "r305 AND 30303030",                           // a run longer than a gram: its token too
		"SN0000000000123": "r308 AND 736e3030 AND 30303030 AND 30313233", // runs of 8 and more ask for 8
		"aaaaa-AAAAAA":    "r615 AND r616 AND 61616161 AND 612d6161",     // each run; folded
	} {
		if got := searchMatch(give); got != want {
			t.Errorf("searchMatch(%q) = %q, want %q", give, got, want)
		}
	}
}

func TestSearchExact(t *testing.T) {
	for give, want := range map[string]bool{
		"abc":    true,  // the start of a gram
		"0123":   true,  // one gram
		"k-Ü":    true,  // 4 bytes
		"Ü-01":   false, // 5 bytes: two grams, which may be in different places
		"ab\x00": false, // a 0 byte only ends a value in the index
	} {
		if got := searchExact(give); got != want {
			t.Errorf("searchExact(%q) = %v, want %v", give, got, want)
		}
	}
}

// TestSearchRowid checks that the rowids the sync writes (SQL) and those a
// search reads (tabCode) agree for every tab.
func TestSearchRowid(t *testing.T) {
	st := openTestStore(t)
	for _, tab := range Tabs {
		var got int
		if err := st.r.QueryRow(`SELECT `+searchRowid("x")+` FROM (SELECT 5 AS id, ? AS tab) x`, string(tab)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := 5*4 + tabCode(tab); got != want || tabCode(tab) < 1 || tabCode(tab) > 3 {
			t.Errorf("%s: rowid %d in SQL, %d in Go", tab, got, want)
		}
	}
}
