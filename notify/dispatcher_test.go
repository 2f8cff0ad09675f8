package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/notify/webhook"
)

// hook is a real HTTP receiver for webhook channels. respond answers the
// n-th request (1-based); nil answers 200.
type hook struct {
	srv     *httptest.Server
	respond func(n int, w http.ResponseWriter)
	mu      sync.Mutex
	reqs    []hookReq
}

type hookReq struct {
	at     time.Time
	header http.Header
	body   webhook.Body
}

func newHook(t *testing.T, respond func(n int, w http.ResponseWriter)) *hook {
	h := &hook{respond: respond}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var b webhook.Body
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Errorf("receiver: %v", err)
		}
		h.mu.Lock()
		h.reqs = append(h.reqs, hookReq{time.Now(), r.Header.Clone(), b})
		n := len(h.reqs)
		h.mu.Unlock()
		if h.respond != nil {
			h.respond(n, w)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) requests() []hookReq {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

// messages counts the messages received in successful requests.
func (h *hook) messages() []Message {
	var out []Message
	for _, r := range h.requests() {
		out = append(out, r.body.Messages...)
	}
	return out
}

type reports struct {
	mu   sync.Mutex
	list []Delivery
}

func (r *reports) add(d Delivery) { r.mu.Lock(); r.list = append(r.list, d); r.mu.Unlock() }
func (r *reports) all() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}

func hookChannel(name, url string) ChannelConfig {
	return ChannelConfig{
		Name: name, Type: TypeWebhook, Webhook: &WebhookConfig{URL: url},
		Retry: RetryConfig{Attempts: 4, Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond},
	}
}

var all = []Route{{Name: "all", Channels: []string{"hook"}}}

