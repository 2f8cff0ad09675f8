package http

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/riposte-soar/riposte/connector"
)

// vault stands in for the node's secret store: the store itself is tested
// in package secret and, with this connector, in e2e/TestSecretNeverLeaks.
type vault struct {
	mu sync.Mutex
	m  map[string]string
}

func (v *vault) resolve(_ context.Context, ref string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.m[strings.TrimPrefix(ref, "secret://")]
	if !ok {
		return "", fmt.Errorf("secret %s: no such secret", strings.TrimPrefix(ref, "secret://"))
	}
	return s, nil
}

func TestSecretHeadersGoOnlyToTheirHosts(t *testing.T) {
	v := &vault{m: map[string]string{"api": "Bearer first-9d2c"}}
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		// An API that echoes what it got must not put it in the outputs.
		fmt.Fprintf(w, "got %s", r.Header.Get("Authorization"))
	})
	// The receiver listens on 127.0.0.1; "localhost" reaches the same
	// server under a name that is not in hosts.
	c := mustNew(t, Config{AllowHosts: []string{"127.0.0.1", "localhost"}, AllowPrivate: true, Hosts: []string{"127.0.0.1"},
		Headers: map[string]string{"Authorization": "secret://api", "X-Tenant": "blue"}, Secrets: v.resolve})
	ctx := context.Background()
	res, err := c.Execute(ctx, call(map[string]any{"url": rc.URL + "/a"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.last.Header.Get("Authorization"); got != "Bearer first-9d2c" || rc.last.Header.Get("X-Tenant") != "blue" {
		t.Fatalf("configured host got Authorization %q, X-Tenant %q", got, rc.last.Header.Get("X-Tenant"))
	}
	out, _ := json.Marshal(res)
	if strings.Contains(string(out), "first-9d2c") {
		t.Fatalf("the secret is in the result: %s", out)
	}
	if !strings.Contains(string(out), "Authorization: [secret from config]") {
		t.Fatalf("commands do not say a configured header was sent: %s", out)
	}

	// Rotation: the next call sends the new value, no new connector.
	v.mu.Lock()
	v.m["api"] = "Bearer second-4e1a"
	v.mu.Unlock()
	if _, err := c.Execute(ctx, call(map[string]any{"url": rc.URL + "/b"})); err != nil {
		t.Fatal(err)
	}
	if got := rc.last.Header.Get("Authorization"); got != "Bearer second-4e1a" {
		t.Fatalf("after rotation Authorization = %q", got)
	}

	// Another host (the same server under another name) gets none of them.
	other := strings.Replace(rc.URL, "127.0.0.1", "localhost", 1)
	if _, err := c.Execute(ctx, call(map[string]any{"url": other + "/c"})); err != nil {
		t.Fatal(err)
	}
	if rc.last.Header.Get("Authorization") != "" || rc.last.Header.Get("X-Tenant") != "" {
		t.Fatalf("a host not in hosts got the configured headers: %v", rc.last.Header)
	}

	// A redirect from the configured host to another drops them too.
	redir := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other+"/after-redirect", http.StatusFound)
	})
	if _, err := c.Execute(ctx, call(map[string]any{"url": redir.URL})); err != nil {
		t.Fatal(err)
	}
	if rc.last.URL.Path != "/after-redirect" || rc.last.Header.Get("Authorization") != "" {
		t.Fatalf("redirect target %s got Authorization %q", rc.last.URL.Path, rc.last.Header.Get("Authorization"))
	}

	// A secret deleted meanwhile fails the call, naming the header and the
	// secret, and sends nothing.
	v.mu.Lock()
	delete(v.m, "api")
	v.mu.Unlock()
	before := rc.n.Load()
	_, err = c.Execute(ctx, call(map[string]any{"url": rc.URL + "/d"}))
	if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Authorization") || !strings.Contains(err.Error(), "secret api") {
		t.Fatalf("missing secret: %v", err)
	}
	if rc.n.Load() != before {
		t.Fatal("a request was sent without its credential")
	}
}

func TestHeaderConfigRefused(t *testing.T) {
	res := func(context.Context, string) (string, error) { return "x", nil }
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"headers without hosts", Config{Headers: map[string]string{"Authorization": "secret://a"}, Secrets: res}, "need hosts"},
		{"headers_env without hosts", Config{HeadersEnv: map[string]string{"Authorization": "X"}}, "need hosts"},
		{"secret reference without a store", Config{Hosts: []string{"h"}, Headers: map[string]string{"Authorization": "secret://a"}}, "secret store"},
		{"bad secret name", Config{Hosts: []string{"h"}, Headers: map[string]string{"Authorization": "secret://a b"}, Secrets: res}, "secret name"},
		{"header set by the connector", Config{Hosts: []string{"h"}, Headers: map[string]string{"Host": "x"}}, "set by the connector"},
		{"in both", Config{Hosts: []string{"h"}, Headers: map[string]string{"Authorization": "x"}, HeadersEnv: map[string]string{"Authorization": "X"}}, "both"},
		{"bad host", Config{Hosts: []string{"https://h/x"}, Headers: map[string]string{"Authorization": "x"}}, "hosts[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
