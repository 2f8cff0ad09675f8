package fortigate

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the fortigate connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the fortigate connector's configuration. URL, Token and Group
// are required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// Token is secret://NAME of a REST API administrator's token, sent as
	// a bearer token.
	Token string `yaml:"token" json:"token"`
	// Group is the IPv4 address group that deny policies reference; the
	// connector adds and removes its riposte-* members.
	Group string `yaml:"group" json:"group"`
	// VDOM is the virtual domain, sent as ?vdom= on every request; ""
	// is the token's default one.
	VDOM string `yaml:"vdom" json:"vdom,omitempty"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.Token); ok {
		out["connectors.fortigate.token"] = n
	}
	return out
}
