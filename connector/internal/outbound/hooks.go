package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	"github.com/riposte-soar/riposte/notify/channel"
)

// DefaultHookTimeout bounds one post to an incoming webhook.
const DefaultHookTimeout = 10 * time.Second

// HookConfig configures a connector over incoming webhooks (slack, teams).
type HookConfig struct {
	// Channels are the webhooks steps may post to, by the name steps use.
	// Each is url (not secret) or url_env (the environment variable
	// holding the URL, which is itself the credential).
	Channels map[string]channel.HookConfig `yaml:"channels" json:"channels"`
	Options  `yaml:",inline"`
	// MaxText is the longest text sent; 0 means DefaultMaxText.
	MaxText int `yaml:"max_text" json:"max_text,omitempty"`
}

// Poster is a Slack- or Teams-compatible notification channel.
type Poster interface {
	Send(ctx context.Context, msgs []channel.Message) error
	// Preview renders msgs as the body Send would post.
	Preview(msgs []channel.Message) (any, error)
}

// payloader is a notification channel that renders its payload apart.
type payloader[P any] interface {
	Send(ctx context.Context, msgs []channel.Message) error
	Payload(msgs []channel.Message) (P, error)
}

// Using adapts a notification channel constructor (slack.New, teams.New)
// to HookKind.New: the channel's Payload becomes the dry run's preview.
func Using[C payloader[P], P any](newChannel func(string, channel.HookConfig, *channel.Template) (C, error)) func(string, channel.HookConfig, *channel.Template) (Poster, error) {
	return func(name string, cfg channel.HookConfig, tmpl *channel.Template) (Poster, error) {
		c, err := newChannel(name, cfg, tmpl)
		if err != nil {
			return nil, err
		}
		return previewer[C, P]{c}, nil
	}
}

type previewer[C payloader[P], P any] struct{ c C }

func (p previewer[C, P]) Send(ctx context.Context, msgs []channel.Message) error {
	return p.c.Send(ctx, msgs)
}

func (p previewer[C, P]) Preview(msgs []channel.Message) (any, error) { return p.c.Payload(msgs) }

// HookKind describes one kind of incoming webhook: its connector's name
// and documentation, the template its messages are rendered with, and how
// to build its channel.
type HookKind struct {
	Name         string // the connector's name, also the channel type
	Description  string
	SampleConfig string
	// Template is the channel's template.text for the connector's
	// messages (see Message.Messages for the shape of the data).
	Template string
	New      func(name string, cfg channel.HookConfig, tmpl *channel.Template) (Poster, error)
}

// Hooks is a connector that posts one message per call to a named,
// configured incoming webhook.
type Hooks struct {
	kind    HookKind
	spec    connector.Spec
	chans   map[string]hook
	maxText int
	sender  *Sender
}

type hook struct {
	p     Poster
	where string // the URL without its secret path, or $VARIABLE
}

// NewHooks checks cfg, resolves every webhook (reading url_env now) and
// returns the connector.
func NewHooks(k HookKind, cfg HookConfig) (*Hooks, error) {
	errs := []error{CheckNames(k.Name, cfg.Channels)}
	if cfg.MaxText < 0 {
		errs = append(errs, fmt.Errorf("%s: max_text must not be negative", k.Name))
	}
	h := &Hooks{kind: k, spec: hookSpec(k), chans: map[string]hook{}, maxText: cfg.MaxText, sender: cfg.Options.Sender(DefaultHookTimeout)}
	tmpl := &channel.Template{Text: k.Template}
	for _, n := range slices.Sorted(keys(cfg.Channels)) {
		p, err := k.New(n, cfg.Channels[n], tmpl)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: channels.%s: %w", k.Name, n, err))
			continue
		}
		h.chans[n] = hook{p: p, where: cfg.Channels[n].String()}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return h, nil
}

func hookSpec(k HookKind) connector.Spec {
	return connector.Spec{
		Name:         k.Name,
		Description:  k.Description,
		SampleConfig: k.SampleConfig,
		Operations: map[string]connector.Operation{
			"send": {
				Description: "Post one message to a configured " + k.Name + " webhook, directly (not along the notification routes). Repeats with the same idempotency key are dropped (in memory: at least once across restarts).",
				Args: map[string]connector.ArgSpec{
					"channel":  {Type: "string", Required: true, Description: "name of a webhook in connectors." + k.Name + ".channels"},
					"text":     {Type: "string", Required: true, Description: "the message; lines kept, markup escaped, cut to max_text"},
					"title":    {Type: "string", Description: "heading, cut to 200 bytes"},
					"incident": {Type: "string", Description: "incident ID shown (default: the incident the run responds to)"},
				},
				Outputs: map[string]string{
					"sent":     "whether the message was posted (false for a repeat of a sent call)",
					"channel":  "the webhook's name",
					"incident": "the incident ID shown, if any",
				},
				Idempotent: false,
			},
		},
	}
}

// Spec declares the connector.
func (h *Hooks) Spec() connector.Spec { return h.spec }

type hookJob struct {
	name string
	h    hook
	m    Message
	msgs []channel.Message
	cmd  string
}

func (h *Hooks) prepare(call connector.Call) (*hookJob, error) {
	if _, err := CheckCall(h.spec, call); err != nil {
		return nil, err
	}
	what := h.kind.Name + ".send"
	name, ch, err := Lookup(h.chans, call.Args)
	if err != nil {
		return nil, Bad(what, "%v", err)
	}
	m, err := ReadMessage(call, "title", h.maxText)
	if err != nil {
		return nil, Bad(what, "%v", err)
	}
	cmd := limit.Text(fmt.Sprintf("POST %s (%s channel %s) %s", ch.where, h.kind.Name, name, m.Describe()), limit.Command)
	return &hookJob{name: name, h: ch, m: m, msgs: m.Messages(), cmd: cmd}, nil
}

func (j *hookJob) outputs() map[string]any {
	return map[string]any{"channel": j.name, "incident": j.m.Incident}
}

// Simulate validates the call and returns the payload it would post, as
// the channel renders it, without any network access.
func (h *Hooks) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := h.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	p, err := j.h.p.Preview(j.msgs)
	if err != nil {
		return connector.Result{}, Bad(h.kind.Name+".send", "%s", limit.Text(err.Error(), 512))
	}
	out := j.outputs()
	out["payload"] = jsonValue(p)
	return Simulated(j.cmd, out), nil
}

// Execute posts the message, once per idempotency key.
func (h *Hooks) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := h.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return h.sender.Send(ctx, call.IdempotencyKey, j.cmd, j.outputs(), func(ctx context.Context) error {
		ctx, p := Track(ctx)
		return p.Classify(fmt.Sprintf("%s.send to %s", h.kind.Name, j.name), j.h.p.Send(ctx, j.msgs))
	})
}

// jsonValue turns a payload into plain maps and lists, as outputs are
// stored and shown as JSON.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}
