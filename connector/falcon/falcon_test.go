package falcon

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
	clientID = "0123456789abcdef0123456789abcdef"
	secret   = "Sx9fake0client0secret0value0000000000000"
	aid      = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
)

var vault = apitest.Vault{"falcon": secret}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{ClientID: clientID, ClientSecret: "secret://falcon",
		Options: apiclient.Options{URL: srv.URL, HTTP: srv.Client(), Secrets: vault.Resolve}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff, c.tok.Backoff = 10*time.Millisecond, 10*time.Millisecond
	return c
}

// The token request and answer of CrowdStrike's OAuth2 API (POST
// /oauth2/token, 201 Created).
func token(tok string) apitest.Exchange {
	return apitest.Exchange{Method: "POST", Path: "/oauth2/token", Form: map[string]string{"client_id": clientID, "client_secret": secret},
		Header: map[string]string{"Authorization": "", "Accept": "application/json"},
		Status: 201, Resp: `{"access_token":"` + tok + `","token_type":"bearer","expires_in":1799}`}
}

func bearer(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok, "Accept": "application/json"}
}

const meta = `"meta":{"query_time":0.004,"powered_by":"device-api","trace_id":"7f1f2a4e-0c1c-4d8e-9e55-2f0a3b9c1d10"}`

func query(tok string) apitest.Exchange {
	return apitest.Exchange{Method: "GET", Path: "/devices/queries/devices/v1", Header: bearer(tok), NoBody: true,
		Query: map[string]string{"filter": "hostname:'web-1'", "sort": "last_seen.desc", "limit": "1"},
		Resp:  `{"meta":{"query_time":0.006,"pagination":{"offset":0,"limit":1,"total":1},"powered_by":"device-api","trace_id":"x"},"resources":["` + aid + `"],"errors":[]}`}
}

func dev(tok, status string) apitest.Exchange {
	return apitest.Exchange{Method: "GET", Path: "/devices/entities/devices/v2", Header: bearer(tok), NoBody: true,
		Query: map[string]string{"ids": aid},
		Resp: `{` + meta + `,"resources":[{"device_id":"` + aid + `","cid":"c0ffee00c0ffee00c0ffee00c0ffee00","hostname":"WEB-1","platform_name":"Linux",` +
			`"status":"` + status + `","last_seen":"2024-06-10T10:00:00Z"}],"errors":[]}`}
}

func action(tok, name string) apitest.Exchange {
	return apitest.Exchange{Method: "POST", Path: "/devices/entities/devices-actions/v2", Header: map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"},
		Query: map[string]string{"action_name": name}, Body: `{"ids":["` + aid + `"]}`, Status: 202,
		Resp: `{` + meta + `,"resources":[{"id":"` + aid + `","path":""}],"errors":[]}`}
}

func TestContainLift(t *testing.T) {
	srv := apitest.New(t,
		token("tok-1"), query("tok-1"), dev("tok-1", "normal"), action("tok-1", "contain"), dev("tok-1", "containment_pending"),
		// a repeat does nothing
		query("tok-1"), dev("tok-1", "contained"),
		// the undo, by AID
		dev("tok-1", "contained"), action("tok-1", "lift_containment"), dev("tok-1", "lift_containment_pending"),
	)
	c := newConn(t, srv)
	ctx := context.Background()
	call := connector.Call{Operation: "contain", Args: map[string]any{"host": "web-1"}}
	r, err := c.Execute(ctx, call)
	if err != nil || r.Outputs["status"] != "containment_pending" || r.Outputs["already"] != false || r.Undo == nil {
		t.Fatalf("contain: %v %+v", err, r)
	}
	r2, err := c.Execute(ctx, call)
	if err != nil || r2.Outputs["already"] != true || r2.Undo != nil {
		t.Fatalf("repeat: %v %+v", err, r2)
	}
	r3, err := c.Execute(ctx, connector.Call{Operation: r.Undo.Operation, Args: r.Undo.Args})
	if err != nil || r3.Outputs["status"] != "lift_containment_pending" || r3.Undo != nil {
		t.Fatalf("undo: %v %+v", err, r3)
	}
	for _, cmd := range append(r.Commands, r3.Commands...) {
		if strings.Contains(cmd, secret) || strings.Contains(cmd, "tok-1") {
			t.Fatalf("a credential is in %q", cmd)
		}
	}
	if c.tok.Fetched() != 1 {
		t.Fatalf("%d tokens fetched, want 1 (cached)", c.tok.Fetched())
	}
}

