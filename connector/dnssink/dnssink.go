// Package dnssink is the DNS sinkhole connector: it makes a domain, and
// every name under it, answer a sinkhole address in an Unbound resolver
// (a runtime "redirect" local zone with one A or AAAA record, through
// unbound-control), and lifts it again. Each change is checked by asking
// that Unbound for the name, as its clients would.
//
// unbound-control runs as an argv, never through a shell; a domain is
// checked (CheckDomain) before it becomes one argument. The control
// client's TLS key comes from the secret store, written for the length of
// a call to a private temporary directory and removed after.
package dnssink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	"github.com/riposte-soar/riposte/secret"
	"golang.org/x/net/dns/dnsmessage"
)

// Name is the connector's name in playbooks.
const Name = "dnssink"

var spec = connector.Spec{
	Name:        Name,
	Description: "Sinkholes domains in an Unbound resolver (redirect local zone to a sinkhole address, via unbound-control) and lifts them; each change is checked by resolving the name.",
	Operations: map[string]connector.Operation{
		"sinkhole_domain": {
			Description: "Make domain and every name under it answer the sinkhole address in Unbound, then resolve it to check.",
			Args: map[string]connector.ArgSpec{
				"domain": {Type: "string", Required: true, Description: "the domain to sinkhole (at least two labels; not a protected name)"},
			},
			Outputs: map[string]string{
				"domain":   "the domain, fully qualified",
				"sinkhole": "the address it now answers",
				"rcode":    "the resolver's answer code when checked",
				"answers":  "the addresses the resolver answered when checked",
			},
			Idempotent: true,
			Reversible: "unsinkhole_domain",
		},
		"unsinkhole_domain": {
			Description: "Remove the domain's sinkhole zone from Unbound, then resolve it to check that it no longer answers the sinkhole address.",
			Args: map[string]connector.ArgSpec{
				"domain": {Type: "string", Required: true, Description: "the sinkholed domain"},
			},
			Outputs: map[string]string{
				"domain":  "the domain, fully qualified",
				"rcode":   "the resolver's answer code when checked (NXDOMAIN, or NOERROR with its own answer)",
				"answers": "the addresses the resolver answered when checked",
			},
			Idempotent: true,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	cfg      Config
	sinkhole netip.Addr
	protect  []string
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	cfg = cfg.withDefaults()
	addr, protect, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return &Connector{cfg: cfg, sinkhole: addr, protect: protect}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

func bad(op, format string, a ...any) error {
	return connector.Errorf(connector.Permanent, "dnssink."+op+": "+format, a...)
}

// job is a validated call: the unbound-control commands it sends.
type job struct {
	op     string
	domain string
	cmds   [][]string // unbound-control arguments, after the connection options
}

func (c *Connector) prepare(call connector.Call) (*job, error) {
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "dnssink: unknown operation %q (want sinkhole_domain or unsinkhole_domain)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("dnssink.%s: %w", call.Operation, err)}
	}
	raw := call.Args["domain"].(string)
	d, err := CheckDomain(raw)
	if err != nil {
		return nil, bad(call.Operation, "domain %q: %v", limit.Text(raw, 64), err)
	}
	j := &job{op: call.Operation, domain: d}
	switch call.Operation {
	case "sinkhole_domain":
		for _, p := range c.protect {
			if under(d, p) {
				return nil, bad(call.Operation, "%s is protected (under %s in the connector's protect list)", d, p)
			}
		}
		rr := "A"
		if c.sinkhole.Is6() {
			rr = "AAAA"
		}
		// The zone first: local_data then lands in it (and leaves with it)
		// rather than in an enclosing zone of the resolver's own.
		j.cmds = [][]string{
			{"local_zone", d, "redirect"},
			{"local_data", d, strconv.Itoa(c.cfg.TTL), "IN", rr, c.sinkhole.String()},
		}
	case "unsinkhole_domain":
		// Removing the zone removes its data.
		j.cmds = [][]string{{"local_zone_remove", d}}
	}
	return j, nil
}

// connArgs are unbound-control's options saying where Unbound is.
func (c *Connector) connArgs(conf string) []string {
	var a []string
	if conf != "" {
		a = append(a, "-c", conf)
	}
	if c.cfg.Server != "" {
		a = append(a, "-s", c.cfg.Server)
	}
	return a
}

func (c *Connector) commands(j *job, conf string) []string {
	var out []string
	for _, cmd := range j.cmds {
		argv := append(append([]string{c.cfg.Control}, c.connArgs(conf)...), cmd...)
		out = append(out, strings.Join(argv, " "))
	}
	return out
}

// Simulate validates the call and returns the unbound-control commands
// Execute would run, without running them or reading a secret.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	conf := c.cfg.Config
	if c.cfg.ControlKey != "" {
		conf = "<temporary config with the control key>"
	}
	res := connector.Result{
		Outputs:  map[string]any{"domain": j.domain, "resolver": c.cfg.Resolver},
		Commands: c.commands(j, conf),
	}
	if j.op == "sinkhole_domain" {
		res.Outputs["sinkhole"] = c.sinkhole.String()
		res.Summary = fmt.Sprintf("would sinkhole %s to %s in Unbound, then resolve it against %s", j.domain, c.sinkhole, c.cfg.Resolver)
		res.Undo = c.undo(j.domain)
	} else {
		res.Summary = fmt.Sprintf("would lift the sinkhole of %s in Unbound, then resolve it against %s", j.domain, c.cfg.Resolver)
	}
	return res, nil
}

func (c *Connector) undo(domain string) *connector.Undo {
	return &connector.Undo{
		Connector: Name, Operation: "unsinkhole_domain",
		Args:    map[string]any{"domain": strings.TrimSuffix(domain, ".")},
		Summary: "lift the DNS sinkhole of " + strings.TrimSuffix(domain, "."),
	}
}

// Execute runs the unbound-control commands, then resolves the name.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	conf, secrets, cleanup, err := c.controlConfig(ctx)
	if err != nil {
		return connector.Result{}, err
	}
	defer cleanup()
	res := connector.Result{Outputs: map[string]any{"domain": j.domain}, Commands: c.commands(j, c.cfg.Config)}
	for i, cmd := range j.cmds {
		if err := c.run(ctx, conf, cmd, secrets); err != nil {
			if i > 0 && connector.ClassOf(err) != connector.Unknown {
				// The zone may be in place without its record.
				err = &connector.Error{Class: connector.Unknown, Err: err}
			}
			return res, fmt.Errorf("dnssink.%s %s: %w", j.op, j.domain, err)
		}
	}
	rtype := dnsmessage.TypeA
	if c.sinkhole.Is6() {
		rtype = dnsmessage.TypeAAAA
	}
	// Unbound applies a control command before it answers "ok"; the loop
	// covers a resolver that answers from elsewhere for a moment.
	var a answer
	for {
		a, err = resolve(ctx, c.cfg.Resolver, j.domain, rtype)
		done := err == nil && slices.Contains(a.Addrs, c.sinkhole) == (j.op == "sinkhole_domain")
		if done || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		return res, connector.Errorf(connector.Unknown, "dnssink.%s %s: unbound-control said ok, but resolving it against %s failed: %v", j.op, j.domain, c.cfg.Resolver, err)
	}
	res.Outputs["rcode"] = a.RCode
	res.Outputs["answers"] = addrStrings(a.Addrs)
	if j.op == "sinkhole_domain" {
		res.Outputs["sinkhole"] = c.sinkhole.String()
		if !slices.Contains(a.Addrs, c.sinkhole) {
			return res, connector.Errorf(connector.Unknown, "dnssink.sinkhole_domain %s: unbound-control said ok, but %s answers %s %v, not the sinkhole %s", j.domain, c.cfg.Resolver, a.RCode, addrStrings(a.Addrs), c.sinkhole)
		}
		res.Summary = fmt.Sprintf("sinkholed %s to %s in Unbound; %s answers %s (checked)", j.domain, c.sinkhole, c.cfg.Resolver, c.sinkhole)
		res.Undo = c.undo(j.domain)
		return res, nil
	}
	if slices.Contains(a.Addrs, c.sinkhole) {
		return res, connector.Errorf(connector.Unknown, "dnssink.unsinkhole_domain %s: unbound-control said ok, but %s still answers the sinkhole %s (another zone of the resolver's own may sinkhole it)", j.domain, c.cfg.Resolver, c.sinkhole)
	}
	res.Summary = fmt.Sprintf("lifted the sinkhole of %s in Unbound; %s answers %s %v (checked)", j.domain, c.cfg.Resolver, a.RCode, addrStrings(a.Addrs))
	return res, nil
}

