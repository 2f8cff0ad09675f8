package jira

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/apitest"
)

const token = "ATATT3xFfGF0-example-token"

var vault = apitest.Vault{"jira": token}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{Email: "riposte@corp.example", APIToken: "secret://jira", Project: "SEC",
		Transitions: map[string]string{"contained": "In Progress"},
		Options:     apiclient.Options{URL: srv.URL, HTTP: srv.Client(), Secrets: vault.Resolve, RiposteURL: "https://riposte.test"}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff = 10 * time.Millisecond
	return c
}

var hdr = map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("riposte@corp.example:"+token)),
	"Content-Type": "application/json", "Accept": "application/json"}

const findBody = `{"jql":"project = \"SEC\" AND labels = \"riposte-inc-7\" ORDER BY created DESC","fields":["summary","status","labels"],"maxResults":1}`

// Answers shaped as in the REST API v3 reference.
const (
	none    = `{"issues":[],"isLast":true}`
	found   = `{"issues":[{"id":"10068","key":"SEC-24","self":"https://corp.atlassian.net/rest/api/3/issue/10068","fields":{"summary":"Brute force","labels":["riposte","riposte-inc-7"],"status":{"name":"To Do","statusCategory":{"key":"new"}}}}],"isLast":true}`
	created = `{"id":"10068","key":"SEC-24","self":"https://corp.atlassian.net/rest/api/3/issue/10068"}`
	trans   = `{"transitions":[{"id":"11","name":"To Do","to":{"name":"To Do"}},{"id":"21","name":"In Progress","to":{"name":"In Progress"}},{"id":"31","name":"Done","to":{"name":"Done"}}]}`
)

const createBody = `{"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Task"},"summary":"Brute force on web-1","labels":["riposte","riposte-inc-7"],
 "priority":{"name":"Highest"},
 "description":{"type":"doc","version":1,"content":[
  {"type":"paragraph","content":[{"type":"text","text":"{color:red}*5 failures*{color} [click|https://evil.example] <b>"}]},
  {"type":"paragraph","content":[{"type":"text","text":"Riposte incident inc-7"}]},
  {"type":"paragraph","content":[{"type":"text","text":"Open the incident in Riposte","marks":[{"type":"link","attrs":{"href":"https://riposte.test/api/v1/incidents/inc-7"}}]}]}]}}}`

func openCall() connector.Call {
	return connector.Call{Operation: "open", Incident: "inc-7", Args: map[string]any{"title": "Brute force on\nweb-1", "priority": "P1",
		"description": "{color:red}*5 failures*{color} [click|https://evil.example] <b>"}}
}

func TestOpenUpdateClose(t *testing.T) {
	search := apitest.Exchange{Method: "POST", Path: "/rest/api/3/search/jql", Header: hdr, Body: findBody, Resp: found}
	srv := apitest.New(t,
		apitest.Exchange{Method: "POST", Path: "/rest/api/3/search/jql", Header: hdr, Body: findBody, Resp: none},
		apitest.Exchange{Method: "POST", Path: "/rest/api/3/issue", Header: hdr, Body: createBody, Status: 201, Resp: created},
		search, // a repeat finds it
		search,
		apitest.Exchange{Method: "POST", Path: "/rest/api/3/issue/SEC-24/comment", Header: hdr, Status: 201,
			Body: `{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"Riposte incident inc-7 is now contained."}]},{"type":"paragraph","content":[{"type":"text","text":"blocked"}]}]}}`,
			Resp: `{"id":"10000","self":"https://corp.atlassian.net/rest/api/3/issue/10068/comment/10000","created":"2024-06-10T10:00:00.000+0000"}`},
		apitest.Exchange{Method: "GET", Path: "/rest/api/3/issue/SEC-24/transitions", NoBody: true, Resp: trans},
		apitest.Exchange{Method: "POST", Path: "/rest/api/3/issue/SEC-24/transitions", Header: hdr, Body: `{"transition":{"id":"21"}}`, Status: 204},
		search,
		apitest.Exchange{Method: "GET", Path: "/rest/api/3/issue/SEC-24/transitions", Resp: trans},
		apitest.Exchange{Method: "POST", Path: "/rest/api/3/issue/SEC-24/transitions", Body: `{"transition":{"id":"31"}}`, Status: 204},
	)
	c := newConn(t, srv)
	ctx := context.Background()
	r, err := c.Execute(ctx, openCall())
	if err != nil || r.Outputs["key"] != "SEC-24" || r.Outputs["created"] != true || r.Undo == nil {
		t.Fatalf("open: %v %+v", err, r.Outputs)
	}
	if r2, err := c.Execute(ctx, openCall()); err != nil || r2.Outputs["created"] != false {
		t.Fatalf("repeat: %v %+v", err, r2.Outputs)
	}
	if r3, err := c.Execute(ctx, connector.Call{Operation: "update", Incident: "inc-7", Args: map[string]any{"status": "contained", "comment": "blocked"}}); err != nil || r3.Outputs["transition"] != "In Progress" {
		t.Fatalf("update: %v %+v", err, r3.Outputs)
	}
	if _, err := c.Execute(ctx, connector.Call{Operation: r.Undo.Operation, Args: r.Undo.Args}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(r.Commands, ""), token) {
		t.Fatal("the token is in the commands")
	}
}

