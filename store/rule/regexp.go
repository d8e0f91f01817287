package rule

import (
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Why -match needs more than regexp.Compile.
//
// Entra ID runs -match with .NET regular expressions: \w, \d and \s match
// Unicode letters, digits and spaces there, but ASCII only in Go, so
// translateDotNet rewrites them. .NET also backtracks, which allows
// lookaround and backreferences; Go's engine does not have them (its
// matching time is linear in the value), so such patterns are refused with
// that reason rather than misread.
//
// Linear in the value is not cheap enough, though: Go's cost per character
// grows with the number of the program's instructions that can be alive at
// one position. "(?:.?){1000}Q" is a short pattern with two thousand of them
// alive at every character; evaluated over 115,000 devices it took 34 s, and
// a saved rule slowed every page that counts members. A program's size is a
// poor guide (a list of twenty model names is large and fast), so
// measureRegexp explores the sets of instructions the program can reach, as
// a DFA construction would, and reports the largest: that bounds the work
// per character of the value, whatever the value. A rule's patterns
// together may keep at most maxRegexpWidth instructions alive; exploring
// stops, and the pattern is refused, once it costs more than a bounded
// amount of work.

// maxRegexpWidth bounds, summed over a rule's patterns, the instructions
// alive at one character. Ordinary patterns such as ^(AP|CPC)-\d{3,5}$
// keep fewer than ten alive, a list of twenty model names about fifteen;
// at the budget, a rule's -match costs a few microseconds per device (see
// BenchmarkPreviewRule/worst-regexp: a few hundred milliseconds of CPU over
// 100,000 devices).
const maxRegexpWidth = 24

// maxRegexpSize bounds the compiled size of a rule's -match patterns
// together, checked on the syntax tree before compiling: counted
// repetitions multiply (a{1000}a{1000}… fits in a short rule but compiles to
// hundreds of thousands of instructions, taking seconds to compile).
const maxRegexpSize = 10_000

// maxExploreWork bounds the work of measureRegexp, in instruction visits.
const maxExploreWork = 1_000_000

// regexpCost is what a rule's patterns cost per character of a value.
type regexpCost struct {
	size  int // estimated instructions
	width int // most instructions alive at one character
}

func (c regexpCost) add(d regexpCost) regexpCost {
	return regexpCost{size: c.size + d.size, width: c.width + d.width}
}

var errRegexpTooComplex = errors.New("regular expression is too complex to evaluate quickly over the directory; " +
	"use fewer patterns, fewer optional or repeated parts (such as .* or (.?){n}), or -startsWith, -contains and -in instead")

func (c regexpCost) check() error {
	if c.size > maxRegexpSize || c.width > maxRegexpWidth {
		return errRegexpTooComplex
	}
	return nil
}

// compileRegexp compiles a -match pattern as Entra evaluates it:
// case-insensitive, searched anywhere in the value, with .NET's Unicode
// classes. It refuses what Go cannot run and what would cost too much.
func compileRegexp(pattern string) (*regexp.Regexp, regexpCost, error) {
	translated, err := translateDotNet(pattern)
	if err != nil {
		return nil, regexpCost{}, err
	}
	tree, err := syntax.Parse(translated, syntax.Perl|syntax.FoldCase)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, regexpCost{}, fmt.Errorf("invalid regular expression: %s: %q", se.Code, se.Expr)
		}
		return nil, regexpCost{}, fmt.Errorf("invalid regular expression: %v", err)
	}
	cost := regexpCost{size: regexpSize(tree)}
	if cost.size > maxRegexpSize {
		return nil, cost, errRegexpTooComplex
	}
	prog, err := syntax.Compile(tree.Simplify())
	if err != nil {
		return nil, cost, fmt.Errorf("invalid regular expression: %v", err)
	}
	width, ok := measureRegexp(prog, maxRegexpWidth)
	if !ok {
		return nil, cost, errRegexpTooComplex
	}
	cost.width = width
	re, err := regexp.Compile("(?i)" + translated)
	if err != nil {
		return nil, cost, fmt.Errorf("invalid regular expression: %v", err)
	}
	return re, cost, nil
}

