// Package http is the http connector: one HTTP request to an API (a
// firewall manager, a ticketing system, an EDR) per playbook step.
//
// It is built for untrusted input. Every address it dials is checked after
// DNS resolution, in the dialer itself, so neither a redirect nor DNS
// rebinding reaches a refused address: link-local and cloud metadata
// addresses are always refused unless allow_hosts names them by address,
// loopback and private ones unless the config allows them. Secret headers
// come from environment variables named in the config and appear in no
// result, command or error. Proxies from the environment are not used (a
// proxy would dial for us and bypass the checks).
package http

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	"github.com/riposte-soar/riposte/secret"
)

// Name is the connector's name in playbooks.
const Name = "http"

// maxURL bounds a request URL.
const maxURL = 8 << 10

var spec = connector.Spec{
	Name:        Name,
	Description: "Sends one HTTP request to an API; refuses link-local, metadata and (unless allowed) private addresses.",
	Operations: map[string]connector.Operation{
		"request": {
			Description: "Send an HTTP request and return the answer. The step's idempotency key is sent as the Idempotency-Key header.",
			Args: map[string]connector.ArgSpec{
				"method":        {Type: "string", Description: "GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS"},
				"url":           {Type: "string", Required: true, Description: "absolute http or https URL, without credentials"},
				"headers":       {Type: "map", Description: "header names and string values (credentials belong in the config's headers, as secret://NAME)"},
				"body":          {Type: "any", Description: "a value sent as JSON (Content-Type application/json unless headers say otherwise)"},
				"text":          {Type: "string", Description: "a body sent as is (Content-Type text/plain unless headers say otherwise); not with body"},
				"expect_status": {Type: "any", Description: `statuses that mean success: numbers or classes like "2xx" (default ["2xx"])`},
				"timeout":       {Type: "string", Description: "Go duration (default from the config, at most its max_timeout)"},
			},
			Outputs: map[string]string{
				"status":    "the HTTP status code",
				"headers":   "response headers (values joined with \", \"; Set-Cookie redacted)",
				"body":      "the response body as text, cut to max_body_bytes",
				"truncated": "true when the body was cut",
				"json":      "the body parsed, when it is JSON and whole",
			},
			Idempotent: false,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	cfg    Config
	pol    policy
	client *http.Client
	// hosts are the normalized connectors.http.hosts: the only hosts
	// configured headers are sent to.
	hosts map[string]bool
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	cfg = cfg.withDefaults()
	pol, err := cfg.policy()
	if err != nil {
		return nil, err
	}
	c := &Connector{cfg: cfg, pol: pol, hosts: map[string]bool{}}
	for _, h := range cfg.Hosts {
		c.hosts[normHost(strings.Trim(h, "[]"))] = true
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            c.dial,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           16,
		IdleConnTimeout:        60 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 256 << 10,
	}
	c.client = &http.Client{Transport: tr, CheckRedirect: c.checkRedirect}
	return c, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

// dial resolves and connects, checking every address in the dialer's
// Control hook: the address checked is the one connected to.
func (c *Connector) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if err := c.pol.checkName(host); err != nil {
		return nil, err
	}
	hostAllowed := c.pol.hosts[normHost(host)]
	d := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return refused("address %q cannot be checked: refused", address)
			}
			return c.pol.checkAddr(ap.Addr(), hostAllowed)
		},
	}
	if _, err := netip.ParseAddr(host); err == nil || c.cfg.LookupHost == nil {
		return d.DialContext(ctx, network, addr)
	}
	addrs, err := c.cfg.LookupHost(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("host %s has no address", host)
	}
	var first error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

func (c *Connector) checkRedirect(req *http.Request, via []*http.Request) error {
	if c.cfg.MaxRedirects < 0 || len(via) > c.cfg.MaxRedirects {
		return refused("stopped after %d redirect(s)", len(via))
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return refused("redirect to a %q URL: refused", req.URL.Scheme)
	}
	if req.URL.User != nil {
		return refused("redirect to a URL with credentials: refused")
	}
	if err := c.pol.checkLiteral(req.URL.Hostname()); err != nil {
		return refused("redirect to %s: %v", limit.Text(req.URL.Redacted(), 256), err)
	}
	// Configured headers go to their configured hosts, not to wherever
	// one of them redirects.
	if !c.credentialHost(req.URL) {
		for name := range c.cfg.HeadersEnv {
			req.Header.Del(name)
		}
		for name := range c.cfg.Headers {
			req.Header.Del(name)
		}
	}
	return nil
}

