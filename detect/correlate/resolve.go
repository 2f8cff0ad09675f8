package correlate

import (
	"fmt"
	"slices"
	"strings"
)

// Resolve checks the references of a set of correlations and orders them so
// that every correlation comes after the correlations it consumes (inner
// before outer). known reports whether a base (detection) rule with that id
// or name is loaded; it must not report correlations.
//
// A correlation is left out, with an error naming it, when: its id, name or
// key is used by another correlation, or its id or name is also a base
// rule's (references would be ambiguous); a reference is neither a base rule
// nor a correlation; it is part of a cycle; it consumes a correlation that
// was left out; or its group-by (or value field) names a field that an inner
// correlation's hits do not carry (hits carry only their group-by values).
func Resolve(rules []*Rule, known func(ref string) bool) ([]*Rule, []error) {
	if known == nil {
		known = func(string) bool { return false }
	}
	return resolve(rules, known)
}

// resolve is Resolve; with known nil, every reference that is not a
// correlation is taken to be a base rule (NewEngine's structural check).
func resolve(rules []*Rule, known func(ref string) bool) ([]*Rule, []error) {
	var errs []error
	bad := map[*Rule]bool{}
	fail := func(r *Rule, key, format string, args ...any) {
		errs = append(errs, &Error{File: r.File, Line: r.Line, Key: key, Msg: fmt.Sprintf(format, args...)})
		bad[r] = true
	}
	byRef := map[string]*Rule{}
	keys := map[string]*Rule{}
	var list []*Rule
	for _, r := range rules {
		if r == nil {
			continue
		}
		list = append(list, r)
		if o := keys[r.Key()]; o != nil {
			fail(r, "", "correlation %s has the same state key %q as %s", r, r.Key(), where(o))
			continue
		}
		keys[r.Key()] = r
		for _, x := range []struct{ key, v string }{{"id", r.ID}, {"name", r.Name}} {
			if x.v == "" {
				continue
			}
			if o := byRef[x.v]; o != nil && o != r {
				fail(r, x.key, "%q is also the id or name of the correlation at %s", x.v, where(o))
				continue
			}
			if known != nil && known(x.v) {
				fail(r, x.key, "%q is also the id or name of a detection rule: references to it are ambiguous", x.v)
				continue
			}
			byRef[x.v] = r
		}
	}

	deps := map[*Rule][]*Rule{}
	for _, r := range list {
		for i, ref := range r.Rules {
			key := fmt.Sprintf("correlation.rules[%d]", i)
			inner := byRef[ref]
			switch {
			case inner == r:
				fail(r, key, "%q refers to the correlation itself", ref)
			case inner != nil:
				deps[r] = append(deps[r], inner)
				checkChain(r, ref, inner, fail)
			case known != nil && !known(ref):
				fail(r, key, "%q is neither a loaded rule nor a correlation (by id or name)", ref)
			}
		}
	}

	// Cycles: depth-first search; a grey node reached again closes a cycle.
	const (
		white = iota
		grey
		black
	)
	color := map[*Rule]int{}
	var stack []*Rule
	var order []*Rule
	var visit func(r *Rule)
	visit = func(r *Rule) {
		color[r] = grey
		stack = append(stack, r)
		for _, d := range deps[r] {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				i := slices.Index(stack, d)
				var names []string
				for _, x := range stack[i:] {
					names = append(names, x.String())
				}
				names = append(names, d.String())
				path := strings.Join(names, " -> ")
				for _, x := range stack[i:] {
					fail(x, "correlation.rules", "cycle %s", path)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[r] = black
		order = append(order, r)
	}
	for _, r := range list {
		if color[r] == white {
			visit(r)
		}
	}
	// order is inner-first; a correlation consuming a failed one fails too.
	var out []*Rule
	for _, r := range order {
		if !bad[r] {
			for _, d := range deps[r] {
				if bad[d] {
					fail(r, "correlation.rules", "consumes correlation %s, which did not load", d)
					break
				}
			}
		}
		if !bad[r] {
			out = append(out, r)
		}
	}
	return out, errs
}

// checkChain checks that the inner correlation's hits carry every field the
// outer one reads from them through reference ref.
func checkChain(outer *Rule, ref string, inner *Rule, fail func(*Rule, string, string, ...any)) {
	need := func(key, field string) {
		f := outer.fieldFor(field, ref)
		if !slices.Contains(inner.GroupBy, f) {
			fail(outer, key, "%q is not a group-by field of correlation %s, whose hits carry only %s; add an alias",
				f, inner, fieldList(inner.GroupBy))
		}
	}
	for _, g := range outer.GroupBy {
		need("correlation.group-by", g)
	}
	for _, f := range outer.condFields() {
		need("correlation.condition.field", f)
	}
}

func fieldList(fs []string) string {
	if len(fs) == 0 {
		return "no fields"
	}
	return strings.Join(fs, ", ")
}

// fieldFor returns the field an event matched through reference ref holds
// the group-by or value field name under: the alias mapping, else the name.
func (r *Rule) fieldFor(name, ref string) string {
	if m, ok := r.Aliases[name]; ok {
		if f, ok := m[ref]; ok {
			return f
		}
	}
	return name
}

func where(r *Rule) string {
	if r.File == "" {
		return r.String()
	}
	if r.Line > 0 {
		return fmt.Sprintf("%s:%d", r.File, r.Line)
	}
	return r.File
}
