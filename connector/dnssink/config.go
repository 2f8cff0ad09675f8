package dnssink

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/secret"
)

// SampleConfig is the part of riposte.yaml the dnssink connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Defaults for the zero values of Config.
const (
	DefaultControl = "unbound-control"
	DefaultTTL     = 60
	DefaultTimeout = 10 * time.Second
)

// Config is the dnssink connector's configuration. Resolver and Sinkhole
// are required.
type Config struct {
	// Control is the unbound-control program; "" means DefaultControl
	// looked up on PATH.
	Control string `yaml:"control" json:"control,omitempty"`
	// Config is the unbound.conf unbound-control reads (-c) when
	// ControlKey is not set; "" lets unbound-control use its default.
	Config string `yaml:"config" json:"config,omitempty"`
	// Server is the control endpoint (-s): "address@port" or a unix
	// socket path. Required with ControlKey.
	Server string `yaml:"server" json:"server,omitempty"`
	// ControlKey, ControlCert and ServerCert are the control client's TLS
	// credentials. ControlKey must be secret://NAME; the two certificates
	// may be files or references. They are written, for the length of a
	// call, to a private temporary directory unbound-control reads.
	ControlKey  string `yaml:"control_key" json:"control_key,omitempty"`
	ControlCert string `yaml:"control_cert" json:"control_cert,omitempty"`
	ServerCert  string `yaml:"server_cert" json:"server_cert,omitempty"`
	// Resolver is the Unbound the names are checked against, host:port.
	Resolver string `yaml:"resolver" json:"resolver"`
	// Sinkhole is the address sinkholed names answer.
	Sinkhole string `yaml:"sinkhole" json:"sinkhole"`
	// TTL of the sinkhole record in seconds; 0 means DefaultTTL.
	TTL int `yaml:"ttl" json:"ttl,omitempty"`
	// Protect lists names that are never sinkholed, nor anything under
	// them: the organisation's own domains, its identity provider.
	Protect []string `yaml:"protect" json:"protect,omitempty"`
	// Timeout bounds one call; 0 means DefaultTimeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Secrets resolves secret://NAME references (the node's secret
	// store); nil refuses them.
	Secrets func(ctx context.Context, ref string) (string, error) `yaml:"-" json:"-"`
}

func (c Config) withDefaults() Config {
	if c.Control == "" {
		c.Control = DefaultControl
	}
	if c.TTL <= 0 {
		c.TTL = DefaultTTL
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// validate checks the config; it returns the sinkhole address and the
// protected names, canonical.
func (c Config) validate() (netip.Addr, []string, error) {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Resolver); c.Resolver == "" || err != nil {
		errs = append(errs, fmt.Errorf("dnssink: resolver %q: want host:port (the Unbound names are checked against)", c.Resolver))
	}
	addr, err := netip.ParseAddr(c.Sinkhole)
	if err != nil || addr.Zone() != "" {
		errs = append(errs, fmt.Errorf("dnssink: sinkhole %q is not an IP address", c.Sinkhole))
	}
	addr = addr.Unmap()
	if c.TTL > 86400 {
		errs = append(errs, fmt.Errorf("dnssink: ttl %d is over a day", c.TTL))
	}
	if c.Server != "" && (strings.HasPrefix(c.Server, "-") || strings.ContainsAny(c.Server, " \t\r\n\x00")) {
		errs = append(errs, fmt.Errorf("dnssink: server %q is not an address@port or a socket path", c.Server))
	}
	if strings.HasPrefix(c.Config, "-") || strings.HasPrefix(c.Control, "-") {
		errs = append(errs, errors.New("dnssink: control and config must be paths"))
	}
	if c.ControlKey != "" {
		if _, ok, err := secret.ParseRef(c.ControlKey); err != nil || !ok {
			errs = append(errs, errors.New("dnssink: control_key must be a secret://NAME reference (a private key is not written in the configuration)"))
		}
		if c.ControlCert == "" || c.ServerCert == "" {
			errs = append(errs, errors.New("dnssink: control_key needs control_cert and server_cert"))
		}
		if c.Server == "" {
			errs = append(errs, errors.New("dnssink: control_key needs server (address@port)"))
		}
		if c.Config != "" {
			errs = append(errs, errors.New("dnssink: give config or control_key, not both"))
		}
	} else if c.ControlCert != "" || c.ServerCert != "" {
		errs = append(errs, errors.New("dnssink: control_cert and server_cert need control_key"))
	}
	for k, v := range map[string]string{"control_key": c.ControlKey, "control_cert": c.ControlCert, "server_cert": c.ServerCert} {
		if _, ok, err := secret.ParseRef(v); err != nil {
			errs = append(errs, fmt.Errorf("dnssink: %s: %v", k, err))
		} else if ok && c.Secrets == nil {
			errs = append(errs, fmt.Errorf("dnssink: %s: %s needs the node's secret store", k, v))
		}
	}
	var protect []string
	for i, p := range c.Protect {
		d, err := CheckDomain(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("dnssink: protect[%d] %q: %v", i, p, err))
			continue
		}
		protect = append(protect, d)
	}
	return addr, protect, errors.Join(errs...)
}

// References lists the secret:// names the config uses, by key, for the
// node's check that they exist before it starts.
func (c Config) References() map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{"control_key": c.ControlKey, "control_cert": c.ControlCert, "server_cert": c.ServerCert} {
		if name, ok, err := secret.ParseRef(v); ok && err == nil {
			out["connectors.dnssink."+k] = name
		}
	}
	return out
}
