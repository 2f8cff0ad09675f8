// Package httpin is the HTTP ingest source: POST /api/v1/events takes one
// JSON object, an array, or NDJSON, optionally gzip-compressed, and answers
// only after the accepted events are stored on the events stream.
package httpin

import (
	"compress/gzip"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/ingest"
	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/parse/ndjson"
)

// SampleConfig is the part of riposte.yaml this source reads.
//
//go:embed sample.conf
var SampleConfig string

// Limits bound what one request and all requests together may carry.
type Limits struct {
	MaxEventBytes    int
	MaxBodyBytes     int64
	MaxBatchEvents   int
	MaxInflightBytes int64
	// EventsPerSecond and Burst form a token bucket over all requests;
	// zero EventsPerSecond means no rate limit.
	EventsPerSecond float64
	Burst           int
}

// Handler serves POST /api/v1/events.
type Handler struct {
	sink      ingest.Sink
	metrics   *ingest.Metrics
	limits    Limits
	limiter   *rate.Limiter
	inflight  atomic.Int64
	normalize func(obj map[string]any, ev *event.Event) string
	log       *slog.Logger
	// ChunkEvents is how many events go in one stored batch.
	ChunkEvents int
}

// New builds the handler.
func New(sink ingest.Sink, m *ingest.Metrics, l Limits, normalize func(map[string]any, *event.Event) string, log *slog.Logger) *Handler {
	h := &Handler{sink: sink, metrics: m, limits: l, normalize: normalize, log: log, ChunkEvents: 1000}
	if l.EventsPerSecond > 0 {
		burst := l.Burst
		if burst <= 0 {
			burst = int(math.Max(l.EventsPerSecond, float64(l.MaxBatchEvents)))
		}
		h.limiter = rate.NewLimiter(rate.Limit(l.EventsPerSecond), burst)
	}
	return h
}

