package channel

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/riposte-soar/riposte/internal/retryafter"
)

// HookConfig is an incoming-webhook address (Slack, Teams). The URL of such
// a hook is itself the credential, so prefer URLEnv, the name of an
// environment variable holding it; URL is for hooks that are not secret
// (a local relay, tests).
type HookConfig struct {
	URL    string `yaml:"url"`
	URLEnv string `yaml:"url_env"`
}

// String shows the hook without its secret path.
func (h HookConfig) String() string {
	if h.URLEnv != "" {
		return "$" + h.URLEnv
	}
	return RedactURL(h.URL)
}

// Resolve returns the hook's URL, read from the environment when URLEnv is
// set, and checks that it is an absolute http or https URL. Errors never
// contain the URL itself.
func (h HookConfig) Resolve() (string, error) {
	switch {
	case h.URL != "" && h.URLEnv != "":
		return "", errors.New("url and url_env exclude each other")
	case h.URLEnv != "":
		u := os.Getenv(h.URLEnv)
		if u == "" {
			return "", fmt.Errorf("url_env: environment variable %s is empty or unset", h.URLEnv)
		}
		if err := CheckURL(u); err != nil {
			return "", fmt.Errorf("url_env: the value of %s %v", h.URLEnv, err)
		}
		return u, nil
	case h.URL == "":
		return "", errors.New("url or url_env is required")
	}
	if err := CheckURL(h.URL); err != nil {
		return "", fmt.Errorf("url: %v", err)
	}
	return h.URL, nil
}

// CheckURL reports whether u is an absolute http or https URL with a host.
// The error does not repeat the URL, which may hold a token.
func CheckURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if p.Scheme != "https" && p.Scheme != "http" {
		return errors.New("must start with https:// (or http://)")
	}
	if p.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// RedactURL keeps only the scheme and host of u: webhook paths and queries
// often carry tokens, and user info carries passwords.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "(invalid URL)"
	}
	return p.Scheme + "://" + p.Host
}

// NewHTTPClient returns the client HTTP channels use: proxies from the
// environment, no redirects followed (a redirect would carry signed headers
// elsewhere), and no connections to link-local addresses such as cloud
// metadata services. Timeouts come from the context of each send.
func NewHTTPClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: refuseLinkLocal}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var errLinkLocal = errors.New("refusing to connect to a link-local address")

func refuseLinkLocal(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	ip = ip.Unmap()
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip == netip.MustParseAddr("fd00:ec2::254") {
		return errLinkLocal
	}
	return nil
}

// Post sends body to rawURL and classifies the outcome: 2xx is success;
// 429 and 5xx are transient (with the Retry-After the receiver gave);
// every other answer is permanent. Network errors are transient, except
// certificate errors. Errors name only the scheme and host of rawURL.
func Post(ctx context.Context, client *http.Client, rawURL string, body []byte, header http.Header) error {
	where := RedactURL(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("POST %s: cannot build request", where))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "riposte-notify/1")
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the whole URL; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		err = fmt.Errorf("POST %s: %w", where, err)
		if permanentNetError(err) {
			return Permanent(err)
		}
		return Transient(err, 0)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("POST %s: HTTP %d %s%s", where, resp.StatusCode, http.StatusText(resp.StatusCode), quote(snippet))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		wait, _ := retryafter.Parse(resp.Header.Get("Retry-After"), time.Now())
		return Transient(err, wait)
	default:
		return Permanent(err)
	}
}

func permanentNetError(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		he  x509.HostnameError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
	)
	return errors.Is(err, errLinkLocal) || errors.As(err, &ua) || errors.As(err, &ci) ||
		errors.As(err, &he) || errors.As(err, &cve) || errors.As(err, &rhe)
}

// IsPermanentNetError reports whether a network error is one retrying
// cannot fix: a certificate that does not verify, TLS spoken to a server
// that does not, a refused link-local address.
func IsPermanentNetError(err error) bool { return permanentNetError(err) }

// quote turns an answer body into a short single line for an error.
func quote(b []byte) string {
	s := strings.TrimSpace(Sanitize(string(b), true))
	if s == "" {
		return ""
	}
	r := []rune(s)
	if len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return ": " + s
}

// Sanitize removes control characters (keeping tab, and newline unless
// oneLine, which turns line breaks into spaces) and the bidirectional
// overrides that can make text read differently from what it is.
func Sanitize(s string, oneLine bool) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r':
			if oneLine {
				return ' '
			}
			return '\n'
		case r == '\t':
			return r
		case r == '\u2028' || r == '\u2029':
			if oneLine {
				return ' '
			}
			return '\n'
		case unicode.IsControl(r), r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\ufeff':
			return -1
		}
		return r
	}, s)
}

// Hook is a resolved incoming webhook with its client, shared by the
// Slack and Teams channels.
type Hook struct {
	url    string
	client *http.Client
}

// NewHook resolves cfg (see HookConfig.Resolve).
func NewHook(cfg HookConfig) (*Hook, error) {
	u, err := cfg.Resolve()
	if err != nil {
		return nil, err
	}
	return &Hook{url: u, client: NewHTTPClient()}, nil
}

// Post sends a JSON body to the hook (see Post).
func (h *Hook) Post(ctx context.Context, body []byte) error {
	return Post(ctx, h.client, h.url, body, nil)
}

// String shows the hook without its secret path.
func (h *Hook) String() string { return RedactURL(h.url) }

// TextHook is what the Slack- and Teams-compatible channels share: an
// incoming webhook and a text template. They differ only in the payload
// they build from the rendered text.
type TextHook struct {
	Kind string // "slack" or "teams", for errors
	Name string
	Hook *Hook
	Text *Renderer
}

// NewTextHook checks the hook configuration and the text template (the
// email-only subject and body are refused) and compiles the template with
// the channel's escaper.
func NewTextHook(kind, name string, cfg HookConfig, tmpl *Template, defaultText string, esc Escaper) (*TextHook, error) {
	var errs []error
	hook, err := NewHook(cfg)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s.%w", kind, err))
	}
	text := defaultText
	if tmpl != nil {
		if tmpl.Subject != "" || tmpl.Body != "" {
			errs = append(errs, fmt.Errorf("template.subject and template.body are for email; %s uses template.text", kind))
		}
		if tmpl.Text != "" {
			text = tmpl.Text
		}
	}
	r, err := Compile("template.text", text, esc)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &TextHook{Kind: kind, Name: name, Hook: hook, Text: r}, nil
}

// PostJSON encodes payload and posts it.
func (h *TextHook) PostJSON(ctx context.Context, payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode: %w", h.Kind, err))
	}
	if err := h.Hook.Post(ctx, body); err != nil {
		return fmt.Errorf("%s: %w", h.Kind, err)
	}
	return nil
}

// Render renders msgs with the hook's template, trimmed; a template that
// renders to nothing still yields a message so the receiver is not left
// with an empty post.
func (h *TextHook) Render(msgs []Message) (string, error) {
	text, err := h.Text.Render(h.Name, msgs)
	if err != nil {
		return "", err
	}
	text = strings.TrimSpace(text)
	if text == "" {
		text = "Riposte notification"
	}
	return text, nil
}
