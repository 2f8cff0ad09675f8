package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
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

// burstHTTP posts total bytes of NDJSON over conns concurrent clients, as
// fast as the node takes them, for at most d; it returns the bytes of the
// bodies the node acknowledged.
func burstHTTP(t *testing.T, n *node, token string, conns int, total int64, d time.Duration) int64 {
	t.Helper()
	var acked atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	line := `{"host":{"name":"burst-host"},"event":{"outcome":"failure"},"source":{"ip":"198.51.100.9"},"message":"` + strings.Repeat("y", 2000) + `"}` + "\n"
	body := strings.Repeat(line, (4<<20)/len(line))
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := *n.httpClient()
			cl.Timeout = 30 * time.Second
			for sent := int64(0); sent < total/int64(conns) && time.Now().Before(deadline); sent += int64(len(body)) {
				req, _ := newRequest("POST", n.url()+"/api/v1/events", body, token)
				resp, err := cl.Do(req)
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == 202 {
					acked.Add(int64(len(body)))
				} else {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	return acked.Load()
}

// burstFile appends total bytes of log lines to a followed file.
func burstFile(t *testing.T, path string, total int64) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	for i := 0; n < total; i++ {
		k, _ := fmt.Fprintf(w, "Dec  7 10:00:00 burst-host sshd[%d]: Failed password for root from 198.51.100.%d port 22 ssh2 %s\n", i, i%250+1, strings.Repeat("z", 4000))
		n += int64(k)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBurstKeepsTheNodeUp: a burst of about 250 MB, of large syslog frames
// (each under the frame limit) over one and over ten TCP connections, of
// NDJSON over HTTP, or of lines appended to a followed file, once wedged
// the whole node: the bus cut off the in-process client as a slow consumer,
// /readyz failed, memory passed 2 GB, SIGTERM was ignored and a restart did
// not recover. Now senders are slowed down, memory stays bounded, HTTP
// ingest keeps answering, every acknowledged event is stored, and the node
// stops and restarts cleanly.
func TestBurstKeepsTheNodeUp(t *testing.T) {
	const total = 250 << 20
	for _, tc := range []struct {
		name string
		// bound is the peak RSS allowed. The live heap stays near 200 MB
		// (syslog's 32 MiB of frames as events and wire messages, fetches
		// of 4 MiB per stage, the bus's block buffers); the rest is the
		// garbage collector's headroom, which grows when the machine is
		// loaded. A burst once took 2 GB and more.
		bound  int64
		attack func(t *testing.T, n *node, logFile string) int64
	}{
		{"syslog over one connection", 900 << 20, func(t *testing.T, n *node, _ string) int64 {
			return burst(t, n.syslog, 1, total, 250<<10, 60*time.Second)
		}},
		{"syslog over ten connections", 900 << 20, func(t *testing.T, n *node, _ string) int64 {
			return burst(t, n.syslog, 10, total, 250<<10, 60*time.Second)
		}},
		{"NDJSON over HTTP", 900 << 20, func(t *testing.T, n *node, _ string) int64 {
			tok, _, code := run("token", "create", "--data", n.data, "--role", "ingest", "--name", "burst")
			if code != 0 {
				t.Fatal("token create failed")
			}
			return burstHTTP(t, n, strings.TrimSpace(tok), 8, total, 60*time.Second)
		}},
		{"file tail", 900 << 20, func(t *testing.T, n *node, logFile string) int64 {
			return burstFile(t, logFile, total)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logFile := filepath.Join(t.TempDir(), "auth.log")
			if err := os.WriteFile(logFile, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			n := newNode(t, fmt.Sprintf("  files:\n    - path: %s\n", logFile))
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
			sent := tc.attack(t, n, logFile)
			took := time.Since(start)
			// The node keeps working through the backlog for a while.
			time.Sleep(3 * time.Second)
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
			if peak > tc.bound {
				t.Errorf("peak RSS %d MB over the bound of %d MB", peak>>20, tc.bound>>20)
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
