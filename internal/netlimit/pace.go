package netlimit

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// Pace is how slowly a request body may arrive on a route that takes large
// bodies (ingest, evidence uploads). Such routes cannot live with one short
// timeout for the whole request, and a long one lets a client that sends a
// byte a second hold its connection and the memory reserved for it for
// hours. So the body gets a grace period, and after it must have arrived at
// MinRate on average since the start: a sender that keeps up is never cut,
// whatever the size; one that falls behind is cut within a read.
type Pace struct {
	// MinRate in bytes per second; 0 disables the minimum.
	MinRate int64
	// Grace is how long a body may take before the minimum applies.
	Grace time.Duration
	// Write bounds the writing of the answer, counted from the end of the
	// body (the server's own write timeout counts from the request's start,
	// which a long upload would use up).
	Write time.Duration

	mu       sync.Mutex
	active   map[*Body]struct{}
	stopping bool
}

// ErrTooSlow is returned by a Body that arrives slower than the minimum.
var ErrTooSlow = errors.New("request body arrived too slowly")

// ErrStopping is returned by a Body whose server is shutting down.
var ErrStopping = errors.New("the server is shutting down")

// Body reads a request body under a Pace. Close it when done.
type Body struct {
	p     *Pace
	rc    *http.ResponseController
	r     io.Reader
	start time.Time
	n     int64
	err   error
	done  bool
}

// Body starts pacing r's body. w must unwrap (Unwrap() http.ResponseWriter)
// to the server's own writer so deadlines reach the connection.
func (p *Pace) Body(w http.ResponseWriter, r *http.Request) *Body {
	b := &Body{p: p, rc: http.NewResponseController(w), r: r.Body, start: time.Now()}
	p.mu.Lock()
	if p.active == nil {
		p.active = map[*Body]struct{}{}
	}
	p.active[b] = struct{}{}
	stopping := p.stopping
	p.mu.Unlock()
	if stopping {
		b.err = ErrStopping
	}
	// The server's write timeout started with the request; the answer's
	// own starts when the body is read (see finish).
	_ = b.rc.SetWriteDeadline(time.Time{})
	return b
}

// deadline is the latest time the body may have sent only n bytes.
func (b *Body) deadline() time.Time {
	if b.p.MinRate <= 0 {
		return time.Time{}
	}
	return b.start.Add(b.p.Grace + time.Duration(float64(b.n)/float64(b.p.MinRate)*float64(time.Second)))
}

func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	d := b.deadline()
	if !d.IsZero() && !time.Now().Before(d) {
		b.err = b.slow()
		return 0, b.err
	}
	// A deadline on the connection is what interrupts a read blocked on a
	// sender that sends nothing at all.
	_ = b.rc.SetReadDeadline(d)
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		b.finish()
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.p.mu.Lock()
		stopping := b.p.stopping
		b.p.mu.Unlock()
		if stopping {
			err = ErrStopping
		} else {
			err = b.slow()
		}
		b.err = err
	}
	return n, err
}

func (b *Body) slow() error {
	return fmt.Errorf("%w: %d bytes in %v, under the minimum of %d bytes/s after %v",
		ErrTooSlow, b.n, time.Since(b.start).Round(time.Millisecond), b.p.MinRate, b.p.Grace)
}

// finish lifts the read deadline once the body is read: the server reads
// on in the background to notice a client hanging up, and a deadline
// passing there would cancel the request while it is being stored.
func (b *Body) finish() {
	b.p.mu.Lock()
	done := b.done
	b.done = true
	b.p.mu.Unlock()
	if done {
		return
	}
	_ = b.rc.SetReadDeadline(time.Time{})
	if b.p.Write > 0 {
		_ = b.rc.SetWriteDeadline(time.Now().Add(b.p.Write))
	}
}

// Close ends pacing. A body not read to the end keeps its deadline, so the
// server does not wait on its remainder.
func (b *Body) Close() error {
	b.p.mu.Lock()
	delete(b.p.active, b)
	b.p.mu.Unlock()
	if b.err == nil {
		b.finish()
	} else if b.p.Write > 0 {
		_ = b.rc.SetWriteDeadline(time.Now().Add(b.p.Write))
	}
	return nil
}

// Stop interrupts every body being read, now and later: shutting down
// must not wait on uploads that could take as long as their senders like.
// Requests whose bodies are read finish as usual.
func (p *Pace) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopping = true
	for b := range p.active {
		if !b.done {
			_ = b.rc.SetReadDeadline(time.Now())
		}
	}
}
