package stixpattern

import (
	"errors"
	"strings"
	"testing"
)

// parseCmp parses src with operands that are single identifiers starting
// with 'v' (standing in for object paths or variables).
func parseCmp(src string, conditions bool) (*Cmp, error) {
	toks, err := lexAll(src)
	if err != nil {
		return nil, err
	}
	for i := range toks {
		if toks[i].Kind == Ident && strings.HasPrefix(toks[i].Text, "v") {
			toks[i].Aux = toks[i].Text
		}
	}
	p := &Parser{Src: src, Toks: toks, G: &Grammar{
		IsOperand: func(t Token) bool { return t.Aux != nil },
		Operand: func(p *Parser) (any, error) {
			t := p.Peek()
			if t.Aux == nil {
				return nil, p.Errorf(t, "expected an operand, found %s", p.Describe(t))
			}
			p.Next()
			return t.Aux, nil
		},
		Conditions: conditions,
		MaxDepth:   8,
		MaxList:    3,
		Noun:       "test",
	}}
	c, err := p.Or(0)
	if err == nil && p.Peek().Kind != EOF {
		err = p.Errorf(p.Peek(), "unexpected %s", p.Describe(p.Peek()))
	}
	return c, err
}

// show renders a parsed comparison with explicit grouping.
func show(c *Cmp) string {
	switch c.Kind {
	case CmpOr, CmpAnd:
		sep := map[CmpKind]string{CmpOr: " or ", CmpAnd: " and "}[c.Kind]
		var parts []string
		for _, k := range c.Kids {
			parts = append(parts, show(k))
		}
		return "(" + strings.Join(parts, sep) + ")"
	case CmpNot:
		return "not " + show(c.Kids[0])
	case CmpConst:
		if c.Value {
			return "TRUE"
		}
		return "FALSE"
	case CmpExists:
		return "exists " + c.Operand.(string)
	case CmpTruth:
		return "truth " + c.Operand.(string)
	}
	s := c.Operand.(string) + " "
	if c.Neg {
		s += "NOT "
	}
	s += c.Op + " "
	if c.RHS != nil {
		return s + c.RHS.(string)
	}
	var lits []string
	for _, l := range c.Lits {
		lits = append(lits, l.Text)
	}
	return s + strings.Join(lits, "|")
}

func TestParseComparison(t *testing.T) {
	tests := []struct {
		src        string
		conditions bool
		want       string // rendering, or "error: substring"
	}{
		{"va = 'x' OR vb == 2 AND vc <> 3", false, "(va = x or (vb = 2 and vc != 3))"},
		{"(va = 1 or vb = 2) and EXISTS vc", false, "((va = 1 or vb = 2) and exists vc)"},
		{"va not in (1, 'b', true)", false, "va NOT IN 1|b|true"},
		{"va LIKE 'a%' AND vb MATCHES '^b' AND vc ISSUBSET '10.0.0.0/8' AND vd ISSUPERSET '10.0.0.1'", false,
			"(va LIKE a% and vb MATCHES ^b and vc ISSUBSET 10.0.0.0/8 and vd ISSUPERSET 10.0.0.1)"},
		{"va > t'2025-01-01T00:00:00Z'", false, "va > 2025-01-01T00:00:00Z"},
		// Riposte's additions exist only in conditions.
		{"NOT va = 1", true, "not va = 1"},
		{"NOT va = 1", false, "error: expected a comparison"},
		{"[va = 1] AND TRUE", true, "(va = 1 and TRUE)"},
		{"[va = 1]", false, "error: expected a comparison"},
		{"va AND vb", true, "(truth va and truth vb)"},
		{"va AND vb", false, "error: expected a comparison operator after va"},
		{"va CONTAINS 'x'", true, "va CONTAINS x"},
		{"va CONTAINS 'x'", false, "error: expected a comparison operator"},
		{"va = vb", true, "va = vb"},
		{"va = vb", false, "error: expected a literal"},
		// Errors shared by both.
		{"va NOT vb", true, "error: expected an operator after NOT"},
		{"va LIKE vb", true, "error: LIKE needs a literal pattern"},
		{"va LIKE 5", false, "error: LIKE needs a string literal"},
		{"va ISSUBSET 5", true, "error: ISSUBSET needs a string literal"},
		{"va IN 1", false, "error: IN needs a list in parentheses"},
		{"va IN ()", false, "error: expected a literal, found \")\""},
		{"va IN (1 2)", false, "error: expected ',' or ')' in the IN list"},
		{"va IN (1, 2, 3, 4)", false, "error: IN list longer than 3"},
		{"(va = 1", false, "error: expected \")\", found end of test"},
		{"((((((((((va = 1))))))))))", false, "error: nesting deeper than 8"},
		{"va = 1e999", false, "error: out of range"},
	}
	for _, tt := range tests {
		c, err := parseCmp(tt.src, tt.conditions)
		got := ""
		if err != nil {
			var le *Error
			if !errors.As(err, &le) {
				t.Errorf("%q: error of type %T", tt.src, err)
			}
			got = "error: " + err.Error()
		} else {
			got = show(c)
		}
		if want, isErr := strings.CutPrefix(tt.want, "error: "); isErr {
			if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, want) {
				t.Errorf("%q (conditions %v) = %s, want an error containing %q", tt.src, tt.conditions, got, want)
			}
		} else if got != tt.want {
			t.Errorf("%q (conditions %v) = %s, want %s", tt.src, tt.conditions, got, tt.want)
		}
	}
}

// FuzzParseComparison checks that the parser never panics and returns only
// its own error type, in both modes.
func FuzzParseComparison(f *testing.F) {
	for _, s := range []string{
		"va = 'x' OR vb IN (1, 2) AND NOT [vc LIKE 'a%']", "EXISTS va AND TRUE", "va NOT ISSUBSET '10.0.0.0/8'",
		"(((va)))", "va CONTAINS vb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, cond := range []bool{false, true} {
			if _, err := parseCmp(src, cond); err != nil {
				var le *Error
				if !errors.As(err, &le) {
					t.Fatalf("error of type %T: %v", err, err)
				}
			}
		}
	})
}
