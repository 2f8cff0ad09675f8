// Package expr is Riposte's condition language for playbooks: the subset of
// STIX patterning that CACAO 2.0 conditions use (cacao.md §6), with a few
// Riposte extensions. It is used by if-condition and while-condition steps
// and by trigger conditions. The lexer, literals and comparison grammar are
// the ones STIX indicators are read with (internal/stixpattern); this
// package adds variables, dictionary paths and the evaluator.
//
//	expr    = term { OR term }
//	term    = factor { AND factor }
//	factor  = NOT factor | "(" expr ")" | "[" expr "]" | TRUE | FALSE | test
//	test    = EXISTS operand
//	        | operand [NOT] op rhs
//	        | operand                          ; truth test of a boolean (Riposte)
//	op      = = | == | != | <> | < | <= | > | >= | IN | LIKE | MATCHES
//	        | ISSUBSET | ISSUPERSET | CONTAINS  ; CONTAINS: Riposte
//	rhs     = literal | operand | "(" literal { "," literal } ")"   ; list only for IN
//	operand = __name__:value [path] | name [path]   ; bare name = __name__:value when declared
//	path    = { "." key | ".'key'" | "[" n "]" | "['key']" }        ; into dictionaries and lists
//	literal = 'string' | int | float | true | false | t'RFC3339' | h'hex' | b'base64'
//
// Keywords are case-insensitive. Strings use single quotes with \' and \\.
// STIX observation operators (FOLLOWEDBY, WITHIN, REPEATS, START/STOP) are
// refused.
//
// Safety: a condition is compiled once (Compile) and evaluated many times
// (Eval). The language has no loops, no function calls and no assignment;
// regular expressions are RE2 (linear time) and compiled at compile time;
// source size, token count, nesting and list sizes are capped (MaxSource,
// MaxTokens, MaxDepth, MaxList), so both compilation and evaluation take
// time bounded by the size of the condition and of the values it reads.
//
// Semantics: a variable that is unset (nil, absent) makes every comparison
// false except the negative ones (!=, <>, NOT op), and EXISTS false. Values
// compare by their declared CACAO type when the program was compiled with
// types (CompileTyped): numbers numerically, ipv4-addr/ipv6-addr as
// addresses (ISSUBSET / ISSUPERSET: CIDR containment), hashes
// case-insensitively, strings case-sensitively. Without types the literal
// decides: a number literal compares numerically (CACAO values are strings,
// so "42" = 42), a string literal as text. A value that cannot be compared
// (e.g. "abc" > 5) is an evaluation error, never a silent false.
package expr

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/internal/stixpattern"
)

// Program is a compiled condition.
type Program struct {
	src  string
	root node
	refs []string
}

type node interface{}

type (
	orNode    struct{ xs []node }
	andNode   struct{ xs []node }
	notNode   struct{ x node }
	constNode struct{ v bool }
	existsNde struct{ o *operand }
	truthNode struct{ o *operand }
	testNode  struct {
		lhs  *operand
		op   string // canonical: = != < <= > >= IN LIKE MATCHES ISSUBSET ISSUPERSET CONTAINS
		neg  bool
		lit  *literal   // single literal rhs
		rop  *operand   // operand rhs
		list []*literal // IN
		re   *regexp.Regexp
	}
)

type operand struct {
	name string // canonical __name__
	path []pathElem
	typ  string // declared CACAO type, "" when unknown
}

type litKind int

const (
	lString litKind = iota
	lNumber
	lBool
	lTime
	lBytes
)

type literal struct {
	kind  litKind
	s     string // string; original text for numbers
	f     float64
	i     int64
	isInt bool
	b     bool
	t     time.Time
	raw   []byte
}

// Compile parses a condition. vars lists the declared variables (`__x__`
// or `x`); a reference to anything else is an error. A nil vars skips that
// check (any name is accepted).
func Compile(src string, vars []string) (*Program, error) {
	var types map[string]string
	if vars != nil {
		types = make(map[string]string, len(vars))
		for _, v := range vars {
			types[canonName(v)] = ""
		}
	}
	return compile(src, types)
}

// CompileTyped is Compile with the declared type of every variable
// (`__x__` → CACAO variable type), so comparisons follow the types.
func CompileTyped(src string, types map[string]string) (*Program, error) {
	t := make(map[string]string, len(types))
	for k, v := range types {
		t[canonName(k)] = v
	}
	return compile(src, t)
}

// canonName turns `x` or `__x__` into `__x__`.
func canonName(v string) string {
	if len(v) > 4 && strings.HasPrefix(v, "__") && strings.HasSuffix(v, "__") {
		return v
	}
	return "__" + v + "__"
}

