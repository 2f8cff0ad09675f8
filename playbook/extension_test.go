package playbook

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Every x-riposte extension object Riposte exports matches the published
// schema (x-riposte.schema.json), and the definition is declared.
func TestRiposteExtensionSchema(t *testing.T) {
	raw, err := os.ReadFile("x-riposte.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(RiposteExtensionSchemaURL, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(RiposteExtensionSchemaURL)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for name, data := range ownYAML(t) {
		p := mustParseYAML(t, name, data)
		out, err := p.CACAO()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatal(err)
		}
		defs, _ := m["extension_definitions"].(map[string]any)
		if _, ok := defs[RiposteExtensionID]; !ok {
			t.Errorf("%s: x-riposte definition missing", name)
		}
		var check func(v any)
		check = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					if k == RiposteExtensionID {
						if _, isDef := e.(map[string]any)["type"]; isDef {
							continue // the definition itself
						}
						seen++
						if err := sch.Validate(e); err != nil {
							t.Errorf("%s: %v", name, err)
						}
						continue
					}
					check(e)
				}
			case []any:
				for _, e := range x {
					check(e)
				}
			}
		}
		check(m)
	}
	if seen < 10 {
		t.Fatalf("only %d x-riposte objects checked", seen)
	}
}
