package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/notify/channel"
	"golang.org/x/time/rate"
)

// Delivery reports one attempt to send, so the incident timeline can show
// deliveries, failures and retries. Attempt 0 reports something that
// happened without an attempt: messages collapsed into a summary on queue
// overflow, or messages left unsent at Close. Final is set on the last
// report about a send: it succeeded (Err nil), or it will not be tried
// again.
type Delivery struct {
	Channel     string
	IncidentIDs []string
	Event       string // the messages' event, or several joined with ","
	Attempt     int
	Err         error
	At          time.Time
	Final       bool
}

// Errors in Delivery.Err that do not come from a channel.
var (
	// ErrQueueOverflow: messages were folded into a summary because the
	// channel's queue was full; the summary is sent in their place.
	ErrQueueOverflow = errors.New("notify: channel queue full")
	// ErrClosed: the dispatcher was closed before the messages were sent.
	ErrClosed = errors.New("notify: dispatcher closed")
)

// Dispatcher routes messages to channels. Each channel has its own queue
// and worker, so a slow or failing channel holds up only itself.
type Dispatcher struct {
	routes  []route
	workers map[string]*worker
	order   []*worker
	report  func(Delivery)
	log     *slog.Logger

	mu      sync.RWMutex // guards closed against Notify
	closed  bool
	closing chan struct{} // closed by Close: flush now
	abort   context.Context
	cancel  context.CancelFunc
}

// NewDispatcher checks every channel and route, builds the channels and
// starts one worker per channel. Errors name the channel or route at fault;
// all problems are reported at once. report, if not nil, is called for
// every Delivery from the channel's worker goroutine: workers of different
// channels call it concurrently, and it must not call Close.
func NewDispatcher(channels []ChannelConfig, routes []Route, report func(Delivery), log *slog.Logger) (*Dispatcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if report == nil {
		report = func(Delivery) {}
	}
	d := &Dispatcher{workers: map[string]*worker{}, report: report, log: log, closing: make(chan struct{})}
	var errs []error
	seen := map[string]bool{}
	for i, c := range channels {
		what := fmt.Sprintf("channel %q", c.Name)
		if !validName(c.Name) {
			errs = append(errs, fmt.Errorf("notify: channel %d: %w", i+1, errNoName))
			what = fmt.Sprintf("channel %d", i+1)
		} else if seen[c.Name] {
			errs = append(errs, fmt.Errorf("notify: %s: defined twice", what))
			continue
		}
		seen[c.Name] = true
		s, serrs := c.settings()
		ch, berrs := c.build()
		if all := append(serrs, berrs...); len(all) > 0 {
			errs = append(errs, prefixed(what, all)...)
			continue
		}
		w := &worker{
			d: d, name: c.Name, ch: ch, s: s, wake: make(chan struct{}, 1), done: make(chan struct{}),
		}
		if s.perMin > 0 {
			w.limit = rate.NewLimiter(rate.Every(time.Minute/time.Duration(s.perMin)), s.burst)
		}
		d.workers[c.Name] = w
		d.order = append(d.order, w)
	}
	known := map[string]bool{}
	for _, c := range channels {
		known[c.Name] = true
	}
	used := map[string]bool{}
	for i, r := range routes {
		cr, label, rerrs := compileRoute(i, r, known)
		if len(rerrs) > 0 {
			errs = append(errs, prefixed(label, rerrs)...)
			continue
		}
		for _, c := range cr.channels {
			used[c] = true
		}
		d.routes = append(d.routes, cr)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, w := range d.order {
		if !used[w.name] {
			log.Warn("notify: no route sends to this channel", "channel", w.name)
		}
	}
	d.abort, d.cancel = context.WithCancel(context.Background())
	for _, w := range d.order {
		go w.run()
	}
	return d, nil
}

// Notify routes m and queues it for each of its channels. It never blocks
// on a channel. After Close, it reports the message as not delivered.
func (d *Dispatcher) Notify(m Message) {
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	to := targets(d.routes, m)
	if len(to) == 0 {
		d.log.Debug("notify: no route for message", "incident", m.Incident.ID, "event", m.Event)
		return
	}
	d.mu.RLock()
	if !d.closed {
		for _, name := range to {
			d.workers[name].add(m)
		}
		d.mu.RUnlock()
		return
	}
	d.mu.RUnlock()
	for _, name := range to {
		d.log.Warn("notify: message after Close not sent", "channel", name, "incident", m.Incident.ID, "event", m.Event)
		d.report(Delivery{Channel: name, IncidentIDs: ids([]Message{m}), Event: m.Event, Err: ErrClosed, At: time.Now(), Final: true})
	}
}

// Close stops taking messages and sends what is queued: group windows end
// at once; rate limits, retries and backoff still apply. When ctx ends
// first, sends in progress are abandoned, what is left is reported as
// failed with ErrClosed, and Close returns ctx's error.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.closing)
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		for _, w := range d.order {
			<-w.done
		}
		close(done)
	}()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return fmt.Errorf("notify: close: %w; unsent messages were reported as failed", ctx.Err())
	}
}

