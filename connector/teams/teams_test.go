package teams

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/receiver"
	"github.com/riposte-soar/riposte/notify/channel"
	"github.com/riposte-soar/riposte/notify/teams"
)

func TestSend(t *testing.T) {
	for _, tc := range []struct {
		name string
		args map[string]any
		want []string // the card's TextBlocks
	}{
		{"title heads the card", map[string]any{"channel": "soc", "title": "Host isolated", "text": "web-1 is off the network.\n\nReview it."},
			[]string{"Host isolated", "web-1 is off the network.", "Review it.", "**Incident:** INC-1"}},
		{"markup is data", map[string]any{"channel": "soc", "title": "# big", "text": "**bold** [x](https://evil.example) <b>hi</b>\n- item"},
			[]string{`\# big`, `\*\*bold\*\* \[x\]\(https://evil.example\) \<b\>hi\</b\>`, `\- item`, "**Incident:** INC-1"}},
		{"no title: first line heads", map[string]any{"channel": "soc", "text": "only text", "incident": "INC-2"},
			[]string{"only text", "**Incident:** INC-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := receiver.NewHTTP(t, 202)
			c, err := New(Config{Channels: map[string]channel.HookConfig{"soc": {URL: r.URL}}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := c.Execute(ctx, connector.Call{Operation: "send", Args: tc.args, Incident: "INC-1"}); err != nil {
				t.Fatal(err)
			}
			var p teams.Payload
			if err := json.Unmarshal(r.Requests()[0].Body, &p); err != nil {
				t.Fatal(err)
			}
			body := p.Attachments[0].Content.Body
			if len(body) != len(tc.want) {
				t.Fatalf("%d blocks: %+v", len(body), body)
			}
			for i, b := range body {
				if b.Text != tc.want[i] {
					t.Errorf("block %d %q, want %q", i, b.Text, tc.want[i])
				}
			}
			if body[0].Weight != "Bolder" {
				t.Errorf("heading %+v", body[0])
			}
		})
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Connectors struct {
			Teams Config `yaml:"teams"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &doc, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	if c := doc.Connectors.Teams; c.Channels["soc"].URLEnv != "RIPOSTE_TEAMS_SOC" || c.Timeout != 10*time.Second {
		t.Fatalf("%+v", c)
	}
}
