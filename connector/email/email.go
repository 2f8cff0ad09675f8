// Package email is the email connector: a playbook step sends one
// plain-text mail to recipients it names (each checked, and limited to the
// configured allowlist), through the notify email channel (package
// notify/email: SMTP with STARTTLS or implicit TLS, AUTH PLAIN, headers
// written by the channel alone, every value stripped of line breaks).
//
// Delivery is at least once: repeats of a sent call (same idempotency key)
// are dropped in memory, so after a restart a repeat may mail again.
package email

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"unicode"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/notify/channel"
	"github.com/riposte-soar/riposte/notify/email"
)

// Name is the connector's name in playbooks.
const Name = "email"

// Templates render a step's mail: the subject, then each line of text and
// the incident. Values arrive with control characters and line breaks
// removed (email.Escaper), and the channel writes every header itself.
const (
	SubjectTemplate = `{{.First.Incident.Title}}`
	BodyTemplate    = `{{range .Messages}}{{.Text}}
{{end}}{{with .First.Incident.ID}}
Incident: {{.}}
{{end}}`
)

var spec = connector.Spec{
	Name:        Name,
	Description: "Sends a plain-text mail over the configured SMTP server to checked recipients (limited to the allowlist when one is configured).",
	Operations: map[string]connector.Operation{
		"send": {
			Description: "Mail subject and text to the recipients. Repeats with the same idempotency key are dropped (in memory: at least once across restarts).",
			Args: map[string]connector.ArgSpec{
				"to":       {Type: "strings", Description: "recipient addresses (default: smtp.to); each must be in allow when it is set; at most 50"},
				"subject":  {Type: "string", Required: true, Description: "the subject, cut to 200 bytes"},
				"text":     {Type: "string", Required: true, Description: "the body; lines kept, cut to max_text"},
				"incident": {Type: "string", Description: "incident ID shown under the text (default: the incident the run responds to)"},
			},
			Outputs: map[string]string{
				"sent":     "whether the mail was sent (false for a repeat of a sent call)",
				"to":       "the recipients' addresses",
				"subject":  "the subject as given, bounded",
				"incident": "the incident ID shown, if any",
			},
			Idempotent: false,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	cfg      Config
	allow    allowlist
	defaults []*mail.Address
	addr     string
	tmpl     *channel.Template
	subject  *channel.Renderer
	body     *channel.Renderer
	sender   *outbound.Sender
}

// New checks cfg and makes the connector.
func New(cfg Config) (*Connector, error) {
	al, defaults, err := cfg.check()
	if err != nil {
		return nil, err
	}
	c := &Connector{cfg: cfg, allow: al, defaults: defaults, tmpl: &channel.Template{Subject: SubjectTemplate, Body: BodyTemplate},
		sender: cfg.Options.Sender(DefaultTimeout)}
	port := cfg.SMTP.Port
	switch {
	case port == 0 && cfg.SMTP.TLS:
		port = 465
	case port == 0:
		port = 587
	}
	c.addr = net.JoinHostPort(cfg.SMTP.Host, strconv.Itoa(port))
	// The same templates and escaping as the channel, for the dry run.
	if c.subject, err = channel.Compile("subject", SubjectTemplate, email.Escaper); err != nil {
		return nil, err
	}
	if c.body, err = channel.Compile("body", BodyTemplate, email.Escaper); err != nil {
		return nil, err
	}
	return c, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

type job struct {
	to   []string
	m    outbound.Message
	msgs []channel.Message
	ch   *email.Channel
	cmd  string
}

func (j *job) outputs() map[string]any {
	return map[string]any{"to": j.to, "subject": j.m.Title, "incident": j.m.Incident}
}

const what = "email.send"

func (c *Connector) prepare(call connector.Call) (*job, error) {
	if _, err := outbound.CheckCall(spec, call); err != nil {
		return nil, err
	}
	to, err := c.recipients(call.Args["to"])
	if err != nil {
		return nil, outbound.Bad(what, "%v", err)
	}
	m, err := outbound.ReadMessage(call, "subject", c.cfg.MaxText)
	if err != nil {
		return nil, outbound.Bad(what, "%v", err)
	}
	smtp := c.cfg.SMTP
	smtp.To = to
	// Built per call: the recipients are the step's, and the password is
	// read from its variable now (a rotated password needs no restart).
	ch, err := email.New(Name, smtp, c.tmpl)
	if err != nil {
		return nil, outbound.Bad(what, "%s", limit.Text(err.Error(), 512))
	}
	cmd := limit.Text(fmt.Sprintf("smtp %s MAIL FROM:<%s> RCPT TO:<%s> %s", c.addr, fromAddress(smtp.From), strings.Join(to, ">,<"), m.Describe()), limit.Command)
	return &job{to: to, m: m, msgs: m.Messages(), ch: ch, cmd: cmd}, nil
}

func fromAddress(from string) string {
	if a, err := mail.ParseAddress(from); err == nil {
		return a.Address
	}
	return from
}

// recipients checks the to argument, or takes the configured recipients.
// Only bare addresses are kept: a display name from event data has no
// business in a header.
func (c *Connector) recipients(v any) ([]string, error) {
	var list []string
	switch x := v.(type) {
	case []string:
		list = x
	case []any:
		for _, e := range x {
			list = append(list, e.(string)) // CheckArgs made sure
		}
	}
	if len(list) == 0 {
		if len(c.defaults) == 0 {
			return nil, errors.New("to: no recipients (give to, or set smtp.to)")
		}
		out := make([]string, len(c.defaults))
		for i, a := range c.defaults {
			out[i] = a.Address
		}
		return out, nil
	}
	if len(list) > MaxRecipients {
		return nil, fmt.Errorf("to: %d recipients, over the limit of %d", len(list), MaxRecipients)
	}
	seen := map[string]bool{}
	var out []string
	for i, s := range list {
		if len(s) > maxAddress {
			return nil, fmt.Errorf("to[%d] is %d bytes, over the limit of %d", i, len(s), maxAddress)
		}
		if strings.ContainsFunc(s, unicode.IsControl) {
			return nil, fmt.Errorf("to[%d] %q contains a control character or line break", i, limit.Text(s, 64))
		}
		a, err := mail.ParseAddress(s)
		if err != nil || strings.ContainsFunc(a.Address, unicode.IsSpace) {
			return nil, fmt.Errorf("to[%d] %q is not an email address", i, limit.Text(s, 64))
		}
		if !c.allow.allows(a.Address) {
			return nil, fmt.Errorf("to[%d] %s is not allowed (see connectors.email.allow)", i, a.Address)
		}
		if k := strings.ToLower(a.Address); !seen[k] {
			seen[k] = true
			out = append(out, a.Address)
		}
	}
	return out, nil
}

// Simulate validates the call (recipients, allowlist, SMTP configuration
// and password variable) and returns the subject and body as the channel
// renders them, without connecting.
func (c *Connector) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	subject, err := c.subject.Render(Name, j.msgs)
	if err != nil {
		return connector.Result{}, outbound.Bad(what, "subject: %v", err)
	}
	body, err := c.body.Render(Name, j.msgs)
	if err != nil {
		return connector.Result{}, outbound.Bad(what, "body: %v", err)
	}
	out := j.outputs()
	out["from"] = c.cfg.SMTP.From
	out["rendered_subject"] = strings.TrimSpace(subject)
	out["body"] = body
	return outbound.Simulated(j.cmd, out), nil
}

// Execute sends the mail, once per idempotency key.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return c.sender.Send(ctx, call.IdempotencyKey, j.cmd, j.outputs(), func(ctx context.Context) error {
		return classify(j.ch.Send(ctx, j.msgs))
	})
}

// classify maps the channel's errors to the connector's classes. The
// channel marks SMTP 5xx answers and configuration mismatches permanent
// and the rest transient; a failure in its DATA step that is not an SMTP
// answer (the connection broke or timed out while the mail was being
// handed over or its acceptance awaited) may have delivered the mail: an
// unknown outcome. The channel names its SMTP steps in its errors
// ("smtp host:port: DATA: ..."); TestErrorClasses pins that.
func classify(err error) error {
	if err == nil {
		return nil
	}
	msg := limit.Text(err.Error(), 512)
	var te *textproto.Error
	switch {
	case channel.IsPermanent(err):
		return connector.Errorf(connector.Permanent, "%s: %s", what, msg)
	case errors.As(err, &te):
		return connector.Errorf(connector.Transient, "%s: %s", what, msg)
	case strings.Contains(err.Error(), ": DATA: "):
		return connector.Errorf(connector.Unknown, "%s: %s: the mail may have been delivered", what, msg)
	}
	return connector.Errorf(connector.Transient, "%s: %s", what, msg)
}
