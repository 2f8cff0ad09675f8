package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/internal/receiver"
	"github.com/riposte-soar/riposte/notify/webhook"
)

const secret = "webhook-test-secret"

func start(t *testing.T, statuses ...int) (*receiver.HTTP, *Connector) {
	t.Helper()
	t.Setenv("TEST_CONN_HOOK_SECRET", secret)
	t.Setenv("TEST_CONN_HOOK_AUTH", "Bearer tok-1")
	r := receiver.NewHTTP(t, statuses...)
	c, err := New(Config{
		Channels: map[string]webhook.Config{
			"tickets": {URL: r.URL + "/in", SecretEnv: "TEST_CONN_HOOK_SECRET", Headers: map[string]string{"X-Tenant": "blue"},
				HeadersEnv: map[string]string{"Authorization": "TEST_CONN_HOOK_AUTH"}},
		},
		Options: outbound.Options{Timeout: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

func post(key string, args map[string]any) connector.Call {
	return connector.Call{Operation: "post", Args: args, IdempotencyKey: key, RunID: "run-1", StepID: "hook", Incident: "INC-3"}
}

var payload = map[string]any{"action": "block", "ip": "203.0.113.7", "n": 3.0, "tags": []any{"a", "b"}}

// check verifies one request the way a receiver should and returns its body.
func check(t *testing.T, r receiver.Request) Body {
	t.Helper()
	if err := webhook.Verify([]byte(secret), r.Header, r.Body, time.Minute, time.Now()); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var b Body
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatal(err)
	}
	if r.Header.Get(webhook.HeaderDelivery) != b.ID || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v, body id %s", r.Header, b.ID)
	}
	return b
}

func TestPost(t *testing.T) {
	r, c := start(t)
	res, err := c.Execute(context.Background(), post("run-1:hook:0:1", map[string]any{"channel": "tickets", "payload": payload}))
	if err != nil {
		t.Fatal(err)
	}
	reqs := r.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/in" {
		t.Fatalf("%d requests", len(reqs))
	}
	h := reqs[0].Header
	if h.Get("Idempotency-Key") != "run-1:hook:0:1" || h.Get("X-Tenant") != "blue" || h.Get("Authorization") != "Bearer tok-1" {
		t.Errorf("headers %v", h)
	}
	b := check(t, reqs[0])
	var got map[string]any
	_ = json.Unmarshal(b.Payload, &got)
	if b.Channel != "tickets" || b.Incident != "INC-3" || b.Run != "run-1" || b.Step != "hook" || got["ip"] != "203.0.113.7" || got["n"] != 3.0 {
		t.Errorf("body %+v payload %v", b, got)
	}
	if res.Outputs["sent"] != true || res.Outputs["delivery"] != b.ID || res.Outputs["channel"] != "tickets" {
		t.Errorf("outputs %v", res.Outputs)
	}
	for _, cmd := range res.Commands {
		if strings.Contains(cmd, "tok-1") || strings.Contains(cmd, secret) || strings.Contains(cmd, "/in") {
			t.Errorf("a secret or the URL path in %q", cmd)
		}
	}
}

// retry runs a call the way the engine does with a retry policy: again
// after a transient error, not after a permanent one.
func retry(c connector.Connector, call connector.Call, attempts int) (errs []error) {
	for range attempts {
		_, err := c.Execute(context.Background(), call)
		errs = append(errs, err)
		if err == nil || connector.ClassOf(err) != connector.Transient {
			return errs
		}
	}
	return errs
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name       string
		statuses   []int
		retryAfter string
		want       []string // class of each attempt; "ok" for success
		wantInErr  string
	}{
		{"503 then 200: retried", []int{503, 200}, "", []string{"transient", "ok"}, "HTTP 503"},
		{"429 with Retry-After", []int{429, 202}, "7", []string{"transient", "ok"}, "retry after 7s"},
		{"400: not retried", []int{400}, "", []string{"permanent"}, "HTTP 400"},
		{"404: not retried", []int{404}, "", []string{"permanent"}, "HTTP 404"},
		{"503 three times", []int{503}, "", []string{"transient", "transient", "transient"}, "HTTP 503"},
		{"no answer: unknown outcome", []int{0}, "", []string{"unknown_outcome"}, "may have been delivered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := start(t, tc.statuses...)
			if tc.retryAfter != "" {
				r.Header.Set("Retry-After", tc.retryAfter)
			}
			if tc.statuses[0] == 0 {
				c.sender.Timeout = 300 * time.Millisecond
			}
			errs := retry(c, post("k", map[string]any{"channel": "tickets", "payload": payload}), 3)
			var got []string
			for _, err := range errs {
				if err == nil {
					got = append(got, "ok")
				} else {
					got = append(got, connector.ClassOf(err).String())
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("attempts %v, want %v (%v)", got, tc.want, errs)
			}
			if first := errs[0]; first != nil && !strings.Contains(first.Error(), tc.wantInErr) {
				t.Errorf("error %q, want %q in it", first, tc.wantInErr)
			}
			reqs := r.Requests()
			if len(reqs) != len(tc.want) {
				t.Fatalf("%d requests, want %d", len(reqs), len(tc.want))
			}
			// Every attempt is signed afresh and carries the same delivery
			// id and key, so the receiver can drop the duplicates.
			id := check(t, reqs[0]).ID
			for _, rq := range reqs {
				if check(t, rq).ID != id || rq.Header.Get("Idempotency-Key") != "k" {
					t.Errorf("attempt with id %s key %s", check(t, rq).ID, rq.Header.Get("Idempotency-Key"))
				}
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	r, c := start(t)
	r.Close()
	_, err := c.Execute(context.Background(), post("k", map[string]any{"channel": "tickets", "payload": payload}))
	if connector.ClassOf(err) != connector.Transient || err == nil {
		t.Fatalf("err %v, want transient", err)
	}
}

func TestOncePerKey(t *testing.T) {
	r, c := start(t)
	call := post("same", map[string]any{"channel": "tickets", "payload": payload})
	for range 3 {
		if _, err := c.Execute(context.Background(), call); err != nil {
			t.Fatal(err)
		}
	}
	res, _ := c.Execute(context.Background(), call)
	if res.Outputs["sent"] != false {
		t.Fatalf("repeat outputs %v", res.Outputs)
	}
	if n := len(r.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestRefused(t *testing.T) {
	r, c := start(t)
	for _, tc := range []struct {
		name string
		args map[string]any
		want string
	}{
		{"unknown channel", map[string]any{"channel": "other", "payload": payload}, `channel "other" is not configured (configured: tickets)`},
		{"path as channel", map[string]any{"channel": "../../etc/passwd", "payload": payload}, "is not configured"},
		{"a URL argument", map[string]any{"channel": "tickets", "payload": payload, "url": "http://169.254.169.254/"}, `unknown argument "url"`},
		{"no payload", map[string]any{"channel": "tickets"}, `argument "payload" is required`},
		{"payload not a map", map[string]any{"channel": "tickets", "payload": "x"}, `argument "payload" must be map`},
		{"payload too large", map[string]any{"channel": "tickets", "payload": map[string]any{"v": strings.Repeat("x", 1<<20)}}, "payload is 1048584 bytes as JSON, over the limit of 65536 (max_payload_bytes)"},
		{"payload not JSON", map[string]any{"channel": "tickets", "payload": map[string]any{"f": func() {}}}, "payload cannot be sent as JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, run := range []func(context.Context, connector.Call) (connector.Result, error){c.Simulate, c.Execute} {
				_, err := run(context.Background(), post("k", tc.args))
				if err == nil || connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err %v, want permanent with %q", err, tc.want)
				}
			}
		})
	}
	if n := len(r.Requests()); n != 0 {
		t.Fatalf("%d requests from refused calls", n)
	}
}

func TestSimulate(t *testing.T) {
	r, c := start(t)
	call := post("k", map[string]any{"channel": "tickets", "payload": payload})
	sim, err := c.Simulate(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Requests()) != 0 {
		t.Fatal("the dry run posted")
	}
	if _, err := c.Execute(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	// The dry run shows the very body that is then sent.
	if sim.Outputs["body"] != string(r.Requests()[0].Body) || sim.Outputs["delivery"] == "" {
		t.Errorf("simulated %v\nsent %s", sim.Outputs["body"], r.Requests()[0].Body)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no channels", Config{}, "at least one channel"},
		{"bad name", Config{Channels: map[string]webhook.Config{"a b": {URL: "https://x.example"}}}, `"a b" is not a channel name`},
		{"no url", Config{Channels: map[string]webhook.Config{"a": {}}}, "channels.a: webhook.url or url_env is required"},
		{"unset secret", Config{Channels: map[string]webhook.Config{"a": {URL: "https://x.example", SecretEnv: "TEST_CONN_UNSET"}}}, "TEST_CONN_UNSET"},
		{"idempotency header", Config{Channels: map[string]webhook.Config{"a": {URL: "https://x.example", Headers: map[string]string{"idempotency-key": "x"}}}}, "Idempotency-Key is set by the connector"},
		{"negative max", Config{Channels: map[string]webhook.Config{"a": {URL: "https://x.example"}}, MaxPayloadBytes: -1}, "max_payload_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Connectors struct {
			Webhook Config `yaml:"webhook"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &doc, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	c := doc.Connectors.Webhook
	if c.Channels["tickets"].SecretEnv != "RIPOSTE_TICKETS_SECRET" || c.Timeout != 10*time.Second || c.MaxPayloadBytes != 65536 {
		t.Fatalf("%+v", c)
	}
}
