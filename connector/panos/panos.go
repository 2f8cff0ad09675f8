// Package panos is the PAN-OS connector: it blocks an address by
// registering, through the User-ID XML API, the tag that a dynamic address
// group matches (a block rule names the group), and reads the address's
// registered tags back to verify. Registering a tag an address holds, or
// unregistering one it lacks, changes nothing (the firewall says "already
// exists, ignore" / "does not exist, ignore unreg", taken as success), so
// every call is safe to repeat.
package panos

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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
const Name = "panos"

// MaxTagTimeout is the longest tag timeout PAN-OS takes (30 days).
const MaxTagTimeout = 2592000

var addressArg = connector.ArgSpec{Type: "string", Required: true, Description: "an IPv4 or IPv6 address"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Blocks addresses on PAN-OS: registers the tag a dynamic address group matches on them (User-ID XML API), verified by reading the registered tags; undone by unregistering it.",
	Operations: map[string]connector.Operation{
		"block": {
			Description: "Register the tag on the address (verified by showing the address's registered tags).",
			Args:        map[string]connector.ArgSpec{"address": addressArg},
			Outputs:     map[string]string{"tag": "the tag", "address": "the address as registered", "tags": "the tags the address holds"},
			Idempotent:  true,
			Reversible:  "unblock",
		},
		"unblock": {
			Description: "Unregister the tag from the address (verified by showing the address's registered tags).",
			Args:        map[string]connector.ArgSpec{"address": addressArg},
			Outputs:     map[string]string{"tag": "the tag", "address": "the address as unregistered", "tags": "the tags the address holds"},
			Idempotent:  true,
		},
	},
}

