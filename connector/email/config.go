package email

import (
	_ "embed"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/notify/email"
)

// SampleConfig is the part of riposte.yaml the email connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Defaults and bounds.
const (
	DefaultTimeout = 30 * time.Second
	// MaxRecipients bounds the recipients of one mail.
	MaxRecipients = 50
	// maxAddress is the longest address accepted (RFC 5321 path limit).
	maxAddress = 254
)

// Config is the email connector's configuration.
type Config struct {
	// SMTP is the submission server and the sender, configured as a
	// notify email channel (host, port, starttls, tls, root_cas,
	// username, password_env, hello, from); its to are the recipients
	// when a step names none.
	SMTP email.Config `yaml:"smtp" json:"smtp"`
	// Allow lists who steps may mail: a domain (example.org: every address
	// at exactly that domain) or an address. Empty allows any address.
	Allow            []string `yaml:"allow" json:"allow,omitempty"`
	outbound.Options `yaml:",inline"`
	// MaxText is the longest text sent; 0 means outbound.DefaultMaxText.
	MaxText int `yaml:"max_text" json:"max_text,omitempty"`
}

// allowlist is the parsed Allow.
type allowlist struct {
	domains, addrs map[string]bool
}

func (a allowlist) empty() bool { return len(a.domains)+len(a.addrs) == 0 }

func (a allowlist) allows(addr string) bool {
	addr = strings.ToLower(addr)
	at := strings.LastIndexByte(addr, '@')
	return a.empty() || a.addrs[addr] || (at > 0 && a.domains[addr[at+1:]])
}

// check validates the configuration; email.New checks the SMTP part the
// way the notify email channel does.
func (c Config) check() (allowlist, []*mail.Address, error) {
	var errs []error
	smtp := c.SMTP
	if len(smtp.To) == 0 && smtp.From != "" {
		// email.New insists on recipients, which the connector takes from
		// each step: borrow the sender to check the rest.
		smtp.To = []string{smtp.From}
	}
	if _, err := email.New(Name, smtp, nil); err != nil {
		errs = append(errs, fmt.Errorf("email: smtp: %w", err))
	}
	var defaults []*mail.Address
	for _, t := range c.SMTP.To {
		if a, err := mail.ParseAddress(t); err == nil {
			defaults = append(defaults, &mail.Address{Address: a.Address})
		}
	}
	al := allowlist{domains: map[string]bool{}, addrs: map[string]bool{}}
	for i, e := range c.Allow {
		e = strings.ToLower(strings.TrimSpace(e))
		switch {
		case strings.Contains(e, "@"):
			a, err := mail.ParseAddress(e)
			if err != nil || a.Name != "" {
				errs = append(errs, fmt.Errorf("email: allow[%d] %q is not an address", i, c.Allow[i]))
				continue
			}
			al.addrs[strings.ToLower(a.Address)] = true
		case e == "" || strings.ContainsAny(e, " \t\r\n<>,;\"") || strings.HasPrefix(e, ".") || strings.HasSuffix(e, "."):
			errs = append(errs, fmt.Errorf("email: allow[%d] %q is not a domain or an address", i, c.Allow[i]))
		default:
			al.domains[e] = true
		}
	}
	if c.MaxText < 0 {
		errs = append(errs, errors.New("email: max_text must not be negative"))
	}
	return al, defaults, errors.Join(errs...)
}
