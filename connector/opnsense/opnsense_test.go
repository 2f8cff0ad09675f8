package opnsense

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/apitest"
)

// The key and secret of the OPNsense manual's API example (apikey.txt).
const (
	apiKey    = "w86XNZob/8Oq8aC5r0kbNarNtdpoQU781fyoeaOBQsBwkXUt"
	apiSecret = "XeD26XVrJ5ilAc/EmglCRC+0j2e57tRsjHwFepOseySWLM53pJASeTA3"
)

var vault = apitest.Vault{"opn": "key=" + apiKey + "\nsecret=" + apiSecret + "\n"}

var basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":"+apiSecret))

var (
	postHdr = map[string]string{"Authorization": basic, "Content-Type": "application/json", "Accept": "application/json"}
	getHdr  = map[string]string{"Authorization": basic, "Content-Type": "", "Accept": "application/json"}
)

// Answers of alias_util (AliasUtilController): add and delete answer a
// status, list the table's rows.
const (
	done     = `{"status":"done"}`
	failed   = `{"status":"failed"}`
	withIt   = `{"total":2,"rowCount":2,"current":1,"rows":[{"ip":"198.51.100.0/24"},{"ip":"203.0.113.7"}]}`
	without  = `{"total":1,"rowCount":1,"current":1,"rows":[{"ip":"198.51.100.0/24"}]}`
	addPath  = "/api/firewall/alias_util/add/riposte_block"
	delPath  = "/api/firewall/alias_util/delete/riposte_block"
	listPath = "/api/firewall/alias_util/list/riposte_block"
)

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{Credentials: "secret://opn", Alias: "riposte_block",
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
		apitest.Exchange{Method: "POST", Path: addPath, Header: postHdr, Body: `{"address":"203.0.113.7"}`, Resp: done},
		apitest.Exchange{Method: "GET", Path: listPath, Header: getHdr, NoBody: true, Resp: withIt},
		apitest.Exchange{Method: "POST", Path: delPath, Header: postHdr, Body: `{"address":"203.0.113.7"}`, Resp: done},
		apitest.Exchange{Method: "GET", Path: listPath, Header: getHdr, NoBody: true, Resp: without},
	)
	c := newConn(t, srv)
	res, err := c.Execute(context.Background(), call("block", "203.0.113.7/32"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["address"] != "203.0.113.7" || res.Outputs["entries"] != 2 || res.Undo == nil || res.Undo.Operation != "unblock" {
		t.Fatalf("block: %+v", res)
	}
	for _, line := range res.Commands {
		if strings.Contains(line, apiSecret) || strings.Contains(line, apiKey) {
			t.Fatalf("credential in the trace: %s", line)
		}
	}
	res, err = c.Execute(context.Background(), connector.Call{Operation: res.Undo.Operation, Args: res.Undo.Args})
	if err != nil || res.Undo != nil || !strings.Contains(res.Summary, "removed from") {
		t.Fatalf("unblock: %+v %v", res, err)
	}
}

func TestFailuresAreClassified(t *testing.T) {
	cases := []struct {
		name  string
		ex    []apitest.Exchange
		class connector.Class
		msg   string
	}{
		{"not an External alias", []apitest.Exchange{{Method: "POST", Path: addPath, Resp: failed}}, connector.Permanent, `status "failed"`},
		{"not verified", []apitest.Exchange{{Method: "POST", Path: addPath, Resp: done}, {Method: "GET", Path: listPath, Resp: without}},
			connector.Unknown, "does not hold it"},
		{"wrong key", []apitest.Exchange{{Method: "POST", Path: addPath, Status: 401,
			Resp: `{"status":401,"message":"Authentication Failed"}`}}, connector.Permanent, "Authentication Failed"},
		{"rate limited, then done", []apitest.Exchange{
			{Method: "POST", Path: addPath, Status: 429, RespHeader: map[string]string{"Retry-After": "0"}, Resp: `{"message":"too many requests"}`},
			{Method: "POST", Path: addPath, Status: 503, Resp: `{"message":"configd unavailable"}`},
			{Method: "POST", Path: addPath, Body: `{"address":"203.0.113.7"}`, Resp: done},
			{Method: "GET", Path: listPath, Resp: withIt}}, -1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := apitest.New(t, tc.ex...)
			_, err := newConn(t, srv).Execute(context.Background(), call("block", "203.0.113.7"))
			if tc.class < 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || connector.ClassOf(err) != tc.class || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v (class %v), want class %v with %q", err, connector.ClassOf(err), tc.class, tc.msg)
			}
			if strings.Contains(err.Error(), apiSecret) {
				t.Fatal("secret in the error")
			}
		})
	}
}

func TestSimulateSendsNothing(t *testing.T) {
	srv := apitest.New(t)
	res, err := newConn(t, srv).Simulate(context.Background(), call("block", "198.51.100.9/24"))
	if err != nil || res.Outputs["address"] != "198.51.100.0/24" || len(res.Commands) != 2 || res.Undo == nil {
		t.Fatalf("%+v %v", res, err)
	}
	for _, bad := range []string{"", "example.com", "fe80::1%eth0"} {
		if _, err := newConn(t, srv).Simulate(context.Background(), call("block", bad)); err == nil {
			t.Errorf("address %q accepted", bad)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Credentials: "secret://opn", Alias: "riposte_block"},
		{Credentials: "secret://opn", Alias: "bad alias", Options: apiclient.Options{URL: "https://fw"}},
		{Credentials: "plain:text", Alias: "riposte_block", Options: apiclient.Options{URL: "https://fw"}},
		{Credentials: "secret://opn", Alias: "riposte_block", Options: apiclient.Options{URL: "http://fw"}},
	} {
		cfg.Secrets = vault.Resolve
		if _, err := New(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	if k, s := Credentials(apiKey + ":" + apiSecret); k != apiKey || s != apiSecret {
		t.Fatalf("KEY:SECRET read as %q %q", k, s)
	}
}
