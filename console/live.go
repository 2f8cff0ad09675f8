package console

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// hub tells open pages when what they show may have changed. One poller per
// process reads the store's version once a second whatever the number of
// pages open; reading the store rather than hooking the alarm stage means a
// change written by another node of a cluster shows up too.
type hub struct {
	read func(context.Context) (string, error)
	mu   sync.Mutex
	subs map[chan string]struct{}
	last string
}

// maxLive bounds open streams: each holds a connection, and a person has
// only a few tabs.
const maxLive = 512

func newHub(read func(context.Context) (string, error)) *hub {
	return &hub{read: read, subs: map[chan string]struct{}{}}
}

func (h *hub) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, every)
		v, err := h.read(qctx)
		cancel()
		if err != nil {
			continue
		}
		h.mu.Lock()
		if v != h.last {
			h.last = v
			for ch := range h.subs {
				select {
				case ch <- v:
				default: // the page has a change pending already
				}
			}
		}
		h.mu.Unlock()
	}
}

// subscribe registers a page that last saw version since: if the store
// moved on between the page's render and this call (a run that finished
// while the page loaded), the page hears of it at once.
func (h *hub) subscribe(since string) (chan string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= maxLive {
		return nil, false
	}
	ch := make(chan string, 1)
	if since != "" && h.last != "" && since != h.last {
		ch <- h.last
	}
	h.subs[ch] = struct{}{}
	return ch, true
}

// current is the version last read, for pages to carry.
func (h *hub) current() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

func (h *hub) unsubscribe(ch chan string) {
	h.mu.Lock()
	delete(h.subs, ch)
	h.mu.Unlock()
}

// stream is the server-sent event stream pages listen to (console.js): an
// event "changed" whenever the store moved, a comment every 15 s so proxies
// keep the connection, and an end after an hour so the session is checked
// again (EventSource reconnects by itself).
func (c *Console) stream(w http.ResponseWriter, r *http.Request, _ *viewer) {
	// A page sends the version it was drawn at; a reconnecting
	// EventSource sends the last event's id.
	since := r.Header.Get("Last-Event-ID")
	if since == "" {
		since = r.URL.Query().Get("since")
	}
	ch, ok := c.live.subscribe(since)
	if !ok {
		http.Error(w, "too many live pages open", http.StatusServiceUnavailable)
		return
	}
	defer c.live.unsubscribe(ch)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(s string) bool {
		// The listener's write timeout would end the stream; each write
		// gets its own deadline instead, so a reader that stops reading
		// still frees the connection.
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprint(w, s); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("retry: 3000\n\n") {
		return
	}
	beat := time.NewTicker(15 * time.Second)
	defer beat.Stop()
	end := time.NewTimer(time.Hour)
	defer end.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-end.C:
			return
		case <-beat.C:
			if !write(": keep-alive\n\n") {
				return
			}
		case v := <-ch:
			v = sanitizeSSE(v)
			if !write("id: " + v + "\nevent: changed\ndata: " + v + "\n\n") {
				return
			}
		}
	}
}

// sanitizeSSE keeps a value on one data line.
func sanitizeSSE(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\n' && s[i] != '\r' {
			out = append(out, s[i])
		}
	}
	return string(out)
}
