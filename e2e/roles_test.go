package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

var roleRank = map[string]int{"viewer": 1, "analyst": 2, "responder": 3, "admin": 4}

// allowed is the rule users read in docs/security.md: roles include the ones
// below them; ingest may only send events; admin may do everything.
func allowed(have, need string) bool {
	switch {
	case need == "any" || have == "admin" || have == need:
		return true
	case need == "ingest" || have == "ingest":
		return false
	}
	return roleRank[have] >= roleRank[need]
}

func createToken(t *testing.T, n *node, role string) string {
	t.Helper()
	out, err := exec.Command(binary, "token", "create", "--data", n.data, "--role", role, "--name", "matrix-"+role).Output()
	if err != nil {
		t.Fatalf("token create %s: %v", role, err)
	}
	return strings.TrimSpace(string(out))
}

// TestRoleMatrix calls every route the server declares in its OpenAPI
// document with no token, a wrong token, and a token of each role; only the
// roles the route allows get past authorization.
func TestRoleMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	// The matrix presents a wrong token to every route from one address.
	n.setHTTP(t, "  auth_failures:\n    per_minute: 0\n")
	n.start()
	tokens := map[string]string{}
	for _, r := range []string{"viewer", "analyst", "responder", "admin", "ingest"} {
		tokens[r] = createToken(t, n, r)
	}
	resp, body, err := n.do("GET", "/api/v1/openapi.json", "", nil, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("openapi: %v", err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Role string `json:"x-riposte-role"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	routes := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			routes++
			method = strings.ToUpper(method)
			concrete := strings.ReplaceAll(path, "{id}", "01JZZZZZZZZZZZZZZZZZZZZZZZ")
			bodyFor := func() *bytes.Reader {
				switch {
				case method == "POST" && path == "/api/v1/events":
					return bytes.NewReader([]byte(`{"message":"role matrix"}`))
				case method == "POST" && path == "/api/v1/tokens":
					return bytes.NewReader([]byte(`{"name":"from-matrix","role":"viewer"}`))
				}
				return bytes.NewReader(nil)
			}
			if op.Role == "agent" { // the agent's own credential, never a user token
				for _, tok := range append([]string{""}, tokens["admin"]) {
					resp, _, err := n.do(method, concrete, tok, bodyFor(), nil)
					if err != nil || resp.StatusCode != 401 {
						t.Errorf("%s %s is for agents but answered %v %v to a user token %q", method, path, resp.StatusCode, err, tok)
					}
				}
				continue
			}
			if op.Role == "feed" { // a feed token (basic, bearer or ?token=), never a user token
				for _, tok := range append([]string{""}, tokens["admin"]) {
					resp, _, err := n.do(method, strings.ReplaceAll(concrete, "{format}", "panos"), tok, bodyFor(), nil)
					if err != nil || resp.StatusCode != 401 {
						t.Errorf("%s %s is for feeds but answered %v %v to a user token %q", method, path, resp.StatusCode, err, tok)
					}
				}
				continue
			}
			if op.Role == "bouncer" { // a CrowdSec bouncer's key (X-Api-Key), never a user token
				for _, tok := range append([]string{""}, tokens["admin"]) {
					resp, _, err := n.do(method, concrete, tok, bodyFor(), nil)
					if err != nil || resp.StatusCode != 403 {
						t.Errorf("%s %s is for bouncers but answered %v %v to a user token %q", method, path, resp.StatusCode, err, tok)
					}
				}
				continue
			}
			if op.Role == "" { // public
				resp, _, err := n.do(method, concrete, "", bodyFor(), nil)
				if err != nil || resp.StatusCode == 401 || resp.StatusCode == 403 {
					t.Errorf("%s %s is public but answered %v %v", method, path, resp.StatusCode, err)
				}
				continue
			}
			resp, b, _ := n.do(method, concrete, "", bodyFor(), nil)
			if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" || !bytes.Contains(b, []byte("unauthenticated")) {
				t.Errorf("%s %s without token: %d %s, want 401 unauthenticated with WWW-Authenticate", method, path, resp.StatusCode, b)
			}
			resp, b, _ = n.do(method, concrete, "rpt_notarealtoken", bodyFor(), nil)
			if resp.StatusCode != 401 || !bytes.Contains(b, []byte("invalid_token")) {
				t.Errorf("%s %s with unknown token: %d %s, want 401 invalid_token", method, path, resp.StatusCode, b)
			}
			for role, tok := range tokens {
				resp, b, _ := n.do(method, concrete, tok, bodyFor(), nil)
				denied := resp.StatusCode == 401 || resp.StatusCode == 403
				if allowed(role, op.Role) == denied {
					t.Errorf("%s %s (needs %s) as %s: %d %s", method, path, op.Role, role, resp.StatusCode, b)
				}
				if denied && (resp.StatusCode != 403 || !bytes.Contains(b, []byte("needs role "+op.Role))) {
					t.Errorf("%s %s as %s: %d %s, want 403 naming the role needed", method, path, role, resp.StatusCode, b)
				}
			}
		}
	}
	if routes < 10 {
		t.Fatalf("only %d routes in the OpenAPI document", routes)
	}
	// A revoked token stops working at once.
	resp, b, _ := n.do("POST", "/api/v1/tokens", tokens["admin"], strings.NewReader(`{"name":"short-lived","role":"viewer"}`), nil)
	var created struct {
		Token  struct{ ID string }
		Secret string
	}
	json.Unmarshal(b, &created)
	if resp.StatusCode != 201 || created.Secret == "" {
		t.Fatalf("create token: %d %s", resp.StatusCode, b)
	}
	if resp, _, _ := n.do("GET", "/api/v1/whoami", created.Secret, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("new token refused: %d", resp.StatusCode)
	}
	if resp, _, _ := n.do("DELETE", "/api/v1/tokens/"+created.Token.ID, tokens["admin"], nil, nil); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _, _ := n.do("GET", "/api/v1/whoami", created.Secret, nil, nil); resp.StatusCode != 401 {
		t.Fatalf("revoked token still accepted: %d", resp.StatusCode)
	}
	// Every change above is in the audit log, and the chain verifies.
	_, b, _ = n.do("GET", "/api/v1/audit?limit=1000", tokens["admin"], nil, nil)
	for _, want := range []string{`"action":"token.create"`, `"action":"token.revoke"`, `matrix-ingest`, created.Token.ID} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	out, err := exec.Command(binary, "audit", "verify", "--data", n.data).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("intact")) {
		t.Fatalf("audit verify: %v %s", err, out)
	}
}