// request is a validated call.
type request struct {
	method      string
	url         *url.URL
	headers     http.Header
	body        []byte
	contentType string
	expect      []statusMatch
	timeout     time.Duration
}

type statusMatch struct{ lo, hi int }

func (m statusMatch) has(s int) bool { return s >= m.lo && s <= m.hi }

var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func bad(format string, a ...any) error {
	return connector.Errorf(connector.Permanent, "http.request: "+format, a...)
}

// prepare validates a call without any side effect.
func (c *Connector) prepare(call connector.Call) (*request, error) {
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "http: unknown operation %q (want request)", call.Operation)
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("http.request: %w", err)}
	}
	a := call.Args
	r := &request{method: "GET", headers: http.Header{}, timeout: c.cfg.Timeout, expect: []statusMatch{{200, 299}}}
	if m, ok := a["method"].(string); ok && m != "" {
		r.method = strings.ToUpper(m)
		if !slices.Contains(methods, r.method) {
			return nil, bad("method %q is not one of %s", limit.Text(m, 32), strings.Join(methods, ", "))
		}
	}
	raw := a["url"].(string)
	if len(raw) > maxURL {
		return nil, bad("url is %d bytes, over the limit of %d", len(raw), maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, bad("url is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, bad("url scheme %q: want http or https", limit.Text(u.Scheme, 32))
	}
	if u.User != nil {
		return nil, bad("url carries credentials: put them in the connector's headers")
	}
	if u.Hostname() == "" {
		return nil, bad("url has no host")
	}
	u.Fragment, u.RawFragment = "", ""
	if err := c.pol.checkLiteral(u.Hostname()); err != nil {
		return nil, bad("%s: %v", u.Hostname(), err)
	}
	r.url = u
	if h, ok := a["headers"].(map[string]any); ok {
		for name, v := range h {
			s, ok := v.(string)
			if !ok {
				return nil, bad("header %q must be a string, got %T", limit.Text(name, 64), v)
			}
			if !validHeaderName(name) {
				return nil, bad("header name %q is not valid", limit.Text(name, 64))
			}
			if forbiddenHeader(name) {
				return nil, bad("header %q is set by the connector itself", name)
			}
			if c.secretHeader(name) {
				return nil, bad("header %q is set from the connector config (headers, headers_env)", name)
			}
			if strings.ContainsAny(s, "\r\n\x00") {
				return nil, bad("header %q has a line break or NUL in its value", name)
			}
			r.headers.Set(name, s)
		}
	}
	hasBody, hasText := a["body"] != nil, a["text"] != nil
	switch {
	case hasBody && hasText:
		return nil, bad("give body (JSON) or text, not both")
	case hasBody:
		b, err := json.Marshal(a["body"])
		if err != nil {
			return nil, bad("body cannot be sent as JSON: %v", err)
		}
		r.body, r.contentType = b, "application/json"
	case hasText:
		r.body, r.contentType = []byte(a["text"].(string)), "text/plain; charset=utf-8"
	}
	if len(r.body) > c.cfg.MaxRequestBytes {
		return nil, bad("body is %d bytes, over the limit of %d", len(r.body), c.cfg.MaxRequestBytes)
	}
	if r.body != nil && r.headers.Get("Content-Type") == "" {
		r.headers.Set("Content-Type", r.contentType)
	}
	if e, ok := a["expect_status"]; ok && e != nil {
		if r.expect, err = parseExpect(e); err != nil {
			return nil, bad("expect_status: %v", err)
		}
	}
	if t, ok := a["timeout"].(string); ok && t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return nil, bad("timeout %q is not a positive duration like 5s", limit.Text(t, 32))
		}
		if d > c.cfg.MaxTimeout {
			return nil, bad("timeout %s is over the limit of %s", d, c.cfg.MaxTimeout)
		}
		r.timeout = d
	}
	for name, env := range c.cfg.HeadersEnv {
		if c.credentialHost(r.url) && os.Getenv(env) == "" {
			return nil, bad("header %s: environment variable %s is not set", name, env)
		}
	}
	return r, nil
}

