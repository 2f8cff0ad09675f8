package pagerduty

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

// The routing key is 32 characters, as PagerDuty requires.
const key = "R0UT1NGK3Y0000000000000000000001"

var vault = apitest.Vault{"pd": key}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{RoutingKey: "secret://pd", Source: "riposte.test", Options: apiclient.Options{
		URL: srv.URL, HTTP: srv.Client(), Secrets: vault.Resolve, RiposteURL: "https://riposte.test"}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff = 10 * time.Millisecond
	return c
}

// Headers every request carries.
var hdr = map[string]string{"Content-Type": "application/json", "Accept": "application/json", "Authorization": ""}

// The answers of the Events API v2 reference ("Send an alert event").
const (
	accepted = `{"status":"success","message":"Event processed","dedup_key":"riposte-inc-7"}`
	invalid  = `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}`
)

const triggerBody = `{"routing_key":"` + key + `","event_action":"trigger","dedup_key":"riposte-inc-7",
 "payload":{"summary":"Brute force on web-1 <script>","source":"web-1","severity":"error","component":"sshd",
  "custom_details":{"riposte_incident":"inc-7","priority":"P2","link":"https://riposte.test/api/v1/incidents/inc-7","attacker":"203.0.113.9"}},
 "client":"Riposte","client_url":"https://riposte.test/api/v1/incidents/inc-7",
 "links":[{"href":"https://riposte.test/api/v1/incidents/inc-7","text":"Riposte incident inc-7"}]}`

func openCall() connector.Call {
	return connector.Call{Operation: "open", Incident: "inc-7", Args: map[string]any{
		"title": "Brute force on web-1 <script>", "priority": "P2", "source": "web-1", "component": "sshd",
		"details": map[string]any{"attacker": "203.0.113.9"}}}
}

func TestOpenUpdateClose(t *testing.T) {
	ack := `{"routing_key":"` + key + `","event_action":"acknowledge","dedup_key":"riposte-inc-7"}`
	res := `{"routing_key":"` + key + `","event_action":"resolve","dedup_key":"riposte-inc-7"}`
	srv := apitest.New(t,
		apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Header: hdr, Body: triggerBody, Status: 202, Resp: accepted},
		apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Header: hdr, Body: ack, Status: 202, Resp: accepted},
		apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Header: hdr, Body: res, Status: 202, Resp: accepted},
		apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Header: hdr, Body: res, Status: 202, Resp: accepted},
	)
	c := newConn(t, srv)
	ctx := context.Background()
	r, err := c.Execute(ctx, openCall())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outputs["dedup_key"] != "riposte-inc-7" || r.Undo == nil || r.Undo.Operation != "close" || r.Undo.Args["incident"] != "inc-7" {
		t.Fatalf("open: %+v undo %+v", r.Outputs, r.Undo)
	}
	if _, err := c.Execute(ctx, connector.Call{Operation: "update", Incident: "inc-7", Args: map[string]any{"status": "contained"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(ctx, connector.Call{Operation: "update", Incident: "inc-7", Args: map[string]any{"status": "closed"}}); err != nil {
		t.Fatal(err)
	}
	// The undo recovery runs.
	if _, err := c.Execute(ctx, connector.Call{Operation: r.Undo.Operation, Args: r.Undo.Args}); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(r)
	if strings.Contains(string(out), key) || !strings.Contains(string(out), "secret://pd") {
		t.Fatalf("the result holds the routing key or not its reference: %s", out)
	}
}

func TestRetries(t *testing.T) {
	t.Run("429 Retry-After", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Body: triggerBody, Status: 429, RespHeader: map[string]string{"Retry-After": "1"}},
			apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Body: triggerBody, Status: 202, Resp: accepted},
		)
		start := time.Now()
		if _, err := newConn(t, srv).Execute(context.Background(), openCall()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Fatalf("retried after %s, before Retry-After", d)
		}
	})
	t.Run("5xx", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Body: triggerBody, Status: 500, Resp: `{"status":"error","message":"internal"}`},
			apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Body: triggerBody, Status: 503},
			apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Body: triggerBody, Status: 202, Resp: accepted},
		)
		if _, err := newConn(t, srv).Execute(context.Background(), openCall()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Retry-After too long", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Body: triggerBody, Status: 429, RespHeader: map[string]string{"Retry-After": "3600"}},
		)
		_, err := newConn(t, srv).Execute(context.Background(), openCall())
		if connector.ClassOf(err) != connector.Transient || !strings.Contains(err.Error(), "rate limited") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("5xx every time", func(t *testing.T) {
		var ex []apitest.Exchange
		for range apiclient.DefaultAttempts {
			ex = append(ex, apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Status: 502})
		}
		_, err := newConn(t, apitest.New(t, ex...)).Execute(context.Background(), openCall())
		if connector.ClassOf(err) != connector.Unknown || !strings.Contains(err.Error(), "502") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestErrorsSurfaced(t *testing.T) {
	srv := apitest.New(t, apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Body: triggerBody, Status: 400, Resp: invalid})
	_, err := newConn(t, srv).Execute(context.Background(), openCall())
	if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Event object is invalid") ||
		!strings.Contains(err.Error(), "should be 32 characters") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), key) {
		t.Fatal("the error holds the routing key")
	}
}

