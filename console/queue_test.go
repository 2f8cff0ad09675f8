package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/internal/netlimit"
)

func TestSignInThenQueue(t *testing.T) {
	r := newRig(t, nil)
	anon := r.anon()
	res, _ := anon.get("/?priority=P1")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2F%3Fpriority%3DP1" {
		t.Fatalf("without a session: %s to %q, want 303 to the sign-in page keeping the view", res.Status, res.Header.Get("Location"))
	}
	bad := anon.postForm("/login", url.Values{"name": {"analyst1"}, "password": {"wrong password!!"}})
	if bad.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %s", bad.Status)
	}
	id := r.raise("ssh-brute", "high", "web-01", "203.0.113.9", t0)
	c := r.as(auth.Analyst)
	res, body := c.get("/")
	if res.StatusCode != 200 {
		t.Fatalf("queue: %s", res.Status)
	}
	contains(t, body, "web-01", "203.0.113.9", "rule ssh-brute", "/incidents/"+id, "Assign to me")
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options"} {
		if res.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
}

func TestCookieFlags(t *testing.T) {
	r := newRig(t, func(d *Deps) { d.Secure = true })
	res := r.anon().postForm("/login", url.Values{"name": {"viewer1"}, "password": {testPassword}})
	ck := res.Cookies()
	if len(ck) != 1 || ck[0].Name != sessionCookie {
		t.Fatalf("cookies %v", ck)
	}
	if !ck[0].HttpOnly || !ck[0].Secure || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/" {
		t.Fatalf("session cookie flags: %+v", ck[0])
	}
}

func TestAssignToMeNeedsCSRFAndRole(t *testing.T) {
	r := newRig(t, nil)
	id := r.raise("ssh-brute", "high", "web-02", "203.0.113.10", t0)
	a := r.as(auth.Analyst)
	if res := a.postForm("/incidents/"+id+"/assign-me", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("without CSRF token: %s, want 403", res.Status)
	}
	if res := a.postForm("/incidents/"+id+"/assign-me", url.Values{"csrf": {"forged"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("with a wrong CSRF token: %s, want 403", res.Status)
	}
	v := r.as(auth.Viewer)
	if _, body := v.get("/"); strings.Contains(body, "Assign to me") {
		t.Error("a viewer sees the assign button")
	}
	if res := v.post("/incidents/"+id+"/assign-me", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer assigning: %s, want 403", res.Status)
	}
	inc, _ := r.alarm.Store().Get(context.Background(), id)
	if inc.Assignee != "" {
		t.Fatalf("refused requests assigned the incident to %q", inc.Assignee)
	}
	if res := a.post("/incidents/"+id+"/assign-me", url.Values{"back": {"/"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("assign to me: %s", res.Status)
	}
	inc, _ = r.alarm.Store().Get(context.Background(), id)
	if inc.Assignee != "analyst1" {
		t.Fatalf("assignee %q, want analyst1", inc.Assignee)
	}
}

func TestLogoutEndsTheSession(t *testing.T) {
	r := newRig(t, nil)
	c := r.as(auth.Analyst)
	u, _ := url.Parse(r.srv.URL)
	stolen := c.hc.Jar.Cookies(u)
	if res := c.post("/logout", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", res.Status)
	}
	// Someone who kept the cookie cannot use it after logout.
	other := r.anon()
	other.hc.Jar.SetCookies(u, stolen)
	if res, _ := other.get("/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("old cookie after logout: %s, want a redirect to sign in", res.Status)
	}
}

func TestNoSessionFixation(t *testing.T) {
	r := newRig(t, nil)
	c := r.anon()
	u, _ := url.Parse(r.srv.URL)
	planted := &http.Cookie{Name: sessionCookie, Value: "rps_planted-by-attacker", Path: "/"}
	c.hc.Jar.SetCookies(u, []*http.Cookie{planted})
	res := c.postForm("/login", url.Values{"name": {"analyst1"}, "password": {testPassword}})
	var got string
	for _, ck := range res.Cookies() {
		if ck.Name == sessionCookie {
			got = ck.Value
		}
	}
	if got == "" || got == planted.Value {
		t.Fatalf("sign-in kept the planted session id (%q)", got)
	}
}

func TestQueueFiltersAndOrder(t *testing.T) {
	r := newRig(t, nil)
	low := r.raise("r-low", "low", "h-low", "", t0)
	crit := r.raise("r-crit", "critical", "h-crit", "", t0.Add(time.Minute))
	c := r.as(auth.Viewer)
	_, body := c.get("/")
	if strings.Index(body, crit) > strings.Index(body, low) {
		t.Error("a low incident is listed before a critical one")
	}
	_, body = c.get("/?q=h-crit")
	if strings.Contains(body, low) || !strings.Contains(body, crit) {
		t.Error("text filter does not select h-crit alone")
	}
	res, _ := c.get("/?status=bogus")
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad status filter: %s", res.Status)
	}
}

// TestSignInGuessingIsThrottled: after a few wrong passwords from one
// address, even the right one is refused for a while, so guessing costs
// the guesser time and never reaches the password hashing.
func TestSignInGuessingIsThrottled(t *testing.T) {
	r := newRig(t, func(d *Deps) { d.SignInFailures = netlimit.NewFailures(1, 3) })
	c := r.anon()
	for i := 0; i < 3; i++ {
		if res := c.postForm("/login", url.Values{"name": {"analyst1"}, "password": {"wrong password " + strconv.Itoa(i)}}); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %s", i, res.Status)
		}
	}
	res := c.postForm("/login", url.Values{"name": {"analyst1"}, "password": {testPassword}})
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures the right password got %s (Retry-After %q), want 429 with Retry-After", res.Status, res.Header.Get("Retry-After"))
	}
}
