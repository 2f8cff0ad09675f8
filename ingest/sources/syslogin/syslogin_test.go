package syslogin

import (
	"github.com/riposte-soar/riposte/internal/bustest"

	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/ingest"
)

const (
	accepted = "riposte_ingest_events_accepted_total"
	rejected = "riposte_ingest_events_rejected_total"
	bytesIn  = "riposte_ingest_bytes_total"
)

// running is a Server listening on loopback ports of its own.
type running struct {
	*Server
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t *testing.T, cfg Config, sink ingest.Sink, m *ingest.Metrics) *running {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.UDP, cfg.TCP = true, true
	s, err := Listen(cfg, sink, m, bustest.DiscardLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Server: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		s.Run(ctx)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and waits for it to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func dial(t *testing.T, network string, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial(network, addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// octet frames msg with RFC 6587 octet counting.
func octet(msg string) string { return fmt.Sprintf("%d %s", len(msg), msg) }

func rawsOf(evs []event.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, string(e.Raw))
	}
	return out
}

// waitCounter polls a counter until it reaches want.
func waitCounter(t *testing.T, tb *bustest.Bus, want float64, name string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := bustest.Counter(t, tb.Reg, name, labels...)
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const (
	msg5424 = `<34>1 2024-03-05T10:00:01.123Z host5424 app1 42 ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event`
	msg3164 = `<13>Mar  5 10:00:01 web3 cron[77]: (root) CMD (run-parts /etc/cron.hourly)`
	msgSSHD = `<38>Mar  5 10:00:01 bastion sshd[1201]: Failed password for root from 203.0.113.5 port 52144 ssh2`
	msgBad  = `<999>1 - - - - - -`
	msgText = `just a line of text`
)

// TestMessages sends each kind of message over UDP and TCP and reads back
// what was stored.
func TestMessages(t *testing.T) {
	tb := bustest.Start(t, 0)
	s := start(t, Config{}, tb.Pipe, tb.M)

	cases := []struct {
		name    string
		msg     string
		host    string
		ls      event.LogSource
		fields  map[string]any
		checkTm func(time.Time) bool
	}{
		{
			name: "rfc5424", msg: msg5424, host: "host5424", ls: event.LogSource{Product: "linux", Service: "syslog"},
			fields: map[string]any{
				"syslog.facility": int64(4), "syslog.severity": int64(2), "syslog.appname": "app1",
				"syslog.procid": "42", "syslog.msgid": "ID47", "message": "An application event",
				"sd.exampleSDID@32473.iut": "3", "sd.exampleSDID@32473.eventSource": "Application",
				"host.name": "host5424",
			},
			checkTm: func(tm time.Time) bool { return tm.Equal(time.Date(2024, 3, 5, 10, 0, 1, 123e6, time.UTC)) },
		},
		{
			name: "rfc3164", msg: msg3164, host: "web3", ls: event.LogSource{Product: "linux", Service: "cron"},
			fields: map[string]any{
				"syslog.facility": int64(1), "syslog.severity": int64(5), "syslog.appname": "cron",
				"syslog.procid": "77", "message": "(root) CMD (run-parts /etc/cron.hourly)",
			},
			checkTm: func(tm time.Time) bool { return tm.Month() == time.March && tm.Day() == 5 && tm.Hour() == 10 },
		},
		{
			name: "sshd", msg: msgSSHD, host: "bastion", ls: event.LogSource{Product: "linux", Service: "sshd"},
			fields: map[string]any{
				"syslog.appname": "sshd", "source.ip": "203.0.113.5", "source.port": int64(52144),
				"user.name": "root", "event.action": "ssh_login", "event.outcome": "failure",
			},
			checkTm: func(tm time.Time) bool { return tm.Month() == time.March && tm.Day() == 5 },
		},
		{
			// Not syslog: kept whole, with the reason it is bare.
			name: "not syslog", msg: msgBad,
			fields: map[string]any{
				"message": msgBad, "syslog.error": "syslog: PRI value 999 out of range (0-191)",
				"syslog.appname": nil,
			},
		},
		{
			name: "plain text", msg: msgText, ls: event.LogSource{Product: "linux", Service: "syslog"},
			fields: map[string]any{"message": msgText, "syslog.error": nil},
		},
	}
	for _, transport := range []string{"udp", "tcp"} {
		for _, tc := range cases {
			t.Run(transport+"/"+tc.name, func(t *testing.T) {
				var c net.Conn
				if transport == "udp" {
					c = dial(t, "udp", s.UDPAddr())
					_, err := c.Write([]byte(tc.msg))
					if err != nil {
						t.Fatal(err)
					}
				} else {
					c = dial(t, "tcp", s.TCPAddr())
					if _, err := c.Write([]byte(tc.msg + "\n")); err != nil {
						t.Fatal(err)
					}
				}
				evs := tb.WaitStored(t, 1)
				if len(evs) != 1 {
					t.Fatalf("stored %d events, want 1", len(evs))
				}
				e := evs[0]
				if want := "syslog-" + transport; e.Source != want {
					t.Errorf("source %q, want %q", e.Source, want)
				}
				if string(e.Raw) != tc.msg {
					t.Errorf("raw %q, want %q", e.Raw, tc.msg)
				}
				if e.Host != tc.host || e.LogSource != tc.ls {
					t.Errorf("host %q logsource %+v, want %q %+v", e.Host, e.LogSource, tc.host, tc.ls)
				}
				if tc.checkTm != nil && !tc.checkTm(e.Time) {
					t.Errorf("time %v is not the message's", e.Time)
				}
				if e.ID == "" || e.Received.IsZero() {
					t.Errorf("id %q received %v", e.ID, e.Received)
				}
				for k, want := range tc.fields {
					got, ok := e.Fields[k]
					if want == nil {
						if ok {
							t.Errorf("field %s = %v, want absent", k, got)
						}
					} else if got != want {
						t.Errorf("field %s = %#v, want %#v", k, got, want)
					}
				}
			})
		}
	}
	if got := bustest.Counter(t, tb.Reg, accepted, "source", "syslog-udp"); got != float64(len(cases)) {
		t.Errorf("accepted{syslog-udp} = %v, want %d", got, len(cases))
	}
	if got := bustest.Counter(t, tb.Reg, accepted, "source", "syslog-tcp"); got != float64(len(cases)) {
		t.Errorf("accepted{syslog-tcp} = %v, want %d", got, len(cases))
	}
}

// TestTCPFraming sends byte streams in every framing over one connection
// each and checks the frames stored, in order.
func TestTCPFraming(t *testing.T) {
	tb := bustest.Start(t, 0)
	s := start(t, Config{MaxMessage: 256}, tb.Pipe, tb.M)
	long := "<13>Mar  5 10:00:01 h app: " + strings.Repeat("x", 300)
	cases := []struct {
		name     string
		stream   string
		want     []string
		tooLarge float64
	}{
		{"octet counting", octet(msg5424) + octet(msg3164) + octet(msgSSHD), []string{msg5424, msg3164, msgSSHD}, 0},
		{"octet counting with trailing LF", octet(msg5424) + "\n" + octet(msg3164) + "\n", []string{msg5424, msg3164}, 0},
		{"LF framing", msg5424 + "\n" + msg3164 + "\n" + msgSSHD + "\n", []string{msg5424, msg3164, msgSSHD}, 0},
		{"CRLF and NUL framing", msg5424 + "\r\n" + msg3164 + "\x00" + msgSSHD + "\n", []string{msg5424, msg3164, msgSSHD}, 0},
		{"mixed framing", octet(msg5424) + msg3164 + "\n" + octet(msgSSHD) + msgText + "\n", []string{msg5424, msg3164, msgSSHD, msgText}, 0},
		{"last line without LF", msg3164 + "\n" + msgText, []string{msg3164, msgText}, 0},
		{"line starting with digits", "2024-03-05 plain line\n" + msgText + "\n", []string{"2024-03-05 plain line", msgText}, 0},
		{"oversize LF frame then a normal one", long + "\n" + msg3164 + "\n", []string{msg3164}, 1},
		{"oversize octet frame then a normal one", octet(long) + msg3164 + "\n" + octet(msgSSHD), []string{msg3164, msgSSHD}, 1},
		{"frame at the limit", octet(strings.Repeat("y", 256)) + msgText + "\n", []string{strings.Repeat("y", 256), msgText}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			big0 := bustest.Counter(t, tb.Reg, rejected, "source", "syslog-tcp", "reason", "too_large")
			c := dial(t, "tcp", s.TCPAddr())
			if _, err := c.Write([]byte(tc.stream)); err != nil {
				t.Fatal(err)
			}
			c.Close()
			evs := tb.WaitStored(t, len(tc.want))
			if got := rawsOf(evs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("stored\n%q\nwant\n%q", got, tc.want)
			}
			for _, e := range evs {
				if e.Source != "syslog-tcp" {
					t.Errorf("source %q", e.Source)
				}
			}
			waitCounter(t, tb, big0+tc.tooLarge, rejected, "source", "syslog-tcp", "reason", "too_large")
		})
	}
}

func TestUDPOversize(t *testing.T) {
	tb := bustest.Start(t, 0)
	s := start(t, Config{MaxMessage: 256}, tb.Pipe, tb.M)
	c := dial(t, "udp", s.UDPAddr())
	for _, m := range []string{"<13>Mar  5 10:00:01 h app: " + strings.Repeat("x", 300), msg3164} {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	evs := tb.WaitStored(t, 1)
	if got := rawsOf(evs); !reflect.DeepEqual(got, []string{msg3164}) {
		t.Errorf("stored %q, want only the normal message", got)
	}
	waitCounter(t, tb, 1, rejected, "source", "syslog-udp", "reason", "too_large")
}

// TestShutdownStoresWhatWasRead: with batches that would only fill after an
// hour, stopping the server stores everything it read before Run returns.
func TestShutdownStoresWhatWasRead(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			tb := bustest.Start(t, 0)
			s := start(t, Config{BatchSize: 100000, FlushEvery: time.Hour}, tb.Pipe, tb.M)
			addr := s.UDPAddr()
			if transport == "tcp" {
				addr = s.TCPAddr()
			}
			c := dial(t, transport, addr)
			var want []string
			total := 0
			for i := range 50 {
				m := fmt.Sprintf("<13>Mar  5 10:00:01 h app[%d]: message %d", i, i)
				want = append(want, m)
				total += len(m)
				frame := m
				if transport == "tcp" {
					frame = octet(m)
				}
				if _, err := c.Write([]byte(frame)); err != nil {
					t.Fatal(err)
				}
			}
			source := "syslog-" + transport
			// Everything was read (the connection stays open)...
			waitCounter(t, tb, float64(total), bytesIn, "source", source)
			// ...and none of it is stored yet.
			if n := len(tb.Stored(t)); n != 0 {
				t.Fatalf("%d events stored before the batch was due", n)
			}
			s.stop(t)
			evs := tb.Stored(t)
			if got := rawsOf(evs); !reflect.DeepEqual(got, want) {
				t.Errorf("stored after shutdown (%d):\n%q\nwant (%d)\n%q", len(got), got, len(want), want)
			}
			if got := bustest.Counter(t, tb.Reg, accepted, "source", source); got != 50 {
				t.Errorf("accepted = %v, want 50", got)
			}
		})
	}
}