func start(t *testing.T, chans []ChannelConfig, routes []Route) (*Dispatcher, *reports) {
	t.Helper()
	rep := &reports{}
	d, err := NewDispatcher(chans, routes, rep.add, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	return d, rep
}

func closeD(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func incident(id, prio string) Message {
	return Message{Event: EventNew, Incident: Incident{ID: id, Title: "incident " + id, Priority: prio, AlertCount: 1}}
}

func TestRetryTransientThenSuccess(t *testing.T) {
	h := newHook(t, func(n int, w http.ResponseWriter) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	d, rep := start(t, []ChannelConfig{hookChannel("hook", h.srv.URL)}, all)
	d.Notify(incident("INC-1", "P2"))
	closeD(t, d)

	reqs := h.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	if id := reqs[0].header.Get(webhook.HeaderDelivery); id == "" || reqs[2].header.Get(webhook.HeaderDelivery) != id {
		t.Error("retries carry different delivery IDs")
	}
	ds := rep.all()
	if len(ds) != 3 {
		t.Fatalf("%d deliveries, want 3: %+v", len(ds), ds)
	}
	for i, del := range ds {
		if del.Attempt != i+1 || del.Channel != "hook" || !slices.Equal(del.IncidentIDs, []string{"INC-1"}) || del.Event != "new" || del.At.IsZero() {
			t.Errorf("delivery %d: %+v", i, del)
		}
		if last := i == 2; del.Final != last || (del.Err == nil) != last {
			t.Errorf("delivery %d: final %v err %v", i, del.Final, del.Err)
		}
	}
	if !strings.Contains(fmt.Sprint(ds[0].Err), "503") {
		t.Errorf("err %v", ds[0].Err)
	}
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	h := newHook(t, func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) })
	d, rep := start(t, []ChannelConfig{hookChannel("hook", h.srv.URL)}, all)
	d.Notify(incident("INC-1", "P2"))
	closeD(t, d)
	if n := len(h.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	ds := rep.all()
	if len(ds) != 1 || !ds[0].Final || ds[0].Err == nil || ds[0].Attempt != 1 || !strings.Contains(ds[0].Err.Error(), "400") {
		t.Errorf("deliveries %+v", ds)
	}
}

func TestRetriesRunOut(t *testing.T) {
	h := newHook(t, func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
	c := hookChannel("hook", h.srv.URL)
	c.Retry.Attempts = 3
	d, rep := start(t, []ChannelConfig{c}, all)
	d.Notify(incident("INC-1", "P2"))
	closeD(t, d)
	ds := rep.all()
	if len(h.requests()) != 3 || len(ds) != 3 || !ds[2].Final || ds[2].Err == nil || ds[1].Final {
		t.Errorf("%d requests; deliveries %+v", len(h.requests()), ds)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	h := newHook(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	d, rep := start(t, []ChannelConfig{hookChannel("hook", h.srv.URL)}, all)
	d.Notify(incident("INC-1", "P1"))
	closeD(t, d)
	reqs := h.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 950*time.Millisecond {
		t.Errorf("retried after %v, want the 1s Retry-After (backoff alone is 10ms)", gap)
	}
	if ds := rep.all(); len(ds) != 2 || ds[1].Err != nil || !ds[1].Final {
		t.Errorf("deliveries %+v", ds)
	}
}

func TestGroupingTurnsAStormIntoADigest(t *testing.T) {
	h := newHook(t, nil)
	c := hookChannel("hook", h.srv.URL)
	c.Group = GroupConfig{Window: 50 * time.Millisecond, Max: 100}
	d, rep := start(t, []ChannelConfig{c}, all)
	for i := range 50 {
		prio := "P4"
		if i == 37 {
			prio = "P1"
		}
		d.Notify(incident(fmt.Sprintf("INC-%d", i), prio))
	}
	// The window passes and the digest goes out without Close.
	for deadline := time.Now().Add(5 * time.Second); len(h.messages()) < 50 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	reqs := h.requests()
	if len(reqs) == 0 || len(reqs) > 2 {
		t.Fatalf("%d sends for 50 messages, want 1 or 2", len(reqs))
	}
	if n := len(h.messages()); n != 50 {
		t.Errorf("%d messages arrived", n)
	}
	if first := reqs[0].body.Messages[0]; first.Incident.ID != "INC-37" {
		t.Errorf("digest starts with %s, want the P1", first.Incident.ID)
	}
	closeD(t, d)
	if ds := rep.all(); len(ds) != len(reqs) || len(ds[0].IncidentIDs) != len(reqs[0].body.Messages) {
		t.Errorf("deliveries %+v", ds)
	}

	// With Max 20 the same storm takes a few sends of at most 20.
	h2 := newHook(t, nil)
	c = hookChannel("hook", h2.srv.URL)
	c.Group = GroupConfig{Window: 50 * time.Millisecond, Max: 20}
	d, _ = start(t, []ChannelConfig{c}, all)
	for i := range 50 {
		d.Notify(incident(fmt.Sprintf("INC-%d", i), "P3"))
	}
	closeD(t, d)
	reqs = h2.requests()
	if len(reqs) < 3 || len(reqs) > 5 || len(h2.messages()) != 50 {
		t.Errorf("%d sends, %d messages", len(reqs), len(h2.messages()))
	}
	for _, r := range reqs {
		if r.body.Count > 20 {
			t.Errorf("digest of %d", r.body.Count)
		}
	}
}

func TestRateLimitBurstThenWait(t *testing.T) {
	h := newHook(t, nil)
	c := hookChannel("hook", h.srv.URL)
	c.RateLimit = Rate{PerMinute: 1200, Burst: 2} // one send per 50ms
	c.Group.Max = 1
	d, _ := start(t, []ChannelConfig{c}, all)
	t0 := time.Now()
	for i := range 5 {
		d.Notify(incident(fmt.Sprintf("INC-%d", i), "P2"))
	}
	closeD(t, d)
	reqs := h.requests()
	if len(reqs) != 5 {
		t.Fatalf("%d sends, want 5 (nothing dropped)", len(reqs))
	}
	if d := reqs[1].at.Sub(t0); d > 40*time.Millisecond {
		t.Errorf("burst: second send after %v", d)
	}
	if d := reqs[2].at.Sub(t0); d < 40*time.Millisecond {
		t.Errorf("third send after %v, want a wait of ~50ms", d)
	}
	if d := reqs[4].at.Sub(t0); d < 140*time.Millisecond {
		t.Errorf("fifth send after %v, want ~150ms", d)
	}
}

func TestRateLimitedMessagesAreGrouped(t *testing.T) {
	h := newHook(t, nil)
	c := hookChannel("hook", h.srv.URL)
	c.RateLimit = Rate{PerMinute: 200} // burst 1, one send per 300ms
	d, _ := start(t, []ChannelConfig{c}, all)
	d.Notify(incident("INC-0", "P2"))
	for len(h.requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := 1; i <= 10; i++ {
		d.Notify(incident(fmt.Sprintf("INC-%d", i), "P2"))
	}
	closeD(t, d)
	reqs := h.requests()
	if len(reqs) != 2 || reqs[0].body.Count != 1 || reqs[1].body.Count != 10 {
		var counts []int
		for _, r := range reqs {
			counts = append(counts, r.body.Count)
		}
		t.Errorf("sends of %v, want [1 10]", counts)
	}
}

func TestCloseFlushes(t *testing.T) {
	h := newHook(t, nil)
	c := hookChannel("hook", h.srv.URL)
	c.Group.Window = time.Hour
	d, rep := start(t, []ChannelConfig{c}, all)
	for i := range 3 {
		d.Notify(incident(fmt.Sprintf("INC-%d", i), "P3"))
	}
	t0 := time.Now()
	closeD(t, d)
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("Close took %v", el)
	}
	if reqs := h.requests(); len(reqs) != 1 || reqs[0].body.Count != 3 {
		t.Errorf("%d sends", len(reqs))
	}
	d.Notify(incident("INC-late", "P1"))
	ds := rep.all()
	if last := ds[len(ds)-1]; !errors.Is(last.Err, ErrClosed) || !last.Final || last.IncidentIDs[0] != "INC-late" {
		t.Errorf("after Close: %+v", last)
	}
}

func TestCloseDeadlineReportsUnsent(t *testing.T) {
	h := newHook(t, func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	c := hookChannel("hook", h.srv.URL)
	c.Retry = RetryConfig{Attempts: 10, Initial: time.Second, Max: time.Second}
	c.Group.Max = 1
	d, rep := start(t, []ChannelConfig{c}, all)
	d.Notify(incident("INC-1", "P1"))
	d.Notify(incident("INC-2", "P1"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v", err)
	}
	ds := rep.all()
	var final []string
	for _, del := range ds {
		if del.Final {
			if !errors.Is(del.Err, ErrClosed) {
				t.Errorf("final delivery without ErrClosed: %+v", del)
			}
			final = append(final, del.IncidentIDs...)
		}
	}
	slices.Sort(final)
	if !slices.Equal(final, []string{"INC-1", "INC-2"}) {
		t.Errorf("final reports cover %v; all %+v", final, ds)
	}
}

func TestQueueOverflowCollapsesLeastUrgent(t *testing.T) {
	release := make(chan struct{})
	h := newHook(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			<-release // hold the worker while the queue overflows
		}
	})
	c := hookChannel("hook", h.srv.URL)
	c.QueueMax, c.Group.Max = 20, 20
	d, rep := start(t, []ChannelConfig{c}, all)
	d.Notify(incident("INC-first", "P2"))
	for len(h.requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := range 25 {
		d.Notify(incident(fmt.Sprintf("LOW-%d", i), "P4"))
	}
	for i := range 5 {
		d.Notify(incident(fmt.Sprintf("HIGH-%d", i), "P1"))
	}
	close(release)
	closeD(t, d)

	var got, summaries []Message
	for _, m := range h.messages() {
		if m.Event == EventSummary {
			summaries = append(summaries, m)
		} else {
			got = append(got, m)
		}
	}
	if len(summaries) != 1 || summaries[0].Collapsed == nil {
		t.Fatalf("summaries %+v", summaries)
	}
	s := summaries[0]
	if s.Collapsed.Messages != 10 || s.Incident.Title != "10 more incidents" || s.Collapsed.ByPriority["P4"] != 10 {
		t.Errorf("summary %+v %+v", s, s.Collapsed)
	}
	if len(got)+s.Collapsed.Messages != 31 {
		t.Errorf("%d sent + %d collapsed, want 31", len(got), s.Collapsed.Messages)
	}
	for i := range 5 {
		if !slices.ContainsFunc(got, func(m Message) bool { return m.Incident.ID == fmt.Sprintf("HIGH-%d", i) }) {
			t.Errorf("HIGH-%d was collapsed", i)
		}
	}
	var collapsedIDs []string
	for _, del := range rep.all() {
		if errors.Is(del.Err, ErrQueueOverflow) {
			collapsedIDs = append(collapsedIDs, del.IncidentIDs...)
			if !del.Final || del.Attempt != 0 {
				t.Errorf("overflow report %+v", del)
			}
		}
	}
	slices.Sort(collapsedIDs)
	if len(collapsedIDs) != 10 || !strings.HasPrefix(collapsedIDs[0], "LOW-") {
		t.Errorf("overflow reports name %v", collapsedIDs)
	}
}

func TestSecretsStayOutOfLogsAndErrors(t *testing.T) {
	h := newHook(t, func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) })
	t.Setenv("TEST_SLACK_URL", h.srv.URL+"/services/T0/B0/SLACKTOKEN")
	t.Setenv("TEST_SECRET", "HMACSECRET")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rep := &reports{}
	retry := RetryConfig{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond}
	d, err := NewDispatcher([]ChannelConfig{
		{Name: "slack", Type: TypeSlack, Slack: &HookConfig{URLEnv: "TEST_SLACK_URL"}, Retry: retry},
		{Name: "hook", Type: TypeWebhook, Webhook: &WebhookConfig{URL: h.srv.URL + "/x?token=QUERYTOKEN", SecretEnv: "TEST_SECRET"}, Retry: retry},
	}, []Route{{Channels: []string{"slack", "hook"}}}, rep.add, log)
	if err != nil {
		t.Fatal(err)
	}
	d.Notify(incident("INC-1", "P1"))
	closeD(t, d)
	var errs []string
	for _, del := range rep.all() {
		errs = append(errs, fmt.Sprint(del.Err))
	}
	if len(errs) != 4 {
		t.Errorf("%d deliveries", len(errs))
	}
	out := logs.String() + strings.Join(errs, "\n")
	for _, secret := range []string{"SLACKTOKEN", "QUERYTOKEN", "HMACSECRET", "/services/"} {
		if strings.Contains(out, secret) {
			t.Errorf("%s leaked:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "send failed") || !strings.Contains(out, "500") {
		t.Errorf("logs say too little:\n%s", out)
	}
}
