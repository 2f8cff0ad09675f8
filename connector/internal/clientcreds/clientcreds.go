// Package clientcreds gets the access tokens of the API connectors that
// authenticate with an OAuth 2.0 client-credentials grant (RFC 6749
// §4.4): CrowdStrike Falcon (POST /oauth2/token) and the Microsoft
// identity platform (POST /{tenant}/oauth2/v2.0/token) for Microsoft
// Graph and Defender for Endpoint.
//
// A token is cached until shortly before it expires; an API answering 401
// makes Do drop it and try once more with a new one, because a token can
// be revoked (or the client secret rotated) before its expiry.
package clientcreds

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	"github.com/riposte-soar/riposte/internal/retryafter"
)

// Defaults for the zero values of Source.
const (
	DefaultAttempts = 3
	// margin is how long before its expiry a token is replaced, so one
	// does not expire between the check and the API's.
	margin = 60 * time.Second
)

// Source gets and caches the tokens of one client.
type Source struct {
	// Name prefixes errors ("falcon").
	Name string
	// TokenURL is the token endpoint (https).
	TokenURL *url.URL
	ClientID string
	// Secret is the secret:// reference of the client secret, resolved at
	// each token request so a rotation needs no restart.
	Secret  string
	Secrets apiclient.Resolver
	// Scope is sent when not "" (the Microsoft identity platform wants
	// "<resource>/.default"); CrowdStrike takes none.
	Scope string
	// GrantType says to send grant_type=client_credentials (the Microsoft
	// identity platform requires it; CrowdStrike's endpoint documents
	// client_id and client_secret only).
	GrantType bool
	HTTP      *http.Client
	// Attempts bounds the requests of one token fetch (429, 5xx,
	// connection errors); 0 means DefaultAttempts.
	Attempts int
	// MaxWait is the longest Retry-After honoured; 0 means
	// apiclient.DefaultMaxWait.
	MaxWait time.Duration
	// Backoff is the first wait after a 5xx; 0 means
	// apiclient.DefaultBackoff.
	Backoff time.Duration
	// Now replaces the clock (tests).
	Now func() time.Time

	mu      sync.Mutex
	tok     string
	expires time.Time
	fetched int
}

// Fetched is how many tokens the source has obtained.
func (s *Source) Fetched() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetched
}

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Token returns a token valid for at least a minute, fetching one when
// the cached one is missing or about to expire.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != "" && s.now().Before(s.expires) {
		return s.tok, nil
	}
	tok, ttl, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	s.tok, s.fetched = tok, s.fetched+1
	// A token living less than twice the margin is used for half its life.
	keep := ttl - margin
	if ttl < 2*margin {
		keep = ttl / 2
	}
	s.expires = s.now().Add(keep)
	return tok, nil
}

// Drop forgets tok if it is the cached token (an API refused it).
func (s *Source) Drop(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == tok {
		s.tok = ""
	}
}

// Bind makes c authenticate with the source's tokens as bearer: c reads
// its credential through the source, and what c shows (Line) names the
// client secret's reference.
func (s *Source) Bind(c *apiclient.Client) {
	c.Secret = s.Secret
	c.Secrets = func(ctx context.Context, _ string) (string, error) { return s.Token(ctx) }
	c.Auth = func(h http.Header, tok string) { h.Set("Authorization", "Bearer "+tok) }
}