// Channels lists the configured channel names.
func (d *Dispatcher) Channels() []string {
	out := make([]string, len(d.order))
	for i, w := range d.order {
		out[i] = w.name
	}
	return out
}

// Targets returns the channels m would go to.
func (d *Dispatcher) Targets(m Message) []string { return targets(d.routes, m) }

type item struct {
	m    Message
	at   time.Time
	seq  uint64
	rank int
}

// worker owns one channel: its queue, its rate bucket, its sends.
type worker struct {
	d     *Dispatcher
	name  string
	ch    Channel
	s     settings
	limit *rate.Limiter // nil: no rate limit; used by run only

	mu        sync.Mutex
	queue     []item // in arrival order
	seq       uint64
	sum       *summary  // collapsed messages, sent as one
	collapsed *collapse // collapse not yet reported

	wake chan struct{}
	done chan struct{}
}

func (w *worker) add(m Message) {
	w.mu.Lock()
	w.seq++
	now := time.Now()
	w.queue = append(w.queue, item{m: m, at: now, seq: w.seq, rank: channel.PriorityRank(m.Incident.Priority)})
	if len(w.queue) > w.s.queueMax {
		w.collapseLocked()
	}
	w.mu.Unlock()
	w.poke()
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// collapseLocked folds the least urgent, oldest tenth of the queue into
// the summary.
func (w *worker) collapseLocked() {
	k := max(len(w.queue)-w.s.queueMax, w.s.queueMax/10, 1)
	idx := make([]int, len(w.queue))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return w.queue[b].rank - w.queue[a].rank })
	victims := idx[:k]
	slices.Sort(victims)
	if w.sum == nil {
		w.sum = &summary{first: w.queue[victims[0]].at, ids: map[string]bool{}, byPriority: map[string]int{}, top: 6}
	}
	if w.collapsed == nil {
		w.collapsed = &collapse{events: map[string]bool{}, seen: map[string]bool{}}
	}
	keep := w.queue[:0:0]
	vi := 0
	for i, it := range w.queue {
		if vi < len(victims) && victims[vi] == i {
			vi++
			w.sum.add(it)
			w.collapsed.n++
			w.collapsed.events[it.m.Event] = true
			if id := it.m.Incident.ID; id != "" && !w.collapsed.seen[id] {
				w.collapsed.seen[id] = true
				w.collapsed.ids = append(w.collapsed.ids, id)
			}
			continue
		}
		keep = append(keep, it)
	}
	w.queue = keep
}

// collapse is a not-yet-reported overflow.
type collapse struct {
	n      int
	ids    []string
	seen   map[string]bool
	events map[string]bool
}

// summary accumulates collapsed messages.
type summary struct {
	first      time.Time
	messages   int
	alerts     int
	ids        map[string]bool
	idList     []string
	byPriority map[string]int
	top        int
	topP       string
}

func (s *summary) add(it item) {
	s.messages++
	s.alerts += it.m.Incident.AlertCount
	if id := it.m.Incident.ID; id != "" && !s.ids[id] {
		s.ids[id] = true
		if len(s.idList) < channel.MaxCollapsedIDs {
			s.idList = append(s.idList, id)
		}
	}
	s.byPriority[it.m.Incident.Priority]++
	if it.rank < s.top {
		s.top, s.topP = it.rank, it.m.Incident.Priority
	}
}

