// Package apiclient is what the connectors to SaaS and on-premises product
// APIs (connector/pagerduty, opsgenie, thehive, jira, servicenow) share:
// a JSON client for one configured HTTPS base URL that takes its
// credential from the secret store at each request, honours Retry-After
// on 429, retries 5xx answers of requests that are safe to repeat, and
// turns every failure into the connector's classes with the vendor's own
// error message.
//
// The base URL comes from the configuration, never from a playbook, so
// the address policy of the http connector does not apply: the operator
// chose the host.
package apiclient

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
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	"github.com/riposte-soar/riposte/internal/retryafter"
	"github.com/riposte-soar/riposte/secret"
)

// Defaults for the zero values of Client.
const (
	DefaultAttempts = 4
	DefaultMaxWait  = 30 * time.Second
	DefaultBackoff  = 500 * time.Millisecond
	// maxBody bounds what is read of an answer.
	maxBody = 1 << 20
)

// Resolver reads a secret:// reference (the node's secret store).
type Resolver func(ctx context.Context, ref string) (string, error)

// Client sends JSON requests to one API.
type Client struct {
	// Name prefixes errors ("pagerduty").
	Name string
	// Base is the API's base URL (https); request paths are joined to it.
	Base *url.URL
	HTTP *http.Client
	// Auth sets the credential on a request from the resolved secret; nil
	// sends none (PagerDuty's key travels in the body).
	Auth func(h http.Header, secretValue string)
	// Secret is the secret:// reference of the credential, resolved at
	// each request so a rotation needs no restart.
	Secret string
	// SecretField, when set, is the top-level field of a JSON object body
	// that carries the credential (PagerDuty's routing_key): the value is
	// put there at send time, the reference in what Line shows.
	SecretField string
	Secrets     Resolver
	// Header is sent with every request (Accept, a vendor's version).
	Header http.Header
	// Attempts is how many times one request is sent at most; 0 means
	// DefaultAttempts.
	Attempts int
	// MaxWait is the longest Retry-After honoured: a longer one fails the
	// call as transient, for the engine's retry policy. 0 means
	// DefaultMaxWait.
	MaxWait time.Duration
	// Backoff is the first wait after a 5xx without Retry-After, doubled
	// each time; 0 means DefaultBackoff.
	Backoff time.Duration
	// ErrMessage extracts the vendor's error text from an error answer.
	ErrMessage func(body []byte) string
}

// Request is one API request.
type Request struct {
	Method string
	// Path is joined to the base URL's path; each element is escaped.
	Path  []string
	Query url.Values
	// Body is sent as JSON when not nil.
	Body any
	// Form, when not nil and Body is nil, is sent form-encoded (the
	// PAN-OS XML API).
	Form url.Values
	// Retry says the request may be sent again after a 5xx answer or a
	// connection lost once it was written: it is a read, or the vendor
	// deduplicates it (a dedup key, an alias), or it sets a value.
	Retry bool
}

