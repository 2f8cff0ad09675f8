package api

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIDocument loads the served document with kin-openapi, checks
// it is valid OpenAPI 3, and that every route has a unique operation id,
// its request body's schema and a schema for every answer with a body.
func TestOpenAPIDocument(t *testing.T) {
	b, err := Document("test")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3: %v", err)
	}
	ident := regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)
	seen := map[string]string{}
	s := fullServer("test")
	for _, rt := range s.Routes() {
		key := rt.Method + " " + rt.Path
		t.Run(key, func(t *testing.T) {
			spec, ok := ops[key]
			if !ok {
				t.Fatalf("route %s has no entry in api.ops: say what it takes and answers", key)
			}
			op := doc.Paths.Find(rt.Path).GetOperation(rt.Method)
			if op == nil {
				t.Fatalf("route %s is not in the document", key)
			}
			if !ident.MatchString(op.OperationID) {
				t.Errorf("operationId %q: want a lowerCamel identifier", op.OperationID)
			}
			if other, dup := seen[op.OperationID]; dup {
				t.Errorf("operationId %q is also %s's", op.OperationID, other)
			}
			seen[op.OperationID] = key
			if spec.in != nil && (op.RequestBody == nil || op.RequestBody.Value.Content.Get("application/json").Schema == nil) {
				t.Errorf("request body has no schema")
			}
			if rt.Body != "" && op.RequestBody == nil {
				t.Errorf("the route takes a body the document does not describe")
			}
			for code, r := range op.Responses.Map() {
				if strings.HasPrefix(code, "204") {
					continue
				}
				if len(r.Value.Content) == 0 {
					t.Errorf("answer %s has no content", code)
				}
				for ct, mt := range r.Value.Content {
					if mt.Schema == nil {
						t.Errorf("answer %s %s has no schema", code, ct)
					}
				}
			}
		})
	}
	routes := map[string]bool{}
	for _, rt := range s.Routes() {
		routes[rt.Method+" "+rt.Path] = true
	}
	for key := range ops {
		if !routes[key] {
			t.Errorf("api.ops has %s, which is no route", key)
		}
	}
}
