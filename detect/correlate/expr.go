package correlate

import (
	"fmt"
	"slices"
	"strings"
)

// exprNode is a node of a temporal condition expression (SEP "Condition
// Extension in Temporal Correlation Rules"): rule names joined by and, or,
// not and parentheses; not binds tighter than and, and tighter than or.
type exprNode struct {
	op   byte // 'r' rule, '!' not, '&' and, '|' or
	name string
	bit  uint64 // 1 << index of name in Rule.Rules, set by bind
	kids []*exprNode
}

func (x *exprNode) eval(set uint64) bool {
	switch x.op {
	case 'r':
		return set&x.bit != 0
	case '!':
		return !x.kids[0].eval(set)
	case '&':
		for _, k := range x.kids {
			if !k.eval(set) {
				return false
			}
		}
		return true
	case '|':
		for _, k := range x.kids {
			if k.eval(set) {
				return true
			}
		}
	}
	return false
}

func (x *exprNode) hasNot() bool {
	if x.op == '!' {
		return true
	}
	for _, k := range x.kids {
		if k.hasNot() {
			return true
		}
	}
	return false
}

func (x *exprNode) bind(rules []string) {
	if x.op == 'r' {
		if i := slices.Index(rules, x.name); i >= 0 && i < 64 {
			x.bit = 1 << i
		}
	}
	for _, k := range x.kids {
		k.bind(rules)
	}
}

type exprParser struct {
	toks  []string
	pos   int
	names []string
}

// parseExpr parses s and returns the tree and the rule names it uses, in
// order of first appearance.
func parseExpr(s string) (*exprNode, []string, error) {
	toks, err := lexExpr(s)
	if err != nil {
		return nil, nil, err
	}
	if len(toks) == 0 {
		return nil, nil, fmt.Errorf("empty expression")
	}
	p := &exprParser{toks: toks}
	x, err := p.or()
	if err != nil {
		return nil, nil, err
	}
	if p.pos < len(p.toks) {
		return nil, nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return x, p.names, nil
}

func lexExpr(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			w := s[i:j]
			for _, op := range []string{"and", "or", "not"} {
				if w != op && strings.EqualFold(w, op) {
					return nil, fmt.Errorf("operator %q must be lowercase", w)
				}
			}
			toks = append(toks, w)
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at offset %d", rune(s[i]), i)
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *exprParser) or() (*exprNode, error) {
	x, err := p.and()
	if err != nil {
		return nil, err
	}
	if p.peek() != "or" {
		return x, nil
	}
	n := &exprNode{op: '|', kids: []*exprNode{x}}
	for p.peek() == "or" {
		p.pos++
		y, err := p.and()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, y)
	}
	return n, nil
}

func (p *exprParser) and() (*exprNode, error) {
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	if p.peek() != "and" {
		return x, nil
	}
	n := &exprNode{op: '&', kids: []*exprNode{x}}
	for p.peek() == "and" {
		p.pos++
		y, err := p.not()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, y)
	}
	return n, nil
}

func (p *exprParser) not() (*exprNode, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, fmt.Errorf("unexpected end of expression")
	case t == "not":
		p.pos++
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &exprNode{op: '!', kids: []*exprNode{x}}, nil
	case t == "(":
		p.pos++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return x, nil
	case t == ")" || t == "and" || t == "or":
		return nil, fmt.Errorf("unexpected %q", t)
	}
	p.pos++
	if !slices.Contains(p.names, t) {
		p.names = append(p.names, t)
	}
	return &exprNode{op: 'r', name: t}, nil
}
