// Package fortigate is the FortiGate connector: it blocks an IPv4 address
// or network by creating the address object riposte-<address> and adding
// it to an address group that deny policies use, through the FortiOS
// REST API v2 (cmdb), then reads the group back to verify. Unblocking
// removes the member, then the object. An object or member that already
// exists (FortiOS error -5), or one already gone (404, error -3), is the
// wanted state, so every call is safe to repeat.
package fortigate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "fortigate"

// FortiOS error codes the connector reads.
const (
	errNotFound  = -3
	errDuplicate = -5
)

var addressArg = connector.ArgSpec{Type: "string", Required: true, Description: "an IPv4 address or network (CIDR)"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Blocks addresses on FortiGate: adds an address object riposte-<address> to an address group that deny policies use, verified by reading the group; undone by removing it.",
	Operations: map[string]connector.Operation{
		"block": {
			Description: "Create the address object and add it to the group (verified by reading the group's members).",
			Args:        map[string]connector.ArgSpec{"address": addressArg},
			Outputs:     map[string]string{"group": "the address group", "address": "the address as added", "object": "the address object's name", "members": "how many members the group holds"},
			Idempotent:  true,
			Reversible:  "unblock",
		},
		"unblock": {
			Description: "Remove the address object from the group, then delete it (verified by reading the group's members).",
			Args:        map[string]connector.ArgSpec{"address": addressArg},
			Outputs:     map[string]string{"group": "the address group", "address": "the address as removed", "object": "the address object's name", "members": "how many members the group holds", "object_deleted": "whether the address object was deleted (false when another table still uses it)"},
			Idempotent:  true,
		},
	},
}

var (
	groupName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,78}$`)
	vdomName  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,31}$`)
)

// Connector implements connector.Connector.
type Connector struct {
	cfg Config
	api *apiclient.Client
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	var errs []error
	if cfg.URL == "" {
		errs = append(errs, errors.New("fortigate: url is required: the FortiGate's management interface"))
	}
	if !groupName.MatchString(cfg.Group) {
		errs = append(errs, fmt.Errorf("fortigate: group %q: want the name of an address group (letters, digits, space . _ -; up to 79)", cfg.Group))
	}
	if cfg.VDOM != "" && !vdomName.MatchString(cfg.VDOM) {
		errs = append(errs, fmt.Errorf("fortigate: vdom %q is not a VDOM name", cfg.VDOM))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	api, err := cfg.Client(Name, "", cfg.Token)
	if err != nil {
		return nil, err
	}
	api.Auth = func(h http.Header, v string) { h.Set("Authorization", "Bearer "+strings.TrimSpace(v)) }
	api.ErrMessage = message
	return &Connector{cfg: cfg, api: api}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

// Address is the IPv4 network to block, masked; a single address is a /32.
func Address(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		s = a.Unmap().String() + "/32"
	}
	p, err := netip.ParsePrefix(s)
	if err == nil && p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("address %q is not an IPv4 address or network (firewall/address holds IPv4)", s)
	}
	return p.Masked(), nil
}

// Object is the name of the address object of p: riposte-<address>, or
// riposte-<network>-<bits> ("/" is not safe in a cmdb path).
func Object(p netip.Prefix) string {
	if p.IsSingleIP() {
		return "riposte-" + p.Addr().String()
	}
	return "riposte-" + p.Addr().String() + "-" + strconv.Itoa(p.Bits())
}

// Subnet is p as FortiOS writes it: "address mask".
func Subnet(p netip.Prefix) string {
	mask := net4Mask(p.Bits())
	return p.Addr().String() + " " + mask.String()
}

func net4Mask(bits int) netip.Addr {
	var m uint32
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)})
}

type job struct {
	op      string
	address string
	object  string
	reqs    []apiclient.Request
}

func (c *Connector) req(method string, body any, path ...string) apiclient.Request {
	var q url.Values
	if c.cfg.VDOM != "" {
		q = url.Values{"vdom": {c.cfg.VDOM}}
	}
	// Each request sets a state (an object, a membership) and a repeat
	// after a lost answer meets "already exists" or "not found".
	return apiclient.Request{Method: method, Path: append([]string{"api", "v2", "cmdb", "firewall"}, path...), Query: q, Body: body, Retry: true}
}

func (c *Connector) prepare(call connector.Call) (*job, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "fortigate: unknown operation %q (want block or unblock)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	p, err := Address(apiclient.Text(call.Args, "address", 64))
	if err != nil {
		return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
	}
	name := Object(p)
	addr := p.String()
	if p.IsSingleIP() {
		addr = p.Addr().String()
	}
	j := &job{op: call.Operation, address: addr, object: name}
	if j.op == "block" {
		j.reqs = []apiclient.Request{
			c.req(http.MethodPost, map[string]any{"name": name, "subnet": Subnet(p), "comment": "riposte"}, "address"),
			c.req(http.MethodPost, map[string]any{"name": name}, "addrgrp", c.cfg.Group, "member"),
		}
	} else {
		j.reqs = []apiclient.Request{
			c.req(http.MethodDelete, nil, "addrgrp", c.cfg.Group, "member", name),
			c.req(http.MethodDelete, nil, "address", name),
		}
	}
	j.reqs = append(j.reqs, c.req(http.MethodGet, nil, "addrgrp", c.cfg.Group))
	return j, nil
}

