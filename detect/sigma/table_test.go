package sigma

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/normalize"
)

// tableCase is one case of testdata/*.yml: a rule (a whole document, or
// just a detection section; title and logsource are added when missing),
// optional mapping settings, and either the load error it must give or
// events with the expected verdict.
type tableCase struct {
	Name         string              `yaml:"name"`
	Rule         string              `yaml:"rule"`
	Placeholders map[string][]string `yaml:"placeholders"`
	Mapping      string              `yaml:"mapping"`
	Error        string              `yaml:"error"`
	Warning      string              `yaml:"warning"`
	Events       []tableEvent        `yaml:"events"`
}

type tableEvent struct {
	// JSON is normalized with normalize.FromJSON, as ingest does.
	JSON string `yaml:"json"`
	// Fields (JSON too) are used as Event.Fields directly, for values
	// normalize would change.
	Fields    string            `yaml:"fields"`
	Raw       string            `yaml:"raw"`
	LogSource map[string]string `yaml:"logsource"`
	Match     bool              `yaml:"match"`
}

func (e tableEvent) build(t *testing.T) *event.Event {
	t.Helper()
	ev := &event.Event{}
	decode := func(s string) map[string]any {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("bad test event %s: %v", s, err)
		}
		return m
	}
	switch {
	case e.JSON != "":
		normalize.FromJSON(decode(e.JSON), ev)
	case e.Fields != "":
		ev.Fields = map[string]any{}
		for k, v := range decode(e.Fields) {
			ev.Fields[k] = plainJSON(v)
		}
	default:
		ev.Fields = map[string]any{}
	}
	if e.Raw != "" {
		ev.Raw = []byte(e.Raw)
	}
	if e.LogSource != nil {
		ev.LogSource = event.LogSource{Product: e.LogSource["product"], Service: e.LogSource["service"], Category: e.LogSource["category"]}
	}
	return ev
}

// plainJSON turns json.Number into int64/float64 as Event.Fields wants.
func plainJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainJSON(e)
		}
		return out
	}
	return v
}

// ruleText completes a detection-only case into a rule; a case that sets
// title is taken as it is.
func ruleText(r string) string {
	if strings.Contains(r, "title:") {
		return r
	}
	if !strings.Contains(r, "logsource:") {
		r = "logsource: {}\n" + r
	}
	return "title: test rule\n" + r
}

func TestTables(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yml")
	if len(files) == 0 {
		t.Fatal("no testdata/*.yml")
	}
	total := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cases []tableCase
		if err := yaml.Unmarshal(data, &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range cases {
			total++
			t.Run(strings.TrimSuffix(filepath.Base(f), ".yml")+"/"+c.Name, func(t *testing.T) { runTableCase(t, c) })
		}
	}
	t.Logf("%d table cases in %d files", total, len(files))
}

func runTableCase(t *testing.T, c tableCase) {
	col, errs := Parse([]byte(ruleText(c.Rule)), "case.yml")
	mp := DefaultMapping()
	if c.Mapping != "" {
		var err error
		if mp, err = LoadMapping([]byte(c.Mapping)); err != nil {
			if c.Error != "" && strings.Contains(err.Error(), c.Error) {
				return
			}
			t.Fatalf("mapping: %v", err)
		}
	}
	for k, v := range c.Placeholders {
		mp.Placeholders[k] = v
	}
	var m *Matcher
	if len(errs) == 0 {
		var cerrs []LoadError
		m, cerrs = Compile(col.Rules, mp)
		errs = append(errs, cerrs...)
	}
	if c.Warning != "" {
		found := false
		for _, w := range col.Warnings {
			found = found || strings.Contains(w.Error(), c.Warning)
		}
		if !found {
			t.Errorf("want warning containing %q, got %v", c.Warning, col.Warnings)
		}
	}
	if c.Error != "" {
		if len(errs) == 0 {
			t.Fatalf("want error containing %q, rule loaded", c.Error)
		}
		if !strings.Contains(errs[0].Error(), c.Error) {
			t.Fatalf("want error containing %q, got %v", c.Error, errs[0])
		}
		if !strings.HasPrefix(errs[0].Error(), "case.yml:") {
			t.Errorf("error does not name file and line: %v", errs[0])
		}
		return
	}
	if len(errs) > 0 {
		t.Fatalf("unexpected error: %v", errs)
	}
	if len(col.Rules) != 1 {
		t.Fatalf("want one rule, got %d", len(col.Rules))
	}
	for i, e := range c.Events {
		ev := e.build(t)
		got, naive := false, false
		m.Match(ev, func(*Rule) { got = true })
		m.MatchNaive(ev, func(*Rule) { naive = true })
		desc := e.JSON + e.Fields
		if e.Raw != "" {
			desc += " raw=" + e.Raw
		}
		if got != e.Match {
			t.Errorf("event %d %s: match %v, want %v", i, desc, got, e.Match)
		}
		if naive != got {
			t.Errorf("event %d %s: naive %v, indexed %v", i, desc, naive, got)
		}
	}
}