// flakySink fails the first n Submit calls.
type flakySink struct {
	next  ingest.Sink
	mu    sync.Mutex
	fails int
	calls int
}

func (s *flakySink) Submit(ctx context.Context, batch []event.Event, key string) error {
	s.mu.Lock()
	s.calls++
	fail := s.calls <= s.fails
	s.mu.Unlock()
	if fail {
		return errors.New("bus unavailable")
	}
	return s.next.Submit(ctx, batch, key)
}

// TestStoreRetried: a syslog sender cannot be asked to resend, so a batch
// that could not be stored is retried until it is, once and in order.
func TestStoreRetried(t *testing.T) {
	tb := bustest.Start(t, 0)
	sink := &flakySink{next: tb.Pipe, fails: 2}
	s := start(t, Config{}, sink, tb.M)
	c := dial(t, "tcp", s.TCPAddr())
	stream := msg5424 + "\n" + msg3164 + "\n" + msgSSHD + "\n"
	if _, err := c.Write([]byte(stream)); err != nil {
		t.Fatal(err)
	}
	evs := tb.WaitStored(t, 3)
	if got := rawsOf(evs); !reflect.DeepEqual(got, []string{msg5424, msg3164, msgSSHD}) {
		t.Errorf("stored %q", got)
	}
	sink.mu.Lock()
	calls := sink.calls
	sink.mu.Unlock()
	if calls < 3 {
		t.Errorf("%d Submit calls, want at least 2 failures and a success", calls)
	}
	waitCounter(t, tb, 3, accepted, "source", "syslog-tcp")
}

