package pagerduty

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the pagerduty connector reads.
//
//go:embed sample.conf
var SampleConfig string

// DefaultURL is PagerDuty's Events API (US service region).
const DefaultURL = "https://events.pagerduty.com"

// Config is the pagerduty connector's configuration. RoutingKey is
// required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// RoutingKey is the integration key of an Events API v2 integration
	// on a service: secret://NAME only.
	RoutingKey string `yaml:"routing_key" json:"routing_key"`
	// Source is payload.source when a call gives none: the system the
	// alert is about; "" means "riposte".
	Source string `yaml:"source" json:"source,omitempty"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.RoutingKey); ok {
		out["connectors.pagerduty.routing_key"] = n
	}
	return out
}
