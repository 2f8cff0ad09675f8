package thehive

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

const key = "vKX8Aw0jDmOHU0bFD0z+xLpH4d7Nm6L2"

var vault = apitest.Vault{"hive": key}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{APIKey: "secret://hive", Organisation: "SOC", Options: apiclient.Options{
		URL: srv.URL, HTTP: srv.Client(), Secrets: vault.Resolve, RiposteURL: "https://riposte.test"}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff = 10 * time.Millisecond
	return c
}

var hdr = map[string]string{"Authorization": "Bearer " + key, "X-Organisation": "SOC", "Content-Type": "application/json", "Accept": "application/json"}

const findBody = `{"query":[{"_name":"listCase"},{"_name":"filter","_eq":{"_field":"tags","_value":"riposte:inc-7"}},
 {"_name":"sort","_fields":[{"_createdAt":"desc"}]},{"_name":"page","from":0,"to":1}]}`

// OutputCase, as in the API reference's "Create case" answer.
const caseJSON = `{"_id":"~41045","_type":"Case","_createdBy":"riposte@corp.example","_createdAt":1718000000000,"number":42,
 "title":"Brute force on web-1","description":"…","severity":3,"severityLabel":"HIGH","startDate":1718000000000,
 "tags":["riposte","riposte:inc-7","ssh"],"flag":false,"tlp":2,"tlpLabel":"AMBER","pap":2,"papLabel":"AMBER",
 "status":"New","stage":"New","assignee":"riposte@corp.example","customFields":[],"userPermissions":[],"extraData":{},"newDate":1718000000000,"timeToDetect":0}`

const createBody = `{"title":"Brute force on web-1","severity":3,"tlp":2,"pap":2,"flag":false,"tags":["riposte","riposte:inc-7","ssh"],
 "description":"5 failed logins from \\[x\\]\\(https\\://evil\\.example\\) \\<img src\\=x\\>\n\nRiposte incident ` + "`inc-7`" + `: <https://riposte.test/api/v1/incidents/inc-7>"}`

func obs(dt, v string) apitest.Exchange {
	return apitest.Exchange{Method: "POST", Path: "/api/v1/case/~41045/observable", Header: hdr, Status: 201,
		Body: `{"dataType":"` + dt + `","data":"` + v + `","message":"From Riposte incident inc-7","tlp":2,"pap":2,"ioc":true,"sighted":true,"tags":["riposte:inc-7"]}`,
		Resp: `[{"_id":"~4152","_type":"Observable","_createdBy":"riposte@corp.example","_createdAt":1718000000001,"dataType":"` + dt + `","data":"` + v + `","startDate":1718000000001,"tlp":2,"pap":2,"ioc":true,"sighted":true,"reports":{},"stats":{}}]`}
}

func openCall() connector.Call {
	return connector.Call{Operation: "open", Incident: "inc-7", Args: map[string]any{
		"title": "Brute force on web-1", "priority": "P2", "tags": []any{"ssh"},
		"description": "5 failed logins from [x](https://evil.example) <img src=x>",
		"observables": map[string]any{"ip": []any{"203.0.113.9"}, "domain": []any{"evil.example"}}}}
}

