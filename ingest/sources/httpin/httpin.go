// Package httpin is the HTTP ingest source: POST /api/v1/events takes one
// JSON object, an array, or NDJSON, optionally gzip-compressed, and answers
// only after the accepted events are stored on the events stream.
package httpin

import (
	"bufio"
	"compress/gzip"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/time/rate"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/ingest"
	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/internal/netlimit"
	"github.com/riposte-soar/riposte/parse/jsonfast"
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
	// MaxInflightPerSender bounds what the requests of one sender (token)
	// hold together; 0 means MaxInflightBytes.
	MaxInflightPerSender int64
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
	budget    *budget
	normalize func(obj map[string]any, ev *event.Event) string
	log       *slog.Logger
	// ChunkEvents and ChunkBytes bound one stored batch: events, and
	// their JSON bytes.
	ChunkEvents int
	ChunkBytes  int
	// Pace, when set, is the slowest a body may arrive.
	Pace *netlimit.Pace
	// source labels the metrics; items, when set, takes the well-formed
	// items in place of storing them as events (see For).
	source string
	items  ItemStore
}

// Item is one well-formed JSON object of a request body: its bytes and
// where it was in the body (line and index as Reject names them).
type Item struct {
	Raw         []byte
	Line, Index int
}

// ItemStore takes the well-formed items of a request that passed every
// limit, and answers, per item, why it was refused (nil when accepted),
// or an error when nothing could be stored (bus.ErrFull for a full
// stream). It runs within the request's in-flight budget.
type ItemStore func(ctx context.Context, items []Item, now time.Time) (rejects []error, err error)

// For is a handler that reads bodies under the same limits, in-flight
// budget and rate limit as h, and hands their items to store instead of
// the events stream: other documents (alerts) sent over HTTP cannot then
// hold more of the server than events may. source labels its metrics.
func (h *Handler) For(source string, store ItemStore) *Handler {
	c := *h
	c.source, c.items = source, store
	return &c
}

// New builds the handler.
func New(sink ingest.Sink, m *ingest.Metrics, l Limits, normalize func(map[string]any, *event.Event) string, log *slog.Logger) *Handler {
	per := l.MaxInflightPerSender
	if per <= 0 || per > l.MaxInflightBytes {
		per = l.MaxInflightBytes
	}
	h := &Handler{sink: sink, metrics: m, limits: l, normalize: normalize, log: log, ChunkEvents: 1000, ChunkBytes: 512 << 10, source: source,
		budget: &budget{max: l.MaxInflightBytes, perSender: per, bySender: map[string]int64{}}}
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
		h.metrics.Rejected.WithLabelValues(h.source, "too_large").Inc()
		refuse(w, http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("request body is %d bytes, the limit is %d (ingest.max_body_bytes): send smaller batches", r.ContentLength, h.limits.MaxBodyBytes))
		return
	}
	var wire io.Reader = r.Body
	if h.Pace != nil {
		pb := h.Pace.Body(w, r)
		defer pb.Close()
		wire = pb
	}
	// Memory is taken from the in-flight budget as it is used (bytes as
	// they arrive, parsed events as they are made), not reserved from what
	// a request declares: a sender that declares 64 MiB and trickles a byte
	// a second holds only what it has sent.
	hold := h.budget.hold(senderOf(r.Context()))
	defer hold.release()

	body, counted, err := h.readBody(r, wire, hold)
	if err != nil {
		h.refuseRead(w, err)
		return
	}
	h.metrics.Bytes.WithLabelValues(h.source).Add(float64(len(body)))

	var res Result
	now := time.Now().UTC()
	items, total, err := h.split(body, counted, hold, &res)
	if err != nil {
		h.refuseRead(w, err)
		return
	}
	if total-res.Rejected > h.limits.MaxBatchEvents {
		// Malformed items are already counted under their own reason.
		h.metrics.Rejected.WithLabelValues(h.source, "too_large").Add(float64(total - res.Rejected))
		refuse(w, http.StatusRequestEntityTooLarge, "batch_too_large",
			fmt.Sprintf("request holds %d events, the limit is %d per request (ingest.max_batch_events): nothing was stored, split the batch", total-res.Rejected, h.limits.MaxBatchEvents))
		return
	}
	if total == 0 {
		httpjson.Error(w, http.StatusBadRequest, "empty", "the body holds no event: send a JSON object, an array of objects, or NDJSON")
		return
	}
	if len(items) == 0 {
		httpjson.Write(w, http.StatusBadRequest, res)
		return
	}
	if h.limiter != nil {
		rv := h.limiter.ReserveN(now, len(items))
		if !rv.OK() {
			// More events than the bucket ever holds: waiting cannot help,
			// so a 429 would have the sender retry the same batch forever.
			h.metrics.Rejected.WithLabelValues(h.source, "too_large").Add(float64(len(items)))
			httpjson.Error(w, http.StatusRequestEntityTooLarge, "batch_too_large",
				fmt.Sprintf("request holds %d events, more than the rate limit's burst of %d: nothing was stored, split the batch", len(items), h.limiter.Burst()))
			return
		}
		if rv.Delay() > 0 {
			wait := rv.Delay()
			rv.Cancel()
			h.metrics.Rejected.WithLabelValues(h.source, "rate_limited").Add(float64(len(items)))
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			httpjson.Error(w, http.StatusTooManyRequests, "rate_limited",
				fmt.Sprintf("over the ingest rate of %g events/s: nothing was stored, retry after the delay in Retry-After", h.limits.EventsPerSecond))
			return
		}
	}

	// Events are decoded and normalized a few batches at a time, just
	// before they are stored: a parsed event takes several times the memory
	// of its JSON, so holding a whole request's would let a small body of
	// tiny events take hundreds of megabytes.
	chunks := h.chunks(items)
	if err := hold.take(h.workingSet(chunks)); err != nil {
		h.refuseRead(w, err)
		return
	}
	if h.items != nil {
		h.serveItems(w, r, items, now, &res)
		return
	}
	failed := h.store(r.Context(), chunks, now, r.Header.Get("Idempotency-Key"))
	var full bool
	for c, ch := range chunks {
		for _, it := range ch {
			if err := failed[c]; err != nil {
				res.reject(it.line, it.index, "not stored: "+err.Error())
				full = full || errors.Is(err, bus.ErrFull)
			} else {
				res.Accepted++
			}
		}
	}
	h.answer(w, &res, len(items)-res.Accepted, full, false)
}

