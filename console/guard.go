package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/riposte-soar/riposte/auth"
)

// route is one console endpoint and the least role that may use it; the
// role matrix test walks this table like the API's.
type route struct {
	Method, Path string
	// Role is the least role; public routes (sign-in, assets) have none.
	Role    auth.Role
	handler func(http.ResponseWriter, *http.Request, *viewer)
}

// public marks the routes reachable without a session (sign-in).
const public auth.Role = ""

// viewer is the signed-in person making a request.
type viewer struct {
	User    auth.User
	Session auth.Session
}

// Actor names the person in the audit log and on timelines.
func (v *viewer) Actor() string { return v.User.Actor() }

// Can reports whether the person's role includes need: templates use it to
// show only the buttons the person may press.
func (v *viewer) Can(need string) bool { return v != nil && v.User.Role.Allows(auth.Role(need)) }

const sessionCookie = "riposte_session"

// maxForm bounds a form's body: the largest is an asset import or a
// playbook pasted into the editor.
const maxForm = 8 << 20

type ctxKey struct{}

// Routes lists the console's routes with their roles (for the role matrix
// test and the docs).
func (c *Console) Routes() []route { return c.routes }

func (c *Console) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		if rt.Role == public {
			rt.handler(w, r, c.viewerOf(r))
			return
		}
		v := c.viewerOf(r)
		if v == nil {
			c.signInFirst(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// Bounded before anything reads the form: the CSRF check
			// parses it, and a multipart body would otherwise be spooled
			// to disk before the role is known.
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			// Every change needs the session's CSRF token, from the form
			// field or (htmx) the header; SameSite=Strict alone leaves
			// same-site subdomains and old browsers.
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" {
				tok = r.PostFormValue("csrf")
			}
			if !v.Session.CheckCSRF(tok) {
				c.fail(w, r, v, http.StatusForbidden, "This form has expired or did not come from the console (missing or wrong CSRF token). Reload the page and try again.")
				return
			}
		}
		if !v.User.Role.Allows(rt.Role) {
			c.fail(w, r, v, http.StatusForbidden, "This needs the "+string(rt.Role)+" role; you have "+string(v.User.Role)+".")
			return
		}
		rt.handler(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, v)), v)
	})
}

// viewerOf returns the person whose live session the request's cookie
// names, or nil.
func (c *Console) viewerOf(r *http.Request) *viewer {
	if c.d.Users == nil {
		return nil
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	s, err := c.d.Users.Session(r.Context(), ck.Value)
	if err != nil {
		if !errors.Is(err, auth.ErrNoSession) {
			c.d.Log.Warn("console session lookup", "err", err)
		}
		return nil
	}
	return &viewer{User: s.User, Session: s}
}

// signInFirst sends a person without a session to the sign-in page, and
// tells htmx and the live stream plainly instead of redirecting them.
func (c *Console) signInFirst(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", "/login")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, "/login?next="+url.QueryEscape(localPath(r.URL.RequestURI())), http.StatusSeeOther)
}

// localPath keeps a redirect target on this site: anything that is not a
// plain absolute path (//evil.example, /\evil, a scheme) becomes "/".
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// securityHeaders: no inline script or style anywhere in the console, so
// the policy can forbid them and an injected tag that escaped escaping
// still cannot run.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}
