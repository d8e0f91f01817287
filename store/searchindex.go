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
// rows found are then tested against the whole search (likeCond). Searches
// of 5 bytes or more are tiled with the 5-byte windows of names and serial
// numbers ("long grams", longLen says why), which the index holds too, and
// their runs of one byte have tokens of their own (runToken); a device ID's
// grams are tokens apart, marked with a trailing "i" (idGramSuffix).
// Migration 0170 wrote them.
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

// searchGramsFunc is the SQL function the sync and the migrations write
// the index with: search_grams(name tail, serial tail, device ID) is the
// tokens of the values' grams.
const searchGramsFunc = "search_grams"

// registerSearchGrams makes search_grams available to the connections opened
// after it. modernc registers functions with the driver, for the process,
// not with a database: hence once, whichever Store opens first.
var registerSearchGrams = sync.OnceValue(func() error {
	return sqlite.RegisterDeterministicScalarFunction(searchGramsFunc, 3,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			var values [3]string
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
			return searchGrams(values[0], values[1], values[2]), nil
		})
})

// gramLen is the length of a gram in bytes.
const gramLen = 4

// longLen is the length of a long gram. A search of 5 bytes or more is
// tiled with long grams: with 4-byte grams alone, names and serial numbers
// written to a pattern ("PC-0012345", "SN00012345") made searches whose
// every gram is in thousands of devices ("C-0000": "c-00" and "0000"), and
// whose candidates were tested one by one, or the whole tab was, for a few
// hundred matches. A name's or serial number's long grams are the 5-byte
// windows of its bytes. Device IDs have none: they are random, their grams
// narrow a search well, and their long grams (a million distinct ones at
// 1,000,000 devices) tripled the cost of writing the index.
const longLen = 5

// idGramSuffix ends the tokens of a device ID's grams, so that the grams of
// names and serial numbers, which long grams tile, are apart from them. A
// search of 3 bytes, a prefix query, finds both.
const idGramSuffix = "i"

// A run of one byte longer than a long gram ("000000") is a search the
// grams cannot narrow either: its only long gram, "00000", is in every
// device holding five zeros in a row. So a name or serial number also
// carries a run token for each length from runMin to runMax of its runs of
// one byte ("r30" and the length: "r306" … "r308"), and a search holding
// such a run asks for its token besides its long grams. The tokens start
// with "r", which no gram's hex digits do.
const (
	runMin = longLen + 1
	runMax = 8
)

// runToken is the token of a run of n bytes c.
func runToken(c byte, n int) string {
	return "r" + string(hexDigits[c>>4]) + string(hexDigits[c&15]) + string(byte('0'+n))
}

// searchGrams is the index text of a device: the distinct grams (ASCII-
// folded, each value followed by a 0 byte) of its name tail, serial number
// tail and device ID of 3 bytes or more, the long grams and run tokens of
// the first two, space-separated. The sync writes a million of them in a
// minute or two: it builds the text in one buffer, and finds repeats among
// the device's few dozen grams by a linear scan of their packed values,
// which is cheaper than a map.
func searchGrams(nameTail, serialTail, deviceID string) string {
	values := [...]string{nameTail, serialTail, deviceID}
	n := 0
	for _, v := range values {
		n += len(v) + 1
	}
	// Grams, long grams and ID grams, packed, told apart by a top byte.
	const long, id = 1 << 56, 2 << 56
	seen := make([]uint64, 0, 2*n)
	var runs []uint32 // the run tokens written: byte<<8 | length
	out := make([]byte, 0, n*(2*gramLen+2*longLen+3))
	token := func(g uint64, size int, suffix string) {
		if len(out) > 0 {
			out = append(out, ' ')
		}
		for shift := 8 * (size - 1); shift >= 0; shift -= 8 {
			b := byte(g >> shift)
			out = append(out, hexDigits[b>>4], hexDigits[b&15])
		}
		out = append(out, suffix...)
	}
	for vi, v := range values {
		if len(v) < gramLen-1 {
			continue // no search of 3 bytes or more is in it
		}
		isID := vi == len(values)-1
		var g uint64 // the last bytes, folded, packed
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
			g = g<<8 | uint64(c)
			if isID {
				if gram := g&(1<<(8*gramLen)-1) | id; i >= gramLen-1 && !slices.Contains(seen, gram) {
					seen = append(seen, gram)
					token(gram, gramLen, idGramSuffix)
				}
				continue
			}
			if run >= runMin && run <= runMax && c != 0 && !slices.Contains(runs, uint32(c)<<8|uint32(run)) {
				runs = append(runs, uint32(c)<<8|uint32(run))
				if len(out) > 0 {
					out = append(out, ' ')
				}
				out = append(out, runToken(c, run)...)
			}
			if lg := g&(1<<(8*longLen)-1) | long; i >= longLen-1 && c != 0 && !slices.Contains(seen, lg) {
				seen = append(seen, lg)
				token(lg, longLen, "")
			}
			if gram := g & (1<<(8*gramLen) - 1); i >= gramLen-1 && !slices.Contains(seen, gram) {
				seen = append(seen, gram)
				token(gram, gramLen, "")
			}
		}
	}
	return string(out)
}

