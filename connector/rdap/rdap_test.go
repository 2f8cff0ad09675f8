package rdap

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apitest"
)

var accept = map[string]string{"Accept": "application/rdap+json"}

// Answers shaped as RFC 9083 and the registries' published examples: an
// ARIN ip network with its registrant and, nested, the abuse contact; a
// Verisign domain with its registrar; an RFC 9083 error.
const (
	arinNet = `{"rdapConformance":["nro_rdap_profile_0","rdap_level_0","cidr0","arin_originas0"],"objectClassName":"ip network",
	 "handle":"NET-8-8-8-0-2","startAddress":"8.8.8.0","endAddress":"8.8.8.255","ipVersion":"v4","name":"GOGL","type":"ALLOCATION",
	 "parentHandle":"NET-8-0-0-0-0","events":[{"eventAction":"last changed","eventDate":"2023-12-28T17:24:56-05:00"},
	 {"eventAction":"registration","eventDate":"2023-12-28T17:24:33-05:00"}],
	 "entities":[{"objectClassName":"entity","handle":"GOGL","roles":["registrant"],
	  "vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","Google LLC"],["kind",{},"text","org"]]],
	  "entities":[{"objectClassName":"entity","handle":"ABUSE5250-ARIN","roles":["abuse"],
	   "vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","Abuse"],["kind",{},"text","group"],
	   ["email",{},"text","network-abuse@google.com"],["tel",{"type":["work","voice"]},"text","+1-650-253-0000"]]]}]}]}`
	ripeNet = `{"objectClassName":"ip network","handle":"193.0.0.0 - 193.0.23.255","name":"RIPE-NCC","country":"NL",
	 "events":[{"eventAction":"last changed","eventDate":"2024-01-05T12:00:00Z"}],"entities":[]}`
	vrsnDomain = `{"objectClassName":"domain","handle":"2336799_DOMAIN_COM-VRSN","ldhName":"EXAMPLE.COM",
	 "events":[{"eventAction":"registration","eventDate":"1995-08-14T04:00:00Z"},{"eventAction":"expiration","eventDate":"2025-08-13T04:00:00Z"},
	 {"eventAction":"last changed","eventDate":"2024-08-14T07:01:34Z"}],
	 "entities":[{"objectClassName":"entity","handle":"376","roles":["registrar"],
	  "vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","RESERVED-Internet Assigned Numbers Authority"]]],
	  "entities":[{"objectClassName":"entity","roles":["abuse"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text",""],
	   ["email",{},"text","abuse@iana.example"]]]}]}]}`
	notFound = `{"errorCode":404,"title":"Not Found","description":["The requested resource was not found."]}`
)