// Do sends r through c (bound to s); a 401 answer drops the token and
// sends r once more with a new one.
func Do(ctx context.Context, s *Source, c *apiclient.Client, r apiclient.Request, out any) (*apiclient.Response, error) {
	tok, err := s.Token(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(ctx, r, out)
	if !apiclient.IsStatus(err, http.StatusUnauthorized) {
		return resp, err
	}
	s.Drop(tok)
	// Fetched here, so a failure keeps its class (c.Do would call any
	// credential failure permanent).
	if _, err := s.Token(ctx); err != nil {
		return nil, err
	}
	return c.Do(ctx, r, out)
}

type answer struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	// The Microsoft identity platform's error.
	Error     string `json:"error"`
	ErrorDesc string `json:"error_description"`
	// CrowdStrike's errors.
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

func (s *Source) fetch(ctx context.Context) (string, time.Duration, error) {
	what := s.Name + ": token from " + limit.Text(s.TokenURL.String(), 256)
	sec, err := s.Secrets(ctx, s.Secret)
	if err != nil {
		return "", 0, connector.Errorf(connector.Permanent, "%s: client secret %s: %v", what, s.Secret, err)
	}
	form := url.Values{"client_id": {s.ClientID}, "client_secret": {sec}}
	if s.Scope != "" {
		form.Set("scope", s.Scope)
	}
	if s.GrantType {
		form.Set("grant_type", "client_credentials")
	}
	body := form.Encode()
	attempts, wait, maxWait := s.Attempts, s.Backoff, s.MaxWait
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if wait <= 0 {
		wait = apiclient.DefaultBackoff
	}
	if maxWait <= 0 {
		maxWait = apiclient.DefaultMaxWait
	}
	for i := 1; ; i++ {
		tok, ttl, delay, err := s.once(ctx, what, body, sec)
		if err == nil {
			return tok, ttl, nil
		}
		// A token request changes nothing: every failure but a refusal
		// may be retried.
		if connector.ClassOf(err) == connector.Permanent || i >= attempts {
			return "", 0, err
		}
		if delay < 0 {
			delay, wait = wait, wait*2
		}
		if delay > maxWait {
			return "", 0, connector.Errorf(connector.Transient, "%v (asked to wait %s, longer than %s)", err, delay, maxWait)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", 0, err
		case <-t.C:
		}
	}
}

func (s *Source) once(ctx context.Context, what, body, sec string) (string, time.Duration, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenURL.String(), strings.NewReader(body))
	if err != nil {
		return "", 0, -1, connector.Errorf(connector.Permanent, "%s: %v", what, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "riposte")
	resp, err := s.HTTP.Do(req)
	if err != nil {
		// Nothing changes on a token request: a lost answer is transient.
		return "", 0, -1, connector.Errorf(connector.Transient, "%s: %s", what, redact(err.Error(), sec))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var a answer
	jerr := json.Unmarshal(b, &a)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if jerr != nil || a.AccessToken == "" {
			return "", 0, -1, connector.Errorf(connector.Transient, "%s: answered %d without an access_token", what, resp.StatusCode)
		}
		if !strings.EqualFold(a.TokenType, "bearer") {
			return "", 0, -1, connector.Errorf(connector.Permanent, "%s: token_type %q, want bearer", what, limit.Text(a.TokenType, 32))
		}
		return a.AccessToken, expiresIn(a.ExpiresIn), 0, nil
	}
	delay := time.Duration(-1)
	if d, ok := retryafter.Parse(resp.Header.Get("Retry-After"), time.Now()); ok {
		delay = d
	}
	msg := strings.TrimSpace(a.Error + ": " + a.ErrorDesc)
	if a.Error == "" {
		msg = ""
		for _, e := range a.Errors {
			msg = strings.TrimPrefix(msg+"; "+e.Message, "; ")
		}
	}
	if msg == "" && jerr != nil {
		msg = strings.TrimSpace(string(b))
	}
	text := fmt.Sprintf("%s: %s", what, resp.Status)
	if msg = limit.Text(redact(msg, sec), 512); msg != "" {
		text += ": " + msg
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return "", 0, delay, connector.Errorf(connector.Transient, "%s (rate limited)", text)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return "", 0, delay, connector.Errorf(connector.Transient, "%s", text)
	}
	return "", 0, delay, connector.Errorf(connector.Permanent, "%s", text)
}

// expiresIn reads expires_in, a number (CrowdStrike, RFC 6749) or a
// string of digits (older Microsoft endpoints); a missing or odd one
// means the token is used for five minutes.
func expiresIn(raw json.RawMessage) time.Duration {
	var n float64
	if json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 5 * time.Minute
		}
		if _, err := fmt.Sscan(s, &n); err != nil {
			return 5 * time.Minute
		}
	}
	if n <= 0 || n > 86400 {
		return 5 * time.Minute
	}
	return time.Duration(n) * time.Second
}

func redact(s, sec string) string {
	if sec == "" {
		return s
	}
	return strings.ReplaceAll(s, sec, "[redacted]")
}

// CheckTokenURL parses a configured token endpoint: https, no user info,
// query or fragment.
func CheckTokenURL(what, raw string) (*url.URL, error) {
	return apiclient.CheckBase(what, raw)
}

// tenantRE is a Microsoft Entra tenant: its id (a GUID) or one of its
// domain names.
var tenantRE = regexp.MustCompile(`^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63}){1,8})$`)

// MicrosoftTokenURL is the Microsoft identity platform's v2.0 token
// endpoint of a tenant (tenant id or domain; not "common", which a
// client-credentials grant cannot use).
func MicrosoftTokenURL(tenant string) (string, error) {
	if !tenantRE.MatchString(tenant) {
		return "", fmt.Errorf("tenant_id %q is not a tenant id (GUID) or domain", limit.Text(tenant, 64))
	}
	return "https://login.microsoftonline.com/" + tenant + "/oauth2/v2.0/token", nil
}
