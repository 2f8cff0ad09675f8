package httpin

import (
	"github.com/riposte-soar/riposte/internal/bustest"

	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/ingest"
	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/internal/netlimit"
	"github.com/riposte-soar/riposte/normalize"
	"github.com/riposte-soar/riposte/parse/ndjson"
)

const (
	accepted = "riposte_ingest_events_accepted_total"
	rejected = "riposte_ingest_events_rejected_total"
	bytesIn  = "riposte_ingest_bytes_total"
)

var testLimits = Limits{MaxEventBytes: 256, MaxBodyBytes: 4096, MaxBatchEvents: 20, MaxInflightBytes: 1 << 20}

// answer is what a sender reads back: a Result, or an error body.
type answer struct {
	status int
	header http.Header
	Result
	Error *httpjson.ErrorDetail `json:"error"`
}

// req describes one POST.
type req struct {
	body     []byte
	encoding string // Content-Encoding
	chunked  bool   // no Content-Length, as with Transfer-Encoding: chunked
	key      string // Idempotency-Key
	ctx      context.Context
}

func post(t *testing.T, h http.Handler, r req) answer {
	t.Helper()
	return postReader(t, h, bytes.NewReader(r.body), int64(len(r.body)), r)
}

func postReader(t *testing.T, h http.Handler, body io.Reader, length int64, r req) answer {
	t.Helper()
	hr := httptest.NewRequest(http.MethodPost, "/api/v1/events", body)
	hr.ContentLength = length
	if r.chunked {
		hr.ContentLength = -1
	}
	if r.encoding != "" {
		hr.Header.Set("Content-Encoding", r.encoding)
	}
	if r.key != "" {
		hr.Header.Set("Idempotency-Key", r.key)
	}
	if r.ctx != nil {
		hr = hr.WithContext(r.ctx)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hr)
	a := answer{status: w.Code, header: w.Header()}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %q is not JSON: %v", w.Body.String(), err)
	}
	return a
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// lines makes n NDJSON lines {"msg":"<prefix><i>"}.
func lines(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "{\"msg\":\"%s%d\"}\n", prefix, i)
	}
	return b.String()
}

// paddedLines makes n NDJSON lines of about 230 bytes each: 20 of them are
// within testLimits' events and event size, and over its body size.
func paddedLines(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "{\"msg\":\"%s%d\",\"pad\":%q}\n", prefix, i, strings.Repeat("p", 200))
	}
	return b.String()
}

// checkResult compares an answer with want. Lines and indexes must match
// exactly; a reason must contain want's, since the wording of JSON syntax
// errors (and their byte offsets) belongs to the decoder.
func checkResult(t *testing.T, got, want Result) {
	t.Helper()
	ok := got.Accepted == want.Accepted && got.Rejected == want.Rejected &&
		got.ErrorsTruncated == want.ErrorsTruncated && len(got.Errors) == len(want.Errors)
	for i := 0; ok && i < len(want.Errors); i++ {
		g, w := got.Errors[i], want.Errors[i]
		ok = g.Line == w.Line && g.Index == w.Index && strings.Contains(g.Reason, w.Reason)
	}
	if !ok {
		t.Errorf("answer\n got %+v\nwant %+v", got, want)
	}
}

func raws(evs []event.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, string(e.Raw))
	}
	return out
}

func msgs(evs []event.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.GetString("msg"))
	}
	return out
}

