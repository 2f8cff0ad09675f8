package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/auth/oidc"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/internal/oidctest"
)

// ssoRig is a console whose single sign-on goes to a real OpenID provider
// (internal/oidctest). The console is served at base, a URL known before
// the console is built, because the provider must know its callback.
type ssoRig struct {
	*rig
	idp  *oidctest.Provider
	base string
}

func newSSORig(t *testing.T, tweak func(*Deps)) *ssoRig {
	t.Helper()
	idp := oidctest.Start(t)
	var h http.Handler
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(front.Close)
	callback := front.URL + "/login/oidc/callback"
	idp.AddClient("riposte", "riposte-client-secret", callback)
	c := config.OIDC{Issuer: idp.Issuer, ClientID: "riposte", ClientSecret: "riposte-client-secret", RedirectURL: callback,
		Scopes: []string{"profile", "email", "groups"}, RoleClaim: "groups",
		Roles: []config.OIDCRole{{Value: "soc-analysts", Role: "analyst"}, {Value: "soc-admins", Role: "admin"}}}
	cfg := config.Default()
	cfg.Console.OIDC = c
	if ps := cfg.Validate(map[string]int{}); len(ps) > 0 {
		t.Fatalf("console.oidc does not validate: %v", ps)
	}
	rp, err := oidc.New(oidc.FromConfig(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, func(d *Deps) {
		d.OIDC = rp
		if tweak != nil {
			tweak(d)
		}
	})
	h = r.srv.Config.Handler
	idp.AddUser(oidctest.User{Subject: "sub-alice", Password: "alice-at-idp", Username: "alice", Email: "alice@example.com",
		Claims: map[string]any{"groups": []string{"soc-analysts", "staff"}}})
	idp.AddUser(oidctest.User{Subject: "sub-carol", Password: "carol-at-idp", Username: "carol", Email: "carol@example.com",
		Claims: map[string]any{"groups": []string{"marketing"}}})
	return &ssoRig{rig: r, idp: idp, base: front.URL}
}

// trip is a browser's way through a sign-in: every answer it saw.
type trip struct {
	answers []*http.Response
}

// browser follows redirects like a browser and keeps every answer on the
// way (the redirects too, to look at their cookies).
func (tr *trip) browser() *http.Client {
	b := oidctest.Browser()
	b.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		tr.answers = append(tr.answers, req.Response)
		return nil
	}
	return b
}

// first is the console's answer to the sign-in link.
func (tr *trip) first() *http.Response { return tr.answers[0] }

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// toProvider follows the console's sign-in link to the provider's login
// page and returns that page.
func (s *ssoRig) toProvider(t *testing.T, b *http.Client, next string) []byte {
	t.Helper()
	res, err := b.Get(s.base + "/login/oidc?next=" + url.QueryEscape(next))
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, res)
	if !s.idp.IsLogin(res.Request.URL) {
		t.Fatalf("the sign-in link led to %s (%s), not the provider's login page: %s", res.Request.URL, res.Status, page)
	}
	return []byte(page)
}

// signIn goes from the console's sign-in link through the provider's
// login form and back to the console's callback, and returns its answer.
func (s *ssoRig) signIn(t *testing.T, tr *trip, b *http.Client, next, user, password string) (*http.Response, string) {
	t.Helper()
	page := s.toProvider(t, b, next)
	res, err := s.idp.Login(b, page, user, password)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, res)
	if res.Request.URL.Path != "/login/oidc/callback" {
		t.Fatalf("the provider's login ended at %s (%s), not the console's callback: %s", res.Request.URL, res.Status, body)
	}
	return res, body
}

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var refreshTo = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]+)">`)

