package virustotal

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the virustotal connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the virustotal connector's configuration. APIKey is required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// APIKey is secret://NAME only; it is sent in the x-apikey header.
	APIKey string `yaml:"api_key" json:"api_key"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.APIKey); ok {
		out["connectors.virustotal.api_key"] = n
	}
	return out
}
