package httpin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/internal/bustest"
	"github.com/riposte-soar/riposte/normalize"
)

// A handler made with For reads bodies under the events' limits and hands
// the items to its store, answering per line like the events API.
func TestFor(t *testing.T) {
	tb := bustest.Start(t, 0)
	events := New(tb.Pipe, tb.M, testLimits, normalize.FromJSON, bustest.DiscardLog())
	var calls int
	var storeErr error
	h := events.For("test_items", func(_ context.Context, items []Item, _ time.Time) ([]error, error) {
		calls++
		rejects := make([]error, len(items))
		for i, it := range items {
			if strings.Contains(string(it.Raw), "bad") {
				rejects[i] = errors.New("not an alert")
			}
		}
		return rejects, storeErr
	})
	if h.budget != events.budget || h.limiter != events.limiter {
		t.Fatal("the handler has its own in-flight budget or rate: senders could hold twice the memory")
	}
	many := strings.Repeat(`{"a":1}`+"\n", testLimits.MaxBatchEvents+1)
	cases := []struct {
		name, body string
		storeErr   error
		status     int
		wantCalls  int
		want       string
	}{
		{name: "accepted and refused by line", body: "{\"ok\":1}\n{\"bad\":1}\n{broken\n", status: 202, wantCalls: 1,
			want: `{"accepted":1,"rejected":2,"errors":[{"line":2,"index":1,"reason":"not an alert"},{"line":3,"index":2,"reason":`},
		{name: "every document refused", body: `{"bad":1}`, status: 400, wantCalls: 1, want: `"accepted":0,"rejected":1`},
		{name: "stream full", body: `{"ok":1}`, storeErr: fmt.Errorf("publishing: %w", bus.ErrFull), status: 429, wantCalls: 1, want: `"not stored: publishing:`},
		{name: "body over max_body_bytes", body: `{"a":"` + strings.Repeat("x", int(testLimits.MaxBodyBytes)) + `"}`, status: 413, want: "ingest.max_body_bytes"},
		{name: "more items than max_batch_events", body: many, status: 413, want: "ingest.max_batch_events"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls, storeErr = 0, c.storeErr
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/v1/alerts", strings.NewReader(c.body)))
			if w.Code != c.status || calls != c.wantCalls || !strings.Contains(w.Body.String(), c.want) || !json.Valid(w.Body.Bytes()) {
				t.Fatalf("status %d, store called %d times, answer %s; want %d, %d calls, %q", w.Code, calls, w.Body, c.status, c.wantCalls, c.want)
			}
			if h.Inflight() != 0 {
				t.Fatalf("%d bytes still held after the answer", h.Inflight())
			}
		})
	}
}