func (c *Connector) undo(j *job) *connector.Undo {
	if j.op != "block" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "unblock", Args: map[string]any{"address": j.address},
		Summary: "remove " + j.object + " from the FortiGate address group " + c.cfg.Group}
}

func (c *Connector) lines(j *job) []string {
	out := make([]string, len(j.reqs))
	for i, r := range j.reqs {
		out[i] = c.api.Line(r)
	}
	return out
}

// Simulate validates the call and returns the requests Execute would
// send; it reads no secret and sends nothing.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{
		Summary:  fmt.Sprintf("would %s %s (%s) on the FortiGate address group %s and read the group back", j.op, j.address, j.object, c.cfg.Group),
		Commands: c.lines(j),
		Outputs:  map[string]any{"group": c.cfg.Group, "address": j.address, "object": j.object},
		Undo:     c.undo(j),
	}, nil
}

// answer is FortiOS's envelope of every answer.
type answer struct {
	Status     string `json:"status"`
	HTTPStatus int    `json:"http_status"`
	Error      *int   `json:"error"`
	CLIError   string `json:"cli_error"`
	Results    []struct {
		Name   string `json:"name"`
		Member []struct {
			Name string `json:"name"`
		} `json:"member"`
	} `json:"results"`
}

// codeText names the error codes of FortiOS's reference.
var codeText = map[int]string{errNotFound: "entry not found", errDuplicate: "a duplicate entry already exists"}

// message is the text of an error answer: its FortiOS code (matched by
// code), the code's meaning and the CLI's words.
func message(b []byte) string {
	var a answer
	if json.Unmarshal(b, &a) != nil {
		return ""
	}
	var parts []string
	if a.Error != nil {
		s := "FortiOS error " + strconv.Itoa(*a.Error)
		if t := codeText[*a.Error]; t != "" {
			s += " (" + t + ")"
		}
		parts = append(parts, s)
	}
	if a.CLIError != "" {
		parts = append(parts, strings.TrimSpace(a.CLIError))
	}
	if len(parts) == 0 && a.Status != "" {
		parts = append(parts, "status "+a.Status)
	}
	return strings.Join(parts, "; ")
}

// isCode reports whether err is a FortiOS error answer with that code.
func isCode(err error, code int) bool {
	return err != nil && strings.Contains(err.Error(), "FortiOS error "+strconv.Itoa(code)+" ")
}

// send sends r; a 2xx answer whose status is "error" fails with its
// code, as an HTTP error answer would.
func (c *Connector) send(ctx context.Context, r apiclient.Request) (answer, error) {
	var a answer
	resp, err := c.api.Do(ctx, r, &a)
	if err != nil {
		return a, err
	}
	if a.Status != "success" {
		msg := message(resp.Body)
		if msg == "" {
			msg = "no status"
		}
		return a, connector.Errorf(connector.Permanent, "%s: answered %d with %s", c.api.Line(r), resp.Status, limit.Text(msg, 512))
	}
	return a, nil
}

// Execute changes the object and the group, then reads the group back.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	res := connector.Result{Commands: c.lines(j)}
	fail := func(step string, err error) (connector.Result, error) {
		return res, fmt.Errorf("fortigate.%s %s: %s: %w", j.op, j.address, step, err)
	}
	deleted := true
	if j.op == "block" {
		if _, err := c.send(ctx, j.reqs[0]); err != nil && !isCode(err, errDuplicate) {
			return fail("creating the address object "+j.object, err)
		}
		if _, err := c.send(ctx, j.reqs[1]); err != nil && !isCode(err, errDuplicate) {
			return fail("adding "+j.object+" to "+c.cfg.Group, err)
		}
	} else {
		gone := func(err error) bool { return apiclient.IsStatus(err, http.StatusNotFound) || isCode(err, errNotFound) }
		if _, err := c.send(ctx, j.reqs[0]); err != nil && !gone(err) {
			return fail("removing "+j.object+" from "+c.cfg.Group, err)
		}
		// The group no longer holds it: the block is lifted. An object
		// another table still uses stays, and the result says so.
		if _, err := c.send(ctx, j.reqs[1]); err != nil && !gone(err) {
			if connector.ClassOf(err) != connector.Permanent {
				return fail("deleting the address object "+j.object, err)
			}
			deleted = false
		}
	}
	a, err := c.send(ctx, j.reqs[2])
	if err != nil {
		return fail("changed, but reading the group back failed", err)
	}
	held, members := false, 0
	for _, g := range a.Results {
		if g.Name != c.cfg.Group {
			continue
		}
		members = len(g.Member)
		for _, m := range g.Member {
			held = held || m.Name == j.object
		}
	}
	if held != (j.op == "block") {
		state := "still holds"
		if !held {
			state = "does not hold"
		}
		return res, connector.Errorf(connector.Unknown, "fortigate.%s %s: answered success, but the group %s %s %s", j.op, j.address, c.cfg.Group, state, j.object)
	}
	res.Outputs = map[string]any{"group": c.cfg.Group, "address": j.address, "object": j.object, "members": members}
	verb := "blocked in"
	if j.op == "unblock" {
		verb = "removed from"
		res.Outputs["object_deleted"] = deleted
	}
	res.Summary = fmt.Sprintf("%s %s the FortiGate address group %s (verified: the group holds %d members)", j.address, verb, c.cfg.Group, members)
	if !deleted {
		res.Summary += "; the address object " + j.object + " is still used elsewhere and was kept"
	}
	res.Undo = c.undo(j)
	return res, nil
}