func (c *Connector) secretHeader(name string) bool {
	for n := range c.cfg.HeadersEnv {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	for n := range c.cfg.Headers {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// credentialHost reports whether configured headers may go to u.
func (c *Connector) credentialHost(u *url.URL) bool {
	return c.hosts[normHost(u.Hostname())]
}

// credentials returns the configured headers for a request to u (none for
// a host not in hosts) and their values, to redact from what comes back.
// secret:// values are read now, so a rotation applies to the next call.
func (c *Connector) credentials(ctx context.Context, u *url.URL) (http.Header, []string, error) {
	h := http.Header{}
	if !c.credentialHost(u) {
		return h, nil, nil
	}
	var values []string
	for name, env := range c.cfg.HeadersEnv {
		v := os.Getenv(env)
		h.Set(name, v)
		values = append(values, v)
	}
	for _, name := range slices.Sorted(maps.Keys(c.cfg.Headers)) {
		v := c.cfg.Headers[name]
		if _, ok, _ := secret.ParseRef(v); ok {
			got, err := c.cfg.Secrets(ctx, v)
			if err != nil {
				return nil, nil, bad("header %s: %v", http.CanonicalHeaderKey(name), err)
			}
			if got == "" || strings.ContainsAny(got, "\r\n\x00") {
				return nil, nil, bad("header %s: the value of %s is empty or has a line break or NUL", http.CanonicalHeaderKey(name), v)
			}
			v = got
		}
		h.Set(name, v)
		values = append(values, v)
	}
	return h, values, nil
}

func parseExpect(v any) ([]statusMatch, error) {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case []string:
		for _, s := range x {
			items = append(items, s)
		}
	case []int:
		for _, n := range x {
			items = append(items, n)
		}
	default:
		items = []any{x}
	}
	if len(items) == 0 || len(items) > 32 {
		return nil, errors.New("want 1 to 32 statuses")
	}
	var out []statusMatch
	for _, it := range items {
		var m statusMatch
		switch x := it.(type) {
		case int:
			m = statusMatch{x, x}
		case int64:
			m = statusMatch{int(x), int(x)}
		case float64:
			if x != float64(int(x)) {
				return nil, fmt.Errorf("%v is not a status", x)
			}
			m = statusMatch{int(x), int(x)}
		case string:
			s := strings.ToLower(strings.TrimSpace(x))
			if len(s) == 3 && strings.HasSuffix(s, "xx") && s[0] >= '1' && s[0] <= '5' {
				lo := int(s[0]-'0') * 100
				m = statusMatch{lo, lo + 99}
			} else if n, err := strconv.Atoi(s); err == nil {
				m = statusMatch{n, n}
			} else {
				return nil, fmt.Errorf("%q is not a status or a class like 2xx", limit.Text(x, 16))
			}
		default:
			return nil, fmt.Errorf("%T is not a status", it)
		}
		if m.lo < 100 || m.hi > 599 {
			return nil, fmt.Errorf("%d is not an HTTP status", m.lo)
		}
		out = append(out, m)
	}
	return out, nil
}

// commands renders what is sent, secrets left out, each line bounded.
func (c *Connector) commands(r *request, key string) []string {
	cmds := []string{limit.Text(r.method+" "+r.url.Redacted(), limit.Command)}
	names := slices.Sorted(maps.Keys(r.headers))
	for _, n := range names {
		v := r.headers.Get(n)
		if sensitiveName(n) {
			v = "[redacted]"
		}
		cmds = append(cmds, limit.Text(n+": "+v, limit.Command))
	}
	if c.credentialHost(r.url) {
		names := slices.Concat(slices.Collect(maps.Keys(c.cfg.HeadersEnv)), slices.Collect(maps.Keys(c.cfg.Headers)))
		slices.Sort(names)
		for _, n := range names {
			cmds = append(cmds, http.CanonicalHeaderKey(n)+": [secret from config]")
		}
	}
	if key != "" {
		cmds = append(cmds, limit.Text("Idempotency-Key: "+key, limit.Command))
	}
	if r.body != nil {
		cmds = append(cmds, limit.Text(fmt.Sprintf("body (%d bytes): %s", len(r.body), r.body), limit.Command))
	}
	return cmds
}

// Simulate validates the call and returns the request it would send. It
// neither resolves nor dials.
func (c *Connector) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	r, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{
		Summary:  limit.Text("would send "+r.method+" "+r.url.Redacted(), limit.Command),
		Commands: c.commands(r, call.IdempotencyKey),
	}, nil
}

func safeMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

// Execute sends the request.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	r, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url.String(), body)
	if err != nil {
		return connector.Result{}, bad("%v", err)
	}
	req.Header = r.headers.Clone()
	req.Header.Set("User-Agent", "riposte")
	if call.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", call.IdempotencyKey)
	}
	creds, secrets, err := c.credentials(ctx, r.url)
	if err != nil {
		return connector.Result{}, err
	}
	for name, vs := range creds {
		req.Header[name] = vs
	}
	where := r.method + " " + limit.Text(r.url.Redacted(), 256)
	cmds := c.commands(r, call.IdempotencyKey)
	resp, err := c.client.Do(req)
	if err != nil {
		inner := err
		var ue *url.Error
		if errors.As(err, &ue) {
			inner = ue.Err
		}
		msg := redact(inner.Error(), secrets)
		var cve *tls.CertificateVerificationError
		var uae x509.UnknownAuthorityError
		var hne x509.HostnameError
		switch {
		case isRefused(err):
			return connector.Result{Commands: cmds}, connector.Errorf(connector.Permanent, "%s: %s", where, msg)
		case errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne):
			return connector.Result{Commands: cmds}, connector.Errorf(connector.Permanent, "%s: TLS: %s", where, msg)
		case wrote.Load() && !safeMethod(r.method):
			return connector.Result{Commands: cmds}, connector.Errorf(connector.Unknown, "%s: sent, then %s: it may have taken effect", where, msg)
		}
		return connector.Result{Commands: cmds}, connector.Errorf(connector.Transient, "%s: %s", where, msg)
	}
	defer resp.Body.Close()
	res := c.result(resp, secrets)
	res.Commands = cmds
	res.Summary = limit.Text(fmt.Sprintf("%s → %s", where, resp.Status), limit.Command)
	for _, m := range r.expect {
		if m.has(resp.StatusCode) {
			return res, nil
		}
	}
	class := connector.Permanent
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
		class = connector.Transient
	}
	return res, connector.Errorf(class, "%s: status %d not expected", where, resp.StatusCode)
}

