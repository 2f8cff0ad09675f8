// Package syslogin is the syslog ingest source: RFC 5424 and RFC 3164
// messages over UDP (one per datagram) and TCP (octet-counting or newline
// framing, RFC 6587). Parsed messages go through normalize and are stored
// on the events stream in small batches.
package syslogin

import (
	"context"
	_ "embed"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/ingest"
	"github.com/riposte-soar/riposte/internal/netlimit"
	"github.com/riposte-soar/riposte/normalize"
	"github.com/riposte-soar/riposte/parse/syslog"
)

// SampleConfig is the part of riposte.yaml this source reads.
//
//go:embed sample.conf
var SampleConfig string

// Config of the listeners.
type Config struct {
	Listen     string
	UDP, TCP   bool
	MaxMessage int           // bytes; longer frames are refused and counted
	BatchSize  int           // messages per stored batch (default 500)
	BatchBytes int           // frame bytes per stored batch (default 1 MiB)
	FlushEvery time.Duration // longest a message waits for its batch to fill (default 20ms)
	// InflightBytes bounds the frame bytes read but not yet stored, over
	// all connections and UDP (default 32 MiB). When TCP connections reach
	// it, reading stops and TCP flow control slows the senders; UDP
	// datagrams beyond it are dropped and counted.
	InflightBytes int64
	// ConnBytes bounds what one TCP connection may hold of that (default
	// 4 MiB), so one sender cannot take the whole budget from the others.
	ConnBytes int64
	// MaxConns and MaxConnsPerIP bound the open TCP connections (defaults
	// 1024 and 64; IPv6 addresses count per /64); connections over either
	// are closed at once and counted.
	MaxConns, MaxConnsPerIP int
	// IdleTimeout closes a TCP connection that sent nothing for this long
	// (default 10 minutes).
	IdleTimeout time.Duration
	// StoreGrace is how long stopping waits for the last batches to be
	// stored before giving them up (default 5 s): syslog has no
	// acknowledgement, so a sender would not resend them anyway.
	StoreGrace time.Duration
}

// Server runs the listeners.
type Server struct {
	cfg     Config
	sink    ingest.Sink
	metrics *ingest.Metrics
	log     *slog.Logger
	udp     net.PacketConn
	tcp     net.Listener
	wg      sync.WaitGroup
	budget  *semaphore.Weighted
	// UDPDropped counts datagrams dropped because storing fell behind:
	// UDP gives no way to make the sender wait.
	UDPDropped atomic.Int64
}

// Listen opens the sockets, so a port conflict is reported at start.
func Listen(cfg Config, sink ingest.Sink, m *ingest.Metrics, log *slog.Logger) (*Server, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 20 * time.Millisecond
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = 64 << 10
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = 1 << 20
	}
	if cfg.InflightBytes <= 0 {
		cfg.InflightBytes = 32 << 20
	}
	if cfg.ConnBytes <= 0 {
		cfg.ConnBytes = 4 << 20
	}
	// A frame is taken whole from the budgets: each must hold the largest.
	cfg.ConnBytes = max(cfg.ConnBytes, int64(cfg.MaxMessage))
	cfg.InflightBytes = max(cfg.InflightBytes, cfg.ConnBytes)
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 1024
	}
	if cfg.MaxConnsPerIP <= 0 {
		cfg.MaxConnsPerIP = 64
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.StoreGrace <= 0 {
		cfg.StoreGrace = 5 * time.Second
	}
	s := &Server{cfg: cfg, sink: sink, metrics: m, log: log, budget: semaphore.NewWeighted(cfg.InflightBytes)}
	var err error
	if cfg.UDP {
		if s.udp, err = net.ListenPacket("udp", cfg.Listen); err != nil {
			return nil, err
		}
		if uc, ok := s.udp.(*net.UDPConn); ok {
			_ = uc.SetReadBuffer(8 << 20)
		}
	}
	if cfg.TCP {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			if s.udp != nil {
				s.udp.Close()
			}
			return nil, err
		}
		// Connections over a cap are closed on accept: an idle connection
		// costs a descriptor and a goroutine, so a flood of them must not
		// starve the other senders.
		s.tcp = netlimit.Listen(ln, netlimit.Limits{MaxConns: cfg.MaxConns, MaxPerAddr: cfg.MaxConnsPerIP}, func(string) {
			m.Rejected.WithLabelValues("syslog-tcp", "too_many_connections").Inc()
		})
	}
	return s, nil
}

// UDPAddr and TCPAddr report the bound addresses (useful with port 0).
func (s *Server) UDPAddr() net.Addr { return s.udp.LocalAddr() }

// TCPAddr reports the bound TCP address.
func (s *Server) TCPAddr() net.Addr { return s.tcp.Addr() }

// Run serves until ctx ends, then stores what it has read and returns.
func (s *Server) Run(ctx context.Context) {
	if s.udp != nil {
		frames := make(chan []byte, 4*s.cfg.BatchSize)
		s.wg.Add(2)
		go func() { defer s.wg.Done(); s.readUDP(frames) }()
		go func() { defer s.wg.Done(); s.batch(ctx, "syslog-udp", frames, nil) }()
	}
	if s.tcp != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.acceptTCP(ctx) }()
	}
	<-ctx.Done()
	if s.udp != nil {
		s.udp.Close()
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
	s.wg.Wait()
}