func TestPost(t *testing.T) {
	tb := bustest.Start(t, 0)
	h := New(tb.Pipe, tb.M, testLimits, normalize.FromJSON, bustest.DiscardLog())

	big := `{"msg":"` + strings.Repeat("x", 300) + `"}`
	cases := []struct {
		name string
		req  req
		// plain is the body as the handler sees it after decompression;
		// its length is added to the bytes counter when the body was read.
		plain      string
		bodyRead   bool
		wantStatus int
		wantCode   string  // error answers
		wantRes    *Result // Result answers
		wantRaw    []string
		// rejected counter increments by reason
		wantRejected map[string]float64
	}{
		{
			name: "single object", req: req{body: []byte(`{"msg":"one","host":"web1"}`)},
			plain: `{"msg":"one","host":"web1"}`, bodyRead: true,
			wantStatus: 202, wantRes: &Result{Accepted: 1}, wantRaw: []string{`{"msg":"one","host":"web1"}`},
		},
		{
			name: "array", req: req{body: []byte("[{\"msg\":\"a\"},\n {\"msg\":\"b\"}]")},
			plain: "[{\"msg\":\"a\"},\n {\"msg\":\"b\"}]", bodyRead: true,
			wantStatus: 202, wantRes: &Result{Accepted: 2}, wantRaw: []string{`{"msg":"a"}`, `{"msg":"b"}`},
		},
		{
			name: "ndjson with CRLF and a blank line", req: req{body: []byte("{\"msg\":\"a\"}\r\n\r\n{\"msg\":\"b\"}\n{\"msg\":\"c\"}")},
			plain: "{\"msg\":\"a\"}\r\n\r\n{\"msg\":\"b\"}\n{\"msg\":\"c\"}", bodyRead: true,
			wantStatus: 202, wantRes: &Result{Accepted: 3}, wantRaw: []string{`{"msg":"a"}`, `{"msg":"b"}`, `{"msg":"c"}`},
		},
		{
			name: "pretty-printed objects", req: req{body: []byte("{\n  \"msg\": \"a\"\n}\n{\n  \"msg\": \"b\"\n}\n")},
			plain: "{\n  \"msg\": \"a\"\n}\n{\n  \"msg\": \"b\"\n}\n", bodyRead: true,
			wantStatus: 202, wantRes: &Result{Accepted: 2}, wantRaw: []string{"{\n  \"msg\": \"a\"\n}", "{\n  \"msg\": \"b\"\n}"},
		},
		{
			name: "gzip ndjson", req: req{body: gz(t, lines("g", 3)), encoding: "gzip"},
			plain: lines("g", 3), bodyRead: true,
			wantStatus: 202, wantRes: &Result{Accepted: 3}, wantRaw: []string{`{"msg":"g0"}`, `{"msg":"g1"}`, `{"msg":"g2"}`},
		},
		{
			name: "x-gzip chunked", req: req{body: gz(t, lines("x", 2)), encoding: "x-gzip", chunked: true},
			plain: lines("x", 2), bodyRead: true,
			wantStatus: 202, wantRes: &Result{Accepted: 2}, wantRaw: []string{`{"msg":"x0"}`, `{"msg":"x1"}`},
		},
		{
			name: "identity encoding", req: req{body: []byte(`{"msg":"i"}`), encoding: "identity"},
			plain: `{"msg":"i"}`, bodyRead: true,
			wantStatus: 202, wantRes: &Result{Accepted: 1}, wantRaw: []string{`{"msg":"i"}`},
		},
		{
			name: "bad gzip", req: req{body: []byte(`{"msg":"not compressed"}`), encoding: "gzip"},
			wantStatus: 400, wantCode: "bad_body",
		},
		{
			name: "truncated gzip", req: req{body: gz(t, lines("t", 50))[:40], encoding: "gzip"},
			wantStatus: 400, wantCode: "bad_body",
		},
		{
			name: "unsupported encoding", req: req{body: []byte(`{"msg":"b"}`), encoding: "br"},
			wantStatus: 415, wantCode: "bad_body",
		},
		{
			name:  "malformed lines among good ones",
			req:   req{body: []byte("{\"msg\":\"a\"}\n{\"msg\":\n{\"msg\":\"c\"}\n42\n{\"msg\":\"e\"}\n[1]\n{\"msg\":\"g\"} {}\n")},
			plain: "{\"msg\":\"a\"}\n{\"msg\":\n{\"msg\":\"c\"}\n42\n{\"msg\":\"e\"}\n[1]\n{\"msg\":\"g\"} {}\n", bodyRead: true,
			wantStatus: 202,
			wantRes: &Result{Accepted: 3, Rejected: 4, Errors: []Reject{
				{Line: 2, Index: 1, Reason: "unexpected end of JSON input"},
				{Line: 4, Index: 3, Reason: "not a JSON object (got a number)"},
				{Line: 6, Index: 5, Reason: "not a JSON object (got an array)"},
				{Line: 7, Index: 6, Reason: "invalid character '{' after top-level value"},
			}},
			wantRaw:      []string{`{"msg":"a"}`, `{"msg":"c"}`, `{"msg":"e"}`},
			wantRejected: map[string]float64{"malformed": 4},
		},
		{
			name: "all lines malformed", req: req{body: []byte("{\"msg\":\"a\"\nnope\n")},
			plain: "{\"msg\":\"a\"\nnope\n", bodyRead: true,
			wantStatus: 400,
			wantRes: &Result{Rejected: 2, Errors: []Reject{
				{Line: 1, Index: 0, Reason: "unexpected end of JSON input"},
				{Line: 2, Index: 1, Reason: "invalid character 'o' in literal null (expecting 'u')"},
			}},
			wantRejected: map[string]float64{"malformed": 2},
		},
		{
			name: "empty body", req: req{body: nil}, bodyRead: true,
			wantStatus: 400, wantCode: "empty",
		},
		{
			name: "blank body", req: req{body: []byte(" \n\r\n\t")}, plain: " \n\r\n\t", bodyRead: true,
			wantStatus: 400, wantCode: "empty",
		},
		{
			name: "empty array", req: req{body: []byte("[]")}, plain: "[]", bodyRead: true,
			wantStatus: 400, wantCode: "empty",
		},
		{
			name: "content-length over max_body_bytes", req: req{body: []byte(lines("L", 400))},
			wantStatus: 413, wantCode: "body_too_large", wantRejected: map[string]float64{"too_large": 1},
		},
		{
			name: "chunked body over max_body_bytes", req: req{body: []byte(paddedLines("C", 20)), chunked: true},
			wantStatus: 413, wantCode: "body_too_large", wantRejected: map[string]float64{"too_large": 1},
		},
		{
			name: "gzip body over max_body_bytes after decompression", req: req{body: gz(t, paddedLines("Z", 20)), encoding: "gzip"},
			wantStatus: 413, wantCode: "body_too_large", wantRejected: map[string]float64{"too_large": 1},
		},
		{
			name: "exactly max_batch_events", req: req{body: []byte(lines("m", 20))}, plain: lines("m", 20), bodyRead: true,
			wantStatus: 202, wantRes: &Result{Accepted: 20}, wantRaw: strings.Split(strings.TrimSuffix(lines("m", 20), "\n"), "\n"),
		},
		{
			// Refused at the 21st event, before the rest is read or
			// anything is parsed: one refusal, counted once.
			name: "more events than max_batch_events", req: req{body: []byte(lines("n", 21) + "bad\n")}, plain: lines("n", 21) + "bad\n",
			wantStatus: 413, wantCode: "batch_too_large",
			wantRejected: map[string]float64{"too_large": 1},
		},
		{
			name: "event over max_event_bytes", req: req{body: []byte("{\"msg\":\"a\"}\n" + big + "\n{\"msg\":\"c\"}\n")},
			plain: "{\"msg\":\"a\"}\n" + big + "\n{\"msg\":\"c\"}\n", bodyRead: true,
			wantStatus: 202,
			wantRes: &Result{Accepted: 2, Rejected: 1, Errors: []Reject{
				{Line: 2, Index: 1, Reason: "event too large: 310 bytes, the limit is 256"},
			}},
			wantRaw:      []string{`{"msg":"a"}`, `{"msg":"c"}`},
			wantRejected: map[string]float64{"too_large": 1},
		},
		{
			name: "only event over max_event_bytes", req: req{body: []byte(big)}, plain: big, bodyRead: true,
			wantStatus: 400,
			wantRes: &Result{Rejected: 1, Errors: []Reject{
				{Line: 1, Index: 0, Reason: "event too large: 310 bytes, the limit is 256"},
			}},
			wantRejected: map[string]float64{"too_large": 1},
		},
	}
	reasons := []string{"malformed", "too_large", "rate_limited", "overloaded", "store_failed"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]float64{}
			for _, r := range reasons {
				before[r] = bustest.Counter(t, tb.Reg, rejected, "source", "http", "reason", r)
			}
			acc0 := bustest.Counter(t, tb.Reg, accepted, "source", "http")
			bytes0 := bustest.Counter(t, tb.Reg, bytesIn, "source", "http")

			a := post(t, h, tc.req)
			if a.status != tc.wantStatus {
				t.Fatalf("status %d, want %d (answer %+v %+v)", a.status, tc.wantStatus, a.Result, a.Error)
			}
			if tc.wantCode != "" {
				if a.Error == nil || a.Error.Code != tc.wantCode || a.Error.Message == "" {
					t.Errorf("error %+v, want code %q with a message", a.Error, tc.wantCode)
				}
			} else {
				if a.Error != nil {
					t.Errorf("unexpected error answer %+v", a.Error)
				}
				checkResult(t, a.Result, *tc.wantRes)
			}
			// The handler answers after storing: what it stored is
			// readable now, without waiting.
			got := tb.Stored(t)
			if want := tc.wantRaw; !reflect.DeepEqual(raws(got), append([]string{}, want...)) {
				t.Errorf("stored %q, want %q", raws(got), want)
			}
			for _, e := range got {
				if e.Source != "http" || e.ID == "" || e.Received.IsZero() || e.GetString("msg") == "" {
					t.Errorf("stored event %+v: want source http, an id, a receive time and the msg field", e)
				}
			}

			if d := bustest.Counter(t, tb.Reg, accepted, "source", "http") - acc0; d != float64(len(tc.wantRaw)) {
				t.Errorf("accepted counter +%v, want +%d", d, len(tc.wantRaw))
			}
			for _, r := range reasons {
				if d := bustest.Counter(t, tb.Reg, rejected, "source", "http", "reason", r) - before[r]; d != tc.wantRejected[r] {
					t.Errorf("rejected{reason=%s} +%v, want +%v", r, d, tc.wantRejected[r])
				}
			}
			wantBytes := 0.0
			if tc.bodyRead {
				wantBytes = float64(len(tc.plain))
			}
			if d := bustest.Counter(t, tb.Reg, bytesIn, "source", "http") - bytes0; d != wantBytes {
				t.Errorf("bytes counter +%v, want +%v", d, wantBytes)
			}
		})
	}
}

