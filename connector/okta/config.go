package okta

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the okta connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the okta connector's configuration. URL (the Okta org) and
// APIToken are required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// APIToken is an Okta API token (sent as "SSWS <token>"), of an admin
	// allowed to manage the users concerned: secret://NAME only.
	APIToken string `yaml:"api_token" json:"api_token"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.APIToken); ok {
		out["connectors.okta.api_token"] = n
	}
	return out
}
