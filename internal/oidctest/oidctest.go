// Package oidctest runs a real OpenID provider for tests: zitadel/oidc's
// op package (discovery, authorize, token, keys, signing: the protocol is
// not faked) over the smallest storage it needs, kept in memory, with a
// login form that checks a password. Package auth/oidc and the console
// both sign people in through it.
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is a person at the provider.
type User struct {
	Subject, Password, Username, Email string
	// Claims are added to the ID token (groups, a role claim...).
	Claims map[string]any
}

// client is an application registered at the provider.
type client struct {
	id, secret string
	redirects  []string
}

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return c.redirects }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() zoidc.AuthMethod        { return zoidc.AuthMethodBasic }
func (c *client) ResponseTypes() []zoidc.ResponseType {
	return []zoidc.ResponseType{zoidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []zoidc.GrantType       { return []zoidc.GrantType{zoidc.GrantTypeCode} }
func (c *client) LoginURL(id string) string           { return "/login?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return 5 * time.Minute }

// DevMode admits the http:// redirect of the test's console.
func (c *client) DevMode() bool { return true }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(scope string) bool { return scope == "groups" }

// IDTokenUserinfoClaimsAssertion puts profile claims in the ID token, as
// Keycloak and Entra ID do.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

// authReq is one authorization request, done once the user logged in.
type authReq struct {
	id, clientID, redirect, state, nonce, subject string
	scopes                                        []string
	challenge                                     *zoidc.CodeChallenge
	done                                          bool
	authTime                                      time.Time
}

func (a *authReq) GetID() string                          { return a.id }
func (a *authReq) GetACR() string                         { return "" }
func (a *authReq) GetAMR() []string                       { return []string{"pwd"} }
func (a *authReq) GetAudience() []string                  { return []string{a.clientID} }
func (a *authReq) GetAuthTime() time.Time                 { return a.authTime }
func (a *authReq) GetClientID() string                    { return a.clientID }
func (a *authReq) GetCodeChallenge() *zoidc.CodeChallenge { return a.challenge }
func (a *authReq) GetNonce() string                       { return a.nonce }
func (a *authReq) GetRedirectURI() string                 { return a.redirect }
func (a *authReq) GetResponseType() zoidc.ResponseType    { return zoidc.ResponseTypeCode }
func (a *authReq) GetResponseMode() zoidc.ResponseMode    { return "" }
func (a *authReq) GetScopes() []string                    { return a.scopes }
func (a *authReq) GetState() string                       { return a.state }
func (a *authReq) GetSubject() string                     { return a.subject }
func (a *authReq) Done() bool                             { return a.done }

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ *signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

// storage is what the op package asks of a provider, kept in memory.
type storage struct {
	mu      sync.Mutex
	users   map[string]*User // by username
	clients map[string]*client
	reqs    map[string]*authReq
	codes   map[string]string
	key     *signingKey
	n       int
}

var _ op.Storage = (*storage)(nil)

func (s *storage) newID(prefix string) string {
	s.n++
	return fmt.Sprintf("%s-%d", prefix, s.n)
}

func (s *storage) CreateAuthRequest(_ context.Context, r *zoidc.AuthRequest, userID string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &authReq{id: s.newID("req"), clientID: r.ClientID, redirect: r.RedirectURI, state: r.State, nonce: r.Nonce,
		scopes: r.Scopes, subject: userID}
	if r.CodeChallenge != "" {
		a.challenge = &zoidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	s.reqs[a.id] = a
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.reqs[id]
	if !ok {
		return nil, errors.New("request not found")
	}
	return a, nil
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("code invalid or used")
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.reqs, id)
	for c, r := range s.codes {
		if r == id {
			delete(s.codes, c)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newID("at"), time.Now().Add(5 * time.Minute), nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("no refresh tokens here")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(context.Context, string, string, string) *zoidc.Error { return nil }

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) { return []op.Key{publicKey{s.key}}, nil }

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("client not found")
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || c.secret != secret {
		return errors.New("wrong client or secret")
	}
	return nil
}

func (s *storage) userBySubject(sub string) *User {
	for _, u := range s.users {
		if u.Subject == sub {
			return u
		}
	}
	return nil
}

func (s *storage) SetUserinfoFromScopes(_ context.Context, info *zoidc.UserInfo, userID, _ string, _ []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userBySubject(userID)
	if u == nil {
		return errors.New("user not found")
	}
	info.Subject, info.PreferredUsername, info.Email = u.Subject, u.Username, u.Email
	for k, v := range u.Claims {
		info.AppendClaims(k, v)
	}
	return nil
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, info *zoidc.UserInfo, _, subject, _ string) error {
	return s.SetUserinfoFromScopes(ctx, info, subject, "", nil)
}

func (s *storage) SetIntrospectionFromToken(context.Context, *zoidc.IntrospectionResponse, string, string, string) error {
	return errors.New("no introspection here")
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("no JWT profile here")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("no JWT profile here")
}

func (s *storage) Health(context.Context) error { return nil }

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<title>Sign in to the test provider</title>
<link rel="icon" href="data:,">
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.ID}}">
<label>User <input name="username"></label>
<label>Password <input name="password" type="password"></label>
<button>Sign in</button>
<button name="cancel" value="1">Cancel</button>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
</form>`))

// login is the provider's sign-in page: the op package leaves it to us.
// Cancel answers the application with access_denied, as providers do when
// a person declines.
func (s *storage) login(p *op.Provider) http.HandlerFunc {
	callback := op.AuthCallbackURL(p)
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			loginPage.Execute(w, map[string]string{"ID": r.FormValue("authRequestID")})
			return
		}
		id := r.FormValue("id")
		s.mu.Lock()
		u, a := s.users[r.FormValue("username")], s.reqs[id]
		if a != nil && r.FormValue("cancel") != "" {
			s.mu.Unlock()
			op.AuthRequestError(w, r, a, zoidc.ErrAccessDenied().WithDescription("the person declined to sign in"), p)
			return
		}
		ok := u != nil && a != nil && u.Password == r.FormValue("password")
		if ok {
			a.subject, a.done, a.authTime = u.Subject, true, time.Now()
		}
		s.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			loginPage.Execute(w, map[string]string{"ID": id, "Error": "wrong user or password"})
			return
		}
		http.Redirect(w, r, callback(r.Context(), id), http.StatusFound)
	}
}

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is its issuer URL (http on loopback).
	Issuer string
	s      *storage
}

// Start runs a provider on a loopback httptest server until tb ends.
func Start(tb testing.TB) *Provider {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	s := &storage{users: map[string]*User{}, clients: map[string]*client{}, reqs: map[string]*authReq{},
		codes: map[string]string{}, key: &signingKey{id: "test-key-1", key: k}}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	tb.Cleanup(srv.Close)
	var crypto [32]byte
	rand.Read(crypto[:])
	provider, err := op.NewProvider(&op.Config{CryptoKey: crypto, CodeMethodS256: true}, s, op.StaticIssuer(srv.URL),
		op.WithAllowInsecure()) // http, on loopback
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/login", op.NewIssuerInterceptor(provider.IssuerFromRequest).HandlerFunc(s.login(provider)))
	mux.Handle("/", provider)
	handler = mux
	return &Provider{Issuer: srv.URL, s: s}
}

// AddClient registers an application (a confidential web client that
// authenticates with HTTP basic) and the redirect URLs it may use.
func (p *Provider) AddClient(id, secret string, redirects ...string) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.s.clients[id] = &client{id: id, secret: secret, redirects: redirects}
}

// AddUser adds (or replaces) a person, by user name.
func (p *Provider) AddUser(u User) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.s.users[u.Username] = &u
}

// SetClaims changes a person's extra claims (their groups change at the
// provider); the next token carries the new ones.
func (p *Provider) SetClaims(username string, claims map[string]any) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if u := p.s.users[username]; u != nil {
		u.Claims = claims
	}
}

// Browser is an HTTP client with a cookie jar that follows redirects, as a
// browser would (the jar does not apply SameSite: tests check the flags).
func Browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

var idField = regexp.MustCompile(`name="id" value="([^"]+)"`)

// IsLogin reports whether u is the provider's login page for an
// authorization request.
func (p *Provider) IsLogin(u *url.URL) bool {
	return u.Scheme+"://"+u.Host == p.Issuer && u.Path == "/login" && u.Query().Get("authRequestID") != ""
}

// Login posts the login form of page (the provider's login page, as read
// by b) with a user name and password; b then follows the provider's
// redirect back to the application unless its CheckRedirect stops it.
func (p *Provider) Login(b *http.Client, page []byte, username, password string) (*http.Response, error) {
	return p.submit(b, page, url.Values{"username": {username}, "password": {password}})
}

// Cancel presses the login form's Cancel: the provider answers the
// application with error=access_denied.
func (p *Provider) Cancel(b *http.Client, page []byte) (*http.Response, error) {
	return p.submit(b, page, url.Values{"cancel": {"1"}})
}

func (p *Provider) submit(b *http.Client, page []byte, v url.Values) (*http.Response, error) {
	m := idField.FindSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("no login form with an authorization request id in:\n%s", page)
	}
	v.Set("id", html.UnescapeString(string(m[1])))
	return b.PostForm(p.Issuer+"/login", v)
}
