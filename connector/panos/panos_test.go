package panos

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/apitest"
)

// The key of the PAN-OS XML API guide's keygen example.
const apiKey = "LUFRPT14MW5xOEo1R09KVlBZNnpnemh0VHRBOWl6TGM9bXcwM3JHUGVhRlNiY0dCR0srNERUQT09"

var vault = apitest.Vault{"pa": apiKey + "\n"}

var (
	hdr     = map[string]string{"X-PAN-KEY": apiKey, "Accept": "application/xml", "Authorization": ""}
	xmlResp = map[string]string{"Content-Type": "application/xml"}
	userID  = map[string]string{"type": "user-id"}
	op      = map[string]string{"type": "op"}
)

const (
	register   = `<uid-message><version>2.0</version><type>update</type><payload><register><entry ip="203.0.113.9"><tag><member timeout="3600">riposte-block</member></tag></entry></register></payload></uid-message>`
	unregister = `<uid-message><version>2.0</version><type>update</type><payload><unregister><entry ip="203.0.113.9"><tag><member>riposte-block</member></tag></entry></unregister></payload></uid-message>`
	show       = `<show><object><registered-ip><ip>203.0.113.9</ip></registered-ip></object></show>`

	// Answers of the XML API: User-ID updates answer a uid-response,
	// show registered-ip lists entries with their tags.
	ok      = `<response status="success"><msg><line><uid-response><version>2.0</version><payload><register></register></payload></uid-response></line></msg></response>`
	dup     = `<response status="error"><msg><line><uid-response><version>2.0</version><payload><register><entry ip="203.0.113.9" message="tag riposte-block already exists, ignore"/></register></payload></uid-response></line></msg></response>`
	gone    = `<response status="error"><msg><line><uid-response><version>2.0</version><payload><unregister><entry ip="203.0.113.9" message="tag riposte-block does not exist, ignore unreg"/></unregister></payload></uid-response></line></msg></response>`
	withIt  = `<response status="success"><result><entry ip="203.0.113.9" from_agent="0" persistent="1"><tag><member>riposte-block</member><member>scanner</member></tag></entry><count>1</count></result></response>`
	without = `<response status="success"><result><count>0</count></result></response>`
	denied  = `<response status="error" code="403"><result><msg>Invalid Credential</msg></result></response>`
	badVsys = `<response status="error"><msg><line>vsys9 is not a valid virtual system</line></msg></response>`
)

func ex(q map[string]string, cmd, resp string) apitest.Exchange {
	return apitest.Exchange{Method: "POST", Path: "/api/", Query: q, Header: hdr, Form: map[string]string{"cmd": cmd}, RespHeader: xmlResp, Resp: resp}
}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{APIKey: "secret://pa", Tag: "riposte-block", TagTimeout: 3600,
		Options: apiclient.Options{URL: srv.URL, HTTP: srv.Client(), Secrets: vault.Resolve}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff = 10 * time.Millisecond
	return c
}

func call(op, addr string) connector.Call {
	return connector.Call{Operation: op, Args: map[string]any{"address": addr}}
}