// The whole authorization code flow with PKCE through the console's own
// routes: the person ends signed in with the role their groups give and
// works in the console; the sign-in is audited with their name.
func TestOIDCSignIn(t *testing.T) {
	s := newSSORig(t, nil)
	s.raise("ssh-brute", "high", "web-07", "203.0.113.9", t0)

	_, login := s.anon().get("/login")
	contains(t, login, `href="/login/oidc?next=%2f"`, "Sign in with single sign-on")

	var tr trip
	b := tr.browser()
	res, body := s.signIn(t, &tr, b, "/?q=web-07", "alice", "alice-at-idp")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("callback: %s: %s", res.Status, body)
	}

	// The sign-in link: to the provider, with a PKCE challenge and the
	// state, never the verifier, which waits in a cookie for the callback.
	first := tr.first()
	if first.StatusCode != http.StatusFound {
		t.Fatalf("sign-in link: %s, want a redirect to the provider", first.Status)
	}
	to, _ := first.Location()
	ck := cookieNamed(first.Cookies(), "riposte_oidc")
	if ck == nil {
		t.Fatal("the sign-in link set no riposte_oidc cookie")
	}
	if !strings.HasPrefix(to.String(), s.idp.Issuer+"/") || to.Query().Get("code_challenge_method") != "S256" ||
		to.Query().Get("code_challenge") == "" || to.Query().Get("state") == "" ||
		!strings.HasPrefix(ck.Value, to.Query().Get("state")+".") {
		t.Errorf("sign-in link went to %s with cookie %q: want the provider, an S256 challenge and the cookie's state", to, ck.Value)
	}
	if verifier := strings.Split(ck.Value, ".")[1]; strings.Contains(to.String(), verifier) {
		t.Errorf("the PKCE verifier %s left for the provider: %s", verifier, to)
	}

	// The callback: a session cookie (Strict) and the attempt's cookie
	// gone, and a same-site page that moves on to where the person was
	// going.
	sess := cookieNamed(res.Cookies(), sessionCookie)
	if sess == nil || sess.Value == "" || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" {
		t.Errorf("session cookie after single sign-on: %+v; want HttpOnly, SameSite=Strict, Path=/", sess)
	}
	if gone := cookieNamed(res.Cookies(), "riposte_oidc"); gone == nil || gone.MaxAge >= 0 || gone.Path != "/login/oidc" {
		t.Errorf("the attempt's cookie was not deleted by the callback: %+v", gone)
	}
	m := refreshTo.FindStringSubmatch(body)
	if m == nil || m[1] != "/?q=web-07" || !strings.Contains(body, `<a href="/?q=web-07">`) {
		t.Fatalf("callback page does not move on to /?q=web-07: %s", body)
	}

	// Signed in as alice, an analyst from the claim, in the queue.
	resp, err := b.Get(s.base + m[1])
	if err != nil {
		t.Fatal(err)
	}
	queue := readBody(t, resp)
	if resp.Request.URL.Path != "/" || resp.StatusCode != http.StatusOK {
		t.Fatalf("after single sign-on the queue answered %s at %s", resp.Status, resp.Request.URL)
	}
	contains(t, queue, `alice <span class="role">(analyst)</span>`, "web-07", `name="csrf-token"`)

	ctx := context.Background()
	u, err := s.users.Get(ctx, "alice")
	if err != nil || u.Role != auth.Analyst || u.Source != "oidc:"+s.idp.Issuer {
		t.Errorf("alice in Riposte: %+v, %v; want an analyst from oidc:%s", u, err, s.idp.Issuer)
	}

	// The provider takes her into soc-admins: her next sign-in is an admin.
	s.idp.SetClaims("alice", map[string]any{"groups": []string{"soc-admins"}})
	var tr2 trip
	b2 := tr2.browser()
	if res, body := s.signIn(t, &tr2, b2, "/", "alice", "alice-at-idp"); res.StatusCode != http.StatusOK {
		t.Fatalf("alice again: %s: %s", res.Status, body)
	}
	resp, err = b2.Get(s.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	contains(t, readBody(t, resp), `alice <span class="role">(admin)</span>`)

	es, err := audit.New(s.db).List(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		if strings.Contains(e.Actor+e.Target, "alice") {
			if strings.HasPrefix(e.Target, "session:") {
				e.Target = "session:*"
			}
			got = append(got, e.Actor+" "+e.Action+" "+e.Target)
		}
	}
	src := "oidc:" + s.idp.Issuer
	if want := []string{src + " user.create user:alice", "user:alice session.start session:*",
		src + " user.role user:alice", "user:alice session.start session:*"}; !slices.Equal(got, want) {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The attempt's cookie is HttpOnly, SameSite=Lax (it must come back on the
// provider's cross-site redirect), scoped to the sign-in routes, short
// lived, and Secure under TLS.
func TestOIDCCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		s := newSSORig(t, func(d *Deps) { d.Secure = secure })
		res, _ := s.anon().get("/login/oidc?next=/rules")
		ck := cookieNamed(res.Cookies(), "riposte_oidc")
		if res.StatusCode != http.StatusFound || ck == nil {
			t.Fatalf("secure=%v: %s with cookies %v", secure, res.Status, res.Cookies())
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/login/oidc" || ck.MaxAge != 600 || ck.Secure != secure {
			t.Errorf("secure=%v: cookie %+v; want HttpOnly, SameSite=Lax, Path=/login/oidc, Max-Age=600, Secure=%v", secure, ck, secure)
		}
	}
}