// TestLoadErrorFormat checks the "file:line: reason" form on a typo.
func TestLoadErrorFormat(t *testing.T) {
	src := `title: typo
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\x.exe'
        CommandLine|contians: 'foo'
    condition: selection
`
	_, errs := Parse([]byte(src), "proc_creation_x.yml")
	if len(errs) != 1 {
		t.Fatalf("want 1 error, got %v", errs)
	}
	want := `proc_creation_x.yml:8: unknown modifier "contians"`
	if errs[0].Error() != want {
		t.Errorf("got %q, want %q", errs[0].Error(), want)
	}
	if errs[0].Rule != "typo" {
		t.Errorf("Rule = %q, want the title", errs[0].Rule)
	}
}

// TestParseDocuments covers the document kinds of one file.
func TestParseDocuments(t *testing.T) {
	src := `title: base
id: 11111111-1111-4111-8111-111111111111
name: base_rule
logsource: {product: windows}
detection:
    sel: {A: 1}
    condition: sel
---
title: corr
correlation:
    type: event_count
    rules: [base_rule]
    group-by: [U]
    timespan: 1m
    condition: {gte: 3}
---
title: filt
logsource: {product: windows}
filter:
    rules: [base_rule]
    sel: {B: 2}
    condition: not sel
---
action: global
title: old
---
title: nothing
foo: bar
`
	col, errs := Parse([]byte(src), "multi.yml")
	if len(col.Rules) != 1 || len(col.Correlations) != 1 || len(col.Filters) != 1 {
		t.Fatalf("rules %d correlations %d filters %d", len(col.Rules), len(col.Correlations), len(col.Filters))
	}
	if col.Correlations[0].Line != 9 || col.Correlations[0].Doc["correlation"] == nil {
		t.Errorf("correlation raw doc: %+v", col.Correlations[0])
	}
	if len(errs) != 2 || !strings.Contains(errs[0].Reason, "document 4") || !strings.Contains(errs[0].Reason, "action") ||
		!strings.Contains(errs[1].Reason, "document 5") {
		t.Fatalf("errors: %v", errs)
	}
	if errs[0].Line != 24 {
		t.Errorf("action error line %d, want 24", errs[0].Line)
	}
	r := col.Rules[0]
	if r.Name != "base_rule" || r.Doc["title"] != "base" || r.Line != 1 {
		t.Errorf("rule: %+v", r)
	}
	// The filter excludes B=2 from the base rule.
	rules := ApplyFilters(col.Rules, col.Filters)
	if len(rules[0].Filters) != 1 || len(r.Filters) != 0 {
		t.Fatalf("filters applied: %v (original %v)", rules[0].Filters, r.Filters)
	}
	m, cerrs := Compile(rules, nil)
	if len(cerrs) > 0 {
		t.Fatal(cerrs)
	}
	win := event.LogSource{Product: "windows"}
	for _, c := range []struct {
		f    map[string]any
		want bool
	}{{map[string]any{"A": int64(1)}, true}, {map[string]any{"A": int64(1), "B": int64(2)}, false}} {
		got := false
		m.Match(&event.Event{LogSource: win, Fields: c.f}, func(*Rule) { got = true })
		if got != c.want {
			t.Errorf("%v: %v, want %v", c.f, got, c.want)
		}
	}
}

