package fortigate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/apitest"
)

const token = "5zq8Gtpn4Q0mydbrw6w7r9hx3gfkxG"

var vault = apitest.Vault{"fgt": token}

var (
	auth    = map[string]string{"Authorization": "Bearer " + token, "Accept": "application/json"}
	jsonHdr = map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	vdom    = map[string]string{"vdom": "root"}
)

const (
	addrPath   = "/api/v2/cmdb/firewall/address"
	memberPath = "/api/v2/cmdb/firewall/addrgrp/riposte-block/member"
	groupPath  = "/api/v2/cmdb/firewall/addrgrp/riposte-block"
	object     = "riposte-203.0.113.9"

	// Answers of the FortiOS REST API v2 (cmdb): every one carries
	// status and http_status; errors carry a FortiOS error code.
	created = `{"http_method":"POST","revision":"8f3b2c1a","mkey":"riposte-203.0.113.9","status":"success","http_status":200,"vdom":"root","path":"firewall","name":"address","serial":"FGVM01TM00000000","version":"v7.2.5","build":1517}`
	deleted = `{"http_method":"DELETE","revision":"8f3b2c1b","status":"success","http_status":200,"vdom":"root","path":"firewall","name":"address","serial":"FGVM01TM00000000","version":"v7.2.5","build":1517}`
	dup     = `{"http_method":"POST","status":"error","http_status":424,"error":-5,"vdom":"root","path":"firewall","name":"address","serial":"FGVM01TM00000000","version":"v7.2.5","build":1517}`
	absent  = `{"http_method":"DELETE","status":"error","http_status":404,"error":-3,"vdom":"root","path":"firewall","name":"addrgrp","serial":"FGVM01TM00000000","version":"v7.2.5","build":1517}`
	inUse   = `{"http_method":"DELETE","status":"error","http_status":424,"error":-23,"cli_error":"entry is used","vdom":"root","path":"firewall","name":"address","serial":"FGVM01TM00000000","version":"v7.2.5","build":1517}`
	withIt  = `{"http_method":"GET","results":[{"name":"riposte-block","q_origin_key":"riposte-block","type":"default","member":[{"name":"none","q_origin_key":"none"},{"name":"riposte-203.0.113.9","q_origin_key":"riposte-203.0.113.9"}],"comment":""}],"vdom":"root","path":"firewall","name":"addrgrp","mkey":"riposte-block","status":"success","http_status":200,"serial":"FGVM01TM00000000","version":"v7.2.5","build":1517}`
	without = `{"http_method":"GET","results":[{"name":"riposte-block","q_origin_key":"riposte-block","type":"default","member":[{"name":"none","q_origin_key":"none"}],"comment":""}],"vdom":"root","path":"firewall","name":"addrgrp","mkey":"riposte-block","status":"success","http_status":200,"serial":"FGVM01TM00000000","version":"v7.2.5","build":1517}`
)

var (
	createAddr = apitest.Exchange{Method: "POST", Path: addrPath, Query: vdom, Header: jsonHdr, Body: `{"name":"riposte-203.0.113.9","subnet":"203.0.113.9 255.255.255.255","comment":"riposte"}`, Resp: created}
	addMember  = apitest.Exchange{Method: "POST", Path: memberPath, Query: vdom, Header: jsonHdr, Body: `{"name":"riposte-203.0.113.9"}`, Resp: created}
	readGroup  = apitest.Exchange{Method: "GET", Path: groupPath, Query: vdom, Header: auth, NoBody: true, Resp: withIt}
	delMember  = apitest.Exchange{Method: "DELETE", Path: memberPath + "/" + object, Query: vdom, Header: auth, NoBody: true, Resp: deleted}
	delAddr    = apitest.Exchange{Method: "DELETE", Path: addrPath + "/" + object, Query: vdom, Header: auth, NoBody: true, Resp: deleted}
)