func (s *summary) message(channelName string, now time.Time) Message {
	n := max(len(s.ids), 1)
	title := fmt.Sprintf("%d more incidents", n)
	if n == 1 {
		title = "1 more incident"
	}
	return Message{
		Event: EventSummary, Time: now,
		Incident: Incident{Title: title, Priority: s.topP, AlertCount: s.alerts},
		Text: fmt.Sprintf("%d notifications about %d incidents (%s) were collapsed into this summary because channel %s had more waiting than its queue_max.",
			s.messages, len(s.ids), channel.Breakdown(s.byPriority, 0), channelName),
		Collapsed: &Collapsed{Messages: s.messages, Incidents: len(s.ids), IDs: s.idList, ByPriority: s.byPriority},
	}
}

// run is the worker's loop: wait for messages, let the group window fill,
// wait for the rate bucket, send a batch with retries; until Close.
func (w *worker) run() {
	defer close(w.done)
	for {
		w.flushCollapse()
		if w.d.abort.Err() != nil {
			w.abandon()
			return
		}
		w.mu.Lock()
		n := len(w.queue)
		var oldest time.Time
		if n > 0 {
			oldest = w.queue[0].at
		}
		if w.sum != nil {
			n++
			if oldest.IsZero() || w.sum.first.Before(oldest) {
				oldest = w.sum.first
			}
		}
		w.mu.Unlock()
		closing := isDone(w.d.closing)
		if n == 0 {
			if closing {
				return
			}
			select {
			case <-w.wake:
			case <-w.d.closing:
			case <-w.d.abort.Done():
			}
			continue
		}
		if !closing && w.s.window > 0 && n < w.s.max {
			if wait := time.Until(oldest.Add(w.s.window)); wait > 0 {
				w.pause(wait, true)
				continue
			}
		}
		if w.limit != nil {
			r := w.limit.Reserve()
			if wait := r.Delay(); wait > 0 {
				// Give the token back and wait instead: messages that
				// arrive meanwhile join the batch sent when it is due.
				r.Cancel()
				w.pause(wait, false)
				continue
			}
		}
		w.deliver(w.take())
	}
}

// pause waits for d, the end of the dispatcher, or (when wakeOnNew) a new
// message. Collapse reports are flushed while waiting. It returns false
// when the dispatcher was aborted.
func (w *worker) pause(d time.Duration, wakeOnNew bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		closing := w.d.closing
		if !wakeOnNew {
			closing = nil // closing does not end a backoff or a rate wait
		}
		select {
		case <-t.C:
			return true
		case <-w.d.abort.Done():
			return false
		case <-closing:
			return true
		case <-w.wake:
			w.flushCollapse()
			if wakeOnNew {
				return true
			}
		}
	}
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// take removes the next batch: up to max messages, most urgent first and
// then oldest, plus the summary of collapsed messages if there is one.
func (w *worker) take() []Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := w.s.max
	if w.sum != nil {
		room--
	}
	var batch []Message
	if room >= len(w.queue) {
		slices.SortStableFunc(w.queue, func(a, b item) int { return a.rank - b.rank })
		for _, it := range w.queue {
			batch = append(batch, it.m)
		}
		w.queue = w.queue[:0]
	} else if room > 0 {
		sorted := slices.Clone(w.queue)
		slices.SortStableFunc(sorted, func(a, b item) int { return a.rank - b.rank })
		taken := map[uint64]bool{}
		for _, it := range sorted[:room] {
			batch = append(batch, it.m)
			taken[it.seq] = true
		}
		w.queue = slices.DeleteFunc(w.queue, func(it item) bool { return taken[it.seq] })
	}
	if w.sum != nil {
		batch = append(batch, w.sum.message(w.name, time.Now()))
		w.sum = nil
	}
	return batch
}