// TestFilterScope checks that a filter applies only within its logsource
// and to the rules it names (spec §12, conformance rows 82, 83).
func TestFilterScope(t *testing.T) {
	rule := func(id, product string) *Rule {
		col, errs := Parse([]byte(fmt.Sprintf("title: %s\nid: %s\nlogsource: {product: %s}\ndetection:\n  sel: {A: x}\n  condition: sel\n", id, id, product)), id+".yml")
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return col.Rules[0]
	}
	col, errs := Parse([]byte("title: f\nlogsource: {product: windows}\nfilter:\n  rules: any\n  sel: {B: y}\n  condition: not sel\n"), "f.yml")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	rules := ApplyFilters([]*Rule{rule("w", "windows"), rule("l", "linux")}, col.Filters)
	if len(rules[0].Filters) != 1 || len(rules[1].Filters) != 0 {
		t.Errorf("windows rule filters %v, linux rule filters %v", rules[0].Filters, rules[1].Filters)
	}
	col2, _ := Parse([]byte("title: f\nlogsource: {}\nfilter:\n  rules: [other]\n  sel: {B: y}\n  condition: not sel\n"), "f.yml")
	if r := ApplyFilters([]*Rule{rule("w", "windows")}, col2.Filters); len(r[0].Filters) != 0 {
		t.Errorf("filter for rule 'other' applied to w")
	}
	// The filter's identifiers stay out of the rule's "them".
	col3, _ := Parse([]byte("title: t\nid: t\nlogsource: {}\ndetection:\n  a: {A: x}\n  condition: all of them\n"), "t.yml")
	col4, _ := Parse([]byte("title: f\nlogsource: {}\nfilter:\n  rules: [t]\n  b: {B: y}\n  condition: not b\n"), "f.yml")
	m, _ := Compile(ApplyFilters(col3.Rules, col4.Filters), nil)
	got := false
	m.Match(&event.Event{Fields: map[string]any{"A": "x"}}, func(*Rule) { got = true })
	if !got {
		t.Errorf("filter identifiers leaked into \"all of them\"")
	}
}

