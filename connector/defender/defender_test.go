package defender

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
	mid      = "7b1f4967d9728e5aa3c06a9e617a22a4a5a17378"
	actID    = "b89eb834-4578-496c-8be0-03f004061435"
)

var vault = apitest.Vault{"mde": secret}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{TenantID: tenant, ClientID: clientID, ClientSecret: "secret://mde", TokenURL: srv.URL + "/" + tenant + "/oauth2/v2.0/token",
		Options: apiclient.Options{URL: srv.URL, HTTP: srv.Client(), Secrets: vault.Resolve}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff, c.tok.Backoff = 10*time.Millisecond, 10*time.Millisecond
	return c
}

// The Microsoft identity platform's client-credentials request and answer.
func token(tok string) apitest.Exchange {
	return apitest.Exchange{Method: "POST", Path: "/" + tenant + "/oauth2/v2.0/token",
		Form: map[string]string{"client_id": clientID, "client_secret": secret, "grant_type": "client_credentials",
			"scope": "https://api.securitycenter.microsoft.com/.default"},
		Resp: `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"` + tok + `"}`}
}

func bearer(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok, "Accept": "application/json"}
}

// Answers shaped as in the Defender for Endpoint API reference (List
// machines, Isolate machine, Get machineAction).
func find(tok, name string) apitest.Exchange {
	return apitest.Exchange{Method: "GET", Path: "/api/machines", Header: bearer(tok), NoBody: true,
		Query: map[string]string{"$filter": "computerDnsName eq '" + strings.ReplaceAll(name, "'", "''") + "'"},
		Resp: `{"@odata.context":"https://api.securitycenter.microsoft.com/api/$metadata#Machines","value":[` +
			`{"id":"1e5bc9d7e413ddd7902c2932e418702b84d0cc07","computerDnsName":"` + name + `","firstSeen":"2018-08-02T14:55:03.7791856Z","lastSeen":"2018-08-02T14:55:03.7791856Z","osPlatform":"Windows10","healthStatus":"Inactive"},` +
			`{"id":"` + mid + `","computerDnsName":"` + name + `","firstSeen":"2018-11-01T10:00:00Z","lastSeen":"2019-01-02T14:00:00Z","osPlatform":"Windows10","healthStatus":"Active"}]}`}
}

func action(typ, id, status, created string) string {
	return `{"id":"` + id + `","type":"` + typ + `","requestor":"Analyst@TestPrd.onmicrosoft.com","requestorComment":"Riposte incident inc-7","status":"` + status +
		`","machineId":"` + mid + `","computerDnsName":"desktop-test","creationDateTimeUtc":"` + created + `","lastUpdateDateTimeUtc":"` + created + `","relatedFileInfo":null}`
}

func actions(tok string, list ...string) apitest.Exchange {
	return apitest.Exchange{Method: "GET", Path: "/api/machineactions", Header: bearer(tok), NoBody: true,
		Query: map[string]string{"$filter": "machineId eq '" + mid + "'"},
		Resp:  `{"@odata.context":"https://api.securitycenter.microsoft.com/api/$metadata#MachineActions","value":[` + strings.Join(list, ",") + `]}`}
}

func post(tok, verb, body, answer string) apitest.Exchange {
	return apitest.Exchange{Method: "POST", Path: "/api/machines/" + mid + "/" + verb,
		Header: map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, Body: body, Status: 201,
		Resp: `{"@odata.context":"https://api.securitycenter.microsoft.com/api/$metadata#MachineActions/$entity",` + answer[1:]}
}

func get(tok, answer string) apitest.Exchange {
	return apitest.Exchange{Method: "GET", Path: "/api/machineactions/" + actID, Header: bearer(tok), NoBody: true, Resp: answer}
}

