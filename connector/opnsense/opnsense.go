// Package opnsense is the OPNsense connector: it blocks an address or a
// network by adding it to the pf table of a firewall alias of type
// External (advanced) through the alias_util API (POST
// /api/firewall/alias_util/add/{alias} and delete/{alias}, GET
// list/{alias}), then reads the table back to verify. Adding an address
// the table holds, or deleting one it does not, changes nothing, so every
// call is safe to repeat. pfSense has no such API in its base system; see
// the README.
package opnsense

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "opnsense"

var addressArg = connector.ArgSpec{Type: "string", Required: true, Description: "an IP address or a CIDR network"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Blocks addresses on OPNsense: adds them to the table of an External alias that a block rule uses, verified by listing the table; undone by removing them.",
	Operations: map[string]connector.Operation{
		"block": {
			Description: "Add an address or network to the alias's table (verified by reading the table).",
			Args:        map[string]connector.ArgSpec{"address": addressArg},
			Outputs:     map[string]string{"alias": "the alias", "address": "the address as added", "entries": "how many entries the table holds"},
			Idempotent:  true,
			Reversible:  "unblock",
		},
		"unblock": {
			Description: "Remove an address or network from the alias's table (verified by reading the table).",
			Args:        map[string]connector.ArgSpec{"address": addressArg},
			Outputs:     map[string]string{"alias": "the alias", "address": "the address as removed", "entries": "how many entries the table holds"},
			Idempotent:  true,
		},
	},
}

// aliasName is what OPNsense accepts as an alias name.
var aliasName = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)

// Connector implements connector.Connector.
type Connector struct {
	cfg Config
	api *apiclient.Client
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("opnsense: url is required (the firewall's web interface)")
	}
	if !aliasName.MatchString(cfg.Alias) {
		return nil, fmt.Errorf("opnsense: alias %q: want the name of an External alias (letters, digits, _; up to 32)", cfg.Alias)
	}
	api, err := cfg.Client(Name, "", cfg.Credentials)
	if err != nil {
		return nil, err
	}
	api.Auth = func(h http.Header, v string) {
		key, secret := Credentials(v)
		r := http.Request{Header: h}
		r.SetBasicAuth(key, secret)
	}
	api.ErrMessage = func(b []byte) string { return apiclient.JSONField(b, "message", "errorMessage", "status") }
	return &Connector{cfg: cfg, api: api}, nil
}

// Credentials reads the stored credential: "KEY:SECRET", or apikey.txt as
// OPNsense hands it out (key=... and secret=... on their own lines).
func Credentials(v string) (key, secret string) {
	if strings.Contains(v, "key=") {
		for _, line := range strings.Split(v, "\n") {
			k, val, _ := strings.Cut(strings.TrimSpace(line), "=")
			switch k {
			case "key":
				key = val
			case "secret":
				secret = val
			}
		}
		return key, secret
	}
	key, secret, _ = strings.Cut(strings.TrimSpace(v), ":")
	return key, secret
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

type job struct {
	op      string
	address string
	req     apiclient.Request
}

func (c *Connector) prepare(call connector.Call) (*job, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "opnsense: unknown operation %q (want block or unblock)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	addr, err := Address(apiclient.Text(call.Args, "address", 64))
	if err != nil {
		return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
	}
	verb := "add"
	if call.Operation == "unblock" {
		verb = "delete"
	}
	return &job{op: call.Operation, address: addr, req: apiclient.Request{Method: http.MethodPost,
		Path: []string{"api", "firewall", "alias_util", verb, c.cfg.Alias}, Body: map[string]string{"address": addr}, Retry: true}}, nil
}

// Address is the form the table holds: an address alone, a network
// masked ("10.0.0.0/8"); a single-address CIDR is the address.
func Address(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap().String(), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return "", fmt.Errorf("address %q is not an IP address or a CIDR network", s)
	}
	if p.IsSingleIP() {
		return p.Addr().Unmap().String(), nil
	}
	return p.Masked().String(), nil
}

func (c *Connector) undo(j *job) *connector.Undo {
	if j.op != "block" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "unblock", Args: map[string]any{"address": j.address},
		Summary: "remove " + j.address + " from the OPNsense alias " + c.cfg.Alias}
}

// Simulate validates the call and returns the requests Execute would
// send; it reads no secret and sends nothing.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{
		Summary:  fmt.Sprintf("would %s %s on the OPNsense alias %s and read the table back", j.op, j.address, c.cfg.Alias),
		Commands: []string{c.api.Line(j.req), c.api.Line(c.listReq())},
		Outputs:  map[string]any{"alias": c.cfg.Alias, "address": j.address},
		Undo:     c.undo(j),
	}, nil
}

func (c *Connector) listReq() apiclient.Request {
	return apiclient.Request{Method: http.MethodGet, Path: []string{"api", "firewall", "alias_util", "list", c.cfg.Alias}, Retry: true}
}

// changed is alias_util's answer to add and delete.
type changed struct {
	Status string `json:"status"`
}

// table is alias_util's answer to list.
type table struct {
	Total int `json:"total"`
	Rows  []struct {
		IP string `json:"ip"`
	} `json:"rows"`
}

// Execute changes the table, then lists it to verify.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	res := connector.Result{Commands: []string{c.api.Line(j.req), c.api.Line(c.listReq())}}
	var ch changed
	if _, err := c.api.Do(ctx, j.req, &ch); err != nil {
		return res, fmt.Errorf("opnsense.%s %s: %w", j.op, j.address, err)
	}
	if ch.Status != "done" {
		return res, connector.Errorf(connector.Permanent, "opnsense.%s %s: alias %s answered status %q, not done (is it an External alias?)",
			j.op, j.address, c.cfg.Alias, limit.Text(ch.Status, 64))
	}
	var t table
	if _, err := c.api.Do(ctx, c.listReq(), &t); err != nil {
		return res, fmt.Errorf("opnsense.%s %s: changed, but reading the table back failed: %w", j.op, j.address, err)
	}
	held := false
	for _, r := range t.Rows {
		if a, err := Address(r.IP); err == nil && a == j.address {
			held = true
		}
	}
	if held != (j.op == "block") {
		state := "still holds"
		if !held {
			state = "does not hold"
		}
		return res, connector.Errorf(connector.Unknown, "opnsense.%s %s: answered done, but the table of %s %s it", j.op, j.address, c.cfg.Alias, state)
	}
	res.Outputs = map[string]any{"alias": c.cfg.Alias, "address": j.address, "entries": len(t.Rows)}
	verb := "blocked on"
	if j.op == "unblock" {
		verb = "removed from"
	}
	res.Summary = fmt.Sprintf("%s %s the OPNsense alias %s (verified: the table holds %d entries)", j.address, verb, c.cfg.Alias, len(t.Rows))
	res.Undo = c.undo(j)
	return res, nil
}