// A callback whose state is not the one this browser was given is refused
// and starts no session: a stranger's code cannot sign the person in as
// the stranger, and an attempt is used once.
func TestOIDCStateRefused(t *testing.T) {
	s := newSSORig(t, nil)
	// stopAtCallback gets the provider's redirect back with its code and
	// state, without following it.
	stopAtCallback := func(t *testing.T, b *http.Client) url.Values {
		t.Helper()
		b.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == "/login/oidc/callback" {
				return http.ErrUseLastResponse
			}
			return nil
		}
		res, err := s.idp.Login(b, s.toProvider(t, b, "/"), "alice", "alice-at-idp")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, err := res.Location()
		if err != nil || loc.Query().Get("code") == "" {
			t.Fatalf("the provider did not send a code back: %s %v", res.Status, err)
		}
		return loc.Query()
	}
	for _, c := range []struct {
		what  string
		query func(q url.Values, b *http.Client) (url.Values, *http.Client)
	}{
		{"another state", func(q url.Values, b *http.Client) (url.Values, *http.Client) {
			q.Set("state", q.Get("state")[:10]+"tampered")
			return q, b
		}},
		{"no state", func(q url.Values, b *http.Client) (url.Values, *http.Client) {
			q.Del("state")
			return q, b
		}},
		{"the right state in another browser (no attempt cookie)", func(q url.Values, _ *http.Client) (url.Values, *http.Client) {
			return q, oidctest.Browser()
		}},
	} {
		t.Run(c.what, func(t *testing.T) {
			b := oidctest.Browser()
			q := stopAtCallback(t, b)
			q2, b2 := c.query(url.Values{"code": {q.Get("code")}, "state": {q.Get("state")}}, b)
			b2.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			res, err := b2.Get(s.base + "/login/oidc/callback?" + q2.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, res)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "has expired or did not start in this browser") {
				t.Errorf("%s: %s: %s", c.what, res.Status, body)
			}
			if ck := cookieNamed(res.Cookies(), sessionCookie); ck != nil {
				t.Errorf("%s: a session cookie was set: %+v", c.what, ck)
			}
			if res, _ := (&client{t: t, base: s.base, hc: b2}).get("/"); res.StatusCode != http.StatusSeeOther {
				t.Errorf("%s: the queue answered %s, want the way to sign-in", c.what, res.Status)
			}
			if b2 != b {
				return // the first browser's attempt was not touched
			}
			// The attempt is spent: even the right state does not work now.
			res, err = b.Get(s.base + "/login/oidc/callback?" + url.Values{"code": {q.Get("code")}, "state": {q.Get("state")}}.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if body := readBody(t, res); res.StatusCode != http.StatusBadRequest {
				t.Errorf("%s, then the right state: %s: %s", c.what, res.Status, body)
			}
		})
	}
}