// TestManyConnections: connections are served at once, each one's frames
// stored in its own order.
func TestManyConnections(t *testing.T) {
	tb := bustest.Start(t, 0)
	s := start(t, Config{}, tb.Pipe, tb.M)
	const conns, each = 5, 40
	var wg sync.WaitGroup
	for i := range conns {
		c := dial(t, "tcp", s.TCPAddr())
		wg.Go(func() {
			var b strings.Builder
			for j := range each {
				b.WriteString(octet(fmt.Sprintf("<13>Mar  5 10:00:01 h app: conn %d msg %03d", i, j)))
			}
			if _, err := c.Write([]byte(b.String())); err != nil {
				t.Error(err)
			}
			c.Close()
		})
	}
	wg.Wait()
	evs := tb.WaitStored(t, conns*each)
	if len(evs) != conns*each {
		t.Fatalf("stored %d, want %d", len(evs), conns*each)
	}
	last := map[string]string{}
	for _, e := range evs {
		m := e.GetString("message")
		conn := m[:strings.Index(m, " msg")]
		if m <= last[conn] {
			t.Errorf("%q stored after %q", m, last[conn])
		}
		last[conn] = m
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
	want := config.Syslog{Listen: "127.0.0.1:5514", UDP: true, TCP: true, InflightBytes: 32 << 20,
		MaxConnections: 1024, MaxConnectionsPerIP: 64, IdleTimeout: config.Duration(10 * time.Minute)}
	if c.Ingest.Syslog != want || c.Ingest.MaxEventBytes != 256<<10 {
		t.Errorf("sample.conf decodes to %+v, max_event_bytes %v", c.Ingest.Syslog, c.Ingest.MaxEventBytes)
	}
	for _, k := range []string{"ingest.max_event_bytes", "ingest.syslog.listen", "ingest.syslog.udp", "ingest.syslog.tcp",
		"ingest.syslog.inflight_bytes", "ingest.syslog.max_connections", "ingest.syslog.max_connections_per_ip", "ingest.syslog.idle_timeout"} {
		if lines[k] == 0 {
			t.Errorf("sample.conf does not show %s", k)
		}
	}
}

// gateSink holds every Submit until the gate opens (or fails it at once
// when fail is set), counting the events it was handed.
type gateSink struct {
	gate chan struct{}
	fail bool
	mu   sync.Mutex
	got  int
}

func (s *gateSink) Submit(ctx context.Context, batch []event.Event, key string) error {
	if s.fail {
		return errors.New("bus unavailable")
	}
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	s.got += len(batch)
	s.mu.Unlock()
	return nil
}

// TestTCPBackPressureBoundsMemory: when storing stalls, a connection reads
// no more than its byte budget and the sender is made to wait, instead of
// the server buffering the burst (it once held 500 frames of up to 256 KiB
// per connection, and more while retrying).
func TestTCPBackPressureBoundsMemory(t *testing.T) {
	tb := bustest.Start(t, 0)
	sink := &gateSink{gate: make(chan struct{})}
	const frame, budget = 16 << 10, 256 << 10
	s := start(t, Config{MaxMessage: frame + 1024, ConnBytes: budget, InflightBytes: 1 << 20, BatchBytes: 64 << 10}, sink, tb.M)
	c := dial(t, "tcp", s.TCPAddr())
	msg := octet("<13>Mar  5 10:00:01 h app: " + strings.Repeat("b", frame))
	written := 0
	_ = c.SetWriteDeadline(time.Now().Add(3 * time.Second))
	for i := 0; i < 4000; i++ { // 64 MB if nothing pushed back
		if _, err := c.Write([]byte(msg)); err != nil {
			break
		}
		written += len(msg)
	}
	if written >= 4000*len(msg) {
		t.Fatal("the sender was never made to wait")
	}
	read := bustest.Counter(t, tb.Reg, bytesIn, "source", "syslog-tcp")
	// The budget plus the frame waiting for it, plus the reader's buffer.
	if limit := float64(budget + 2*len(msg) + 64<<10); read > limit {
		t.Errorf("read %v bytes while storing stalled, over the budget's bound of %v", read, limit)
	}
	t.Logf("sender wrote %d bytes before waiting; the server read %v", written, read)
	close(sink.gate)
	// Once storing resumes the sender is heard again.
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("the sender stayed blocked after storing resumed: %v", err)
	}
}

