// Package teams is the teams connector: a playbook step posts one message
// directly to a named Microsoft Teams incoming webhook (Workflows, Power
// Automate) from the connector's configuration, as an Adaptive Card built
// by the Teams notification channel (package notify/teams) and its
// Markdown escaping.
//
// Steps name a webhook; its URL never comes from a playbook. Delivery is
// at least once: repeats of a sent call (same idempotency key) are dropped
// in memory, so after a restart a repeat may post again.
package teams

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/notify/teams"
)

// SampleConfig is the part of riposte.yaml the teams connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Name is the connector's name in playbooks.
const Name = "teams"

// Config is the teams connector's configuration: named webhooks, timeout,
// max_text, remember_keys.
type Config = outbound.HookConfig

// Template renders a step's message for a card: the channel makes the
// first line the heading (the title, or else the first line of text) and
// every further line a TextBlock. Values arrive escaped by teams.Escape,
// so only this template's markup is markup.
const Template = `{{with .First.Incident.Title}}{{.}}
{{end}}{{range .Messages}}{{.Text}}
{{end}}{{with .First.Incident.ID}}**Incident:** {{.}}
{{end}}`

// Connector implements connector.Connector.
type Connector = outbound.Hooks

// New checks cfg, resolves the webhooks and makes the connector.
func New(cfg Config) (*Connector, error) {
	return outbound.NewHooks(outbound.HookKind{
		Name:         Name,
		Description:  "Posts a message as an Adaptive Card to a configured Microsoft Teams incoming webhook (markup in values is escaped).",
		SampleConfig: SampleConfig,
		Template:     Template,
		New:          outbound.Using(teams.New),
	}, cfg)
}