func TestRetriesAndErrors(t *testing.T) {
	t.Run("429 then 503 on the search", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/rest/api/3/search/jql", Status: 429, RespHeader: map[string]string{"Retry-After": "1"}},
			apitest.Exchange{Method: "POST", Path: "/rest/api/3/search/jql", Status: 503},
			apitest.Exchange{Method: "POST", Path: "/rest/api/3/search/jql", Body: findBody, Resp: found},
			apitest.Exchange{Method: "GET", Path: "/rest/api/3/issue/SEC-24/transitions", Resp: trans},
			apitest.Exchange{Method: "POST", Path: "/rest/api/3/issue/SEC-24/transitions", Body: `{"transition":{"id":"31"}}`, Status: 204},
		)
		if _, err := newConn(t, srv).Execute(context.Background(), connector.Call{Operation: "close", Incident: "inc-7"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("400 surfaced", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/rest/api/3/search/jql", Resp: none},
			apitest.Exchange{Method: "POST", Path: "/rest/api/3/issue", Status: 400,
				Resp: `{"errorMessages":[],"errors":{"priority":"Specify the Priority (id or name) in the string format"}}`})
		_, err := newConn(t, srv).Execute(context.Background(), openCall())
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "priority: Specify the Priority") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("create lost, found again", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/rest/api/3/search/jql", Resp: none},
			apitest.Exchange{Method: "POST", Path: "/rest/api/3/issue", Status: 500},
			apitest.Exchange{Method: "POST", Path: "/rest/api/3/search/jql", Resp: found})
		r, err := newConn(t, srv).Execute(context.Background(), openCall())
		if err != nil || r.Outputs["created"] != false || r.Outputs["key"] != "SEC-24" {
			t.Fatalf("%v %+v", err, r.Outputs)
		}
	})
	t.Run("no such transition", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/rest/api/3/search/jql", Resp: found},
			apitest.Exchange{Method: "GET", Path: "/rest/api/3/issue/SEC-24/transitions", Resp: `{"transitions":[{"id":"11","name":"Reopen"}]}`})
		_, err := newConn(t, srv).Execute(context.Background(), connector.Call{Operation: "close", Incident: "inc-7"})
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), `no transition "Done"; it has: Reopen`) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSimulateSendsNothing(t *testing.T) {
	srv := apitest.New(t)
	r, err := newConn(t, srv).Simulate(context.Background(), connector.Call{Operation: "close", Incident: "inc-7"})
	if err != nil || len(r.Commands) != 3 || strings.Contains(strings.Join(r.Commands, ""), token) || srv.Sent() != 0 {
		t.Fatalf("%v %q", err, r.Commands)
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"jira"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &f, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	cfg := f.Connectors.C
	cfg.Secrets = vault.Resolve
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Project = `SEC" OR 1=1`
	if _, err := New(cfg); err == nil {
		t.Fatal("a project that is not a key was accepted")
	}
}
