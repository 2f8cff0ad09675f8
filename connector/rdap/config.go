package rdap

import (
	_ "embed"
	"net/http"
	"time"
)

// SampleConfig is the part of riposte.yaml the rdap connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the rdap connector's configuration; the zero value asks
// ARIN's RDAP service.
type Config struct {
	// URL is the RDAP service asked when there is no bootstrap: "" means
	// DefaultURL (ARIN, which redirects addresses other registries hold).
	URL string `yaml:"url" json:"url,omitempty"`
	// BootstrapURL, when set, is where the IANA bootstrap registries
	// (RFC 9224: dns.json, ipv4.json, ipv6.json) are read from, e.g.
	// https://data.iana.org/rdap; each is fetched at most once a day and
	// names the service of each TLD or address block. URL is then asked
	// only for what they do not cover.
	BootstrapURL string `yaml:"bootstrap_url" json:"bootstrap_url,omitempty"`
	// CAFile is a PEM file of the CAs certificates are checked against;
	// "" means the system's.
	CAFile string `yaml:"ca_file" json:"ca_file,omitempty"`
	// Timeout bounds one request; 0 means 15s.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Attempts is how many times one request is sent at most; 0 means 4.
	Attempts int `yaml:"attempts" json:"attempts,omitempty"`
	// MaxWait is the longest Retry-After honoured; 0 means 30s.
	MaxWait time.Duration `yaml:"max_wait" json:"max_wait,omitempty"`
	// HTTP replaces the HTTP client (tests).
	HTTP *http.Client `yaml:"-" json:"-"`
}
