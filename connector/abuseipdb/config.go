package abuseipdb

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the abuseipdb connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the abuseipdb connector's configuration. APIKey is required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// APIKey is secret://NAME only; it is sent in the Key header.
	APIKey string `yaml:"api_key" json:"api_key"`
	// MaxAgeDays is how far back reports count (1 to 365) when a call
	// gives none; 0 means 90.
	MaxAgeDays int `yaml:"max_age_days" json:"max_age_days,omitempty"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.APIKey); ok {
		out["connectors.abuseipdb.api_key"] = n
	}
	return out
}