// TestStopGivesUpAfterGrace: a stop never hangs on a bus that refuses
// every batch; what could not be stored is counted as lost.
func TestStopGivesUpAfterGrace(t *testing.T) {
	tb := bustest.Start(t, 0)
	s := start(t, Config{StoreGrace: 500 * time.Millisecond, FlushEvery: time.Millisecond}, &gateSink{fail: true}, tb.M)
	c := dial(t, "tcp", s.TCPAddr())
	if _, err := c.Write([]byte(msg5424 + "\n")); err != nil {
		t.Fatal(err)
	}
	waitCounter(t, tb, float64(len(msg5424)), bytesIn, "source", "syslog-tcp")
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	s.stop(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stop took %v with a grace of 500ms", d)
	}
	if got := bustest.Counter(t, tb.Reg, rejected, "source", "syslog-tcp", "reason", "lost_at_stop"); got != 1 {
		t.Errorf("lost_at_stop = %v, want 1", got)
	}
}

// TestConnectionCaps: connections past the per-address or listener cap are
// closed at once and counted; freed slots are usable again.
func TestConnectionCaps(t *testing.T) {
	tb := bustest.Start(t, 0)
	s := start(t, Config{MaxConns: 10, MaxConnsPerIP: 3, IdleTimeout: time.Hour}, tb.Pipe, tb.M)
	var held []net.Conn
	for i := 0; i < 3; i++ {
		held = append(held, dial(t, "tcp", s.TCPAddr()))
	}
	extra := dial(t, "tcp", s.TCPAddr())
	_ = extra.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the fourth connection from one address was kept (read: %v)", err)
	}
	waitCounter(t, tb, 1, rejected, "source", "syslog-tcp", "reason", "too_many_connections")
	held[0].Close()
	waitFor := time.Now().Add(3 * time.Second)
	for {
		c := dial(t, "tcp", s.TCPAddr())
		if _, err := c.Write([]byte(msg5424 + "\n")); err == nil {
			_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
				break // kept open: admitted
			}
		}
		if time.Now().After(waitFor) {
			t.Fatal("a freed slot was not given to a new connection")
		}
	}
	tb.WaitStored(t, 1)
}

// TestIdleConnectionClosed: a connection that sends nothing is closed
// after the idle timeout, so silent connections cannot hold every slot.
func TestIdleConnectionClosed(t *testing.T) {
	tb := bustest.Start(t, 0)
	s := start(t, Config{IdleTimeout: 300 * time.Millisecond}, tb.Pipe, tb.M)
	c := dial(t, "tcp", s.TCPAddr())
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("an idle connection was kept for 5s with an idle timeout of 300ms")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
}
