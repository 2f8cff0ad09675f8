package entra

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the entra connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the entra connector's configuration. TenantID, ClientID and
// ClientSecret are required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// TenantID is the Microsoft Entra tenant (GUID or domain).
	TenantID string `yaml:"tenant_id" json:"tenant_id"`
	// ClientID is the application's (client) id; the application needs
	// the Microsoft Graph application permissions
	// User.EnableDisableAccount.All, User.Read.All and
	// User.RevokeSessions.All.
	ClientID string `yaml:"client_id" json:"client_id"`
	// ClientSecret is secret://NAME only.
	ClientSecret string `yaml:"client_secret" json:"client_secret"`
	// TokenURL is the token endpoint; "" means the Microsoft identity
	// platform's v2.0 endpoint of TenantID.
	TokenURL string `yaml:"token_url" json:"token_url,omitempty"`
	// Scope is the token's scope; "" means DefaultScope.
	Scope string `yaml:"scope" json:"scope,omitempty"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.ClientSecret); ok {
		out["connectors.entra.client_secret"] = n
	}
	return out
}
