package oidc

// A real OpenID provider for the tests: zitadel/oidc's op package (the
// protocol: discovery, authorize, token, keys, signing) over the smallest
// storage it needs, kept in memory, with a login page that checks a
// password. Nothing of the protocol is faked.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// idpUser is a person at the provider.
type idpUser struct {
	subject, password, username, email string
	claims                             map[string]any
}

// idpClient is an application registered at the provider.
type idpClient struct {
	id, secret string
	redirects  []string
}

func (c *idpClient) GetID() string                       { return c.id }
func (c *idpClient) RedirectURIs() []string              { return c.redirects }
func (c *idpClient) PostLogoutRedirectURIs() []string    { return nil }
func (c *idpClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *idpClient) AuthMethod() zoidc.AuthMethod        { return zoidc.AuthMethodBasic }
func (c *idpClient) ResponseTypes() []zoidc.ResponseType {
	return []zoidc.ResponseType{zoidc.ResponseTypeCode}
}
func (c *idpClient) GrantTypes() []zoidc.GrantType       { return []zoidc.GrantType{zoidc.GrantTypeCode} }
func (c *idpClient) LoginURL(id string) string           { return "/login?authRequestID=" + id }
func (c *idpClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *idpClient) IDTokenLifetime() time.Duration      { return 5 * time.Minute }

// DevMode admits the http:// redirect of the test's console.
func (c *idpClient) DevMode() bool { return true }
func (c *idpClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *idpClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *idpClient) IsScopeAllowed(scope string) bool { return scope == "groups" }

// IDTokenUserinfoClaimsAssertion puts profile claims in the ID token, as
// Keycloak and Entra ID do.
func (c *idpClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *idpClient) ClockSkew() time.Duration             { return 0 }

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

// idp is the provider's storage and its login page.
type idp struct {
	mu      sync.Mutex
	users   map[string]*idpUser // by username
	clients map[string]*idpClient
	reqs    map[string]*authReq
	codes   map[string]string
	key     *signingKey
	n       int
}

var _ op.Storage = (*idp)(nil)

func (s *idp) newID(prefix string) string {
	s.n++
	return fmt.Sprintf("%s-%d", prefix, s.n)
}

func (s *idp) CreateAuthRequest(_ context.Context, r *zoidc.AuthRequest, userID string) (op.AuthRequest, error) {
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

func (s *idp) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.reqs[id]
	if !ok {
		return nil, errors.New("request not found")
	}
	return a, nil
}

func (s *idp) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("code invalid or used")
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *idp) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *idp) DeleteAuthRequest(_ context.Context, id string) error {
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

func (s *idp) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newID("at"), time.Now().Add(5 * time.Minute), nil
}

func (s *idp) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("no refresh tokens here")
}

func (s *idp) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *idp) TerminateSession(context.Context, string, string) error { return nil }

func (s *idp) RevokeToken(context.Context, string, string, string) *zoidc.Error { return nil }

func (s *idp) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *idp) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *idp) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *idp) KeySet(context.Context) ([]op.Key, error) { return []op.Key{publicKey{s.key}}, nil }

func (s *idp) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("client not found")
	}
	return c, nil
}

func (s *idp) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || c.secret != secret {
		return errors.New("wrong client or secret")
	}
	return nil
}

func (s *idp) userBySubject(sub string) *idpUser {
	for _, u := range s.users {
		if u.subject == sub {
			return u
		}
	}
	return nil
}

func (s *idp) SetUserinfoFromScopes(_ context.Context, info *zoidc.UserInfo, userID, _ string, _ []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userBySubject(userID)
	if u == nil {
		return errors.New("user not found")
	}
	info.Subject, info.PreferredUsername, info.Email = u.subject, u.username, u.email
	for k, v := range u.claims {
		info.AppendClaims(k, v)
	}
	return nil
}

func (s *idp) SetUserinfoFromToken(ctx context.Context, info *zoidc.UserInfo, _, subject, _ string) error {
	return s.SetUserinfoFromScopes(ctx, info, subject, "", nil)
}

func (s *idp) SetIntrospectionFromToken(context.Context, *zoidc.IntrospectionResponse, string, string, string) error {
	return errors.New("no introspection here")
}

func (s *idp) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *idp) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("no JWT profile here")
}

func (s *idp) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("no JWT profile here")
}

func (s *idp) Health(context.Context) error { return nil }

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<title>Sign in to the test provider</title>
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.ID}}">
<label>User <input name="username"></label>
<label>Password <input name="password" type="password"></label>
<button>Sign in</button>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
</form>`))

// login is the provider's sign-in page: the op package leaves it to us.
func (s *idp) login(callback func(context.Context, string) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			loginPage.Execute(w, map[string]string{"ID": r.FormValue("authRequestID")})
			return
		}
		id := r.FormValue("id")
		s.mu.Lock()
		u, a := s.users[r.FormValue("username")], s.reqs[id]
		ok := u != nil && a != nil && u.password == r.FormValue("password")
		if ok {
			a.subject, a.done, a.authTime = u.subject, true, time.Now()
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

// startIDP runs a provider on a loopback httptest server and returns its
// issuer URL and storage (to register clients and users).
func startIDP(t *testing.T) (string, *idp) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &idp{users: map[string]*idpUser{}, clients: map[string]*idpClient{}, reqs: map[string]*authReq{},
		codes: map[string]string{}, key: &signingKey{id: "test-key-1", key: k}}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	var crypto [32]byte
	rand.Read(crypto[:])
	provider, err := op.NewProvider(&op.Config{CryptoKey: crypto, CodeMethodS256: true}, s, op.StaticIssuer(srv.URL),
		op.WithAllowInsecure()) // http, on loopback
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/login", op.NewIssuerInterceptor(provider.IssuerFromRequest).HandlerFunc(s.login(op.AuthCallbackURL(provider))))
	mux.Handle("/", provider)
	handler = mux
	return srv.URL, s
}