// People the provider vouches for but Riposte does not admit, and a
// provider that answers with an error, are told why on the sign-in page,
// as text.
func TestOIDCRefused(t *testing.T) {
	s := newSSORig(t, nil)
	ctx := context.Background()
	// bob signs in once, then an administrator disables him.
	s.idp.AddUser(oidctest.User{Subject: "sub-bob", Password: "bob-at-idp", Username: "bob",
		Claims: map[string]any{"groups": []string{"soc-analysts"}}})
	var tr trip
	if res, body := s.signIn(t, &tr, tr.browser(), "/", "bob", "bob-at-idp"); res.StatusCode != http.StatusOK {
		t.Fatalf("bob: %s: %s", res.Status, body)
	}
	if err := s.users.SetDisabled(ctx, "bob", true, "test"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, user, password string
		cancel               bool
		status               int
		says                 string
	}{
		{"no group that maps to a role", "carol", "carol-at-idp", false, http.StatusForbidden, "none of your groups or roles there gives you a role in Riposte"},
		{"disabled in Riposte", "bob", "bob-at-idp", false, http.StatusForbidden, "Your Riposte account is disabled"},
		{"declined at the provider", "", "", true, http.StatusUnauthorized, "The identity provider did not sign you in: access_denied (the person declined to sign in)"},
	} {
		t.Run(c.what, func(t *testing.T) {
			var tr trip
			b := tr.browser()
			page := s.toProvider(t, b, "/rules")
			var res *http.Response
			var err error
			if c.cancel {
				res, err = s.idp.Cancel(b, page)
			} else {
				res, err = s.idp.Login(b, page, c.user, c.password)
			}
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, res)
			if res.Request.URL.Path != "/login/oidc/callback" || res.StatusCode != c.status || !strings.Contains(body, c.says) {
				t.Fatalf("%s at %s: %s: %s\nwant %d saying %q", c.what, res.Request.URL.Path, res.Status, body, c.status, c.says)
			}
			// The sign-in page again, keeping where the person was going.
			contains(t, body, `<form method="post" action="/login">`, `name="next" value="/rules"`)
			if ck := cookieNamed(res.Cookies(), sessionCookie); ck != nil {
				t.Errorf("a refused sign-in set a session cookie: %+v", ck)
			}
		})
	}
	if _, err := s.users.Get(ctx, "carol"); err == nil {
		t.Error("carol, who has no role, was kept as a user")
	}
}

// What the provider's error says reaches the page as text only, and only
// for this browser's own attempt.
func TestOIDCProviderErrorEscaped(t *testing.T) {
	s := newSSORig(t, nil)
	b := oidctest.Browser()
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := b.Get(s.base + "/login/oidc?next=/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	to, err := res.Location()
	if err != nil {
		t.Fatal(err)
	}
	hostile := `<script>alert(1)</script>"><img src=x onerror=alert(1)>`
	q := url.Values{"state": {to.Query().Get("state")}, "error": {"access_denied"}, "error_description": {hostile}}
	res, err = b.Get(s.base + "/login/oidc/callback?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, res)
	if res.StatusCode != http.StatusUnauthorized || strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") ||
		!strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("provider error with markup: %s: %s", res.Status, body)
	}
	// Without the attempt's state, the words are not shown at all.
	q.Set("state", "made-up")
	res, _ = s.anon().get("/login/oidc/callback?" + q.Encode())
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("provider error without the attempt: %s", res.Status)
	}
}

// A provider that cannot be reached is said so on the sign-in page.
func TestOIDCProviderDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	rp, err := oidc.New(oidc.Config{Issuer: down.URL, ClientID: "riposte", RedirectURL: "http://127.0.0.1:1/login/oidc/callback"})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, func(d *Deps) { d.OIDC = rp })
	res, body := r.anon().get("/login/oidc?next=/")
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(body, "The identity provider cannot be reached") {
		t.Errorf("provider down: %s: %s", res.Status, body)
	}
	if ck := cookieNamed(res.Cookies(), "riposte_oidc"); ck != nil {
		t.Errorf("an attempt cookie although the provider is down: %+v", ck)
	}
	// Without single sign-on configured there are no such routes nor link.
	plain := newRig(t, nil)
	if res, _ := plain.anon().get("/login/oidc"); res.StatusCode == http.StatusFound {
		t.Errorf("/login/oidc without single sign-on: %s", res.Status)
	}
	if _, body := plain.anon().get("/login"); strings.Contains(body, "/login/oidc") {
		t.Error("the sign-in page offers single sign-on that is not configured")
	}
}

func TestRefreshTarget(t *testing.T) {
	for in, want := range map[string]string{
		"/":                             "/",
		"/?q=web-07":                    "/?q=web-07",
		"/incidents/01J?tab=alerts&x=1": "/incidents/01J?tab=alerts&x=1",
		"//evil.example/":               "/",
		"/\\evil.example":               "/",
		"https://evil.example/":         "/",
		`/a";url=javascript:alert(1)`:   "/a%22;url=javascript:alert%281%29",
		"/a b'c":                        "/a%20b%27c",
		"/x?u='1'":                      "/x?u=%271%27",
	} {
		if got := refreshTarget(in); got != want {
			t.Errorf("refreshTarget(%q) = %q, want %q", in, got, want)
		}
	}
}
