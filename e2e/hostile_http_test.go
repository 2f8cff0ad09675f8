package e2e

// Attacks on the HTTP listener and HTTP ingest: connections held with slow
// headers and slow bodies on a route without a token (agent enrollment)
// and on ingest, many connections from one address, bodies of many tiny
// events, concurrent oversized bodies, and guessed credentials. The
// attacker dials from 127.0.0.2, the probes and canaries from 127.0.0.1,
// so per-address limits are what keep the node answering.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// setHTTP adds keys (indented two spaces) to the node's http section;
// call it before start.
func (n *node) setHTTP(t *testing.T, keys string) {
	t.Helper()
	b, err := os.ReadFile(n.config)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "\nhttp:\n", "\nhttp:\n"+keys, 1)
	if err := os.WriteFile(n.config, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

const attacker = "127.0.0.2"

// dialAttacker opens a connection from the attacker's address, or returns
// nil when the node refused or closed it.
func dialAttacker(addr string) net.Conn {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(attacker)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil
	}
	return c
}

// hostileLimits are short enough for a test to see them act.
const hostileLimits = `  read_header_timeout: 2s
  read_timeout: 4s
  write_timeout: 10s
  idle_timeout: 5s
  max_connections: 2000
  max_connections_per_address: 100
  min_body_rate: 4KiB
  body_rate_grace: 2s
`

// attack runs one attack while canaries go in before, during and after,
// then checks readiness, memory, the canaries and shutdown.
func attack(t *testing.T, n *node, rssBound int64, run func(stop <-chan struct{})) {
	t.Helper()
	c := newCanaries(t, n)
	for i := range 3 {
		if !c.send("before", i) {
			t.Fatalf("canary %d before the attack was not acknowledged", i)
		}
	}
	w := watchNode(n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); run(stop) }()
	go func() { defer wg.Done(); c.during(stop, 300*time.Millisecond) }()
	time.Sleep(8 * time.Second)
	close(stop)
	wg.Wait()
	n.expectReadyWithin(t, 10*time.Second)
	peak := w.end()
	w.mu.Lock()
	notReady := len(w.notReady)
	w.mu.Unlock()
	if notReady > 0 {
		t.Errorf("/readyz failed %d times during the attack (probes come from an address the attacker does not use)", notReady)
	}
	for i := range 3 {
		if !c.send("after", i) {
			t.Errorf("canary %d after the attack was not acknowledged", i)
		}
	}
	c.mu.Lock()
	during := 0
	for _, id := range c.acked {
		if strings.Contains(id, "-during-") {
			during++
		}
	}
	c.mu.Unlock()
	if during == 0 {
		t.Error("no canary was acknowledged during the attack")
	}
	// The canaries sent after the attack queue behind everything it got
	// stored (up to ~2 M events): the event store may take a while to reach
	// them on a loaded machine. They must arrive, not arrive at once.
	c.verify(t, 90*time.Second)
	t.Logf("peak RSS %d MB (bound %d MB), %d canaries acknowledged during the attack", peak>>20, rssBound>>20, during)
	if peak > rssBound {
		t.Errorf("peak RSS %d MB, over the bound of %d MB", peak>>20, rssBound>>20)
	}
	n.stopWithin(t, 10*time.Second)
}

