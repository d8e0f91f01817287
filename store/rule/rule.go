// Package rule parses and evaluates dynamic-group membership rules in the
// Entra ID syntax for devices (SPEC §2), so that a rule copied from
// Microsoft's documentation or from a tenant works unchanged, for example
//
//	(device.displayName -contains "AP") -and (device.deviceOSType -ne "Windows 10 Enterprise for Virtual Desktops")
//	device.devicePhysicalIds -any (_ -startsWith "[OrderID]:Kiosk")
//	device.memberOf -any (group.objectId -in ["2f3c…", "8e1d…"])
//
// Keywords, property names, operators and string comparisons are all
// case-insensitive, and operators and -and/-or/-not may be written with or
// without their hyphen (eq, and). Comparisons bind tightest, then -not,
// then -and, then -or. A rule that does not parse is reported as a
// *SyntaxError carrying the 1-based character position and what was
// expected there.
//
// Values are strings in double quotes, where `" (backtick, quote) is a
// quote, or in single quotes, where a doubled quote is one; a backslash is an
// ordinary character, so a -match pattern such as "^AP\d+$" is written as
// is. true and false (quoted or not) are the values of the true/false
// properties; null (or $null) with -eq or -ne tests for an empty value.
// -in and -notIn take a non-empty list ["a","b"]. -any and -all test the
// items of a collection property, the item written _ (group.objectId for
// device.memberOf); a string comparison applied to a collection directly is
// true when any item satisfies it.
//
// -match patterns are regular expressions searched anywhere in the value,
// case-insensitive, with \w, \d and \s matching Unicode letters, digits and
// spaces as .NET does. They run on Go's linear-time engine: lookaround and
// backreferences are refused with that reason, and so is a pattern whose
// matching cost per character is above a budget (see regexp.go), so that no
// rule can make an evaluation over the directory slow.
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

// The device properties a rule may read (SPEC §2).
const (
	DisplayName           Property = "displayName"
	DeviceID              Property = "deviceId"
	ObjectID              Property = "objectId"
	DeviceOSType          Property = "deviceOSType"
	DeviceOSVersion       Property = "deviceOSVersion"
	DeviceManufacturer    Property = "deviceManufacturer"
	DeviceModel           Property = "deviceModel"
	DeviceOwnership       Property = "deviceOwnership"
	DeviceTrustType       Property = "deviceTrustType"
	AccountEnabled        Property = "accountEnabled"
	DeviceCategory        Property = "deviceCategory"
	DeviceManagementAppID Property = "deviceManagementAppId"
	DevicePhysicalIDs     Property = "devicePhysicalIds"
	EnrollmentProfileName Property = "enrollmentProfileName"
	IsRooted              Property = "isRooted"
	ManagementType        Property = "managementType"
	MemberOf              Property = "memberOf"
	ProfileType           Property = "profileType"
	SystemLabels          Property = "systemLabels"
	SerialNumber          Property = "serialNumber"
)

// Ring is the deployment ring a device is in, which only the device blades'
// advanced filter reads (ParseFilter): it is written ring, without the
// "device." prefix, as it is no directory property.
const Ring Property = "ring"

// written is p as a rule writes it.
func (p Property) written() string {
	if p == Ring {
		return string(Ring)
	}
	return "device." + string(p)
}

// ExtensionAttribute returns the property extensionAttributeN, N from 1 to
// 15.
func ExtensionAttribute(n int) Property { return Property(fmt.Sprintf("extensionAttribute%d", n)) }

// Properties lists every property a rule may read, in the order of SPEC §2,
// which error messages follow.
var Properties = func() []Property {
	ps := []Property{
		DisplayName, DeviceID, ObjectID, DeviceOSType, DeviceOSVersion, DeviceManufacturer, DeviceModel,
		DeviceOwnership, DeviceTrustType, AccountEnabled, DeviceCategory, DeviceManagementAppID,
		DevicePhysicalIDs, EnrollmentProfileName,
	}
	for n := 1; n <= 15; n++ {
		ps = append(ps, ExtensionAttribute(n))
	}
	return append(ps, IsRooted, ManagementType, MemberOf, ProfileType, SystemLabels, SerialNumber)
}()

// Kind is the type of a property's value.
type Kind uint8

// Property kinds.
const (
	// KindString properties read one text value.
	KindString Kind = iota
	// KindBool properties read "true", "false", or "" when not known.
	KindBool
	// KindCollection properties read a list of text values.
	KindCollection
)

// Kind returns the type of p's value.
func (p Property) Kind() Kind {
	switch p {
	case AccountEnabled, IsRooted:
		return KindBool
	case DevicePhysicalIDs, SystemLabels, MemberOf:
		return KindCollection
	}
	return KindString
}

