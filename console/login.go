package console

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/riposte-soar/riposte/auth"
)

type loginPage struct {
	Next string
	Name string
	OIDC bool
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request, v *viewer) {
	next := localPath(r.URL.Query().Get("next"))
	if v != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", view{Title: "Sign in", Page: loginPage{Next: next, OIDC: c.d.OIDC != nil}})
}

// login checks a password and starts a session. The sign-in form itself
// carries no CSRF token (there is no session yet); SameSite=Strict on the
// new cookie and a fresh session id on every sign-in (no fixation: a cookie
// planted before sign-in is never promoted) cover it.
func (c *Console) login(w http.ResponseWriter, r *http.Request, _ *viewer) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	name, pass := r.PostFormValue("name"), r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"))
	if c.d.Users == nil {
		c.fail(w, r, nil, http.StatusServiceUnavailable, "sign-in is not available on this node")
		return
	}
	now := c.d.Now()
	if wait, blocked := c.d.SignInFailures.Blocked(r.RemoteAddr, now); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		c.render(w, r, http.StatusTooManyRequests, "login", view{Title: "Sign in",
			Error: "Too many failed sign-ins from your address: try again in " + humanDuration(wait+time.Second) + ".",
			Page:  loginPage{Next: next, Name: name, OIDC: c.d.OIDC != nil}})
		return
	}
	u, err := c.d.Users.Authenticate(r.Context(), name, pass)
	if errors.Is(err, auth.ErrBadCredentials) {
		c.d.SignInFailures.Fail(r.RemoteAddr, now)
	}
	if err != nil {
		status, msg := http.StatusUnauthorized, "Wrong name or password, or the account is disabled."
		if !errors.Is(err, auth.ErrBadCredentials) {
			status, msg = http.StatusServiceUnavailable, "Sign-in failed: "+err.Error()
		}
		c.render(w, r, status, "login", view{Title: "Sign in", Error: msg, Page: loginPage{Next: next, Name: name, OIDC: c.d.OIDC != nil}})
		return
	}
	c.startSession(w, r, u, next)
}

func (c *Console) startSession(w http.ResponseWriter, r *http.Request, u auth.User, next string) {
	if c.setSession(w, r, u) {
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

// setSession starts a session for u and sets its cookie; on failure it has
// answered the request.
func (c *Console) setSession(w http.ResponseWriter, r *http.Request, u auth.User) bool {
	secret, _, err := c.d.Users.StartSession(r.Context(), u, r.RemoteAddr)
	if err != nil {
		c.fail(w, r, nil, http.StatusServiceUnavailable, "Could not start a session: "+err.Error())
		return false
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true,
		Secure: c.d.Secure, SameSite: http.SameSiteStrictMode})
	return true
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, v *viewer) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if err := c.d.Users.EndSession(r.Context(), ck.Value); err != nil {
			c.d.Log.Warn("console logout", "user", v.User.Name, "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: c.d.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: -1, Expires: time.Unix(0, 0)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
