package stixpattern

import (
	"fmt"
	"strconv"
	"strings"
)

// This file is the one parser of STIX comparison expressions (what stands
// between [ and ] in a pattern, and what a CACAO condition is). The two
// callers differ in their operands (object paths in indicators, variables
// in playbooks), which they read themselves through Grammar.Operand, and
// in Riposte's additions for playbooks, which Grammar switches on.
//
//	or     = and { OR and }
//	and    = factor { AND factor }
//	factor = "(" or ")" | EXISTS operand | test
//	       | NOT factor | "[" or "]" | TRUE | FALSE     ; Grammar.Conditions
//	test   = operand [NOT] op rhs
//	       | operand                                   ; truth test, Grammar.Conditions
//	op     = = == != <> < <= > >= IN LIKE MATCHES ISSUBSET ISSUPERSET
//	       | CONTAINS                                  ; Grammar.Conditions
//	rhs    = literal | "(" literal { "," literal } ")" ; the list only for IN
//	       | operand                                   ; Grammar.Conditions

// CmpKind is the kind of a comparison-expression node.
type CmpKind uint8

const (
	CmpOr     CmpKind = iota // Kids joined by OR
	CmpAnd                   // Kids joined by AND
	CmpNot                   // NOT Kids[0]
	CmpConst                 // TRUE or FALSE: Value
	CmpExists                // EXISTS Operand
	CmpTest                  // Operand [NOT] Op Lits or RHS
	CmpTruth                 // Operand alone: its truth
)

// Cmp is a parsed comparison expression.
type Cmp struct {
	Kind    CmpKind
	Kids    []*Cmp
	Value   bool      // CmpConst
	Operand any       // what Grammar.Operand returned for the left side
	Op      string    // canonical operator, see ComparisonOp
	Neg     bool      // NOT before the operator
	Lits    []Literal // the literal, or the IN list
	RHS     any       // an operand on the right side
	Pos     int       // offset of the operator (CmpTest) or the first token
}

// Grammar is what a caller adds to the shared comparison grammar.
type Grammar struct {
	// IsOperand reports whether a token starts an operand, and Operand reads
	// one from the parser's current token.
	IsOperand func(Token) bool
	Operand   func(*Parser) (any, error)
	// Conditions switches on Riposte's additions for playbook conditions:
	// NOT before a factor, [ ] grouping, TRUE and FALSE, truth tests,
	// CONTAINS, and an operand on the right side.
	Conditions bool
	MaxDepth   int    // nesting of parentheses, brackets and NOT
	MaxList    int    // literals in an IN list (0: no limit)
	Noun       string // what the text is, for "end of <noun>"
}

// Parser reads a comparison expression from a token list that ends in EOF.
// The caller may read tokens around it (observation expressions, operands)
// with Peek and Next.
type Parser struct {
	G    *Grammar
	Src  string
	Toks []Token
	I    int
}

// Peek returns the current token.
func (p *Parser) Peek() Token { return p.Toks[p.I] }

// Next returns the current token and moves past it (never past EOF).
func (p *Parser) Next() Token {
	t := p.Toks[p.I]
	if t.Kind != EOF {
		p.I++
	}
	return t
}

// Keyword reports whether the current token is the keyword kw, in any case.
// A token carrying an operand of the caller's (Aux) is never a keyword.
func (p *Parser) Keyword(kw string) bool {
	t := p.Peek()
	return t.Kind == Ident && t.Aux == nil && strings.EqualFold(t.Text, kw)
}

// Describe quotes a token as written, for error messages.
func (p *Parser) Describe(t Token) string {
	if t.Kind == EOF {
		return "end of " + p.G.Noun
	}
	if t.End > t.Pos && t.End <= len(p.Src) {
		return strconv.Quote(p.Src[t.Pos:t.End])
	}
	return strconv.Quote(t.Text)
}

// Errorf is an error at the offset of token t.
func (p *Parser) Errorf(t Token, format string, a ...any) error {
	return &Error{t.Pos, fmt.Sprintf(format, a...)}
}

// Or parses a comparison expression at nesting depth depth.
func (p *Parser) Or(depth int) (*Cmp, error) {
	return p.join(CmpOr, "OR", depth, func() (*Cmp, error) {
		return p.join(CmpAnd, "AND", depth, func() (*Cmp, error) { return p.factor(depth) })
	})
}

func (p *Parser) join(k CmpKind, kw string, depth int, sub func() (*Cmp, error)) (*Cmp, error) {
	if depth > p.G.MaxDepth {
		return nil, p.Errorf(p.Peek(), "nesting deeper than %d", p.G.MaxDepth)
	}
	first := p.Peek()
	x, err := sub()
	if err != nil {
		return nil, err
	}
	if !p.Keyword(kw) {
		return x, nil
	}
	n := &Cmp{Kind: k, Kids: []*Cmp{x}, Pos: first.Pos}
	for p.Keyword(kw) {
		p.Next()
		y, err := sub()
		if err != nil {
			return nil, err
		}
		n.Kids = append(n.Kids, y)
	}
	return n, nil
}

