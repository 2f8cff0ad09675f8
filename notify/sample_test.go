package notify

import (
	"context"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/notify/email"
	"github.com/riposte-soar/riposte/notify/slack"
	"github.com/riposte-soar/riposte/notify/teams"
	"github.com/riposte-soar/riposte/notify/webhook"
)

// Every sample.conf decodes strictly into the config types (so the yaml
// names are right) and builds a dispatcher.
func TestSampleConfigs(t *testing.T) {
	for _, v := range []string{"RIPOSTE_SMTP_PASSWORD", "RIPOSTE_SLACK_WEBHOOK", "RIPOSTE_TEAMS_WEBHOOK",
		"RIPOSTE_WEBHOOK_SECRET", "RIPOSTE_TICKETS_AUTH", "RIPOSTE_WEBHOOK_AUTH"} {
		t.Setenv(v, "https://example.org/secret-for-"+v)
	}
	for name, sample := range map[string]string{
		"notify": SampleConfig, "email": email.SampleConfig, "webhook": webhook.SampleConfig,
		"slack": slack.SampleConfig, "teams": teams.SampleConfig,
	} {
		var doc struct {
			Notify struct {
				Channels []ChannelConfig `yaml:"channels"`
				Routes   []Route         `yaml:"routes"`
			} `yaml:"notify"`
		}
		if err := yaml.UnmarshalWithOptions([]byte(sample), &doc, yaml.Strict()); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		n := doc.Notify
		if len(n.Channels) == 0 {
			t.Errorf("%s: no channels", name)
		}
		if name == "notify" {
			if c := n.Channels[0]; c.Group.Window != time.Minute || c.Email.Port != 587 || c.RateLimit.Burst != 3 {
				t.Errorf("decoded %+v", c)
			}
			if c := n.Channels[3]; c.Retry.Max != 5*time.Minute || c.Timeout != 15*time.Second || c.Webhook.HeadersEnv["Authorization"] == "" {
				t.Errorf("decoded %+v", c)
			}
		}
		d, err := NewDispatcher(n.Channels, n.Routes, nil, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = d.Close(ctx)
		cancel()
	}
}