func compile(src string, types map[string]string) (*Program, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{types: types}
	// The comparison grammar is STIX's, read by the shared parser; a
	// variable or bare name reaches it as one operand token.
	shared := make([]stixpattern.Token, len(toks))
	for i := range toks {
		t := &toks[i]
		switch t.kind {
		case tEOF:
			shared[i] = stixpattern.Token{Kind: stixpattern.EOF, Pos: t.start, End: t.end}
		case tKeyword:
			shared[i] = stixpattern.Token{Kind: stixpattern.Ident, Text: t.text, Pos: t.start, End: t.end}
		case tVar, tIdent:
			shared[i] = stixpattern.Token{Kind: stixpattern.Ident, Text: t.text, Pos: t.start, End: t.end, Aux: t}
		default:
			shared[i] = t.st
		}
	}
	sp := &stixpattern.Parser{Src: src, Toks: shared, G: &stixpattern.Grammar{
		IsOperand:  func(t stixpattern.Token) bool { return t.Aux != nil },
		Operand:    p.operand,
		Conditions: true,
		MaxDepth:   MaxDepth,
		MaxList:    MaxList,
		Noun:       "condition",
	}}
	c, err := sp.Or(0)
	if err != nil {
		return nil, syntaxError(err)
	}
	if t := sp.Peek(); t.Kind != stixpattern.EOF {
		return nil, &SyntaxError{t.Pos, fmt.Sprintf("unexpected %s", sp.Describe(t))}
	}
	root, err := toNode(c)
	if err != nil {
		return nil, err
	}
	prog := &Program{src: src, root: root}
	seen := map[string]bool{}
	for _, r := range p.refs {
		if !seen[r] {
			seen[r] = true
			prog.refs = append(prog.refs, r)
		}
	}
	return prog, nil
}

// String returns the source of the condition.
func (p *Program) String() string { return p.src }

// Vars returns the variables the condition reads (`__x__`), in order of
// first use.
func (p *Program) Vars() []string { return append([]string(nil), p.refs...) }

type parser struct {
	types map[string]string
	refs  []string
}

// operand reads a variable or bare name for the shared parser.
func (p *parser) operand(sp *stixpattern.Parser) (any, error) {
	st := sp.Peek()
	t, ok := st.Aux.(*token)
	if !ok {
		return nil, &SyntaxError{st.Pos, fmt.Sprintf("expected a variable (__name__:value), found %s", sp.Describe(st))}
	}
	sp.Next()
	name := t.text
	if t.kind == tIdent {
		name = canonName(t.text)
	}
	o := &operand{name: name, path: t.path}
	if p.types != nil {
		typ, ok := p.types[name]
		if !ok {
			if t.kind == tIdent {
				return nil, &SyntaxError{t.start, fmt.Sprintf("unknown name %q (no variable %s is declared)", t.text, name)}
			}
			return nil, &SyntaxError{t.start, fmt.Sprintf("variable %s is not declared", name)}
		}
		o.typ = typ
	}
	p.refs = append(p.refs, name)
	return o, nil
}

// toNode takes a parsed comparison into the evaluator's tree, compiling
// LIKE and MATCHES patterns and checking addresses once.
func toNode(c *stixpattern.Cmp) (node, error) {
	switch c.Kind {
	case stixpattern.CmpOr, stixpattern.CmpAnd:
		xs := make([]node, len(c.Kids))
		for i, k := range c.Kids {
			x, err := toNode(k)
			if err != nil {
				return nil, err
			}
			xs[i] = x
		}
		if c.Kind == stixpattern.CmpOr {
			return &orNode{xs}, nil
		}
		return &andNode{xs}, nil
	case stixpattern.CmpNot:
		x, err := toNode(c.Kids[0])
		if err != nil {
			return nil, err
		}
		return &notNode{x}, nil
	case stixpattern.CmpConst:
		return &constNode{c.Value}, nil
	case stixpattern.CmpExists:
		return &existsNde{c.Operand.(*operand)}, nil
	case stixpattern.CmpTruth:
		return &truthNode{c.Operand.(*operand)}, nil
	}
	tn := &testNode{lhs: c.Operand.(*operand), op: c.Op, neg: c.Neg}
	if c.RHS != nil {
		tn.rop = c.RHS.(*operand)
		return tn, nil
	}
	for _, l := range c.Lits {
		tn.list = append(tn.list, fromLiteral(l))
	}
	if c.Op == "IN" {
		return tn, nil
	}
	tn.lit, tn.list = tn.list[0], nil
	var err error
	switch c.Op {
	case "LIKE":
		tn.re, err = regexp.Compile("(?s)^" + likeToRE(tn.lit.s) + "$")
		if err != nil {
			return nil, &SyntaxError{c.Pos, "bad LIKE pattern: " + err.Error()}
		}
	case "MATCHES":
		tn.re, err = regexp.Compile(tn.lit.s)
		if err != nil {
			return nil, &SyntaxError{c.Pos, "bad regular expression: " + err.Error()}
		}
	case "ISSUBSET", "ISSUPERSET":
		if _, ok := parsePrefix(tn.lit.s); !ok {
			return nil, &SyntaxError{c.Pos, fmt.Sprintf("%q is not an IP address or CIDR", tn.lit.s)}
		}
	}
	return tn, nil
}