// Response is a 2xx answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// CheckBase parses a configured base URL: https only (a credential goes
// with every request), no user info, query or fragment.
func CheckBase(what, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || raw == "" {
		return nil, fmt.Errorf("%s %q is not a URL", what, raw)
	}
	switch {
	case u.Scheme != "https":
		return nil, fmt.Errorf("%s %q: want an https URL (credentials are sent with every request)", what, raw)
	case u.Host == "":
		return nil, fmt.Errorf("%s %q has no host", what, raw)
	case u.User != nil:
		return nil, fmt.Errorf("%s must not carry credentials: use the secret:// option", what)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%s %q must have no query or fragment", what, raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// CheckSecret checks that v is a secret:// reference and that there is a
// store to read it from.
func CheckSecret(what, v string, store Resolver) error {
	name, ok, err := secret.ParseRef(v)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %v", what, err)
	case !ok:
		return fmt.Errorf("%s must be a secret://NAME reference (a credential is not written in the configuration)", what)
	case store == nil:
		return fmt.Errorf("%s: secret://%s needs the node's secret store", what, name)
	}
	return nil
}

// HTTPClient makes the client for a base URL: the system's CAs, or those
// of caFile; no proxy from the environment (credentials go straight to
// the configured host).
func HTTPClient(caFile string, timeout time.Duration) (*http.Client, error) {
	tr := &http.Transport{
		Proxy:                 nil,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          8,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	// Redirects are not followed: an API answering one is misconfigured,
	// and the credential must not go elsewhere.
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, nil
}

// URL is the full URL of r.
func (c *Client) URL(r Request) string {
	u := *c.Base
	p := c.Base.Path
	raw := c.Base.EscapedPath()
	for _, e := range r.Path {
		p += "/" + e
		raw += "/" + url.PathEscape(e)
	}
	u.Path, u.RawPath = p, raw
	if len(r.Query) > 0 {
		u.RawQuery = r.Query.Encode()
	}
	return u.String()
}

// Line is the request as the run trace shows it: method, URL, the
// credential by reference, the body (cut). It never holds a secret value.
func (c *Client) Line(r Request) string {
	s := r.Method + " " + c.URL(r)
	if c.Secret != "" && c.Auth != nil {
		s += " (credential " + c.Secret + ")"
	}
	if r.Body != nil {
		b, _ := json.Marshal(c.withSecret(r.Body, c.Secret))
		s += " " + string(b)
	} else if r.Form != nil {
		s += " " + r.Form.Encode()
	}
	return limit.Text(s, limit.Command)
}

// Do sends r, retrying as its class allows, and decodes a 2xx JSON answer
// into out when out is not nil.
func (c *Client) Do(ctx context.Context, r Request, out any) (*Response, error) {
	what := c.Name + ": " + r.Method + " " + limit.Text(c.URL(r), 512)
	cred := ""
	if c.Secret != "" && (c.Auth != nil || c.SecretField != "") {
		v, err := c.Secrets(ctx, c.Secret)
		if err != nil {
			return nil, connector.Errorf(connector.Permanent, "%s: credential %s: %v", what, c.Secret, err)
		}
		cred = v
	}
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = json.Marshal(c.withSecret(r.Body, cred)); err != nil {
			return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
		}
	} else if r.Form != nil {
		body = []byte(r.Form.Encode())
	}
	attempts, wait := c.Attempts, c.Backoff
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if wait <= 0 {
		wait = DefaultBackoff
	}
	maxWait := c.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	var last error
	for i := 1; ; i++ {
		resp, delay, err := c.once(ctx, r, body, cred, what)
		if err == nil {
			if out != nil && len(resp.Body) > 0 {
				if err := json.Unmarshal(resp.Body, out); err != nil {
					return resp, connector.Errorf(connector.Unknown, "%s: answered %d with a body that is not the expected JSON: %v", what, resp.Status, err)
				}
			}
			return resp, nil
		}
		last = err
		cls := connector.ClassOf(err)
		// Unknown outcomes of requests that are safe to repeat are
		// retried like transient ones.
		if cls == connector.Permanent || (cls == connector.Unknown && !r.Retry) || i >= attempts {
			return nil, last
		}
		if delay < 0 {
			delay = wait
			wait *= 2
		}
		if delay > maxWait {
			return nil, connector.Errorf(connector.Transient, "%v (asked to wait %s, longer than %s)", last, delay, maxWait)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, last
		case <-t.C:
		}
	}
}

// once sends r one time. delay is the answer's Retry-After, or -1.
func (c *Client) once(ctx context.Context, r Request, body []byte, cred, what string) (*Response, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var wrote atomic.Bool
	tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}})
	req, err := http.NewRequestWithContext(tctx, r.Method, c.URL(r), rd)
	if err != nil {
		return nil, -1, connector.Errorf(connector.Permanent, "%s: %v", what, err)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "riposte")
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	switch {
	case r.Body != nil:
		req.Header.Set("Content-Type", "application/json")
	case r.Form != nil:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.Auth != nil && cred != "" {
		c.Auth(req.Header, cred)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		msg := redact(err.Error(), cred)
		if wrote.Load() {
			return nil, -1, connector.Errorf(connector.Unknown, "%s: sent, then %s: it may have taken effect", what, msg)
		}
		return nil, -1, connector.Errorf(connector.Transient, "%s: %s", what, msg)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil && resp.StatusCode < 300 {
		return nil, -1, connector.Errorf(connector.Unknown, "%s: answered %d, then reading the body failed: %v", what, resp.StatusCode, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, 0, nil
	}
	delay := time.Duration(-1)
	if d, ok := retryafter.Parse(resp.Header.Get("Retry-After"), time.Now()); ok {
		delay = d
	}
	msg := ""
	if c.ErrMessage != nil {
		msg = c.ErrMessage(b)
	}
	if msg == "" {
		msg = strings.TrimSpace(string(b))
	}
	msg = limit.Text(redact(msg, cred), 512)
	text := fmt.Sprintf("%s: %s", what, resp.Status)
	if msg != "" {
		text += ": " + msg
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		// Rate-limited answers were not processed: always safe to repeat.
		return nil, delay, connector.Errorf(connector.Transient, "%s (rate limited)", text)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		// The server may have acted before failing.
		return nil, delay, connector.Errorf(connector.Unknown, "%s", text)
	}
	return nil, delay, &connector.Error{Class: connector.Permanent, Err: &StatusError{Status: resp.StatusCode, Msg: text}}
}

// StatusError is a 4xx answer.
type StatusError struct {
	Status int
	Msg    string
}

func (e *StatusError) Error() string { return e.Msg }

// IsStatus reports whether err is a 4xx answer with that status.
func IsStatus(err error, status int) bool {
	var e *StatusError
	return errors.As(err, &e) && e.Status == status
}

// withSecret returns body with SecretField set to v.
func (c *Client) withSecret(body any, v string) any {
	m, ok := body.(map[string]any)
	if c.SecretField == "" || !ok {
		return body
	}
	out := make(map[string]any, len(m)+1)
	for k, x := range m {
		out[k] = x
	}
	out[c.SecretField] = v
	return out
}

func redact(s, cred string) string {
	if cred == "" {
		return s
	}
	return strings.ReplaceAll(s, cred, "[redacted]")
}

// JSONField reads the text of the first of keys present in a JSON error
// body (strings, or lists of strings joined with "; ").
func JSONField(body []byte, keys ...string) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	var parts []string
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			if v != "" {
				parts = append(parts, v)
			}
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					parts = append(parts, s)
				}
			}
		case map[string]any:
			for _, f := range slices.Sorted(maps.Keys(v)) {
				if s, ok := v[f].(string); ok {
					parts = append(parts, f+": "+s)
				}
			}
		}
	}
	return strings.Join(parts, "; ")
}

var incidentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// Incident is the Riposte incident a call is about: its "incident"
// argument, else the run's. Its id goes into dedup keys, labels and
// vendor queries, so it must be a plain word.
func Incident(what string, call connector.Call) (string, error) {
	id, _ := call.Args["incident"].(string)
	if id == "" {
		id = call.Incident
	}
	if id == "" {
		return "", connector.Errorf(connector.Permanent, "%s: no incident: the run has none and the call names none", what)
	}
	if !incidentRE.MatchString(id) {
		return "", connector.Errorf(connector.Permanent, "%s: incident %q is not an incident id", what, limit.Text(id, 64))
	}
	return id, nil
}

// Priority reads a Riposte priority ("P1".."P4"; "" means P3) as 1..4.
func Priority(what string, args map[string]any) (int, error) {
	p, _ := args["priority"].(string)
	switch strings.ToUpper(strings.TrimSpace(p)) {
	case "P1":
		return 1, nil
	case "P2":
		return 2, nil
	case "", "P3":
		return 3, nil
	case "P4":
		return 4, nil
	}
	return 0, connector.Errorf(connector.Permanent, "%s: priority %q: want P1, P2, P3 or P4", what, limit.Text(p, 32))
}

// Link is the incident's address in Riposte, for the ticket; "" when the
// connector has no riposte_url.
func Link(base, incident string) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/api/v1/incidents/" + url.PathEscape(incident)
}