// serveItems hands the items to the ItemStore and answers like a batch of
// events: 202 when some were accepted, the refused ones listed by line.
func (h *Handler) serveItems(w http.ResponseWriter, r *http.Request, items []item, now time.Time, res *Result) {
	its := make([]Item, len(items))
	for i, it := range items {
		its[i] = Item{Raw: it.raw, Line: it.line, Index: it.index}
	}
	rejects, err := h.items(r.Context(), its, now)
	refused := 0
	for i, it := range items {
		switch {
		case i < len(rejects) && rejects[i] != nil:
			res.reject(it.line, it.index, rejects[i].Error())
			refused++
		case err != nil:
			res.reject(it.line, it.index, "not stored: "+err.Error())
		default:
			res.Accepted++
		}
	}
	if refused > 0 {
		h.metrics.Rejected.WithLabelValues(h.source, "malformed").Add(float64(refused))
	}
	// With no store error, every item that was not accepted was refused
	// for what it holds: sending it again cannot help.
	h.answer(w, res, len(items)-res.Accepted-refused, errors.Is(err, bus.ErrFull), err == nil)
}

// answer counts what was stored and what could not be, and answers: 202
// when anything was accepted; otherwise 400 when everything was refused for
// what it holds (allRefused), else 429 (the stream is full) or 503, both
// with Retry-After.
func (h *Handler) answer(w http.ResponseWriter, res *Result, unstored int, full, allRefused bool) {
	if unstored > 0 {
		reason := "store_failed"
		if full {
			reason = "overloaded"
		}
		h.metrics.Rejected.WithLabelValues(h.source, reason).Add(float64(unstored))
	}
	h.metrics.Accepted.WithLabelValues(h.source).Add(float64(res.Accepted))
	status := http.StatusAccepted
	switch {
	case res.Accepted > 0:
	case allRefused:
		status = http.StatusBadRequest
	case full:
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", "1")
	default:
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	sortErrors(res.Errors)
	httpjson.Write(w, status, res)
}

// item is one well-formed event of a body, kept as its raw bytes until
// its batch is stored.
type item struct {
	raw         []byte
	line, index int
}

// Estimates of the memory a request holds beyond its body, charged to the
// in-flight budget. A decoded and normalized event measured about 850
// bytes plus 4.3 times its JSON (map, flattened fields, ID); storing it
// encodes it once more. The estimate rounds both up.
const (
	eventOverhead    = 1024
	eventFactor      = 6
	itemBytes        = int64(unsafe.Sizeof(item{}))
	storeConcurrency = 4
)

func eventCost(raw []byte) int64 { return eventOverhead + eventFactor*int64(len(raw)) }

// readErr is a refusal found while reading: its status, code and metric.
type readErr struct {
	status int
	code   string
	reason string // riposte_ingest_events_rejected_total reason, if counted
	msg    string
}

func (e *readErr) Error() string { return e.msg }

func (h *Handler) refuseRead(w http.ResponseWriter, err error) {
	var re *readErr
	if !errors.As(err, &re) {
		re = &readErr{status: http.StatusBadRequest, code: "bad_body", msg: err.Error()}
	}
	if re.reason != "" {
		h.metrics.Rejected.WithLabelValues(h.source, re.reason).Inc()
	}
	if re.status == http.StatusTooManyRequests || re.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	refuse(w, re.status, re.code, re.msg)
}

// refuse answers an error and closes the connection: the rest of the body
// is not read, and a sender still sending it must not be taken for the
// next request.
func refuse(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Connection", "close")
	httpjson.Error(w, status, code, msg)
}

// readBody reads the body as it arrives, taking each block from the
// budget before it is allocated, and counts events as it goes so that a
// body over max_batch_events or max_body_bytes is refused at the byte that
// crosses the limit, without reading or holding the rest.
func (h *Handler) readBody(r *http.Request, wire io.Reader, hold *hold) ([]byte, int, error) {
	rd := wire
	limit := h.limits.MaxBodyBytes
	enc, sniffed := r.Header.Get("Content-Encoding"), false
	if enc == "" {
		// Shippers (and curl --data-binary @file.gz) often send gzip
		// without saying so; no JSON text starts with gzip's magic bytes,
		// so they are enough to recognise it.
		br := bufio.NewReaderSize(wire, 16)
		if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			enc, sniffed = "gzip", true
		}
		wire = br
	}
	switch enc {
	case "", "identity":
		if r.ContentLength >= 0 {
			limit = min(limit, r.ContentLength)
		}
		rd = wire
	case "gzip", "x-gzip":
		gz, err := gzip.NewReader(wire)
		if err != nil {
			if re := readFailure(err); re != nil {
				return nil, 0, re
			}
			if sniffed {
				return nil, 0, fmt.Errorf("the body starts with gzip's magic bytes but is not gzip: %v", err)
			}
			return nil, 0, fmt.Errorf("Content-Encoding is gzip but the body is not: %v", err)
		}
		defer gz.Close()
		rd = gz
	default:
		return nil, 0, &readErr{status: http.StatusUnsupportedMediaType, code: "bad_body",
			msg: fmt.Sprintf("Content-Encoding %q is not supported: send identity or gzip", enc)}
	}
	var count itemCounter
	var buf []byte
	for {
		var n int
		var err error
		if int64(len(buf)) == limit {
			// At the limit: one more byte means over it.
			var probe [1]byte
			if n, err = rd.Read(probe[:]); n > 0 {
				return nil, 0, &readErr{status: http.StatusRequestEntityTooLarge, code: "body_too_large", reason: "too_large",
					msg: fmt.Sprintf("request body is over the limit of %d bytes (ingest.max_body_bytes, after decompression): nothing was stored, send smaller batches", h.limits.MaxBodyBytes)}
			}
		} else {
			if len(buf) == cap(buf) {
				// The old block is garbage once copied: the budget counts
				// the new one only.
				grow := min(max(2*int64(cap(buf)), 16<<10), limit)
				if err := hold.take(grow - int64(cap(buf))); err != nil {
					return nil, 0, err
				}
				buf = append(make([]byte, 0, grow), buf...)
			}
			n, err = rd.Read(buf[len(buf):cap(buf)])
			count.feed(buf[len(buf) : len(buf)+n])
			buf = buf[:len(buf)+n]
		}
		if count.n > h.limits.MaxBatchEvents {
			return nil, 0, &readErr{status: http.StatusRequestEntityTooLarge, code: "batch_too_large", reason: "too_large",
				msg: fmt.Sprintf("request holds more than %d events (ingest.max_batch_events), counted by byte %d of the body: nothing was stored, split the batch", h.limits.MaxBatchEvents, len(buf))}
		}
		if err == io.EOF {
			return buf, count.n, nil
		}
		if err != nil {
			if re := readFailure(err); re != nil {
				return nil, 0, re
			}
			return nil, 0, fmt.Errorf("reading body: %v", err)
		}
	}
}

