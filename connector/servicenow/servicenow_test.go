package servicenow

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

const password = "Sn0w-example-pass"

var vault = apitest.Vault{"sn": password}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{User: "riposte.integration", Password: "secret://sn", AssignmentGroup: "Security Operations",
		Options: apiclient.Options{URL: srv.URL, HTTP: srv.Client(), Secrets: vault.Resolve, RiposteURL: "https://riposte.test"}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff = 10 * time.Millisecond
	return c
}

var hdr = map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("riposte.integration:"+password)),
	"Accept": "application/json"}

const path = "/api/now/table/incident"
const sysID = "9d385017c611228701d22104cc95c371"

var findQuery = map[string]string{"sysparm_query": "correlation_id=riposte-inc-7^ORDERBYDESCsys_created_on", "sysparm_limit": "1",
	"sysparm_fields": "sys_id,number,state,correlation_id"}
var fieldsQuery = map[string]string{"sysparm_fields": "sys_id,number,state,correlation_id"}

// Answers shaped as in the Table API reference: {"result": …}.
const (
	none    = `{"result":[]}`
	found   = `{"result":[{"sys_id":"` + sysID + `","number":"INC0010002","state":"1","correlation_id":"riposte-inc-7"}]}`
	created = `{"result":{"sys_id":"` + sysID + `","number":"INC0010002","state":"1","correlation_id":"riposte-inc-7"}}`
)

func find(resp string) apitest.Exchange {
	return apitest.Exchange{Method: "GET", Path: path, Query: findQuery, Header: hdr, NoBody: true, Resp: resp}
}

func openCall() connector.Call {
	return connector.Call{Operation: "open", Incident: "inc-7", Args: map[string]any{"title": "Brute force on\nweb-1", "priority": "P1",
		"description": "5 failures <script>x</script>"}}
}

func TestOpenUpdateClose(t *testing.T) {
	srv := apitest.New(t,
		find(none),
		apitest.Exchange{Method: "POST", Path: path, Query: fieldsQuery, Header: map[string]string{"Content-Type": "application/json", "Authorization": hdr["Authorization"]},
			Body: `{"short_description":"Brute force on web-1","description":"5 failures <script>x</script>\n\nRiposte incident inc-7\nhttps://riposte.test/api/v1/incidents/inc-7",
				"urgency":"1","impact":"1","correlation_id":"riposte-inc-7","correlation_display":"Riposte","assignment_group":"Security Operations"}`,
			Status: 201, Resp: created},
		find(found), // a repeat finds it
		find(found),
		apitest.Exchange{Method: "PATCH", Path: path + "/" + sysID, Query: fieldsQuery, Header: hdr,
			Body: `{"work_notes":"Riposte incident inc-7 is now contained.\n(code)<img src=x onerror=alert(1)>(/code) (/code)","state":"2"}`,
			Resp: `{"result":{"sys_id":"` + sysID + `","number":"INC0010002","state":"2","correlation_id":"riposte-inc-7"}}`},
		find(found),
		apitest.Exchange{Method: "PATCH", Path: path + "/" + sysID, Header: hdr,
			Body: `{"state":"6","close_code":"Solution provided","close_notes":"Resolved by Riposte: incident inc-7 recovered."}`,
			Resp: `{"result":{"sys_id":"` + sysID + `","number":"INC0010002","state":"6","correlation_id":"riposte-inc-7"}}`},
		find(`{"result":[{"sys_id":"`+sysID+`","number":"INC0010002","state":"6","correlation_id":"riposte-inc-7"}]}`),
	)
	c := newConn(t, srv)
	ctx := context.Background()
	r, err := c.Execute(ctx, openCall())
	if err != nil || r.Outputs["number"] != "INC0010002" || r.Outputs["created"] != true || r.Undo == nil {
		t.Fatalf("open: %v %+v", err, r.Outputs)
	}
	if r2, err := c.Execute(ctx, openCall()); err != nil || r2.Outputs["created"] != false {
		t.Fatalf("repeat: %v %+v", err, r2.Outputs)
	}
	up := connector.Call{Operation: "update", Incident: "inc-7", Args: map[string]any{"status": "contained",
		"comment": "[code]<img src=x onerror=alert(1)>[/code] [ / CODE]"}}
	if r3, err := c.Execute(ctx, up); err != nil || r3.Outputs["state"] != "2" {
		t.Fatalf("update: %v %+v", err, r3.Outputs)
	}
	if r4, err := c.Execute(ctx, connector.Call{Operation: r.Undo.Operation, Args: r.Undo.Args}); err != nil || r4.Outputs["state"] != "6" {
		t.Fatalf("close: %v %+v", err, r4.Outputs)
	}
	// Closing again sends nothing more: the record is resolved.
	if r5, err := c.Execute(ctx, connector.Call{Operation: "close", Incident: "inc-7"}); err != nil || !strings.Contains(r5.Summary, "already resolved") {
		t.Fatalf("close again: %v %+v", err, r5)
	}
	if strings.Contains(strings.Join(r.Commands, ""), password) {
		t.Fatal("the password is in the commands")
	}
}

