package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// Every command a person can run shows how in its help, and every
// example runs a command that exists with flags it takes: an example
// that drifted from the command is worse than none.
func TestEveryCommandHasExamples(t *testing.T) {
	root := newRoot()
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c != root && c.Name() != "help" && c.Runnable() && strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no Example lines (add them to examples in examples.go)", c.CommandPath())
		}
		n++
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 60 {
		t.Fatalf("walked %d commands; the tree is not what this test expects", n)
	}
	for path, ex := range examples {
		if c, rest, err := newRoot().Find(strings.Fields(path)); err != nil || len(rest) > 0 || c.CommandPath() != "riposte "+path {
			t.Errorf("examples[%q]: no such command", path)
			continue
		}
		for _, line := range strings.Split(ex, "\n") {
			checkExample(t, path, line)
		}
	}
}

// checkExample parses one example line's riposte command as the shell
// would split it and as cobra would read it, without running it.
func checkExample(t *testing.T, path, line string) {
	t.Helper()
	words := shellWords(line)
	i := 0
	for i < len(words) && words[i] != "riposte" {
		i++
	}
	if i == len(words) {
		return // a shell step around the example, such as cp
	}
	args := words[i+1:]
	for j, w := range args {
		if w == ">" || w == "|" || strings.HasPrefix(w, ">") {
			args = args[:j]
			break
		}
	}
	root := newRoot()
	c, rest, err := root.Find(args)
	if err != nil || c == root {
		if len(args) > 0 && args[0] == "--version" {
			return
		}
		t.Errorf("examples[%q]: %q names no command: %v", path, line, err)
		return
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Errorf("examples[%q]: %q: %v", path, line, err)
		return
	}
	if c.Args != nil {
		if err := c.Args(c, c.Flags().Args()); err != nil {
			t.Errorf("examples[%q]: %q: %v", path, line, err)
		}
	}
}

// shellWords splits a line as sh does for the quoting examples use:
// words separated by blanks, "…" and '…' kept whole.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// One rule for time in what commands print: points in time through stamp
// (RFC 3339 with the zone), spans through span or age. A layout of its own
// ("2006-01-02 15:04", a Kitchen clock) in a command breaks the rule;
// RFC 3339 in query parameters is for the server, not for people.
func TestTimeFormat(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	format := regexp.MustCompile(`\.Format\(([^)]*)\)`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(string(b), "\n") {
			for _, m := range format.FindAllStringSubmatch(l, -1) {
				query := strings.Contains(l, "q.Set(") || strings.Contains(l, "url.Values{")
				ok := f == "timefmt.go" || strings.HasPrefix(m[1], "time.RFC3339") && query
				if !ok {
					t.Errorf("%s:%d: %s: print times with stamp (RFC 3339 with zone) or span", f, i+1, strings.TrimSpace(l))
				}
			}
		}
	}
	cases := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), "2026-11-26T10:00:00Z"},
		{time.Date(2026, 11, 26, 11, 0, 0, 0, time.FixedZone("CET", 3600)), "2026-11-26T11:00:00+01:00"},
		{time.Time{}, "-"},
	}
	for _, c := range cases {
		if got := stamp(c.in); got != c.want {
			t.Errorf("stamp(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	for d, want := range map[time.Duration]string{1500 * time.Millisecond: "2s", 250 * time.Millisecond: "250ms", 90 * time.Minute: "1h30m0s"} {
		if got := span(d); got != want {
			t.Errorf("span(%v) = %q, want %q", d, got, want)
		}
	}
}

// A long actor (a token's name) must not push the columns after it out of
// line, in a table or an incident's timeline.
func TestTableColumnsStayAligned(t *testing.T) {
	var b strings.Builder
	tb := newTable(&b, "SEQ\tACTOR\tACTION")
	tb.row(1, "cli", "token.create")
	tb.row(2, "token:01JD3V6Q8K2M4N5P7R9S1T3V5X (vector shipper on web-01.example.internal)", "incident.update")
	tb.row(3, "x\ty\nz", "rule.add")
	tb.flush()
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), b.String())
	}
	col := strings.Index(lines[0], "ACTION")
	for _, l := range lines[1:] {
		if c := strings.LastIndex(l, " ") + 1; c != col {
			t.Errorf("third column at %d, want %d:\n%s", c, col, b.String())
		}
	}
}

func TestParseMatcher(t *testing.T) {
	cases := []struct {
		in               string
		field, op, value string
		bad              bool
	}{
		{in: "host=web-1", field: "host", op: "=", value: "web-1"},
		{in: "host!=web-1", field: "host", op: "!=", value: "web-1"},
		{in: "host=~build-.*", field: "host", op: "=~", value: "build-.*"},
		{in: "rule_title!~SSH.*", field: "rule_title", op: "!~", value: "SSH.*"},
		{in: "rule_title=a=b", field: "rule_title", op: "=", value: "a=b"},
		{in: "host", bad: true},
		{in: "=web-1", bad: true},
		{in: "host!web", bad: true},
	}
	for _, c := range cases {
		m, err := parseMatcher(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%q: accepted as %+v", c.in, m)
			}
			continue
		}
		if err != nil || m.Field != c.field || m.Op != c.op || m.Value != c.value {
			t.Errorf("%q: %+v %v, want %s %s %s", c.in, m, err, c.field, c.op, c.value)
		}
	}
}

func TestParseSpan(t *testing.T) {
	for in, want := range map[string]time.Duration{"2h": 2 * time.Hour, "7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "30m": 30 * time.Minute} {
		if got, err := parseSpan(in); err != nil || got != want {
			t.Errorf("parseSpan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "xd", "7days", "1d2"} {
		if got, err := parseSpan(in); err == nil {
			t.Errorf("parseSpan(%q) = %v, want an error", in, got)
		}
	}
}
