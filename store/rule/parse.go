package rule

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Parse parses a membership rule. Every rejection is a *SyntaxError with the
// position and what was expected; for -match and -notMatch the pattern is
// translated, checked and compiled here (see compileRegexp), so Match
// cannot fail.
func Parse(src string) (*Rule, error) {
	return parseLimited(src, &parser{})
}

// ParseFilter parses the advanced filter of the device blades: a membership
// rule that may also read ring, the deployment ring Patchboard placed the
// device in (as in ring -eq "broad"; null when it has none), compared with
// -eq, -ne, -in or -notIn to one of rings, or with the other string
// operators. A membership rule cannot read ring (Parse says why): rings are
// assigned to the members of the Device Registration group, so a group
// defined by them would depend on itself.
func ParseFilter(src string, rings []string) (*Rule, error) {
	return parseLimited(src, &parser{filter: true, rings: rings})
}

func parseLimited(src string, p *parser) (*Rule, error) {
	if n := utf8.RuneCountInString(src); n > MaxLength {
		return nil, &SyntaxError{Pos: MaxLength + 1,
			Msg: fmt.Sprintf("rule is %d characters long; the maximum is %d", n, MaxLength)}
	}
	return p.parse(src)
}

// parse is Parse without the length limit; the tests use it to re-parse
// canonical forms that grew past MaxLength.
func parse(src string) (*Rule, error) { return (&parser{}).parse(src) }

func (p *parser) parse(src string) (*Rule, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &SyntaxError{Pos: 1, Msg: "rule is empty"}
	}
	if !utf8.ValidString(src) {
		pos := 1
		for i, r := range src {
			if r == utf8.RuneError {
				if _, n := utf8.DecodeRuneInString(src[i:]); n == 1 {
					break
				}
			}
			pos++
		}
		return nil, &SyntaxError{Pos: pos, Msg: "rule is not valid UTF-8 text"}
	}
	p.toks = lex(src)
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, unexpected(t, "-and or -or")
	}
	// Entra ID evaluates memberOf apart from the other properties and
	// refuses a rule that mixes them.
	if p.memberOfPos > 0 && len(p.props) > 1 {
		return nil, &SyntaxError{Pos: p.memberOfPos,
			Msg: "device.memberOf cannot be combined with other properties in one rule, as in Entra ID; " +
				"make a group of the memberOf conditions alone and nest it, or use a rule without memberOf"}
	}
	return &Rule{root: root, props: p.props}, nil
}

// tokKind classifies a token.
type tokKind uint8

const (
	tEOF          tokKind = iota
	tWord                 // device.displayName, true, null, $null, _, and, eq, any other bare word
	tDash                 // a hyphen (or en dash) and letters: -eq, -and, -foo
	tString               // a complete "…" or '…' literal
	tUnterminated         // a literal that reaches the end of the rule
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
	tIllegal // a character that starts no token
)

type token struct {
	kind tokKind
	pos  int    // 1-based character position
	text string // source text
	// name is a tWord's text, or a tDash's without its dash: what
	// keywords and operators are compared with.
	name string
	val  string // unescaped value of a tString
	// quote is the quote character of a tString or tUnterminated.
	quote byte
}

// enDash is accepted as a hyphen: rules copied from web pages often carry
// "–eq" where typography replaced the hyphen.
const enDash = '\u2013'

// lex splits src into tokens, ending with tEOF. It stops after the first
// tUnterminated or tIllegal token: the parser cannot get past it, and any
// error before it is reported first, so errors come in source order.
func lex(src string) []token {
	var toks []token
	pos := 1 // character position of src[i]
	for i := 0; ; {
		for i < len(src) {
			r, n := utf8.DecodeRuneInString(src[i:])
			if !unicode.IsSpace(r) {
				break
			}
			i += n
			pos++
		}
		if i == len(src) {
			return append(toks, token{kind: tEOF, pos: pos})
		}
		start, startPos := i, pos
		r, n := utf8.DecodeRuneInString(src[i:])
		t := token{pos: startPos}
		switch {
		case r == '"':
			t.kind, t.val, i, pos = lexDoubleQuoted(src, i, pos)
			t.quote = '"'
		case r == '\'':
			t.kind, t.val, i, pos = lexSingleQuoted(src, i, pos)
			t.quote = '\''
		case (r == '-' || r == enDash) && i+n < len(src) && isLetter(src[i+n:]):
			t.kind = tDash
			i, pos = i+n, pos+1
			i, pos = skipWord(src, i, pos)
			t.name = src[start+n : i]
		case isWordRune(r) || r == '$' && i+1 < len(src) && isLetter(src[i+1:]):
			t.kind = tWord
			i, pos = skipWord(src, i+n, pos+1)
			t.name = src[start:i]
		default:
			t.kind = punct(r)
			i, pos = i+n, pos+1
		}
		t.text = src[start:i]
		toks = append(toks, t)
		if t.kind == tUnterminated || t.kind == tIllegal {
			return append(toks, token{kind: tEOF, pos: pos})
		}
	}
}

