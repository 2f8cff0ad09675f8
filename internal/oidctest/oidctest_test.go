package oidctest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The provider is a real one: its discovery document names it and offers
// PKCE, its login form checks the password, and it refuses unknown
// applications and redirects they did not register.
func TestProvider(t *testing.T) {
	p := Start(t)
	p.AddClient("app", "app-secret", "http://127.0.0.1:1/cb")
	p.AddUser(User{Subject: "s1", Password: "pw", Username: "ann"})

	res, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Issuer     string   `json:"issuer"`
		Challenges []string `json:"code_challenge_methods_supported"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if doc.Issuer != p.Issuer || !slices.Contains(doc.Challenges, "S256") {
		t.Errorf("discovery: %+v; want issuer %s and S256", doc, p.Issuer)
	}

	authorize := func(client, redirect string) (*http.Client, *http.Response, string) {
		b := Browser()
		b.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(r.URL.String(), "http://127.0.0.1:1/") {
				return http.ErrUseLastResponse
			}
			return nil
		}
		q := url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"st"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSZw-tM"}, "code_challenge_method": {"S256"}}
		res, err := b.Get(p.Issuer + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return b, res, string(body)
	}

	b, res, page := authorize("app", "http://127.0.0.1:1/cb")
	if !p.IsLogin(res.Request.URL) {
		t.Fatalf("authorize led to %s, not the login page", res.Request.URL)
	}
	res, err = p.Login(b, []byte(page), "ann", "wrong")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "wrong user or password") {
		t.Errorf("wrong password: %s %s", res.Status, body)
	}
	res, err = p.Login(b, []byte(page), "ann", "pw")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); res.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
		t.Errorf("right password: %s to %v; want a code and the state back", res.Status, loc)
	}

	b, _, page = authorize("app", "http://127.0.0.1:1/cb")
	res, err = p.Cancel(b, []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); loc == nil || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "st" {
		t.Errorf("cancel: %s to %v; want access_denied and the state back", res.Status, loc)
	}

	for _, c := range [][2]string{{"nobody", "http://127.0.0.1:1/cb"}, {"app", "http://127.0.0.1:1/elsewhere"}} {
		_, res, body := authorize(c[0], c[1])
		if p.IsLogin(res.Request.URL) || res.StatusCode < 400 {
			t.Errorf("client %s redirect %s: %s at %s: %s", c[0], c[1], res.Status, res.Request.URL, body)
		}
	}
}