func readFailure(err error) *readErr {
	switch {
	case errors.Is(err, netlimit.ErrTooSlow):
		return &readErr{status: http.StatusRequestTimeout, code: "too_slow", reason: "too_slow", msg: err.Error() + ": send faster or in smaller batches"}
	case errors.Is(err, netlimit.ErrStopping):
		return &readErr{status: http.StatusServiceUnavailable, code: "stopping", msg: "the server is shutting down: nothing was stored, retry"}
	}
	return nil
}

// split finds the body's items, keeping the well-formed ones as raw bytes
// and listing the others in res. counted is the reader's estimate of the
// number of events, used to size the list once.
func (h *Handler) split(body []byte, counted int, hold *hold, res *Result) ([]item, int, error) {
	size := min(counted, h.limits.MaxBatchEvents) + 1
	if err := hold.take(int64(size) * itemBytes); err != nil {
		return nil, 0, err
	}
	if b := firstByte(body); b == '[' {
		// Array elements are copied out of the body.
		if err := hold.take(int64(len(body))); err != nil {
			return nil, 0, err
		}
	}
	items := make([]item, 0, size)
	total := 0
	var err error
	ndjson.Read(body, h.limits.MaxEventBytes, func(it ndjson.Item) {
		total++
		if it.Err != nil {
			res.reject(it.Line, it.Index, it.Err.Error())
			reason := "malformed"
			if errors.Is(it.Err, ndjson.ErrTooLarge) {
				reason = "too_large"
			}
			h.metrics.Rejected.WithLabelValues(h.source, reason).Inc()
			return
		}
		if len(items) > h.limits.MaxBatchEvents || err != nil {
			return // refused as a whole; keep counting
		}
		if len(items) == cap(items) {
			if err = hold.take(int64(cap(items)) * itemBytes); err != nil {
				return
			}
		}
		items = append(items, item{raw: it.Raw, line: it.Line, index: it.Index})
	})
	return items, total, err
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n', 0xef, 0xbb, 0xbf:
		default:
			return c
		}
	}
	return 0
}