// lexDoubleQuoted reads the literal starting at the quote src[i]. `" is a
// quote, as in PowerShell and Entra ID; every other character, a backslash
// or a lone backtick included, stands for itself.
func lexDoubleQuoted(src string, i, pos int) (kind tokKind, val string, end, endPos int) {
	i, pos = i+1, pos+1
	start := i
	escaped := false
	for i < len(src) {
		switch {
		case src[i] == '"':
			val = src[start:i]
			if escaped {
				val = strings.ReplaceAll(val, "`\"", `"`)
			}
			return tString, val, i + 1, pos + 1
		case src[i] == '`' && i+1 < len(src) && src[i+1] == '"':
			escaped = true
			i, pos = i+2, pos+2
			continue
		}
		_, n := utf8.DecodeRuneInString(src[i:])
		i, pos = i+n, pos+1
	}
	return tUnterminated, "", i, pos
}

// lexSingleQuoted reads the literal starting at the quote src[i]; a doubled
// single quote inside it is one quote.
func lexSingleQuoted(src string, i, pos int) (kind tokKind, val string, end, endPos int) {
	i, pos = i+1, pos+1
	start := i
	doubled := false
	for i < len(src) {
		if src[i] == '\'' {
			if i+1 < len(src) && src[i+1] == '\'' {
				doubled = true
				i, pos = i+2, pos+2
				continue
			}
			val = src[start:i]
			if doubled {
				val = strings.ReplaceAll(val, "''", "'")
			}
			return tString, val, i + 1, pos + 1
		}
		_, n := utf8.DecodeRuneInString(src[i:])
		i, pos = i+n, pos+1
	}
	return tUnterminated, "", i, pos
}

func punct(r rune) tokKind {
	switch r {
	case '(':
		return tLParen
	case ')':
		return tRParen
	case '[':
		return tLBrack
	case ']':
		return tRBrack
	case ',':
		return tComma
	}
	return tIllegal
}

func isLetter(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r)
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.'
}

func skipWord(src string, i, pos int) (int, int) {
	for i < len(src) {
		r, n := utf8.DecodeRuneInString(src[i:])
		if !isWordRune(r) {
			break
		}
		i, pos = i+n, pos+1
	}
	return i, pos
}

