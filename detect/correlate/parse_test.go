package correlate

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

func parseYAML(t *testing.T, src string) (*Rule, error) {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml: %v\n%s", err, src)
	}
	return Parse(doc, "r.yml", 3)
}

// flatErrors unwraps errors.Join into its *Error parts.
func flatErrors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var pe *Error
		if errors.As(err, &pe) {
			out = append(out, pe)
		}
	}
	walk(err)
	return out
}

func TestParseErrors(t *testing.T) {
	b, err := os.ReadFile("testdata/parse_errors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name, Doc, Key, Msg string
	}
	if err := yaml.UnmarshalWithOptions(b, &cases, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			r, err := parseYAML(t, c.Doc)
			if err == nil {
				t.Fatalf("no error; parsed %+v", r)
			}
			if r != nil {
				t.Errorf("rule returned with an error")
			}
			for _, pe := range flatErrors(err) {
				if pe.Key == c.Key && strings.Contains(pe.Msg, c.Msg) {
					if pe.File != "r.yml" || pe.Line != 3 || !strings.HasPrefix(pe.Error(), "r.yml:3: "+c.Key+": ") {
						t.Errorf("location: %q", pe.Error())
					}
					keys[c.Key] = true
					return
				}
			}
			t.Errorf("want %s: ...%s...; got:\n%v", c.Key, c.Msg, err)
		})
	}
	// Every key Parse validates is covered.
	for _, k := range []string{"correlation", "detection", "logsource", "action", "title", "id", "name",
		"description", "level", "status", "author", "date", "modified", "references[1]", "tags", "related[0].type",
		"generate", "correlation.generate", "correlation.type", "correlation.rules", "correlation.group-by",
		"correlation.timespan", "correlation.condition", "correlation.condition.field", "correlation.aliases"} {
		if !keys[k] {
			t.Errorf("no parse error case for key %s", k)
		}
	}
}

