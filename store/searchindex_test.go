package store

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestSearchGrams(t *testing.T) {
	tests := []struct {
		give [3]string // name tail, serial tail, device ID
		want []string  // the tokens, in order: "g:" a gram, "l:" a long gram, "i:" an ID gram, else as written
	}{
		{[3]string{"Ab1"}, []string{"g:ab1\x00"}},                                                                           // 3 bytes: one gram, with the end
		{[3]string{"AP-1"}, []string{"g:ap-1", "g:p-1\x00"}},                                                                // folded; no long gram
		{[3]string{"ab"}, nil},                                                                                              // under 3 bytes: no search is in it
		{[3]string{"aaaaa"}, []string{"g:aaaa", "l:aaaaa", "g:aaa\x00"}},                                                    // repeats once
		{[3]string{"x81", "X81"}, []string{"g:x81\x00"}},                                                                    // across values too
		{[3]string{"Ü-1"}, []string{"g:\xc3\x9c-1", "g:\x9c-1\x00"}},                                                        // bytes; only ASCII folds
		{[3]string{"", "ab", "abc"}, []string{"i:abc\x00"}},                                                                 // values too short are skipped
		{[3]string{"12345", "0123"}, []string{"g:1234", "l:12345", "g:2345", "g:345\x00", "g:0123", "g:123\x00"}},           // 123\x00 twice
		{[3]string{"x0000000000"}, []string{"g:x000", "l:x0000", "g:0000", "l:00000", "r306", "r307", "r308", "g:000\x00"}}, // runs of 6 to 8
		{[3]string{"a0000b", "c00000", "0000-00000"}, []string{"g:a000", "l:a0000", "g:0000", "l:0000b", "g:000b", "g:00b\x00",
			"g:c000", "l:c0000", "l:00000", "g:000\x00", // the serial; then the ID's grams alone, apart
			"i:0000", "i:000-", "i:00-0", "i:0-00", "i:-000", "i:000\x00"}},
	}
	for _, tt := range tests {
		var want []string
		for _, g := range tt.want {
			switch kind, text, _ := strings.Cut(g, ":"); kind {
			case "g", "l":
				want = append(want, hex.EncodeToString([]byte(text)))
			case "i":
				want = append(want, hex.EncodeToString([]byte(text))+idGramSuffix)
			default:
				want = append(want, g)
			}
		}
		if got := searchGrams(tt.give[0], tt.give[1], tt.give[2]); got != strings.Join(want, " ") {
			t.Errorf("searchGrams(%q) = %q, want %q", tt.give, got, strings.Join(want, " "))
		}
	}
}

func TestSearchMatch(t *testing.T) {
	for give, want := range map[string]string{
		"AbC":             "616263*",                                                           // 3 bytes: the grams starting with them, ID grams too
		"0123":            "(30313233) OR (30313233i)",                                         // one gram; in a device ID too
		"wxyz":            "7778797a",                                                          // not in any device ID
		"0123-0123":       "(303132332d AND 2d30313233) OR (30313233i AND 2d303132i)",          // long grams at 0 and the last; ID grams at 0 and 4
		"LT-0042":         "6c742d3030 AND 2d30303432",                                         // first and last
		"SN-000000":       "r306 AND 736e2d3030 AND 3030303030",                                // its run; long grams at 0 and the last
		"Ü-0":             "c39c2d30",                                                          // 3 characters, 4 bytes
		`"*" NOT x`:       "222a22206e AND 6e6f742078",                                         // query syntax is text: only hex reaches FTS5
		"00000":           "(3030303030) OR (30303030i)",                                       // one long gram; an ID's gram
		"SN0000000000123": "r308 AND 736e303030 AND 3030303030 AND 3030313233",                 // runs of 8 and more ask for 8
		"aaaaa-AAAAAA":    "(r616 AND 6161616161 AND 2d61616161) OR (61616161i AND 612d6161i)", // a run of 6; folded
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
		"Ü-01":   true,  // 5 bytes: one long gram
		"n0000":  true,  // the same, which no device ID holds
		"c0000":  false, // which a device ID may hold: its grams, two, may be in different places
		"Ü-012":  false, // 6 bytes: two long grams, which may be in different places
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