// parser is a recursive-descent parser over the grammar (every keyword and
// operator with or without its hyphen)
//
//	or      = and { "-or" and }
//	and     = unary { "-and" unary }
//	unary   = "-not" primary | primary
//	primary = "(" or ")" | compare
//	compare = "device." property ( operator value | ("-any" | "-all") ( "(" item ")" | item ) )
//	item    = ( "_" | "group.objectId" ) operator value
//	value   = string | "[" string { "," string } "]" | true | false | null | $null
type parser struct {
	toks  []token
	i     int
	props []Property
	// filter: the rule is a blade filter, which may read ring, compared
	// with one of rings (ParseFilter).
	filter bool
	rings  []string
	// memberOfPos is where device.memberOf first appears, 0 if nowhere.
	memberOfPos int
	// regexpCost sums the costs of the rule's patterns so far; the sum is
	// bounded, because Match runs every pattern (see compileRegexp).
	regexpCost regexpCost
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// isKeyword reports whether t is the keyword word (without hyphen), written
// with or without its hyphen, ignoring case.
func isKeyword(t token, word string) bool {
	return (t.kind == tDash || t.kind == tWord) && strings.EqualFold(t.name, word)
}

func (p *parser) parseOr() (node, error) {
	x, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	var or orNode
	for isKeyword(p.peek(), "or") {
		p.next()
		y, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if or == nil {
			or = appendFlat(or, x)
		}
		or = appendFlat(or, y)
	}
	if or == nil {
		return x, nil
	}
	return or, nil
}

func (p *parser) parseAnd() (node, error) {
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	var and andNode
	for isKeyword(p.peek(), "and") {
		p.next()
		y, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if and == nil {
			and = appendFlat(and, x)
		}
		and = appendFlat(and, y)
	}
	if and == nil {
		return x, nil
	}
	return and, nil
}

// appendFlat appends x to the operand list, splicing in x's operands when
// x is the same operator, so (a -and b) -and c and a -and (b -and c) both
// become one three-operand node.
func appendFlat[N orNode | andNode](list N, x node) N {
	if same, ok := x.(N); ok {
		return append(list, same...)
	}
	return append(list, x)
}

func (p *parser) parseUnary() (node, error) {
	if !isKeyword(p.peek(), "not") {
		return p.parsePrimary(`a property such as device.displayName or "("`)
	}
	p.next()
	// -not applies to one comparison or one parenthesised expression;
	// "-not -not" is rejected rather than guessed at.
	x, err := p.parsePrimary(`"(" or a property such as device.displayName after -not`)
	if err != nil {
		return nil, err
	}
	return notNode{x}, nil
}

func (p *parser) parsePrimary(want string) (node, error) {
	switch t := p.peek(); {
	case t.kind == tLParen:
		p.next()
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		switch t := p.peek(); t.kind {
		case tRParen:
			p.next()
			return x, nil
		case tEOF:
			return nil, unexpected(t, `")"`)
		default:
			return nil, unexpected(t, `-and, -or or ")"`)
		}
	case t.kind == tWord && !isKeyword(t, "not") && !isKeyword(t, "and") && !isKeyword(t, "or"):
		return p.parseComparison()
	default:
		return nil, unexpected(t, want)
	}
}

func (p *parser) parseComparison() (node, error) {
	pt := p.next()
	prop, err := p.property(pt)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(p.props, prop) {
		p.props = append(p.props, prop)
	}
	if prop == MemberOf && p.memberOfPos == 0 {
		p.memberOfPos = pt.pos
	}
	c := &comparison{prop: prop}

	ot := p.peek()
	if isKeyword(ot, "any") || isKeyword(ot, "all") {
		return c, p.parseQuantified(c)
	}
	o, ok := operator(ot)
	if !ok {
		return nil, unexpectedOperator(ot)
	}
	if prop == MemberOf {
		return nil, &SyntaxError{Pos: ot.pos,
			Msg: `device.memberOf takes -any or -all, as in device.memberOf -any (group.objectId -in ["…"])`}
	}
	p.next()
	c.op = o
	vt := p.peek()
	if err := p.parseValue(c, ot); err != nil {
		return nil, err
	}
	if prop == Ring {
		return c, p.checkRings(c, vt)
	}
	return c, nil
}

// checkRings refuses a ring compared for equality with a value that is no
// ring's name, which would match nothing: most likely a typing slip. vt is
// the value's first token.
func (p *parser) checkRings(c *comparison, vt token) error {
	if c.null || c.op.positive() != opEq && c.op.positive() != opIn {
		return nil
	}
	for _, v := range c.vals {
		if !slices.ContainsFunc(p.rings, func(r string) bool { return strings.EqualFold(r, v) }) {
			return &SyntaxError{Pos: vt.pos, Msg: fmt.Sprintf("unknown ring %q; the rings are %s", v, quotedList(p.rings))}
		}
	}
	return nil
}

// quotedList spells names as "a", "b" and "c".
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// parseQuantified reads `-any (item op value)` or `-all …`, the
// parentheses optional, as Microsoft's examples write it both ways.
func (p *parser) parseQuantified(c *comparison) error {
	qt := p.next()
	if c.prop.Kind() != KindCollection {
		return &SyntaxError{Pos: qt.pos, Msg: fmt.Sprintf(
			"%s applies only to the collections device.devicePhysicalIds, device.systemLabels and device.memberOf; %s is a single value",
			canonicalKeyword(qt), c.prop.written())}
	}
	c.quant = quantAny
	if isKeyword(qt, "all") {
		c.quant = quantAll
	}
	paren := p.peek().kind == tLParen
	if paren {
		p.next()
	}
	item := itemName(c.prop)
	it := p.next()
	if it.kind != tWord || !strings.EqualFold(it.text, item) {
		return unexpected(it, fmt.Sprintf("%s, the item of device.%s, after %s", item, c.prop, canonicalKeyword(qt)))
	}
	ot := p.peek()
	o, ok := operator(ot)
	if !ok {
		return unexpectedOperator(ot)
	}
	p.next()
	c.op = o
	if err := p.parseValue(c, ot); err != nil {
		return err
	}
	if paren {
		if t := p.next(); t.kind != tRParen {
			return unexpected(t, `")"`)
		}
	}
	return nil
}

// parseValue reads the value of c after its operator token ot.
func (p *parser) parseValue(c *comparison, ot token) error {
	vt := p.peek()
	if isNull(vt) {
		p.next()
		if c.op.positive() != opEq {
			return &SyntaxError{Pos: vt.pos, Msg: fmt.Sprintf("null can be compared only with -eq or -ne, found %s", c.op)}
		}
		c.null = true
		return nil
	}
	switch {
	case c.prop.Kind() == KindBool:
		if c.op.positive() != opEq {
			return &SyntaxError{Pos: ot.pos,
				Msg: fmt.Sprintf("device.%s takes only -eq or -ne, found %q", c.prop, ot.text)}
		}
		p.next()
		if vt.kind != tWord && vt.kind != tString {
			return unexpected(vt, "true or false")
		}
		v := strings.ToLower(vt.text)
		if vt.kind == tString {
			v = strings.ToLower(vt.val)
		}
		if v != "true" && v != "false" {
			return &SyntaxError{Pos: vt.pos,
				Msg: fmt.Sprintf("expected true or false for device.%s, found %s", c.prop, describe(vt))}
		}
		c.vals = []string{v}
	case c.op.takesList():
		vals, err := p.parseList(c.op)
		if err != nil {
			return err
		}
		c.vals = vals
	default:
		p.next()
		if vt.kind != tString {
			return unexpectedValue(vt)
		}
		c.vals = []string{vt.val}
		if c.op.positive() == opMatch {
			re, cost, err := compileRegexp(vt.val)
			if err == nil {
				p.regexpCost = p.regexpCost.add(cost)
				err = p.regexpCost.check()
			}
			if err != nil {
				return &SyntaxError{Pos: vt.pos, Msg: err.Error()}
			}
			c.re = re
		}
	}
	return nil
}

// isNull reports whether t is null or $null (PowerShell's spelling, which
// Microsoft's examples use too).
func isNull(t token) bool {
	return t.kind == tWord && (strings.EqualFold(t.text, "null") || strings.EqualFold(t.text, "$null"))
}

func (p *parser) parseList(o op) ([]string, error) {
	open := p.next()
	if open.kind != tLBrack {
		return nil, unexpected(open, fmt.Sprintf(`a list such as ["a","b"] after %s`, o))
	}
	if p.peek().kind == tRBrack {
		return nil, &SyntaxError{Pos: open.pos,
			Msg: fmt.Sprintf(`empty list; %s needs at least one string, such as ["a","b"]`, o)}
	}
	var vals []string
	for {
		vt := p.next()
		if vt.kind != tString {
			return nil, unexpectedValue(vt)
		}
		vals = append(vals, vt.val)
		switch t := p.next(); t.kind {
		case tComma:
		case tRBrack:
			return vals, nil
		default:
			return nil, unexpected(t, `"," or "]"`)
		}
	}
}

// property resolves a device.<name> token, or ring. Names are compared as
// Entra compares them: ignoring case, "device." included.
func (p *parser) property(t token) (Property, error) {
	if strings.EqualFold(t.text, string(Ring)) || strings.EqualFold(t.text, "device."+string(Ring)) {
		if p.filter {
			return Ring, nil
		}
		return "", &SyntaxError{Pos: t.pos,
			Msg: "ring can be read only by the advanced filter of the device blades, not by a group rule: " +
				"Patchboard assigns rings to the devices of the Device Registration group, so a group cannot be made of them"}
	}
	name, ok := cutPrefixFold(t.text, "device.")
	if ok {
		for _, p := range Properties {
			if strings.EqualFold(name, string(p)) {
				return p, nil
			}
		}
	}
	if !ok && !strings.Contains(t.text, ".") {
		for _, p := range Properties {
			if strings.EqualFold(t.text, string(p)) {
				return "", &SyntaxError{Pos: t.pos,
					Msg: fmt.Sprintf(`expected a property such as device.displayName, found %q; write "device.%s"`, t.text, p)}
			}
		}
		return "", &SyntaxError{Pos: t.pos,
			Msg: fmt.Sprintf(`expected a property such as device.displayName or "(", found %q`, t.text)}
	}
	return "", &SyntaxError{Pos: t.pos,
		Msg: fmt.Sprintf("unknown property %q; the device properties are %s", t.text, knownProperties)}
}

// knownProperties lists the properties for error messages, the fifteen
// extension attributes as one range.
var knownProperties = func() string {
	var names []string
	for _, p := range Properties {
		switch {
		case p == ExtensionAttribute(1):
			names = append(names, "device.extensionAttribute1 to device.extensionAttribute15")
		case strings.HasPrefix(string(p), "extensionAttribute"):
		default:
			names = append(names, "device."+string(p))
		}
	}
	return strings.Join(names, ", ")
}()

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// operator looks up a comparison operator written with or without its
// hyphen, ignoring case.
func operator(t token) (op, bool) {
	if t.kind != tDash && t.kind != tWord {
		return 0, false
	}
	for o, name := range opNames {
		if strings.EqualFold(t.name, name[1:]) {
			return op(o), true
		}
	}
	return 0, false
}

// canonicalKeyword spells a dashed or bare keyword token with its hyphen.
func canonicalKeyword(t token) string { return "-" + strings.ToLower(t.name) }

// unexpectedOperator explains a token where a comparison operator belongs.
func unexpectedOperator(t token) error {
	const want = "a comparison operator such as -eq"
	if t.kind != tDash && t.kind != tWord || isKeyword(t, "and") || isKeyword(t, "or") || isKeyword(t, "not") {
		return unexpected(t, want)
	}
	msg := fmt.Sprintf("unknown operator %q; expected one of %s, or -any or -all for a collection",
		t.text, strings.Join(opNames[:], " "))
	switch strings.ToLower(t.name) {
	case "like", "notlike":
		msg = fmt.Sprintf("%s is not supported; use -startsWith, -contains or -match instead", t.text)
	case "ge", "gt", "le", "lt":
		msg = fmt.Sprintf("%s is not supported for device properties; use -startsWith, -in or -match instead", t.text)
	}
	return &SyntaxError{Pos: t.pos, Msg: msg}
}

// unexpectedValue explains a token where a string literal belongs.
func unexpectedValue(t token) error {
	const want = "a string in quotes"
	if t.kind == tWord {
		switch strings.ToLower(t.text) {
		case "true", "false":
			return &SyntaxError{Pos: t.pos,
				Msg: fmt.Sprintf(`expected a string in quotes, found %s; only device.accountEnabled and device.isRooted take true or false`, t.text)}
		}
	}
	return unexpected(t, want)
}

// unexpected builds the error for token t where want was expected.
func unexpected(t token, want string) error {
	switch t.kind {
	case tEOF:
		return &SyntaxError{Pos: t.pos, Msg: "unexpected end of rule; expected " + want}
	case tUnterminated:
		return &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf(`unterminated string; expected a closing %c`, t.quote)}
	}
	return &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("expected %s, found %s", want, describe(t))}
}

// describe quotes a token for an error message, shortening long strings.
func describe(t token) string {
	switch t.kind {
	case tString:
		s := t.text
		if utf8.RuneCountInString(s) > 30 {
			s = string([]rune(s)[:29]) + `…`
		}
		return "the string " + s
	case tIllegal:
		return "character " + strconv.QuoteToGraphic(t.text)
	default:
		return strconv.Quote(t.text)
	}
}