// .NET's classes, as Go classes (without the brackets).
const (
	dotNetWord  = `\p{L}\p{Mn}\p{Nd}\p{Pc}`
	dotNetSpace = `\t\n\v\f\r\x{85}\p{Z}`
)

// translateDotNet rewrites \w, \d and \s (and their negations) to the
// Unicode classes .NET gives them, and refuses lookaround, atomic groups
// and backreferences with a reason a person can act on.
func translateDotNet(p string) (string, error) {
	var b strings.Builder
	inClass := false
	classStart := 0 // index just after "[" or "[^": a "]" there is literal
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			e := p[i]
			switch {
			case e >= '1' && e <= '9', e == 'k' && i+1 < len(p) && (p[i+1] == '<' || p[i+1] == '\''):
				return "", errors.New(`invalid regular expression: backreferences such as \1 are not supported ` +
					`(patterns run in linear time); match the repeated text explicitly`)
			}
			class, ok := dotNetClass(e, inClass)
			if !ok {
				return "", fmt.Errorf(`invalid regular expression: \%c inside [...] is not supported; `+
					`write the class as [^...] instead`, e)
			}
			if class != "" {
				b.WriteString(class)
				continue
			}
			b.WriteByte('\\')
			b.WriteByte(e)
			continue
		case inClass:
			if c == ']' && i != classStart {
				inClass = false
			}
		case c == '[':
			inClass = true
			classStart = i + 1
			if i+1 < len(p) && p[i+1] == '^' {
				classStart = i + 2
			}
		case c == '(' && strings.HasPrefix(p[i:], "(?"):
			rest := p[i+2:]
			switch {
			case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"),
				strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, "<!"):
				return "", errors.New("invalid regular expression: lookahead and lookbehind ((?=…), (?!…), (?<=…), (?<!…)) " +
					"are not supported (patterns run in linear time); use -notMatch or another comparison joined with -and instead")
			case strings.HasPrefix(rest, ">"):
				return "", errors.New("invalid regular expression: atomic groups (?>…) are not supported; use a plain group (?:…)")
			}
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// dotNetClass returns the Go text for the escape \e: the .NET meaning of
// \w \W \d \D \s \S, or "" for an escape that means the same in Go. ok is
// false for a negated class inside brackets, which Go cannot combine.
func dotNetClass(e byte, inClass bool) (string, bool) {
	if inClass {
		switch e {
		case 'w':
			return dotNetWord, true
		case 'd':
			return `\p{Nd}`, true
		case 'D':
			return `\P{Nd}`, true
		case 's':
			return dotNetSpace, true
		case 'W', 'S':
			return "", false
		}
		return "", true
	}
	switch e {
	case 'w':
		return "[" + dotNetWord + "]", true
	case 'W':
		return "[^" + dotNetWord + "]", true
	case 'd':
		return `\p{Nd}`, true
	case 'D':
		return `\P{Nd}`, true
	case 's':
		return "[" + dotNetSpace + "]", true
	case 'S':
		return "[^" + dotNetSpace + "]", true
	}
	return "", true
}

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