func TestWrongAlertAnswered(t *testing.T) {
	srv := apitest.New(t, apitest.Exchange{Method: "POST", Path: "/v2/enqueue", Status: 202,
		Resp: `{"status":"success","message":"Event processed","dedup_key":"someone-else"}`})
	_, err := newConn(t, srv).Execute(context.Background(), openCall())
	if connector.ClassOf(err) != connector.Unknown {
		t.Fatalf("err = %v", err)
	}
}

func TestSimulateSendsNothing(t *testing.T) {
	srv := apitest.New(t)
	c := newConn(t, srv)
	r, err := c.Simulate(context.Background(), openCall())
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(r.Commands, "\n")
	if !strings.HasPrefix(line, "POST "+srv.URL+"/v2/enqueue ") || !strings.Contains(line, `"routing_key":"secret://pd"`) ||
		!strings.Contains(line, `"severity":"error"`) || strings.Contains(line, key) || r.Undo == nil {
		t.Fatalf("simulated: %s", line)
	}
	if srv.Sent() != 0 {
		t.Fatal("simulation sent a request")
	}
}

func TestRefused(t *testing.T) {
	srv := apitest.New(t)
	c := newConn(t, srv)
	for _, tc := range []struct {
		name string
		call connector.Call
		want string
	}{
		{"no incident", connector.Call{Operation: "close"}, "no incident"},
		{"bad incident", connector.Call{Operation: "close", Args: map[string]any{"incident": "a b"}}, "not an incident id"},
		{"bad priority", connector.Call{Operation: "open", Incident: "i", Args: map[string]any{"title": "t", "priority": "urgent"}}, "want P1"},
		{"bad status", connector.Call{Operation: "update", Incident: "i", Args: map[string]any{"status": "done"}}, "want one of"},
		{"new without title", connector.Call{Operation: "update", Incident: "i", Args: map[string]any{"status": "new"}}, "title is required"},
		{"unknown op", connector.Call{Operation: "page", Incident: "i"}, "unknown operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Execute(context.Background(), tc.call)
			if err == nil || !strings.Contains(err.Error(), tc.want) || connector.ClassOf(err) != connector.Permanent {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	for _, cfg := range []Config{
		{RoutingKey: key, Options: apiclient.Options{Secrets: vault.Resolve}},
		{RoutingKey: "secret://pd"},
		{RoutingKey: "secret://pd", Options: apiclient.Options{URL: "http://events.pagerduty.com", Secrets: vault.Resolve}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"pagerduty"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &f, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	cfg := f.Connectors.C
	if cfg.RoutingKey != "secret://pagerduty-routing-key" || cfg.URL != DefaultURL || cfg.Timeout != 15*time.Second {
		t.Fatalf("read %+v", cfg)
	}
	cfg.Secrets = vault.Resolve
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
}