func (c *Connector) result(resp *http.Response, secrets []string) connector.Result {
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, int64(c.cfg.MaxBodyBytes)+1))
	truncated := len(b) > c.cfg.MaxBodyBytes
	if truncated {
		b = b[:c.cfg.MaxBodyBytes]
	}
	text := redact(string(bytes.ToValidUTF8(b, []byte("\uFFFD"))), secrets)
	hdr := map[string]any{}
	for n, vs := range resp.Header {
		v := strings.Join(vs, ", ")
		if strings.EqualFold(n, "Set-Cookie") {
			v = "[redacted]"
		}
		hdr[n] = limit.Text(redact(v, secrets), limit.Command)
	}
	out := map[string]any{"status": resp.StatusCode, "headers": hdr, "body": text, "truncated": truncated || rerr != nil}
	if rerr != nil {
		out["body_error"] = redact(rerr.Error(), secrets)
	}
	if ct := strings.ToLower(resp.Header.Get("Content-Type")); strings.Contains(ct, "json") && !truncated && rerr == nil {
		var v any
		if json.Unmarshal([]byte(text), &v) == nil {
			out["json"] = v
		}
	}
	return connector.Result{Outputs: out}
}

// redact replaces secret values in text from a server (an API that echoes
// headers) or an error.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

func validHeaderName(n string) bool {
	if n == "" || len(n) > 256 {
		return false
	}
	for _, r := range n {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func forbiddenHeader(n string) bool {
	switch http.CanonicalHeaderKey(n) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer", "Keep-Alive",
		"Proxy-Connection", "Idempotency-Key":
		return true
	}
	return false
}

func sensitiveName(n string) bool {
	n = strings.ToLower(n)
	if n == "idempotency-key" {
		return false
	}
	for _, s := range []string{"auth", "cookie", "token", "secret", "key", "password", "signature", "session"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
