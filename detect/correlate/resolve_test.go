package correlate

import (
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *Rule {
	t.Helper()
	r, err := parseYAML(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ec(name, rules, groupBy string) string {
	return "title: " + name + "\nname: " + name + "\ncorrelation: {type: event_count, rules: " + rules +
		", group-by: " + groupBy + ", timespan: 1m, condition: {gte: 2}}"
}

func names(rs []*Rule) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Name)
	}
	return strings.Join(s, ",")
}

func TestResolve(t *testing.T) {
	base := func(ref string) bool { return ref == "a" || ref == "b" || ref == "id-a" }
	cases := []struct {
		name  string
		docs  []string
		order string   // names of the rules kept, in order
		errs  []string // substrings, one per expected error
	}{
		{"inner before outer", []string{ec("outer", "[mid, b]", "[u]"), ec("mid", "[inner]", "[u]"), ec("inner", "[a, id-a]", "[u]")},
			"inner,mid,outer", nil},
		{"unknown reference", []string{ec("x", "[a, nope]", "[u]")}, "",
			[]string{`correlation.rules[1]: "nope" is neither a loaded rule nor a correlation`}},
		{"cycle", []string{ec("x", "[y]", "[u]"), ec("y", "[z]", "[u]"), ec("z", "[x]", "[u]"), ec("w", "[x]", "[u]"), ec("ok", "[a]", "[u]")}, "ok",
			[]string{"cycle x -> y -> z -> x", "cycle x -> y -> z -> x", "cycle x -> y -> z -> x", "consumes correlation x, which did not load"}},
		{"self reference", []string{ec("x", "[x]", "[u]")}, "", []string{`"x" refers to the correlation itself`}},
		{"duplicate name", []string{ec("x", "[a]", "[u]"), ec("x", "[b]", "[u]")}, "x", []string{`has the same state key "name:x"`}},
		{"name of a detection rule", []string{ec("a", "[b]", "[u]")}, "", []string{`name: "a" is also the id or name of a detection rule`}},
		{"chain field not carried", []string{ec("inner", "[a]", "[user]"), ec("outer", "[inner]", "[user, host]")}, "inner",
			[]string{`correlation.group-by: "host" is not a group-by field of correlation inner, whose hits carry only user; add an alias`}},
		{"chain field aliased", []string{ec("inner", "[a]", "[user]"),
			"title: outer\nname: outer\ncorrelation: {type: event_count, rules: [inner], group-by: [who], timespan: 1m, condition: {gte: 2}, aliases: {who: {inner: user}}}"},
			"inner,outer", nil},
		{"chain value field", []string{ec("inner", "[a]", "[user]"),
			"title: outer\nname: outer\ncorrelation: {type: value_count, rules: [inner], timespan: 1m, condition: {gte: 2, field: host}}"},
			"inner", []string{`correlation.condition.field: "host" is not a group-by field of correlation inner`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rules []*Rule
			for _, d := range c.docs {
				rules = append(rules, mustParse(t, d))
			}
			out, errs := Resolve(rules, base)
			if got := names(out); got != c.order {
				t.Errorf("order %q, want %q", got, c.order)
			}
			if len(errs) != len(c.errs) {
				t.Fatalf("errors %v, want %d", errs, len(c.errs))
			}
			for i, want := range c.errs {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d %q, want ...%s...", i, errs[i], want)
				}
			}
			// NewEngine applies the same structural checks.
			e := NewEngine(rules, Options{})
			if c.name != "unknown reference" && c.name != "name of a detection rule" {
				if got := names(e.Rules()); got != c.order {
					t.Errorf("engine rules %q, want %q (rejected %v)", got, c.order, e.Rejected())
				}
			}
		})
	}
}
