package opsgenie

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the opsgenie connector reads.
//
//go:embed sample.conf
var SampleConfig string

// DefaultURL is Opsgenie's API (US instance).
const DefaultURL = "https://api.opsgenie.com"

// Config is the opsgenie connector's configuration. APIKey is required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// APIKey is the key of an API integration (it may create, acknowledge
	// and close alerts): secret://NAME only.
	APIKey string `yaml:"api_key" json:"api_key"`
	// Tags are added to every alert opened.
	Tags []string `yaml:"tags" json:"tags,omitempty"`
	// Teams are the responders notified (team names), when the
	// integration does not route by itself.
	Teams []string `yaml:"teams" json:"teams,omitempty"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.APIKey); ok {
		out["connectors.opsgenie.api_key"] = n
	}
	return out
}