func TestNormalizedFields(t *testing.T) {
	tb := bustest.Start(t, 0)
	h := New(tb.Pipe, tb.M, testLimits, normalize.FromJSON, bustest.DiscardLog())
	body := `{"@timestamp":"2024-03-05T10:00:01Z","host":{"name":"web1"},"src_ip":"203.0.113.5","n":9007199254740993}`
	if a := post(t, h, req{body: []byte(body)}); a.status != 202 || a.Accepted != 1 {
		t.Fatalf("answer %d %+v", a.status, a.Result)
	}
	evs := tb.Stored(t)
	if len(evs) != 1 {
		t.Fatalf("stored %d events, want 1", len(evs))
	}
	e := evs[0]
	if !e.Time.Equal(time.Date(2024, 3, 5, 10, 0, 1, 0, time.UTC)) || e.Host != "web1" {
		t.Errorf("time %v host %q: want the event's own time and host", e.Time, e.Host)
	}
	if e.GetString("source.ip") != "203.0.113.5" || e.Fields["n"] != int64(9007199254740993) {
		t.Errorf("fields %v: want source.ip from src_ip and n exact", e.Fields)
	}
	if string(e.Raw) != body {
		t.Errorf("raw %q, want the exact bytes sent", e.Raw)
	}
}

func TestRateLimit(t *testing.T) {
	tb := bustest.Start(t, 0)
	l := testLimits
	// Slow refill, so the test's own pace does not matter.
	l.EventsPerSecond, l.Burst = 0.1, 5
	h := New(tb.Pipe, tb.M, l, normalize.FromJSON, bustest.DiscardLog())

	steps := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
		retryAfter bool
		stored     int
		limited    float64
		tooLarge   float64
	}{
		{"within the burst", lines("a", 5), 202, "", false, 5, 0, 0},
		{"bucket empty", lines("b", 3), 429, "rate_limited", true, 0, 3, 0},
		// More than the bucket ever holds can never pass: retrying is
		// useless, so the answer is not a 429.
		{"batch over the burst", lines("c", 6), 413, "batch_too_large", false, 0, 0, 6},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			lim0 := bustest.Counter(t, tb.Reg, rejected, "source", "http", "reason", "rate_limited")
			big0 := bustest.Counter(t, tb.Reg, rejected, "source", "http", "reason", "too_large")
			a := post(t, h, req{body: []byte(s.body)})
			if a.status != s.wantStatus {
				t.Fatalf("status %d, want %d (%+v %+v)", a.status, s.wantStatus, a.Result, a.Error)
			}
			if s.wantCode != "" && (a.Error == nil || a.Error.Code != s.wantCode) {
				t.Errorf("error %+v, want code %q", a.Error, s.wantCode)
			}
			ra := a.header.Get("Retry-After")
			if s.retryAfter {
				// 3 events missing at 0.1 event/s: about 30 seconds.
				if n, err := strconv.Atoi(ra); err != nil || n < 20 || n > 30 {
					t.Errorf("Retry-After %q, want about 30 seconds", ra)
				}
				if !strings.Contains(a.Error.Message, "0.1 events/s") {
					t.Errorf("message %q does not state the rate", a.Error.Message)
				}
			} else if ra != "" {
				t.Errorf("Retry-After %q on a %d", ra, a.status)
			}
			if got := tb.Stored(t); len(got) != s.stored {
				t.Errorf("stored %d events, want %d", len(got), s.stored)
			}
			if d := bustest.Counter(t, tb.Reg, rejected, "source", "http", "reason", "rate_limited") - lim0; d != s.limited {
				t.Errorf("rate_limited +%v, want +%v", d, s.limited)
			}
			if d := bustest.Counter(t, tb.Reg, rejected, "source", "http", "reason", "too_large") - big0; d != s.tooLarge {
				t.Errorf("too_large +%v, want +%v", d, s.tooLarge)
			}
		})
	}
}

