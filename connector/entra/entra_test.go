package entra

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/apitest"
)

const (
	tenant   = "6babcaad-604b-40ac-a9d7-9fd97c0b779f"
	clientID = "535fb089-9ff3-47b6-9bfb-4f1264799865"
	secret   = "qWgdYAmab0YSkuL1qKv5bPX"
	upn      = "AdeleV@contoso.com"
	oid      = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
)

var vault = apitest.Vault{"graph": secret}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{TenantID: tenant, ClientID: clientID, ClientSecret: "secret://graph", TokenURL: srv.URL + "/" + tenant + "/oauth2/v2.0/token",
		Options: apiclient.Options{URL: srv.URL, HTTP: srv.Client(), Secrets: vault.Resolve}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff, c.tok.Backoff, c.verifyWait = 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond
	return c
}

// The Microsoft identity platform's client-credentials request and answer.
func token(tok string) apitest.Exchange {
	return apitest.Exchange{Method: "POST", Path: "/" + tenant + "/oauth2/v2.0/token",
		Form: map[string]string{"client_id": clientID, "client_secret": secret, "grant_type": "client_credentials",
			"scope": "https://graph.microsoft.com/.default"},
		Resp: `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"` + tok + `"}`}
}

// Requests and answers as in the Graph v1.0 reference (Get user with
// $select, Update user: 204 No Content, user: revokeSignInSessions).
func get(tok, path string, enabled bool) apitest.Exchange {
	v := "false"
	if enabled {
		v = "true"
	}
	return apitest.Exchange{Method: "GET", Path: "/v1.0/users/" + path, Query: map[string]string{"$select": "accountEnabled"}, NoBody: true,
		Header: map[string]string{"Authorization": "Bearer " + tok, "Accept": "application/json"},
		Resp:   `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users(accountEnabled)/$entity","accountEnabled":` + v + `}`}
}

func patch(tok, path, body string) apitest.Exchange {
	return apitest.Exchange{Method: "PATCH", Path: "/v1.0/users/" + path, Body: body, Status: 204,
		Header: map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}}
}

func revoke(tok, path string) apitest.Exchange {
	return apitest.Exchange{Method: "POST", Path: "/v1.0/users/" + path + "/revokeSignInSessions", NoBody: true,
		Header: map[string]string{"Authorization": "Bearer " + tok},
		Resp:   `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean","value":true}`}
}

func graphErr(e apitest.Exchange, status int, code, msg string) apitest.Exchange {
	e.Status, e.Resp = status, `{"error":{"code":"`+code+`","message":"`+msg+`","innerError":{"date":"2024-05-01T10:00:00","request-id":"b3b4f6a2-0c6d-4bbf-9c4e-3c3b0f1c2d2e","client-request-id":"b3b4f6a2-0c6d-4bbf-9c4e-3c3b0f1c2d2e"}}}`
	return e
}

func TestDisableEnable(t *testing.T) {
	srv := apitest.New(t,
		token("tok-1"), get("tok-1", upn, true), patch("tok-1", upn, `{"accountEnabled":false}`),
		// the write is not visible at once: read again
		get("tok-1", upn, true), get("tok-1", upn, false),
		// a repeat finds it disabled
		get("tok-1", upn, false),
		// the undo
		get("tok-1", upn, false), patch("tok-1", upn, `{"accountEnabled":true}`), get("tok-1", upn, true),
	)
	c := newConn(t, srv)
	ctx := context.Background()
	call := connector.Call{Operation: "disable_user", Args: map[string]any{"user": upn}}
	r, err := c.Execute(ctx, call)
	if err != nil || r.Outputs["account_enabled"] != false || r.Outputs["already"] != false || r.Undo == nil || r.Undo.Operation != "enable_user" {
		t.Fatalf("disable: %v %+v", err, r)
	}
	if r2, err := c.Execute(ctx, call); err != nil || r2.Outputs["already"] != true || r2.Undo != nil {
		t.Fatalf("repeat: %v %+v", err, r2)
	}
	r3, err := c.Execute(ctx, connector.Call{Operation: r.Undo.Operation, Args: r.Undo.Args})
	if err != nil || r3.Outputs["account_enabled"] != true || r3.Undo != nil {
		t.Fatalf("enable: %v %+v", err, r3)
	}
	for _, cmd := range append(r.Commands, r3.Commands...) {
		if strings.Contains(cmd, secret) || strings.Contains(cmd, "tok-1") {
			t.Fatalf("a credential is in %q", cmd)
		}
	}
	if c.tok.Fetched() != 1 {
		t.Fatalf("%d tokens fetched, want the cached one", c.tok.Fetched())
	}
}