// Reject says which item was refused and why.
type Reject struct {
	Line   int    `json:"line"`
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// Result is the answer to a POST.
type Result struct {
	Accepted int      `json:"accepted"`
	Rejected int      `json:"rejected"`
	Errors   []Reject `json:"errors,omitempty"`
	// ErrorsTruncated is set when more items were refused than Errors lists.
	ErrorsTruncated bool `json:"errors_truncated,omitempty"`
}

const maxListedErrors = 10000

func (r *Result) reject(line, index int, reason string) {
	r.Rejected++
	if len(r.Errors) < maxListedErrors {
		r.Errors = append(r.Errors, Reject{Line: line, Index: index, Reason: reason})
	} else {
		r.ErrorsTruncated = true
	}
}

const source = "http"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > h.limits.MaxBodyBytes {
		h.metrics.Rejected.WithLabelValues(source, "too_large").Inc()
		httpjson.Error(w, http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("request body is %d bytes, the limit is %d: send smaller batches", r.ContentLength, h.limits.MaxBodyBytes))
		return
	}
	// Admission before reading: a known length reserves its bytes now, an
	// unknown one reserves the largest body it may turn out to be.
	reserve := r.ContentLength
	if reserve < 0 || r.Header.Get("Content-Encoding") != "" {
		reserve = h.limits.MaxBodyBytes
	}
	if h.inflight.Add(reserve) > h.limits.MaxInflightBytes {
		h.inflight.Add(-reserve)
		h.metrics.Rejected.WithLabelValues(source, "overloaded").Inc()
		w.Header().Set("Retry-After", "1")
		httpjson.Error(w, http.StatusTooManyRequests, "overloaded",
			"the server is processing as much as it is allowed to hold: retry after the delay in Retry-After")
		return
	}
	defer h.inflight.Add(-reserve)

	body, status, err := h.readBody(r)
	if err != nil {
		code := "bad_body"
		if status == http.StatusRequestEntityTooLarge {
			code = "body_too_large"
			h.metrics.Rejected.WithLabelValues(source, "too_large").Inc()
		}
		httpjson.Error(w, status, code, err.Error())
		return
	}
	h.metrics.Bytes.WithLabelValues(source).Add(float64(len(body)))

	var res Result
	now := time.Now().UTC()
	evs := make([]event.Event, 0, 64)
	lines := make([]int, 0, 64)
	indexes := make([]int, 0, 64)
	total := 0
	ndjson.Read(body, h.limits.MaxEventBytes, func(it ndjson.Item) {
		total++
		if it.Err != nil {
			res.reject(it.Line, it.Index, it.Err.Error())
			reason := "malformed"
			if errors.Is(it.Err, ndjson.ErrTooLarge) {
				reason = "too_large"
			}
			h.metrics.Rejected.WithLabelValues(source, reason).Inc()
			return
		}
		if len(evs) >= h.limits.MaxBatchEvents {
			return // refused as a whole below
		}
		ev := event.Event{ID: event.NewID(now), Received: now, Source: source, Raw: it.Raw}
		h.normalize(it.Obj, &ev)
		evs = append(evs, ev)
		lines = append(lines, it.Line)
		indexes = append(indexes, it.Index)
	})
	if total-res.Rejected > h.limits.MaxBatchEvents {
		// Malformed items are already counted under their own reason.
		h.metrics.Rejected.WithLabelValues(source, "too_large").Add(float64(total - res.Rejected))
		httpjson.Error(w, http.StatusRequestEntityTooLarge, "batch_too_large",
			fmt.Sprintf("request holds %d events, the limit is %d per request: nothing was stored, split the batch", total-res.Rejected, h.limits.MaxBatchEvents))
		return
	}
	if total == 0 {
		httpjson.Error(w, http.StatusBadRequest, "empty", "the body holds no event: send a JSON object, an array of objects, or NDJSON")
		return
	}
	if len(evs) == 0 {
		httpjson.Write(w, http.StatusBadRequest, res)
		return
	}
	if h.limiter != nil {
		rv := h.limiter.ReserveN(now, len(evs))
		if !rv.OK() {
			// More events than the bucket ever holds: waiting cannot help,
			// so a 429 would have the sender retry the same batch forever.
			h.metrics.Rejected.WithLabelValues(source, "too_large").Add(float64(len(evs)))
			httpjson.Error(w, http.StatusRequestEntityTooLarge, "batch_too_large",
				fmt.Sprintf("request holds %d events, more than the rate limit's burst of %d: nothing was stored, split the batch", len(evs), h.limiter.Burst()))
			return
		}
		if rv.Delay() > 0 {
			wait := rv.Delay()
			rv.Cancel()
			h.metrics.Rejected.WithLabelValues(source, "rate_limited").Add(float64(len(evs)))
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			httpjson.Error(w, http.StatusTooManyRequests, "rate_limited",
				fmt.Sprintf("over the ingest rate of %g events/s: nothing was stored, retry after the delay in Retry-After", h.limits.EventsPerSecond))
			return
		}
	}

	failed := h.store(r.Context(), evs, r.Header.Get("Idempotency-Key"))
	var full bool
	for i := range evs {
		if err := failed[i/h.ChunkEvents]; err != nil {
			res.reject(lines[i], indexes[i], "not stored: "+err.Error())
			full = full || errors.Is(err, bus.ErrFull)
		} else {
			res.Accepted++
		}
	}
	if n := len(evs) - res.Accepted; n > 0 {
		reason := "store_failed"
		if full {
			reason = "overloaded"
		}
		h.metrics.Rejected.WithLabelValues(source, reason).Add(float64(n))
	}
	h.metrics.Accepted.WithLabelValues(source).Add(float64(res.Accepted))
	status = http.StatusAccepted
	if res.Accepted == 0 {
		status = http.StatusServiceUnavailable
		if full {
			status = http.StatusTooManyRequests
		}
		w.Header().Set("Retry-After", "1")
	}
	sortErrors(res.Errors)
	httpjson.Write(w, status, res)
}

// store submits evs in chunks, several at once, and returns each chunk's error.
func (h *Handler) store(ctx context.Context, evs []event.Event, key string) []error {
	n := (len(evs) + h.ChunkEvents - 1) / h.ChunkEvents
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for c := 0; c < n; c++ {
		lo, hi := c*h.ChunkEvents, min((c+1)*h.ChunkEvents, len(evs))
		dedup := ""
		if key != "" {
			dedup = fmt.Sprintf("http:%s:%d", key, c)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// The sender hanging up must not abandon a batch half-published:
			// finish it so the stored state matches what the log says.
			errs[c] = h.sink.Submit(context.WithoutCancel(ctx), evs[lo:hi], dedup)
		}()
	}
	wg.Wait()
	return errs
}

func (h *Handler) readBody(r *http.Request) ([]byte, int, error) {
	var rd io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("Content-Encoding is gzip but the body is not: %v", err)
		}
		defer gz.Close()
		rd = gz
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Encoding %q is not supported: send identity or gzip", enc)
	}
	// Bound the decompressed size too, so a small gzip bomb cannot fill memory.
	body, err := io.ReadAll(io.LimitReader(rd, h.limits.MaxBodyBytes+1))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("reading body: %v", err)
	}
	if int64(len(body)) > h.limits.MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge,
			fmt.Errorf("request body is over the limit of %d bytes (after decompression): send smaller batches", h.limits.MaxBodyBytes)
	}
	return body, 0, nil
}

func sortErrors(rs []Reject) {
	// Items are read in order, but chunk failures are appended after parse
	// errors; senders read the list by line.
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Index < rs[j-1].Index; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}
