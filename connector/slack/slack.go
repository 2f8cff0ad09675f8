// Package slack is the slack connector: a playbook step posts one message
// directly to a named Slack (or Slack-compatible: Mattermost, Rocket.Chat)
// incoming webhook from the connector's configuration, through the Slack
// notification channel (package notify/slack) and its mrkdwn escaping.
//
// Steps name a webhook; its URL never comes from a playbook. Delivery is
// at least once: repeats of a sent call (same idempotency key) are dropped
// in memory, so after a restart a repeat may post again.
package slack

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/notify/slack"
)

// SampleConfig is the part of riposte.yaml the slack connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Name is the connector's name in playbooks.
const Name = "slack"

// Config is the slack connector's configuration: named webhooks, timeout,
// max_text, remember_keys.
type Config = outbound.HookConfig

// Template renders a step's message in mrkdwn: the title in bold, then
// each line of text, then the incident. Values arrive escaped by
// slack.Escape, so only this template's markup is markup.
const Template = `{{with .First.Incident.Title}}*{{.}}*
{{end}}{{range .Messages}}{{.Text}}
{{end}}{{with .First.Incident.ID}}Incident: {{.}}
{{end}}`

// Connector implements connector.Connector.
type Connector = outbound.Hooks

// New checks cfg, resolves the webhooks and makes the connector.
func New(cfg Config) (*Connector, error) {
	return outbound.NewHooks(outbound.HookKind{
		Name:         Name,
		Description:  "Posts a message to a configured Slack-compatible incoming webhook (markup in values is escaped).",
		SampleConfig: SampleConfig,
		Template:     Template,
		New:          outbound.Using(slack.New),
	}, cfg)
}
