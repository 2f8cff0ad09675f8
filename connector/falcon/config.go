package falcon

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the falcon connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the falcon connector's configuration. ClientID and
// ClientSecret are required; URL defaults to the US-1 cloud.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// ClientID is the API client's id (Hosts: read and write).
	ClientID string `yaml:"client_id" json:"client_id"`
	// ClientSecret is secret://NAME only.
	ClientSecret string `yaml:"client_secret" json:"client_secret"`
	// TokenURL is the OAuth2 token endpoint; "" means URL + /oauth2/token.
	TokenURL string `yaml:"token_url" json:"token_url,omitempty"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.ClientSecret); ok {
		out["connectors.falcon.client_secret"] = n
	}
	return out
}