const hexDigits = "0123456789abcdef"

// searchMatch is the MATCH expression that finds the candidates of a search
// of 3 bytes or more. In names and serial numbers: the prefix of its 3
// bytes, its gram (4 bytes), or the long grams that tile it (at 0, 5, 10, …
// and its last) with the tokens of its runs, all of them. In device IDs
// (when the search can be in one): the prefix, or the grams that tile it
// (at 0, 4, 8, … and its last). In a random device ID the first and the
// last gram would single out a device as well as more would; but serial
// numbers and names are runs of a few letters and many zeros, whose grams
// ("0000", "N000") are each in most devices: their first and last grams
// left thousands of candidates of a search that matched one, each tested.
// Every tile is one more list, which FTS5 intersects by seeking.
func searchMatch(search string) string {
	names, ids := searchMatchParts(search)
	if ids == "" {
		return names
	}
	return "(" + names + ") OR (" + ids + ")"
}

// searchMatchParts are the two halves of searchMatch: the expression that
// finds the search in names and serial numbers, and the one that finds it
// in device IDs ("" when the first finds it there too, or it cannot be in
// one).
func searchMatchParts(search string) (names, ids string) {
	b := asciiLower(search)
	if len(b) < gramLen {
		return hex.EncodeToString([]byte(b)) + "*", "" // grams and ID grams alike
	}
	var tokens []string
	if len(b) == gramLen {
		tokens = []string{hex.EncodeToString([]byte(b))}
	} else {
		tokens = append(runTokens(b), tiles(b, longLen, "")...)
	}
	if inDeviceID(b) {
		ids = strings.Join(tiles(b, gramLen, idGramSuffix), " AND ")
	}
	return strings.Join(tokens, " AND "), ids
}

// tiles are the tokens of the size-byte windows of b at 0, size, 2×size, …
// and its last, each once.
func tiles(b string, size int, suffix string) []string {
	var out []string
	for i := 0; ; i += size {
		if i > len(b)-size {
			i = len(b) - size
		}
		if g := hex.EncodeToString([]byte(b[i:i+size])) + suffix; !slices.Contains(out, g) {
			out = append(out, g)
		}
		if i == len(b)-size {
			return out
		}
	}
}

// runTokens are the tokens of b's runs of one byte, each once.
func runTokens(b string) []string {
	var out []string
	for i := 0; i < len(b); {
		n := 1
		for i+n < len(b) && b[i+n] == b[i] {
			n++
		}
		if n >= runMin && b[i] != 0 {
			if t := runToken(b[i], min(n, runMax)); !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		i += n
	}
	return out
}

// inDeviceID says whether the folded search b can be part of a device ID,
// which is stored as lower-case hex digits and hyphens (NormalizeDeviceID).
func inDeviceID(b string) bool {
	for i := 0; i < len(b); i++ {
		if c := b[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || c == '-') {
			return false
		}
	}
	return true
}

// searchExact says whether the devices the search index finds for search
// all match it, with nothing to test: a search of one gram at most is one
// (or the start of one), and a search of one long gram that cannot be in a
// device ID is one; every gram is a piece of one value. Unless it holds a
// 0 byte, which in the index only ends a value.
func searchExact(search string) bool {
	if strings.ContainsRune(search, 0) {
		return false
	}
	return len(search) <= gramLen || len(search) == longLen && !inDeviceID(asciiLower(search))
}

// searchCountable says whether searchCount can count the matches of search
// from index entries: those of an exact search, and of a search of one long
// gram, whose entries are exact in names and serial numbers and, in device
// IDs, tested on the few device IDs that hold both its grams.
func searchCountable(search string) bool {
	return searchExact(search) || len(search) == longLen && !strings.ContainsRune(search, 0)
}
