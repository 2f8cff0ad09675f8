package slack

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/receiver"
	"github.com/riposte-soar/riposte/notify/channel"
	"github.com/riposte-soar/riposte/notify/slack"
)

func TestSend(t *testing.T) {
	for _, tc := range []struct {
		name string
		args map[string]any
		want string // the payload's text
	}{
		{"title, lines, incident", map[string]any{"channel": "soc", "title": "Host isolated", "text": "web-1 is off the network.\nReview it."},
			"*Host isolated*\nweb-1 is off the network.\nReview it.\nIncident: INC-1"},
		{"markup is data", map[string]any{"channel": "soc", "title": "*x*", "text": "<!channel> <https://evil.example|click> & <@U1>", "incident": "INC-<2>"},
			"**x**\n&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; &lt;@U1&gt;\nIncident: INC-&lt;2&gt;"},
		{"no title", map[string]any{"channel": "soc", "text": "only text"}, "only text\nIncident: INC-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := receiver.NewHTTP(t, 200)
			c, err := New(Config{Channels: map[string]channel.HookConfig{"soc": {URL: r.URL}}})
			if err != nil {
				t.Fatal(err)
			}
			call := connector.Call{Operation: "send", Args: tc.args, Incident: "INC-1", IdempotencyKey: "k"}
			sim, err := c.Simulate(context.Background(), call)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := c.Execute(ctx, call)
			if err != nil || res.Outputs["sent"] != true || res.Outputs["channel"] != "soc" {
				t.Fatal(err, res.Outputs)
			}
			var p slack.Payload
			if err := json.Unmarshal(r.Requests()[0].Body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Text != tc.want || len(p.Blocks) != 1 || p.Blocks[0].Text.Text != tc.want || !p.Blocks[0].Text.Verbatim {
				t.Errorf("payload %+v\nwant text %q", p, tc.want)
			}
			var posted any
			_ = json.Unmarshal(r.Requests()[0].Body, &posted)
			if a, _ := json.Marshal(sim.Outputs["payload"]); string(a) != mustJSON(posted) {
				t.Errorf("dry run payload %s\nposted %s", a, mustJSON(posted))
			}
		})
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Connectors struct {
			Slack Config `yaml:"slack"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &doc, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	c := doc.Connectors.Slack
	if c.Channels["soc"].URLEnv != "RIPOSTE_SLACK_SOC" || c.Timeout != 10*time.Second || c.MaxText != 8192 || c.RememberKeys != 4096 {
		t.Fatalf("%+v", c)
	}
}
