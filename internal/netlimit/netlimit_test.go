package netlimit

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// dialFrom connects to addr from a chosen loopback source address, so one
// test can play several clients.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// alive reports whether the server kept c open: a closed one reads EOF or
// a reset at once, an open one times out.
func alive(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestListenerLimits(t *testing.T) {
	cases := []struct {
		name    string
		lim     Limits
		clients []string // source address of each connection, in order
		want    []bool   // kept open
		reasons []string
	}{
		{"per address", Limits{MaxConns: 10, MaxPerAddr: 2},
			[]string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3"}, []bool{true, true, false, true}, []string{"per_address"}},
		{"total", Limits{MaxConns: 3, MaxPerAddr: 3},
			[]string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}, []bool{true, true, true, false}, []string{"total"}},
		{"no limits", Limits{},
			[]string{"127.0.0.2", "127.0.0.2", "127.0.0.2"}, []bool{true, true, true}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			refused := make(chan string, 10)
			ln := Listen(inner, tc.lim, func(r string) { refused <- r })
			defer ln.Close()
			accepted := make(chan net.Conn, 10)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					accepted <- c
				}
			}()
			var conns []net.Conn
			for _, src := range tc.clients {
				c := dialFrom(t, src, inner.Addr().String())
				conns = append(conns, c)
				time.Sleep(20 * time.Millisecond) // accept in dial order
			}
			for i, c := range conns {
				if got := alive(c); got != tc.want[i] {
					t.Errorf("connection %d from %s: open=%v, want %v", i, tc.clients[i], got, tc.want[i])
				}
			}
			for _, want := range tc.reasons {
				select {
				case r := <-refused:
					if r != want {
						t.Errorf("refused for %q, want %q", r, want)
					}
				case <-time.After(time.Second):
					t.Errorf("no refusal reported, want %q", want)
				}
			}
			// Closing a connection gives its place back.
			(<-accepted).Close()
			c := dialFrom(t, tc.clients[0], inner.Addr().String())
			if !alive(c) {
				t.Error("a place freed by a closed connection was not given to the next one")
			}
		})
	}
}

func TestAddrKey(t *testing.T) {
	cases := []struct{ in, want string }{
		{"192.0.2.7:443", "192.0.2.7/32"},
		{"[2001:db8:1:2:aaaa::1]:80", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:80", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7/32"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"192.0.2.8", "192.0.2.8/32"},
		{"@", "invalid Prefix"},
	}
	for _, c := range cases {
		if got := AddrKey(c.in).String(); got != c.want {
			t.Errorf("AddrKey(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// serveBody runs a real server whose handler reads the body under p and
// reports what reading ended with.
func serveBody(t *testing.T, p *Pace) (string, chan error) {
	t.Helper()
	got := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := p.Body(w, r)
		defer b.Close()
		_, err := io.Copy(io.Discard, b)
		got <- err
		if err != nil {
			w.WriteHeader(http.StatusRequestTimeout)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), got
}

// trickle sends a request declaring size bytes and then one byte every
// gap, until the server hangs up or stop closes.
func trickle(t *testing.T, addr string, size int, gap time.Duration, stop chan struct{}) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	_, _ = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n")
	for i := 0; i < size; i++ {
		select {
		case <-stop:
			return
		case <-time.After(gap):
		}
		if _, err := c.Write([]byte{'x'}); err != nil {
			return
		}
	}
}

func TestPaceCutsSlowBodies(t *testing.T) {
	cases := []struct {
		name    string
		pace    *Pace
		size    int
		gap     time.Duration
		wantErr error
		within  time.Duration
	}{
		{"a byte a second is cut after the grace", &Pace{MinRate: 1000, Grace: 300 * time.Millisecond}, 1 << 20, time.Second, ErrTooSlow, 2 * time.Second},
		{"silence is cut after the grace", &Pace{MinRate: 1000, Grace: 300 * time.Millisecond}, 100, time.Hour, ErrTooSlow, 2 * time.Second},
		{"a body at the rate is read whole", &Pace{MinRate: 100, Grace: 300 * time.Millisecond}, 40, 5 * time.Millisecond, nil, 3 * time.Second},
		{"no minimum waits", &Pace{}, 3, 300 * time.Millisecond, nil, 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, got := serveBody(t, tc.pace)
			stop := make(chan struct{})
			defer close(stop)
			go trickle(t, addr, tc.size, tc.gap, stop)
			select {
			case err := <-got:
				if !errors.Is(err, tc.wantErr) && !(err == nil && tc.wantErr == nil) {
					t.Fatalf("read ended with %v, want %v", err, tc.wantErr)
				}
			case <-time.After(tc.within):
				t.Fatalf("reading did not end within %v", tc.within)
			}
		})
	}
}

func TestPaceStopInterruptsUploads(t *testing.T) {
	p := &Pace{MinRate: 1, Grace: time.Hour}
	addr, got := serveBody(t, p)
	stop := make(chan struct{})
	defer close(stop)
	go trickle(t, addr, 1000, time.Hour, stop)
	time.Sleep(200 * time.Millisecond)
	p.Stop()
	select {
	case err := <-got:
		if !errors.Is(err, ErrStopping) {
			t.Fatalf("read ended with %v, want ErrStopping", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Stop did not interrupt a body being read")
	}
}

func TestFailures(t *testing.T) {
	now := time.Unix(1e9, 0)
	f := NewFailures(60, 3) // one a second, three at once
	const a, b = "192.0.2.1:1000", "192.0.2.2:1000"
	for i := 0; i < 3; i++ {
		if _, blocked := f.Blocked(a, now); blocked {
			t.Fatalf("blocked after %d failures, the burst is 3", i)
		}
		f.Fail(a, now)
	}
	wait, blocked := f.Blocked(a, now)
	if !blocked || wait < time.Second {
		t.Fatalf("after 3 failures: blocked=%v wait=%v, want blocked for at least 1s", blocked, wait)
	}
	if _, blocked := f.Blocked("192.0.2.1:2000", now); !blocked {
		t.Error("another port of the same address is not blocked")
	}
	if _, blocked := f.Blocked(b, now); blocked {
		t.Error("another address is blocked")
	}
	if _, blocked := f.Blocked(a, now.Add(1100*time.Millisecond)); blocked {
		t.Error("still blocked after the bucket refilled one failure")
	}

	// A flood of addresses is bounded: past the cap, new ones share a
	// bucket instead of growing the map.
	f = NewFailures(60, 1)
	f.max = 100
	for i := 0; i < 1000; i++ {
		f.Fail(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()+":1", now)
	}
	if n := f.Tracked(); n > 100 {
		t.Fatalf("%d addresses tracked, the cap is 100", n)
	}
	if _, blocked := f.Blocked("10.9.9.9:1", now); !blocked {
		t.Error("an untracked address past the cap does not share the overflow bucket")
	}
	// Refilled buckets are forgotten to make room.
	f.Fail("10.200.0.1:1", now.Add(time.Hour))
	if n := f.Tracked(); n != 1 {
		t.Errorf("%d addresses tracked after every old bucket refilled, want 1", n)
	}
	var off *Failures
	if _, blocked := off.Blocked(a, now); blocked {
		t.Error("a nil limiter blocks")
	}
}
