package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// burstFrame is one RFC 5424 frame of about size bytes, octet-counted
// (RFC 6587), under the default 256 KiB frame limit.
func burstFrame(i, size int) []byte {
	head := fmt.Sprintf("<34>1 2026-12-07T10:00:00Z burst-host sshd %d - - Failed password for root from 198.51.100.%d port %d ssh2 pad=", i, i%250+1, 1024+i%60000)
	msg := head + strings.Repeat("x", max(0, size-len(head)))
	return fmt.Appendf(nil, "%d %s", len(msg), msg)
}

// burst writes total bytes of syslog frames over conns TCP connections as
// fast as the node takes them, for at most d; it returns the bytes the
// node read (TCP back-pressure decides how many that is).
func burst(t *testing.T, addr string, conns int, total int64, frameSize int, d time.Duration) int64 {
	t.Helper()
	var sent atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	per := total / int64(conns)
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Errorf("dial syslog: %v", err)
				return
			}
			defer conn.Close()
			_ = conn.SetWriteDeadline(deadline)
			w := bufio.NewWriterSize(conn, 1<<20)
			var mine int64
			for i := 0; mine < per; i++ {
				f := burstFrame(c*1_000_000+i, frameSize)
				if _, err := w.Write(f); err != nil {
					break
				}
				mine += int64(len(f))
			}
			_ = w.Flush()
			sent.Add(mine)
		}(c)
	}
	wg.Wait()
	return sent.Load()
}

// TestSyslogBurstKeepsTheNodeUp: a burst of large syslog frames (about
// 250 MB, each under the frame limit) over one and over ten TCP
// connections once wedged the whole node: the bus cut off the in-process
// client as a slow consumer, /readyz stayed 503, memory passed 2 GB,
// SIGTERM was ignored and a restart did not recover. Now the senders are
// slowed by TCP, memory stays bounded, HTTP ingest keeps answering, every
// acknowledged event is stored, and the node stops and restarts cleanly.
func TestSyslogBurstKeepsTheNodeUp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		conns int
	}{{"one connection", 1}, {"ten connections", 10}} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, "")
			n.start()
			c := newCanaries(t, n)
			for i := 0; i < 5; i++ {
				if !c.send("before", i) {
					t.Fatal("canary before the attack not acknowledged")
				}
			}
			w := watchNode(n)
			stop := make(chan struct{})
			var cwg sync.WaitGroup
			cwg.Add(1)
			go func() { defer cwg.Done(); c.during(stop, 200*time.Millisecond) }()
			start := time.Now()
			sent := burst(t, n.syslog, tc.conns, 250<<20, 200<<10, 60*time.Second)
			took := time.Since(start)
			close(stop)
			cwg.Wait()
			n.expectReadyWithin(t, 10*time.Second)
			for i := 0; i < 5; i++ {
				if !c.send("after", i) {
					t.Errorf("canary %d after the attack not acknowledged", i)
				}
			}
			peak := w.end()
			t.Logf("sent %d MB in %v; peak RSS %d MB; /readyz failed %d samples; %d canaries acknowledged",
				sent>>20, took.Round(time.Millisecond), peak>>20, len(w.notReady), len(c.acked))
			// The stages hold a few fetches of 16 MiB, syslog 32 MiB of
			// frames: a bound well under what the burst once took (2 GB+).
			const bound = 700 << 20
			if peak > bound {
				t.Errorf("peak RSS %d MB over the bound of %d MB", peak>>20, bound>>20)
			}
			if len(w.notReady) > 0 {
				t.Errorf("/readyz failed %d times during the burst (first at %v)", len(w.notReady), w.notReady[0].Sub(start).Round(time.Millisecond))
			}
			c.verify(t, 60*time.Second)
			n.stopWithin(t, 10*time.Second)

			// A restart resumes: ready at once, nothing acknowledged lost.
			n.start()
			c.verify(t, 30*time.Second)
			if !c.send("restart", 0) {
				t.Error("canary after the restart not acknowledged")
			}
			n.stopWithin(t, 10*time.Second)
		})
	}
}

// TestSyslogConnectionFloodIsCapped: connections past the per-address cap
// are closed at once, so they cannot starve other senders of descriptors,
// and a sender within the cap is still heard.
func TestSyslogConnectionFloodIsCapped(t *testing.T) {
	n := newNode(t, "")
	cfg, err := os.ReadFile(n.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), "    listen: "+n.syslog, "    listen: "+n.syslog+"\n    max_connections_per_ip: 8", 1))
	if err := os.WriteFile(n.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	n.start()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 8; i++ {
		c, err := net.Dial("tcp", n.syslog)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// The ninth is accepted by the kernel and closed by the node.
	c, err := net.Dial("tcp", n.syslog)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("a connection over the per-address cap was kept open (read: %v)", err)
	}
	c.Close()
	// Freeing one slot lets a sender in again.
	held[0].Close()
	held = held[1:]
	time.Sleep(200 * time.Millisecond)
	sendSyslogTCP(t, n.syslog, "heard-after-flood")
	waitFor(t, "the event sent within the cap", 15*time.Second, func() bool { return len(n.events("heard-after-flood")) == 1 })
	n.stopWithin(t, 10*time.Second)
}