// Subject is what a rule is evaluated against; store.Device implements it.
// RuleValue returns the text of a string or true/false property ("" for
// empty, which null compares equal to); RuleValues returns the items of a
// collection property. Neither should allocate: a rule is evaluated for
// every device of the directory.
type Subject interface {
	RuleValue(p Property) string
	RuleValues(p Property) []string
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
// canonical property and operator spellings (with their hyphen), lower-case
// -and/-or/-not, one space between tokens, parentheses only where they
// change the meaning and around each -and group inside an -or (so
// precedence is visible), -any and -all with their item comparison in
// parentheses, bare lower-case true, false and null, and strings in double
// quotes with `" for a quote (in single quotes when a value ends with a
// backtick).
//
// Parse(r.String()) yields a rule with the same String. The canonical form
// is never much longer than the source except for spaces and hyphens the
// source left out and parentheses made explicit, so a source within a few
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

// quantifier says how a comparison applies to a collection's items.
type quantifier uint8

const (
	// quantNone: a comparison of a value; on a collection, true when any
	// item satisfies the positive operator (negated operators: when none
	// does), and null tests for an empty collection.
	quantNone quantifier = iota
	quantAny
	quantAll
)

// comparison is `device.<prop> <op> <value>`, or
// `device.<prop> -any|-all (<item> <op> <value>)`.
type comparison struct {
	prop  Property
	quant quantifier
	op    op
	// null is set for `-eq null` and `-ne null`; vals is then empty.
	null bool
	// vals are the literals as written (unescaped); exactly one unless op
	// takes a list. Comparisons fold case, so they need no lower-casing.
	// A true/false property's value is kept as "true" or "false".
	vals []string
	// re is the compiled pattern for -match and -notMatch.
	re *regexp.Regexp
}

func (c *comparison) match(s Subject) bool {
	if c.prop.Kind() != KindCollection {
		return c.test(s.RuleValue(c.prop))
	}
	items := s.RuleValues(c.prop)
	switch c.quant {
	case quantAny:
		for _, v := range items {
			if c.test(v) {
				return true
			}
		}
		return false
	case quantAll:
		for _, v := range items {
			if !c.test(v) {
				return false
			}
		}
		return true
	}
	if c.null {
		return (len(items) == 0) != c.op.negated()
	}
	for _, v := range items {
		if c.positive(v) {
			return !c.op.negated()
		}
	}
	return c.op.negated()
}

// test applies the comparison to one value.
func (c *comparison) test(v string) bool {
	if c.null {
		return (v == "") != c.op.negated()
	}
	return c.positive(v) != c.op.negated()
}

// positive applies the positive form of the operator to v.
func (c *comparison) positive(v string) bool {
	switch c.op.positive() {
	case opEq:
		return strings.EqualFold(v, c.vals[0])
	case opStartsWith:
		_, ok := prefixFold(v, c.vals[0])
		return ok
	case opEndsWith:
		return hasSuffixFold(v, c.vals[0])
	case opContains:
		return containsFold(v, c.vals[0])
	case opMatch:
		return c.re.MatchString(v)
	case opIn:
		for _, w := range c.vals {
			if strings.EqualFold(v, w) {
				return true
			}
		}
	}
	return false
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
		b.WriteString(n.prop.written())
		b.WriteByte(' ')
		if n.quant != quantNone {
			if n.quant == quantAny {
				b.WriteString("-any (")
			} else {
				b.WriteString("-all (")
			}
			b.WriteString(itemName(n.prop))
			b.WriteByte(' ')
		}
		b.WriteString(n.op.String())
		b.WriteByte(' ')
		switch {
		case n.null:
			b.WriteString("null")
		case n.op.takesList():
			b.WriteByte('[')
			for i, v := range n.vals {
				if i > 0 {
					b.WriteByte(',')
				}
				writeString(b, v)
			}
			b.WriteByte(']')
		case n.prop.Kind() == KindBool:
			// Parse admits only true and false here and keeps them lower-case.
			b.WriteString(n.vals[0])
		default:
			writeString(b, n.vals[0])
		}
		if n.quant != quantNone {
			b.WriteByte(')')
		}
	}
}

// itemName is how an -any or -all comparison names the item of p.
func itemName(p Property) string {
	if p == MemberOf {
		return "group.objectId"
	}
	return "_"
}

// writeString writes v as a double-quoted literal, a quote written `". A
// value ending in a backtick would read as an escaped closing quote, so it
// is written in single quotes instead, a quote inside doubled.
func writeString(b *strings.Builder, v string) {
	if strings.HasSuffix(v, "`") {
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(v, "'", "''"))
		b.WriteByte('\'')
		return
	}
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(v, `"`, "`\""))
	b.WriteByte('"')
}
