// Package expr is Riposte's condition language for playbooks: the subset of
// STIX patterning that CACAO 2.0 conditions use (cacao.md §6), with a few
// Riposte extensions. It is used by if-condition and while-condition steps
// and by trigger conditions.
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
	"strconv"
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
	p := &parser{toks: toks, types: types, src: src}
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &SyntaxError{t.start, fmt.Sprintf("unexpected %s", p.describe(t))}
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
	toks  []token
	pos   int
	types map[string]string
	refs  []string
	src   string
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) describe(t token) string {
	if t.kind == tEOF {
		return "end of condition"
	}
	return strconv.Quote(p.src[t.start:t.end])
}

func (p *parser) isKw(w string) bool {
	t := p.peek()
	return t.kind == tKeyword && t.text == w
}

func (p *parser) expr(depth int) (node, error) {
	if depth > MaxDepth {
		return nil, &SyntaxError{p.peek().start, fmt.Sprintf("nesting deeper than %d", MaxDepth)}
	}
	var xs []node
	for {
		t, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		xs = append(xs, t)
		if !p.isKw("OR") {
			break
		}
		p.next()
	}
	if len(xs) == 1 {
		return xs[0], nil
	}
	return &orNode{xs}, nil
}

func (p *parser) term(depth int) (node, error) {
	var xs []node
	for {
		f, err := p.factor(depth)
		if err != nil {
			return nil, err
		}
		xs = append(xs, f)
		if !p.isKw("AND") {
			break
		}
		p.next()
	}
	if len(xs) == 1 {
		return xs[0], nil
	}
	return &andNode{xs}, nil
}

func (p *parser) factor(depth int) (node, error) {
	if depth > MaxDepth {
		return nil, &SyntaxError{p.peek().start, fmt.Sprintf("nesting deeper than %d", MaxDepth)}
	}
	t := p.peek()
	switch {
	case t.kind == tKeyword && t.text == "NOT":
		p.next()
		x, err := p.factor(depth + 1)
		if err != nil {
			return nil, err
		}
		return &notNode{x}, nil
	case t.kind == tLParen || t.kind == tLBrack:
		p.next()
		x, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		want := tRParen
		if t.kind == tLBrack {
			want = tRBrack
		}
		if c := p.next(); c.kind != want {
			return nil, &SyntaxError{c.start, fmt.Sprintf("expected %q, found %s", map[tokKind]string{tRParen: ")", tRBrack: "]"}[want], p.describe(c))}
		}
		return x, nil
	case t.kind == tKeyword && (t.text == "TRUE" || t.text == "FALSE"):
		p.next()
		return &constNode{t.text == "TRUE"}, nil
	case t.kind == tKeyword && t.text == "EXISTS":
		p.next()
		o, err := p.operand()
		if err != nil {
			return nil, err
		}
		return &existsNde{o}, nil
	case t.kind == tVar || t.kind == tIdent:
		return p.test()
	}
	return nil, &SyntaxError{t.start, fmt.Sprintf("expected a comparison, found %s", p.describe(t))}
}

func (p *parser) operand() (*operand, error) {
	t := p.next()
	if t.kind != tVar && t.kind != tIdent {
		return nil, &SyntaxError{t.start, fmt.Sprintf("expected a variable (__name__:value), found %s", p.describe(t))}
	}
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

var opNames = map[string]string{"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

func (p *parser) test() (node, error) {
	lhs, err := p.operand()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	neg := false
	if t.kind == tKeyword && t.text == "NOT" {
		p.next()
		neg = true
		t = p.peek()
	}
	var op string
	switch {
	case t.kind == tOp:
		op = opNames[t.text]
	case t.kind == tKeyword && (t.text == "IN" || t.text == "LIKE" || t.text == "MATCHES" || t.text == "ISSUBSET" || t.text == "ISSUPERSET" || t.text == "CONTAINS"):
		op = t.text
	default:
		if neg {
			return nil, &SyntaxError{t.start, fmt.Sprintf("expected an operator after NOT, found %s", p.describe(t))}
		}
		return &truthNode{lhs}, nil
	}
	p.next()
	tn := &testNode{lhs: lhs, op: op, neg: neg}
	if op == "IN" {
		if c := p.next(); c.kind != tLParen {
			return nil, &SyntaxError{c.start, "IN needs a list: IN ('a', 'b')"}
		}
		for {
			if len(tn.list) >= MaxList {
				return nil, &SyntaxError{p.peek().start, fmt.Sprintf("IN list longer than %d", MaxList)}
			}
			l, err := p.literal()
			if err != nil {
				return nil, err
			}
			tn.list = append(tn.list, l)
			c := p.next()
			if c.kind == tRParen {
				break
			}
			if c.kind != tComma {
				return nil, &SyntaxError{c.start, fmt.Sprintf("expected ',' or ')' in IN list, found %s", p.describe(c))}
			}
		}
		return tn, nil
	}
	if r := p.peek(); r.kind == tVar || r.kind == tIdent {
		if op == "LIKE" || op == "MATCHES" {
			return nil, &SyntaxError{r.start, op + " needs a literal pattern"}
		}
		rop, err := p.operand()
		if err != nil {
			return nil, err
		}
		tn.rop = rop
		return tn, nil
	}
	lit, err := p.literal()
	if err != nil {
		return nil, err
	}
	tn.lit = lit
	switch op {
	case "LIKE":
		if lit.kind != lString {
			return nil, &SyntaxError{t.start, "LIKE needs a string pattern"}
		}
		tn.re, err = regexp.Compile("(?s)^" + likeToRE(lit.s) + "$")
		if err != nil {
			return nil, &SyntaxError{t.start, "bad LIKE pattern: " + err.Error()}
		}
	case "MATCHES":
		if lit.kind != lString {
			return nil, &SyntaxError{t.start, "MATCHES needs a string (RE2 regular expression)"}
		}
		tn.re, err = regexp.Compile(lit.s)
		if err != nil {
			return nil, &SyntaxError{t.start, "bad regular expression: " + err.Error()}
		}
	case "ISSUBSET", "ISSUPERSET":
		if lit.kind != lString {
			return nil, &SyntaxError{t.start, op + " needs an address or CIDR string"}
		}
		if _, ok := parsePrefix(lit.s); !ok {
			return nil, &SyntaxError{t.start, fmt.Sprintf("%q is not an IP address or CIDR", lit.s)}
		}
	}
	return tn, nil
}

func (p *parser) literal() (*literal, error) {
	t := p.next()
	st := t.st
	if t.kind == tKeyword {
		st = stixpattern.Token{Kind: stixpattern.Ident, Text: t.text, Pos: t.start}
	}
	l, ok, err := stixpattern.LiteralOf(st)
	if err != nil {
		return nil, syntaxError(err)
	}
	if ok {
		switch l.Kind {
		case stixpattern.String:
			return &literal{kind: lString, s: l.Text}, nil
		case stixpattern.Int, stixpattern.Float:
			return &literal{kind: lNumber, s: l.Text, i: l.Int, isInt: l.IsInt, f: l.Float}, nil
		case stixpattern.Bool:
			return &literal{kind: lBool, b: l.Bool}, nil
		case stixpattern.Timestamp:
			return &literal{kind: lTime, t: l.Time, s: l.Text}, nil
		case stixpattern.Hex, stixpattern.Binary:
			return &literal{kind: lBytes, raw: l.Bytes, s: l.Text}, nil
		}
	}
	return nil, &SyntaxError{t.start, fmt.Sprintf("expected a literal, found %s", p.describe(t))}
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
