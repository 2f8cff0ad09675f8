package e2e

// The harness of the adversarial suite: each attack runs against a real
// node while a watcher samples its resident memory and /readyz, and canary
// events sent before, during and after the attack must all be stored.

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rssBytes reads the resident set size of a process from /proc.
func rssBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// watch samples a node's memory and readiness while an attack runs.
type watch struct {
	n        *node
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	peakRSS  int64
	notReady []time.Time // samples where /readyz was not 200
	lastOK   time.Time
}

// watchNode starts sampling every 100 ms until w.end.
func watchNode(n *node) *watch {
	w := &watch{n: n, stop: make(chan struct{}), done: make(chan struct{}), lastOK: time.Now()}
	go func() {
		defer close(w.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			rss := rssBytes(n.cmd.Process.Pid)
			ok := n.ready(2 * time.Second)
			w.mu.Lock()
			w.peakRSS = max(w.peakRSS, rss)
			if ok {
				w.lastOK = time.Now()
			} else {
				w.notReady = append(w.notReady, time.Now())
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// end stops sampling and returns the peak RSS.
func (w *watch) end() int64 {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peakRSS
}

// ready reports whether /readyz answers 200 within d.
func (n *node) ready(d time.Duration) bool {
	c := *n.httpClient()
	c.Timeout = d
	resp, err := c.Get(n.url() + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// expectReadyWithin fails unless /readyz answers 200 within d of now (the
// attack has stopped).
func (n *node) expectReadyWithin(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if n.ready(time.Second) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("/readyz not 200 within %v of the attack ending; log tail:\n%s", d, tail(n.log.String(), 3000))
}

// canaries sends uniquely marked events over HTTP and remembers the ones
// the node acknowledged (202), to check later that all of them are stored.
type canaries struct {
	n     *node
	token string
	tag   string
	mu    sync.Mutex
	acked []string
}

func newCanaries(t *testing.T, n *node) *canaries {
	t.Helper()
	tok, _, code := run("token", "create", "--data", n.data, "--role", "ingest", "--name", "canary")
	if code != 0 {
		t.Fatalf("token create: %d", code)
	}
	return &canaries{n: n, token: strings.TrimSpace(tok), tag: fmt.Sprintf("canary%d", time.Now().UnixNano())}
}

// send tries one canary; it counts only if the node answered 202.
func (c *canaries) send(phase string, i int) bool {
	id := fmt.Sprintf("%s-%s-%d", c.tag, phase, i)
	body := fmt.Sprintf(`{"@timestamp":%q,"host":{"name":"canary-host"},"message":%q}`, time.Now().UTC().Format(time.RFC3339Nano), id)
	cl := *c.n.httpClient()
	cl.Timeout = 5 * time.Second
	req, _ := newRequest("POST", c.n.url()+"/api/v1/events", body, c.token)
	resp, err := cl.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		return false
	}
	c.mu.Lock()
	c.acked = append(c.acked, id)
	c.mu.Unlock()
	return true
}

// during sends a canary every interval until stop is closed.
func (c *canaries) during(stop <-chan struct{}, every time.Duration) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(every):
		}
		c.send("during", i)
	}
}

// verify waits until every acknowledged canary is in the event store.
func (c *canaries) verify(t *testing.T, d time.Duration) {
	t.Helper()
	c.mu.Lock()
	want := append([]string(nil), c.acked...)
	c.mu.Unlock()
	if len(want) == 0 {
		t.Fatal("no canary was acknowledged")
	}
	var missing []string
	deadline := time.Now().Add(d)
	for {
		have := map[string]bool{}
		for _, e := range c.n.events(c.tag) {
			if m, ok := e.Fields["message"].(string); ok {
				have[m] = true
			}
		}
		missing = missing[:0]
		for _, id := range want {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%d of %d acknowledged canaries not stored, e.g. %v", len(missing), len(want), missing[:min(5, len(missing))])
}

// stopWithin sends SIGTERM and fails unless the process exits within d.
func (n *node) stopWithin(t *testing.T, d time.Duration) {
	t.Helper()
	start := time.Now()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
		n.stopped = true
	case <-time.After(d):
		t.Errorf("shutdown took longer than %v; log tail:\n%s", d, tail(n.log.String(), 3000))
		_ = n.cmd.Process.Kill()
		<-n.exited
		n.stopped = true
		return
	}
	t.Logf("shutdown took %v", time.Since(start).Round(time.Millisecond))
}

func newRequest(method, url, body, token string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}
