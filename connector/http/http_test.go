package http

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/connector"
)

// receiver is a real HTTP server that records what reaches it.
type receiver struct {
	*httptest.Server
	n    atomic.Int64
	mu   sync.Mutex
	last *http.Request
	body []byte
}

func newReceiver(t *testing.T, h http.HandlerFunc) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.n.Add(1)
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.last, rc.body = r, b
		rc.mu.Unlock()
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) port() string { u, _ := url.Parse(rc.URL); return u.Port() }

func mustNew(t *testing.T, cfg Config) *Connector {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// local allows the test servers on 127.0.0.1 by address.
var local = Config{AllowHosts: []string{"127.0.0.1"}}

func call(args map[string]any) connector.Call {
	return connector.Call{Operation: "request", Args: args, IdempotencyKey: "run-1/step-2/0", RunID: "run-1", StepID: "step-2"}
}

func TestRequestSendsKeyAndParsesJSON(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Set-Cookie", "session=abc")
		w.WriteHeader(201)
		io.WriteString(w, `{"id":"blk-7","ok":true}`)
	})
	c := mustNew(t, local)
	res, err := c.Execute(context.Background(), call(map[string]any{
		"method": "post", "url": rc.URL + "/block?x=1", "body": map[string]any{"ip": "203.0.113.7"},
		"headers": map[string]any{"X-Trace": "t1"}, "expect_status": []any{201.0, "2xx"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if rc.last.Header.Get("Idempotency-Key") != "run-1/step-2/0" || rc.last.Method != "POST" || rc.last.Header.Get("X-Trace") != "t1" {
		t.Fatalf("received %s %v", rc.last.Method, rc.last.Header)
	}
	if string(rc.body) != `{"ip":"203.0.113.7"}` || rc.last.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("body %q", rc.body)
	}
	js, _ := res.Outputs["json"].(map[string]any)
	if res.Outputs["status"] != 201 || js["id"] != "blk-7" || res.Outputs["truncated"] != false {
		t.Fatalf("outputs %v", res.Outputs)
	}
	if h := res.Outputs["headers"].(map[string]any); h["Set-Cookie"] != "[redacted]" {
		t.Fatalf("headers %v", h)
	}
	if !strings.HasPrefix(res.Commands[0], "POST http://127.0.0.1:") {
		t.Fatalf("commands %q", res.Commands)
	}
}

func TestStatusClasses(t *testing.T) {
	for status, want := range map[int]connector.Class{503: connector.Transient, 500: connector.Transient,
		429: connector.Transient, 404: connector.Permanent, 400: connector.Permanent} {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
		res, err := mustNew(t, local).Execute(context.Background(), call(map[string]any{"url": rc.URL}))
		if err == nil || connector.ClassOf(err) != want {
			t.Errorf("%d: err %v, want %s", status, err, want)
		}
		if res.Outputs["status"] != status {
			t.Errorf("%d: outputs %v", status, res.Outputs)
		}
	}
	// An expected 404 (deleting what is already gone) is success.
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	if _, err := mustNew(t, local).Execute(context.Background(), call(map[string]any{"method": "DELETE", "url": rc.URL, "expect_status": []any{"2xx", 404.0}})); err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutAfterSendIsUnknown(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	c := mustNew(t, local)
	_, err := c.Execute(context.Background(), call(map[string]any{"method": "POST", "url": rc.URL, "text": "x", "timeout": "100ms"}))
	if connector.ClassOf(err) != connector.Unknown {
		t.Fatalf("POST timeout: %v, want unknown", err)
	}
	_, err = c.Execute(context.Background(), call(map[string]any{"url": rc.URL, "timeout": "100ms"}))
	if connector.ClassOf(err) != connector.Transient {
		t.Fatalf("GET timeout: %v, want transient", err)
	}
	// Nothing listening: nothing was sent.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err = c.Execute(context.Background(), call(map[string]any{"method": "POST", "url": "http://" + addr, "text": "x"}))
	if connector.ClassOf(err) != connector.Transient {
		t.Fatalf("connection refused: %v, want transient", err)
	}
}

func TestSSRFRefusals(t *testing.T) {
	rc := newReceiver(t, nil)
	resolve := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "api.test", "rebind.test", "evil.test":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		case "meta.test":
			return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	strict := mustNew(t, Config{LookupHost: resolve})
	private := mustNew(t, Config{AllowPrivate: true, LookupHost: resolve})
	named := mustNew(t, Config{AllowHosts: []string{"api.test"}, LookupHost: resolve})
	p := rc.port()
	for _, tc := range []struct {
		c   *Connector
		url string
	}{
		{strict, "http://169.254.169.254/latest/meta-data/"},
		{private, "http://169.254.169.254/latest/meta-data/"},
		{private, "http://[fd00:ec2::254]/latest/"},
		{private, "http://[fe80::1]:" + p + "/"},
		{private, "http://169.254.1.1:" + p + "/"},
		{private, "http://metadata.google.internal/computeMetadata/v1/"},
		{private, "http://meta.test:" + p + "/"},         // a name resolving to metadata
		{private, "http://[64:ff9b::a9fe:a9fe]/"},        // NAT64 of 169.254.169.254
		{strict, "http://127.0.0.1:" + p + "/"},          // loopback without allow
		{strict, "http://localhost:" + p + "/"},          // a name for loopback
		{strict, "http://rebind.test:" + p + "/"},        // a name resolving to loopback
		{named, "http://rebind.test:" + p + "/"},         // allowed names are exact
		{strict, "http://[::ffff:127.0.0.1]:" + p + "/"}, // mapped IPv4
		{strict, "http://0.0.0.0:" + p + "/"},            // unspecified
		{strict, "http://10.1.2.3:" + p + "/"},           // private
		{strict, "file:///etc/passwd"},                   // scheme
		{strict, "http://user:pw@127.0.0.1:" + p + "/"},  // credentials
		{strict, "gopher://127.0.0.1:" + p + "/"},        // scheme
	} {
		_, err := tc.c.Execute(context.Background(), call(map[string]any{"url": tc.url, "timeout": "2s"}))
		if err == nil || connector.ClassOf(err) != connector.Permanent {
			t.Errorf("%s: err %v, want a permanent refusal", tc.url, err)
		}
	}
	if n := rc.n.Load(); n != 0 {
		t.Fatalf("%d request(s) reached the receiver", n)
	}
	// Allowed: by name, and loopback with allow_private.
	for _, c := range []*Connector{named, private} {
		if _, err := c.Execute(context.Background(), call(map[string]any{"url": "http://api.test:" + p + "/"})); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRedirectToRefusedAddress(t *testing.T) {
	var target string
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/go" {
			http.Redirect(w, r, target, http.StatusFound)
		}
	})
	resolve := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	c := mustNew(t, Config{AllowHosts: []string{"api.test"}, LookupHost: resolve})
	for _, to := range []string{
		"http://169.254.169.254/latest/meta-data/iam/",
		"http://evil.test:" + rc.port() + "/steal", // resolves to loopback, not allowed by name
		"http://127.0.0.1:" + rc.port() + "/x",
		"file:///etc/passwd",
	} {
		target = to
		before := rc.n.Load()
		_, err := c.Execute(context.Background(), call(map[string]any{"url": "http://api.test:" + rc.port() + "/go"}))
		if err == nil || connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "refused") {
			t.Errorf("redirect to %s: err %v, want refused", to, err)
		}
		if got := rc.n.Load() - before; got != 1 {
			t.Errorf("redirect to %s: %d requests reached the receiver, want only the first", to, got)
		}
	}
	// A redirect to an allowed place is followed.
	target = "http://api.test:" + rc.port() + "/ok"
	if res, err := c.Execute(context.Background(), call(map[string]any{"url": "http://api.test:" + rc.port() + "/go"})); err != nil || res.Outputs["status"] != 200 {
		t.Fatalf("%v %v", err, res.Outputs)
	}
}

func TestSecretHeaderStaysSecret(t *testing.T) {
	const secret = "Bearer s3cr3t-t0ken-value"
	t.Setenv("RIPOSTE_TEST_HTTP_AUTH", secret)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "you sent "+r.Header.Get("Authorization"))
	})
	c := mustNew(t, Config{AllowHosts: []string{"127.0.0.1"}, Hosts: []string{"127.0.0.1"}, HeadersEnv: map[string]string{"Authorization": "RIPOSTE_TEST_HTTP_AUTH"}})
	args := map[string]any{"method": "POST", "url": rc.URL, "body": map[string]any{"a": 1}, "headers": map[string]any{"X-Api-Key": "also-secret-ish"}}
	sim, err := c.Simulate(context.Background(), call(args))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Execute(context.Background(), call(args))
	if connector.ClassOf(err) != connector.Permanent {
		t.Fatalf("403: %v", err)
	}
	if rc.last.Header.Get("Authorization") != secret {
		t.Fatal("secret header not sent")
	}
	all, _ := json.Marshal([]any{sim, res, err.Error()})
	if strings.Contains(string(all), "s3cr3t") || strings.Contains(string(all), "also-secret-ish") {
		t.Fatalf("secret leaked: %s", all)
	}
	if !strings.Contains(strings.Join(sim.Commands, "\n"), "Authorization: [secret from config]") {
		t.Fatalf("commands %q", sim.Commands)
	}
	// Arguments cannot override the configured header.
	if _, err := c.Simulate(context.Background(), call(map[string]any{"url": rc.URL, "headers": map[string]any{"authorization": "x"}})); err == nil {
		t.Fatal("override of a headers_env header accepted")
	}
	// Missing variable: a permanent error naming the variable.
	t.Setenv("RIPOSTE_TEST_HTTP_AUTH", "")
	if _, err := c.Simulate(context.Background(), call(args)); err == nil || !strings.Contains(err.Error(), "RIPOSTE_TEST_HTTP_AUTH") {
		t.Fatalf("missing variable: %v", err)
	}
}

