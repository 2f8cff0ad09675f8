// Package rdap is the RDAP (whois) enrichment connector: who holds an
// address block or a domain, through the Registration Data Access
// Protocol (RFC 7480 HTTP usage, RFC 9082 queries, RFC 9083 answers). The
// service asked is the configured one or, with a bootstrap URL, the one
// IANA's bootstrap registries (RFC 9224) name for the TLD or block. It
// only reads: nothing to undo; an unknown object (404) is found: false.
package rdap

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/indicator"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "rdap"

// DefaultURL is ARIN's RDAP service.
const DefaultURL = "https://rdap.arin.net/registry"

// bootstrapTTL is how long a bootstrap registry is used before it is read
// again (IANA updates them rarely).
const bootstrapTTL = 24 * time.Hour

var outputs = map[string]string{
	"found":  "false when the registry has no such object (or the address is not public)",
	"name":   "the network's name, or the domain's name",
	"handle": "the registry's handle", "country": "the country of the network (when the registry says)",
	"registrant": "the registrant's name", "registrant_emails": "the registrant's e-mail addresses",
	"abuse_emails": "the abuse contact's e-mail addresses", "registrar": "the registrar's name (domains)",
	"registered": "the registration date (RFC 3339)", "last_changed": "the last change (RFC 3339)",
	"expires": "the expiry (RFC 3339, domains)", "server": "the RDAP service that answered",
}

var spec = connector.Spec{
	Name:        Name,
	Description: "Whois through RDAP: the registration of an address block or a domain (holder, handle, country, registrant and abuse e-mails, dates). Read-only.",
	Operations: map[string]connector.Operation{
		"lookup_ip": {
			Description: "GET {service}/ip/{ip}; private and reserved addresses are not sent.",
			Args:        map[string]connector.ArgSpec{"ip": {Type: "string", Required: true, Description: "an IPv4 or IPv6 address"}},
			Outputs:     withKey("ip", "the address"),
			Idempotent:  true,
		},
		"lookup_domain": {
			Description: "GET {service}/domain/{name}.",
			Args:        map[string]connector.ArgSpec{"domain": {Type: "string", Required: true, Description: "a domain name"}},
			Outputs:     withKey("domain", "the name asked"),
			Idempotent:  true,
		},
	},
}

func withKey(k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range outputs {
		out[a] = b
	}
	return out
}

// Connector implements connector.Connector.
type Connector struct {
	cfg  Config
	base *url.URL
	boot *url.URL
	hc   *http.Client

	mu    sync.Mutex
	cache map[string]bootFile
}

