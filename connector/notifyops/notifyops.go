// Package notifyops is the notify connector: a playbook step that tells
// people, through the notification dispatcher (package notify) and its
// channels, routes, grouping and rate limits.
//
// Delivery is at least once. The dispatcher queues a message and never
// blocks; the connector remembers the idempotency keys of the messages it
// handed over (a bounded set in memory) and drops a repeat, so a retried
// step does not notify twice. The set does not survive a restart: a step
// retried after one may notify again.
package notifyops

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	"github.com/riposte-soar/riposte/notify"
	"github.com/riposte-soar/riposte/notify/channel"
)

// SampleConfig is the part of riposte.yaml the notify connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Name is the connector's name in playbooks.
const Name = "notify"

const (
	// MaxText is the longest text sent; longer text is cut and marked.
	MaxText = 4 << 10
	// MaxTitle is the longest title sent.
	MaxTitle = 512
	// DefaultRememberKeys is how many idempotency keys are kept.
	DefaultRememberKeys = 4096
)

// Notifier is what the connector needs from the dispatcher;
// *notify.Dispatcher implements it.
type Notifier interface {
	Notify(m notify.Message)
}

// ChannelNotifier is implemented by notifiers that can send a message to
// named channels instead of along the routes. The `channels` argument needs
// it; *notify.Dispatcher does not implement it yet.
type ChannelNotifier interface {
	NotifyChannels(m notify.Message, channels []string) error
}

// Config is the notify connector's configuration.
type Config struct {
	// RememberKeys is how many idempotency keys are remembered in memory
	// to drop repeats; 0 means DefaultRememberKeys.
	RememberKeys int `yaml:"remember_keys" json:"remember_keys,omitempty"`
}

// Connector implements connector.Connector.
type Connector struct {
	n    Notifier
	keys *limit.Keys
	now  func() time.Time
}

// New makes the connector over a notifier.
func New(n Notifier, cfg Config) *Connector {
	if cfg.RememberKeys <= 0 {
		cfg.RememberKeys = DefaultRememberKeys
	}
	return &Connector{n: n, keys: limit.NewKeys(cfg.RememberKeys), now: time.Now}
}

var spec = connector.Spec{
	Name:        Name,
	Description: "Notifies people through the notification channels (routes, grouping and rate limits apply).",
	Operations: map[string]connector.Operation{
		"send": {
			Description: "Send a notification about the incident. Repeats with the same idempotency key are dropped (in memory: at least once across restarts).",
			Args: map[string]connector.ArgSpec{
				"event":    {Type: "string", Required: true, Description: "new, escalated, needs_approval, contained, resolved or sla_breach"},
				"text":     {Type: "string", Description: "the message line (cut to 4 KiB)"},
				"channels": {Type: "strings", Description: "send to these channels instead of along the routes"},
				"priority": {Type: "string", Description: "P1..P4, for routing"},
				"title":    {Type: "string", Description: "the incident's title in the message"},
				"incident": {Type: "string", Description: "incident ID (default: the incident the run responds to)"},
			},
			Outputs:    map[string]string{"sent": "whether the message was handed to the dispatcher (false for a repeat)", "incident": "the incident ID"},
			Idempotent: false,
		},
	},
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

type message struct {
	m        notify.Message
	channels []string
	cmd      string
}

func bad(format string, a ...any) error {
	return connector.Errorf(connector.Permanent, "notify.send: "+format, a...)
}

func (c *Connector) prepare(call connector.Call) (*message, error) {
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "notify: unknown operation %q (want send)", call.Operation)
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("notify.send: %w", err)}
	}
	a := call.Args
	ev := a["event"].(string)
	if !channel.KnownEvent(ev) {
		return nil, bad("event %q is not one of %s", limit.Text(ev, 32), strings.Join(channel.Events, ", "))
	}
	m := notify.Message{Event: ev}
	m.Incident.ID = call.Incident
	if s, _ := a["incident"].(string); s != "" {
		m.Incident.ID = s
	}
	if m.Incident.ID == "" {
		return nil, bad("no incident: the run responds to none and no incident argument was given")
	}
	if len(m.Incident.ID) > 128 || strings.ContainsFunc(m.Incident.ID, unicode.IsControl) {
		return nil, bad("incident %q is not an incident ID", limit.Text(m.Incident.ID, 64))
	}
	if p, _ := a["priority"].(string); p != "" {
		p = strings.ToUpper(p)
		if !slices.Contains([]string{"P1", "P2", "P3", "P4"}, p) {
			return nil, bad("priority %q: want P1, P2, P3 or P4", limit.Text(p, 16))
		}
		m.Incident.Priority = p
	}
	t, _ := a["title"].(string)
	m.Incident.Title = limit.Text(t, MaxTitle)
	t, _ = a["text"].(string)
	m.Text = limit.Text(t, MaxText)
	var chans []string
	switch x := a["channels"].(type) {
	case []string:
		chans = slices.Clone(x)
	case []any:
		for _, e := range x {
			chans = append(chans, e.(string))
		}
	}
	for _, ch := range chans {
		if ch == "" || len(ch) > 64 || strings.ContainsFunc(ch, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return nil, bad("channel %q is not a channel name", limit.Text(ch, 64))
		}
	}
	if len(chans) > 0 {
		if _, ok := c.n.(ChannelNotifier); !ok {
			return nil, bad("this notifier cannot send to named channels: leave channels out and use the routes")
		}
	}
	to := "routes"
	if len(chans) > 0 {
		to = strings.Join(chans, ",")
	}
	cmd := limit.Text(fmt.Sprintf("notify %s incident=%s priority=%s to=%s text=%q", ev, m.Incident.ID, m.Incident.Priority, to, m.Text), limit.Command)
	return &message{m: m, channels: chans, cmd: cmd}, nil
}

// Simulate validates the call and returns the message it would send.
func (c *Connector) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	msg, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{Summary: limit.Text("would "+msg.cmd, limit.Command), Commands: []string{msg.cmd}}, nil
}

// Execute hands the message to the dispatcher, once per idempotency key.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	msg, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	res := connector.Result{Commands: []string{msg.cmd}}
	// Claim the key before sending, so two concurrent retries send once.
	if call.IdempotencyKey != "" && !c.keys.Add(call.IdempotencyKey) {
		res.Summary = "already sent (same idempotency key): " + msg.m.Event + " " + msg.m.Incident.ID
		res.Outputs = map[string]any{"sent": false, "incident": msg.m.Incident.ID}
		return res, nil
	}
	msg.m.Time = c.now()
	if len(msg.channels) > 0 {
		if err := c.n.(ChannelNotifier).NotifyChannels(msg.m, msg.channels); err != nil {
			c.keys.Remove(call.IdempotencyKey)
			return res, connector.Errorf(connector.Permanent, "notify.send: %s", limit.Text(err.Error(), 512))
		}
	} else {
		c.n.Notify(msg.m)
	}
	res.Summary = msg.cmd
	res.Outputs = map[string]any{"sent": true, "incident": msg.m.Incident.ID}
	return res, nil
}
