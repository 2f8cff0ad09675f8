package expr

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var env = map[string]any{
	"__severity__": "80",
	"__count__":    int64(12),
	"__ip__":       "10.1.2.3",
	"__name__":     "ws-042.corp",
	"__hash__":     "ABCDEF0123",
	"__ok__":       "true",
	"__unset__":    nil,
	"__when__":     "2025-01-02T03:04:05Z",
	"__incident__": map[string]any{
		"priority":    "P1",
		"criticality": float64(5),
		"tags":        []any{"attack.t1110", "ssh"},
		"entities":    []any{map[string]any{"kind": "ip", "value": "203.0.113.7"}},
	},
	"__dict__": `{"a": {"b": [1, 2, 3]}}`,
}

var vars = []string{"severity", "count", "ip", "name", "hash", "ok", "unset", "when", "incident", "dict", "__missing__"}

func TestEval(t *testing.T) {
	cases := []struct {
		src  string
		want bool
	}{
		{`__severity__:value > 50`, true},
		{`[__severity__:value = '80']`, true},
		{`__severity__:value = 80`, true},
		{`__severity__:value != '80'`, false},
		{`__severity__:value <> 81`, true},
		{`severity >= 80 AND count < 13`, true},
		{`severity >= 81 or count < 13`, true},
		{`NOT (severity >= 81 OR count < 12)`, true},
		{`__ip__:value ISSUBSET '10.0.0.0/8'`, true},
		{`__ip__:value ISSUBSET '192.168.0.0/16'`, false},
		{`__ip__:value NOT ISSUBSET '192.168.0.0/16'`, true},
		{`__name__:value LIKE 'ws-%.corp'`, true},
		{`__name__:value LIKE 'ws_042%'`, true},
		{`__name__:value MATCHES '^ws-[0-9]+'`, true},
		{`__name__:value IN ('a', 'ws-042.corp')`, true},
		{`__name__:value NOT IN ('a', 'b')`, true},
		{`__ok__:value`, true},
		{`ok = true`, true},
		{`EXISTS __unset__:value`, false},
		{`EXISTS __name__:value`, true},
		{`__unset__:value = 'x'`, false},
		{`__unset__:value != 'x'`, true},
		{`__unset__:value NOT LIKE 'x%'`, true},
		{`__missing__:value = 1`, false},
		{`incident.priority = 'P1' AND incident.criticality >= 5`, true},
		{`incident.tags CONTAINS 'ssh'`, true},
		{`incident.tags CONTAINS 'rdp'`, false},
		{`incident.entities[0].value = '203.0.113.7'`, true},
		{`incident['priority'] = 'P1'`, true},
		{`incident.nothing.deeper = 'x'`, false},
		{`dict.a.b[2] = 3`, true},
		{`__when__:value > t'2025-01-01T00:00:00Z'`, true},
		{`TRUE AND NOT FALSE`, true},
		{`count > severity`, false},
		{`count = 12.0`, true},
		// STIX allows a leading '+' (the lexer is shared with indicators).
		{`count = +12`, true},
	}
	for _, c := range cases {
		p, err := Compile(c.src, vars)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.src, err)
			continue
		}
		got, err := p.Eval(env)
		if err != nil {
			t.Errorf("Eval(%q): %v", c.src, err)
			continue
		}
		if got != c.want {
			t.Errorf("Eval(%q) = %v, want %v", c.src, got, c.want)
		}
	}
}

