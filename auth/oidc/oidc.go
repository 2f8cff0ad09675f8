// Package oidc signs people in to the console through an OpenID provider
// (Keycloak, Entra ID, Okta, Dex, Zitadel...): the authorization code flow
// with PKCE, the ID token checked (signature, issuer, audience, expiry,
// nonce), the person's name and role taken from its claims. The console
// owns the HTTP routes; it calls Start to send the browser away and
// Exchange (or SignIn) on the way back. Package auth then keeps the user
// (auth.Users.External) and its session.
package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/config"
)

// Resolver reads secret://NAME references (*secret.Store is one).
type Resolver interface {
	Resolve(ctx context.Context, ref string) (string, error)
}

// RoleMapping gives Role to people whose role claim holds Value.
type RoleMapping struct {
	Value string
	Role  auth.Role
}

// Config is what the console needs to know of the provider; FromConfig
// makes one from riposte.yaml's console.oidc.
type Config struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document and its tokens name it.
	Issuer string
	// ClientID and ClientSecret are Riposte's registration; the secret is
	// a value or secret://NAME, read through Secrets at each exchange.
	ClientID, ClientSecret string
	// RedirectURL is the console's callback, as registered.
	RedirectURL string
	// Scopes are asked for besides openid (default profile, email).
	Scopes []string
	// NameClaim names the person (default preferred_username); email is
	// tried after it.
	NameClaim string
	// RoleClaim is the claim (a string or a list of strings) Roles map.
	RoleClaim string
	Roles     []RoleMapping
	// DefaultRole is given when no mapping matches; "" refuses.
	DefaultRole auth.Role
	// Secrets resolves a secret:// ClientSecret.
	Secrets Resolver
	// HTTPClient talks to the provider (default: 10 s timeout).
	HTTPClient *http.Client
	// Now is the clock the ID token's expiry is checked against.
	Now func() time.Time
}

// FromConfig converts the checked configuration section.
func FromConfig(c config.OIDC, secrets Resolver) Config {
	cfg := Config{Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
		Scopes: c.Scopes, NameClaim: c.NameClaim, RoleClaim: c.RoleClaim, DefaultRole: auth.Role(c.DefaultRole), Secrets: secrets}
	for _, r := range c.Roles {
		cfg.Roles = append(cfg.Roles, RoleMapping{Value: r.Value, Role: auth.Role(r.Role)})
	}
	return cfg
}

// Identity is who the provider says signed in.
type Identity struct {
	// Issuer and Subject identify the person for good; names may change.
	Issuer, Subject string
	// Name is the user name in Riposte (from NameClaim or email).
	Name string
	// Role is the role their claims map to.
	Role auth.Role
}

var (
	// ErrNoRole refuses a person whose claims map to no role while
	// DefaultRole is empty.
	ErrNoRole = errors.New("the provider's claims give this person no Riposte role")
	// ErrNonce refuses an ID token not issued for this sign-in attempt (a
	// replayed or injected token).
	ErrNonce = errors.New("the ID token's nonce is not this sign-in's")
)

// OIDC is one trusted provider. The provider's discovery document is
// fetched on first use, and again after a failure, so a provider that is
// down when the server starts does not keep it from starting.
type OIDC struct {
	cfg Config

	mu       sync.Mutex
	provider *gooidc.Provider
}

// New checks cfg; it does not reach the provider (see Discover).
func New(cfg Config) (*OIDC, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("oidc: issuer, client id and redirect URL are required")
	}
	if strings.HasPrefix(cfg.ClientSecret, "secret://") && cfg.Secrets == nil {
		return nil, errors.New("oidc: the client secret is a secret:// reference but no secret store was given")
	}
	for _, r := range cfg.Roles {
		if err := auth.CheckPersonRole(r.Role); err != nil {
			return nil, fmt.Errorf("oidc: role for %q: %w", r.Value, err)
		}
	}
	if cfg.DefaultRole != "" {
		if err := auth.CheckPersonRole(cfg.DefaultRole); err != nil {
			return nil, fmt.Errorf("oidc: default role: %w", err)
		}
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"profile", "email"}
	}
	if cfg.NameClaim == "" {
		cfg.NameClaim = "preferred_username"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &OIDC{cfg: cfg}, nil
}

// Issuer is the provider's issuer URL.
func (o *OIDC) Issuer() string { return o.cfg.Issuer }

func (o *OIDC) ctx(ctx context.Context) context.Context {
	return gooidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, o.cfg.HTTPClient), o.cfg.HTTPClient)
}

// Discover fetches the provider's discovery document if not done yet. The
// issuer it names must be Issuer exactly.
func (o *OIDC) Discover(ctx context.Context) error {
	_, err := o.discover(ctx)
	return err
}

func (o *OIDC) discover(ctx context.Context) (*gooidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := gooidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OpenID provider %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) oauth(p *gooidc.Provider, secret string) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: secret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: append([]string{gooidc.ScopeOpenID}, o.cfg.Scopes...)}
}

