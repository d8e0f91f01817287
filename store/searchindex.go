package store

import (
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"

	"modernc.org/sqlite"
)

// The search index (devices_search, migration 0005) holds, for each device
// on the blades, the 4-byte windows ("grams") of its name and serial number
// without their first character and of its device ID, ASCII letters
// folded, each written as a token of 8 hex digits. A string of 4 bytes or
// more occurs in a value only where each of its grams does, so the index
// finds the candidates of a search with a lookup per gram; a string of 3
// bytes is the start of a gram (each value ends with a 0 byte so that its
// last 3 bytes start one too), which the index's prefix index finds. The
// rows found are then tested against the whole search (likeCond).
//
// Grams, not the trigrams of FTS5's trigram tokenizer: in serial numbers
// and device IDs digits are everywhere, a trigram of them is in one device
// in a hundred, and a four-digit search read two lists of 9,000 devices at
// 1,000,000 to find 500; its gram lists only those 500. And the index keeps
// no positions (detail=none) nor the text (contentless), so it is smaller
// than the trigram index was.

// searchRowid is the rowid of the search index's entry of the device of
// alias (blade_order or devices): its id × 4 + its tab's code (tabCode).
// Migration 0006 says why.
func searchRowid(alias string) string {
	return fmt.Sprintf("(%[1]s.id * 4 + CASE %[1]s.tab WHEN 'ready' THEN 1 WHEN 'not-ready' THEN 2 WHEN 'not-registered' THEN 3 END)", alias)
}

// tabCode is the code of t in the rowids of the search index.
func tabCode(t Tab) int {
	return slices.Index(Tabs, t) + 1
}

// searchGramsFunc is the SQL function the sync and migration 0005 write the
// index with: search_grams(value, …) is the tokens of the values' grams.
const searchGramsFunc = "search_grams"

// registerSearchGrams makes search_grams available to the connections opened
// after it. modernc registers functions with the driver, for the process,
// not with a database: hence once, whichever Store opens first.
var registerSearchGrams = sync.OnceValue(func() error {
	return sqlite.RegisterDeterministicScalarFunction(searchGramsFunc, -1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			values := make([]string, len(args))
			for i, a := range args {
				switch v := a.(type) {
				case string:
					values[i] = v
				case []byte:
					values[i] = string(v)
				case nil:
				default:
					return nil, fmt.Errorf("%s: argument %d is %T, not text", searchGramsFunc, i+1, a)
				}
			}
			return searchGrams(values...), nil
		})
})

// gramLen is the length of a gram in bytes.
const gramLen = 4

// A run of one byte longer than a gram ("00000" in a serial number) is a
// search the grams cannot narrow: its only gram, "0000", is in thousands of
// names and serial numbers, while few hold five zeros in a row. So a value
// also carries a run token for each length from runMin to runMax of its
// runs of one byte ("r30" and the length: "r305" … "r308"), and a search
// holding such a run asks for its token besides its grams. The tokens start
// with "r", which no gram's hex digits do.
const (
	runMin = gramLen + 1
	runMax = 8
)

// runToken is the token of a run of n bytes c.
func runToken(c byte, n int) string {
	return "r" + string(hexDigits[c>>4]) + string(hexDigits[c&15]) + string(byte('0'+n))
}

// searchGrams is the index text of values: the distinct grams of each value
// (ASCII-folded, followed by a 0 byte) of 3 bytes or more, and the tokens of
// its runs (runToken), space-separated. The sync writes a million of them
// in a minute or two: it builds the text in one buffer, and finds repeats
// among the device's few dozen grams by a linear scan of their packed
// values, which is cheaper than a map.
func searchGrams(values ...string) string {
	n := 0
	for _, v := range values {
		n += len(v) + 1
	}
	seen := make([]uint32, 0, n)
	var runs []uint32 // the run tokens written: byte<<8 | length
	out := make([]byte, 0, n*(2*gramLen+1))
	for _, v := range values {
		if len(v) < gramLen-1 {
			continue // no search of 3 bytes or more is in it
		}
		var g uint32 // the last gramLen bytes, folded, packed
		run := 0     // the length of the run of one byte ending at i
		for i := 0; i <= len(v); i++ {
			c := byte(0) // the 0 byte after the value
			if i < len(v) {
				c = v[i]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
			}
			if i > 0 && c == byte(g) {
				run++
			} else {
				run = 1
			}
			if run >= runMin && run <= runMax && c != 0 && !slices.Contains(runs, uint32(c)<<8|uint32(run)) {
				runs = append(runs, uint32(c)<<8|uint32(run))
				if len(out) > 0 {
					out = append(out, ' ')
				}
				out = append(out, runToken(c, run)...)
			}
			g = g<<8 | uint32(c)
			if i < gramLen-1 || slices.Contains(seen, g) {
				continue
			}
			seen = append(seen, g)
			if len(out) > 0 {
				out = append(out, ' ')
			}
			for shift := 24; shift >= 0; shift -= 8 {
				b := byte(g >> shift)
				out = append(out, hexDigits[b>>4], hexDigits[b&15])
			}
		}
	}
	return string(out)
}

const hexDigits = "0123456789abcdef"

// searchMatch is the MATCH expression that finds the candidates of a search
// of 3 bytes or more: the prefix of its 3 bytes, or the grams that tile it
// (at 0, 4, 8, … and its last), all of them. In a random device ID the first
// and the last gram would single out a device as well as more would; but
// serial numbers and names are runs of a few letters and many zeros, whose
// grams ("0000", "N000") are each in most devices: their first and last
// grams left thousands of candidates of a search that matched one, each
// tested. Every tile is one more list, which FTS5 intersects by seeking.
func searchMatch(search string) string {
	b := asciiLower(search)
	if len(b) < gramLen {
		return hex.EncodeToString([]byte(b)) + "*"
	}
	var grams []string
	for i := 0; i < len(b); {
		n := 1
		for i+n < len(b) && b[i+n] == b[i] {
			n++
		}
		if n >= runMin && b[i] != 0 {
			if t := runToken(b[i], min(n, runMax)); !slices.Contains(grams, t) {
				grams = append(grams, t)
			}
		}
		i += n
	}
	for i := 0; ; i += gramLen {
		if i > len(b)-gramLen {
			i = len(b) - gramLen
		}
		if g := hex.EncodeToString([]byte(b[i : i+gramLen])); !slices.Contains(grams, g) {
			grams = append(grams, g)
		}
		if i == len(b)-gramLen {
			break
		}
	}
	return strings.Join(grams, " AND ")
}

// searchExact says whether the devices the search index finds for search
// all match it, with nothing to test: a search of at most one gram is one
// (or the start of one), and every gram is a piece of one value. Unless it
// holds a 0 byte, which in the index only ends a value.
func searchExact(search string) bool {
	return len(search) <= gramLen && !strings.ContainsRune(search, 0)
}
