package yamlnode

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// dump renders a tree compactly: kinds, canonical scalars, key lines.
func dump(n *Node) string {
	switch n.Kind {
	case Map:
		var parts []string
		for i, k := range n.Keys {
			parts = append(parts, fmt.Sprintf("%s@%d:%s", k.Text, k.Line, dump(n.Vals[i])))
		}
		return "{" + strings.Join(parts, " ") + "}"
	case Seq:
		var parts []string
		for _, it := range n.Items {
			parts = append(parts, dump(it))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case Null:
		return "null"
	case String:
		return fmt.Sprintf("%q", n.Text)
	}
	return n.Canonical()
}

var lenient = Options{MaxDepth: 64, Aliases: true, MergeKeys: true, MaxAliases: 100, MaxExpanded: 1000}
var strict = Options{MaxDepth: 64, PlainKeys: true, UniqueKeys: true, RefusedMsg: "not in playbooks"}

func TestParse(t *testing.T) {
	tests := []struct {
		name, src string
		opt       Options
		want      string
	}{
		{"scalars", "s: 'x'\ni: 0x10\nf: 1.5\nb: true\nn: ~\nbig: 18446744073709551615\nblock: |\n  a\n", strict,
			`{s@1:"x" i@2:16 f@3:1.5 b@4:true n@5:null big@6:18446744073709551615 block@7:"a\n"}`},
		{"nested", "a:\n  - {b: 1}\n  - [c, d]\n", strict, `{a@1:[{b@2:1} ["c" "d"]]}`},
		{"alias", "base: &b {x: 1}\nuse: *b\n", lenient, `{base@1:{x@1:1} use@2:{x@1:1}}`},
		{"merge keeps own keys", "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n", lenient,
			`{base@1:{x@1:1 y@1:2} use@2:{x@1:1 y@4:3}}`},
		{"numeric keys as written", "1: a\ntrue: b\n", strict, `{1@1:"a" true@2:"b"}`},
		{"comment documents are skipped", "# only a comment\n---\na: 1\n", strict, `{a@3:1}`},
	}
	for _, tt := range tests {
		docs, err := Parse([]byte(tt.src), tt.opt)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(docs) != 1 {
			t.Errorf("%s: %d documents", tt.name, len(docs))
			continue
		}
		if got := dump(docs[0].Body); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		opt       Options
		want      string
		line      int
		path      string
	}{
		{"anchor refused", "a:\n  b: &x 1\n", strict, "not in playbooks", 2, "a.b"},
		{"alias refused", "a: 1\nb: [*x]\n", strict, "not in playbooks", 2, "b[0]"},
		{"merge refused", "a:\n  <<: {x: 1}\n", strict, "not in playbooks", 2, "a"},
		{"dangling alias", "a:\n  b: *nope\n", lenient, "alias *nope names no anchor &nope", 2, "a.b"},
		{"complex key", "? a\n: 1\n", strict, "complex keys", 1, ""},
		{"tag on key", "!!str a: 1\n", strict, "not supported on keys", 1, ""},
		{"merge needs a mapping", "a: &a [1]\nb:\n  <<: *a\n", lenient, "merge key << needs a mapping", 3, "b"},
		{"depth", strings.Repeat("[", 70) + strings.Repeat("]", 70), lenient, "nested deeper than 64", 1, ""},
		{"alias bomb", "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
			Options{Aliases: true, MaxAliases: 100}, "more than 100 YAML aliases", 2, "c[8][1]"},
		{"alias to a huge value", "a: &a [" + strings.Repeat("1,", 400) + "1]\nb: [*a, *a, *a]\n",
			lenient, "expand to more than 1000 values", 1, "b[2][195]"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.src), tt.opt)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: error %v, want a conversion error", tt.name, err)
			continue
		}
		path := ""
		for _, p := range e.Path {
			if p.IsIdx {
				path += fmt.Sprintf("[%d]", p.Index)
			} else if path == "" {
				path = p.Key
			} else {
				path += "." + p.Key
			}
		}
		if !strings.Contains(e.Msg, tt.want) || e.Line != tt.line || (tt.path != "" && path != tt.path) {
			t.Errorf("%s: %q at line %d path %q, want %q at line %d path %q", tt.name, e.Msg, e.Line, path, tt.want, tt.line, tt.path)
		}
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Parse([]byte("a: 1\nb: [1, 2\n"), strict)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a syntax error", err)
	}
	if se.Line == 0 || strings.HasPrefix(se.FirstLine(), "[") || strings.Contains(se.FirstLine(), "\n") {
		t.Errorf("syntax error at line %d, first line %q", se.Line, se.FirstLine())
	}
}

// FuzzParse checks that no input panics or escapes the error types, under
// both the lenient (Sigma, config) and strict (playbook) rules.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"a: 1\nb: [x, {c: d}]\n", "base: &b {x: 1}\nuse:\n  <<: *b\n", "? [a]\n: 1\n",
		"a: !!str 5\n---\nb: .inf\n", "a: *x\n", "- - - - [1]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, opt := range []Options{lenient, strict} {
			_, err := Parse([]byte(src), opt)
			if err == nil {
				continue
			}
			var se *SyntaxError
			var ce *Error
			if !errors.As(err, &se) && !errors.As(err, &ce) {
				t.Fatalf("error of type %T: %v", err, err)
			}
		}
	})
}
