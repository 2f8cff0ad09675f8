// Package receiver holds real servers for the tests of what sends out, the
// notification channels (notify/...) and the outbound connectors
// (connector/...): an SMTP server (STARTTLS, AUTH PLAIN, LOGIN and XOAUTH2, the raw DATA of
// every mail kept) and an HTTP receiver that answers with chosen statuses
// and keeps every request. Only tests import it.
package receiver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Request is one request an HTTP receiver got.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
}

// HTTP is a real HTTP server. It answers the n-th request with the n-th
// status given (the last one repeats); 0 means: keep the request open
// until the client gives up, as a receiver that took the body and went
// silent.
type HTTP struct {
	*httptest.Server
	// Header is added to every answer (Retry-After, ...).
	Header http.Header

	mu       sync.Mutex
	statuses []int
	reqs     []Request
}

// NewHTTP starts a receiver; it stops with the test.
func NewHTTP(t testing.TB, statuses ...int) *HTTP {
	if len(statuses) == 0 {
		statuses = []int{http.StatusOK}
	}
	h := &HTTP{Header: http.Header{}, statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *HTTP) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	n := len(h.reqs)
	h.reqs = append(h.reqs, Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: b})
	status := h.statuses[min(n, len(h.statuses)-1)]
	extra := h.Header.Clone()
	h.mu.Unlock()
	if status == 0 {
		<-r.Context().Done()
		return
	}
	for k, v := range extra {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, http.StatusText(status))
}

// Requests returns what the receiver got, in order.
func (h *HTTP) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.reqs...)
}