func addrStrings(as []netip.Addr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// controlConfig writes, when the control key comes from the secret store,
// a private directory with the credentials and an unbound-control config
// naming them; cleanup removes it. secrets are the values read, to redact
// from anything unbound-control prints.
func (c *Connector) controlConfig(ctx context.Context) (conf string, secrets []string, cleanup func(), err error) {
	cleanup = func() {}
	if c.cfg.ControlKey == "" {
		return c.cfg.Config, nil, cleanup, nil
	}
	dir, err := os.MkdirTemp("", "riposte-dnssink-")
	if err != nil {
		return "", nil, cleanup, connector.Errorf(connector.Transient, "dnssink: temporary directory: %v", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	files := map[string]string{}
	for _, f := range []struct{ key, val, file string }{
		{"control_key", c.cfg.ControlKey, "control.key"},
		{"control_cert", c.cfg.ControlCert, "control.pem"},
		{"server_cert", c.cfg.ServerCert, "server.pem"},
	} {
		path := filepath.Join(dir, f.file)
		if _, ok, _ := secret.ParseRef(f.val); ok {
			v, err := c.cfg.Secrets(ctx, f.val)
			if err != nil {
				cleanup()
				return "", nil, func() {}, connector.Errorf(connector.Permanent, "dnssink: %s: %v", f.key, err)
			}
			secrets = append(secrets, v)
			if err := os.WriteFile(path, []byte(v), 0o600); err != nil {
				cleanup()
				return "", nil, func() {}, connector.Errorf(connector.Transient, "dnssink: writing %s: %v", f.key, err)
			}
		} else {
			path = f.val
		}
		files[f.key] = path
	}
	conf = filepath.Join(dir, "unbound-control.conf")
	body := fmt.Sprintf("remote-control:\n  control-enable: yes\n  server-cert-file: %q\n  control-key-file: %q\n  control-cert-file: %q\n",
		files["server_cert"], files["control_key"], files["control_cert"])
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		cleanup()
		return "", nil, func() {}, connector.Errorf(connector.Transient, "dnssink: writing the control config: %v", err)
	}
	return conf, secrets, cleanup, nil
}

// run runs one unbound-control command and classifies its failure.
func (c *Connector) run(ctx context.Context, conf string, cmd []string, secrets []string) error {
	args := append(c.connArgs(conf), cmd...)
	var out bytes.Buffer
	x := exec.CommandContext(ctx, c.cfg.Control, args...)
	x.Stdout, x.Stderr = &out, &out
	x.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	err := x.Run()
	text := strings.TrimSpace(out.String())
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, "[secret]")
		}
	}
	text = limit.Text(text, 512)
	if err == nil && text == "ok" {
		return nil
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return &connector.Error{Class: connector.Unknown, Err: fmt.Errorf("unbound-control %s: timed out: %s", cmd[0], text)}
	case err != nil && !errors.As(err, &ee):
		// Not started: nothing happened.
		return connector.Errorf(connector.Transient, "unbound-control %s: %v", cmd[0], err)
	case strings.Contains(text, "connect:") || strings.Contains(text, "Connection refused"):
		// Unbound down: nothing applied. (A TLS failure, wrong key or
		// certificate, is permanent: retrying sends the same.)
		return connector.Errorf(connector.Transient, "unbound-control %s: %s", cmd[0], text)
	}
	return connector.Errorf(connector.Permanent, "unbound-control %s: %s", cmd[0], text)
}