// chunks cuts items into the batches stored one message each: at most
// ChunkEvents events and about ChunkBytes of JSON.
func (h *Handler) chunks(items []item) [][]item {
	var out [][]item
	start, bytes := 0, 0
	for i, it := range items {
		if i > start && (i-start >= h.ChunkEvents || bytes+len(it.raw) > h.ChunkBytes) {
			out = append(out, items[start:i])
			start, bytes = i, 0
		}
		bytes += len(it.raw)
	}
	return append(out, items[start:])
}

// workingSet is the memory of the batches decoded at once while storing.
func (h *Handler) workingSet(chunks [][]item) int64 {
	costs := make([]int64, len(chunks))
	for i, ch := range chunks {
		for _, it := range ch {
			costs[i] += eventCost(it.raw)
		}
	}
	slices.Sort(costs)
	var sum int64
	for i := len(costs) - 1; i >= 0 && i >= len(costs)-storeConcurrency; i-- {
		sum += costs[i]
	}
	return sum
}

// store decodes and submits the chunks, a few at once, and returns each
// chunk's error. Event IDs are made in body order before the chunks run.
func (h *Handler) store(ctx context.Context, chunks [][]item, now time.Time, key string) []error {
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, storeConcurrency)
	for c, ch := range chunks {
		dedup := ""
		if key != "" {
			dedup = fmt.Sprintf("http:%s:%d", key, c)
		}
		sem <- struct{}{}
		ids := make([]string, len(ch))
		for i := range ids {
			ids[i] = event.NewID(now)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			evs := make([]event.Event, len(ch))
			for i, it := range ch {
				evs[i] = event.Event{ID: ids[i], Received: now, Source: source, Raw: it.raw}
				// The split decoded this item already; decoding it again
				// cannot fail.
				obj, err := jsonfast.DecodeObjectShared(it.raw)
				if err != nil {
					errs[c] = fmt.Errorf("decoding line %d again: %w", it.line, err)
					return
				}
				h.normalize(obj, &evs[i])
			}
			// The sender hanging up must not abandon a batch half-published:
			// finish it so the stored state matches what the log says.
			errs[c] = h.sink.Submit(context.WithoutCancel(ctx), evs, dedup)
		}()
	}
	wg.Wait()
	return errs
}

