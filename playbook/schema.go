package playbook

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// SchemaValidator validates CACAO documents against the official CACAO 2.0
// JSON schemas (oasis-open/cacao-json-schemas), loaded from a directory at
// run time: Riposte does not ship a copy.
//
// Two compilations are kept (cacao.md §10.2):
//   - strict: playbook.json is evaluated as draft 2020-12, so its
//     unevaluatedProperties closures (workflow, agent and target maps, the
//     top level) are enforced; the sub-schemas keep their declared draft-07,
//     whose closures are inert. Riposte's per-command-type check is done by
//     the decoder.
//   - lenient: every unevaluatedProperties is removed, typed address fields
//     also accept `__var__:value`, variable values may be any JSON, and
//     agent, target and authentication entries with other type prefixes are
//     validated against the base agent-target / authentication-info schema.
type SchemaValidator struct {
	strict  *jsonschema.Schema
	lenient *jsonschema.Schema
}

const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// NewSchemaValidator loads the schemas from dir, the folder that holds
// playbook.json (or its parent, as in a checkout of cacao-json-schemas).
func NewSchemaValidator(dir string) (*SchemaValidator, error) {
	root := dir
	if _, err := os.Stat(filepath.Join(root, "playbook.json")); err != nil {
		root = filepath.Join(dir, "schemas")
		if _, err := os.Stat(filepath.Join(root, "playbook.json")); err != nil {
			return nil, fmt.Errorf("CACAO schemas: no playbook.json in %s or %s", dir, root)
		}
	}
	docs := map[string]any{} // $id → document
	var entry string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("CACAO schemas: %s: %w", path, err)
		}
		m, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("CACAO schemas: %s is not a schema object", path)
		}
		rel, _ := filepath.Rel(root, path)
		id, _ := m["$id"].(string)
		if id == "" {
			id = "https://cacao.invalid/schemas/" + filepath.ToSlash(rel)
			m["$id"] = id
		}
		if filepath.ToSlash(rel) == "playbook.json" {
			entry = id
		}
		docs[id] = doc
		return nil
	})
	if err != nil {
		return nil, err
	}
	v := &SchemaValidator{}
	if v.strict, err = compileSchemas(docs, entry, strictTransform); err != nil {
		return nil, fmt.Errorf("CACAO schemas (strict): %w", err)
	}
	if v.lenient, err = compileSchemas(docs, entry, lenientTransform); err != nil {
		return nil, fmt.Errorf("CACAO schemas (lenient): %w", err)
	}
	return v, nil
}

type noNetwork struct{}

func (noNetwork) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not in the schema directory (no network access)", url)
}

func compileSchemas(docs map[string]any, entry string, transform func(id string, doc any) any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(noNetwork{})
	c.DefaultDraft(jsonschema.Draft7)
	for _, id := range sortedKeys(docs) {
		if err := c.AddResource(id, transform(id, deepCopy(docs[id]))); err != nil {
			return nil, err
		}
	}
	return c.Compile(entry)
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

func strictTransform(id string, doc any) any {
	if strings.HasSuffix(id, "/playbook.json") {
		doc.(map[string]any)["$schema"] = draft2020
	}
	return doc
}

const identifierPattern = `^[a-z][a-z0-9-]+[a-z0-9]--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`

func lenientTransform(id string, doc any) any {
	removeKey(doc, "unevaluatedProperties")
	m := doc.(map[string]any)
	switch {
	case strings.Contains(id, "/agent-target/"):
		allowVarRefs(m)
	case strings.HasSuffix(id, "/data-types/variable.json"):
		if props, ok := m["properties"].(map[string]any); ok {
			props["value"] = map[string]any{}
		}
	case strings.HasSuffix(id, "/playbook.json"):
		props, _ := m["properties"].(map[string]any)
		for key, base := range map[string]string{
			"agent_definitions":               "agent-target/agent-target.json",
			"target_definitions":              "agent-target/agent-target.json",
			"authentication_info_definitions": "authentication-info/authentication-info.json",
		} {
			if p, ok := props[key].(map[string]any); ok {
				if pp, ok := p["patternProperties"].(map[string]any); ok {
					pp[identifierPattern] = map[string]any{"$ref": base}
				}
			}
		}
	}
	return doc
}

func removeKey(v any, key string) {
	switch t := v.(type) {
	case map[string]any:
		delete(t, key)
		for _, e := range t {
			removeKey(e, key)
		}
	case []any:
		for _, e := range t {
			removeKey(e, key)
		}
	}
}

// allowVarRefs wraps every string pattern in an agent-target schema so that
// a `__var__:value` reference is accepted too (cacao.md §10.1 quirk 4).
func allowVarRefs(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if em, ok := e.(map[string]any); ok {
				if _, has := em["pattern"]; has && em["type"] == "string" {
					t[k] = map[string]any{"anyOf": []any{em, map[string]any{"type": "string", "pattern": `__[a-zA-Z_][a-zA-Z0-9_-]*__:value`}}}
					continue
				}
			}
			allowVarRefs(e)
		}
	case []any:
		for _, e := range t {
			allowVarRefs(e)
		}
	}
}

var schemaPrinter = message.NewPrinter(language.English)

// validate runs the schema pass and converts its findings.
func (v *SchemaValidator) validate(data []byte, strict bool) []Error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return []Error{{Code: "json", Path: "$", Msg: err.Error()}}
	}
	sch := v.lenient
	if strict {
		sch = v.strict
	}
	err = sch.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Error{{Code: "schema", Path: "$", Msg: err.Error()}}
	}
	var out []Error
	collectSchemaErrors(ve, &out)
	// One finding per path and message.
	seen := map[string]bool{}
	uniq := out[:0]
	for _, e := range out {
		k := e.Path + "\x00" + e.Msg
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, e)
		}
	}
	sort.SliceStable(uniq, func(i, j int) bool { return uniq[i].Path < uniq[j].Path })
	return uniq
}

func collectSchemaErrors(e *jsonschema.ValidationError, out *[]Error) {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		// Report the alternative that got furthest, not every branch.
		var leaves []Error
		for _, c := range e.Causes {
			collectSchemaErrors(c, &leaves)
		}
		msg := e.ErrorKind.LocalizedString(schemaPrinter)
		if len(leaves) > 0 {
			best := leaves[0]
			for _, l := range leaves {
				if len(l.Path) > len(best.Path) {
					best = l
				}
			}
			msg += " (e.g. " + best.Path + ": " + best.Msg + ")"
		}
		*out = append(*out, Error{Code: "schema", Path: pathOf(e.InstanceLocation), Msg: "schema: " + msg})
		return
	}
	if len(e.Causes) == 0 {
		msg := e.ErrorKind.LocalizedString(schemaPrinter)
		if _, ok := e.ErrorKind.(*kind.FalseSchema); ok && len(e.InstanceLocation) > 0 {
			// An unevaluatedProperties closure: the key is not one the
			// enclosing object allows.
			msg = fmt.Sprintf("%q is not allowed here (the schema closes this object to the listed properties or key patterns)", e.InstanceLocation[len(e.InstanceLocation)-1])
		}
		*out = append(*out, Error{Code: "schema", Path: pathOf(e.InstanceLocation), Msg: "schema: " + msg})
		return
	}
	for _, c := range e.Causes {
		collectSchemaErrors(c, out)
	}
}
