// Package e2e runs the real riposte binary the way an operator does and
// checks what a user would notice: what was acknowledged is stored, exactly
// once, across crashes.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "riposte-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "riposte")
	out, err := exec.Command("go", "build", "-o", binary, "../cmd/riposte").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build riposte: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	// Every API answer the tests received must match the OpenAPI
	// document (openapi_test.go).
	if !reportAnswers() && code == 0 {
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePorts returns n distinct free loopback addresses. The listeners stay
// open until all are chosen, so no address is handed out twice.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out
}

// node is one riposte serve process on its own data directory and ports.
type node struct {
	t       *testing.T
	data    string
	config  string
	http    string
	syslog  string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process ended
	log     *bytes.Buffer
	token   string
	stopped bool
	// scheme and client are https and a client trusting the test CA
	// when the node serves TLS.
	scheme string
	client *http.Client
}

// url is the node's API address.
func (n *node) url() string {
	if n.scheme == "" {
		return "http://" + n.http
	}
	return n.scheme + "://" + n.http
}

func (n *node) httpClient() *http.Client {
	if n.client == nil {
		return http.DefaultClient
	}
	return n.client
}

func newNode(t *testing.T, extraYAML string) *node {
	t.Helper()
	return newNodeOn(t, "", extraYAML)
}

// newNodeOn makes a node listening on host (a bridge address that other
// network namespaces reach) instead of loopback.
func newNodeOn(t *testing.T, host, extraYAML string) *node {
	t.Helper()
	return newNodeTLS(t, host, nil, extraYAML)
}

// newNodeTLS makes a node serving its API and bus over TLS with the
// given test PKI (nil: plain).
func newNodeTLS(t *testing.T, host string, pki *testPKI, extraYAML string) *node {
	t.Helper()
	dir := t.TempDir()
	ports := freePorts(t, 3)
	if host != "" {
		for i, p := range ports {
			_, port, _ := net.SplitHostPort(p)
			ports[i] = net.JoinHostPort(host, port)
		}
	}
	n := &node{t: t, data: filepath.Join(dir, "data"), http: ports[0], syslog: ports[1]}
	// UDP needs the same port free; a TCP-free port almost always is.
	n.config = filepath.Join(dir, "riposte.yaml")
	httpTLS, natsTLS := "", ""
	if pki != nil {
		httpTLS = fmt.Sprintf("\n  tls_cert: %s\n  tls_key: %s", pki.cert, pki.key)
		natsTLS = httpTLS
		n.scheme, n.client = "https", pki.client()
	}
	cfg := fmt.Sprintf(`data: %s
log:
  level: info
http:
  listen: %s%s
nats:
  listen: %s%s
ingest:
  syslog:
    listen: %s
%s`, n.data, n.http, httpTLS, ports[2], natsTLS, n.syslog, extraYAML)
	if err := os.WriteFile(n.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.stop(syscall.SIGKILL) })
	return n
}

func (n *node) start() {
	n.t.Helper()
	n.log = &bytes.Buffer{}
	n.cmd = exec.Command(binary, "serve", "--config", n.config)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(n.cmd, n.exited)
	n.stopped = false
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := n.httpClient().Get(n.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if n.token == "" {
					b, err := os.ReadFile(filepath.Join(n.data, "admin.token"))
					if err != nil {
						n.t.Fatalf("admin token: %v", err)
					}
					n.token = strings.TrimSpace(string(b))
				}
				return
			}
		}
		if n.gone() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("riposte did not become ready; log:\n%s", n.log)
}

func (n *node) stop(sig syscall.Signal) {
	if n.cmd == nil || n.stopped {
		return
	}
	n.stopped = true
	_ = n.cmd.Process.Signal(sig)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
		n.t.Errorf("riposte did not stop on %v within 30s", sig)
	}
}

// gone reports whether the process has ended.
func (n *node) gone() bool {
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

// waitGone waits for a process that is ending by itself (a crash test's
// self-inflicted SIGKILL) and marks the node stopped.
func (n *node) waitGone(d time.Duration) {
	n.t.Helper()
	select {
	case <-n.exited:
		n.stopped = true
	case <-time.After(d):
		n.t.Fatalf("riposte did not exit within %v; log:\n%s", d, n.log)
	}
}

func (n *node) do(method, path, token string, body io.Reader, hdr map[string]string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, n.url()+path, body)
	if err != nil {
		return nil, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := n.httpClient().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		recordAnswer(req, resp, b)
	}
	return resp, b, err
}

type storedEvent struct {
	ID     string         `json:"id"`
	Host   string         `json:"host"`
	Source string         `json:"source"`
	Fields map[string]any `json:"fields"`
	Raw    string         `json:"raw"`
}

// events reads every stored event matching q through the API, page by page.
func (n *node) events(q string) []storedEvent {
	n.t.Helper()
	var all []storedEvent
	cursor := ""
	for {
		v := url.Values{"limit": {"10000"}}
		if q != "" {
			v.Set("q", q)
		}
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		resp, body, err := n.do("GET", "/api/v1/events?"+v.Encode(), n.token, nil, nil)
		if err != nil || resp.StatusCode != 200 {
			n.t.Fatalf("GET events: %v %s", err, body)
		}
		var page struct {
			Events []storedEvent `json:"events"`
			Next   string        `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			n.t.Fatal(err)
		}
		all = append(all, page.Events...)
		if page.Next == "" {
			return all
		}
		cursor = page.Next
	}
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
