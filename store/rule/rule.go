// Package rule parses and evaluates dynamic-group membership rules in the
// Entra ID syntax for devices (SPEC §2), for example
//
//	(device.displayName -contains "AP") -and (device.deviceOSType -ne "Windows 10 Enterprise for Virtual Desktops")
//
// Keywords, property names, operators and string comparisons are all
// case-insensitive. Comparisons bind tightest, then -not, then -and, then
// -or. A rule that does not parse is reported as a *SyntaxError carrying the
// 1-based character position and what was expected there.
//
// Values are double-quoted strings in which \" is a quote and \\ a
// backslash; any other backslash is kept as written, so a -match pattern
// such as "^AP\d+$" needs no doubling. -in and -notIn take a non-empty list
// ["a","b"]. device.accountEnabled takes only -eq or -ne with true or false,
// quoted or not. -match patterns are Go regular expressions (RE2 syntax),
// case-insensitive and unanchored, compiled when the rule is parsed.
//
// The package is pure: it reads devices only through the Subject interface,
// so it depends on nothing else of Patchboard's and package store can import
// it.
package rule

import (
	"fmt"
	"regexp"
	"strings"
)

// MaxLength is the longest rule accepted, in characters (Unicode code
// points), as in Entra ID.
const MaxLength = 3072

// Property is one of the device properties a rule may read. Its value is the
// canonical spelling, without the "device." prefix.
type Property string

// The device properties a rule may read.
const (
	DisplayName        Property = "displayName"
	DeviceID           Property = "deviceId"
	DeviceOSType       Property = "deviceOSType"
	DeviceOSVersion    Property = "deviceOSVersion"
	DeviceManufacturer Property = "deviceManufacturer"
	DeviceModel        Property = "deviceModel"
	DeviceOwnership    Property = "deviceOwnership"
	DeviceTrustType    Property = "deviceTrustType"
	AccountEnabled     Property = "accountEnabled"
	SerialNumber       Property = "serialNumber"
)

// Properties lists every property a rule may read, in the order the
// documentation and error messages give them.
var Properties = []Property{
	DisplayName, DeviceID, DeviceOSType, DeviceOSVersion, DeviceManufacturer,
	DeviceModel, DeviceOwnership, DeviceTrustType, AccountEnabled, SerialNumber,
}

// Subject is what a rule is evaluated against; store.Device implements it.
// RuleValue returns the text of property p. AccountEnabled reads "true" or
// "false".
type Subject interface {
	RuleValue(p Property) string
}

// Rule is a parsed, ready-to-evaluate membership rule. It is immutable and
// safe for concurrent use. Create one with Parse.
type Rule struct {
	root  node
	props []Property
}

// SyntaxError reports why a rule was rejected and where.
type SyntaxError struct {
	// Pos is the 1-based character (code point) position in the rule;
	// one past the last character for an unexpected end of the rule.
	Pos int
	// Msg says what was found and what was expected, e.g.
	// `expected a comparison operator such as -eq, found "foo"`.
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("position %d: %s", e.Pos, e.Msg) }

// Match reports whether s satisfies the rule. It does not allocate, so it
// can run over a whole directory cheaply. A nil Rule matches nothing.
func (r *Rule) Match(s Subject) bool {
	if r == nil || r.root == nil {
		return false
	}
	return r.root.match(s)
}

// String returns the canonical form of the rule: "device." and the
// canonical property and operator spellings, lower-case -and/-or/-not, one
// space between tokens, parentheses only where they change the meaning and
// around each -and group inside an -or (so precedence is visible), bare
// lower-case true or false for device.accountEnabled, and other values as
// written, with \" and \\ escapes where needed.
//
// Parse(r.String()) yields a rule with the same String. The canonical form
// is never longer than the source except for spaces the source left out
// between tokens and the parentheses made explicit, so a source within a few
// characters of MaxLength may have a canonical form that exceeds it.
func (r *Rule) String() string {
	if r == nil || r.root == nil {
		return ""
	}
	var b strings.Builder
	writeNode(&b, r.root, false)
	return b.String()
}

// Properties returns the properties the rule reads, each once, in the order
// they first appear.
func (r *Rule) Properties() []Property {
	if r == nil {
		return nil
	}
	return append([]Property(nil), r.props...)
}

// node is one element of a parsed rule.
type node interface {
	match(s Subject) bool
}

// orNode and andNode hold two or more operands; nested groups of the same
// operator are flattened into one node at parse time.
type (
	orNode  []node
	andNode []node
	notNode struct{ x node }
)

