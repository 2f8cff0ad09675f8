package opnsense

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the opnsense connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the opnsense connector's configuration. URL, Credentials and
// Alias are required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// Credentials is secret://NAME of the API key and secret: "KEY:SECRET",
	// or the apikey.txt OPNsense downloads (key=... and secret=... lines).
	Credentials string `yaml:"credentials" json:"credentials"`
	// Alias is the firewall alias of type External (advanced) that block
	// rules reference; its table is what this connector edits.
	Alias string `yaml:"alias" json:"alias"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.Credentials); ok {
		out["connectors.opnsense.credentials"] = n
	}
	return out
}
