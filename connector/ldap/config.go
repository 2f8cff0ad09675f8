package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/riposte-soar/riposte/secret"
)

var attrRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,63}$`)

// SampleConfig is the part of riposte.yaml the ldap connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Flavours of directory: how an account is disabled.
const (
	// OpenLDAP locks with the ppolicy overlay's pwdAccountLockedTime
	// (000001010000Z: locked until an administrator unlocks).
	OpenLDAP = "openldap"
	// AD sets the ACCOUNTDISABLE bit (2) of userAccountControl.
	AD = "ad"
)

// DefaultTimeout bounds one call when Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Config is the ldap connector's configuration. URL, Flavour, BindDN,
// BindPassword, UsersBase and GroupsBase are required.
type Config struct {
	// URL of the directory: ldaps://host[:port], or ldap://host[:port]
	// with StartTLS. Plain ldap:// without StartTLS is accepted for a
	// loopback address only: the bind password would cross the network in
	// the clear.
	URL      string `yaml:"url" json:"url"`
	StartTLS bool   `yaml:"start_tls" json:"start_tls,omitempty"`
	// CAFile is a PEM file of the CA certificates the directory's
	// certificate is checked against; "" means the system's.
	CAFile string `yaml:"ca_file" json:"ca_file,omitempty"`
	// Flavour is OpenLDAP ("openldap") or AD ("ad").
	Flavour string `yaml:"flavour" json:"flavour"`
	// BindDN and BindPassword are the service account Riposte binds as;
	// BindPassword must be secret://NAME.
	BindDN       string `yaml:"bind_dn" json:"bind_dn"`
	BindPassword string `yaml:"bind_password" json:"bind_password"`
	// UsersBase and GroupsBase are where users and groups are searched
	// (whole subtree).
	UsersBase  string `yaml:"users_base" json:"users_base"`
	GroupsBase string `yaml:"groups_base" json:"groups_base"`
	// UserAttr is the attribute holding a login name; "" means uid
	// (openldap) or sAMAccountName (ad).
	UserAttr string `yaml:"user_attr" json:"user_attr,omitempty"`
	// Protect lists login names no operation touches (administrators,
	// break-glass accounts); the bind account is always protected.
	Protect []string `yaml:"protect" json:"protect,omitempty"`
	// Timeout bounds one call; 0 means DefaultTimeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Secrets resolves secret://NAME references (the node's secret
	// store); nil refuses them.
	Secrets func(ctx context.Context, ref string) (string, error) `yaml:"-" json:"-"`
}

func (c Config) withDefaults() Config {
	if c.UserAttr == "" {
		c.UserAttr = "uid"
		if c.Flavour == AD {
			c.UserAttr = "sAMAccountName"
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// validate checks the config and returns the TLS settings.
func (c Config) validate() (*tls.Config, error) {
	var errs []error
	u, err := url.Parse(c.URL)
	var host string
	switch {
	case c.URL == "" || err != nil || u.Host == "" || (u.Path != "" && u.Path != "/"):
		errs = append(errs, fmt.Errorf("ldap: url %q: want ldaps://host[:port] or ldap://host[:port]", c.URL))
	case u.Scheme == "ldaps" && c.StartTLS:
		errs = append(errs, errors.New("ldap: start_tls is for ldap:// (ldaps:// is TLS already)"))
	case u.Scheme == "ldap" && !c.StartTLS:
		host = u.Hostname()
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			errs = append(errs, fmt.Errorf("ldap: url %s sends the bind password in the clear: use ldaps:// or start_tls (plain ldap:// is for loopback addresses only)", c.URL))
		}
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		errs = append(errs, fmt.Errorf("ldap: url %q: the scheme must be ldap or ldaps", c.URL))
	}
	if u != nil {
		host = u.Hostname()
	}
	if c.Flavour != OpenLDAP && c.Flavour != AD {
		errs = append(errs, fmt.Errorf("ldap: flavour %q: want %s or %s", c.Flavour, OpenLDAP, AD))
	}
	for k, v := range map[string]string{"bind_dn": c.BindDN, "users_base": c.UsersBase, "groups_base": c.GroupsBase} {
		if _, err := goldap.ParseDN(v); v == "" || err != nil {
			errs = append(errs, fmt.Errorf("ldap: %s %q is not a DN", k, v))
		}
	}
	if ref, ok, err := secret.ParseRef(c.BindPassword); err != nil || !ok {
		errs = append(errs, errors.New("ldap: bind_password must be a secret://NAME reference (a password is not written in the configuration)"))
	} else if c.Secrets == nil {
		errs = append(errs, fmt.Errorf("ldap: bind_password: secret://%s needs the node's secret store", ref))
	}
	if !attrRE.MatchString(c.UserAttr) {
		errs = append(errs, fmt.Errorf("ldap: user_attr %q is not an attribute name", c.UserAttr))
	}
	for i, p := range c.Protect {
		if _, err := checkName(p); err != nil {
			errs = append(errs, fmt.Errorf("ldap: protect[%d] %q: %v", i, p, err))
		}
	}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		pool := x509.NewCertPool()
		if err != nil || !pool.AppendCertsFromPEM(b) {
			errs = append(errs, fmt.Errorf("ldap: ca_file %s: no PEM certificate could be read (%v)", c.CAFile, err))
		}
		tc.RootCAs = pool
	}
	return tc, errors.Join(errs...)
}

// References lists the secret:// names the config uses, by key, for the
// node's check that they exist before it starts.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if name, ok, err := secret.ParseRef(c.BindPassword); ok && err == nil {
		out["connectors.ldap.bind_password"] = name
	}
	return out
}

// checkName checks a login or group name: it is searched for (escaped in
// the filter), so the bound is about plausibility, not injection.
func checkName(s string) (string, error) {
	if s == "" || len(s) > 256 {
		return "", errors.New("want 1 to 256 characters")
	}
	if strings.ContainsAny(s, "\x00\r\n") || !validUTF8(s) {
		return "", errors.New("has a NUL, a line break or invalid UTF-8")
	}
	if strings.TrimSpace(s) != s {
		return "", errors.New("starts or ends with a space")
	}
	return s, nil
}
