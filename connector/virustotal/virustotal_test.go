package virustotal

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

const key = "vt-example-key-0123456789abcdef0123456789abcdef0123456789abcdef"

var vault = apitest.Vault{"vt": key}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{APIKey: "secret://vt", Options: apiclient.Options{URL: srv.URL + "/api/v3", HTTP: srv.Client(), Secrets: vault.Resolve}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff = 10 * time.Millisecond
	return c
}

var hdr = map[string]string{"x-apikey": key, "Accept": "application/json"}

// Objects shaped as in the API v3 reference (IP address, domain and file
// objects; the NotFoundError and QuotaExceededError answers).
const (
	ipObj = `{"data":{"attributes":{"as_owner":"GOOGLE","asn":15169,"continent":"NA","country":"US","last_analysis_date":1718000000,
	 "last_analysis_stats":{"harmless":62,"malicious":1,"suspicious":0,"undetected":26,"timeout":0},"network":"8.8.8.0/24","reputation":527,
	 "tags":[],"total_votes":{"harmless":210,"malicious":31}},"id":"8.8.8.8","links":{"self":"https://www.virustotal.com/api/v3/ip_addresses/8.8.8.8"},"type":"ip_address"}}`
	domainObj = `{"data":{"attributes":{"last_analysis_date":1718000000,"last_analysis_stats":{"harmless":58,"malicious":7,"suspicious":2,"undetected":22,"timeout":0},
	 "registrar":"NameCheap, Inc.","reputation":-12,"categories":{}},"id":"bad.example","type":"domain"}}`
	fileObj = `{"data":{"attributes":{"last_analysis_date":1718000000,"last_analysis_stats":{"harmless":0,"malicious":64,"suspicious":0,"undetected":8,
	 "type-unsupported":4,"timeout":0},"meaningful_name":"eicar.com","md5":"44d88612fea8a8f36de82e1278abb02f",
	 "sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f","type_description":"Text","reputation":3356},
	 "id":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f","type":"file"}}`
	notFound = `{"error":{"code":"NotFoundError","message":"Domain \"unknown-zz.example\" not found"}}`
)

func call(op, arg, v string) connector.Call {
	return connector.Call{Operation: op, Args: map[string]any{arg: v}}
}

func TestLookups(t *testing.T) {
	srv := apitest.New(t,
		apitest.Exchange{Method: "GET", Path: "/api/v3/ip_addresses/8.8.8.8", Query: map[string]string{}, Header: hdr, NoBody: true, Resp: ipObj},
		apitest.Exchange{Method: "GET", Path: "/api/v3/domains/bad.example", Header: hdr, Resp: domainObj},
		apitest.Exchange{Method: "GET", Path: "/api/v3/files/44d88612fea8a8f36de82e1278abb02f", Header: hdr, Resp: fileObj},
		apitest.Exchange{Method: "GET", Path: "/api/v3/domains/unknown-zz.example", Header: hdr, Status: 404, Resp: notFound},
	)
	c := newConn(t, srv)
	ctx := context.Background()
	for _, tc := range []struct {
		call connector.Call
		want map[string]any
	}{
		{call("lookup_ip", "ip", "8.8.8.8"), map[string]any{"found": true, "malicious": 1, "suspicious": 0, "harmless": 62, "reputation": 527,
			"country": "US", "asn": 15169, "last_analysis_date": "2024-06-10T06:13:20Z"}},
		{call("lookup_domain", "domain", "Bad.Example."), map[string]any{"found": true, "domain": "bad.example", "malicious": 7, "suspicious": 2, "reputation": -12,
			"registrar": "NameCheap, Inc."}},
		{call("lookup_file", "hash", "44D88612FEA8A8F36DE82E1278ABB02F"), map[string]any{"found": true, "malicious": 64,
			"sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "meaningful_name": "eicar.com"}},
		{call("lookup_domain", "domain", "unknown-zz.example"), map[string]any{"found": false, "domain": "unknown-zz.example"}},
	} {
		r, err := c.Execute(ctx, tc.call)
		if err != nil {
			t.Fatalf("%+v: %v", tc.call, err)
		}
		for k, v := range tc.want {
			if r.Outputs[k] != v {
				t.Errorf("%s %s = %#v, want %#v", tc.call.Operation, k, r.Outputs[k], v)
			}
		}
		if r.Undo != nil || strings.Contains(strings.Join(r.Commands, ""), key) {
			t.Errorf("undo %v commands %q", r.Undo, r.Commands)
		}
	}
}

func TestRefusedOrNotSent(t *testing.T) {
	srv := apitest.New(t)
	c := newConn(t, srv)
	r, err := c.Execute(context.Background(), call("lookup_ip", "ip", "192.168.1.10"))
	if err != nil || r.Outputs["found"] != false {
		t.Fatalf("%v %+v", err, r.Outputs)
	}
	for _, bad := range []connector.Call{call("lookup_ip", "ip", "8.8.8.8/../files"), call("lookup_domain", "domain", "../ip_addresses/8.8.8.8"),
		call("lookup_domain", "domain", "a.com?x=1"), call("lookup_file", "hash", "abc"), call("lookup_file", "hash", strings.Repeat("g", 64)),
		call("scan_url", "url", "https://x.example")} {
		if _, err := c.Execute(context.Background(), bad); connector.ClassOf(err) != connector.Permanent || err == nil {
			t.Errorf("%+v: err = %v", bad, err)
		}
	}
	if srv.Sent() != 0 {
		t.Fatalf("%d requests sent", srv.Sent())
	}
}

func TestRetriesAndErrors(t *testing.T) {
	p := "/api/v3/ip_addresses/8.8.8.8"
	t.Run("429 retried", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "GET", Path: p, Status: 429, Resp: `{"error":{"code":"QuotaExceededError","message":"Quota exceeded"}}`},
			apitest.Exchange{Method: "GET", Path: p, Status: 429, RespHeader: map[string]string{"Retry-After": "1"}},
			apitest.Exchange{Method: "GET", Path: p, Resp: ipObj})
		if _, err := newConn(t, srv).Execute(context.Background(), call("lookup_ip", "ip", "8.8.8.8")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("quota exhausted is transient", func(t *testing.T) {
		q := apitest.Exchange{Method: "GET", Path: p, Status: 429, Resp: `{"error":{"code":"QuotaExceededError","message":"Quota exceeded"}}`}
		srv := apitest.New(t, q, q, q, q)
		_, err := newConn(t, srv).Execute(context.Background(), call("lookup_ip", "ip", "8.8.8.8"))
		if connector.ClassOf(err) != connector.Transient || !strings.Contains(err.Error(), "QuotaExceededError") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		srv := apitest.New(t, apitest.Exchange{Method: "GET", Path: p, Status: 401,
			Resp: `{"error":{"code":"WrongCredentialsError","message":"Wrong API key"}}`})
		_, err := newConn(t, srv).Execute(context.Background(), call("lookup_ip", "ip", "8.8.8.8"))
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "WrongCredentialsError: Wrong API key") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSimulateSendsNothing(t *testing.T) {
	srv := apitest.New(t)
	r, err := newConn(t, srv).Simulate(context.Background(), call("lookup_file", "hash", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"))
	if err != nil || len(r.Commands) != 1 || !strings.Contains(r.Commands[0], "/api/v3/files/275a021b") || strings.Contains(r.Commands[0], key) {
		t.Fatalf("%v %q", err, r.Commands)
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"virustotal"`
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
	cfg.APIKey = key
	if _, err := New(cfg); err == nil {
		t.Fatal("a key in clear was accepted")
	}
}
