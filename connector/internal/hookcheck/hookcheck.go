// Package hookcheck holds the tests every chat-hook connector (slack,
// teams) runs against itself, so each folder keeps a test of its own
// without repeating it.
package hookcheck

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/notify/channel"
)

// Posts sends one step's message through a hook connector to a real receiver:
// what arrives is this channel's payload with the markup of values escaped,
// and a repeat of the same call posts nothing.
func Posts(t *testing.T, newConn func(channels map[string]channel.HookConfig) (connector.Connector, error)) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	c, err := newConn(map[string]channel.HookConfig{"soc": {URL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	call := connector.Call{Operation: "send", IdempotencyKey: "run:s:1", RunID: "run", StepID: "s", Incident: "INC1",
		Args: map[string]any{"channel": "soc", "title": "Blocked", "text": "<!channel> *owned* {{.}}"}}
	if _, err := c.Execute(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("%d posts, want 1", len(bodies))
	}
	if strings.Contains(bodies[0], "<!channel>") || !strings.Contains(bodies[0], "{{.}}") || !strings.Contains(bodies[0], "INC1") {
		t.Fatalf("payload: %s", bodies[0])
	}
	if _, err := c.Execute(context.Background(), connector.Call{Operation: "send", IdempotencyKey: "k2",
		Args: map[string]any{"channel": "elsewhere", "text": "x"}}); connector.ClassOf(err) != connector.Permanent {
		t.Fatalf("unknown channel: %v", err)
	}
}

// SampleConfig checks that a hook connector's sample.conf reads strictly
// and declares a channel.
func SampleConfig(t *testing.T, name, sample string) {
	var cfg struct {
		Connectors map[string]outbound.HookConfig `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(sample), &cfg, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Connectors[name].Channels) == 0 {
		t.Fatalf("sample.conf declares no channel: %+v", cfg)
	}
}
