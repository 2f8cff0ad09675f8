package api

import (
	"encoding"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// obj is a JSON object a handler builds from a map: every key is always
// written, each value's Go type gives its schema.
type obj map[string]any

// schema is a JSON Schema written out, for a body that is not JSON.
type schema map[string]any

// anyOf is a body that is one of several shapes (an endpoint that answers
// with its own result or the error body at the same status).
type anyOf []any

// opSpec is what an operation takes and answers, for the OpenAPI document.
type opSpec struct {
	id     string
	in     any // the Go type the handler decodes from a JSON body (a zero value)
	status int // the success status
	out    any // the success body's Go type or obj; nil: no body
	// contentType of a success body that is not JSON.
	contentType string
	// also lists other statuses whose body is not the error body.
	also map[int]any
}

// schemaGen turns Go types into JSON Schemas (OpenAPI 3.1 dialect), named
// struct types once each under components/schemas, so the document
// describes what encoding/json writes and cannot drift from the types.
type schemaGen struct {
	defs  map[string]any
	names map[reflect.Type]string
}

func newSchemaGen() *schemaGen {
	return &schemaGen{defs: map[string]any{}, names: map[reflect.Type]string{}}
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	rawType       = reflect.TypeFor[json.RawMessage]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
	textType      = reflect.TypeFor[encoding.TextMarshaler]()
	defName       = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)
)

// body is the schema of a response or request body description.
func (g *schemaGen) body(v any) map[string]any {
	switch v := v.(type) {
	case obj:
		props, req := map[string]any{}, []string{}
		for k, e := range v {
			props[k] = g.body(e)
			req = append(req, k)
		}
		slices.Sort(req)
		return map[string]any{"type": "object", "properties": props, "required": req, "additionalProperties": false}
	case anyOf:
		var alts []any
		for _, e := range v {
			alts = append(alts, g.body(e))
		}
		return map[string]any{"anyOf": alts}
	case schema:
		return v
	}
	return g.of(reflect.TypeOf(v))
}

// of is the schema of values of type t, null included where encoding/json
// can write null (nil pointers, slices, maps and interfaces).
func (g *schemaGen) of(t reflect.Type) map[string]any {
	if t == nil || t.Kind() == reflect.Interface || t == rawType {
		return map[string]any{} // anything, null included
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.of(t.Elem()))
	case reflect.Slice, reflect.Map:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return nullable(map[string]any{"type": "string", "contentEncoding": "base64"})
		}
		return nullable(g.nonNull(t))
	}
	return g.nonNull(t)
}

func (g *schemaGen) nonNull(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType):
		// Its own JSON form: not derivable from the fields.
		return map[string]any{"description": "custom JSON form of " + t.String()}
	case t.Implements(textType) || reflect.PointerTo(t).Implements(textType):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem())}
	case reflect.Struct:
		return g.structRef(t)
	}
	return map[string]any{}
}

// structRef names a named struct under components/schemas; anonymous ones
// are written in place.
func (g *schemaGen) structRef(t reflect.Type) map[string]any {
	name := t.String() // e.g. alarm.Incident
	if t.Name() == "" || !defName.MatchString(name) {
		return g.structSchema(t)
	}
	if n, ok := g.names[t]; ok {
		return map[string]any{"$ref": "#/components/schemas/" + n}
	}
	g.names[t] = name
	g.defs[name] = map[string]any{} // recursion stops at the reference
	g.defs[name] = g.structSchema(t)
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props, req := map[string]any{}, []string{}
	g.fields(t, props, &req)
	slices.Sort(req)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(req) > 0 {
		s["required"] = req
	}
	return s
}

// fields adds t's JSON fields as encoding/json writes them: embedded
// structs without a name are flattened, "-" and unexported fields are left
// out, and a field is required unless omitempty or omitzero may drop it.
func (g *schemaGen) fields(t reflect.Type, props map[string]any, req *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !ft.Implements(marshalerType) {
				g.fields(ft, props, req)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.Contains(","+opts+",", ",string,") {
			props[name] = map[string]any{"type": "string"}
		} else {
			props[name] = g.of(f.Type)
		}
		if !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",omitzero,") {
			*req = append(*req, name)
		}
	}
}

// nullable admits null besides what s admits.
func nullable(s map[string]any) map[string]any {
	if len(s) == 0 {
		return s
	}
	if t, ok := s["type"].(string); ok {
		c := make(map[string]any, len(s))
		for k, v := range s {
			c[k] = v
		}
		c["type"] = []string{t, "null"}
		return c
	}
	if _, ok := s["description"]; ok && len(s) == 1 {
		return s // a custom form already admits anything
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}
