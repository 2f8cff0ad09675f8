package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/internal/oidctest"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/secret"
	"github.com/riposte-soar/riposte/store"
)

// lab is a provider, a control database, and a stand-in for the console's
// two routes, written as the console uses this package.
type lab struct {
	issuer  string
	idp     *oidctest.Provider
	console *httptest.Server
	users   *auth.Users
	secrets *secret.Store
	audit   *audit.Log
	rp      *OIDC // the console's provider, set once the console's URL is known
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{}
	l.idp = oidctest.Start(t)
	l.issuer = l.idp.Issuer
	db, err := store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l.users = auth.NewUsers(db, auth.UserOptions{Hash: auth.HashParams{Memory: 1024, Time: 1, Threads: 1}})
	l.audit = audit.New(db)
	if l.secrets, err = secret.New(db, make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oidc", func(w http.ResponseWriter, r *http.Request) {
		st, err := l.rp.Start(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "riposte_oidc", Value: st.State + "." + st.Verifier, Path: "/login/oidc",
			HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 600})
		http.Redirect(w, r, st.URL, http.StatusFound)
	})
	mux.HandleFunc("GET /login/oidc/callback", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("riposte_oidc")
		state, verifier, _ := strings.Cut(func() string {
			if err != nil {
				return ""
			}
			return c.Value
		}(), ".")
		if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(r.FormValue("state"))) != 1 {
			http.Error(w, "state mismatch", http.StatusBadRequest)
			return
		}
		u, err := l.rp.SignIn(r.Context(), l.users, r.FormValue("code"), verifier)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		if _, _, err := l.users.StartSession(r.Context(), u, r.RemoteAddr); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(u)
	})
	l.console = httptest.NewServer(mux)
	t.Cleanup(l.console.Close)
	l.idp.AddClient("riposte", "riposte-client-secret", l.callback())
	if err := l.secrets.Set(context.Background(), "oidc/riposte", []byte("riposte-client-secret"), "cli"); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *lab) callback() string { return l.console.URL + "/login/oidc/callback" }

// rpConfig is riposte.yaml's console.oidc, as an operator writes it.
func (l *lab) rpConfig() config.OIDC {
	return config.OIDC{Issuer: l.issuer, ClientID: "riposte", ClientSecret: "secret://oidc/riposte", RedirectURL: l.callback(),
		Scopes: []string{"profile", "email", "groups"}, RoleClaim: "groups",
		Roles: []config.OIDCRole{{Value: "soc-analysts", Role: "analyst"}, {Value: "soc-admins", Role: "admin"}}}
}

func (l *lab) setRP(t *testing.T, c config.OIDC) {
	t.Helper()
	cfg := config.Default()
	cfg.Console.OIDC = c
	if ps := cfg.Validate(map[string]int{}); len(ps) > 0 {
		t.Fatalf("console.oidc does not validate: %v", ps)
	}
	rp, err := New(FromConfig(c, l.secrets))
	if err != nil {
		t.Fatal(err)
	}
	l.rp = rp
}

func (l *lab) addUser(u oidctest.User) { l.idp.AddUser(u) }

// signIn drives the browser: the console's sign-in link, the provider's
// login form, and back to the console's callback. It returns the last
// answer's status and body.
func (l *lab) signIn(t *testing.T, username, password string) (int, string) {
	t.Helper()
	b := oidctest.Browser()
	resp, err := b.Get(l.console.URL + "/login/oidc")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !l.idp.IsLogin(resp.Request.URL) {
		t.Fatalf("the sign-in link led to %s (%d), not the provider's login page: %s", resp.Request.URL, resp.StatusCode, page)
	}
	resp, err = l.idp.Login(b, page, username, password)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// authorize goes through the provider's login with rp and stops at the
// redirect back, returning the code and the attempt (state, verifier).
func (l *lab) authorize(t *testing.T, rp *OIDC, username, password string) (string, Start) {
	t.Helper()
	st, err := rp.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(st.URL)
	if q := u.Query(); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" ||
		q.Get("state") != st.State || strings.Contains(st.URL, st.Verifier) {
		t.Fatalf("authorization URL %s: want an S256 challenge, a nonce and the state, and never the verifier", st.URL)
	}
	b := oidctest.Browser()
	b.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), rp.cfg.RedirectURL) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := b.Get(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, err = l.idp.Login(b, page, username, password)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("the provider did not redirect back: %d %v", resp.StatusCode, err)
	}
	if loc.Query().Get("state") != st.State || loc.Query().Get("code") == "" {
		t.Fatalf("redirect back %s: want the state and a code", loc)
	}
	return loc.Query().Get("code"), st
}

