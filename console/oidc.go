package console

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/auth/oidc"
)

// Single sign-on: /login/oidc sends the browser to the provider and
// /login/oidc/callback brings it back (package auth/oidc does the protocol).

const (
	oidcCookie = "riposte_oidc"
	oidcPath   = "/login/oidc"
	// oidcAttempt is how long a person may take at the provider's login.
	oidcAttempt = 10 * time.Minute
)

func (c *Console) oidcRoutes() []route {
	if c.d.OIDC == nil {
		return nil
	}
	return []route{
		{"GET", oidcPath, public, c.oidcStart},
		{"GET", oidcPath + "/callback", public, c.oidcCallback},
	}
}

// oidcStart begins a sign-in attempt. Its state and PKCE verifier wait for
// the callback in a cookie only the callback path receives: SameSite=Lax,
// because the callback is a top-level navigation from the provider's site
// (Strict would leave it behind), and HttpOnly so no script reads the
// verifier.
func (c *Console) oidcStart(w http.ResponseWriter, r *http.Request, v *viewer) {
	next := localPath(r.URL.Query().Get("next"))
	if v != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	st, err := c.d.OIDC.Start(r.Context())
	if err != nil {
		c.d.Log.Warn("console single sign-on", "err", err)
		c.oidcRefused(w, r, http.StatusBadGateway, "The identity provider cannot be reached: "+err.Error(), next)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Path: oidcPath, MaxAge: int(oidcAttempt / time.Second),
		Value:    st.State + "." + st.Verifier + "." + base64.RawURLEncoding.EncodeToString([]byte(next)),
		HttpOnly: true, Secure: c.d.Secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, st.URL, http.StatusFound)
}

// attempt reads the sign-in attempt oidcStart left in its cookie.
func attempt(r *http.Request) (state, verifier, next string, ok bool) {
	ck, err := r.Cookie(oidcCookie)
	if err != nil {
		return "", "", "/", false
	}
	parts := strings.Split(ck.Value, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", "/", false
	}
	n, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", "", "/", false
	}
	return parts[0], parts[1], localPath(string(n)), true
}

// oidcCallback ends the attempt: the state must be the one this browser
// was given (else a stranger's code could sign the person in as the
// stranger), then the code is traded for the ID token and a session
// starts.
func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request, _ *viewer) {
	q := r.URL.Query()
	state, verifier, next, ok := attempt(r)
	// One use only, whatever the outcome.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: oidcPath, MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, Secure: c.d.Secure, SameSite: http.SameSiteLaxMode})
	if !ok || subtle.ConstantTimeCompare([]byte(state), []byte(q.Get("state"))) != 1 {
		c.oidcRefused(w, r, http.StatusBadRequest,
			"This single sign-on attempt has expired or did not start in this browser. Sign in again.", next)
		return
	}
	// Only after the state matched: otherwise anyone could put words of
	// their choosing on the sign-in page through a link.
	if e := q.Get("error"); e != "" {
		msg := "The identity provider did not sign you in: " + clip(e, 100)
		if d := q.Get("error_description"); d != "" {
			msg += " (" + clip(d, 300) + ")"
		}
		c.oidcRefused(w, r, http.StatusUnauthorized, msg, next)
		return
	}
	if c.d.Users == nil {
		c.oidcRefused(w, r, http.StatusServiceUnavailable, "Sign-in is not available on this node.", next)
		return
	}
	u, err := c.d.OIDC.SignIn(r.Context(), c.d.Users, q.Get("code"), verifier)
	if err != nil {
		c.d.Log.Warn("console single sign-on refused", "issuer", c.d.OIDC.Issuer(), "err", err)
		status, msg := http.StatusBadGateway, "Single sign-on failed: "+err.Error()
		switch {
		case errors.Is(err, oidc.ErrNoRole):
			status, msg = http.StatusForbidden, "The identity provider signed you in, but none of your groups or roles there gives you a role in Riposte. Ask an administrator to map one (console.oidc.roles)."
		case errors.Is(err, auth.ErrDisabled):
			status, msg = http.StatusForbidden, "Your Riposte account is disabled. Ask an administrator."
		case errors.Is(err, auth.ErrUserExists):
			status, msg = http.StatusForbidden, "Single sign-on refused: "+err.Error()
		case errors.Is(err, oidc.ErrNonce):
			status = http.StatusForbidden
		}
		c.oidcRefused(w, r, status, msg, next)
		return
	}
	if !c.setSession(w, r, u) {
		return
	}
	// A page rather than a redirect: the browser would not send the new
	// SameSite=Strict session cookie along a redirect chain that began on
	// the provider's site, and the person would land on the sign-in page.
	var buf bytes.Buffer
	if err := signedIn.Execute(&buf, refreshTarget(next)); err != nil {
		c.d.Log.Error("console render", "page", "signed-in", "err", err)
		http.Error(w, "the page could not be drawn; the server log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// signedIn moves on by itself (no script: the policy forbids inline
// script, and a refresh needs none) and offers the link for the rest.
var signedIn = template.Must(template.New("signed-in").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="0;url={{.}}">
<title>Signed in · Riposte</title>
<link rel="stylesheet" href="/assets/console.css">
</head>
<body>
<main id="main"><p>Signed in. <a href="{{.}}">Continue to Riposte</a></p></main>
</body>
</html>
`))

// refreshTarget re-encodes a local path for the refresh header's URL, where
// quotes, spaces or a second "url=" would otherwise change its meaning.
func refreshTarget(next string) string {
	u, err := url.Parse(localPath(next))
	if err != nil {
		return "/"
	}
	s := u.EscapedPath()
	if u.RawQuery != "" {
		s += "?" + u.Query().Encode()
	}
	return localPath(s)
}

// oidcRefused shows why on the sign-in page, as text.
func (c *Console) oidcRefused(w http.ResponseWriter, r *http.Request, status int, msg, next string) {
	c.render(w, r, status, "login", view{Title: "Sign in", Error: msg, Page: loginPage{Next: next, OIDC: true}})
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
