package outbound_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/connector/internal/receiver"
	"github.com/riposte-soar/riposte/connector/slack"
	"github.com/riposte-soar/riposte/connector/teams"
	"github.com/riposte-soar/riposte/notify/channel"
)

// kinds builds each hook connector over one receiver URL.
var kinds = map[string]func(outbound.HookConfig) (connector.Connector, error){
	"slack": func(c outbound.HookConfig) (connector.Connector, error) { return slack.New(c) },
	"teams": func(c outbound.HookConfig) (connector.Connector, error) { return teams.New(c) },
}

func start(t *testing.T, kind string, timeout time.Duration, statuses ...int) (*receiver.HTTP, connector.Connector) {
	t.Helper()
	r := receiver.NewHTTP(t, statuses...)
	t.Setenv("TEST_CONN_HOOK_URL", r.URL+"/services/T0/B0/SECRETPATH")
	c, err := kinds[kind](outbound.HookConfig{
		Channels: map[string]channel.HookConfig{"soc": {URLEnv: "TEST_CONN_HOOK_URL"}},
		Options:  outbound.Options{Timeout: timeout},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

func send(key string) connector.Call {
	return connector.Call{Operation: "send", IdempotencyKey: key, Incident: "INC-1",
		Args: map[string]any{"channel": "soc", "title": "Contained", "text": "web-1 isolated"}}
}

// TestRetries: what the engine's retry policy would see from each kind,
// against a real receiver: 503 and 429 are retried, 4xx are not, silence
// after the request is an unknown outcome.
func TestRetries(t *testing.T) {
	for kind := range kinds {
		for _, tc := range []struct {
			name     string
			statuses []int
			want     string // class of each attempt, "ok" for success
		}{
			{"503 then 200", []int{503, 200}, "transient,ok"},
			{"429 then 200", []int{429, 200}, "transient,ok"},
			{"400", []int{400}, "permanent"},
			{"403", []int{403}, "permanent"},
			{"503 always", []int{503}, "transient,transient,transient"},
			{"no answer", []int{0}, "unknown_outcome"},
		} {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				r, c := start(t, kind, 300*time.Millisecond, tc.statuses...)
				var got []string
				for range 3 {
					_, err := c.Execute(context.Background(), send("k"))
					if err == nil {
						got = append(got, "ok")
						break
					}
					got = append(got, connector.ClassOf(err).String())
					if strings.Contains(err.Error(), "SECRETPATH") {
						t.Errorf("the webhook's secret path in %q", err)
					}
					if connector.ClassOf(err) != connector.Transient {
						break
					}
				}
				if strings.Join(got, ",") != tc.want {
					t.Fatalf("attempts %v, want %s", got, tc.want)
				}
				if n := len(r.Requests()); n != len(got) {
					t.Fatalf("%d requests for %d attempts", n, len(got))
				}
			})
		}
	}
}

func TestOncePerKey(t *testing.T) {
	for kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			r, c := start(t, kind, time.Second)
			for range 3 {
				if _, err := c.Execute(context.Background(), send("same")); err != nil {
					t.Fatal(err)
				}
			}
			res, err := c.Execute(context.Background(), send("same"))
			if err != nil || res.Outputs["sent"] != false {
				t.Fatalf("repeat: %v %v", err, res.Outputs)
			}
			if _, err := c.Execute(context.Background(), send("other")); err != nil {
				t.Fatal(err)
			}
			if n := len(r.Requests()); n != 2 {
				t.Fatalf("%d posts, want 2", n)
			}
		})
	}
}

func TestRefusedAndSimulated(t *testing.T) {
	for kind := range kinds {
		r, c := start(t, kind, time.Second)
		for name, args := range map[string]map[string]any{
			"unknown channel": {"channel": "../soc", "text": "t"},
			"url argument":    {"channel": "soc", "text": "t", "url": "http://169.254.169.254/"},
			"no text":         {"channel": "soc"},
			"bad incident":    {"channel": "soc", "text": "t", "incident": "a\nb"},
		} {
			for _, run := range []func(context.Context, connector.Call) (connector.Result, error){c.Simulate, c.Execute} {
				_, err := run(context.Background(), connector.Call{Operation: "send", Args: args})
				if err == nil || connector.ClassOf(err) != connector.Permanent {
					t.Errorf("%s %s: %v, want permanent", kind, name, err)
				}
			}
		}
		res, err := c.Simulate(context.Background(), send("k"))
		if err != nil || res.Outputs["payload"] == nil || !strings.Contains(res.Commands[0], "POST $TEST_CONN_HOOK_URL") {
			t.Errorf("%s dry run: %v %+v", kind, err, res)
		}
		if n := len(r.Requests()); n != 0 {
			t.Errorf("%s: %d posts from refused or simulated calls", kind, n)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for kind, build := range kinds {
		for _, tc := range []struct {
			cfg  outbound.HookConfig
			want string
		}{
			{outbound.HookConfig{}, kind + ": channels: at least one channel"},
			{outbound.HookConfig{Channels: map[string]channel.HookConfig{"soc": {URLEnv: "TEST_CONN_UNSET"}}}, kind + ": channels.soc: " + kind + ".url_env: environment variable TEST_CONN_UNSET"},
			{outbound.HookConfig{Channels: map[string]channel.HookConfig{"soc": {URL: "ftp://x"}}}, "must start with https://"},
			{outbound.HookConfig{Channels: map[string]channel.HookConfig{"s o c": {URL: "https://x.example"}}}, "is not a channel name"},
			{outbound.HookConfig{Channels: map[string]channel.HookConfig{"soc": {URL: "https://x.example"}}, MaxText: -1}, "max_text"},
		} {
			if _, err := build(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err %v, want %q", kind, err, tc.want)
			}
		}
	}
}
