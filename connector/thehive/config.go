package thehive

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the thehive connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the thehive connector's configuration. URL and APIKey are
// required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// APIKey is the API key of a TheHive user allowed to manage cases,
	// sent as a bearer token: secret://NAME only.
	APIKey string `yaml:"api_key" json:"api_key"`
	// Organisation is sent as X-Organisation when the user belongs to
	// several; "" sends none.
	Organisation string `yaml:"organisation" json:"organisation,omitempty"`
	// TLP and PAP of the cases and observables opened (0 clear .. 4 red;
	// PAP up to 3); 0 means 2 (amber).
	TLP int `yaml:"tlp" json:"tlp,omitempty"`
	PAP int `yaml:"pap" json:"pap,omitempty"`
	// CloseStatus is the status a case is closed with; "" means
	// TruePositive.
	CloseStatus string `yaml:"close_status" json:"close_status,omitempty"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.APIKey); ok {
		out["connectors.thehive.api_key"] = n
	}
	return out
}