func (s *Server) readUDP(out chan<- []byte) {
	defer close(out)
	buf := make([]byte, 65536)
	for {
		n, _, err := s.udp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.metrics.Bytes.WithLabelValues("syslog-udp").Add(float64(n))
		if n > s.cfg.MaxMessage {
			s.metrics.Rejected.WithLabelValues("syslog-udp", "too_large").Inc()
			continue
		}
		if !s.budget.TryAcquire(int64(n)) {
			s.UDPDropped.Add(1)
			s.metrics.Rejected.WithLabelValues("syslog-udp", "overloaded").Inc()
			continue
		}
		select {
		case out <- append([]byte(nil), buf[:n]...):
		default:
			s.budget.Release(int64(n))
			s.UDPDropped.Add(1)
			s.metrics.Rejected.WithLabelValues("syslog-udp", "overloaded").Inc()
		}
	}
}

func (s *Server) acceptTCP(ctx context.Context) {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			s.serveTCP(ctx, c)
		}()
	}
}

// serveTCP reads frames and hands them to a batcher. Every frame is taken
// from the connection's and the listener's byte budgets until its batch is
// stored: when storing is slow the budgets run out, reading stops, and TCP
// flow control makes the sender wait, instead of Riposte buffering without
// bound.
func (s *Server) serveTCP(ctx context.Context, c net.Conn) {
	own := semaphore.NewWeighted(s.cfg.ConnBytes)
	release := func(n int64) {
		own.Release(n)
		s.budget.Release(n)
	}
	frames := make(chan []byte, s.cfg.BatchSize)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.batch(ctx, "syslog-tcp", frames, release)
	}()
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	r := syslog.NewReader(&idleConn{Conn: c, idle: s.cfg.IdleTimeout, ctx: ctx}, s.cfg.MaxMessage)
	for {
		f, err := r.Next()
		if err != nil {
			var tooLong *syslog.FrameTooLongError
			if errors.As(err, &tooLong) {
				s.metrics.Rejected.WithLabelValues("syslog-tcp", "too_large").Inc()
				s.log.Warn("syslog frame over the size limit skipped", "peer", c.RemoteAddr(), "err", err)
				continue
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				s.log.Debug("syslog connection ended", "peer", c.RemoteAddr(), "err", err)
			}
			break
		}
		s.metrics.Bytes.WithLabelValues("syslog-tcp").Add(float64(len(f)))
		n := int64(len(f))
		if own.Acquire(ctx, n) != nil {
			break
		}
		if s.budget.Acquire(ctx, n) != nil {
			own.Release(n)
			break
		}
		frames <- append([]byte(nil), f...)
	}
	close(frames)
	<-done
	c.Close()
}

// idleConn ends a read that waited longer than idle for data, so a
// connection that sends nothing does not hold its slot for ever.
type idleConn struct {
	net.Conn
	idle time.Duration
	ctx  context.Context
}

func (c *idleConn) Read(p []byte) (int, error) {
	if c.ctx.Err() == nil {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Read(p)
}

// batch stores frames in batches bounded in events and bytes, and retries
// a failed batch until it is stored: a syslog sender cannot be told to
// resend. Once ctx ends it tries for StoreGrace more, then gives the batch
// up and says how many events were lost, so a stop never hangs on a bus
// that does not answer. release returns a stored batch's bytes to the
// budgets they were taken from (nil: the UDP path, which took them from
// the listener's budget only).
func (s *Server) batch(ctx context.Context, source string, in <-chan []byte, release func(int64)) {
	if release == nil {
		release = func(n int64) { s.budget.Release(n) }
	}
	batch := make([]event.Event, 0, s.cfg.BatchSize)
	var held int64
	t := time.NewTimer(time.Hour)
	t.Stop()
	var giveUp time.Time
	flush := func() {
		if len(batch) == 0 {
			return
		}
		for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if ctx.Err() != nil {
				if giveUp.IsZero() {
					giveUp = time.Now().Add(s.cfg.StoreGrace)
				}
				cancel()
				sctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), giveUp)
			}
			err := s.sink.Submit(sctx, batch, "")
			cancel()
			if err == nil {
				s.metrics.Accepted.WithLabelValues(source).Add(float64(len(batch)))
				break
			}
			if ctx.Err() != nil && !time.Now().Before(giveUp) {
				s.metrics.Rejected.WithLabelValues(source, "lost_at_stop").Add(float64(len(batch)))
				s.log.Error("syslog batch not stored before the stop; events lost", "source", source, "events", len(batch), "err", err)
				break
			}
			s.log.Warn("syslog batch not stored, retrying", "source", source, "events", len(batch), "err", err)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
		}
		batch = batch[:0]
		release(held)
		held = 0
	}
	for {
		select {
		case f, ok := <-in:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				t.Reset(s.cfg.FlushEvery)
			}
			held += int64(len(f))
			batch = append(batch, s.build(source, f))
			if len(batch) >= s.cfg.BatchSize || held >= int64(s.cfg.BatchBytes) {
				t.Stop()
				flush()
			}
		case <-t.C:
			flush()
		}
	}
}

func (s *Server) build(source string, frame []byte) event.Event {
	now := time.Now().UTC()
	ev := event.Event{ID: event.NewID(now), Received: now, Source: source, Raw: frame}
	m, err := syslog.Parse(frame, now)
	if err != nil {
		// Keep what the sender said even when it is not syslog: dropping
		// it could hide an attack, and the error tells why it is bare.
		normalize.FromLine(frame, nil, &ev)
		ev.Fields["syslog.error"] = err.Error()
		return ev
	}
	normalize.FromSyslog(m, &ev)
	return ev
}
