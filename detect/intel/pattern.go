package intel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/riposte-soar/riposte/internal/stixpattern"
)

// This file parses the STIX 2.1 patterning language over the
// lexer and literal decoder in internal/stixpattern, which playbook
// conditions share; it also accepts the 2.0 forms with a warning. Riposte uses
// it to find tier-1 patterns (one lookup per literal); everything the
// parser accepts but the index cannot look up is kept as a "pattern"
// indicator for context.

// Tokens and literals come from the shared STIX lexer, which the playbook
// condition language uses too.
type tokKind = stixpattern.Kind

const (
	tEOF       = stixpattern.EOF
	tIdent     = stixpattern.Ident
	tString    = stixpattern.String
	tTimestamp = stixpattern.Timestamp
	tHex       = stixpattern.Hex
	tBinary    = stixpattern.Binary
	tInt       = stixpattern.Int
	tFloat     = stixpattern.Float
	tLBrack    = stixpattern.LBrack
	tRBrack    = stixpattern.RBrack
	tLParen    = stixpattern.LParen
	tRParen    = stixpattern.RParen
	tComma     = stixpattern.Comma
	tColon     = stixpattern.Colon
	tDot       = stixpattern.Dot
	tStar      = stixpattern.Star
	tOp        = stixpattern.Op
)

type token struct {
	kind tokKind
	text string // identifier, operator, decoded literal
	pos  int
}

// maxPatternLen and maxPatternDepth bound the work one hostile pattern can
// cause.
const (
	maxPatternLen   = 64 << 10
	maxPatternDepth = 64
)

type patError struct {
	pos int
	msg string
}

func (e *patError) Error() string { return fmt.Sprintf("offset %d: %s", e.pos, e.msg) }

// lexPattern returns the tokens twice: in this parser's form and in the
// shared one, for the comparison parser in internal/stixpattern.
func lexPattern(s string) ([]token, []stixpattern.Token, error) {
	var toks []token
	var shared []stixpattern.Token
	for i := 0; ; {
		t, err := stixpattern.Next(s, i)
		if err != nil {
			var le *stixpattern.Error
			if errors.As(err, &le) {
				return nil, nil, &patError{le.Pos, le.Msg}
			}
			return nil, nil, err
		}
		toks = append(toks, token{t.Kind, t.Text, t.Pos})
		shared = append(shared, t)
		if t.Kind == tEOF {
			return toks, shared, nil
		}
		if len(toks) > 1<<16 {
			return nil, nil, &patError{t.Pos, "pattern has too many tokens"}
		}
		i = t.End
	}
}

// Pattern AST.

type nodeKind int

const (
	nObsFollowedBy nodeKind = iota
	nObsOr
	nObsAnd
	nObservation // [ comparison ]
	nCmpOr
	nCmpAnd
	nTest
	nExists
)

type pathComp struct {
	name  string // property name, or "" for an index
	index string // "*" or a decimal index
}

type objPath struct {
	objType string
	comps   []pathComp
}