func TestBlockVerifiedAndUndone(t *testing.T) {
	srv := apitest.New(t,
		ex(userID, register, ok), ex(op, show, withIt),
		ex(userID, unregister, ok), ex(op, show, without),
	)
	c := newConn(t, srv)
	res, err := c.Execute(context.Background(), call("block", "203.0.113.9/32"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["address"] != "203.0.113.9" || len(res.Outputs["tags"].([]string)) != 2 || res.Undo == nil || res.Undo.Operation != "unblock" {
		t.Fatalf("block: %+v", res)
	}
	for _, line := range res.Commands {
		if strings.Contains(line, apiKey) {
			t.Fatalf("key in the trace: %s", line)
		}
	}
	res, err = c.Execute(context.Background(), connector.Call{Operation: res.Undo.Operation, Args: res.Undo.Args})
	if err != nil || res.Undo != nil || !strings.Contains(res.Summary, "untagged") {
		t.Fatalf("unblock: %+v %v", res, err)
	}
}

func TestRepeatsAreNoOps(t *testing.T) {
	srv := apitest.New(t,
		ex(userID, register, dup), ex(op, show, withIt),
		ex(userID, unregister, gone), ex(op, show, without),
	)
	c := newConn(t, srv)
	if _, err := c.Execute(context.Background(), call("block", "203.0.113.9")); err != nil {
		t.Fatalf("block of a tagged address: %v", err)
	}
	if _, err := c.Execute(context.Background(), call("unblock", "203.0.113.9")); err != nil {
		t.Fatalf("unblock of an untagged address: %v", err)
	}
}

func TestFailuresAreClassified(t *testing.T) {
	cases := []struct {
		name  string
		ex    []apitest.Exchange
		class connector.Class
		msg   string
	}{
		{"error answered with 200", []apitest.Exchange{ex(userID, register, badVsys)}, connector.Permanent, "vsys9 is not a valid virtual system"},
		{"wrong key", []apitest.Exchange{func() apitest.Exchange { e := ex(userID, register, denied); e.Status = 403; return e }()},
			connector.Permanent, "Invalid Credential"},
		{"not verified", []apitest.Exchange{ex(userID, register, ok), ex(op, show, without)}, connector.Unknown, "does not hold the tag"},
		{"not XML", []apitest.Exchange{ex(userID, register, `<html>login</html>`)}, connector.Unknown, "not a PAN-OS XML API response"},
		{"rate limited, then 5xx, then done", []apitest.Exchange{
			func() apitest.Exchange {
				e := ex(userID, register, "")
				e.Status, e.RespHeader = 429, map[string]string{"Retry-After": "0"}
				return e
			}(),
			func() apitest.Exchange {
				e := ex(userID, register, "<html>Bad Gateway</html>")
				e.Status = 502
				return e
			}(),
			ex(userID, register, ok), ex(op, show, withIt)}, -1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := apitest.New(t, tc.ex...)
			_, err := newConn(t, srv).Execute(context.Background(), call("block", "203.0.113.9"))
			if tc.class < 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || connector.ClassOf(err) != tc.class || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v (class %v), want class %v with %q", err, connector.ClassOf(err), tc.class, tc.msg)
			}
			if strings.Contains(err.Error(), apiKey) {
				t.Fatal("key in the error")
			}
		})
	}
}

func TestSimulateSendsNothing(t *testing.T) {
	srv := apitest.New(t)
	c := newConn(t, srv)
	res, err := c.Simulate(context.Background(), call("block", "::ffff:203.0.113.9"))
	if err != nil || res.Outputs["address"] != "203.0.113.9" || len(res.Commands) != 2 || res.Undo == nil {
		t.Fatalf("%+v %v", res, err)
	}
	if want := "cmd=" + url.QueryEscape(register); !strings.Contains(res.Commands[0], want) {
		t.Fatalf("command %s lacks %s", res.Commands[0], want)
	}
	for _, bad := range []string{"", "example.com", "203.0.113.0/24", "fe80::1%eth0", `1.2.3.4"/><entry ip="0.0.0.0`} {
		if _, err := c.Simulate(context.Background(), call("block", bad)); err == nil {
			t.Errorf("address %q accepted", bad)
		}
	}
}

func TestMessageEscapesTheTag(t *testing.T) {
	m, err := Message("register", "2001:db8::1", `a<b>&"c`, 0)
	if err != nil || !strings.Contains(m, `<member>a&lt;b&gt;&amp;&#34;c</member>`) || strings.Contains(m, "timeout") {
		t.Fatalf("%s %v", m, err)
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{APIKey: "secret://pa", Tag: "riposte-block"},
		{APIKey: "secret://pa", Tag: "", Options: apiclient.Options{URL: "https://fw"}},
		{APIKey: "LUFRPT14", Tag: "riposte-block", Options: apiclient.Options{URL: "https://fw"}},
		{APIKey: "secret://pa", Tag: "riposte-block", Options: apiclient.Options{URL: "http://fw"}},
		{APIKey: "secret://pa", Tag: "riposte-block", TagTimeout: MaxTagTimeout + 1, Options: apiclient.Options{URL: "https://fw"}},
		{APIKey: "secret://pa", Tag: "riposte-block", Vsys: "vsys1&x", Options: apiclient.Options{URL: "https://fw"}},
	} {
		cfg.Secrets = vault.Resolve
		if _, err := New(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{ok, dup, withIt, without, denied, "<response", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := parse([]byte(s))
		if len(a.msgs) > 8 {
			t.Fatalf("%d messages", len(a.msgs))
		}
	})
}