func TestRevokeSessions(t *testing.T) {
	// A guest's UPN: # is escaped in the path.
	guest := "adele_fabrikam.com#EXT#@contoso.onmicrosoft.com"
	srv := apitest.New(t, token("tok-1"), revoke("tok-1", oid), revoke("tok-1", "adele_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"))
	c := newConn(t, srv)
	for _, u := range []string{strings.ToUpper(oid), guest} {
		r, err := c.Execute(context.Background(), connector.Call{Operation: "revoke_sessions", Args: map[string]any{"user": u}})
		if err != nil || r.Undo != nil || r.Outputs["revoked_at"] == nil {
			t.Fatalf("%s: %v %+v", u, err, r)
		}
		if _, err := time.Parse(time.RFC3339, r.Outputs["revoked_at"].(string)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	disable := connector.Call{Operation: "disable_user", Args: map[string]any{"user": oid}}
	t.Run("401 refreshes once, 429 waits", func(t *testing.T) {
		expired := graphErr(get("tok-1", oid, true), 401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
		limited := graphErr(patch("tok-2", oid, `{"accountEnabled":false}`), 429, "TooManyRequests", "Too many requests.")
		limited.RespHeader = map[string]string{"Retry-After": "1"}
		srv := apitest.New(t, token("tok-1"), expired, token("tok-2"), get("tok-2", oid, true), limited,
			patch("tok-2", oid, `{"accountEnabled":false}`), get("tok-2", oid, false))
		if r, err := newConn(t, srv).Execute(ctx, disable); err != nil || r.Outputs["account_enabled"] != false {
			t.Fatalf("%v %+v", err, r.Outputs)
		}
	})
	t.Run("a second 401 is surfaced", func(t *testing.T) {
		e1 := graphErr(get("tok-1", oid, true), 401, "InvalidAuthenticationToken", "Access token validation failure.")
		e2 := graphErr(get("tok-2", oid, true), 401, "InvalidAuthenticationToken", "Access token validation failure.")
		srv := apitest.New(t, token("tok-1"), e1, token("tok-2"), e2)
		_, err := newConn(t, srv).Execute(ctx, disable)
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Access token validation failure") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		srv := apitest.New(t, token("tok-1"), graphErr(get("tok-1", oid, true), 404, "Request_ResourceNotFound",
			"Resource '"+oid+"' does not exist or one of its queried reference-property objects are not present."))
		_, err := newConn(t, srv).Execute(ctx, disable)
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Request_ResourceNotFound") || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("insufficient privileges", func(t *testing.T) {
		srv := apitest.New(t, token("tok-1"), graphErr(revoke("tok-1", oid), 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
		_, err := newConn(t, srv).Execute(ctx, connector.Call{Operation: "revoke_sessions", Args: map[string]any{"user": oid}})
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Insufficient privileges") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("never read back", func(t *testing.T) {
		srv := apitest.New(t, token("tok-1"), get("tok-1", oid, true), patch("tok-1", oid, `{"accountEnabled":false}`),
			get("tok-1", oid, true), get("tok-1", oid, true), get("tok-1", oid, true))
		_, err := newConn(t, srv).Execute(ctx, disable)
		if connector.ClassOf(err) != connector.Unknown || !strings.Contains(err.Error(), "still reads") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("the PATCH is retried after a 5xx", func(t *testing.T) {
		lost := graphErr(patch("tok-1", oid, `{"accountEnabled":false}`), 503, "serviceNotAvailable", "Service unavailable")
		srv := apitest.New(t, token("tok-1"), get("tok-1", oid, true), lost, patch("tok-1", oid, `{"accountEnabled":false}`), get("tok-1", oid, false))
		if _, err := newConn(t, srv).Execute(ctx, disable); err != nil {
			t.Fatal(err)
		}
	})
}

func TestArgs(t *testing.T) {
	srv := apitest.New(t)
	c := newConn(t, srv)
	for _, u := range []any{nil, "", "adele", "a@b@c.com", "$adele@contoso.com", "adele@contoso.com/../x", "a b@contoso.com", "adele@contoso..com",
		"adele@con\ntoso.com", "../me@contoso.com", "me", 7} {
		args := map[string]any{"user": u}
		if u == nil {
			args = map[string]any{}
		}
		if _, err := c.Simulate(context.Background(), connector.Call{Operation: "disable_user", Args: args}); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	r, err := c.Simulate(context.Background(), connector.Call{Operation: "disable_user", Args: map[string]any{"user": upn}})
	if err != nil || len(r.Commands) != 3 || r.Undo == nil || srv.Sent() != 0 {
		t.Fatalf("%v %q", err, r.Commands)
	}
	if !strings.Contains(r.Commands[1], "PATCH ") || !strings.Contains(r.Commands[1], `{"accountEnabled":false}`) || !strings.Contains(r.Commands[1], "secret://graph") {
		t.Fatalf("%q", r.Commands)
	}
	r, err = c.Simulate(context.Background(), connector.Call{Operation: "revoke_sessions", Args: map[string]any{"user": upn}})
	if err != nil || len(r.Commands) != 1 || r.Undo != nil {
		t.Fatalf("%v %+v", err, r)
	}
	if _, err := c.Simulate(context.Background(), connector.Call{Operation: "delete_user", Args: map[string]any{"user": upn}}); err == nil {
		t.Fatal("unknown operation accepted")
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"entra"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &f, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	cfg := f.Connectors.C
	cfg.Secrets = vault.Resolve
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.tok.TokenURL.String(); got != "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token" {
		t.Fatalf("token url %s", got)
	}
	if c.tok.Scope != DefaultScope || c.api.Base.String() != DefaultURL {
		t.Fatalf("scope %s, url %s", c.tok.Scope, c.api.Base)
	}
	if refs := cfg.References(); refs["connectors.entra.client_secret"] != "entra-client-secret" {
		t.Fatalf("%v", refs)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.TenantID = "../evil" },
		func(c *Config) { c.ClientSecret = "plain" },
		func(c *Config) { c.ClientID = "" },
		func(c *Config) { c.URL = "http://graph.microsoft.com" },
	} {
		cc := cfg
		bad(&cc)
		if _, err := New(cc); err == nil {
			t.Errorf("%+v accepted", cc)
		}
	}
}