func newConn(t *testing.T, srv *apitest.Server, boot string) *Connector {
	t.Helper()
	c, err := New(Config{URL: srv.URL + "/registry", BootstrapURL: boot, HTTP: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func call(op, arg, v string) connector.Call {
	return connector.Call{Operation: op, Args: map[string]any{arg: v}}
}

func TestLookups(t *testing.T) {
	srv := apitest.New(t,
		apitest.Exchange{Method: "GET", Path: "/registry/ip/8.8.8.8", Header: accept, NoBody: true, Resp: arinNet},
		apitest.Exchange{Method: "GET", Path: "/registry/domain/unknown-zz.example", Status: 404, Resp: notFound},
		apitest.Exchange{Method: "GET", Path: "/registry/ip/193.0.6.139", Status: 429, RespHeader: map[string]string{"Retry-After": "1"}},
		// ARIN sends what it does not hold to the registry that does.
		apitest.Exchange{Method: "GET", Path: "/registry/ip/193.0.6.139", Status: 301, RespHeader: map[string]string{"Location": "/ripe/ip/193.0.6.139"}},
		apitest.Exchange{Method: "GET", Path: "/ripe/ip/193.0.6.139", Header: accept, Resp: ripeNet},
	)
	c := newConn(t, srv, "")
	ctx := context.Background()
	r, err := c.Execute(ctx, call("lookup_ip", "ip", "8.8.8.8"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"found": true, "name": "GOGL", "handle": "NET-8-8-8-0-2", "registrant": "Google LLC",
		"abuse_emails": []string{"network-abuse@google.com"}, "registrant_emails": []string{},
		"registered": "2023-12-28T22:24:33Z", "last_changed": "2023-12-28T22:24:56Z", "expires": ""}
	for k, v := range want {
		if !reflect.DeepEqual(r.Outputs[k], v) {
			t.Errorf("%s = %#v, want %#v", k, r.Outputs[k], v)
		}
	}
	if r.Undo != nil {
		t.Error("a lookup has an undo")
	}
	r, err = c.Execute(ctx, call("lookup_domain", "domain", "unknown-zz.example"))
	if err != nil || r.Outputs["found"] != false {
		t.Fatalf("404: %v %+v", err, r.Outputs)
	}
	r, err = c.Execute(ctx, call("lookup_ip", "ip", "193.0.6.139"))
	if err != nil || r.Outputs["country"] != "NL" || r.Outputs["name"] != "RIPE-NCC" || r.Outputs["registered"] != "" {
		t.Fatalf("redirected: %v %+v", err, r.Outputs)
	}
}

func TestBootstrap(t *testing.T) {
	rd := apitest.New(t,
		apitest.Exchange{Method: "GET", Path: "/com/v1/domain/example.com", Header: accept, Resp: vrsnDomain},
		apitest.Exchange{Method: "GET", Path: "/com/v1/domain/sub.example.com", Status: 404, Resp: notFound},
		// .org is not in the registry: the configured service is asked.
		apitest.Exchange{Method: "GET", Path: "/registry/domain/example.org", Status: 404, Resp: notFound},
	)
	boot := apitest.New(t,
		apitest.Exchange{Method: "GET", Path: "/rdap/dns.json", Header: map[string]string{"Accept": "application/json"},
			Resp: `{"version":"1.0","publication":"2024-06-01T00:00:00Z","description":"RDAP bootstrap file for Domain Name System registrations",
			 "services":[[["net","com"],["` + rd.URL + `/com/v1/"]],[["example"],["http://plain.example/"]]]}`},
	)
	c, err := New(Config{URL: rd.URL + "/registry", BootstrapURL: boot.URL + "/rdap", HTTP: rd.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := c.Execute(ctx, call("lookup_domain", "domain", "EXAMPLE.com"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"name": "example.com", "registrar": "RESERVED-Internet Assigned Numbers Authority",
		"abuse_emails": []string{"abuse@iana.example"}, "registered": "1995-08-14T04:00:00Z", "expires": "2025-08-13T04:00:00Z"} {
		if !reflect.DeepEqual(r.Outputs[k], v) {
			t.Errorf("%s = %#v, want %#v", k, r.Outputs[k], v)
		}
	}
	// The registry is read once; a second .com name uses it again.
	if r, err := c.Execute(ctx, call("lookup_domain", "domain", "sub.example.com")); err != nil || r.Outputs["found"] != false {
		t.Fatalf("%v %+v", err, r.Outputs)
	}
	if r, err := c.Execute(ctx, call("lookup_domain", "domain", "example.org")); err != nil || r.Outputs["found"] != false {
		t.Fatalf("%v %+v", err, r.Outputs)
	}
}

func TestRefusedOrNotSent(t *testing.T) {
	srv := apitest.New(t)
	c := newConn(t, srv, "")
	if r, err := c.Execute(context.Background(), call("lookup_ip", "ip", "172.16.4.4")); err != nil || r.Outputs["found"] != false {
		t.Fatalf("%v %+v", err, r.Outputs)
	}
	for _, bad := range []connector.Call{call("lookup_ip", "ip", "8.8.8.8/24"), call("lookup_domain", "domain", "../ip/8.8.8.8"),
		call("lookup_domain", "domain", "com"), call("lookup_entity", "handle", "GOGL")} {
		if _, err := c.Execute(context.Background(), bad); connector.ClassOf(err) != connector.Permanent || err == nil {
			t.Errorf("%+v: err = %v", bad, err)
		}
	}
	if srv.Sent() != 0 {
		t.Fatalf("%d requests sent", srv.Sent())
	}
}

func TestErrors(t *testing.T) {
	t.Run("a redirect to http is not followed", func(t *testing.T) {
		srv := apitest.New(t, apitest.Exchange{Method: "GET", Path: "/registry/ip/8.8.8.8", Status: 302,
			RespHeader: map[string]string{"Location": "http://rdap.example/ip/8.8.8.8"}})
		_, err := newConn(t, srv, "").Execute(context.Background(), call("lookup_ip", "ip", "8.8.8.8"))
		if connector.ClassOf(err) != connector.Permanent || err == nil || !strings.Contains(err.Error(), "302") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not an ip network", func(t *testing.T) {
		srv := apitest.New(t, apitest.Exchange{Method: "GET", Path: "/registry/ip/8.8.8.8", Resp: vrsnDomain})
		if _, err := newConn(t, srv, "").Execute(context.Background(), call("lookup_ip", "ip", "8.8.8.8")); err == nil || !strings.Contains(err.Error(), "objectClassName") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("error body surfaced", func(t *testing.T) {
		srv := apitest.New(t, apitest.Exchange{Method: "GET", Path: "/registry/ip/8.8.8.8", Status: 400,
			Resp: `{"errorCode":400,"title":"Bad Request","description":["Malformed address"]}`})
		_, err := newConn(t, srv, "").Execute(context.Background(), call("lookup_ip", "ip", "8.8.8.8"))
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Bad Request; Malformed address") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSimulateSendsNothing(t *testing.T) {
	srv := apitest.New(t)
	r, err := newConn(t, srv, "").Simulate(context.Background(), call("lookup_domain", "domain", "example.com"))
	if err != nil || len(r.Commands) != 1 || !strings.Contains(r.Commands[0], "/registry/domain/example.com") {
		t.Fatalf("%v %q", err, r.Commands)
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"rdap"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &f, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	if _, err := New(f.Connectors.C); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{BootstrapURL: "http://data.iana.org/rdap"}); err == nil {
		t.Fatal("an http bootstrap was accepted")
	}
}