func TestDefaultBurstTakesAFullBatch(t *testing.T) {
	tb := bustest.Start(t, 0)
	l := testLimits
	l.EventsPerSecond = 0.01 // burst 0: max(0.01/s, max_batch_events 20)
	h := New(tb.Pipe, tb.M, l, normalize.FromJSON, bustest.DiscardLog())
	if a := post(t, h, req{body: []byte(lines("a", 20))}); a.status != 202 || a.Accepted != 20 {
		t.Fatalf("a full batch: %d %+v %+v", a.status, a.Result, a.Error)
	}
	if a := post(t, h, req{body: []byte(lines("b", 1))}); a.status != 429 || a.header.Get("Retry-After") == "" {
		t.Fatalf("after the burst: %d %+v, want 429 with Retry-After", a.status, a.header)
	}
	if n := len(tb.Stored(t)); n != 20 {
		t.Errorf("stored %d, want 20", n)
	}
}

// TestSlowSendersHoldOnlyWhatTheySent: bodies that trickle in take the
// in-flight budget as their bytes arrive, so eight senders that declare
// whole bodies and send a few bytes do not lock every other sender out.
func TestSlowSendersHoldOnlyWhatTheySent(t *testing.T) {
	tb := bustest.Start(t, 0)
	l := testLimits
	l.MaxBodyBytes, l.MaxInflightBytes = 1<<20, 1<<20 // the smallest budget the config allows
	h := New(tb.Pipe, tb.M, l, normalize.FromJSON, bustest.DiscardLog())

	const slow = 8
	var writers []*io.PipeWriter
	answers := make(chan answer, slow)
	for i := range slow {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		length := int64(l.MaxBodyBytes) // declared in full, as the attack does
		if i%2 == 1 {
			length = -1 // and chunked
		}
		go func() { answers <- postReader(t, h, pr, length, req{}) }()
		if _, err := pw.Write([]byte(`{"msg":`)); err != nil {
			t.Fatal(err)
		}
	}
	if got, most := h.Inflight(), int64(slow*(16<<10)); got > most {
		t.Fatalf("%d slow senders that sent 7 bytes each hold %d bytes, want at most %d", slow, got, most)
	}
	a := post(t, h, req{body: []byte(lines("other", 10))})
	if a.status != 202 || a.Accepted != 10 {
		t.Fatalf("another sender while the slow ones trickle: %d %+v %+v, want 202", a.status, a.Result, a.Error)
	}
	for i, pw := range writers {
		pw.CloseWithError(fmt.Errorf("sender %d hung up", i))
	}
	for range slow {
		if a := <-answers; a.status != 400 {
			t.Errorf("a slow sender that hung up: %d %+v", a.status, a.Error)
		}
	}
	if n := h.Inflight(); n != 0 {
		t.Errorf("in-flight bytes %d after all requests ended, want 0", n)
	}
}