func TestOpenUpdateClose(t *testing.T) {
	srv := apitest.New(t,
		apitest.Exchange{Method: "POST", Path: "/api/v1/query", Header: hdr, Body: findBody, Resp: `[]`},
		apitest.Exchange{Method: "POST", Path: "/api/v1/case", Header: hdr, Body: createBody, Status: 201, Resp: caseJSON},
		obs("domain", "evil.example"),
		obs("ip", "203.0.113.9"),
		// A repeat of the step finds the case: nothing is created twice.
		apitest.Exchange{Method: "POST", Path: "/api/v1/query", Body: findBody, Resp: `[` + caseJSON + `]`},
		apitest.Exchange{Method: "POST", Path: "/api/v1/case/~41045/observable", Status: 400, Resp: `{"type":"CreateError","message":"Observable already exists"}`},
		apitest.Exchange{Method: "POST", Path: "/api/v1/case/~41045/observable", Status: 400, Resp: `{"type":"CreateError","message":"Observable already exists"}`},
		// update: a comment, then the status.
		apitest.Exchange{Method: "POST", Path: "/api/v1/query", Body: findBody, Resp: `[` + caseJSON + `]`},
		apitest.Exchange{Method: "POST", Path: "/api/v1/case/~41045/comment", Header: hdr, Status: 201,
			Body: "{\"message\":\"Riposte incident `inc-7` is now **contained**.\\n\\nblocked on \\\\*all\\\\* hosts\"}",
			Resp: `{"_id":"~8312","_type":"Comment","createdBy":"riposte@corp.example","createdAt":1718000000100,"message":"…","isEdited":false,"extraData":{}}`},
		apitest.Exchange{Method: "PATCH", Path: "/api/v1/case/~41045", Header: hdr, Body: `{"status":"InProgress"}`, Status: 204},
		// close (the undo).
		apitest.Exchange{Method: "POST", Path: "/api/v1/query", Body: findBody, Resp: `[` + caseJSON + `]`},
		apitest.Exchange{Method: "PATCH", Path: "/api/v1/case/~41045", Header: hdr, Status: 204,
			Body: "{\"status\":\"TruePositive\",\"summary\":\"Closed by Riposte: incident `inc-7` is resolved.\"}"},
	)
	c := newConn(t, srv)
	ctx := context.Background()
	r, err := c.Execute(ctx, openCall())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outputs["case_id"] != "~41045" || r.Outputs["created"] != true || r.Outputs["observables"] != 2 || r.Undo == nil {
		t.Fatalf("open: %+v %+v", r.Outputs, r.Undo)
	}
	r2, err := c.Execute(ctx, openCall())
	if err != nil || r2.Outputs["created"] != false || r2.Outputs["observables"] != 0 {
		t.Fatalf("repeat: %v %+v", err, r2.Outputs)
	}
	if _, err := c.Execute(ctx, connector.Call{Operation: "update", Incident: "inc-7", Args: map[string]any{"status": "contained", "comment": "blocked on *all* hosts"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(ctx, connector.Call{Operation: r.Undo.Operation, Args: r.Undo.Args}); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(r)
	if strings.Contains(string(out), key) {
		t.Fatal("the key is in the result")
	}
}

func TestCreateUnknownOutcomeLooksAgain(t *testing.T) {
	srv := apitest.New(t,
		apitest.Exchange{Method: "POST", Path: "/api/v1/query", Body: findBody, Resp: `[]`},
		// The create fails after TheHive made the case, on every try.
		apitest.Exchange{Method: "POST", Path: "/api/v1/case", Body: createBody, Status: 502},
		apitest.Exchange{Method: "POST", Path: "/api/v1/query", Body: findBody, Resp: `[` + caseJSON + `]`},
		obs("domain", "evil.example"),
		obs("ip", "203.0.113.9"),
	)
	r, err := newConn(t, srv).Execute(context.Background(), openCall())
	if err != nil || r.Outputs["case_id"] != "~41045" || r.Outputs["created"] != false {
		t.Fatalf("%v %+v", err, r.Outputs)
	}
}

func TestRetriesAndErrors(t *testing.T) {
	t.Run("429 on the query", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/api/v1/query", Status: 429, RespHeader: map[string]string{"Retry-After": "1"}},
			apitest.Exchange{Method: "POST", Path: "/api/v1/query", Status: 500, Resp: `{"type":"InternalError","message":"boom"}`},
			apitest.Exchange{Method: "POST", Path: "/api/v1/query", Body: findBody, Resp: `[` + caseJSON + `]`},
			apitest.Exchange{Method: "PATCH", Path: "/api/v1/case/~41045", Status: 204},
		)
		if _, err := newConn(t, srv).Execute(context.Background(), connector.Call{Operation: "close", Incident: "inc-7"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("401 surfaced", func(t *testing.T) {
		srv := apitest.New(t, apitest.Exchange{Method: "POST", Path: "/api/v1/query", Status: 401,
			Resp: `{"type":"AuthenticationError","message":"Authentication failure"}`})
		_, err := newConn(t, srv).Execute(context.Background(), openCall())
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "AuthenticationError; Authentication failure") || strings.Contains(err.Error(), key) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad request surfaced", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/api/v1/query", Resp: `[]`},
			apitest.Exchange{Method: "POST", Path: "/api/v1/case", Status: 400, Resp: `{"type":"BadRequest","message":"Invalid json"}`})
		_, err := newConn(t, srv).Execute(context.Background(), openCall())
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Invalid json") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no case to close", func(t *testing.T) {
		srv := apitest.New(t, apitest.Exchange{Method: "POST", Path: "/api/v1/query", Resp: `[]`})
		_, err := newConn(t, srv).Execute(context.Background(), connector.Call{Operation: "close", Incident: "inc-7"})
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "no case is tagged riposte:inc-7") {
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
	if len(r.Commands) != 4 || !strings.HasPrefix(r.Commands[1], "POST "+srv.URL+"/api/v1/case (credential secret://hive) ") ||
		!strings.Contains(r.Commands[3], "/api/v1/case/%7Bcase%7D/observable") || strings.Contains(strings.Join(r.Commands, ""), key) {
		t.Fatalf("simulated: %q", r.Commands)
	}
	if srv.Sent() != 0 {
		t.Fatal("simulation sent a request")
	}
	if _, err := newConn(t, srv).Simulate(context.Background(), connector.Call{Operation: "open", Incident: "i",
		Args: map[string]any{"title": "t", "observables": map[string]any{"registry": []any{"x"}}}}); err == nil {
		t.Fatal("an unknown observable type was accepted")
	}
}

func TestMarkdown(t *testing.T) {
	for in, want := range map[string]string{
		"plain words":                "plain words",
		"[a](http://x)":              `\[a\]\(http\://x\)`,
		"![i](http://x/p.png)":       `\!\[i\]\(http\://x/p\.png\)`,
		"<script>alert(1)</script>":  `\<script\>alert\(1\)\</script\>`,
		"# h\n* item `code` _e_ ~s~": "\\# h\n\\* item \\`code\\` \\_e\\_ \\~s\\~",
	} {
		if got := Markdown(in); got != want {
			t.Errorf("Markdown(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"thehive"`
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
	if _, err := New(Config{APIKey: "secret://hive", Options: apiclient.Options{Secrets: vault.Resolve}}); err == nil {
		t.Fatal("no url accepted")
	}
}
