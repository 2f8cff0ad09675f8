package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/bouncer"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/feeds"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/respond"
)

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// openapi serves the document built from the route table, so it cannot
// drift from what the server actually serves.
func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ *Caller) {
	httpjson.Write(w, http.StatusOK, s.document())
}

// Document is the OpenAPI document of a server of this build with every
// part enabled (for tests that check answers against it without a running
// server). The stand-in parts are never called: only the routes are read.
func Document(version string) ([]byte, error) {
	return json.Marshal(fullServer(version).document())
}

func fullServer(version string) *Server {
	return New(Deps{Version: version, Alarm: &alarm.Service{}, Decisions: &decision.Store{}, Respond: &respond.Service{}, Fleet: &fleet.Fleet{},
		Bouncers: &bouncer.Service{}, Slack: http.NotFoundHandler(), Feeds: &feeds.Service{}})
}

var errorRef = map[string]any{"$ref": "#/components/responses/Error"}

func (s *Server) document() map[string]any {
	g := newSchemaGen()
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		spec := ops[rt.Method+" "+rt.Path]
		op := map[string]any{"summary": rt.Summary}
		if spec.id != "" {
			op["operationId"] = spec.id
		}
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
		if rt.Body != "" || spec.in != nil {
			content := map[string]any{}
			if spec.in != nil {
				content["application/json"] = map[string]any{"schema": g.body(spec.in)}
			} else {
				// A body that is not one JSON value (NDJSON, CSV, YAML, a
				// file): described, not typed.
				content["*/*"] = map[string]any{}
			}
			op["requestBody"] = map[string]any{"description": rt.Body, "required": spec.in == nil, "content": content}
		}
		status := spec.status
		if status == 0 {
			status = http.StatusOK
		}
		ok := map[string]any{"description": http.StatusText(status)}
		if spec.out != nil {
			ct := spec.contentType
			if ct == "" {
				ct = "application/json"
			}
			ok["content"] = map[string]any{ct: map[string]any{"schema": g.body(spec.out)}}
		}
		// Every other answer is the error body, unless the route says
		// otherwise for a status.
		resp := map[string]any{strconv.Itoa(status): ok, "default": errorRef}
		for code, body := range spec.also {
			r := map[string]any{"description": "see the summary",
				"content": map[string]any{"application/json": map[string]any{"schema": g.body(body)}}}
			if code == 0 {
				resp["default"] = r
			} else {
				resp[strconv.Itoa(code)] = r
			}
		}
		switch rt.Role {
		case Public:
			op["security"] = []map[string][]string{}
		case AgentAuth:
			op["security"] = []map[string][]string{{"agent": {}}}
			op["x-riposte-role"] = string(rt.Role)
		case BouncerAuth:
			op["security"] = []map[string][]string{{"bouncer": {}}}
			op["x-riposte-role"] = string(rt.Role)
		case FeedAuth:
			op["security"] = []map[string][]string{{"feedBasic": {}}, {"feedBearer": {}}, {"feedQuery": {}}}
			op["x-riposte-role"] = string(rt.Role)
		default:
			op["security"] = []map[string][]string{{"bearer": {}}}
			op["x-riposte-role"] = string(rt.Role)
		}
		op["responses"] = resp
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	g.defs["Error"] = g.body(httpjson.ErrorBody{})
	return map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]string{"title": "Riposte API", "version": "v1 (" + s.d.Version + ")"},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]string{"type": "http", "scheme": "bearer"},
				"agent":      map[string]string{"type": "http", "scheme": "basic", "description": "agent-<id> and the agent's credential"},
				"bouncer":    map[string]string{"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "a CrowdSec bouncer's key (riposte bouncer add NAME)"},
				"feedBasic":  map[string]string{"type": "http", "scheme": "basic", "description": "a feed token (riposte feed add NAME) as the password; any user name"},
				"feedBearer": map[string]string{"type": "http", "scheme": "bearer", "description": "a feed token (riposte feed add NAME)"},
				"feedQuery":  map[string]string{"type": "apiKey", "in": "query", "name": "token", "description": "a feed token, for firewalls that only take a URL"}},
			"responses": map[string]any{"Error": map[string]any{"description": "an error: a code for programs and a message for people",
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}},
			"schemas": g.defs,
		},
	}
}