// Start is one sign-in attempt. The console sends the browser to URL and
// keeps State and Verifier until the callback (in a short-lived HttpOnly
// cookie, or server side); the callback must bring State back, and
// Exchange needs Verifier.
type Start struct {
	URL, State, Verifier string
}

// Start begins a sign-in with a fresh state and PKCE verifier.
func (o *OIDC) Start(ctx context.Context) (Start, error) {
	s := Start{State: oauth2.GenerateVerifier(), Verifier: oauth2.GenerateVerifier()}
	var err error
	s.URL, err = o.AuthURL(ctx, s.State, s.Verifier)
	return s, err
}

// AuthURL is the provider's authorization URL for state and verifier:
// the PKCE challenge (S256) and the nonce are both derived from verifier,
// which never leaves the server.
func (o *OIDC) AuthURL(ctx context.Context, state, verifier string) (string, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	return o.oauth(p, "").AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonceFor(verifier))), nil
}

// nonceFor binds the ID token to the sign-in attempt: only the holder of
// the verifier knows which nonce to expect, and the nonce (which the
// browser sees) does not reveal the verifier.
func nonceFor(verifier string) string {
	h := sha256.Sum256([]byte("riposte oidc nonce\x00" + verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Exchange trades the callback's code for tokens (proving the verifier)
// and returns who signed in. The caller has already compared the
// callback's state with the one it kept.
func (o *OIDC) Exchange(ctx context.Context, code, verifier string) (Identity, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	secret := o.cfg.ClientSecret
	if strings.HasPrefix(secret, "secret://") {
		if secret, err = o.cfg.Secrets.Resolve(ctx, secret); err != nil {
			return Identity{}, fmt.Errorf("oidc client secret: %w", err)
		}
	}
	tok, err := o.oauth(p, secret).Exchange(o.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("OpenID provider refused the code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Identity{}, errors.New("the OpenID provider sent no ID token")
	}
	return o.Verify(ctx, raw, nonceFor(verifier))
}

// Verify checks a raw ID token (signature by the provider's keys, issuer,
// audience = our client id, expiry, and nonce) and maps its claims.
func (o *OIDC) Verify(ctx context.Context, rawIDToken, nonce string) (Identity, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	idt, err := p.VerifierContext(o.ctx(ctx), &gooidc.Config{ClientID: o.cfg.ClientID, Now: o.cfg.Now}).Verify(o.ctx(ctx), rawIDToken)
	if err != nil {
		return Identity{}, fmt.Errorf("ID token refused: %w", err)
	}
	if nonce == "" || len(idt.Nonce) != len(nonce) || idt.Nonce != nonce {
		return Identity{}, ErrNonce
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("ID token claims: %w", err)
	}
	id := Identity{Issuer: idt.Issuer, Subject: idt.Subject}
	if id.Name, err = o.name(claims); err != nil {
		return Identity{}, err
	}
	if id.Role, err = o.role(claims); err != nil {
		return Identity{}, fmt.Errorf("%s: %w", id.Name, err)
	}
	return id, nil
}

// name is the first of NameClaim and email that is a valid user name.
func (o *OIDC) name(claims map[string]any) (string, error) {
	var tried []string
	for _, c := range []string{o.cfg.NameClaim, "email"} {
		v, _ := claims[c].(string)
		if v == "" {
			continue
		}
		if auth.CheckName(v) == nil {
			return v, nil
		}
		tried = append(tried, fmt.Sprintf("%s %q", c, v))
	}
	if len(tried) == 0 {
		return "", fmt.Errorf("the ID token has neither %s nor email: ask the provider for them (scopes profile, email)", o.cfg.NameClaim)
	}
	return "", fmt.Errorf("no usable user name in the ID token (%s): a user name is 1 to 128 ASCII letters, digits, '.', '_', '@', '+' or '-'", strings.Join(tried, ", "))
}

// role maps the role claim's values; the highest matching role wins.
func (o *OIDC) role(claims map[string]any) (auth.Role, error) {
	var values []string
	switch v := claims[o.cfg.RoleClaim].(type) {
	case string:
		values = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				values = append(values, s)
			}
		}
	}
	best := o.cfg.DefaultRole
	for _, m := range o.cfg.Roles {
		if slices.Contains(values, m.Value) && rank(m.Role) > rank(best) {
			best = m.Role
		}
	}
	if best == "" {
		return "", ErrNoRole
	}
	return best, nil
}

func rank(r auth.Role) int {
	return map[auth.Role]int{auth.Viewer: 1, auth.Analyst: 2, auth.Responder: 3, auth.Admin: 4}[r]
}

// SignIn is Exchange followed by auth.Users.External: the user as kept
// in Riposte, created or updated from the provider's claims.
func (o *OIDC) SignIn(ctx context.Context, users *auth.Users, code, verifier string) (auth.User, error) {
	id, err := o.Exchange(ctx, code, verifier)
	if err != nil {
		return auth.User{}, err
	}
	return users.External(ctx, id.Issuer, id.Subject, id.Name, id.Role)
}