// itemCounter counts the JSON objects of a body as its bytes arrive: the
// objects at the top level of NDJSON or a stream of objects, or those
// directly in a top-level array. For well-formed input it counts exactly
// what the parser will find, so a body over max_batch_events is refused
// while it is read; malformed input can fool it, which only moves the
// refusal to the exact count after reading.
type itemCounter struct {
	n          int
	depth      int
	started    bool
	itemDepth  int
	inStr, esc bool
}

func (c *itemCounter) feed(b []byte) {
	for _, ch := range b {
		if c.inStr {
			switch {
			case c.esc:
				c.esc = false
			case ch == '\\':
				c.esc = true
			case ch == '"':
				c.inStr = false
			case ch == '\n':
				// JSON strings hold no raw newline: the line was broken,
				// and the next starts afresh.
				c.inStr = false
			}
			continue
		}
		if !c.started {
			switch ch {
			case ' ', '\t', '\r', '\n', 0xef, 0xbb, 0xbf:
				continue
			case '[':
				c.itemDepth = 1
			}
			c.started = true
		}
		switch ch {
		case '"':
			c.inStr = true
		case '{':
			if c.depth == c.itemDepth {
				c.n++
			}
			c.depth++
		case '[':
			c.depth++
		case '}', ']':
			if c.depth > 0 {
				c.depth--
			}
		}
	}
}

// budget is the in-flight memory of all requests, and of each sender.
type budget struct {
	max, perSender int64
	mu             sync.Mutex
	total          int64
	bySender       map[string]int64
}

// hold is what one request has taken from the budget.
type hold struct {
	b      *budget
	sender string
	n      int64
}

func (b *budget) hold(sender string) *hold { return &hold{b: b, sender: sender} }

func (h *hold) take(n int64) error {
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.total+n > b.max:
		return &readErr{status: http.StatusTooManyRequests, code: "overloaded", reason: "overloaded",
			msg: fmt.Sprintf("the server holds as much as it is allowed to (ingest.max_inflight_bytes, %d bytes): nothing was stored, retry after the delay in Retry-After", b.max)}
	case b.bySender[h.sender]+n > b.perSender:
		if h.n+n > b.perSender {
			// This request alone is over the share: retrying cannot help.
			return &readErr{status: http.StatusRequestEntityTooLarge, code: "body_too_large", reason: "too_large",
				msg: fmt.Sprintf("this request needs more than one sender may hold (ingest.max_inflight_per_token, %d bytes, counting its events once parsed): nothing was stored, split the batch", b.perSender)}
		}
		return &readErr{status: http.StatusTooManyRequests, code: "overloaded", reason: "overloaded",
			msg: fmt.Sprintf("this token's requests hold its whole share of the server (ingest.max_inflight_per_token, %d bytes): nothing was stored, retry after the delay in Retry-After", b.perSender)}
	}
	b.total += n
	b.bySender[h.sender] += n
	h.n += n
	return nil
}

func (h *hold) release() {
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total -= h.n
	if b.bySender[h.sender] -= h.n; b.bySender[h.sender] <= 0 {
		delete(b.bySender, h.sender)
	}
	h.n = 0
}

// Inflight is the memory requests hold now, in bytes.
func (h *Handler) Inflight() int64 {
	h.budget.mu.Lock()
	defer h.budget.mu.Unlock()
	return h.budget.total
}

type senderKey struct{}

// WithSender names the sender of a request (its token) for the per-sender
// share of the in-flight budget.
func WithSender(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, senderKey{}, id)
}

func senderOf(ctx context.Context) string {
	s, _ := ctx.Value(senderKey{}).(string)
	return s
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
