package opsgenie

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/apitest"
)

const key = "eb243592-faa2-4ba2-a551q-1afdf565c889"

var vault = apitest.Vault{"og": key}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{APIKey: "secret://og", Tags: []string{"riposte"}, Teams: []string{"SOC"}, Options: apiclient.Options{
		URL: srv.URL, HTTP: srv.Client(), Secrets: vault.Resolve, RiposteURL: "https://riposte.test"}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff = 10 * time.Millisecond
	c.poll = 10 * time.Millisecond
	return c
}

var (
	hdr    = map[string]string{"Authorization": "GenieKey " + key, "Content-Type": "application/json", "Accept": "application/json"}
	getHdr = map[string]string{"Authorization": "GenieKey " + key, "Content-Type": "", "Accept": "application/json"}
)

// Answers from the Alert API reference: "Create Alert", "Get Request
// Status", and the error shapes.
const (
	processing = `{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`
	created    = `{"data":{"success":true,"action":"Create","processedAt":"2017-05-24T14:24:20.844Z","integrationId":"c9cec2cb-e782-4ebb-bc1d-1b2fa703cf03","isSuccess":true,"status":"Created alert","alertId":"8743a1f4-8114-4e4a-a4ce-1dd4c5b4ff54","alias":"riposte-inc-7"},"took":0.022,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`
	closed     = `{"data":{"success":true,"action":"Close","processedAt":"2017-05-24T14:30:20.844Z","integrationId":"c9cec2cb-e782-4ebb-bc1d-1b2fa703cf03","isSuccess":true,"status":"Closed alert","alertId":"8743a1f4-8114-4e4a-a4ce-1dd4c5b4ff54","alias":"riposte-inc-7"},"took":0.022,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`
	notYet     = `{"message":"Request not found. It might not be processed, yet.","took":0.002,"requestId":"e3ca0d2c-bf3a-4fc3-a4c7-4b9f0a8c5c0a"}`
	unproc     = `{"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty."},"took":0.083,"requestId":"ac4ddb5a-3b1b-4c2a-9d37-6b5d09a9a7b6"}`
	statusPath = "/v2/alerts/requests/43a29c5c-3dbf-4fa4-9c26-f4f71023e120"
)

const createBody = `{"message":"Brute force on web-1 <b>","alias":"riposte-inc-7",
 "description":"5 failed logins [x](https://evil.example)\n\nRiposte incident: https://riposte.test/api/v1/incidents/inc-7",
 "priority":"P1","source":"Riposte","entity":"web-1","tags":["riposte","ssh"],
 "details":{"riposte_incident":"inc-7","riposte_link":"https://riposte.test/api/v1/incidents/inc-7","attacker":"203.0.113.9","count":"5"},
 "responders":[{"name":"SOC","type":"team"}]}`

func openCall() connector.Call {
	return connector.Call{Operation: "open", Incident: "inc-7", Args: map[string]any{
		"title": "Brute force on web-1 <b>", "description": "5 failed logins [x](https://evil.example)", "priority": "P1",
		"entity": "web-1", "tags": []any{"ssh", "riposte"}, "details": map[string]any{"attacker": "203.0.113.9", "count": 5}}}
}

