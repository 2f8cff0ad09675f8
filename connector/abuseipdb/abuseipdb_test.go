package abuseipdb

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

const key = "c3k69z846qn30q4r6eo3gsg3urqanuoypyluil350m7iyyw55mx6hd22aaa7xj9y0xbk2ygtrcxuzbh8"

var vault = apitest.Vault{"abuse": key}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{APIKey: "secret://abuse", Options: apiclient.Options{URL: srv.URL + "/api/v2", HTTP: srv.Client(), Secrets: vault.Resolve}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff = 10 * time.Millisecond
	return c
}

var hdr = map[string]string{"Key": key, "Accept": "application/json"}

// The check endpoint's example answer in the APIv2 documentation.
const checked = `{"data":{"ipAddress":"118.25.6.39","isPublic":true,"ipVersion":4,"isWhitelisted":false,"abuseConfidenceScore":100,
 "countryCode":"CN","countryName":"China","usageType":"Data Center/Web Hosting/Transit","isp":"Tencent Cloud Computing (Beijing) Co. Ltd",
 "domain":"tencent.com","hostnames":[],"isTor":false,"totalReports":1,"numDistinctUsers":1,"lastReportedAt":"2018-12-20T20:55:14+00:00"}}`

func check(ip string) connector.Call {
	return connector.Call{Operation: "check_ip", Args: map[string]any{"ip": ip}}
}

func TestCheck(t *testing.T) {
	srv := apitest.New(t,
		apitest.Exchange{Method: "GET", Path: "/api/v2/check", Query: map[string]string{"ipAddress": "118.25.6.39", "maxAgeInDays": "90"},
			Header: hdr, NoBody: true, Resp: checked},
		apitest.Exchange{Method: "GET", Path: "/api/v2/check", Query: map[string]string{"ipAddress": "2001:4860:4860::8888", "maxAgeInDays": "30"},
			Header: hdr, Resp: `{"data":{"ipAddress":"2001:4860:4860::8888","isPublic":true,"ipVersion":6,"isWhitelisted":null,"abuseConfidenceScore":0,
			 "countryCode":null,"usageType":null,"isp":"Google LLC","domain":"google.com","hostnames":[],"isTor":false,"totalReports":0,"numDistinctUsers":0,"lastReportedAt":null}}`},
	)
	c := newConn(t, srv)
	r, err := c.Execute(context.Background(), check(" 118.25.6.39 "))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"ip": "118.25.6.39", "public": true, "abuseConfidenceScore": 100, "countryCode": "CN",
		"isp": "Tencent Cloud Computing (Beijing) Co. Ltd", "totalReports": 1, "lastReportedAt": "2018-12-20T20:55:14Z", "isTor": false}
	for k, v := range want {
		if r.Outputs[k] != v {
			t.Errorf("%s = %#v, want %#v", k, r.Outputs[k], v)
		}
	}
	if r.Undo != nil || strings.Contains(strings.Join(r.Commands, ""), key) {
		t.Fatalf("undo %v, commands %q", r.Undo, r.Commands)
	}
	r, err = c.Execute(context.Background(), connector.Call{Operation: "check_ip", Args: map[string]any{"ip": "2001:4860:4860::8888", "max_age_days": 30.0}})
	if err != nil || r.Outputs["abuseConfidenceScore"] != 0 || r.Outputs["countryCode"] != "" || r.Outputs["lastReportedAt"] != "" {
		t.Fatalf("%v %+v", err, r.Outputs)
	}
}

func TestRefusedOrNotSent(t *testing.T) {
	srv := apitest.New(t)
	c := newConn(t, srv)
	for _, ip := range []string{"10.0.0.5", "127.0.0.1", "203.0.113.7", "fe80::1"} {
		r, err := c.Execute(context.Background(), check(ip))
		if err != nil || r.Outputs["public"] != false {
			t.Errorf("%s: %v %+v", ip, err, r.Outputs)
		}
	}
	for _, call := range []connector.Call{check("118.25.6.39&verbose"), check("example.com"), check(""),
		{Operation: "check_ip", Args: map[string]any{"ip": "8.8.8.8", "max_age_days": 400}},
		{Operation: "report", Args: map[string]any{"ip": "8.8.8.8"}}} {
		if _, err := c.Execute(context.Background(), call); connector.ClassOf(err) != connector.Permanent || err == nil {
			t.Errorf("%+v: err = %v", call, err)
		}
	}
	if srv.Sent() != 0 {
		t.Fatalf("%d requests sent", srv.Sent())
	}
}

func TestRetriesAndErrors(t *testing.T) {
	q := map[string]string{"ipAddress": "118.25.6.39", "maxAgeInDays": "90"}
	t.Run("429 waits for Retry-After", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "GET", Path: "/api/v2/check", Query: q, Status: 429, RespHeader: map[string]string{"Retry-After": "1", "X-RateLimit-Remaining": "0"},
				Resp: `{"errors":[{"detail":"Daily rate limit of 1000 requests exceeded for this endpoint.","status":429}]}`},
			apitest.Exchange{Method: "GET", Path: "/api/v2/check", Query: q, Resp: checked})
		start := time.Now()
		if _, err := newConn(t, srv).Execute(context.Background(), check("118.25.6.39")); err != nil || time.Since(start) < 900*time.Millisecond {
			t.Fatalf("%v after %s", err, time.Since(start))
		}
	})
	t.Run("401 names the cause, not the key", func(t *testing.T) {
		srv := apitest.New(t, apitest.Exchange{Method: "GET", Path: "/api/v2/check", Status: 401,
			Resp: `{"errors":[{"detail":"Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.","status":401}]}`})
		_, err := newConn(t, srv).Execute(context.Background(), check("118.25.6.39"))
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Authentication failed") || strings.Contains(err.Error(), key) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("an answer without a score is an error", func(t *testing.T) {
		srv := apitest.New(t, apitest.Exchange{Method: "GET", Path: "/api/v2/check", Resp: `{"data":{}}`})
		if _, err := newConn(t, srv).Execute(context.Background(), check("118.25.6.39")); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestSimulateSendsNothing(t *testing.T) {
	srv := apitest.New(t)
	r, err := newConn(t, srv).Simulate(context.Background(), check("118.25.6.39"))
	if err != nil || len(r.Commands) != 1 || !strings.Contains(r.Commands[0], "ipAddress=118.25.6.39") || strings.Contains(r.Commands[0], key) {
		t.Fatalf("%v %q", err, r.Commands)
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"abuseipdb"`
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