func TestTyped(t *testing.T) {
	types := map[string]string{"__h__": "md5-hash", "__a__": "ipv4-addr", "__n__": "integer"}
	e := map[string]any{"__h__": "ABCDEF", "__a__": "10.0.0.1", "__n__": "7"}
	for src, want := range map[string]bool{
		`__h__:value = 'abcdef'`:   true,
		`__a__:value = '10.0.0.1'`: true,
		`__a__:value < '10.0.0.2'`: true,
		`__n__:value < '10'`:       true, // numeric, not "7" > "10" as text
	} {
		p, err := CompileTyped(src, types)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got, err := p.EvalBool(e); err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", src, got, err, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := map[string]string{
		``:                                 "expected a comparison",
		`__x__:value = 1`:                  "not declared",
		`nope = 1`:                         "unknown name",
		`severity = `:                      "expected a literal",
		`severity = 'x`:                    "unterminated",
		`(severity = 1`:                    "expected",
		`[severity = 1) `:                  "expected",
		`severity FOLLOWEDBY count`:        "FOLLOWEDBY is not supported",
		`[severity = 1] WITHIN 5 SECONDS`:  "WITHIN is not supported",
		`severity MATCHES '('`:             "bad regular expression",
		`ip ISSUBSET 'nope'`:               "not an IP address",
		`severity LIKE count`:              "literal pattern",
		`severity IN 1`:                    "IN needs a list",
		`severity = 1 extra`:               "unexpected",
		`severity ! 1`:                     "unexpected '!'",
		`file:name = 'x'`:                  "not a variable",
		strings.Repeat("(", 100) + "ok":    "nesting",
		strings.Repeat("NOT ", 100) + "ok": "nesting",
	}
	for src, want := range cases {
		_, err := Compile(src, vars)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%q) = %v, want error containing %q", src, err, want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	for _, src := range []string{`name > 5`, `incident > 1`, `name`, `ok ISSUBSET '10.0.0.0/8'`} {
		p, err := Compile(src, vars)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		_, err = p.Eval(env)
		var ee *EvalError
		if !errors.As(err, &ee) {
			t.Errorf("Eval(%q) error = %v, want an EvalError", src, err)
		}
	}
}

func TestCanonicalShort(t *testing.T) {
	vs := []string{"__incident__", "__x__", "__in__"}
	canon, changed, err := Canonical(`incident.priority = 'P1' AND [__x__ = 2] and __in__:value = 1`, vs)
	if err != nil || !changed {
		t.Fatal(err, changed)
	}
	want := `__incident__:value.priority = 'P1' AND [__x__:value = 2] and __in__:value = 1`
	if canon != want {
		t.Fatalf("Canonical = %q, want %q", canon, want)
	}
	short := Short(canon, vs)
	if short != `incident.priority = 'P1' AND [x = 2] and __in__:value = 1` {
		t.Fatalf("Short = %q", short)
	}
	back, _, _ := Canonical(short, vs)
	if back != canon {
		t.Fatalf("round trip: %q != %q", back, canon)
	}
	// Undeclared bare names are left alone (the linter reports them).
	if c, changed, _ := Canonical(`other = 1`, vs); changed || c != `other = 1` {
		t.Fatalf("undeclared rewritten: %q", c)
	}
}

func TestBoundedTime(t *testing.T) {
	// A long but legal condition compiles and evaluates quickly.
	src := strings.Repeat("severity = 1 OR ", 400) + "severity = 80"
	start := time.Now()
	p, err := Compile(src, vars)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if ok, err := p.EvalBool(env); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
	if _, err := Compile(strings.Repeat("a = 1 OR ", 2000)+"a = 1", nil); err == nil {
		t.Fatal("token limit not enforced")
	}
}

func FuzzExpr(f *testing.F) {
	for _, s := range []string{
		`__severity__:value > 50`, `[__x__:value = 'a'] AND NOT (y IN (1, 2))`,
		`incident.tags CONTAINS 'ssh'`, `ip ISSUBSET '10.0.0.0/8'`, `name LIKE 'a%_'`,
		`name MATCHES '^a+$'`, `EXISTS unset`, `when < t'2025-01-01T00:00:00Z'`, `h = h'0a'`,
		`dict.a.b[2] = 3`, `count = 12.0e0`, `__a__b__:value = 1`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src, nil)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		_, _ = p.Eval(env)
		c, _, err := Canonical(src, nil)
		if err != nil {
			t.Fatalf("Canonical failed after Compile succeeded: %v", err)
		}
		if _, err := Compile(c, nil); err != nil {
			t.Fatalf("canonical form %q does not compile: %v", c, err)
		}
		s := Short(c, nil)
		if c2, _, err := Canonical(s, nil); err != nil || c2 != c {
			t.Fatalf("Short/Canonical not inverse: %q -> %q -> %q (%v)", c, s, c2, err)
		}
	})
}
