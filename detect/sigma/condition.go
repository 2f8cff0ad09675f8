package sigma

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

type cop uint8

const (
	cIdent cop = iota
	cAnd
	cOr
	cNot
	cAtLeast // "N of": at least n kids true
)

// cond is a parsed condition. Selectors ("1 of sel_*") are resolved to
// the identifiers they cover at parse time, so evaluation never globs.
type cond struct {
	op   cop
	id   int // cIdent: index into Detection.searches
	n    int // cAtLeast
	kids []*cond
}

type ctok struct {
	s   string
	pos int
}

func lexCondition(s string) ([]ctok, error) {
	var out []ctok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			out = append(out, ctok{string(c), i})
			i++
		case c == '|':
			return nil, errors.New("the pipe (| count(), | near ...) is Sigma 1.x aggregation syntax: use a correlation rule")
		case isWordByte(c) || c == '-' || c == '*':
			j := i
			for j < len(s) && (isWordByte(s[j]) || s[j] == '-' || s[j] == '*') {
				j++
			}
			out = append(out, ctok{s[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at offset %d", c, i)
		}
	}
	return out, nil
}

type condParser struct {
	toks  []ctok
	i     int
	names map[string]int
	order []string
	warn  func(string)
	depth int
}

// parseCondition parses one condition string (spec §8): or < and < not <
// "x of" < parentheses; operators are lowercase only.
func parseCondition(s string, names map[string]int, warn func(string)) (*cond, error) {
	toks, err := lexCondition(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errors.New("empty condition")
	}
	for _, t := range toks {
		if _, isName := names[t.s]; !isName && isOperatorWord(t.s) && t.s != strings.ToLower(t.s) {
			return nil, fmt.Errorf("operator %q must be lowercase (%q)", t.s, strings.ToLower(t.s))
		}
	}
	order := make([]string, len(names))
	for n, i := range names {
		order[i] = n
	}
	p := &condParser{toks: toks, names: names, order: order, warn: warn}
	c, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at offset %d", p.toks[p.i].s, p.toks[p.i].pos)
	}
	return c, nil
}

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].s
	}
	return ""
}

const maxCondDepth = 200

func (p *condParser) expr() (*cond, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxCondDepth {
		return nil, errors.New("condition nested too deeply")
	}
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	if p.peek() != "or" {
		return left, nil
	}
	n := &cond{op: cOr, kids: []*cond{left}}
	for p.peek() == "or" {
		p.i++
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, r)
	}
	return n, nil
}

func (p *condParser) term() (*cond, error) {
	left, err := p.factor()
	if err != nil {
		return nil, err
	}
	if p.peek() != "and" {
		return left, nil
	}
	n := &cond{op: cAnd, kids: []*cond{left}}
	for p.peek() == "and" {
		p.i++
		r, err := p.factor()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, r)
	}
	return n, nil
}

func isOperatorWord(s string) bool {
	switch strings.ToLower(s) {
	case "and", "or", "not", "of", "them":
		return true
	}
	return false
}

func (p *condParser) factor() (*cond, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxCondDepth {
		return nil, errors.New("condition nested too deeply")
	}
	if p.i >= len(p.toks) {
		return nil, errors.New("condition ends where an identifier was expected")
	}
	t := p.toks[p.i]
	switch t.s {
	case "not":
		p.i++
		k, err := p.factor()
		if err != nil {
			return nil, err
		}
		return &cond{op: cNot, kids: []*cond{k}}, nil
	case "(":
		p.i++
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing ) for ( at offset %d", t.pos)
		}
		p.i++
		return e, nil
	case ")":
		return nil, fmt.Errorf("unexpected ) at offset %d", t.pos)
	case "and", "or", "of", "them":
		return nil, fmt.Errorf("unexpected %q at offset %d", t.s, t.pos)
	}
	if isOperatorWord(t.s) {
		if _, isName := p.names[t.s]; !isName {
			return nil, fmt.Errorf("operator %q must be lowercase (%q)", t.s, strings.ToLower(t.s))
		}
	}
	// Selector: 1/any/all/N of them|pattern.
	if p.i+1 < len(p.toks) && p.toks[p.i+1].s == "of" {
		return p.selector()
	}
	if p.i+1 < len(p.toks) && strings.EqualFold(p.toks[p.i+1].s, "of") {
		return nil, fmt.Errorf("operator %q must be lowercase (\"of\")", p.toks[p.i+1].s)
	}
	p.i++
	if strings.Contains(t.s, "*") {
		return nil, fmt.Errorf("wildcard %q outside of an \"x of\" selector", t.s)
	}
	id, ok := p.names[t.s]
	if !ok {
		return nil, fmt.Errorf("undefined search identifier %q", t.s)
	}
	return &cond{op: cIdent, id: id}, nil
}

func (p *condParser) selector() (*cond, error) {
	q := p.toks[p.i]
	p.i += 2
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("%q of what?", q.s)
	}
	target := p.toks[p.i]
	p.i++
	var ids []int
	switch {
	case target.s == "them":
		for i, n := range p.order {
			if !strings.HasPrefix(n, "_") {
				ids = append(ids, i)
			}
		}
	case target.s == "(" || target.s == ")" || isOperatorWord(target.s):
		return nil, fmt.Errorf("%q of %q: expected them or an identifier pattern", q.s, target.s)
	default:
		prefixOnly := 0
		for i, n := range p.order {
			if strings.HasPrefix(n, "_") {
				continue
			}
			if globMatch(target.s, n) {
				ids = append(ids, i)
			} else if globMatch(target.s+"*", n) {
				prefixOnly++
			}
		}
		if prefixOnly > 0 && p.warn != nil {
			p.warn(fmt.Sprintf("%s of %s: pySigma anchors the pattern only at the start and would also match %d more identifier(s)", q.s, target.s, prefixOnly))
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s of %s matches no search identifier", q.s, target.s)
	}
	n := 0
	switch q.s {
	case "1", "any":
		n = 1
	case "all":
		n = len(ids)
	default:
		v, err := strconv.Atoi(q.s)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q of: expected 1, any, all or a positive number", q.s)
		}
		if v > len(ids) {
			return nil, fmt.Errorf("%s of %s: only %d identifier(s) match", q.s, target.s, len(ids))
		}
		n = v
	}
	kids := make([]*cond, len(ids))
	for i, id := range ids {
		kids[i] = &cond{op: cIdent, id: id}
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	switch n {
	case 1:
		return &cond{op: cOr, kids: kids}, nil
	case len(kids):
		return &cond{op: cAnd, kids: kids}, nil
	}
	return &cond{op: cAtLeast, n: n, kids: kids}, nil
}

// globMatch matches name against a selector pattern where * is any run of
// characters; the whole name must match. Greedy with one backtrack point,
// so it stays linear-ish whatever the pattern.
func globMatch(pat, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pat) && pat[p] == '*':
			star, mark = p, n
			p++
		case p < len(pat) && pat[p] == name[n]:
			p++
			n++
		case star >= 0:
			mark++
			p, n = star+1, mark
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}
