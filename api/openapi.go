package api

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/riposte-soar/riposte/internal/httpjson"
)

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// openapi builds the document from the route table, so it cannot drift
// from what the server actually serves.
func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ *Caller) {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{"summary": rt.Summary}
		var params []map[string]any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]string{"type": "string"}})
		}
		for _, p := range rt.Query {
			params = append(params, map[string]any{"name": p.Name, "in": "query", "required": p.Required,
				"description": p.Desc, "schema": map[string]string{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.Body != "" {
			op["requestBody"] = map[string]any{"description": rt.Body, "required": true,
				"content": map[string]any{"application/json": map[string]any{}, "application/x-ndjson": map[string]any{}}}
		}
		resp := map[string]any{"200": map[string]string{"description": "success"},
			"400": map[string]any{"$ref": "#/components/responses/Error"}}
		switch rt.Role {
		case Public:
			op["security"] = []map[string][]string{}
		case AgentAuth:
			op["security"] = []map[string][]string{{"agent": {}}}
			op["x-riposte-role"] = string(rt.Role)
			resp["401"] = map[string]any{"$ref": "#/components/responses/Error"}
		default:
			op["security"] = []map[string][]string{{"bearer": {}}}
			op["x-riposte-role"] = string(rt.Role)
			resp["401"] = map[string]any{"$ref": "#/components/responses/Error"}
			resp["403"] = map[string]any{"$ref": "#/components/responses/Error"}
		}
		op["responses"] = resp
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]string{"title": "Riposte API", "version": "v1 (" + s.d.Version + ")"},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]string{"type": "http", "scheme": "bearer"},
				"agent": map[string]string{"type": "http", "scheme": "basic", "description": "agent-<id> and the agent's credential"}},
			"responses": map[string]any{"Error": map[string]any{"description": "error",
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
					"type": "object", "properties": map[string]any{"error": map[string]any{"type": "object",
						"properties": map[string]any{"code": map[string]string{"type": "string"}, "message": map[string]string{"type": "string"}}}}}}}}},
		},
	}
	httpjson.Write(w, http.StatusOK, doc)
}