// rawIDToken redeems a code as Exchange does and returns the ID token as
// the provider signed it.
func rawIDToken(t *testing.T, rp *OIDC, code, verifier, clientSecret string) string {
	t.Helper()
	p, err := rp.discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := rp.oauth(p, clientSecret).Exchange(rp.ctx(context.Background()), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token")
	}
	return raw
}

func TestSignInThroughProvider(t *testing.T) {
	l := newLab(t)
	l.setRP(t, l.rpConfig())
	l.addUser(oidctest.User{Subject: "sub-alice", Password: "alice-at-idp", Username: "alice", Email: "alice@example.com",
		Claims: map[string]any{"groups": []string{"soc-analysts", "soc-admins"}}})
	l.addUser(oidctest.User{Subject: "sub-bob", Password: "bob-at-idp", Username: "bob", Email: "bob@example.com",
		Claims: map[string]any{"groups": []string{"soc-analysts", "staff"}}})
	l.addUser(oidctest.User{Subject: "sub-carol", Password: "carol-at-idp", Username: "carol", Email: "carol@example.com",
		Claims: map[string]any{"groups": []string{"marketing"}}})
	l.addUser(oidctest.User{Subject: "sub-dave", Password: "dave-at-idp", Username: "Dave Smith", Email: "dave.smith@example.com",
		Claims: map[string]any{"groups": []string{"soc-analysts"}}})
	for _, c := range []struct {
		what, username, password string
		status                   int
		name                     string
		role                     auth.Role
		says                     string
	}{
		{"two groups: the higher role", "alice", "alice-at-idp", 200, "alice", auth.Admin, ""},
		{"one mapped group", "bob", "bob-at-idp", 200, "bob", auth.Analyst, ""},
		{"no mapped group and no default role", "carol", "carol-at-idp", 403, "", "", "no Riposte role"},
		{"a user name that is not valid: the e-mail", "Dave Smith", "dave-at-idp", 200, "dave.smith@example.com", auth.Analyst, ""},
		{"wrong password at the provider", "alice", "wrong", 401, "", "", "wrong user or password"},
	} {
		status, body := l.signIn(t, c.username, c.password)
		if status != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %s; want %d saying %q", c.what, status, body, c.status, c.says)
			continue
		}
		if status != 200 {
			continue
		}
		var u auth.User
		if err := json.Unmarshal([]byte(body), &u); err != nil {
			t.Fatalf("%s: %v: %s", c.what, err, body)
		}
		if u.Name != c.name || u.Role != c.role || u.Source != "oidc:"+l.issuer {
			t.Errorf("%s: signed in as %+v; want %s with role %s from oidc:%s", c.what, u, c.name, c.role, l.issuer)
		}
	}
	ctx := context.Background()
	us, _ := l.users.List(ctx)
	var names []string
	for _, u := range us {
		names = append(names, u.Name+"="+string(u.Role))
	}
	if want := []string{"alice=admin", "bob=analyst", "dave.smith@example.com=analyst"}; !slices.Equal(names, want) {
		t.Errorf("users after the sign-ins: %v, want %v", names, want)
	}

	// The provider takes alice out of soc-admins: her next sign-in has
	// the role her claims give now.
	l.idp.SetClaims("alice", map[string]any{"groups": []string{"soc-analysts"}})
	if status, body := l.signIn(t, "alice", "alice-at-idp"); status != 200 || !strings.Contains(body, `"role":"analyst"`) {
		t.Fatalf("alice after losing soc-admins: %d %s", status, body)
	}
	// A disabled user is refused although the provider vouches for them.
	if err := l.users.SetDisabled(ctx, "bob", true, "cli"); err != nil {
		t.Fatal(err)
	}
	if status, body := l.signIn(t, "bob", "bob-at-idp"); status != 403 || !strings.Contains(body, "disabled") {
		t.Fatalf("disabled bob: %d %s", status, body)
	}

	es, _ := l.audit.List(ctx, 0, 100)
	var got []string
	for _, e := range es {
		if strings.HasPrefix(e.Target, "session:") {
			e.Target = "session:*" // a ULID
		}
		if !strings.HasPrefix(e.Target, "secret:") {
			got = append(got, e.Actor+" "+e.Action+" "+e.Target)
		}
	}
	src := "oidc:" + l.issuer
	want := []string{
		src + " user.create user:alice", "user:alice session.start session:*",
		src + " user.create user:bob", "user:bob session.start session:*",
		src + " user.create user:dave.smith@example.com", "user:dave.smith@example.com session.start session:*",
		src + " user.role user:alice", "user:alice session.start session:*",
		"cli user.disable user:bob",
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A string claim of the provider's own (riposte_role) and a default role
// for everyone else.
func TestRoleClaimAndDefault(t *testing.T) {
	l := newLab(t)
	c := l.rpConfig()
	c.RoleClaim, c.DefaultRole = "riposte_role", "viewer"
	c.Roles = []config.OIDCRole{{Value: "responder", Role: "responder"}, {Value: "admin", Role: "admin"}}
	c.Scopes = nil
	l.setRP(t, c)
	l.addUser(oidctest.User{Subject: "s-erin", Password: "erin-at-idp", Username: "erin", Claims: map[string]any{"riposte_role": "responder"}})
	l.addUser(oidctest.User{Subject: "s-frank", Password: "frank-at-idp", Username: "frank"})
	l.addUser(oidctest.User{Subject: "s-gina", Password: "gina-at-idp", Username: "gina", Claims: map[string]any{"riposte_role": "superuser"}})
	for user, role := range map[string]auth.Role{"erin": auth.Responder, "frank": auth.Viewer, "gina": auth.Viewer} {
		status, body := l.signIn(t, user, user+"-at-idp")
		if status != 200 || !strings.Contains(body, `"role":"`+string(role)+`"`) {
			t.Errorf("%s: %d %s; want role %s", user, status, body, role)
		}
	}
}

// What the provider returns is checked: PKCE, the client secret, and the
// ID token's audience, nonce, expiry and signature.
func TestTokensRefused(t *testing.T) {
	l := newLab(t)
	l.setRP(t, l.rpConfig())
	l.addUser(oidctest.User{Subject: "sub-alice", Password: "alice-at-idp", Username: "alice",
		Claims: map[string]any{"groups": []string{"soc-admins"}}})
	// Another application at the same provider, whose tokens are not for us.
	l.idp.AddClient("other-app", "other-secret", l.callback())
	otherCfg := l.rpConfig()
	otherCfg.ClientID, otherCfg.ClientSecret = "other-app", "other-secret"
	other, err := New(FromConfig(otherCfg, l.secrets))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Sanity: a proper exchange succeeds.
	code, st := l.authorize(t, l.rp, "alice", "alice-at-idp")
	id, err := l.rp.Exchange(ctx, code, st.Verifier)
	if err != nil || id.Subject != "sub-alice" || id.Issuer != l.issuer || id.Name != "alice" || id.Role != auth.Admin {
		t.Fatalf("Exchange = %+v, %v", id, err)
	}

	code, st = l.authorize(t, l.rp, "alice", "alice-at-idp")
	if _, err := l.rp.Exchange(ctx, code, st.Verifier+"x"); err == nil || !strings.Contains(err.Error(), "refused the code") {
		t.Errorf("a code redeemed with another PKCE verifier: %v", err)
	}

	code, st = l.authorize(t, l.rp, "alice", "alice-at-idp")
	bad := l.rpConfig()
	bad.ClientSecret = "not-the-secret"
	badRP, _ := New(FromConfig(bad, l.secrets))
	if _, err := badRP.Exchange(ctx, code, st.Verifier); err == nil {
		t.Error("a code redeemed with a wrong client secret was accepted")
	}

	code, st = l.authorize(t, l.rp, "alice", "alice-at-idp")
	ours := rawIDToken(t, l.rp, code, st.Verifier, "riposte-client-secret")
	code, otherSt := l.authorize(t, other, "alice", "alice-at-idp")
	theirs := rawIDToken(t, other, code, otherSt.Verifier, "other-secret")

	if _, err := l.rp.Verify(ctx, ours, nonceFor(st.Verifier)); err != nil {
		t.Fatalf("our own token with its nonce: %v", err)
	}
	late, _ := New(FromConfig(l.rpConfig(), l.secrets))
	late.cfg.Now = func() time.Time { return time.Now().Add(time.Hour) }
	sig := strings.LastIndexByte(ours, '.')
	tampered := ours[:sig+1] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, ours[sig+1:sig+5]) + ours[sig+5:]
	for _, c := range []struct {
		what  string
		rp    *OIDC
		token string
		nonce string
		says  string
	}{
		{"a token for another client (audience)", l.rp, theirs, nonceFor(otherSt.Verifier), "audience"},
		{"our token with another attempt's nonce", l.rp, ours, nonceFor(otherSt.Verifier), "nonce"},
		{"our token without a nonce to expect", l.rp, ours, "", "nonce"},
		{"an expired token", late, ours, nonceFor(st.Verifier), "expired"},
		{"a token whose signature was altered", l.rp, tampered, nonceFor(st.Verifier), "signature"},
		{"not a token", l.rp, "eyJhbGciOiJub25lIn0.e30.", nonceFor(st.Verifier), "refused"},
	} {
		_, err := c.rp.Verify(ctx, c.token, c.nonce)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: Verify = %v, want an error saying %q", c.what, err, c.says)
		}
	}
	if _, err := l.rp.Verify(ctx, ours, nonceFor(otherSt.Verifier)); !errors.Is(err, ErrNonce) {
		t.Errorf("wrong nonce: %v, want ErrNonce", err)
	}
}

