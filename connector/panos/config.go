package panos

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the panos connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the panos connector's configuration. URL, APIKey and Tag are
// required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// APIKey is secret://NAME of the XML API key (type=keygen), sent as
	// the X-PAN-KEY header.
	APIKey string `yaml:"api_key" json:"api_key"`
	// Tag is the tag the dynamic address group's match criteria name:
	// registering it on an address puts the address in the group.
	Tag string `yaml:"tag" json:"tag"`
	// TagTimeout, in seconds, makes the firewall drop the tag by itself
	// (1 to 2592000); 0 keeps it until Riposte unregisters it.
	TagTimeout int `yaml:"tag_timeout" json:"tag_timeout,omitempty"`
	// Vsys is the virtual system the tag is registered in ("vsys1");
	// "" is the firewall's default.
	Vsys string `yaml:"vsys" json:"vsys,omitempty"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.APIKey); ok {
		out["connectors.panos.api_key"] = n
	}
	return out
}