func TestParseExample(t *testing.T) {
	// The example of spec §10, generate at the top level.
	r, err := parseYAML(t, `
title: Brute force then success
id: 1f0e8f5b-3c5b-4a57-9a62-6b0f4b7e9c11
correlation:
  type: temporal_ordered
  rules: [many_failed_logons, successful_logon]
  group-by: [TargetUserName]
  timespan: 10m
  aliases: {}
generate: false
level: high
tags: [attack.credential_access]
`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != TemporalOrdered || r.Timespan != 10*time.Minute || r.Level != "high" || r.Generate ||
		!slices.Equal(r.Rules, []string{"many_failed_logons", "successful_logon"}) ||
		!slices.Equal(r.GroupBy, []string{"TargetUserName"}) || r.File != "r.yml" || r.Line != 3 {
		t.Fatalf("%+v", r)
	}
	// temporal default: gte len(rules) (pySigma#317)
	if len(r.Condition.Ops) != 1 || r.Condition.Ops[0] != (Op{"gte", 2}) {
		t.Fatalf("default condition %+v", r.Condition)
	}
	if len(r.Warnings) != 0 {
		t.Fatalf("warnings %v", r.Warnings)
	}
}

func TestParseVariants(t *testing.T) {
	t.Run("generate inside correlation (pySigma)", func(t *testing.T) {
		r, err := parseYAML(t, "title: t\ncorrelation: {type: event_count, rules: a, timespan: 1m, condition: {gte: 1}, generate: true}")
		if err != nil || !r.Generate || !slices.Equal(r.Rules, []string{"a"}) {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("generate in both places, agreeing", func(t *testing.T) {
		r, err := parseYAML(t, "title: t\ngenerate: true\ncorrelation: {type: event_count, rules: [a], timespan: 1m, condition: {gte: 1}, generate: true}")
		if err != nil || !r.Generate {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("several comparisons ANDed", func(t *testing.T) {
		r, err := parseYAML(t, "title: t\ncorrelation: {type: value_sum, rules: [a], group-by: u, timespan: 2h, condition: {lte: 200, gt: 100, field: bytes}}")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.Condition.Ops, []Op{{"gt", 100}, {"lte", 200}}) || r.Condition.Field != "bytes" ||
			!slices.Equal(r.GroupBy, []string{"u"}) || r.Timespan != 2*time.Hour {
			t.Fatalf("%+v", r)
		}
		for v, want := range map[float64]bool{100: false, 100.5: true, 200: true, 201: false} {
			if r.Condition.Holds(v) != want {
				t.Errorf("Holds(%v) != %v", v, want)
			}
		}
	})
	t.Run("group-by absent warns", func(t *testing.T) {
		r, err := parseYAML(t, "title: t\ncorrelation: {type: event_count, rules: [a], timespan: 1d, condition: {gte: 1}}")
		if err != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "group-by") || r.Timespan != 24*time.Hour {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("pySigma units w, M, y warn", func(t *testing.T) {
		for unit, d := range map[string]time.Duration{"w": 7 * 24 * time.Hour, "M": 2629746 * time.Second, "y": 31556952 * time.Second} {
			r, err := parseYAML(t, "title: t\ncorrelation: {type: event_count, rules: [a], group-by: [u], timespan: 1"+unit+", condition: {gte: 1}}")
			if err != nil || r.Timespan != d || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "pySigma") {
				t.Fatalf("%s: %v %+v", unit, err, r)
			}
		}
	})
	t.Run("unused alias warns", func(t *testing.T) {
		r, err := parseYAML(t, "title: t\ncorrelation: {type: temporal, rules: [a, b], group-by: [u], timespan: 1m, aliases: {ip: {a: src}}}")
		if err != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "aliases.ip") {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("expression without rules", func(t *testing.T) {
		r, err := parseYAML(t, "title: t\ncorrelation: {type: temporal_ordered, group-by: [u], timespan: 5m, condition: 'failed_login and not (vpn-login or sso.login)'}")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.Rules, []string{"failed_login", "vpn-login", "sso.login"}) || r.Expr == "" || len(r.Condition.Ops) != 0 {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("value_count field list", func(t *testing.T) {
		r, err := parseYAML(t, "title: t\ncorrelation: {type: value_count, rules: [a], group-by: [u], timespan: 5m, condition: {gte: 3, field: [d, p]}}")
		if err != nil || r.Condition.Field != "d" || !slices.Equal(r.Condition.Fields, []string{"d", "p"}) {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("JSON-decoded numbers", func(t *testing.T) {
		doc := map[string]any{"title": "t", "correlation": map[string]any{"type": "event_count", "rules": []any{"a"},
			"timespan": "30s", "condition": map[string]any{"gte": float64(3)}}}
		r, err := Parse(doc, "", 0)
		if err != nil || r.Condition.Ops[0] != (Op{"gte", 3}) {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("all errors at once", func(t *testing.T) {
		_, err := parseYAML(t, "title: t\nlevel: x\ncorrelation: {type: nope, timespan: 1q}")
		if n := len(flatErrors(err)); n < 3 {
			t.Fatalf("%d errors: %v", n, err)
		}
	})
	t.Run("nil document", func(t *testing.T) {
		if _, err := Parse(nil, "f", 1); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestFingerprint(t *testing.T) {
	base := "title: t\ncorrelation: {type: event_count, rules: [a], group-by: [u], timespan: 1m, condition: {gte: 3, lt: 9}}"
	r1, _ := parseYAML(t, base)
	r2, _ := parseYAML(t, "title: other\nlevel: high\ntags: [x.y]\ngenerate: true\ncorrelation: {type: event_count, rules: [a], group-by: [u], timespan: 60s, condition: {lt: 9, gte: 3}}")
	r3, _ := parseYAML(t, "title: t\ncorrelation: {type: event_count, rules: [a], group-by: [u], timespan: 1m, condition: {gte: 4, lt: 9}}")
	if r1.Fingerprint() != r2.Fingerprint() {
		t.Error("metadata changed the fingerprint")
	}
	if r1.Fingerprint() == r3.Fingerprint() {
		t.Error("condition did not change the fingerprint")
	}
	if r1.Key() != "title:t" {
		t.Error(r1.Key())
	}
}