func TestRetriesAndErrors(t *testing.T) {
	ctx := context.Background()
	byAID := connector.Call{Operation: "contain", Args: map[string]any{"device_id": strings.ToUpper(aid)}}
	t.Run("401 refreshes the token once, 429 waits", func(t *testing.T) {
		expired := dev("tok-1", "normal")
		expired.Status, expired.Resp = 401, `{`+meta+`,"errors":[{"code":401,"message":"access denied, invalid bearer token"}]}`
		limited := action("tok-2", "contain")
		limited.Status, limited.Resp, limited.RespHeader = 429, `{`+meta+`,"errors":[{"code":429,"message":"API rate limit exceeded."}]}`, map[string]string{"Retry-After": "1"}
		srv := apitest.New(t, token("tok-1"), expired, token("tok-2"), dev("tok-2", "normal"), limited, action("tok-2", "contain"), dev("tok-2", "contained"))
		if r, err := newConn(t, srv).Execute(ctx, byAID); err != nil || r.Outputs["status"] != "contained" {
			t.Fatalf("%v %+v", err, r.Outputs)
		}
	})
	t.Run("a second 401 fails", func(t *testing.T) {
		e := dev("tok-1", "normal")
		e.Status, e.Resp = 401, `{`+meta+`,"errors":[{"code":401,"message":"access denied, invalid bearer token"}]}`
		e2 := e
		e2.Header = bearer("tok-2")
		srv := apitest.New(t, token("tok-1"), e, token("tok-2"), e2)
		_, err := newConn(t, srv).Execute(ctx, byAID)
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "invalid bearer token") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("token refused", func(t *testing.T) {
		refused := token("")
		refused.Status, refused.Resp = 403, `{`+meta+`,"errors":[{"code":403,"message":"access denied, authorization failed"}]}`
		srv := apitest.New(t, refused)
		_, err := newConn(t, srv).Execute(ctx, byAID)
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "authorization failed") || strings.Contains(err.Error(), secret) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("unknown host", func(t *testing.T) {
		q := query("tok-1")
		q.Resp = `{"meta":{"query_time":0.006,"pagination":{"offset":0,"limit":1,"total":0},"powered_by":"device-api","trace_id":"x"},"resources":[],"errors":[]}`
		srv := apitest.New(t, token("tok-1"), q)
		_, err := newConn(t, srv).Execute(ctx, connector.Call{Operation: "contain", Args: map[string]any{"host": "web-1"}})
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "no host named web-1") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("accepted but not contained", func(t *testing.T) {
		srv := apitest.New(t, token("tok-1"), dev("tok-1", "normal"), action("tok-1", "contain"), dev("tok-1", "normal"))
		_, err := newConn(t, srv).Execute(ctx, byAID)
		if connector.ClassOf(err) != connector.Unknown || !strings.Contains(err.Error(), `status is "normal"`) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("action 5xx retried", func(t *testing.T) {
		failed := action("tok-1", "contain")
		failed.Status, failed.Resp = 500, `{`+meta+`,"errors":[{"code":500,"message":"internal server error"}]}`
		srv := apitest.New(t, token("tok-1"), dev("tok-1", "normal"), failed, action("tok-1", "contain"), dev("tok-1", "containment_pending"))
		if _, err := newConn(t, srv).Execute(ctx, byAID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestArgs(t *testing.T) {
	srv := apitest.New(t)
	c := newConn(t, srv)
	for _, args := range []map[string]any{
		{},
		{"host": "web-1", "device_id": aid},
		{"host": "web-1' OR hostname:'*"},
		{"host": "web 1"},
		{"host": `web\'1`},
		{"device_id": "zz"},
	} {
		if _, err := c.Simulate(context.Background(), connector.Call{Operation: "contain", Args: args}); connector.ClassOf(err) != connector.Permanent || err == nil {
			t.Errorf("%v accepted: %v", args, err)
		}
	}
	r, err := c.Simulate(context.Background(), connector.Call{Operation: "contain", Args: map[string]any{"host": "web-1.corp.example"}})
	if err != nil || len(r.Commands) != 4 || r.Undo == nil || srv.Sent() != 0 || strings.Contains(strings.Join(r.Commands, ""), secret) {
		t.Fatalf("%v %q", err, r.Commands)
	}
	if !strings.Contains(r.Commands[0], "filter=hostname%3A%27web-1.corp.example%27") {
		t.Fatalf("query: %s", r.Commands[0])
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"falcon"`
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
	if got := c.tok.TokenURL.String(); got != "https://api.crowdstrike.com/oauth2/token" {
		t.Fatalf("token url %s", got)
	}
	cfg.ClientSecret = "plain-secret"
	if _, err := New(cfg); err == nil {
		t.Fatal("a client secret that is not a secret:// reference was accepted")
	}
	cfg.ClientSecret, cfg.TokenURL = "secret://falcon", "http://api.crowdstrike.com/oauth2/token"
	if _, err := New(cfg); err == nil {
		t.Fatal("an http token url was accepted")
	}
}