func TestIsolateRelease(t *testing.T) {
	oldRelease := action("Unisolate", "0a0a0a0a-0000-0000-0000-000000000001", "Succeeded", "2018-12-01T10:00:00Z")
	failedIso := action("Isolate", "0a0a0a0a-0000-0000-0000-000000000002", "Failed", "2018-12-02T10:00:00Z")
	iso := action("Isolate", actID, "Pending", "2019-01-02T14:39:38.2262283Z")
	unIso := action("Unisolate", actID, "Succeeded", "2019-01-03T10:00:00Z")
	srv := apitest.New(t,
		token("tok-1"), find("tok-1", "desktop-test"), actions("tok-1", oldRelease, failedIso),
		post("tok-1", "isolate", `{"Comment":"Riposte incident inc-7","IsolationType":"Full"}`, iso), get("tok-1", iso),
		// a repeat finds the pending isolation
		find("tok-1", "desktop-test"), actions("tok-1", oldRelease, failedIso, iso),
		// the undo
		actions("tok-1", oldRelease, iso),
		post("tok-1", "unisolate", `{"Comment":"Riposte incident inc-7"}`, unIso), get("tok-1", unIso),
	)
	c := newConn(t, srv)
	ctx := context.Background()
	call := connector.Call{Operation: "isolate", Incident: "inc-7", Args: map[string]any{"host": "desktop-test"}}
	r, err := c.Execute(ctx, call)
	if err != nil || r.Outputs["action_id"] != actID || r.Outputs["status"] != "Pending" || r.Outputs["machine_id"] != mid || r.Undo == nil {
		t.Fatalf("isolate: %v %+v", err, r)
	}
	if r2, err := c.Execute(ctx, call); err != nil || r2.Outputs["already"] != true || r2.Undo != nil {
		t.Fatalf("repeat: %v %+v", err, r2)
	}
	r3, err := c.Execute(ctx, connector.Call{Operation: r.Undo.Operation, Incident: "inc-7", Args: r.Undo.Args})
	if err != nil || r3.Outputs["status"] != "Succeeded" || r3.Undo != nil {
		t.Fatalf("release: %v %+v", err, r3)
	}
	for _, cmd := range append(r.Commands, r3.Commands...) {
		if strings.Contains(cmd, secret) || strings.Contains(cmd, "tok-1") {
			t.Fatalf("a credential is in %q", cmd)
		}
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	byID := connector.Call{Operation: "isolate", Args: map[string]any{"machine_id": mid, "isolation_type": "selective", "comment": "alert\n1234"}}
	t.Run("quote doubled in the filter", func(t *testing.T) {
		f := find("tok-1", "o'brien-pc")
		f.Resp = `{"value":[]}`
		srv := apitest.New(t, token("tok-1"), f)
		_, err := newConn(t, srv).Execute(ctx, connector.Call{Operation: "isolate", Args: map[string]any{"host": "o'brien-pc"}})
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "no machine named") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("401 refreshes once, 429 waits, selective", func(t *testing.T) {
		expired := actions("tok-1")
		expired.Status, expired.Resp = 401, `{"error":{"code":"Unauthorized","message":"Authorization has been denied for this request."}}`
		limited := actions("tok-2")
		limited.Status, limited.RespHeader, limited.Resp = 429, map[string]string{"Retry-After": "1"}, `{"error":{"code":"TooManyRequests","message":"Rate limit is exceeded."}}`
		iso := action("Isolate", actID, "InProgress", "2019-01-02T14:39:38Z")
		srv := apitest.New(t, token("tok-1"), expired, token("tok-2"), limited, actions("tok-2"),
			post("tok-2", "isolate", `{"Comment":"alert 1234","IsolationType":"Selective"}`, iso), get("tok-2", iso))
		if r, err := newConn(t, srv).Execute(ctx, byID); err != nil || r.Outputs["status"] != "InProgress" {
			t.Fatalf("%v %+v", err, r.Outputs)
		}
	})
	t.Run("action failed", func(t *testing.T) {
		iso := action("Isolate", actID, "Pending", "2019-01-02T14:39:38Z")
		srv := apitest.New(t, token("tok-1"), actions("tok-1"),
			post("tok-1", "isolate", `{"Comment":"alert 1234","IsolationType":"Selective"}`, iso),
			get("tok-1", action("Isolate", actID, "Failed", "2019-01-02T14:39:38Z")))
		_, err := newConn(t, srv).Execute(ctx, byID)
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), `is "Failed"`) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("already in progress, 400 surfaced", func(t *testing.T) {
		refused := post("tok-1", "isolate", `{"Comment":"alert 1234","IsolationType":"Selective"}`, `{}`)
		refused.Status, refused.Resp = 400, `{"error":{"code":"ActiveRequestAlreadyExists","message":"Action is already in progress"}}`
		srv := apitest.New(t, token("tok-1"), actions("tok-1"), refused)
		_, err := newConn(t, srv).Execute(ctx, byID)
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "ActiveRequestAlreadyExists") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("the isolate is not resent after a 5xx", func(t *testing.T) {
		lost := post("tok-1", "isolate", `{"Comment":"alert 1234","IsolationType":"Selective"}`, `{}`)
		lost.Status = 503
		srv := apitest.New(t, token("tok-1"), actions("tok-1"), lost)
		_, err := newConn(t, srv).Execute(ctx, byID)
		if connector.ClassOf(err) != connector.Unknown {
			t.Fatalf("%v", err)
		}
	})
}

func TestArgs(t *testing.T) {
	srv := apitest.New(t)
	c := newConn(t, srv)
	for _, args := range []map[string]any{
		{}, {"host": "a", "machine_id": mid}, {"machine_id": "123"}, {"host": "a\nb"}, {"host": "a", "isolation_type": "Partial"},
	} {
		if _, err := c.Simulate(context.Background(), connector.Call{Operation: "isolate", Args: args}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	r, err := c.Simulate(context.Background(), connector.Call{Operation: "isolate", Args: map[string]any{"host": "desktop-test"}})
	if err != nil || len(r.Commands) != 4 || r.Undo == nil || srv.Sent() != 0 {
		t.Fatalf("%v %q", err, r.Commands)
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"defender"`
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
	for _, bad := range []func(*Config){
		func(c *Config) { c.TenantID = "../evil" },
		func(c *Config) { c.ClientSecret = "plain" },
		func(c *Config) { c.IsolationType = "Partial" },
	} {
		cc := cfg
		bad(&cc)
		if _, err := New(cc); err == nil {
			t.Errorf("%+v accepted", cc)
		}
	}
}