func (p *Parser) factor(depth int) (*Cmp, error) {
	if depth > p.G.MaxDepth {
		return nil, p.Errorf(p.Peek(), "nesting deeper than %d", p.G.MaxDepth)
	}
	t := p.Peek()
	cond := p.G.Conditions
	switch {
	case cond && p.Keyword("NOT"):
		p.Next()
		x, err := p.factor(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Cmp{Kind: CmpNot, Kids: []*Cmp{x}, Pos: t.Pos}, nil
	case t.Kind == LParen || cond && t.Kind == LBrack:
		p.Next()
		x, err := p.Or(depth + 1)
		if err != nil {
			return nil, err
		}
		want, close := RParen, ")"
		if t.Kind == LBrack {
			want, close = RBrack, "]"
		}
		if c := p.Peek(); c.Kind != want {
			return nil, p.Errorf(c, "expected %q, found %s", close, p.Describe(c))
		}
		p.Next()
		return x, nil
	case cond && (p.Keyword("TRUE") || p.Keyword("FALSE")):
		p.Next()
		return &Cmp{Kind: CmpConst, Value: strings.EqualFold(t.Text, "TRUE"), Pos: t.Pos}, nil
	case p.Keyword("EXISTS"):
		p.Next()
		o, err := p.G.Operand(p)
		if err != nil {
			return nil, err
		}
		return &Cmp{Kind: CmpExists, Operand: o, Pos: t.Pos}, nil
	case p.G.IsOperand(t):
		return p.test()
	}
	return nil, p.Errorf(t, "expected a comparison, found %s", p.Describe(t))
}

func (p *Parser) test() (*Cmp, error) {
	first := p.Peek()
	lhs, err := p.G.Operand(p)
	if err != nil {
		return nil, err
	}
	n := &Cmp{Kind: CmpTest, Operand: lhs}
	if p.Keyword("NOT") {
		p.Next()
		n.Neg = true
	}
	t := p.Peek()
	op, ok := ComparisonOp(t)
	if !ok && p.G.Conditions && p.Keyword("CONTAINS") {
		op, ok = "CONTAINS", true
	}
	if !ok {
		switch {
		case p.G.Conditions && !n.Neg:
			return &Cmp{Kind: CmpTruth, Operand: lhs, Pos: first.Pos}, nil
		case n.Neg:
			return nil, p.Errorf(t, "expected an operator after NOT, found %s", p.Describe(t))
		}
		return nil, p.Errorf(t, "expected a comparison operator after %s, found %s", p.Src[first.Pos:t.Pos], p.Describe(t))
	}
	p.Next()
	n.Op, n.Pos = op, t.Pos
	if op == "IN" {
		if c := p.Peek(); c.Kind != LParen {
			return nil, p.Errorf(c, "IN needs a list in parentheses: IN ('a', 'b')")
		}
		p.Next()
		for {
			if p.G.MaxList > 0 && len(n.Lits) >= p.G.MaxList {
				return nil, p.Errorf(p.Peek(), "IN list longer than %d", p.G.MaxList)
			}
			l, err := p.literal()
			if err != nil {
				return nil, err
			}
			n.Lits = append(n.Lits, l)
			c := p.Next()
			if c.Kind == RParen {
				return n, nil
			}
			if c.Kind != Comma {
				return nil, p.Errorf(c, "expected ',' or ')' in the IN list, found %s", p.Describe(c))
			}
		}
	}
	stringOnly := op == "LIKE" || op == "MATCHES" || op == "ISSUBSET" || op == "ISSUPERSET"
	if r := p.Peek(); p.G.Conditions && p.G.IsOperand(r) {
		if op == "LIKE" || op == "MATCHES" {
			return nil, p.Errorf(r, "%s needs a literal pattern", op)
		}
		n.RHS, err = p.G.Operand(p)
		return n, err
	}
	l, err := p.literal()
	if err != nil {
		return nil, err
	}
	if stringOnly && l.Kind != String {
		return nil, p.Errorf(t, "%s needs a string literal", op)
	}
	n.Lits = []Literal{l}
	return n, nil
}

func (p *Parser) literal() (Literal, error) {
	t := p.Peek()
	if t.Aux == nil {
		l, ok, err := LiteralOf(t)
		if err != nil {
			return Literal{}, err
		}
		if ok {
			p.Next()
			return l, nil
		}
	}
	return Literal{}, p.Errorf(t, "expected a literal, found %s", p.Describe(t))
}