// TestInflightBytes: past the budget, a request is refused with 429 as
// soon as its bytes would go over, and nothing of it is stored.
func TestInflightBytes(t *testing.T) {
	tb := bustest.Start(t, 0)
	l := testLimits
	l.MaxInflightBytes = l.MaxBodyBytes // the smallest the config allows
	h := New(tb.Pipe, tb.M, l, normalize.FromJSON, bustest.DiscardLog())

	// A body of unknown length takes blocks of the budget as it arrives;
	// this one has taken all of it.
	pr, pw := io.Pipe()
	held := make(chan answer, 1)
	go func() { held <- postReader(t, h, pr, -1, req{}) }()
	if _, err := pw.Write([]byte(`{"msg":"slow"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slow request's first block", func() bool { return h.Inflight() == l.MaxBodyBytes })

	over0 := bustest.Counter(t, tb.Reg, rejected, "source", "http", "reason", "overloaded")
	a := post(t, h, req{body: []byte(`{"msg":"second"}`)})
	if a.status != 429 || a.header.Get("Retry-After") != "1" || a.Error == nil || a.Error.Code != "overloaded" ||
		!strings.Contains(a.Error.Message, "ingest.max_inflight_bytes") {
		t.Fatalf("while full: %d %v %+v, want 429 overloaded naming ingest.max_inflight_bytes, with Retry-After 1", a.status, a.header, a.Error)
	}
	if d := bustest.Counter(t, tb.Reg, rejected, "source", "http", "reason", "overloaded") - over0; d != 1 {
		t.Errorf("overloaded +%v, want +1", d)
	}
	pw.Close()
	if a := <-held; a.status != 429 {
		// Parsing needs memory too, and the body took it all.
		t.Fatalf("the request that took the whole budget: %d %+v %+v", a.status, a.Result, a.Error)
	}
	if n := h.Inflight(); n != 0 {
		t.Errorf("in-flight bytes %d after all requests ended, want 0", n)
	}
	if a := post(t, h, req{body: []byte(`{"msg":"retry"}`)}); a.status != 202 {
		t.Fatalf("retry after the slow one ended: %d %+v", a.status, a.Error)
	}
	if got := msgs(tb.Stored(t)); !reflect.DeepEqual(got, []string{"retry"}) {
		t.Errorf("stored %q", got)
	}
}

// TestPerSenderShare: one token's requests together hold at most its
// share; other tokens still get in.
func TestPerSenderShare(t *testing.T) {
	tb := bustest.Start(t, 0)
	l := testLimits
	l.MaxBodyBytes, l.MaxInflightBytes, l.MaxInflightPerSender, l.MaxBatchEvents = 64<<10, 1<<20, 64<<10, 1000
	h := New(tb.Pipe, tb.M, l, normalize.FromJSON, bustest.DiscardLog())
	greedy := WithSender(context.Background(), "greedy")

	pr, pw := io.Pipe()
	held := make(chan answer, 1)
	go func() { held <- postReader(t, h, pr, -1, req{ctx: greedy}) }()
	if _, err := pw.Write([]byte(paddedLines("g", 200)[:40<<10])); err != nil { // into the third block, of 64KiB
		t.Fatal(err)
	}
	waitFor(t, "the greedy sender's blocks", func() bool { return h.Inflight() >= 64<<10 })

	cases := []struct {
		name       string
		ctx        context.Context
		wantStatus int
	}{
		{"the same token again", greedy, 429},
		{"another token", WithSender(context.Background(), "modest"), 202},
	}
	for _, c := range cases {
		a := post(t, h, req{body: []byte(lines("x", 2)), ctx: c.ctx})
		if a.status != c.wantStatus {
			t.Errorf("%s: %d %+v %+v, want %d", c.name, a.status, a.Result, a.Error, c.wantStatus)
		}
		if c.wantStatus == 429 && (a.Error == nil || !strings.Contains(a.Error.Message, "ingest.max_inflight_per_token")) {
			t.Errorf("%s: %+v, want the limit named", c.name, a.Error)
		}
	}
	pw.CloseWithError(errors.New("gone"))
	<-held
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// failSink stores through next unless fail says no for the batch.
type failSink struct {
	next ingest.Sink
	fail func(batch []event.Event) error
}

func (s *failSink) Submit(ctx context.Context, batch []event.Event, key string) error {
	if err := s.fail(batch); err != nil {
		return err
	}
	return s.next.Submit(ctx, batch, key)
}

func TestSinkFailure(t *testing.T) {
	errDown := errors.New("bus unavailable")
	errFull := fmt.Errorf("%w (test)", bus.ErrFull)
	// Lines: 1 a, 2 b, 3 malformed, 4 c, 5 d, 6 e. With 2 events per
	// chunk the chunks are [a b] [c d] [e].
	body := "{\"msg\":\"a\"}\n{\"msg\":\"b\"}\nbad\n{\"msg\":\"c\"}\n{\"msg\":\"d\"}\n{\"msg\":\"e\"}\n"
	malformed := Reject{Line: 3, Index: 2, Reason: "invalid character 'b' looking for beginning of value"}
	cases := []struct {
		name       string
		failFirst  string // fail the chunk whose first event has this msg; "*" all
		err        error
		wantStatus int
		retryAfter string
		wantRes    Result
		wantStored []string
		reason     string
	}{
		{
			name: "first chunk fails", failFirst: "a", err: errDown, wantStatus: 202,
			wantRes: Result{Accepted: 3, Rejected: 3, Errors: []Reject{
				{Line: 1, Index: 0, Reason: "not stored: bus unavailable"},
				{Line: 2, Index: 1, Reason: "not stored: bus unavailable"},
				malformed,
			}},
			wantStored: []string{"c", "d", "e"}, reason: "store_failed",
		},
		{
			name: "last chunk fails", failFirst: "e", err: errDown, wantStatus: 202,
			wantRes: Result{Accepted: 4, Rejected: 2, Errors: []Reject{
				malformed,
				{Line: 6, Index: 5, Reason: "not stored: bus unavailable"},
			}},
			wantStored: []string{"a", "b", "c", "d"}, reason: "store_failed",
		},
		{
			name: "every chunk fails", failFirst: "*", err: errDown, wantStatus: 503, retryAfter: "1",
			wantRes: Result{Rejected: 6, Errors: []Reject{
				{Line: 1, Index: 0, Reason: "not stored: bus unavailable"},
				{Line: 2, Index: 1, Reason: "not stored: bus unavailable"},
				malformed,
				{Line: 4, Index: 3, Reason: "not stored: bus unavailable"},
				{Line: 5, Index: 4, Reason: "not stored: bus unavailable"},
				{Line: 6, Index: 5, Reason: "not stored: bus unavailable"},
			}},
			wantStored: []string{}, reason: "store_failed",
		},
		{
			name: "stream full", failFirst: "*", err: errFull, wantStatus: 429, retryAfter: "1",
			wantRes: Result{Rejected: 6, Errors: []Reject{
				{Line: 1, Index: 0, Reason: "not stored: " + errFull.Error()},
				{Line: 2, Index: 1, Reason: "not stored: " + errFull.Error()},
				malformed,
				{Line: 4, Index: 3, Reason: "not stored: " + errFull.Error()},
				{Line: 5, Index: 4, Reason: "not stored: " + errFull.Error()},
				{Line: 6, Index: 5, Reason: "not stored: " + errFull.Error()},
			}},
			wantStored: []string{}, reason: "overloaded",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb := bustest.Start(t, 0)
			sink := &failSink{next: tb.Pipe, fail: func(b []event.Event) error {
				if tc.failFirst == "*" || b[0].GetString("msg") == tc.failFirst {
					return tc.err
				}
				return nil
			}}
			h := New(sink, tb.M, testLimits, normalize.FromJSON, bustest.DiscardLog())
			h.ChunkEvents = 2
			a := post(t, h, req{body: []byte(body)})
			if a.status != tc.wantStatus {
				t.Fatalf("status %d, want %d (%+v)", a.status, tc.wantStatus, a.Result)
			}
			if ra := a.header.Get("Retry-After"); ra != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", ra, tc.retryAfter)
			}
			checkResult(t, a.Result, tc.wantRes)
			// Chunks are stored concurrently, so the stream holds them in
			// any order; IDs follow the body's order.
			stored := tb.Stored(t)
			slices.SortFunc(stored, func(a, b event.Event) int { return strings.Compare(a.ID, b.ID) })
			if got := msgs(stored); !reflect.DeepEqual(got, tc.wantStored) {
				t.Errorf("stored %q, want %q", got, tc.wantStored)
			}
			notStored := float64(tc.wantRes.Rejected - 1)
			if got := bustest.Counter(t, tb.Reg, rejected, "source", "http", "reason", tc.reason); got != notStored {
				t.Errorf("rejected{reason=%s} = %v, want %v", tc.reason, got, notStored)
			}
			if got := bustest.Counter(t, tb.Reg, accepted, "source", "http"); got != float64(tc.wantRes.Accepted) {
				t.Errorf("accepted = %v, want %v", got, tc.wantRes.Accepted)
			}
		})
	}
}

// TestStreamFull fills a real, small events stream: the bus refuses the
// batch, and the sender is told to come back later rather than told the
// events are stored.
func TestStreamFull(t *testing.T) {
	tb := bustest.Start(t, 4096)
	h := New(tb.Pipe, tb.M, testLimits, normalize.FromJSON, bustest.DiscardLog())
	var a answer
	ok := 0
	for i := range 100 {
		a = post(t, h, req{body: []byte(fmt.Sprintf(`{"msg":"%d","pad":"%s"}`, i, strings.Repeat("p", 150)))})
		if a.status != 202 {
			break
		}
		ok++
	}
	if ok == 0 || a.status != 429 || a.header.Get("Retry-After") != "1" {
		t.Fatalf("after %d stored: %d %v %+v, want 429 with Retry-After", ok, a.status, a.header, a.Result)
	}
	if a.Rejected != 1 || len(a.Errors) != 1 || !strings.Contains(a.Errors[0].Reason, "not stored: event stream is full") {
		t.Errorf("answer %+v, want the event listed as not stored because the stream is full", a.Result)
	}
	if got := bustest.Counter(t, tb.Reg, rejected, "source", "http", "reason", "overloaded"); got != 1 {
		t.Errorf("overloaded = %v, want 1", got)
	}
	if n := len(tb.Stored(t)); n != ok {
		t.Errorf("stored %d events, want the %d acknowledged", n, ok)
	}
}

func TestIdempotencyKey(t *testing.T) {
	tb := bustest.Start(t, 0)
	h := New(tb.Pipe, tb.M, testLimits, normalize.FromJSON, bustest.DiscardLog())
	h.ChunkEvents = 2 // several chunks, each deduplicated
	body := []byte(lines("k", 5))
	steps := []struct {
		name   string
		req    req
		stored int
	}{
		{"first post", req{body: body, key: "batch-1"}, 5},
		{"same key again", req{body: body, key: "batch-1"}, 0},
		{"same key, gzip", req{body: gz(t, string(body)), encoding: "gzip", key: "batch-1"}, 0},
		{"another key", req{body: body, key: "batch-2"}, 5},
		{"no key", req{body: body}, 5},
		{"no key again", req{body: body}, 5},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			a := post(t, h, s.req)
			// A retry is told its events are stored: they are, once.
			if a.status != 202 || a.Accepted != 5 || a.Rejected != 0 {
				t.Fatalf("answer %d %+v", a.status, a.Result)
			}
			if got := tb.Stored(t); len(got) != s.stored {
				t.Errorf("stored %d events, want %d", len(got), s.stored)
			}
		})
	}
}

// TestSenderHangsUp: a request whose sender went away is still stored whole,
// so what is in the stream does not depend on when the client gave up.
func TestSenderHangsUp(t *testing.T) {
	tb := bustest.Start(t, 0)
	h := New(tb.Pipe, tb.M, testLimits, normalize.FromJSON, bustest.DiscardLog())
	h.ChunkEvents = 1
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := post(t, h, req{body: []byte(lines("h", 4)), ctx: ctx})
	if a.status != 202 || a.Accepted != 4 {
		t.Fatalf("answer %d %+v", a.status, a.Result)
	}
	if n := len(tb.Stored(t)); n != 4 {
		t.Errorf("stored %d, want 4", n)
	}
}

func TestConcurrentPosts(t *testing.T) {
	tb := bustest.Start(t, 0)
	h := New(tb.Pipe, tb.M, testLimits, normalize.FromJSON, bustest.DiscardLog())
	h.ChunkEvents = 3
	const senders, each = 8, 10
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			a := post(t, h, req{body: []byte(lines(fmt.Sprintf("s%d-", i), each))})
			if a.status != 202 || a.Accepted != each {
				t.Errorf("sender %d: %d %+v", i, a.status, a.Result)
			}
		})
	}
	wg.Wait()
	evs := tb.Stored(t)
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.ID] || seen[e.GetString("msg")] {
			t.Errorf("duplicate event %s %q", e.ID, e.GetString("msg"))
		}
		seen[e.ID], seen[e.GetString("msg")] = true, true
	}
	if len(evs) != senders*each {
		t.Errorf("stored %d, want %d", len(evs), senders*each)
	}
	if got := bustest.Counter(t, tb.Reg, accepted, "source", "http"); got != senders*each {
		t.Errorf("accepted = %v", got)
	}
	if h.Inflight() != 0 {
		t.Errorf("in-flight bytes %d after all requests, want 0", h.Inflight())
	}
}

// TestSampleConfig: sample.conf is valid riposte.yaml and says what it
// documents.
func TestSampleConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "riposte.yaml")
	if err := os.WriteFile(p, []byte(SampleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, lines, err := config.LoadFile(p)
	if err != nil {
		t.Fatalf("sample.conf: %v", err)
	}
	if ps := c.Validate(lines); len(ps) > 0 {
		t.Fatalf("sample.conf: %v", ps)
	}
	in := c.Ingest
	if in.MaxEventBytes != 256<<10 || in.MaxBodyBytes != 64<<20 || in.MaxBatchEvents != 100000 ||
		in.MaxInflightBytes != 512<<20 || in.Rate != (config.Rate{}) {
		t.Errorf("sample.conf decodes to %+v", in)
	}
	for _, k := range []string{"ingest.max_event_bytes", "ingest.max_body_bytes", "ingest.max_batch_events",
		"ingest.max_inflight_bytes", "ingest.rate.events_per_second", "ingest.rate.burst"} {
		if lines[k] == 0 {
			t.Errorf("sample.conf does not show %s", k)
		}
	}
}

// peakHeap runs f and returns how far the live heap rose above where it
// started, sampled every millisecond.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak - base
}

// tinyEvents is an endless NDJSON body of 8-byte events, up to size bytes.
func tinyEvents(size int64) io.Reader {
	return io.LimitReader(&repeatReader{line: []byte("{\"a\":1}\n")}, size)
}

type repeatReader struct {
	line []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.line[r.off]
		r.off = (r.off + 1) % len(r.line)
	}
	return len(p), nil
}

var defaultLimits = Limits{MaxEventBytes: 256 << 10, MaxBodyBytes: 64 << 20, MaxBatchEvents: 100000,
	MaxInflightBytes: 512 << 20, MaxInflightPerSender: 192 << 20}

// TestManyTinyEventsBoundedMemory: a 0.8 MB body of 100,000 tiny events
// is stored without holding 100,000 parsed events at once (they took
// about 300 MB when the whole request was parsed before storing).
func TestManyTinyEventsBoundedMemory(t *testing.T) {
	tb := bustest.Start(t, 0)
	h := New(tb.Pipe, tb.M, defaultLimits, normalize.FromJSON, bustest.DiscardLog())
	body, _ := io.ReadAll(tinyEvents(100000 * 8))
	var a answer
	rise := peakHeap(func() { a = post(t, h, req{body: body}) })
	if a.status != 202 || a.Accepted != 100000 {
		t.Fatalf("100,000 tiny events: %d %+v %+v", a.status, a.Result, a.Error)
	}
	t.Logf("heap rose by %d MB for a %d KB body of 100,000 events", rise>>20, len(body)>>10)
	if rise > 64<<20 {
		t.Errorf("heap rose by %d MB for a %d KB body: parsed events are not bounded", rise>>20, len(body)>>10)
	}
	if n := h.Inflight(); n != 0 {
		t.Errorf("in-flight bytes %d after the request, want 0", n)
	}
}

// TestOversizedBodiesCostLittle: ten bodies of 50 MB of tiny events at once
// are refused at the event that crosses max_batch_events, having read
// under a megabyte each, and nothing is stored.
func TestOversizedBodiesCostLittle(t *testing.T) {
	tb := bustest.Start(t, 0)
	h := New(tb.Pipe, tb.M, defaultLimits, normalize.FromJSON, bustest.DiscardLog())
	const senders = 10
	answers := make([]answer, senders)
	rise := peakHeap(func() {
		var wg sync.WaitGroup
		for i := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = postReader(t, h, tinyEvents(50<<20), 50<<20, req{})
			}()
		}
		wg.Wait()
	})
	for i, a := range answers {
		if a.status != 413 || a.Error == nil || a.Error.Code != "batch_too_large" || !strings.Contains(a.Error.Message, "ingest.max_batch_events") {
			t.Errorf("sender %d: %d %+v, want 413 batch_too_large naming ingest.max_batch_events", i, a.status, a.Error)
		}
	}
	t.Logf("heap rose by %d MB for %d refused 50 MB bodies", rise>>20, senders)
	if rise > 48<<20 {
		t.Errorf("heap rose by %d MB for %d refused bodies: refusing must not cost their size", rise>>20, senders)
	}
	if n := len(tb.Stored(t)); n != 0 {
		t.Errorf("%d events stored from refused bodies", n)
	}
}

// TestMinimumBodyRate: through a real server, a body trickling below the
// minimum rate is cut with 408 once the grace has passed, and holds
// nothing afterwards.
func TestMinimumBodyRate(t *testing.T) {
	tb := bustest.Start(t, 0)
	h := New(tb.Pipe, tb.M, defaultLimits, normalize.FromJSON, bustest.DiscardLog())
	h.Pace = &netlimit.Pace{MinRate: 1000, Grace: 300 * time.Millisecond, Write: time.Second}
	srv := httptest.NewServer(h)
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{\"msg\":", 64<<20)
	go func() {
		for i := 0; i < 30; i++ {
			time.Sleep(100 * time.Millisecond)
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 408 || !strings.Contains(string(b), "too_slow") {
		t.Fatalf("slow body: %d %s, want 408 too_slow", resp.StatusCode, b)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("cut after %v, want soon after the 300ms grace", took)
	}
	if n := h.Inflight(); n != 0 {
		t.Errorf("in-flight bytes %d after the slow body was cut, want 0", n)
	}
	// A sender at the rate is not cut.
	a, err := http.Post(srv.URL, "application/json", strings.NewReader(lines("ok", 3)))
	if err != nil || a.StatusCode != 202 {
		t.Fatalf("a prompt body: %v %v", a, err)
	}
	a.Body.Close()
}

// FuzzItemCounter: the count made while reading equals what the parser
// finds whenever every item is a well-formed object, however the bytes
// are cut into reads, so a body within max_batch_events is never refused
// early.
func FuzzItemCounter(f *testing.F) {
	for _, s := range []string{lines("a", 3), `[{"a":1},{"b":[{"c":2}]}]`, "{\n  \"a\": \"{\\\"}\"\n}\n{\"b\":2}", `{"a":"}"}{"b":"\\"{"}`, "\xef\xbb\xbf{}\n{}", "[]", ""} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, body []byte, cut uint8) {
		good, bad := 0, 0
		ndjson.Read(body, 0, func(it ndjson.Item) {
			if it.Err != nil {
				bad++
			} else {
				good++
			}
		})
		var c itemCounter
		step := int(cut)%16 + 1
		for i := 0; i < len(body); i += step {
			c.feed(body[i:min(i+step, len(body))])
		}
		if bad == 0 && c.n != good {
			t.Fatalf("counted %d objects while reading, the parser found %d in %q", c.n, good, body)
		}
	})
}
