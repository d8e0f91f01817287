package rule

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Parse parses a membership rule. Every rejection is a *SyntaxError with the
// position and what was expected; for -match and -notMatch the pattern is
// compiled here (as a case-insensitive, unanchored Go regular expression),
// so Match cannot fail.
func Parse(src string) (*Rule, error) {
	if n := utf8.RuneCountInString(src); n > MaxLength {
		return nil, &SyntaxError{Pos: MaxLength + 1,
			Msg: fmt.Sprintf("rule is %d characters long; the maximum is %d", n, MaxLength)}
	}
	return parse(src)
}

// parse is Parse without the length limit; the tests use it to re-parse
// canonical forms that grew past MaxLength.
func parse(src string) (*Rule, error) {
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
	p := &parser{toks: lex(src)}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, unexpected(t, "-and or -or")
	}
	return &Rule{root: root, props: p.props}, nil
}

// tokKind classifies a token.
type tokKind uint8

const (
	tEOF          tokKind = iota
	tWord                 // device.displayName, true, null, any other bare word
	tDash                 // a dash and letters: -eq, -and, -foo
	tString               // a complete "…" literal
	tUnterminated         // a " literal that reaches the end of the rule
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
	val  string // unescaped value of a tString
}

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
			t.kind, t.val, i, pos = lexString(src, i, pos)
		case r == '-' && i+1 < len(src) && isLetter(src[i+1:]):
			t.kind = tDash
			i, pos = i+1, pos+1
			i, pos = skipWord(src, i, pos)
		case isWordRune(r):
			t.kind = tWord
			i, pos = skipWord(src, i, pos)
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