func TestSimulateSendsNothing(t *testing.T) {
	rc := newReceiver(t, nil)
	c := mustNew(t, local)
	res, err := c.Simulate(context.Background(), call(map[string]any{"method": "PUT", "url": rc.URL + "/x", "text": "hello"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PUT " + rc.URL + "/x", "Content-Type: text/plain; charset=utf-8", "Idempotency-Key: run-1/step-2/0", "body (5 bytes): hello"}
	if strings.Join(res.Commands, "|") != strings.Join(want, "|") {
		t.Fatalf("commands %q", res.Commands)
	}
	if rc.n.Load() != 0 {
		t.Fatal("Simulate sent a request")
	}
}

func TestArgErrors(t *testing.T) {
	c := mustNew(t, Config{AllowPrivate: true})
	for name, args := range map[string]map[string]any{
		"no url":          {},
		"url type":        {"url": 5},
		"unknown arg":     {"url": "http://a.example", "verb": "GET"},
		"headers type":    {"url": "http://a.example", "headers": "X: y"},
		"header value":    {"url": "http://a.example", "headers": map[string]any{"X": 1}},
		"header CRLF":     {"url": "http://a.example", "headers": map[string]any{"X": "a\r\nEvil: 1"}},
		"header name":     {"url": "http://a.example", "headers": map[string]any{"X Y": "a"}},
		"host header":     {"url": "http://a.example", "headers": map[string]any{"Host": "b.example"}},
		"both bodies":     {"url": "http://a.example", "body": 1, "text": "x"},
		"method":          {"url": "http://a.example", "method": "TRACE"},
		"relative url":    {"url": "/x"},
		"expect":          {"url": "http://a.example", "expect_status": []any{"ok"}},
		"timeout":         {"url": "http://a.example", "timeout": "5m"},
		"timeout garbage": {"url": "http://a.example", "timeout": "soon"},
	} {
		_, err := c.Simulate(context.Background(), call(args))
		if err == nil || connector.ClassOf(err) != connector.Permanent {
			t.Errorf("%s: err %v, want permanent", name, err)
		}
	}
	if _, err := c.Simulate(context.Background(), connector.Call{Operation: "get", Args: map[string]any{"url": "http://a.example"}}); err == nil {
		t.Error("unknown operation accepted")
	}
	if _, err := New(Config{AllowHosts: []string{"http://x/"}}); err == nil {
		t.Error("bad allow_hosts accepted")
	}
}

func TestBodyIsBounded(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"a":"`+strings.Repeat("x", 100)+`"}`)
	})
	res, err := mustNew(t, Config{AllowPrivate: true, MaxBodyBytes: 16}).Execute(context.Background(), call(map[string]any{"url": rc.URL}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Outputs["body"].(string)) != 16 || res.Outputs["truncated"] != true || res.Outputs["json"] != nil {
		t.Fatalf("outputs %v", res.Outputs)
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Connectors struct {
			HTTP Config `yaml:"http"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &doc, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	cfg := doc.Connectors.HTTP
	if cfg.Timeout != 10*time.Second || cfg.Headers["Authorization"] != "secret://firewall-api" || cfg.HeadersEnv["X-Tenant"] != "RIPOSTE_HTTP_TENANT" ||
		len(cfg.AllowHosts) != 2 || len(cfg.Hosts) != 1 {
		t.Fatalf("%+v", cfg)
	}
	cfg.Secrets = func(context.Context, string) (string, error) { return "x", nil }
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
}
