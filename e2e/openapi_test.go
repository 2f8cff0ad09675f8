package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/riposte-soar/riposte/api"
)

// answer is one response of the API that a test received through n.do.
type answer struct {
	method, path, query string
	status              int
	header              http.Header
	body                []byte
}

// answers holds each distinct API answer of this run, to be checked
// against the OpenAPI document once every test has ended.
var answers struct {
	sync.Mutex
	seen map[[32]byte]bool
	list []answer
}

// maxCheckedBody bounds what is kept of one answer: a larger one (a big
// page of events) is checked for its status and content type only.
const maxCheckedBody = 4 << 20

func recordAnswer(req *http.Request, resp *http.Response, body []byte) {
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") {
		return
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s %s %d %s\n", req.Method, req.URL.Path, resp.StatusCode, resp.Header.Get("Content-Type"))
	h.Write(body)
	var key [32]byte
	copy(key[:], h.Sum(nil))
	answers.Lock()
	defer answers.Unlock()
	if answers.seen == nil {
		answers.seen = map[[32]byte]bool{}
	}
	if answers.seen[key] {
		return
	}
	answers.seen[key] = true
	if len(body) > maxCheckedBody {
		body = nil
	}
	answers.list = append(answers.list, answer{req.Method, req.URL.Path, req.URL.RawQuery, resp.StatusCode, resp.Header.Clone(), body})
}

// checkAnswers validates every recorded answer against the document the
// binary serves (built from the same route table): an answer of a route the
// document lacks, an undocumented content type or a body that does not match
// its schema is a failure. It returns the mismatches.
func checkAnswers(list []answer) []string {
	if len(list) == 0 {
		return nil
	}
	b, err := api.Document("e2e")
	if err != nil {
		return []string{"build the OpenAPI document: " + err.Error()}
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return []string{"load the OpenAPI document: " + err.Error()}
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return []string{"route the OpenAPI document: " + err.Error()}
	}
	var bad []string
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	for _, a := range list {
		req, err := http.NewRequest(a.method, (&url.URL{Scheme: "http", Host: "riposte", Path: a.path, RawQuery: a.query}).String(), nil)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s %s: %v", a.method, a.path, err))
			continue
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s %s answered %d but the document has no such route: %v", a.method, a.path, a.status, err))
			continue
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 a.status,
			Header:                 a.header,
			Body:                   io.NopCloser(bytes.NewReader(a.body)),
			Options:                opts,
		}
		if a.body == nil {
			in.Options = &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: true}
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			body := string(a.body)
			if len(body) > 300 {
				body = body[:300] + "…"
			}
			// The reason, not the whole schema it was checked against.
			why, _, _ := strings.Cut(err.Error(), "\nSchema:")
			bad = append(bad, fmt.Sprintf("%s %s (%s) answered %d: %s\n    body: %s", a.method, a.path, route.Operation.OperationID, a.status, why, body))
		}
	}
	sort.Strings(bad)
	return bad
}

// reportAnswers prints the mismatches and says whether the run may pass.
func reportAnswers() bool {
	answers.Lock()
	list := answers.list
	answers.Unlock()
	bad, n := checkAnswers(list), len(list)
	if len(bad) == 0 {
		if n == 0 {
			return true
		}
		fmt.Fprintf(os.Stderr, "e2e: %d distinct API answers match the OpenAPI document\n", n)
		return true
	}
	fmt.Fprintf(os.Stderr, "e2e: %d of %d distinct API answers do not match the OpenAPI document (api/openapi_ops.go):\n", len(bad), n)
	for _, b := range bad {
		fmt.Fprintln(os.Stderr, "  "+b)
	}
	return false
}

// TestAnswerCheck shows the end-of-run check fails what a client would trip
// over: a missing field, a wrong type, an error body of another shape, a
// route the document lacks, an undocumented content type.
func TestAnswerCheck(t *testing.T) {
	json := http.Header{"Content-Type": {"application/json"}}
	for _, c := range []struct {
		name string
		a    answer
		ok   bool
	}{
		{"whoami", answer{"GET", "/api/v1/whoami", "", 200, json,
			[]byte(`{"id":"t1","name":"ci","role":"admin","created_at":"2026-12-07T10:00:00Z","created_by":"bootstrap"}`)}, true},
		{"an error body", answer{"GET", "/api/v1/incidents/x", "", 404, json, []byte(`{"error":{"code":"not_found","message":"no incident x"}}`)}, true},
		{"an error of another shape", answer{"GET", "/api/v1/incidents/x", "", 404, json, []byte(`{"message":"no incident x"}`)}, false},
		{"a field missing", answer{"GET", "/healthz", "", 200, json, []byte(`{"status":"ok"}`)}, false},
		{"a list that is a number", answer{"GET", "/api/v1/tokens", "", 200, json, []byte(`{"tokens":3}`)}, false},
		{"a route the document lacks", answer{"GET", "/api/v1/nowhere", "", 200, json, []byte(`{}`)}, false},
		{"an undocumented content type", answer{"GET", "/api/v1/tokens", "", 200, http.Header{"Content-Type": {"text/html"}}, []byte(`<p>`)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := checkAnswers([]answer{c.a})
			if (len(bad) == 0) != c.ok {
				t.Errorf("want ok=%v, got %q", c.ok, bad)
			}
		})
	}
}