func TestOpenUpdateClose(t *testing.T) {
	ack := apitest.Exchange{Method: "POST", Path: "/v2/alerts/riposte-inc-7/acknowledge", Query: map[string]string{"identifierType": "alias"}, Header: hdr,
		Body: `{"user":"Riposte","source":"Riposte","note":"Riposte incident inc-7 is now contained. Blocked on 3 hosts."}`, Status: 202, Resp: processing}
	note := apitest.Exchange{Method: "POST", Path: "/v2/alerts/riposte-inc-7/notes", Query: map[string]string{"identifierType": "alias"}, Header: hdr,
		Body: `{"user":"Riposte","source":"Riposte","note":"playbook step done"}`, Status: 202, Resp: processing}
	cl := apitest.Exchange{Method: "POST", Path: "/v2/alerts/riposte-inc-7/close", Query: map[string]string{"identifierType": "alias"}, Header: hdr,
		Body: `{"user":"Riposte","source":"Riposte","note":"Closed by Riposte: incident inc-7 is resolved."}`, Status: 202, Resp: processing}
	get := func(resp string) apitest.Exchange {
		return apitest.Exchange{Method: "GET", Path: statusPath, Header: getHdr, NoBody: true, Resp: resp}
	}
	srv := apitest.New(t,
		apitest.Exchange{Method: "POST", Path: "/v2/alerts", Query: map[string]string{}, Header: hdr, Body: createBody, Status: 202, Resp: processing},
		apitest.Exchange{Method: "GET", Path: statusPath, Status: 404, Resp: notYet}, // not processed yet: asked again
		get(created),
		ack, get(created),
		note, get(created),
		cl, get(closed),
	)
	c := newConn(t, srv)
	ctx := context.Background()
	r, err := c.Execute(ctx, openCall())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outputs["alert_id"] != "8743a1f4-8114-4e4a-a4ce-1dd4c5b4ff54" || r.Undo == nil || r.Undo.Operation != "close" {
		t.Fatalf("open: %+v %+v", r.Outputs, r.Undo)
	}
	if _, err := c.Execute(ctx, connector.Call{Operation: "update", Incident: "inc-7", Args: map[string]any{"status": "contained", "comment": "Blocked on 3 hosts."}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(ctx, connector.Call{Operation: "update", Incident: "inc-7", Args: map[string]any{"comment": "playbook step done"}}); err != nil {
		t.Fatal(err)
	}
	r2, err := c.Execute(ctx, connector.Call{Operation: r.Undo.Operation, Args: r.Undo.Args})
	if err != nil || !strings.Contains(r2.Summary, "Closed alert") {
		t.Fatalf("close: %v %s", err, r2.Summary)
	}
	out, _ := json.Marshal([]any{r, r2})
	if strings.Contains(string(out), key) {
		t.Fatalf("the key is in a result: %s", out)
	}
}

func TestRetriesAndErrors(t *testing.T) {
	t.Run("429 then 5xx then accepted", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/v2/alerts", Body: createBody, Status: 429, RespHeader: map[string]string{"Retry-After": "1"},
				Resp: `{"message":"You are making too many requests! To avoid errors, we recommend you limit requests.","took":0.001,"requestId":"x"}`},
			apitest.Exchange{Method: "POST", Path: "/v2/alerts", Body: createBody, Status: 503},
			apitest.Exchange{Method: "POST", Path: "/v2/alerts", Header: hdr, Body: createBody, Status: 202, Resp: processing},
			apitest.Exchange{Method: "GET", Path: statusPath, Resp: created},
		)
		start := time.Now()
		if _, err := newConn(t, srv).Execute(context.Background(), openCall()); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) < 900*time.Millisecond {
			t.Fatal("Retry-After not honoured")
		}
	})
	t.Run("422 surfaced", func(t *testing.T) {
		srv := apitest.New(t, apitest.Exchange{Method: "POST", Path: "/v2/alerts", Status: 422, Resp: unproc})
		_, err := newConn(t, srv).Execute(context.Background(), openCall())
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Message can not be empty") || !strings.Contains(err.Error(), "not processable") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("401 surfaced without the key", func(t *testing.T) {
		srv := apitest.New(t, apitest.Exchange{Method: "POST", Path: "/v2/alerts", Status: 401, Resp: `{"message":"Could not authenticate","took":0.0,"requestId":"x"}`})
		_, err := newConn(t, srv).Execute(context.Background(), openCall())
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Could not authenticate") || strings.Contains(err.Error(), key) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("processed and failed", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/v2/alerts/riposte-inc-7/close", Status: 202, Resp: processing},
			apitest.Exchange{Method: "GET", Path: statusPath, Resp: `{"data":{"success":false,"action":"Close","isSuccess":false,"status":"Alert does not exist","alertId":"","alias":"riposte-inc-7"},"took":0.01,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`},
		)
		_, err := newConn(t, srv).Execute(context.Background(), connector.Call{Operation: "close", Incident: "inc-7"})
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Alert does not exist") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSimulateSendsNothing(t *testing.T) {
	srv := apitest.New(t)
	r, err := newConn(t, srv).Simulate(context.Background(), openCall())
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(r.Commands, "\n")
	if !strings.HasPrefix(line, "POST "+srv.URL+"/v2/alerts (credential secret://og) ") || !strings.Contains(line, `"alias":"riposte-inc-7"`) || strings.Contains(line, key) {
		t.Fatalf("simulated: %s", line)
	}
	if srv.Sent() != 0 {
		t.Fatal("simulation sent a request")
	}
}

func TestRefused(t *testing.T) {
	c := newConn(t, apitest.New(t))
	for _, tc := range []struct {
		name string
		call connector.Call
		want string
	}{
		{"empty update", connector.Call{Operation: "update", Incident: "i"}, "give a status"},
		{"alias injection", connector.Call{Operation: "close", Args: map[string]any{"incident": "x/../../v2/heartbeats"}}, "not an incident id"},
		{"no title", connector.Call{Operation: "open", Incident: "i", Args: map[string]any{}}, "title"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Execute(context.Background(), tc.call); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New(Config{APIKey: key, Options: apiclient.Options{Secrets: vault.Resolve}}); err == nil {
		t.Fatal("a key written in the config was accepted")
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"opsgenie"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &f, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	cfg := f.Connectors.C
	if cfg.APIKey != "secret://opsgenie-api-key" || cfg.URL != DefaultURL || len(cfg.Teams) != 1 {
		t.Fatalf("read %+v", cfg)
	}
	cfg.Secrets = vault.Resolve
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
}