func (n orNode) match(s Subject) bool {
	for _, x := range n {
		if x.match(s) {
			return true
		}
	}
	return false
}

func (n andNode) match(s Subject) bool {
	for _, x := range n {
		if !x.match(s) {
			return false
		}
	}
	return true
}

func (n notNode) match(s Subject) bool { return !n.x.match(s) }

// op is a comparison operator. Every negative operator directly follows its
// positive form, so op&1 says "negated" and op&^1 gives the positive form.
type op uint8

const (
	opEq op = iota
	opNe
	opStartsWith
	opNotStartsWith
	opEndsWith
	opNotEndsWith
	opContains
	opNotContains
	opMatch
	opNotMatch
	opIn
	opNotIn
	numOps
)

// opNames are the canonical spellings, indexed by op.
var opNames = [numOps]string{
	"-eq", "-ne", "-startsWith", "-notStartsWith", "-endsWith", "-notEndsWith",
	"-contains", "-notContains", "-match", "-notMatch", "-in", "-notIn",
}

func (o op) String() string { return opNames[o] }
func (o op) negated() bool  { return o&1 == 1 }
func (o op) positive() op   { return o &^ 1 }
func (o op) takesList() bool {
	return o.positive() == opIn
}

// comparison is `device.<prop> <op> <value>`.
type comparison struct {
	prop Property
	op   op
	// vals are the literals as written (unescaped); exactly one unless op
	// takes a list. Comparisons fold case, so they need no lower-casing.
	vals []string
	// re is the compiled pattern for -match and -notMatch.
	re *regexp.Regexp
}

func (c *comparison) match(s Subject) bool {
	v := s.RuleValue(c.prop)
	var ok bool
	switch c.op.positive() {
	case opEq:
		ok = strings.EqualFold(v, c.vals[0])
	case opStartsWith:
		_, ok = prefixFold(v, c.vals[0])
	case opEndsWith:
		ok = hasSuffixFold(v, c.vals[0])
	case opContains:
		ok = containsFold(v, c.vals[0])
	case opMatch:
		ok = c.re.MatchString(v)
	case opIn:
		for _, w := range c.vals {
			if strings.EqualFold(v, w) {
				ok = true
				break
			}
		}
	}
	return ok != c.op.negated()
}

// writeNode writes n in canonical form. inOr says n is an operand of -or,
// where an -and group is parenthesised for readability.
func writeNode(b *strings.Builder, n node, inOr bool) {
	switch n := n.(type) {
	case orNode:
		for i, x := range n {
			if i > 0 {
				b.WriteString(" -or ")
			}
			writeNode(b, x, true)
		}
	case andNode:
		if inOr {
			b.WriteByte('(')
		}
		for i, x := range n {
			if i > 0 {
				b.WriteString(" -and ")
			}
			if _, ok := x.(orNode); ok {
				b.WriteByte('(')
				writeNode(b, x, false)
				b.WriteByte(')')
			} else {
				writeNode(b, x, false)
			}
		}
		if inOr {
			b.WriteByte(')')
		}
	case notNode:
		b.WriteString("-not ")
		if _, ok := n.x.(*comparison); ok {
			writeNode(b, n.x, false)
		} else {
			b.WriteByte('(')
			writeNode(b, n.x, false)
			b.WriteByte(')')
		}
	case *comparison:
		b.WriteString("device.")
		b.WriteString(string(n.prop))
		b.WriteByte(' ')
		b.WriteString(n.op.String())
		b.WriteByte(' ')
		switch {
		case n.op.takesList():
			b.WriteByte('[')
			for i, v := range n.vals {
				if i > 0 {
					b.WriteByte(',')
				}
				writeString(b, v)
			}
			b.WriteByte(']')
		case n.prop == AccountEnabled:
			// Parse admits only true and false here and keeps them lower-case.
			b.WriteString(n.vals[0])
		default:
			writeString(b, n.vals[0])
		}
	}
}

// writeString writes v as a double-quoted literal. A backslash is doubled
// only where Parse would otherwise read it as an escape (before " or \, or
// at the end), so regular expressions such as ^AP\d+$ stay as written.
func writeString(b *strings.Builder, v string) {
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			if i+1 == len(v) || v[i+1] == '"' || v[i+1] == '\\' {
				b.WriteString(`\\`)
			} else {
				b.WriteByte('\\')
			}
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