// measureRegexp returns the largest set of instructions the program can
// have alive at one position of an unanchored search, over every possible
// value, or false when that is more than limit or finding out costs more
// than maxExploreWork.
//
// The sets are those of a DFA built from the program: the closure of the
// start (the search may start at any position), then, for each class of
// characters that the program's instructions tell apart, the closure of
// the instructions that consume it. Empty-width assertions other than a
// leading ^ ($, \b) are taken as always passing, so the sets may be larger
// than Go's, never smaller: the result is an upper bound.
func measureRegexp(prog *syntax.Prog, limit int) (int, bool) {
	reps := representativeRunes(prog)
	work := 0
	// mark[pc] == gen: pc is in the set being built.
	mark := make([]uint32, len(prog.Inst))
	gen := uint32(0)
	var stack []uint32
	// closure returns the instructions reachable from pcs without
	// consuming a character, sorted.
	closure := func(pcs []uint32, atStart bool) []uint32 {
		gen++
		stack = append(stack[:0], pcs...)
		var set []uint32
		for len(stack) > 0 {
			pc := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if mark[pc] == gen {
				continue
			}
			mark[pc] = gen
			set = append(set, pc)
			work++
			switch in := &prog.Inst[pc]; in.Op {
			case syntax.InstAlt, syntax.InstAltMatch:
				stack = append(stack, in.Out, in.Arg)
			case syntax.InstEmptyWidth:
				// Past the first character, ^ and \A never pass (values
				// hold no line breaks); Go does not even try them there.
				if atStart || syntax.EmptyOp(in.Arg)&(syntax.EmptyBeginText|syntax.EmptyBeginLine) == 0 {
					stack = append(stack, in.Out)
				}
			case syntax.InstCapture, syntax.InstNop:
				stack = append(stack, in.Out)
			}
		}
		slices.Sort(set)
		return set
	}
	var keyBuf []byte
	key := func(set []uint32) string {
		keyBuf = keyBuf[:0]
		for _, pc := range set {
			keyBuf = binary.AppendUvarint(keyBuf, uint64(pc))
		}
		return string(keyBuf)
	}

	start := closure([]uint32{uint32(prog.Start)}, true)
	known := map[string]bool{key(start): true}
	queue := [][]uint32{start}
	width := 0
	for len(queue) > 0 {
		set := queue[0]
		queue = queue[1:]
		width = max(width, len(set))
		if width > limit {
			return width, false
		}
		for _, r := range reps {
			var next []uint32
			for _, pc := range set {
				in := &prog.Inst[pc]
				switch in.Op {
				case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
					if in.MatchRune(r) {
						next = append(next, in.Out)
					}
				}
			}
			work += len(set)
			next = closure(append(next, uint32(prog.Start)), false)
			if k := key(next); !known[k] {
				known[k] = true
				queue = append(queue, next)
			}
			if work > maxExploreWork {
				return 0, false
			}
		}
	}
	return width, true
}

// representativeRunes returns one rune of each class of runes that the
// program's instructions cannot tell apart: the runes where some
// instruction's ranges start or end, each with its case-folding orbit for
// an instruction that folds case.
func representativeRunes(prog *syntax.Prog) []rune {
	reps := []rune{0, '\n', '\n' + 1}
	add := func(r rune) {
		if r >= 0 && r <= unicode.MaxRune {
			reps = append(reps, r)
		}
	}
	for i := range prog.Inst {
		in := &prog.Inst[i]
		switch in.Op {
		case syntax.InstRune1:
			add(in.Rune[0])
			add(in.Rune[0] + 1)
		case syntax.InstRune:
			if len(in.Rune) == 1 {
				r0 := in.Rune[0]
				add(r0)
				add(r0 + 1)
				if syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
					for r := unicode.SimpleFold(r0); r != r0; r = unicode.SimpleFold(r) {
						add(r)
						add(r + 1)
					}
				}
				continue
			}
			for j := 0; j+1 < len(in.Rune); j += 2 {
				add(in.Rune[j])
				add(in.Rune[j+1] + 1)
			}
		}
	}
	slices.Sort(reps)
	reps = slices.Compact(reps)
	// Runes that every instruction treats alike need one representative.
	var out []rune
	seen := map[string]bool{}
	var sig []byte
	for _, r := range reps {
		if !utf8.ValidRune(r) {
			// A surrogate cannot occur in a value: its class starts at
			// the first rune after the surrogates.
			r = 0xE000
		}
		sig = sig[:0]
		for i := range prog.Inst {
			in := &prog.Inst[i]
			switch in.Op {
			case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
				if in.MatchRune(r) {
					sig = append(sig, 1)
				} else {
					sig = append(sig, 0)
				}
			}
		}
		if !seen[string(sig)] {
			seen[string(sig)] = true
			out = append(out, r)
		}
	}
	return out
}

// WorstAcceptedPattern is a -match pattern at the edge of the budget: every
// character of every value keeps about maxRegexpWidth instructions alive.
// Benchmarks use it to show what the most expensive rule costs.
const WorstAcceptedPattern = `(?:.?){10}Q`
