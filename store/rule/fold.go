package rule

import (
	"unicode"
	"unicode/utf8"
)

// The helpers below compare under Unicode simple case folding, the relation
// strings.EqualFold and the (?i) regexp flag use, without allocating: Match
// runs over every device of the directory, so lower-casing each value first
// would cost an allocation per comparison. Byte lengths cannot be compared
// up front, because a rune and its fold may differ in length (K and the
// Kelvin sign U+212A).

// prefixFold reports whether s starts with prefix, ignoring case, and if so
// how many bytes of s the prefix covers.
func prefixFold(s, prefix string) (int, bool) {
	i, j := 0, 0
	for j < len(prefix) {
		if i == len(s) {
			return 0, false
		}
		a, b := s[i], prefix[j]
		if a < utf8.RuneSelf && b < utf8.RuneSelf {
			if lowerASCII(a) != lowerASCII(b) {
				return 0, false
			}
			i++
			j++
			continue
		}
		ra, na := utf8.DecodeRuneInString(s[i:])
		rb, nb := utf8.DecodeRuneInString(prefix[j:])
		if !equalRuneFold(ra, rb) {
			return 0, false
		}
		i += na
		j += nb
	}
	return i, true
}

// hasSuffixFold reports whether s ends with suffix, ignoring case.
func hasSuffixFold(s, suffix string) bool {
	i, j := len(s), len(suffix)
	for j > 0 {
		if i == 0 {
			return false
		}
		a, b := s[i-1], suffix[j-1]
		if a < utf8.RuneSelf && b < utf8.RuneSelf {
			if lowerASCII(a) != lowerASCII(b) {
				return false
			}
			i--
			j--
			continue
		}
		ra, na := utf8.DecodeLastRuneInString(s[:i])
		rb, nb := utf8.DecodeLastRuneInString(suffix[:j])
		if !equalRuneFold(ra, rb) {
			return false
		}
		i -= na
		j -= nb
	}
	return true
}

// containsFold reports whether substr occurs in s, ignoring case.
func containsFold(s, substr string) bool {
	if substr == "" {
		return true
	}
	for i := 0; i < len(s); {
		if _, ok := prefixFold(s[i:], substr); ok {
			return true
		}
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalRuneFold reports whether a and b are equal under simple case folding,
// as strings.EqualFold decides it for one rune.
func equalRuneFold(a, b rune) bool {
	if a == b {
		return true
	}
	if b < a {
		a, b = b, a
	}
	// Walk a's folding orbit upwards; b is in it if the two are equivalent.
	r := unicode.SimpleFold(a)
	for r != a && r < b {
		r = unicode.SimpleFold(r)
	}
	return r == b
}