// Statuses are the Riposte incident statuses an update may carry.
var Statuses = []string{"new", "triaged", "contained", "eradicated", "recovered", "closed"}

// Status reads the "status" argument of an update.
func Status(what string, args map[string]any) (string, error) {
	s, _ := args["status"].(string)
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if !slices.Contains(Statuses, s) {
		return "", connector.Errorf(connector.Permanent, "%s: status %q: want one of %s", what, limit.Text(s, 32), strings.Join(Statuses, ", "))
	}
	return s, nil
}

// Text reads a string argument, cut to n bytes.
func Text(args map[string]any, name string, n int) string {
	s, _ := args[name].(string)
	return limit.Text(strings.TrimSpace(s), n)
}

// DefaultTimeout bounds one request when Options.Timeout is 0.
const DefaultTimeout = 15 * time.Second

// Options are the settings every API connector has (inlined in its
// Config).
type Options struct {
	// URL is the API's base URL (https); "" means the vendor's public one
	// where there is one.
	URL string `yaml:"url" json:"url,omitempty"`
	// CAFile is a PEM file of the CAs the API's certificate is checked
	// against; "" means the system's.
	CAFile string `yaml:"ca_file" json:"ca_file,omitempty"`
	// Timeout bounds one request; 0 means DefaultTimeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Attempts is how many times one request is sent at most (429, 5xx
	// of requests safe to repeat); 0 means DefaultAttempts.
	Attempts int `yaml:"attempts" json:"attempts,omitempty"`
	// MaxWait is the longest Retry-After honoured within a call; 0 means
	// DefaultMaxWait.
	MaxWait time.Duration `yaml:"max_wait" json:"max_wait,omitempty"`
	// RiposteURL is how people reach Riposte (public_url): tickets link
	// to the incident there. "" leaves the link out.
	RiposteURL string `yaml:"riposte_url" json:"riposte_url,omitempty"`
	// Secrets resolves secret://NAME references (the node's secret
	// store); nil refuses them.
	Secrets Resolver `yaml:"-" json:"-"`
	// HTTP replaces the HTTP client (tests); nil makes one from CAFile.
	HTTP *http.Client `yaml:"-" json:"-"`
}

// Client checks the options and makes the client of connector name, with
// defURL when URL is "" and the credential ref.
func (o Options) Client(name, defURL, ref string) (*Client, error) {
	raw := o.URL
	if raw == "" {
		raw = defURL
	}
	var errs []error
	base, err := CheckBase(name+": url", raw)
	if err != nil {
		errs = append(errs, err)
	}
	if err := CheckSecret(name+": credential", ref, o.Secrets); err != nil {
		errs = append(errs, err)
	}
	if o.RiposteURL != "" {
		if u, err := url.Parse(o.RiposteURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: riposte_url %q is not an http(s) URL", name, o.RiposteURL))
		}
	}
	if o.Attempts < 0 || o.Attempts > 10 {
		errs = append(errs, fmt.Errorf("%s: attempts %d: want 1 to 10", name, o.Attempts))
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	hc := o.HTTP
	if hc == nil {
		if hc, err = HTTPClient(o.CAFile, o.Timeout); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Client{Name: name, Base: base, HTTP: hc, Secret: ref, Secrets: o.Secrets,
		Attempts: o.Attempts, MaxWait: o.MaxWait}, nil
}

// Reference is the name of a secret:// value, for the node's check that
// the secrets a configuration names exist.
func Reference(v string) (string, bool) {
	name, ok, err := secret.ParseRef(v)
	return name, ok && err == nil
}