func TestRetriesAndErrors(t *testing.T) {
	t.Run("429 then 503 on the query", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "GET", Path: path, Status: 429, RespHeader: map[string]string{"Retry-After": "1"}},
			apitest.Exchange{Method: "GET", Path: path, Status: 503},
			find(found),
			apitest.Exchange{Method: "PATCH", Path: path + "/" + sysID, Resp: `{"result":{"sys_id":"` + sysID + `","state":"6"}}`},
		)
		if _, err := newConn(t, srv).Execute(context.Background(), connector.Call{Operation: "close", Incident: "inc-7"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("error body surfaced", func(t *testing.T) {
		srv := apitest.New(t,
			find(none),
			apitest.Exchange{Method: "POST", Path: path, Status: 403,
				Resp: `{"error":{"message":"Operation Failed","detail":"ACL Exception Insert Failed due to security constraints"},"status":"failure"}`})
		_, err := newConn(t, srv).Execute(context.Background(), openCall())
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Operation Failed: ACL Exception Insert Failed") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("create lost, found again", func(t *testing.T) {
		srv := apitest.New(t, find(none), apitest.Exchange{Method: "POST", Path: path, Status: 500}, find(found))
		r, err := newConn(t, srv).Execute(context.Background(), openCall())
		if err != nil || r.Outputs["created"] != false || r.Outputs["sys_id"] != sysID {
			t.Fatalf("%v %+v", err, r.Outputs)
		}
	})
	t.Run("work note not sent twice", func(t *testing.T) {
		srv := apitest.New(t, find(found), apitest.Exchange{Method: "PATCH", Path: path + "/" + sysID, Status: 502})
		_, err := newConn(t, srv).Execute(context.Background(), connector.Call{Operation: "update", Incident: "inc-7", Args: map[string]any{"comment": "x"}})
		if connector.ClassOf(err) != connector.Unknown {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("state kept by a business rule", func(t *testing.T) {
		srv := apitest.New(t, find(found), apitest.Exchange{Method: "PATCH", Path: path + "/" + sysID, Resp: created})
		_, err := newConn(t, srv).Execute(context.Background(), connector.Call{Operation: "close", Incident: "inc-7"})
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), `answered state "1"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("an answer for another record is not used", func(t *testing.T) {
		srv := apitest.New(t, find(`{"result":[{"sys_id":"../../sys_user","number":"INC1","state":"1","correlation_id":"riposte-inc-7"}]}`))
		_, err := newConn(t, srv).Execute(context.Background(), connector.Call{Operation: "close", Incident: "inc-7"})
		if !strings.Contains(fmtErr(err), "no incident has correlation_id riposte-inc-7") {
			t.Fatalf("err = %v", err)
		}
	})
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRefusedBeforeAnyRequest(t *testing.T) {
	for _, inc := range []string{"inc-7^ORcorrelation_idISNOTEMPTY", "a=b", "x\ny", strings.Repeat("a", 99)} {
		srv := apitest.New(t)
		_, err := newConn(t, srv).Execute(context.Background(), connector.Call{Operation: "close", Args: map[string]any{"incident": inc}})
		if connector.ClassOf(err) != connector.Permanent || err == nil || srv.Sent() != 0 {
			t.Errorf("incident %q: err = %v, %d sent", inc, err, srv.Sent())
		}
	}
}

func TestPriorityMatrix(t *testing.T) {
	for _, tc := range []struct {
		p       string
		u, i    string
		refused bool
	}{{"P1", "1", "1", false}, {"P2", "1", "2", false}, {"", "2", "2", false}, {"p3", "2", "2", false}, {"P4", "2", "3", false}, {"P5", "", "", true}} {
		srv := apitest.New(t)
		call := openCall()
		call.Args["priority"] = tc.p
		r, err := newConn(t, srv).Simulate(context.Background(), call)
		if tc.refused {
			if err == nil {
				t.Errorf("%s accepted", tc.p)
			}
			continue
		}
		if err != nil || !strings.Contains(r.Commands[1], `"urgency":"`+tc.u+`"`) || !strings.Contains(r.Commands[1], `"impact":"`+tc.i+`"`) {
			t.Errorf("%s: %v %q", tc.p, err, r.Commands)
		}
	}
}

func TestSimulateSendsNothing(t *testing.T) {
	srv := apitest.New(t)
	r, err := newConn(t, srv).Simulate(context.Background(), connector.Call{Operation: "close", Incident: "inc-7"})
	if err != nil || len(r.Commands) != 2 || strings.Contains(strings.Join(r.Commands, ""), password) || srv.Sent() != 0 {
		t.Fatalf("%v %q", err, r.Commands)
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"servicenow"`
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
	for name, bad := range map[string]func(*Config){
		"password in clear": func(c *Config) { c.Password = "hunter2" },
		"state not a value": func(c *Config) { c.States = map[string]string{"contained": "In Progress"} },
		"unknown status":    func(c *Config) { c.States = map[string]string{"done": "6"} },
		"http url":          func(c *Config) { c.URL = "http://corp.service-now.com" },
	} {
		c := cfg
		bad(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzEscapeJournal(f *testing.F) {
	f.Add("[code]<b>x</b>[/code]")
	f.Add("[ CoDe ]")
	f.Fuzz(func(t *testing.T, s string) {
		if codeTag.MatchString(EscapeJournal(s)) {
			t.Fatalf("%q escaped to %q still holds a code tag", s, EscapeJournal(s))
		}
	})
}
