// Package apitest is the contract-test server of the API connectors: a
// local HTTPS server that expects an exact sequence of requests (method,
// path, query, headers, JSON body) and answers each with the example
// response of the vendor's published API reference.
package apitest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// Exchange is one expected request and its answer.
type Exchange struct {
	Method string
	// Path is the exact escaped path.
	Path string
	// Query, when not nil, must equal the request's query parameters.
	Query map[string]string
	// Header lists headers that must have exactly these values.
	Header map[string]string
	// Body, when not "", is JSON the request body must equal (compared as
	// values, so key order and spacing do not matter). NoBody requires
	// an empty body.
	Body   string
	NoBody bool
	// Form, when not nil, must equal the request's form-encoded body
	// (OAuth 2.0 token requests).
	Form map[string]string
	// Status, RespHeader and Resp are the answer.
	Status     int
	RespHeader map[string]string
	Resp       string
}

// Server is a running contract server.
type Server struct {
	*httptest.Server
	t    testing.TB
	mu   sync.Mutex
	want []Exchange
	n    int
}

// New starts a TLS server expecting want, in order; at the end of the
// test it fails if some were not sent.
func New(t testing.TB, want ...Exchange) *Server {
	s := &Server{t: t, want: want}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.n < len(s.want) {
			t.Errorf("contract: %d of %d expected requests sent; next expected: %s %s", s.n, len(s.want), s.want[s.n].Method, s.want[s.n].Path)
		}
		// More than expected is reported by serve, request by request.
	})
	return s
}

// Sent is how many requests arrived.
func (s *Server) Sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := s.n
	s.n++
	s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	if i >= len(s.want) {
		s.t.Errorf("contract: unexpected request %d: %s %s %s", i+1, r.Method, r.URL.RequestURI(), body)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	e := s.want[i]
	where := "request " + itoa(i+1) + " (" + r.Method + " " + r.URL.RequestURI() + ")"
	if r.Method != e.Method || r.URL.EscapedPath() != e.Path {
		s.t.Errorf("contract: %s: want %s %s", where, e.Method, e.Path)
	}
	if e.Query != nil {
		got := map[string]string{}
		for k, v := range r.URL.Query() {
			got[k] = strings.Join(v, ",")
		}
		if !reflect.DeepEqual(got, e.Query) {
			s.t.Errorf("contract: %s: query %v, want %v", where, got, e.Query)
		}
	}
	for k, v := range e.Header {
		if got := r.Header.Get(k); got != v {
			s.t.Errorf("contract: %s: header %s = %q, want %q", where, k, got, v)
		}
	}
	if e.Form != nil {
		got := map[string]string{}
		vs, err := url.ParseQuery(string(body))
		if err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			s.t.Errorf("contract: %s: body is not a form (%s): %s", where, r.Header.Get("Content-Type"), body)
		}
		for k, v := range vs {
			got[k] = strings.Join(v, ",")
		}
		if !reflect.DeepEqual(got, e.Form) {
			s.t.Errorf("contract: %s: form %v, want %v", where, got, e.Form)
		}
	}
	switch {
	case e.NoBody && len(body) > 0:
		s.t.Errorf("contract: %s: want no body, got %s", where, body)
	case e.Body != "":
		var got, want any
		if err := json.Unmarshal(body, &got); err != nil {
			s.t.Errorf("contract: %s: body is not JSON: %s", where, body)
		} else if err := json.Unmarshal([]byte(e.Body), &want); err != nil {
			s.t.Fatalf("contract: expected body of %s is not JSON: %v", where, err)
		} else if !reflect.DeepEqual(got, want) {
			s.t.Errorf("contract: %s: body\n got %s\nwant %s", where, body, compact(e.Body))
		}
	}
	for k, v := range e.RespHeader {
		w.Header().Set(k, v)
	}
	if e.Resp != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	st := e.Status
	if st == 0 {
		st = http.StatusOK
	}
	w.WriteHeader(st)
	io.WriteString(w, e.Resp)
}

func compact(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// Vault is a secret store for tests: names to values.
type Vault map[string]string

// Resolve reads secret://NAME.
func (v Vault) Resolve(_ context.Context, ref string) (string, error) {
	s, ok := v[strings.TrimPrefix(ref, "secret://")]
	if !ok {
		return "", &missing{strings.TrimPrefix(ref, "secret://")}
	}
	return s, nil
}

type missing struct{ name string }

func (m *missing) Error() string { return "secret " + m.name + ": no such secret" }