type bootFile struct {
	services [][2][]string
	read     time.Time
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	var errs []error
	base, err := apiclient.CheckBase("rdap: url", cmpOr(cfg.URL, DefaultURL))
	if err != nil {
		errs = append(errs, err)
	}
	c := &Connector{cfg: cfg, base: base, cache: map[string]bootFile{}}
	if cfg.BootstrapURL != "" {
		if c.boot, err = apiclient.CheckBase("rdap: bootstrap_url", cfg.BootstrapURL); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.Attempts < 0 || cfg.Attempts > 10 {
		errs = append(errs, fmt.Errorf("rdap: attempts %d: want 1 to 10", cfg.Attempts))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = apiclient.DefaultTimeout
	}
	hc := cfg.HTTP
	if hc == nil {
		if hc, err = apiclient.HTTPClient(cfg.CAFile, cfg.Timeout); err != nil {
			errs = append(errs, fmt.Errorf("rdap: %w", err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Registries redirect to the one that holds the object (RFC 7480 §5.2):
	// followed, https only and a few hops, since no credential is sent.
	h := *hc
	// A redirect refused ends with the 3xx answer itself: a permanent
	// failure naming the status, not a lost request to be tried again.
	h.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 || req.URL.Scheme != "https" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	c.hc = &h
	return c, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (c *Connector) client(base *url.URL, accept string) *apiclient.Client {
	return &apiclient.Client{Name: Name, Base: base, HTTP: c.hc, Attempts: c.cfg.Attempts, MaxWait: c.cfg.MaxWait,
		Header:     http.Header{"Accept": {accept}},
		ErrMessage: func(b []byte) string { return apiclient.JSONField(b, "title", "description") }}
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

type plan struct {
	op, kind, value string
	addr            netip.Addr
	public          bool
}

func (c *Connector) prepare(call connector.Call) (*plan, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "rdap: unknown operation %q (want lookup_ip or lookup_domain)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	p := &plan{op: call.Operation, public: true}
	if call.Operation == "lookup_ip" {
		s, _ := call.Args["ip"].(string)
		a, err := indicator.IP(s)
		if err != nil {
			return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
		}
		p.kind, p.value, p.addr, p.public = "ip", a.String(), a, indicator.Public(a)
		return p, nil
	}
	s, _ := call.Args["domain"].(string)
	d, err := indicator.Domain(s)
	if err != nil {
		return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
	}
	p.kind, p.value = "domain", d
	return p, nil
}

func (p *plan) path() []string { return []string{p.kind, p.value} }

func (p *plan) empty(why string) connector.Result {
	return connector.Result{Summary: why, Outputs: map[string]any{p.kind: p.value, "found": false}}
}

// Simulate validates the call and returns the request Execute sends (the
// service a bootstrap would choose is not looked up).
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	if !p.public {
		return p.empty("RDAP not asked: " + p.value + " is not a public address"), nil
	}
	base := c.base
	if c.boot != nil {
		b := *c.boot
		b.Path += "/{service of " + p.value + "}"
		base = &b
	}
	r := apiclient.Request{Method: http.MethodGet, Path: p.path()}
	return connector.Result{Summary: "would ask RDAP about " + p.value, Commands: []string{c.client(base, "").Line(r)},
		Outputs: map[string]any{p.kind: p.value}}, nil
}

// service is the RDAP base URL for p: the bootstrap's, else the
// configured one.
func (c *Connector) service(ctx context.Context, p *plan) (*url.URL, error) {
	if c.boot == nil {
		return c.base, nil
	}
	file := "dns.json"
	if p.kind == "ip" {
		file = "ipv6.json"
		if p.addr.Is4() {
			file = "ipv4.json"
		}
	}
	services, err := c.bootstrap(ctx, file)
	if err != nil {
		return nil, err
	}
	best, bestLen := "", -1
	for _, s := range services {
		for _, e := range s[0] {
			n := -1
			if p.kind == "ip" {
				if pf, err := netip.ParsePrefix(e); err == nil && pf.Contains(p.addr) {
					n = pf.Bits()
				}
			} else if e = strings.ToLower(strings.TrimSuffix(e, ".")); e != "" && (p.value == e || strings.HasSuffix(p.value, "."+e)) {
				n = len(e)
			}
			if n <= bestLen {
				continue
			}
			for _, u := range s[1] {
				if strings.HasPrefix(u, "https://") {
					best, bestLen = u, n
					break
				}
			}
		}
	}
	if best == "" {
		return c.base, nil
	}
	return apiclient.CheckBase("rdap: bootstrap service", best)
}

// bootstrap reads one IANA bootstrap registry, at most once a day.
func (c *Connector) bootstrap(ctx context.Context, file string) ([][2][]string, error) {
	c.mu.Lock()
	f, ok := c.cache[file]
	c.mu.Unlock()
	if ok && time.Since(f.read) < bootstrapTTL {
		return f.services, nil
	}
	var ans struct {
		Version  string       `json:"version"`
		Services [][][]string `json:"services"`
	}
	r := apiclient.Request{Method: http.MethodGet, Path: []string{file}, Retry: true}
	if _, err := c.client(c.boot, "application/json").Do(ctx, r, &ans); err != nil {
		if ok {
			return f.services, nil // a stale registry beats none
		}
		return nil, fmt.Errorf("rdap: bootstrap %s: %w", file, err)
	}
	var services [][2][]string
	for _, s := range ans.Services {
		if len(s) == 2 {
			services = append(services, [2][]string{s[0], s[1]})
		}
	}
	if len(services) == 0 {
		return nil, connector.Errorf(connector.Permanent, "rdap: bootstrap %s has no services", file)
	}
	c.mu.Lock()
	c.cache[file] = bootFile{services: services, read: time.Now()}
	c.mu.Unlock()
	return services, nil
}

// object is the part of an RFC 9083 answer (ip network, domain) read.
type object struct {
	ObjectClassName string   `json:"objectClassName"`
	Handle          string   `json:"handle"`
	Name            string   `json:"name"`
	LDHName         string   `json:"ldhName"`
	Country         string   `json:"country"`
	Events          []event  `json:"events"`
	Entities        []entity `json:"entities"`
}

type event struct {
	Action string `json:"eventAction"`
	Date   string `json:"eventDate"`
}

type entity struct {
	Handle   string   `json:"handle"`
	Roles    []string `json:"roles"`
	VCard    []any    `json:"vcardArray"`
	Entities []entity `json:"entities"`
}

// vcard reads the fn and email properties of a jCard (RFC 7095):
// ["vcard", [[name, params, type, value], …]].
func vcard(v []any) (fn string, emails []string) {
	if len(v) != 2 {
		return "", nil
	}
	props, _ := v[1].([]any)
	for _, p := range props {
		a, _ := p.([]any)
		if len(a) < 4 {
			continue
		}
		name, _ := a[0].(string)
		val, _ := a[3].(string)
		switch strings.ToLower(name) {
		case "fn":
			if fn == "" {
				fn = val
			}
		case "email":
			if val != "" {
				emails = append(emails, val)
			}
		}
	}
	return fn, emails
}

// contacts walks the entities (nested ones too: ARIN puts the abuse
// contact under the registrant) and gathers names and e-mails by role.
func contacts(es []entity, names map[string]string, emails map[string][]string, depth int) {
	if depth > 4 {
		return
	}
	for _, e := range es {
		fn, em := vcard(e.VCard)
		for _, r := range e.Roles {
			r = strings.ToLower(r)
			if names[r] == "" {
				names[r] = fn
			}
			for _, m := range em {
				if len(emails[r]) < 10 && !slices.Contains(emails[r], m) {
					emails[r] = append(emails[r], limit.Text(m, 254))
				}
			}
		}
		contacts(e.Entities, names, emails, depth+1)
	}
}

// Execute asks the registry.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	if !p.public {
		return p.empty("RDAP not asked: " + p.value + " is not a public address"), nil
	}
	base, err := c.service(ctx, p)
	if err != nil {
		return connector.Result{}, fmt.Errorf("%s.%s %s: %w", Name, p.op, p.value, err)
	}
	cl := c.client(base, "application/rdap+json")
	r := apiclient.Request{Method: http.MethodGet, Path: p.path(), Retry: true}
	res := connector.Result{Commands: []string{cl.Line(r)}}
	var o object
	if _, err := cl.Do(ctx, r, &o); err != nil {
		if apiclient.IsStatus(err, http.StatusNotFound) {
			e := p.empty("RDAP: " + base.Host + " has no registration of " + p.value)
			e.Commands = res.Commands
			return e, nil
		}
		return res, fmt.Errorf("%s.%s %s: %w", Name, p.op, p.value, err)
	}
	want := map[string]string{"ip": "ip network", "domain": "domain"}[p.kind]
	if !strings.EqualFold(o.ObjectClassName, want) {
		return res, connector.Errorf(connector.Permanent, "%s.%s %s: the answer is not an RDAP %s object (objectClassName %q)", Name, p.op, p.value, want, limit.Text(o.ObjectClassName, 32))
	}
	names, emails := map[string]string{}, map[string][]string{}
	contacts(o.Entities, names, emails, 0)
	name := o.Name
	if p.kind == "domain" {
		name = strings.ToLower(cmpOr(o.LDHName, p.value))
	}
	out := map[string]any{p.kind: p.value, "found": true, "server": base.Host,
		"name": limit.Text(name, 256), "handle": limit.Text(o.Handle, 128), "country": limit.Text(o.Country, 8),
		"registrant": limit.Text(names["registrant"], 256), "registrar": limit.Text(names["registrar"], 256),
		"registrant_emails": nonNil(emails["registrant"]), "abuse_emails": nonNil(emails["abuse"]),
		"registered": "", "last_changed": "", "expires": "",
	}
	for _, e := range o.Events {
		k := map[string]string{"registration": "registered", "last changed": "last_changed", "expiration": "expires"}[strings.ToLower(e.Action)]
		if k != "" && out[k] == "" {
			out[k] = indicator.ParseStamp(e.Date)
		}
	}
	res.Outputs = out
	res.Summary = fmt.Sprintf("RDAP: %s is %s (%s), registered %s by %s", p.value, out["name"], out["handle"],
		cmpOr(out["registered"].(string), "?"), cmpOr(names["registrant"], cmpOr(names["registrar"], "?")))
	return res, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
