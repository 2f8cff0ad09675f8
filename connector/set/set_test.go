package set

import (
	"context"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/connector"
)

func TestVars(t *testing.T) {
	c := New(Config{})
	in := map[string]any{"host": "web-1", "n": 3.0, "nested": map[string]any{"a": []any{"x"}}}
	for _, run := range []func(context.Context, connector.Call) (connector.Result, error){c.Execute, c.Simulate} {
		r, err := run(context.Background(), connector.Call{Operation: "vars", Args: map[string]any{"values": in}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Outputs["host"] != "web-1" || r.Outputs["n"] != 3.0 || len(r.Outputs) != 3 {
			t.Fatalf("outputs %v", r.Outputs)
		}
	}
}

func TestVarsRejects(t *testing.T) {
	c := New(Config{MaxBytes: 100})
	for name, call := range map[string]connector.Call{
		"missing":   {Operation: "vars", Args: map[string]any{}},
		"not a map": {Operation: "vars", Args: map[string]any{"values": "x"}},
		"unknown":   {Operation: "vars", Args: map[string]any{"values": map[string]any{}, "other": 1}},
		"operation": {Operation: "nope", Args: map[string]any{"values": map[string]any{}}},
		"too big":   {Operation: "vars", Args: map[string]any{"values": map[string]any{"a": strings.Repeat("x", 200)}}},
	} {
		if _, err := c.Simulate(context.Background(), call); err == nil || connector.ClassOf(err) != connector.Permanent {
			t.Errorf("%s: err %v, want permanent", name, err)
		}
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Connectors struct {
			Set Config `yaml:"set"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &doc, yaml.Strict()); err != nil || doc.Connectors.Set.MaxBytes != 262144 {
		t.Fatalf("%v %+v", err, doc)
	}
}