// fromLiteral takes a decoded STIX literal into the evaluator's form.
func fromLiteral(l stixpattern.Literal) *literal {
	switch l.Kind {
	case stixpattern.Int, stixpattern.Float:
		return &literal{kind: lNumber, s: l.Text, i: l.Int, isInt: l.IsInt, f: l.Float}
	case stixpattern.Bool:
		return &literal{kind: lBool, b: l.Bool}
	case stixpattern.Timestamp:
		return &literal{kind: lTime, t: l.Time, s: l.Text}
	case stixpattern.Hex, stixpattern.Binary:
		return &literal{kind: lBytes, raw: l.Bytes, s: l.Text}
	}
	return &literal{kind: lString, s: l.Text}
}

// likeToRE converts an SQL LIKE pattern (% any run, _ one character).
func likeToRE(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	return b.String()
}

func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// Canonical rewrites bare names of declared variables (`x`, `x.key`) and
// `__x__` without `:value` to the CACAO form `__x__:value`, leaving
// everything else byte for byte. A nil vars rewrites every bare name. It
// reports whether anything changed.
func Canonical(src string, vars []string) (string, bool, error) {
	toks, err := lex(src)
	if err != nil {
		return src, false, err
	}
	declared := declaredSet(vars)
	var b strings.Builder
	last := 0
	changed := false
	for _, t := range toks {
		switch {
		case t.kind == tIdent && (declared == nil || declared[canonName(t.text)]):
			b.WriteString(src[last:t.start])
			b.WriteString(canonName(t.text) + ":value")
			last = t.rootEnd
			changed = true
		case t.kind == tVar && !t.hasValue:
			b.WriteString(src[last:t.rootEnd])
			b.WriteString(":value")
			last = t.rootEnd
			changed = true
		}
	}
	b.WriteString(src[last:])
	return b.String(), changed, nil
}

// Short rewrites `__x__:value` to the bare name `x` wherever that reads back
// the same (x is a plain name, not a keyword, and declared when vars is not
// nil). It is the inverse of Canonical for display in Riposte YAML.
func Short(src string, vars []string) string {
	toks, err := lex(src)
	if err != nil {
		return src
	}
	declared := declaredSet(vars)
	var b strings.Builder
	last := 0
	for _, t := range toks {
		if t.kind != tVar || !t.hasValue {
			continue
		}
		bare := t.text[2 : len(t.text)-2]
		if !ShortNameOK(bare) || (declared != nil && !declared[t.text]) {
			continue
		}
		if t.rootEnd < len(src) && isNameChar(src[t.rootEnd]) {
			continue
		}
		b.WriteString(src[last:t.start])
		b.WriteString(bare)
		last = t.rootEnd
	}
	b.WriteString(src[last:])
	return b.String()
}

// ShortNameOK reports whether a bare name reads back as the variable
// `__name__`.
func ShortNameOK(bare string) bool {
	if bare == "" || IsKeyword(bare) || bare == "t" || bare == "h" || bare == "b" {
		return false
	}
	if strings.HasPrefix(bare, "__") || !isNameStart(bare[0]) {
		return false
	}
	for i := 0; i < len(bare); i++ {
		if !isNameChar(bare[i]) {
			return false
		}
	}
	return true
}

func declaredSet(vars []string) map[string]bool {
	if vars == nil {
		return nil
	}
	m := make(map[string]bool, len(vars))
	for _, v := range vars {
		m[canonName(v)] = true
	}
	return m
}

// References lists the variables (`__x__`) a condition reads, bare names
// included, without checking declarations.
func References(src string) ([]string, error) {
	p, err := compile(src, nil)
	if err != nil {
		return nil, err
	}
	return p.Vars(), nil
}