var (
	tagName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,126}$`)
	vsysName = regexp.MustCompile(`^vsys[0-9]{1,3}$`)
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
		errs = append(errs, errors.New("panos: url is required: the firewall's management interface"))
	}
	if !tagName.MatchString(cfg.Tag) {
		errs = append(errs, fmt.Errorf("panos: tag %q: want the tag a dynamic address group matches (letters, digits, space . _ -; up to 127)", cfg.Tag))
	}
	if cfg.TagTimeout < 0 || cfg.TagTimeout > MaxTagTimeout {
		errs = append(errs, fmt.Errorf("panos: tag_timeout %d: want 0 (none) to %d seconds", cfg.TagTimeout, MaxTagTimeout))
	}
	if cfg.Vsys != "" && !vsysName.MatchString(cfg.Vsys) {
		errs = append(errs, fmt.Errorf("panos: vsys %q: want vsys1, vsys2 and so on", cfg.Vsys))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	api, err := cfg.Client(Name, "", cfg.APIKey)
	if err != nil {
		return nil, err
	}
	// The key goes in a header, never in the URL (PAN-OS 9.0+), so
	// web server logs and traces do not hold it.
	api.Auth = func(h http.Header, v string) { h.Set("X-PAN-KEY", strings.TrimSpace(v)) }
	api.Header = http.Header{"Accept": {"application/xml"}}
	api.ErrMessage = func(b []byte) string { return strings.Join(parse(b).msgs, "; ") }
	return &Connector{cfg: cfg, api: api}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

// Address is the form PAN-OS registers: one address, unmapped; a
// single-address CIDR is the address. Networks are refused: the
// registered-IP table holds addresses.
func Address(s string) (string, error) {
	if p, err := netip.ParsePrefix(s); err == nil && p.IsSingleIP() {
		s = p.Addr().String()
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("address %q is not an IP address (PAN-OS registers single addresses)", s)
	}
	return a.Unmap().String(), nil
}

// The User-ID message (uid-message version 2.0).
type (
	uidMessage struct {
		XMLName xml.Name `xml:"uid-message"`
		Version string   `xml:"version"`
		Type    string   `xml:"type"`
		Payload payload  `xml:"payload"`
	}
	payload struct {
		Register   *entries `xml:"register,omitempty"`
		Unregister *entries `xml:"unregister,omitempty"`
	}
	entries struct {
		Entry []entry `xml:"entry"`
	}
	entry struct {
		IP  string `xml:"ip,attr"`
		Tag struct {
			Member []member `xml:"member"`
		} `xml:"tag"`
	}
	member struct {
		Timeout string `xml:"timeout,attr,omitempty"`
		Name    string `xml:",chardata"`
	}
)

// showRegistered is the operational command listing an address's tags.
type showRegistered struct {
	XMLName xml.Name `xml:"show"`
	IP      string   `xml:"object>registered-ip>ip"`
}

// Message is the uid-message that registers (or unregisters) tag on
// addr; timeout 0 leaves the attribute out.
func Message(op, addr, tag string, timeout int) (string, error) {
	e := entry{IP: addr}
	m := member{Name: tag}
	if timeout > 0 && op == "register" {
		m.Timeout = strconv.Itoa(timeout)
	}
	e.Tag.Member = []member{m}
	msg := uidMessage{Version: "2.0", Type: "update"}
	list := &entries{Entry: []entry{e}}
	if op == "register" {
		msg.Payload.Register = list
	} else {
		msg.Payload.Unregister = list
	}
	b, err := xml.Marshal(msg)
	return string(b), err
}

type job struct {
	op      string
	address string
	change  apiclient.Request
	show    apiclient.Request
}

func (c *Connector) query(typ string) url.Values {
	q := url.Values{"type": {typ}}
	if c.cfg.Vsys != "" {
		q.Set("vsys", c.cfg.Vsys)
	}
	return q
}

func (c *Connector) prepare(call connector.Call) (*job, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "panos: unknown operation %q (want block or unblock)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	addr, err := Address(apiclient.Text(call.Args, "address", 64))
	if err != nil {
		return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
	}
	verb := "register"
	if call.Operation == "unblock" {
		verb = "unregister"
	}
	msg, err := Message(verb, addr, c.cfg.Tag, c.cfg.TagTimeout)
	if err != nil {
		return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
	}
	show, err := xml.Marshal(showRegistered{IP: addr})
	if err != nil {
		return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
	}
	path := []string{"api", ""}
	return &job{op: call.Operation, address: addr,
		// Setting a tag is idempotent: a repeat after a lost answer
		// is at worst "already exists, ignore".
		change: apiclient.Request{Method: http.MethodPost, Path: path, Query: c.query("user-id"), Form: url.Values{"cmd": {msg}}, Retry: true},
		show:   apiclient.Request{Method: http.MethodPost, Path: path, Query: c.query("op"), Form: url.Values{"cmd": {string(show)}}, Retry: true},
	}, nil
}

func (c *Connector) undo(j *job) *connector.Undo {
	if j.op != "block" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "unblock", Args: map[string]any{"address": j.address},
		Summary: "unregister the PAN-OS tag " + c.cfg.Tag + " from " + j.address}
}

// Simulate validates the call and returns the requests Execute would
// send; it reads no secret and sends nothing.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{
		Summary:  fmt.Sprintf("would %s %s with the PAN-OS tag %s and read its tags back", j.op, j.address, c.cfg.Tag),
		Commands: []string{c.api.Line(j.change), c.api.Line(j.show)},
		Outputs:  map[string]any{"tag": c.cfg.Tag, "address": j.address},
		Undo:     c.undo(j),
	}, nil
}

// answer is what the XML API answers: its status, its messages (msg and
// line text, entries' message attributes) and registered-ip entries.
type answer struct {
	status string
	msgs   []string
	tags   map[string][]string
	bad    bool
}

// parse reads an XML API answer without trusting its shape: messages
// are found wherever they are nested (the User-ID API puts them in
// entry attributes inside msg/line/uid-response).
func parse(b []byte) answer {
	a := answer{tags: map[string][]string{}}
	d := xml.NewDecoder(bytes.NewReader(b))
	var stack []string
	var text strings.Builder
	ip := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			a.bad = true
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			text.Reset()
			for _, at := range t.Attr {
				switch {
				case t.Name.Local == "response" && at.Name.Local == "status":
					a.status = at.Value
				case at.Name.Local == "message" && len(a.msgs) < 8:
					a.msgs = append(a.msgs, limit.Text(at.Value, 256))
				case t.Name.Local == "entry" && at.Name.Local == "ip" && len(stack) == 3 && stack[1] == "result":
					ip = at.Value
					a.tags[ip] = a.tags[ip][:0:0]
				}
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			s := strings.TrimSpace(text.String())
			text.Reset()
			// Text is read from msg and line only: a uid-response
			// nested in them has its own version and payload.
			inMsg := t.Name.Local == "msg" || t.Name.Local == "line"
			switch {
			case t.Name.Local == "member" && ip != "" && len(stack) == 5 && stack[3] == "tag":
				a.tags[ip] = append(a.tags[ip], s)
			case inMsg && s != "" && len(a.msgs) < 8:
				a.msgs = append(a.msgs, limit.Text(s, 256))
			case t.Name.Local == "entry" && len(stack) == 3:
				ip = ""
			}
			stack = stack[:len(stack)-1]
		}
	}
	if a.status == "" {
		a.bad = true
	}
	return a
}

// ignorable reports whether an error answer only says the change was
// already there: every message ends as PAN-OS words a no-op.
func ignorable(a answer, op string) bool {
	suffix := "already exists, ignore"
	if op == "unblock" {
		suffix = "does not exist, ignore unreg"
	}
	n := 0
	for _, m := range a.msgs {
		if !strings.HasSuffix(m, suffix) {
			return false
		}
		n++
	}
	return n > 0
}

// send posts r and reads the answer; status="error" (with HTTP 200) is a
// permanent failure carrying the firewall's messages unless ok accepts it.
func (c *Connector) send(ctx context.Context, r apiclient.Request, ok func(answer) bool) (answer, error) {
	resp, err := c.api.Do(ctx, r, nil)
	if err != nil {
		return answer{}, err
	}
	a := parse(resp.Body)
	switch {
	case a.bad:
		return a, connector.Errorf(connector.Unknown, "answered %d with a body that is not a PAN-OS XML API response", resp.Status)
	case a.status == "success":
		return a, nil
	case a.status == "error" && ok != nil && ok(a):
		return a, nil
	}
	msg := strings.Join(a.msgs, "; ")
	if msg == "" {
		msg = "no message"
	}
	return a, connector.Errorf(connector.Permanent, "PAN-OS answered status %q: %s", limit.Text(a.status, 32), limit.Text(msg, 512))
}

// Execute registers or unregisters the tag, then shows the address's
// tags to verify.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	res := connector.Result{Commands: []string{c.api.Line(j.change), c.api.Line(j.show)}}
	if _, err := c.send(ctx, j.change, func(a answer) bool { return ignorable(a, j.op) }); err != nil {
		return res, fmt.Errorf("panos.%s %s: %w", j.op, j.address, err)
	}
	a, err := c.send(ctx, j.show, nil)
	if err != nil {
		return res, fmt.Errorf("panos.%s %s: changed, but reading the registered tags back failed: %w", j.op, j.address, err)
	}
	tags := a.tags[j.address]
	held := false
	for _, t := range tags {
		held = held || t == c.cfg.Tag
	}
	if held != (j.op == "block") {
		state := "still holds"
		if !held {
			state = "does not hold"
		}
		return res, connector.Errorf(connector.Unknown, "panos.%s %s: answered success, but the address %s the tag %s", j.op, j.address, state, c.cfg.Tag)
	}
	if tags == nil {
		tags = []string{}
	}
	res.Outputs = map[string]any{"tag": c.cfg.Tag, "address": j.address, "tags": tags}
	verb := "tagged"
	if j.op == "unblock" {
		verb = "untagged"
	}
	res.Summary = fmt.Sprintf("%s %s %s on PAN-OS (verified: it holds %d tags)", j.address, verb, c.cfg.Tag, len(tags))
	res.Undo = c.undo(j)
	return res, nil
}
