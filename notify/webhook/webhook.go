// Package webhook is the generic webhook notification channel: it POSTs
// the messages as JSON, signed with HMAC-SHA256 over a timestamp and the
// body so the receiver can check who sent them and refuse replays.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/notify/channel"
)

// SampleConfig is the part of riposte.yaml a webhook channel reads.
//
//go:embed sample.conf
var SampleConfig string

// Headers the channel sets on every request.
const (
	HeaderSignature = "X-Riposte-Signature" // sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
	HeaderTimestamp = "X-Riposte-Timestamp" // Unix seconds when this attempt was signed
	HeaderDelivery  = "X-Riposte-Delivery"  // the same on every retry of one send
)

// Config says where to post and how to sign.
type Config struct {
	// URL, or URLEnv naming an environment variable that holds it (when
	// the URL carries a token).
	URL    string `yaml:"url"`
	URLEnv string `yaml:"url_env"`
	// SecretEnv names the environment variable holding the HMAC key.
	// Without it requests are not signed.
	SecretEnv string `yaml:"secret_env"`
	// Headers are sent as they are; HeadersEnv maps a header name to the
	// environment variable holding its value (Authorization, API keys).
	Headers    map[string]string `yaml:"headers"`
	HeadersEnv map[string]string `yaml:"headers_env"`
}

// String shows the configuration without secrets.
func (c Config) String() string {
	return fmt.Sprintf("webhook %s (signed: %v, %d headers)",
		channel.HookConfig{URL: c.URL, URLEnv: c.URLEnv}, c.SecretEnv != "", len(c.Headers)+len(c.HeadersEnv))
}

// Body is the JSON the channel posts.
type Body struct {
	// ID identifies the send: retries of it carry the same ID, so a
	// receiver can drop duplicates.
	ID       string            `json:"id"`
	Channel  string            `json:"channel"`
	Count    int               `json:"count"`
	Messages []channel.Message `json:"messages"`
}

// Channel posts to one URL.
type Channel struct {
	name   string
	url    string
	secret []byte
	header http.Header
	client *http.Client
}

// New checks cfg, reads the secrets it names from the environment, and
// returns the channel. Webhooks take no template: the body is JSON.
func New(name string, cfg Config, tmpl *channel.Template) (*Channel, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	c := &Channel{name: name, header: http.Header{}, client: channel.NewHTTPClient()}
	u, err := channel.HookConfig{URL: cfg.URL, URLEnv: cfg.URLEnv}.Resolve()
	if err != nil {
		bad("webhook.%v", err)
	}
	c.url = u
	if cfg.SecretEnv != "" {
		s := os.Getenv(cfg.SecretEnv)
		if s == "" {
			bad("webhook.secret_env: environment variable %s is empty or unset", cfg.SecretEnv)
		}
		c.secret = []byte(s)
	}
	for _, k := range slices.Sorted(mapKeys(cfg.Headers)) {
		if err := checkHeader(k, cfg.Headers[k]); err != nil {
			bad("webhook.headers: %v", err)
			continue
		}
		c.header.Set(k, cfg.Headers[k])
	}
	for _, k := range slices.Sorted(mapKeys(cfg.HeadersEnv)) {
		v := os.Getenv(cfg.HeadersEnv[k])
		if v == "" {
			bad("webhook.headers_env: %s: environment variable %s is empty or unset", k, cfg.HeadersEnv[k])
			continue
		}
		if err := checkHeader(k, v); err != nil {
			// Do not quote the value: it is a secret.
			bad("webhook.headers_env: %s: the value of %s is not a valid header value", k, cfg.HeadersEnv[k])
			continue
		}
		if _, dup := cfg.Headers[k]; dup {
			bad("webhook: header %s is in both headers and headers_env", k)
		}
		c.header.Set(k, v)
	}
	if tmpl != nil && (*tmpl != channel.Template{}) {
		bad("template: webhook channels send JSON and take no template")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func checkHeader(k, v string) error {
	if k == "" || strings.IndexFunc(k, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	}) >= 0 {
		return fmt.Errorf("%q is not a header name", k)
	}
	ck := http.CanonicalHeaderKey(k)
	if strings.HasPrefix(ck, "X-Riposte-") {
		return fmt.Errorf("%s: X-Riposte- headers are set by the channel", ck)
	}
	switch ck {
	case "Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Te", "Trailer", "Upgrade":
		return fmt.Errorf("%s is set by the channel", ck)
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("%s: value has a line break", ck)
	}
	return nil
}

// Name is the channel's configured name.
func (c *Channel) Name() string { return c.name }

// Send posts msgs as one Body.
func (c *Channel) Send(ctx context.Context, msgs []channel.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	mj, err := json.Marshal(msgs)
	if err != nil {
		return channel.Permanent(fmt.Errorf("webhook: encode: %w", err))
	}
	sum := sha256.Sum256(append([]byte(c.name+"\x00"), mj...))
	body, err := json.Marshal(Body{ID: hex.EncodeToString(sum[:16]), Channel: c.name, Count: len(msgs), Messages: msgs})
	if err != nil {
		return channel.Permanent(fmt.Errorf("webhook: encode: %w", err))
	}
	h := c.header.Clone()
	h.Set(HeaderDelivery, hex.EncodeToString(sum[:16]))
	if c.secret != nil {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, Sign(c.secret, ts, body))
	}
	if err := channel.Post(ctx, c.client, c.url, body, h); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

// Sign returns the X-Riposte-Signature value for a body sent at timestamp
// ts (Unix seconds, as in X-Riposte-Timestamp).
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Errors Verify returns.
var (
	ErrNoSecret     = errors.New("webhook: no secret to verify with")
	ErrNoSignature  = errors.New("webhook: no signature or timestamp")
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: timestamp too far from now (replay?)")
)

// Verify checks a received request the way a receiver should: the
// signature over "<timestamp>.<body>" must match in constant time, and the
// timestamp must be within maxSkew of now. Receivers should also remember
// X-Riposte-Delivery IDs they have seen within maxSkew to drop replays and
// retried duplicates. This is the one verifier: inbound webhooks
// (POST /api/v1/hooks/NAME) and the tests of what Riposte sends use it.
func Verify(secret []byte, h http.Header, body []byte, maxSkew time.Duration, now time.Time) error {
	if len(secret) == 0 {
		// An HMAC with an empty key is one anybody can compute.
		return ErrNoSecret
	}
	sig, ts := h.Get(HeaderSignature), h.Get(HeaderTimestamp)
	if sig == "" || ts == "" {
		return ErrNoSignature
	}
	want := Sign(secret, ts, body)
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return ErrStale
	}
	return nil
}