// String writes the path the way patterns spell it.
func (p objPath) String() string {
	var b strings.Builder
	b.WriteString(p.objType)
	b.WriteByte(':')
	for i, c := range p.comps {
		if c.name == "" {
			b.WriteString("[" + c.index + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(c.name)
	}
	return b.String()
}

type literal struct {
	kind tokKind
	text string
}

type pnode struct {
	kind        nodeKind
	left, right *pnode
	child       *pnode // nObservation: its comparison expression
	qualifiers  []string
	path        objPath
	op          string // upper-case: =, !=, <, IN, LIKE, MATCHES, ISSUBSET, ...
	not         bool
	lits        []literal
}

type patParser struct {
	toks     []token
	sp       *stixpattern.Parser // reads comparison expressions; sp.I is the position
	prev     int
	depth    int
	warnings []string
}

// parsePattern parses a STIX pattern; warnings name STIX 2.0-only forms.
func parsePattern(s string) (*pnode, []string, error) {
	if len(s) > maxPatternLen {
		return nil, nil, fmt.Errorf("pattern longer than %d bytes", maxPatternLen)
	}
	toks, shared, err := lexPattern(s)
	if err != nil {
		return nil, nil, err
	}
	p := &patParser{toks: toks}
	p.sp = &stixpattern.Parser{Src: s, Toks: shared, G: &stixpattern.Grammar{
		// Anything else starting a comparison is a malformed object path,
		// which objectPath describes.
		IsOperand: func(stixpattern.Token) bool { return true },
		Operand:   func(*stixpattern.Parser) (any, error) { return p.objectPath() },
		MaxDepth:  maxPatternDepth,
		Noun:      "pattern",
	}}
	n, err := p.obsFollowedBy()
	if err != nil {
		return nil, p.warnings, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.warnings, p.errf("unexpected %s after the pattern", describe(t))
	}
	return n, p.warnings, nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of pattern"
	case tString:
		return "string literal"
	}
	return strconv.Quote(t.text)
}

func (p *patParser) peek() token { return p.toks[p.sp.I] }
func (p *patParser) next() token {
	p.prev = p.sp.I
	t := p.toks[p.sp.I]
	if t.kind != tEOF {
		p.sp.I++
	}
	return t
}
func (p *patParser) back() { p.sp.I = p.prev }
func (p *patParser) errf(f string, a ...any) error {
	return &patError{p.peek().pos, fmt.Sprintf(f, a...)}
}
func (p *patParser) keyword(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}
func (p *patParser) enter() error {
	p.depth++
	if p.depth > maxPatternDepth {
		return p.errf("pattern nested deeper than %d", maxPatternDepth)
	}
	return nil
}

func (p *patParser) obsFollowedBy() (*pnode, error) {
	return p.binary(nObsFollowedBy, "FOLLOWEDBY", p.obsOr)
}
func (p *patParser) obsOr() (*pnode, error)  { return p.binary(nObsOr, "OR", p.obsAnd) }
func (p *patParser) obsAnd() (*pnode, error) { return p.binary(nObsAnd, "AND", p.obsQualified) }

func (p *patParser) binary(k nodeKind, kw string, sub func() (*pnode, error)) (*pnode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	left, err := sub()
	if err != nil {
		return nil, err
	}
	for p.keyword(kw) {
		p.next()
		right, err := sub()
		if err != nil {
			return nil, err
		}
		left = &pnode{kind: k, left: left, right: right}
	}
	return left, nil
}

func (p *patParser) obsQualified() (*pnode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	var n *pnode
	switch t := p.next(); t.kind {
	case tLBrack:
		c, err := p.comparison()
		if err != nil {
			return nil, err
		}
		if p.next().kind != tRBrack {
			p.back()
			return nil, p.errf("expected ']' to close the observation expression")
		}
		n = &pnode{kind: nObservation, child: c}
	case tLParen:
		inner, err := p.obsFollowedBy()
		if err != nil {
			return nil, err
		}
		if p.next().kind != tRParen {
			p.back()
			return nil, p.errf("expected ')'")
		}
		// wrap so qualifiers attach to the group
		n = &pnode{kind: nObsOr, left: inner}
	default:
		p.back()
		return nil, p.errf("expected '[' or '(' to start an observation expression, got %s", describe(t))
	}
	for {
		switch {
		case p.keyword("WITHIN"):
			p.next()
			t := p.next()
			if t.kind != tInt && t.kind != tFloat || strings.HasPrefix(t.text, "-") {
				p.back()
				return nil, p.errf("WITHIN needs a positive number")
			}
			if !p.keyword("SECONDS") {
				return nil, p.errf("expected SECONDS after WITHIN %s", t.text)
			}
			p.next()
			n.qualifiers = append(n.qualifiers, "WITHIN "+t.text+" SECONDS")
		case p.keyword("REPEATS"):
			p.next()
			t := p.next()
			if t.kind != tInt || strings.HasPrefix(t.text, "-") {
				p.back()
				return nil, p.errf("REPEATS needs a positive integer")
			}
			if !p.keyword("TIMES") {
				return nil, p.errf("expected TIMES after REPEATS %s", t.text)
			}
			p.next()
			n.qualifiers = append(n.qualifiers, "REPEATS "+t.text+" TIMES")
		case p.keyword("START"):
			p.next()
			a, err := p.stamp("START")
			if err != nil {
				return nil, err
			}
			if !p.keyword("STOP") {
				return nil, p.errf("expected STOP after START")
			}
			p.next()
			b, err := p.stamp("STOP")
			if err != nil {
				return nil, err
			}
			n.qualifiers = append(n.qualifiers, "START "+a+" STOP "+b)
		default:
			return n, nil
		}
	}
}

func (p *patParser) stamp(kw string) (string, error) {
	t := p.next()
	switch t.kind {
	case tTimestamp:
		return t.text, nil
	case tString:
		if _, err := stixpattern.ParseTimestamp(t.text); err != nil {
			p.back()
			return "", p.errf("%s: %v", kw, err)
		}
		p.warnings = append(p.warnings, "STIX 2.0 form: "+kw+" takes a t'…' timestamp literal in 2.1")
		return t.text, nil
	}
	p.back()
	return "", p.errf("%s needs a timestamp literal", kw)
}

// comparison reads the comparison expression of an observation with the
// shared STIX parser and takes it into this package's tree.
func (p *patParser) comparison() (*pnode, error) {
	c, err := p.sp.Or(0)
	if err != nil {
		var le *stixpattern.Error
		if errors.As(err, &le) {
			return nil, &patError{le.Pos, le.Msg}
		}
		return nil, err
	}
	return cmpNode(c)
}

func cmpNode(c *stixpattern.Cmp) (*pnode, error) {
	switch c.Kind {
	case stixpattern.CmpOr, stixpattern.CmpAnd:
		k := nCmpOr
		if c.Kind == stixpattern.CmpAnd {
			k = nCmpAnd
		}
		left, err := cmpNode(c.Kids[0])
		if err != nil {
			return nil, err
		}
		for _, kid := range c.Kids[1:] {
			right, err := cmpNode(kid)
			if err != nil {
				return nil, err
			}
			left = &pnode{kind: k, left: left, right: right}
		}
		return left, nil
	case stixpattern.CmpExists:
		return &pnode{kind: nExists, path: c.Operand.(objPath)}, nil
	case stixpattern.CmpTest:
		n := &pnode{kind: nTest, path: c.Operand.(objPath), op: c.Op, not: c.Neg}
		for _, l := range c.Lits {
			// Booleans have no order.
			if l.Kind == stixpattern.Bool && c.Op != "=" && c.Op != "!=" && c.Op != "IN" {
				return nil, &patError{l.Pos, fmt.Sprintf("expected a literal that %s can order, got %s", c.Op, l.Text)}
			}
			n.lits = append(n.lits, literal{l.Kind, l.Text})
		}
		return n, nil
	}
	// The pattern grammar switches off the condition-only forms.
	return nil, fmt.Errorf("unexpected comparison of kind %d", c.Kind)
}

func (p *patParser) objectPath() (objPath, error) {
	t := p.next()
	if t.kind != tIdent {
		p.back()
		return objPath{}, p.errf("expected an object type, got %s", describe(t))
	}
	path := objPath{objType: strings.ToLower(t.text)}
	if p.next().kind != tColon {
		p.back()
		return objPath{}, p.errf("expected ':' after object type %q", t.text)
	}
	first := p.next()
	if first.kind != tIdent && first.kind != tString {
		p.back()
		return objPath{}, p.errf("expected a property name after %q", path.objType+":")
	}
	path.comps = append(path.comps, pathComp{name: first.text})
	for {
		switch p.peek().kind {
		case tDot:
			p.next()
			c := p.next()
			if c.kind != tIdent && c.kind != tString {
				p.back()
				return objPath{}, p.errf("expected a property name after '.'")
			}
			path.comps = append(path.comps, pathComp{name: c.text})
		case tLBrack:
			p.next()
			c := p.next()
			if c.kind != tStar && c.kind != tInt {
				p.back()
				return objPath{}, p.errf("expected an index or '*' in a list path")
			}
			if p.next().kind != tRBrack {
				p.back()
				return objPath{}, p.errf("expected ']' after list index")
			}
			path.comps = append(path.comps, pathComp{index: c.text})
		default:
			if len(path.comps) > 32 {
				return objPath{}, p.errf("object path too long")
			}
			return path, nil
		}
	}
}

// lookup is one tier-1 index entry taken from a pattern.
type lookup struct {
	kind  Kind
	value string // as written; normalized by the caller
	path  string
}

// tier1 returns the lookups of a tier-1 pattern: observations combined only
// with OR and without qualifiers, each a comparison tree of OR over
// "path = literal", "path IN (...)" and "ip ISSUBSET 'cidr'" on supported
// paths. reason says why a pattern is not tier 1.
func tier1(n *pnode) (out []lookup, reason string) {
	var obs func(n *pnode) string
	var cmp func(n *pnode) string
	obs = func(n *pnode) string {
		if len(n.qualifiers) > 0 {
			return "qualifier " + n.qualifiers[0] + " needs the correlation engine (tier 3)"
		}
		switch n.kind {
		case nObsOr:
			if n.right == nil {
				return obs(n.left)
			}
			if r := obs(n.left); r != "" {
				return r
			}
			return obs(n.right)
		case nObservation:
			return cmp(n.child)
		case nObsAnd:
			return "observations combined with AND need the correlation engine (tier 3)"
		case nObsFollowedBy:
			return "FOLLOWEDBY needs the correlation engine (tier 3)"
		}
		return "unexpected pattern shape"
	}
	cmp = func(n *pnode) string {
		switch n.kind {
		case nCmpOr:
			if r := cmp(n.left); r != "" {
				return r
			}
			return cmp(n.right)
		case nCmpAnd:
			return "comparisons combined with AND are predicates (tier 2)"
		case nExists:
			return "EXISTS is a predicate (tier 2)"
		case nTest:
			path := n.path.String()
			kind, ok := pathKind(n.path)
			if !ok {
				return "object path " + path + " has no lookup index"
			}
			if n.not {
				return "NOT " + n.op + " on " + path + " is a predicate (tier 2)"
			}
			switch n.op {
			case "=", "IN":
			case "ISSUBSET":
				if kind != KindIPv4 && kind != KindIPv6 {
					return "ISSUBSET on " + path + " is a predicate (tier 2)"
				}
			default:
				return n.op + " on " + path + " is a predicate (tier 2)"
			}
			for _, l := range n.lits {
				switch {
				case l.kind == tString:
				case l.kind == tInt && kind == KindASN:
				default:
					return "non-string literal compared with " + path
				}
				out = append(out, lookup{kind, l.text, path})
			}
			return ""
		}
		return "unexpected comparison shape"
	}
	if r := obs(n); r != "" {
		return nil, r
	}
	return out, ""
}

// pathKind maps a supported STIX object path to the indicator kind its
// literals are; address kinds are refined per literal.
func pathKind(p objPath) (Kind, bool) {
	names := make([]string, 0, len(p.comps))
	for _, c := range p.comps {
		if c.name == "" {
			return "", false
		}
		names = append(names, c.name)
	}
	joined := strings.Join(names, ".")
	switch p.objType {
	case "ipv4-addr":
		return KindIPv4, joined == "value"
	case "ipv6-addr":
		return KindIPv6, joined == "value"
	case "domain-name":
		return KindDomain, joined == "value"
	case "url":
		return KindURL, joined == "value"
	case "email-addr":
		return KindEmail, joined == "value"
	case "mutex":
		return KindMutex, joined == "name"
	case "autonomous-system":
		return KindASN, joined == "number"
	case "windows-registry-key":
		return KindRegKey, joined == "key"
	case "file", "x509-certificate", "artifact":
		if len(names) == 2 && strings.EqualFold(names[0], "hashes") {
			switch strings.ToUpper(strings.ReplaceAll(names[1], "-", "")) {
			case "MD5":
				return KindMD5, true
			case "SHA1":
				return KindSHA1, true
			case "SHA256":
				return KindSHA256, true
			case "SHA512":
				return KindSHA512, true
			}
			return "", false
		}
		if p.objType == "file" && joined == "name" {
			return KindFilename, true
		}
	}
	return "", false
}
