package http

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/secret"
)

// SampleConfig is the part of riposte.yaml the http connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Defaults for the zero values of Config.
const (
	DefaultTimeout         = 10 * time.Second
	DefaultMaxTimeout      = 60 * time.Second
	DefaultMaxBodyBytes    = 64 << 10
	DefaultMaxRequestBytes = 4 << 20
	DefaultMaxRedirects    = 5
)

// Config is the http connector's configuration. The zero value is usable:
// public addresses only, no secret headers.
type Config struct {
	// AllowPrivate lets requests reach loopback and private addresses
	// (127.0.0.0/8, ::1, 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7).
	// Link-local and cloud metadata addresses stay refused.
	AllowPrivate bool `yaml:"allow_private" json:"allow_private,omitempty"`
	// AllowHosts lists exceptions: a host name (exact, case-insensitive)
	// may then resolve to loopback or private addresses; an IP address or
	// CIDR prefix is allowed whatever it is, link-local and metadata
	// addresses included (the only way to reach them).
	AllowHosts []string `yaml:"allow_hosts" json:"allow_hosts,omitempty"`
	// HeadersEnv maps a header name to the environment variable holding
	// its value (an API token): the value is read at each call, sent, and
	// never written to results, commands or errors.
	HeadersEnv map[string]string `yaml:"headers_env" json:"headers_env,omitempty"`
	// Headers maps a header name to its value, or to "secret://NAME" for a
	// value from the secret store, read at each call (so a rotated secret
	// is sent from the next call on) and never written to results,
	// commands or errors.
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
	// Hosts are the only hosts (names or addresses, exact,
	// case-insensitive) that Headers and HeadersEnv are sent to: a
	// credential for one API must not reach whatever URL a playbook, or an
	// event feeding it, names. Required when either is set.
	Hosts []string `yaml:"hosts" json:"hosts,omitempty"`
	// Secrets resolves "secret://NAME" references (the node's secret
	// store); nil refuses them.
	Secrets func(ctx context.Context, ref string) (string, error) `yaml:"-" json:"-"`
	// Timeout is a request's timeout when the step gives none; 0 means
	// DefaultTimeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// MaxTimeout is the longest timeout a step may ask for; 0 means
	// DefaultMaxTimeout.
	MaxTimeout time.Duration `yaml:"max_timeout" json:"max_timeout,omitempty"`
	// MaxBodyBytes is how much of a response body the outputs keep; 0
	// means DefaultMaxBodyBytes.
	MaxBodyBytes int `yaml:"max_body_bytes" json:"max_body_bytes,omitempty"`
	// MaxRequestBytes is the largest request body; 0 means
	// DefaultMaxRequestBytes.
	MaxRequestBytes int `yaml:"max_request_bytes" json:"max_request_bytes,omitempty"`
	// MaxRedirects is how many redirects are followed (each one checked
	// like the first address); 0 means DefaultMaxRedirects, negative none.
	MaxRedirects int `yaml:"max_redirects" json:"max_redirects,omitempty"`

	// LookupHost, when set, replaces DNS resolution (tests, split-horizon
	// resolvers). Whatever it answers, the address dialled is checked.
	LookupHost func(ctx context.Context, host string) ([]netip.Addr, error) `yaml:"-" json:"-"`
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = DefaultMaxTimeout
	}
	if c.Timeout > c.MaxTimeout {
		c.MaxTimeout = c.Timeout
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.MaxRedirects == 0 {
		c.MaxRedirects = DefaultMaxRedirects
	}
	return c
}

// policy is the parsed address policy.
type policy struct {
	allowPrivate bool
	hosts        map[string]bool
	prefixes     []netip.Prefix
}

func (c Config) policy() (policy, error) {
	p := policy{allowPrivate: c.AllowPrivate, hosts: map[string]bool{}}
	var errs []error
	for i, h := range c.AllowHosts {
		h = strings.TrimSpace(h)
		if pr, err := netip.ParsePrefix(h); err == nil {
			p.prefixes = append(p.prefixes, pr.Masked())
		} else if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			a = a.Unmap()
			p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
		} else if n := normHost(h); n != "" && !strings.ContainsAny(n, "/:@ ") {
			p.hosts[n] = true
		} else {
			errs = append(errs, fmt.Errorf("http: allow_hosts[%d] %q is not a host name, an IP address or a CIDR prefix", i, h))
		}
	}
	for name, env := range c.HeadersEnv {
		if !validHeaderName(name) {
			errs = append(errs, fmt.Errorf("http: headers_env: %q is not a header name", name))
		}
		if forbiddenHeader(name) {
			errs = append(errs, fmt.Errorf("http: headers_env: header %q is set by the connector itself", name))
		}
		if env == "" {
			errs = append(errs, fmt.Errorf("http: headers_env[%s]: no environment variable named", name))
		}
	}
	for name, v := range c.Headers {
		if !validHeaderName(name) {
			errs = append(errs, fmt.Errorf("http: headers: %q is not a header name", name))
		}
		if forbiddenHeader(name) {
			errs = append(errs, fmt.Errorf("http: headers: header %q is set by the connector itself", name))
		}
		if _, dup := c.HeadersEnv[name]; dup {
			errs = append(errs, fmt.Errorf("http: header %s is in both headers and headers_env", name))
		}
		if ref, ok, err := secret.ParseRef(v); err != nil {
			errs = append(errs, fmt.Errorf("http: headers[%s]: %v", name, err))
		} else if ok && c.Secrets == nil {
			errs = append(errs, fmt.Errorf("http: headers[%s]: secret://%s needs the node's secret store", name, ref))
		} else if !ok && (v == "" || strings.ContainsAny(v, "\r\n\x00")) {
			errs = append(errs, fmt.Errorf("http: headers[%s]: the value is empty or has a line break or NUL", name))
		}
	}
	for i, h := range c.Hosts {
		if n := normHost(strings.Trim(h, "[]")); n == "" || strings.ContainsAny(n, "/@ ") {
			errs = append(errs, fmt.Errorf("http: hosts[%d] %q is not a host name or address", i, h))
		}
	}
	if len(c.Hosts) == 0 && len(c.Headers)+len(c.HeadersEnv) > 0 {
		errs = append(errs, errors.New("http: headers and headers_env need hosts: the hosts their credentials may be sent to"))
	}
	return p, errors.Join(errs...)
}

// References lists the secret:// names the config uses, for checks that a
// node holds them before it starts.
func (c Config) References() map[string]string {
	out := map[string]string{}
	for name, v := range c.Headers {
		if ref, ok, err := secret.ParseRef(v); ok && err == nil {
			out["connectors.http.headers."+name] = ref
		}
	}
	return out
}