// A provider that is down when Riposte starts is reached once it is up;
// its discovery document must name the configured issuer.
func TestDiscovery(t *testing.T) {
	l := newLab(t)
	c := l.rpConfig()
	c.Issuer = l.console.URL // a server that is not this provider
	rp, err := New(FromConfig(c, l.secrets))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Start(context.Background()); err == nil {
		t.Fatal("Start against a server without a discovery document succeeded")
	}
	c = l.rpConfig()
	c.Issuer = l.issuer + "/"
	rp, _ = New(FromConfig(c, l.secrets))
	if err := rp.Discover(context.Background()); err == nil || !strings.Contains(err.Error(), "issuer") {
		t.Fatalf("an issuer that differs from the provider's: %v", err)
	}
	for _, bad := range []Config{
		{ClientID: "x", RedirectURL: "https://r/cb"},
		{Issuer: "https://i", ClientID: "x", RedirectURL: "https://r/cb", ClientSecret: "secret://x"},
		{Issuer: "https://i", ClientID: "x", RedirectURL: "https://r/cb", Roles: []RoleMapping{{Value: "g", Role: auth.Ingest}}},
		{Issuer: "https://i", ClientID: "x", RedirectURL: "https://r/cb", DefaultRole: "root"},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted it", bad)
		}
	}
}