// holdConns keeps opening connections from the attacker's address that
// send head, then a byte every gap, until stop.
func holdConns(addr string, conns int, head string, gap time.Duration, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := dialAttacker(addr)
				if c == nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				_, err := io.WriteString(c, head)
				for err == nil {
					select {
					case <-stop:
						err = io.EOF
						continue
					case <-time.After(gap):
					}
					_, err = c.Write([]byte{'x'})
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
}

// metricValue reads one sample of the node's /metrics (0 when absent or
// unreachable; safe off the test's goroutine).
func (n *node) metricValue(sample string) float64 {
	_, b, err := n.do("GET", "/metrics", "", nil, nil)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

// TestHostileSlowConnections: 1,500 connections at a time from one
// address that hold slow headers, or declare bodies and trickle them, on
// enrollment (no token) and on ingest, do not take the node's descriptors,
// readiness or ingest: the address gets 100 connections, each cut by the
// header, read or body-rate deadline.
func TestHostileSlowConnections(t *testing.T) {
	cases := []struct {
		name string
		head func(token string) string
	}{
		{"slow headers", func(string) string { return "POST /api/v1/agents/enroll HTTP/1.1\r\nHost: x\r\nX-Slow: " }},
		{"slow body on enroll", func(string) string {
			return "POST /api/v1/agents/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"
		}},
		{"slow body on ingest", func(tok string) string {
			return "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "\r\nContent-Length: 67108864\r\n\r\n{"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, "")
			n.setHTTP(t, hostileLimits)
			n.start()
			tok, _, code := run("token", "create", "--data", n.data, "--role", "ingest", "--name", "attacker")
			if code != 0 {
				t.Fatalf("token create: %d", code)
			}
			var peakOpen, refused float64
			attack(t, n, 200<<20, func(stop <-chan struct{}) {
				done := make(chan struct{})
				go func() { defer close(done); holdConns(n.http, 1500, tc.head(strings.TrimSpace(tok)), time.Second, stop) }()
				for {
					select {
					case <-stop:
						<-done
						return
					case <-time.After(500 * time.Millisecond):
					}
					peakOpen = max(peakOpen, n.metricValue("riposte_http_connections_open"))
					refused = max(refused, n.metricValue(`riposte_http_connections_refused_total{reason="per_address"}`))
				}
			})
			t.Logf("connections open at most %v; %v refused for the per-address limit", peakOpen, refused)
			// The attacker's 100, plus the probes', canaries' and this
			// sampler's own.
			if peakOpen > 100+20 {
				t.Errorf("%v connections open at once, the attacker's address may hold 100", peakOpen)
			}
			if refused == 0 {
				t.Error("no connection was refused for the per-address limit")
			}
		})
	}
}

// TestHostileManyConnectionsOneAddress: connections from one address past
// http.max_connections_per_address are closed at once and counted, while
// other addresses are served.
func TestHostileManyConnectionsOneAddress(t *testing.T) {
	n := newNode(t, "")
	n.setHTTP(t, hostileLimits)
	n.start()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 3000 {
		if c := dialAttacker(n.http); c != nil {
			conns = append(conns, c)
		}
	}
	time.Sleep(300 * time.Millisecond)
	kept := 0
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			kept++
		}
	}
	if kept != 100 {
		t.Errorf("%d of 3000 connections from one address kept open, want the limit of 100", kept)
	}
	if !n.ready(2 * time.Second) {
		t.Error("/readyz not answering while one address holds its limit")
	}
	_, m, _ := n.do("GET", "/metrics", "", nil, nil)
	if !bytes.Contains(m, []byte(`riposte_http_connections_refused_total{reason="per_address"}`)) {
		t.Error("refused connections are not counted in riposte_http_connections_refused_total")
	}
	n.stopWithin(t, 10*time.Second)
}

// TestHostileIngestBodies: many tiny events per request and concurrent
// oversized bodies keep memory bounded, refused bodies cost what was read
// before the refusal, and nothing refused is stored.
func TestHostileIngestBodies(t *testing.T) {
	n := newNode(t, "")
	n.setHTTP(t, hostileLimits)
	n.start()
	tok, _, code := run("token", "create", "--data", n.data, "--role", "ingest", "--name", "flood")
	if code != 0 {
		t.Fatalf("token create: %d", code)
	}
	tok = strings.TrimSpace(tok)
	tiny := bytes.Repeat([]byte("{\"a\":1}\n"), 100000) // 0.8 MB, 100,000 events
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(attacker)}}).DialContext}}
	post := func(body io.Reader, length int64) (int, string) {
		req, _ := http.NewRequest("POST", n.url()+"/api/v1/events", body)
		req.ContentLength = length
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var accepted, refused, tooMany sync.Map
	attack(t, n, 700<<20, func(stop <-chan struct{}) {
		var wg sync.WaitGroup
		// Eight senders of 100,000 tiny events per request.
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; ; j++ {
					select {
					case <-stop:
						return
					default:
					}
					code, body := post(bytes.NewReader(tiny), int64(len(tiny)))
					switch code {
					case 202:
						accepted.Store(fmt.Sprint(i, j), true)
					case 429:
						tooMany.Store(fmt.Sprint(i, j), true)
					default:
						t.Errorf("100,000 tiny events: %d %s", code, body)
						return
					}
				}
			}()
		}
		// Ten senders of 50 MB bodies holding over max_batch_events.
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; ; j++ {
					select {
					case <-stop:
						return
					default:
					}
					big := io.LimitReader(&repeat{line: []byte("{\"b\":2}\n")}, 50<<20)
					code, body := post(big, 50<<20)
					if code == 413 && strings.Contains(body, "ingest.max_batch_events") {
						refused.Store(fmt.Sprint(i, j), true)
					} else if code != 429 && code != 0 {
						t.Errorf("a 50 MB body of 6.5 million events: %d %s, want 413 naming ingest.max_batch_events", code, body)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
	count := func(m *sync.Map) int {
		k := 0
		m.Range(func(any, any) bool { k++; return true })
		return k
	}
	t.Logf("requests of 100,000 events: %d stored, %d told to retry; 50 MB bodies refused: %d", count(&accepted), count(&tooMany), count(&refused))
	if count(&accepted) == 0 || count(&refused) == 0 {
		t.Error("the attack did not run: no request was stored or no oversized body refused")
	}
}

type repeat struct {
	line []byte
	off  int
}

func (r *repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.line[r.off]
		r.off = (r.off + 1) % len(r.line)
	}
	return len(p), nil
}

// TestHostileGuessedTokens: an address that keeps presenting wrong tokens
// is answered 429 with Retry-After after its burst, before its guesses
// reach the token store, while other addresses are served.
func TestHostileGuessedTokens(t *testing.T) {
	n := newNode(t, "")
	n.setHTTP(t, "  auth_failures:\n    per_minute: 6\n    burst: 5\n")
	n.start()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(attacker)}}).DialContext}}
	get := func(c *http.Client, token string) *http.Response {
		req, _ := newRequest("GET", n.url()+"/api/v1/whoami", "", token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	var codes []int
	for i := range 8 {
		codes = append(codes, get(client, fmt.Sprintf("rpt_guess%d", i)).StatusCode)
	}
	want := []int{401, 401, 401, 401, 401, 429, 429, 429}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("answers to 8 wrong tokens from one address: %v, want %v", codes, want)
	}
	if resp := get(client, n.token); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a valid token from the blocked address: %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := get(http.DefaultClient, n.token); resp.StatusCode != 200 {
		t.Errorf("a valid token from another address: %d, want 200", resp.StatusCode)
	}
	// Enrollment tokens guessed count too.
	req, _ := http.NewRequest("POST", n.url()+"/api/v1/agents/enroll", strings.NewReader(`{"token":"guess","public_key":"AAAA","hostname":"x"}`))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Errorf("enrollment from the blocked address: %d, want 429", resp.StatusCode)
	}
	n.stopWithin(t, 10*time.Second)
}
