package sigma

import (
	"fmt"
	"strings"
)

// Detection is a rule's detection section, parsed and validated: search
// identifiers compiled to items, and the condition to a tree over them.
// It does not depend on a Mapping, so one parsed rule can be compiled
// into several matchers.
type Detection struct {
	searches   []*search
	names      map[string]int
	cond       *cond
	conditions []string // as written
}

// search is one search identifier: an OR of AND-maps of items.
type search struct {
	name string
	line int
	maps [][]*item
}

// Conditions returns the condition text(s) as written.
func (d *Detection) Conditions() []string {
	if d == nil {
		return nil
	}
	return append([]string(nil), d.conditions...)
}

// SearchIdentifiers returns the names of the search identifiers in the
// order they were written.
func (d *Detection) SearchIdentifiers() []string {
	if d == nil {
		return nil
	}
	out := make([]string, len(d.searches))
	for i, s := range d.searches {
		out[i] = s.name
	}
	return out
}

// problem is an error with its line, before the file is known.
type problem struct {
	line   int
	reason string
}

func (p *problem) Error() string { return p.reason }

func probf(line int, format string, a ...any) *problem {
	return &problem{line: line, reason: fmt.Sprintf(format, a...)}
}

func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isWordByte(c) || c == '-') {
			return false
		}
	}
	return true
}

// parseDetection parses a detection (or filter) section.
func parseDetection(n *ynode, line int, warn func(int, string)) (*Detection, *problem) {
	if n == nil || n.kind != yMap {
		return nil, probf(line, "detection must be a mapping of search identifiers and a condition")
	}
	d := &Detection{names: map[string]int{}}
	var condNode *ynode
	condLine := 0
	for i, k := range n.keys {
		v, kl := n.vals[i], n.klns[i]
		if k == "condition" {
			condNode, condLine = v, kl
			continue
		}
		if k == "timeframe" {
			return nil, probf(kl, "detection.timeframe is Sigma 1.x aggregation syntax: use a correlation rule")
		}
		if k == "" {
			return nil, probf(kl, "empty search identifier")
		}
		if _, dup := d.names[k]; dup {
			// 0 and 00 are both the number 0: the second would silently
			// replace the first.
			return nil, probf(kl, "search identifier %q is defined twice", k)
		}
		if !validIdent(k) {
			// pySigma accepts such names; only an "x of" pattern can reach them.
			warn(kl, fmt.Sprintf("search identifier %q: only letters, digits, _ and - are allowed (it can only be referenced by an \"x of\" pattern)", k))
		}
		s, p := parseSearch(k, kl, v, warn)
		if p != nil {
			return nil, p
		}
		d.names[k] = len(d.searches)
		d.searches = append(d.searches, s)
	}
	if condNode == nil {
		return nil, probf(line, "detection has no condition")
	}
	if len(d.searches) == 0 {
		return nil, probf(line, "detection has no search identifiers")
	}
	var texts []string
	switch {
	case condNode.kind == yString:
		texts = []string{condNode.str}
	case condNode.kind == ySeq && len(condNode.items) > 0:
		for _, it := range condNode.items {
			if it.kind != yString {
				return nil, probf(it.line, "condition list items must be strings")
			}
			texts = append(texts, it.str)
		}
	default:
		return nil, probf(condLine, "condition must be a string or a list of strings")
	}
	d.conditions = texts
	var roots []*cond
	for _, t := range texts {
		c, err := parseCondition(t, d.names, func(msg string) { warn(condLine, msg) })
		if err != nil {
			return nil, probf(condLine, "condition %q: %v", t, err)
		}
		roots = append(roots, c)
	}
	if len(roots) == 1 {
		d.cond = roots[0]
	} else {
		d.cond = &cond{op: cOr, kids: roots}
	}
	return d, nil
}

func parseSearch(name string, line int, v *ynode, warn func(int, string)) (*search, *problem) {
	s := &search{name: name, line: line}
	switch v.kind {
	case yMap:
		m, p := parseMap(v, warn)
		if p != nil {
			return nil, p
		}
		s.maps = append(s.maps, m)
	case ySeq:
		if len(v.items) == 0 {
			return nil, probf(line, "search identifier %q is an empty list", name)
		}
		// Scalars in the list are keywords (one OR item); maps are
		// alternatives. pySigma allows the two mixed: each is one OR branch.
		var kws []*ynode
		for _, x := range v.items {
			switch {
			case x.kind == yMap:
				m, p := parseMap(x, warn)
				if p != nil {
					return nil, p
				}
				s.maps = append(s.maps, m)
			case x.kind == ySeq:
				return nil, probf(x.line, "search identifier %q: nested lists are not allowed", name)
			case x.kind == yNull:
				return nil, probf(x.line, "search identifier %q: null is not a keyword", name)
			default:
				kws = append(kws, x)
			}
		}
		if len(kws) > 0 {
			it, err := parseItem("", line, &ynode{kind: ySeq, line: line, items: kws}, true, warn)
			if err != nil {
				return nil, probf(line, "search identifier %q: %v", name, err)
			}
			s.maps = append(s.maps, []*item{it})
		}
	case yNull:
		return nil, probf(line, "search identifier %q is empty", name)
	default:
		return nil, probf(line, "search identifier %q must be a mapping or a list, not %s", name, v.kindName())
	}
	return s, nil
}

func parseMap(m *ynode, warn func(int, string)) ([]*item, *problem) {
	if len(m.keys) == 0 {
		return nil, probf(m.line, "empty mapping in a search identifier")
	}
	out := make([]*item, 0, len(m.keys))
	for i, k := range m.keys {
		kl := m.klns[i]
		v := m.vals[i]
		if strings.TrimSpace(k) != k && strings.TrimSpace(k) == "" {
			return nil, probf(kl, "empty field name")
		}
		it, err := parseItem(k, kl, v, false, warn)
		if err != nil {
			return nil, probf(kl, "%v", err)
		}
		out = append(out, it)
	}
	return out, nil
}