// deliver sends one batch, retrying transient failures with exponential
// backoff and jitter, or after the receiver's Retry-After.
func (w *worker) deliver(batch []Message) {
	if len(batch) == 0 {
		return
	}
	del := Delivery{Channel: w.name, IncidentIDs: ids(batch), Event: events(batch)}
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(w.d.abort, w.s.timeout)
		err := w.ch.Send(ctx, batch)
		cancel()
		aborted := w.d.abort.Err() != nil
		if aborted && err != nil {
			err = fmt.Errorf("%w during the attempt: %w", ErrClosed, err)
		}
		del.Attempt, del.Err, del.At = attempt, err, time.Now()
		del.Final = err == nil || aborted || attempt >= w.s.retry.Attempts || channel.IsPermanent(err)
		var wait time.Duration
		if !del.Final {
			wait = w.backoff(attempt, err)
		}
		w.emit(del, wait)
		if del.Final {
			return
		}
		if !w.pause(wait, false) {
			del.Err, del.At, del.Final = fmt.Errorf("%w before retrying: %w", ErrClosed, err), time.Now(), true
			w.emit(del, 0)
			return
		}
	}
}

// backoff is the wait before attempt+1: the receiver's Retry-After
// (at most MaxRetryAfter), or Initial·2^(attempt-1) capped at Max with
// "equal jitter" (half fixed, half random).
func (w *worker) backoff(attempt int, err error) time.Duration {
	if ra, ok := channel.RetryAfter(err); ok {
		return min(ra, MaxRetryAfter)
	}
	b := w.s.retry.Initial
	for i := 1; i < attempt && b < w.s.retry.Max; i++ {
		b *= 2
	}
	b = min(b, w.s.retry.Max)
	half := b / 2
	return half + rand.N(b-half+1)
}

// emit logs a delivery and reports it.
func (w *worker) emit(del Delivery, retryIn time.Duration) {
	attrs := []any{"channel", w.name, "incidents", shortList(del.IncidentIDs), "event", del.Event, "attempt", del.Attempt}
	switch {
	case del.Err == nil:
		w.d.log.Debug("notify: delivered", attrs...)
	case !del.Final:
		w.d.log.Warn("notify: send failed, will retry", append(attrs, "retry_in", retryIn.Round(time.Millisecond), "err", del.Err)...)
	default:
		w.d.log.Error("notify: send failed", append(attrs, "err", del.Err)...)
	}
	w.d.report(del)
}

func (w *worker) flushCollapse() {
	w.mu.Lock()
	c := w.collapsed
	w.collapsed = nil
	w.mu.Unlock()
	if c == nil {
		return
	}
	evs := make([]string, 0, len(c.events))
	for e := range c.events {
		evs = append(evs, e)
	}
	slices.Sort(evs)
	w.emit(Delivery{
		Channel: w.name, IncidentIDs: c.ids, Event: strings.Join(evs, ","),
		Err:   fmt.Errorf("%w: %d notifications collapsed into a summary", ErrQueueOverflow, c.n),
		At:    time.Now(),
		Final: true,
	}, 0)
}

// abandon reports everything still queued as not sent.
func (w *worker) abandon() {
	w.mu.Lock()
	var batch []Message
	for _, it := range w.queue {
		batch = append(batch, it.m)
	}
	w.queue = nil
	if w.sum != nil {
		batch = append(batch, w.sum.message(w.name, time.Now()))
		w.sum = nil
	}
	w.mu.Unlock()
	w.flushCollapse()
	if len(batch) > 0 {
		w.emit(Delivery{Channel: w.name, IncidentIDs: ids(batch), Event: events(batch),
			Err: fmt.Errorf("%w: %d notifications not sent", ErrClosed, len(batch)), At: time.Now(), Final: true}, 0)
	}
}

// ids lists the incidents of msgs, each once, including those a summary
// stands for.
func ids(msgs []Message) []string {
	var out []string
	addID := func(id string) {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, m := range msgs {
		addID(m.Incident.ID)
		if m.Collapsed != nil {
			for _, id := range m.Collapsed.IDs {
				addID(id)
			}
		}
	}
	return out
}

func events(msgs []Message) string {
	var evs []string
	for _, m := range msgs {
		if !slices.Contains(evs, m.Event) {
			evs = append(evs, m.Event)
		}
	}
	return strings.Join(evs, ",")
}

func shortList(l []string) string {
	if len(l) > 10 {
		return strings.Join(l[:10], ",") + fmt.Sprintf(",… (%d)", len(l))
	}
	return strings.Join(l, ",")
}
