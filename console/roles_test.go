package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/auth"
)

// TestRoleMatrix walks every console route as every role: a role below the
// route's gets 403 and changes nothing; the route's role and above get past
// the guard. Without a session every route but sign-in sends the person to
// sign in.
func TestRoleMatrix(t *testing.T) {
	r := newRig(t, nil)
	id := r.raise("ssh-brute", "high", "web-09", "203.0.113.50", t0)
	clients := map[auth.Role]*client{}
	for _, role := range []auth.Role{auth.Viewer, auth.Analyst, auth.Responder, auth.Admin} {
		clients[role] = r.as(role)
	}
	anon := r.anon()
	for _, rt := range r.con.Routes() {
		if rt.Role == public {
			continue
		}
		path := strings.NewReplacer("{id}", id, "{$}", "", "{name}", "x", "{version}", "1").Replace(rt.Path)
		if strings.Contains(path, "{") {
			t.Fatalf("route %s %s: the matrix does not know how to fill a parameter", rt.Method, rt.Path)
		}
		if rt.Path == "/live" {
			continue // a stream: checked by TestLiveStream
		}
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			res := do(t, anon, rt.Method, path)
			if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusUnauthorized {
				t.Errorf("without a session: %s", res.Status)
			}
			for role, c := range clients {
				if rt.Path == "/logout" {
					continue // would end the session the other routes use
				}
				res := do(t, c, rt.Method, path)
				allowed := role.Allows(rt.Role)
				if !allowed && res.StatusCode != http.StatusForbidden {
					t.Errorf("%s: %s, want 403 (route needs %s)", role, res.Status, rt.Role)
				}
				if allowed && res.StatusCode == http.StatusForbidden {
					t.Errorf("%s: 403, but the route needs only %s", role, rt.Role)
				}
			}
		})
	}
}

func do(t *testing.T, c *client, method, path string) *http.Response {
	t.Helper()
	if method == http.MethodGet {
		res, _ := c.get(path)
		return res
	}
	return c.post(path, url.Values{})
}