func with(e apitest.Exchange, status int, resp string) apitest.Exchange {
	e.Status, e.Resp = status, resp
	return e
}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{Token: "secret://fgt", Group: "riposte-block", VDOM: "root",
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
	srv := apitest.New(t, createAddr, addMember, readGroup, delMember, delAddr, with(readGroup, 200, without))
	c := newConn(t, srv)
	res, err := c.Execute(context.Background(), call("block", "203.0.113.9"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["object"] != object || res.Outputs["members"] != 2 || res.Undo == nil || res.Undo.Operation != "unblock" {
		t.Fatalf("block: %+v", res)
	}
	for _, line := range res.Commands {
		if strings.Contains(line, token) {
			t.Fatalf("token in the trace: %s", line)
		}
	}
	res, err = c.Execute(context.Background(), connector.Call{Operation: res.Undo.Operation, Args: res.Undo.Args})
	if err != nil || res.Undo != nil || res.Outputs["object_deleted"] != true || !strings.Contains(res.Summary, "removed from") {
		t.Fatalf("unblock: %+v %v", res, err)
	}
}

func TestRepeatsAreNoOps(t *testing.T) {
	srv := apitest.New(t,
		with(createAddr, 424, dup), with(addMember, 424, dup), readGroup,
		with(delMember, 404, absent), with(delAddr, 404, absent), with(readGroup, 200, without),
	)
	c := newConn(t, srv)
	if _, err := c.Execute(context.Background(), call("block", "203.0.113.9")); err != nil {
		t.Fatalf("block repeated: %v", err)
	}
	if _, err := c.Execute(context.Background(), call("unblock", "203.0.113.9")); err != nil {
		t.Fatalf("unblock repeated: %v", err)
	}
}

func TestObjectUsedElsewhereIsKept(t *testing.T) {
	srv := apitest.New(t, delMember, with(delAddr, 424, inUse), with(readGroup, 200, without))
	res, err := newConn(t, srv).Execute(context.Background(), call("unblock", "203.0.113.9"))
	if err != nil || res.Outputs["object_deleted"] != false || !strings.Contains(res.Summary, "kept") {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestFailuresAreClassified(t *testing.T) {
	cases := []struct {
		name  string
		ex    []apitest.Exchange
		class connector.Class
		msg   string
	}{
		{"wrong token", []apitest.Exchange{with(createAddr, 401, `{"http_method":"POST","status":"error","http_status":401}`)}, connector.Permanent, "401"},
		{"no such group", []apitest.Exchange{createAddr, with(addMember, 404, absent)}, connector.Permanent, "FortiOS error -3 (entry not found)"},
		{"error answered with 200", []apitest.Exchange{with(createAddr, 200, `{"status":"error","http_status":500,"error":-8}`)}, connector.Permanent, "FortiOS error -8"},
		{"not verified", []apitest.Exchange{createAddr, addMember, with(readGroup, 200, without)}, connector.Unknown, "does not hold riposte-203.0.113.9"},
		{"rate limited, then 5xx, then done", []apitest.Exchange{
			func() apitest.Exchange {
				e := with(createAddr, 429, `{"status":"error","http_status":429}`)
				e.RespHeader = map[string]string{"Retry-After": "0"}
				return e
			}(),
			with(createAddr, 503, `{"status":"error","http_status":503}`),
			createAddr, addMember, readGroup}, -1, ""},
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
			if strings.Contains(err.Error(), token) {
				t.Fatal("token in the error")
			}
		})
	}
}

func TestSimulateSendsNothing(t *testing.T) {
	srv := apitest.New(t)
	c := newConn(t, srv)
	res, err := c.Simulate(context.Background(), call("block", "198.51.100.9/24"))
	if err != nil || res.Outputs["object"] != "riposte-198.51.100.0-24" || len(res.Commands) != 3 || res.Undo == nil ||
		!strings.Contains(res.Commands[0], `"subnet":"198.51.100.0 255.255.255.0"`) {
		t.Fatalf("%+v %v", res, err)
	}
	for _, bad := range []string{"", "example.com", "2001:db8::1", "fe80::1%eth0", "203.0.113.9/33"} {
		if _, err := c.Simulate(context.Background(), call("block", bad)); err == nil {
			t.Errorf("address %q accepted", bad)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Token: "secret://fgt", Group: "riposte-block"},
		{Token: "secret://fgt", Group: "", Options: apiclient.Options{URL: "https://fw"}},
		{Token: token, Group: "riposte-block", Options: apiclient.Options{URL: "https://fw"}},
		{Token: "secret://fgt", Group: "riposte-block", Options: apiclient.Options{URL: "http://fw"}},
		{Token: "secret://fgt", Group: "riposte-block", VDOM: "root&x=1", Options: apiclient.Options{URL: "https://fw"}},
	} {
		cfg.Secrets = vault.Resolve
		if _, err := New(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}