// lexString reads the literal starting at the quote src[i]. Only \" and \\
// are escapes; any other backslash is kept as written, so regular
// expressions such as "^AP\d+$" need no doubling.
func lexString(src string, i, pos int) (kind tokKind, val string, end, endPos int) {
	var b strings.Builder
	i, pos = i+1, pos+1
	start := i
	escaped := false
	for i < len(src) {
		c := src[i]
		switch {
		case c == '"':
			if !escaped {
				return tString, src[start:i], i + 1, pos + 1
			}
			return tString, b.String(), i + 1, pos + 1
		case c == '\\' && i+1 < len(src) && (src[i+1] == '"' || src[i+1] == '\\'):
			if !escaped {
				escaped = true
				b.WriteString(src[start:i])
			}
			b.WriteByte(src[i+1])
			i, pos = i+2, pos+2
			continue
		}
		_, n := utf8.DecodeRuneInString(src[i:])
		if escaped {
			b.WriteString(src[i : i+n])
		}
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

// parser is a recursive-descent parser over the grammar
//
//	or      = and { "-or" and }
//	and     = unary { "-and" unary }
//	unary   = "-not" primary | primary
//	primary = "(" or ")" | comparison
//	compare = "device." property operator ( string | "[" string { "," string } "]" | true | false )
type parser struct {
	toks  []token
	i     int
	props []Property
	// regexpSize sums the sizes of the rule's patterns so far; the sum is
	// bounded by maxRegexpSize, because Match runs every pattern.
	regexpSize int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// isDash reports whether t is the dashed keyword word, ignoring case.
func isDash(t token, word string) bool {
	return t.kind == tDash && strings.EqualFold(t.text, word)
}

func (p *parser) parseOr() (node, error) {
	x, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	var or orNode
	for isDash(p.peek(), "-or") {
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
	for isDash(p.peek(), "-and") {
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
	if !isDash(p.peek(), "-not") {
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
	switch t := p.peek(); t.kind {
	case tLParen:
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
	case tWord:
		return p.parseComparison()
	default:
		return nil, unexpected(t, want)
	}
}

func (p *parser) parseComparison() (node, error) {
	pt := p.next()
	prop, err := property(pt)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(p.props, prop) {
		p.props = append(p.props, prop)
	}

	ot := p.peek()
	o, ok := operator(ot.text)
	if ot.kind != tDash || !ok {
		return nil, unexpectedOperator(ot)
	}
	p.next()
	c := &comparison{prop: prop, op: o}

	switch {
	case prop == AccountEnabled:
		if o.positive() != opEq {
			return nil, &SyntaxError{Pos: ot.pos,
				Msg: fmt.Sprintf("device.accountEnabled takes only -eq or -ne, found %q", ot.text)}
		}
		vt := p.next()
		if vt.kind != tWord && vt.kind != tString {
			return nil, unexpected(vt, "true or false")
		}
		v := strings.ToLower(vt.text)
		if vt.kind == tString {
			v = strings.ToLower(vt.val)
		}
		if v != "true" && v != "false" {
			return nil, &SyntaxError{Pos: vt.pos,
				Msg: fmt.Sprintf("expected true or false for device.accountEnabled, found %s", describe(vt))}
		}
		c.vals = []string{v}
	case o.takesList():
		vals, err := p.parseList(o)
		if err != nil {
			return nil, err
		}
		c.vals = vals
	default:
		vt := p.next()
		if vt.kind != tString {
			return nil, unexpectedValue(vt)
		}
		c.vals = []string{vt.val}
		if o.positive() == opMatch {
			re, err := p.compileRegexp(vt.val)
			if err != nil {
				return nil, &SyntaxError{Pos: vt.pos, Msg: err.Error()}
			}
			c.re = re
		}
	}
	return c, nil
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

// compileRegexp compiles a -match pattern case-insensitively. The pattern is
// checked on its own first so the error quotes what the user wrote, not
// the (?i) prefix added here.
func (p *parser) compileRegexp(pattern string) (*regexp.Regexp, error) {
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("invalid regular expression: %s: %q", se.Code, se.Expr)
		}
		return nil, fmt.Errorf("invalid regular expression: %v", err)
	}
	p.regexpSize += regexpSize(tree)
	if p.regexpSize > maxRegexpSize {
		return nil, errors.New("regular expression is too complex; use fewer patterns or smaller repetition counts such as {3,5}")
	}
	re, err := regexp.Compile("(?i)" + pattern)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %v", err)
	}
	return re, nil
}

// maxRegexpSize bounds the compiled size of a rule's -match patterns
// together. Counted repetitions multiply (a{1000}a{1000}… fits in a short
// rule but compiles to hundreds of thousands of instructions, taking seconds
// to compile and making every Match slow); realistic patterns are a few dozen.
const maxRegexpSize = 10_000

// regexpSize estimates the number of instructions re compiles to, stopping
// early once it exceeds maxRegexpSize.
func regexpSize(re *syntax.Regexp) int {
	n := 1
	for _, sub := range re.Sub {
		n += regexpSize(sub)
		if n > maxRegexpSize {
			return n
		}
	}
	if re.Op == syntax.OpRepeat {
		times := max(re.Max, re.Min, 1)
		if n > maxRegexpSize/times {
			return maxRegexpSize + 1
		}
		n *= times
	}
	return n
}

// property resolves a device.<name> token.
func property(t token) (Property, error) {
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
		if kw := keywordHint(t.text); kw != "" {
			return "", &SyntaxError{Pos: t.pos,
				Msg: fmt.Sprintf(`expected a property such as device.displayName or "(", found %q; write %q`, t.text, kw)}
		}
		return "", &SyntaxError{Pos: t.pos,
			Msg: fmt.Sprintf(`expected a property such as device.displayName or "(", found %q`, t.text)}
	}
	names := make([]string, len(Properties))
	for i, p := range Properties {
		names[i] = "device." + string(p)
	}
	return "", &SyntaxError{Pos: t.pos,
		Msg: fmt.Sprintf("unknown property %q; allowed properties are %s", t.text, strings.Join(names, ", "))}
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// operator looks up a comparison operator, ignoring case.
func operator(text string) (op, bool) {
	for o, name := range opNames {
		if strings.EqualFold(text, name) {
			return op(o), true
		}
	}
	return 0, false
}

// unexpectedOperator explains a token where a comparison operator belongs.
func unexpectedOperator(t token) error {
	const want = "a comparison operator such as -eq"
	if t.kind != tDash || isDash(t, "-and") || isDash(t, "-or") || isDash(t, "-not") {
		return unexpected(t, want)
	}
	msg := fmt.Sprintf("unknown operator %q; expected one of %s", t.text, strings.Join(opNames[:], " "))
	switch strings.ToLower(t.text) {
	case "-like", "-notlike":
		msg = fmt.Sprintf("%s is not supported; use -startsWith, -contains or -match instead", t.text)
	case "-any", "-all":
		msg = fmt.Sprintf("%s is not supported: no device property of a rule is a collection", t.text)
	}
	return &SyntaxError{Pos: t.pos, Msg: msg}
}

// unexpectedValue explains a token where a string literal belongs.
func unexpectedValue(t token) error {
	const want = "a string in double quotes"
	if t.kind == tWord {
		switch strings.ToLower(t.text) {
		case "null":
			return &SyntaxError{Pos: t.pos,
				Msg: `null is not supported; to test for an empty value compare with "" (for example -eq "")`}
		case "true", "false":
			return &SyntaxError{Pos: t.pos,
				Msg: fmt.Sprintf(`expected a string in double quotes, found %s; only device.accountEnabled takes true or false without quotes`, t.text)}
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
		return &SyntaxError{Pos: t.pos, Msg: `unterminated string; expected a closing "`}
	}
	msg := fmt.Sprintf("expected %s, found %s", want, describe(t))
	if t.kind == tWord {
		if kw := keywordHint(t.text); kw != "" {
			msg += fmt.Sprintf("; write %q", kw)
		}
	}
	return &SyntaxError{Pos: t.pos, Msg: msg}
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

// keywordHint returns the dashed keyword a bare word was probably meant to
// be ("and" → "-and"), or "".
func keywordHint(word string) string {
	for _, kw := range []string{"-and", "-or", "-not"} {
		if strings.EqualFold(word, kw[1:]) {
			return kw
		}
	}
	if o, ok := operator("-" + word); ok {
		return o.String()
	}
	return ""
}
