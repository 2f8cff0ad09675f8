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

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/ingest"
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
	FlushEvery time.Duration // longest a message waits for its batch to fill (default 20ms)
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
	s := &Server{cfg: cfg, sink: sink, metrics: m, log: log}
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
		if s.tcp, err = net.Listen("tcp", cfg.Listen); err != nil {
			if s.udp != nil {
				s.udp.Close()
			}
			return nil, err
		}
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
		go func() { defer s.wg.Done(); s.batch(ctx, "syslog-udp", frames) }()
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
		select {
		case out <- append([]byte(nil), buf[:n]...):
		default:
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

// serveTCP reads frames into a small bounded channel: when storing is slow
// the channel fills, reading stops, and TCP flow control makes the sender
// wait, instead of Riposte buffering without bound.
func (s *Server) serveTCP(ctx context.Context, c net.Conn) {
	frames := make(chan []byte, s.cfg.BatchSize)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.batch(ctx, "syslog-tcp", frames)
	}()
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	r := syslog.NewReader(c, s.cfg.MaxMessage)
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
		frames <- append([]byte(nil), f...)
	}
	close(frames)
	<-done
	c.Close()
}

// batch stores frames in batches and retries a failed batch until it is
// stored or the process stops: a syslog sender cannot be told to resend.
func (s *Server) batch(ctx context.Context, source string, in <-chan []byte) {
	batch := make([]event.Event, 0, s.cfg.BatchSize)
	t := time.NewTimer(time.Hour)
	t.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
			err := s.sink.Submit(context.WithoutCancel(ctx), batch, "")
			if err == nil {
				break
			}
			s.log.Warn("syslog batch not stored, retrying", "source", source, "events", len(batch), "err", err)
			time.Sleep(backoff)
		}
		s.metrics.Accepted.WithLabelValues(source).Add(float64(len(batch)))
		batch = batch[:0]
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
			batch = append(batch, s.build(source, f))
			if len(batch) >= s.cfg.BatchSize {
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
