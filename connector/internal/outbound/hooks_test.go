package outbound_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/connector/slack"
	"github.com/riposte-soar/riposte/connector/teams"
	"github.com/riposte-soar/riposte/internal/receiver"
	"github.com/riposte-soar/riposte/notify/channel"
	notifyslack "github.com/riposte-soar/riposte/notify/slack"
	notifyteams "github.com/riposte-soar/riposte/notify/teams"
)

// kind is one connector over incoming webhooks, as its tests see it.
type kind struct {
	build  func(outbound.HookConfig) (connector.Connector, error)
	sample string
	// ok is how the service answers a post it took.
	ok int
	// lines reads back the lines of the message a post carried, checking
	// the payload's format on the way.
	lines func(t *testing.T, body []byte) []string
}

var kinds = map[string]kind{
	"slack": {
		build:  func(c outbound.HookConfig) (connector.Connector, error) { return slack.New(c) },
		sample: slack.SampleConfig,
		ok:     200,
		lines: func(t *testing.T, body []byte) []string {
			var p notifyslack.Payload
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			// The fallback text and the one section say the same, verbatim
			// (Slack links nothing by itself).
			if len(p.Blocks) != 1 || p.Blocks[0].Text.Text != p.Text || !p.Blocks[0].Text.Verbatim {
				t.Errorf("payload %+v", p)
			}
			return strings.Split(p.Text, "\n")
		},
	},
	"teams": {
		build:  func(c outbound.HookConfig) (connector.Connector, error) { return teams.New(c) },
		sample: teams.SampleConfig,
		ok:     202, // Workflows
		lines: func(t *testing.T, body []byte) []string {
			var p notifyteams.Payload
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			var out []string
			for i, b := range p.Attachments[0].Content.Body {
				if i == 0 && b.Weight != "Bolder" {
					t.Errorf("heading %+v", b)
				}
				out = append(out, b.Text)
			}
			return out
		},
	},
}

func start(t *testing.T, kind string, timeout time.Duration, statuses ...int) (*receiver.HTTP, connector.Connector) {
	t.Helper()
	r := receiver.NewHTTP(t, statuses...)
	t.Setenv("TEST_CONN_HOOK_URL", r.URL+"/services/T0/B0/SECRETPATH")
	c, err := kinds[kind].build(outbound.HookConfig{
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
	for kind, k := range kinds {
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
			if _, err := k.build(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err %v, want %q", kind, err, tc.want)
			}
		}
	}
}

// TestSend posts steps through each kind to a real receiver and reads back
// what arrived: the lines kept, markup in values escaped, and the dry run
// showing the very payload posted.
func TestSend(t *testing.T) {
	for _, tc := range []struct {
		kind, name string
		args       map[string]any
		want       []string // the lines posted: slack's text, teams' TextBlocks
	}{
		{"slack", "title, lines, incident", map[string]any{"channel": "soc", "title": "Host isolated", "text": "web-1 is off the network.\nReview it."},
			[]string{"*Host isolated*", "web-1 is off the network.", "Review it.", "Incident: INC-1"}},
		{"slack", "markup is data", map[string]any{"channel": "soc", "title": "*x*", "text": "<!channel> <https://evil.example|click> & <@U1>", "incident": "INC-<2>"},
			[]string{"**x**", "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; &lt;@U1&gt;", "Incident: INC-&lt;2&gt;"}},
		{"slack", "no title", map[string]any{"channel": "soc", "text": "only text"}, []string{"only text", "Incident: INC-1"}},
		{"teams", "title heads the card", map[string]any{"channel": "soc", "title": "Host isolated", "text": "web-1 is off the network.\n\nReview it."},
			[]string{"Host isolated", "web-1 is off the network.", "Review it.", "**Incident:** INC-1"}},
		{"teams", "markup is data", map[string]any{"channel": "soc", "title": "# big", "text": "**bold** [x](https://evil.example) <b>hi</b>\n- item"},
			[]string{`\# big`, `\*\*bold\*\* \[x\]\(https://evil.example\) \<b\>hi\</b\>`, `\- item`, "**Incident:** INC-1"}},
		{"teams", "no title: first line heads", map[string]any{"channel": "soc", "text": "only text", "incident": "INC-2"},
			[]string{"only text", "**Incident:** INC-2"}},
	} {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			k := kinds[tc.kind]
			r, c := start(t, tc.kind, 5*time.Second, k.ok)
			call := connector.Call{Operation: "send", Args: tc.args, Incident: "INC-1", IdempotencyKey: "k"}
			sim, err := c.Simulate(context.Background(), call)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Execute(context.Background(), call)
			if err != nil || res.Outputs["sent"] != true || res.Outputs["channel"] != "soc" {
				t.Fatal(err, res.Outputs)
			}
			body := r.Requests()[0].Body
			if got := k.lines(t, body); !slices.Equal(got, tc.want) {
				t.Errorf("lines %q\nwant  %q", got, tc.want)
			}
			var posted any
			_ = json.Unmarshal(body, &posted)
			if a, b := mustJSON(sim.Outputs["payload"]), mustJSON(posted); a != b {
				t.Errorf("dry run payload %s\nposted %s", a, b)
			}
		})
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestSampleConfig(t *testing.T) {
	for name, k := range kinds {
		var doc struct {
			Connectors map[string]outbound.HookConfig `yaml:"connectors"`
		}
		if err := yaml.UnmarshalWithOptions([]byte(k.sample), &doc, yaml.Strict()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c := doc.Connectors[name]
		if c.Channels["soc"].URLEnv != "RIPOSTE_"+strings.ToUpper(name)+"_SOC" || c.Timeout != 10*time.Second || c.MaxText != 8192 || c.RememberKeys != 4096 {
			t.Fatalf("%s: %+v", name, c)
		}
	}
}