// TestMappingFile checks LoadMapping's format and its errors.
func TestMappingFile(t *testing.T) {
	mp, err := LoadMapping([]byte(`
placeholders:
  Servers: [srv*, "db01"]
fieldmappings:
  - logsource: {product: acme}
    fields:
      CommandLine: [cmd, proc.cmdline]
categories:
  process_creation: [proc_start]
taxonomies: [acme]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := mp.fieldCandidates("CommandLine", LogSource{Product: "acme"}); strings.Join(got, ",") != "CommandLine,cmd,proc.cmdline,process.command_line" {
		t.Errorf("candidates %v", got)
	}
	if got := mp.fieldCandidates("CommandLine", LogSource{Product: "windows"}); strings.Join(got, ",") != "CommandLine,process.command_line" {
		t.Errorf("candidates %v", got)
	}
	if !mp.admits(LogSource{Category: "process_creation"}, event.LogSource{Category: "proc_start"}) {
		t.Error("category alias not applied")
	}
	if !mp.taxonomyOK("acme") || mp.taxonomyOK("other") {
		t.Error("taxonomies")
	}
	if names := mp.PlaceholderNames(); len(names) != 1 || names[0] != "Servers" {
		t.Errorf("placeholders %v", names)
	}
	for _, bad := range []string{"foo: 1", "fieldmappings: {a: b}", "fieldmappings:\n  - logsource: {color: red}\n    fields: {a: b}", "placeholders: [a]"} {
		if _, err := LoadMapping([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "mapping:") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
	rep, err := LoadMapping([]byte("replace: true\n"))
	if err != nil || len(rep.Fields) != 0 || len(rep.Categories) != 0 {
		t.Errorf("replace: %v %+v", err, rep)
	}
}

// TestLoadPaths checks that a broken rule does not keep the others from
// loading, that it is reported with file and line, that duplicate ids
// are errors, and that the status policy skips deprecated rules.
func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good := "title: %s\nid: %s\nstatus: %s\nlogsource: {product: windows}\ndetection:\n  sel: {A: x}\n  condition: sel\n"
	write("a.yml", fmt.Sprintf(good, "a", "aaaaaaaa-0000-4000-8000-000000000001", "test"))
	write("b.yaml", fmt.Sprintf(good, "b", "aaaaaaaa-0000-4000-8000-000000000002", "deprecated"))
	write("c.yml", fmt.Sprintf(good, "c", "aaaaaaaa-0000-4000-8000-000000000001", "test"))
	write("d.yml", "title: d\nlogsource: {}\ndetection:\n  sel: {A|re: '(?<=x)y'}\n  condition: sel\n")
	write("e.yml", "title: e\nlogsource: {}\ndetection:\n  sel: [\n")
	write("notes.txt", "not a rule")
	col, errs := LoadPaths(dir)
	if len(col.Rules) != 1 || col.Rules[0].Title != "a" || len(col.Skipped) != 1 {
		t.Fatalf("rules %d skipped %d", len(col.Rules), len(col.Skipped))
	}
	var got []string
	for _, e := range errs {
		got = append(got, filepath.Base(e.File)+":"+fmt.Sprint(e.Line)+": "+e.Reason)
	}
	sort.Strings(got)
	if len(got) != 3 || !strings.HasPrefix(got[0], "c.yml:1: duplicate rule id") ||
		!strings.HasPrefix(got[1], "d.yml:4: \"A|re\": regular expression does not compile in RE2") ||
		!strings.HasPrefix(got[2], "e.yml:") || !strings.Contains(got[2], "YAML syntax") {
		t.Errorf("errors:\n%s", strings.Join(got, "\n"))
	}
	if _, errs := LoadPaths(filepath.Join(dir, "missing")); len(errs) != 1 {
		t.Errorf("missing path: %v", errs)
	}
	var buf bytes.Buffer
	for _, e := range errs {
		buf.WriteString(e.Error())
	}
	if !strings.Contains(buf.String(), dir) {
		t.Errorf("errors do not name the file: %s", buf.String())
	}
}

// TestMergeKeyOverride checks YAML merge keys in a rule: a key written in
// the selection overrides the one merged from the anchor, as YAML
// specifies, wherever << stands.
func TestMergeKeyOverride(t *testing.T) {
	src := `title: merged
logsource: {product: windows}
detection:
    base: &base {A: 1, B: 2}
    sel:
        <<: *base
        B: 3
    condition: sel
`
	col, errs := Parse([]byte(src), "merge.yml")
	if len(errs) > 0 || len(col.Rules) != 1 {
		t.Fatalf("rules %d, errors %v", len(col.Rules), errs)
	}
	m, cerrs := Compile(col.Rules, nil)
	if len(cerrs) > 0 {
		t.Fatal(cerrs)
	}
	win := event.LogSource{Product: "windows"}
	for _, c := range []struct {
		f    map[string]any
		want bool
	}{
		{map[string]any{"A": int64(1), "B": int64(3)}, true},
		{map[string]any{"A": int64(1), "B": int64(2)}, false},
		{map[string]any{"B": int64(3)}, false},
	} {
		got := false
		m.Match(&event.Event{LogSource: win, Fields: c.f}, func(*Rule) { got = true })
		if got != c.want {
			t.Errorf("%v: %v, want %v", c.f, got, c.want)
		}
	}
}
