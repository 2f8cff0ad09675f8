package notify

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/riposte-soar/riposte/notify/channel"
	"github.com/riposte-soar/riposte/notify/email"
	"github.com/riposte-soar/riposte/notify/slack"
	"github.com/riposte-soar/riposte/notify/teams"
	"github.com/riposte-soar/riposte/notify/webhook"
)

// The types channels share, under the names callers use.
type (
	// Message is one notification about an incident.
	Message = channel.Message
	// Incident is what a Message says about its incident.
	Incident = channel.Incident
	// Collapsed describes a summary of messages folded on queue overflow.
	Collapsed = channel.Collapsed
	// Channel sends messages somewhere.
	Channel = channel.Channel
	// Template holds a channel's optional templates.
	Template = channel.Template
	// HookConfig is an incoming-webhook address (Slack, Teams).
	HookConfig = channel.HookConfig
	// EmailConfig configures an email channel.
	EmailConfig = email.Config
	// WebhookConfig configures a generic webhook channel.
	WebhookConfig = webhook.Config
)

// Events a Message can be about.
const (
	EventNew           = channel.EventNew
	EventEscalated     = channel.EventEscalated
	EventNeedsApproval = channel.EventNeedsApproval
	EventContained     = channel.EventContained
	EventResolved      = channel.EventResolved
	EventSLABreach     = channel.EventSLABreach
	EventSummary       = channel.EventSummary
)

// Channel types.
const (
	TypeEmail   = "email"
	TypeWebhook = "webhook"
	TypeSlack   = "slack"
	TypeTeams   = "teams"
	// TypeCustom is a channel built in code and passed in
	// ChannelConfig.Channel.
	TypeCustom = "custom"
)

// ChannelConfig is one configured channel.
type ChannelConfig struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"` // email, webhook, slack, teams (or custom)
	// Exactly the block matching Type is set.
	Email    *EmailConfig   `yaml:"email"`
	Webhook  *WebhookConfig `yaml:"webhook"`
	Slack    *HookConfig    `yaml:"slack"`
	Teams    *HookConfig    `yaml:"teams"`
	Template *Template      `yaml:"template"`

	RateLimit Rate        `yaml:"rate_limit"`
	Group     GroupConfig `yaml:"group"`
	Retry     RetryConfig `yaml:"retry"`
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// QueueMax bounds the messages waiting for this channel (default
	// 1000); beyond it the oldest, least urgent are collapsed into a
	// summary.
	QueueMax int `yaml:"queue_max"`

	// Channel is a channel built in code, for Type custom.
	Channel Channel `yaml:"-"`
}

// Rate is a token bucket over sends (a digest is one send). Zero PerMinute
// means no limit. When the bucket is empty, messages wait and are grouped;
// they are never dropped.
type Rate struct {
	PerMinute int `yaml:"per_minute"`
	Burst     int `yaml:"burst"` // default 1
}

// GroupConfig turns bursts into digests: a send waits until Window after
// the oldest waiting message arrived, then carries up to Max messages.
type GroupConfig struct {
	Window time.Duration `yaml:"window"` // 0: send as soon as possible
	Max    int           `yaml:"max"`    // default 20; 1 sends every message alone
}

// RetryConfig is exponential backoff with jitter for transient failures.
type RetryConfig struct {
	Attempts int           `yaml:"attempts"` // including the first; default 5; 1 disables retries
	Initial  time.Duration `yaml:"initial"`  // default 1s
	Max      time.Duration `yaml:"max"`      // default 1m
}

// Route sends matching messages to channels. Routes are tried in order;
// the first that matches ends the search unless it has Continue. A route
// without channels swallows what it matches (to mute something).
type Route struct {
	Name     string   `yaml:"name"`
	Match    Match    `yaml:"match"`
	Channels []string `yaml:"channels"`
	Continue bool     `yaml:"continue"`
}

// Match selects messages. Each list matches when any of its entries does;
// an empty list matches anything; all lists must match. Priorities compare
// without case. Owners and Tags compare without case and may be patterns
// (* ? [a-z], as in path.Match): "attack.*", "team-*".
type Match struct {
	Events     []string `yaml:"events"`
	Priorities []string `yaml:"priorities"`
	Owners     []string `yaml:"owners"`
	Tags       []string `yaml:"tags"`
}

// Defaults.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultQueueMax      = 1000
	DefaultGroupMax      = 20
	DefaultRetryAttempts = 5
	DefaultRetryInitial  = time.Second
	DefaultRetryMax      = time.Minute
	// MaxRetryAfter caps how long a receiver's Retry-After can hold a
	// channel.
	MaxRetryAfter = 10 * time.Minute
)

// settings are a channel's resolved options.
type settings struct {
	timeout  time.Duration
	queueMax int
	window   time.Duration
	max      int
	retry    RetryConfig
	perMin   int
	burst    int
}

func (c ChannelConfig) settings() (settings, []error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	s := settings{
		timeout: c.Timeout, queueMax: c.QueueMax, window: c.Group.Window, max: c.Group.Max,
		retry: c.Retry, perMin: c.RateLimit.PerMinute, burst: c.RateLimit.Burst,
	}
	def := func(v *int, d int, name string) {
		if *v < 0 {
			bad("%s must not be negative", name)
		}
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration, name string) {
		if *v < 0 {
			bad("%s must not be negative", name)
		}
		if *v <= 0 {
			*v = d
		}
	}
	defD(&s.timeout, DefaultTimeout, "timeout")
	def(&s.queueMax, DefaultQueueMax, "queue_max")
	def(&s.max, DefaultGroupMax, "group.max")
	def(&s.retry.Attempts, DefaultRetryAttempts, "retry.attempts")
	defD(&s.retry.Initial, DefaultRetryInitial, "retry.initial")
	defD(&s.retry.Max, DefaultRetryMax, "retry.max")
	def(&s.burst, 1, "rate_limit.burst")
	if s.window < 0 {
		bad("group.window must not be negative")
	}
	if s.perMin < 0 {
		bad("rate_limit.per_minute must not be negative")
	}
	if s.retry.Max < s.retry.Initial {
		bad("retry.max (%s) is less than retry.initial (%s)", s.retry.Max, s.retry.Initial)
	}
	if s.queueMax < s.max {
		bad("queue_max (%d) is less than group.max (%d)", s.queueMax, s.max)
	}
	return s, errs
}

// build makes the channel c describes.
func (c ChannelConfig) build() (Channel, []error) {
	blocks := map[string]bool{
		TypeEmail: c.Email != nil, TypeWebhook: c.Webhook != nil, TypeSlack: c.Slack != nil,
		TypeTeams: c.Teams != nil, TypeCustom: c.Channel != nil,
	}
	var errs []error
	for _, t := range []string{TypeEmail, TypeWebhook, TypeSlack, TypeTeams} {
		if blocks[t] && t != c.Type {
			errs = append(errs, fmt.Errorf("has a %s block but type %q", t, c.Type))
		}
	}
	if c.Channel != nil && c.Type != TypeCustom {
		errs = append(errs, fmt.Errorf("has a Channel built in code but type %q (want custom)", c.Type))
	}
	if _, known := blocks[c.Type]; !known {
		return nil, append(errs, fmt.Errorf("type %q: want email, webhook, slack or teams", c.Type))
	}
	if !blocks[c.Type] {
		return nil, append(errs, fmt.Errorf("type %s needs a %s block", c.Type, c.Type))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var (
		ch  Channel
		err error
	)
	switch c.Type {
	case TypeEmail:
		ch, err = email.New(c.Name, *c.Email, c.Template)
	case TypeWebhook:
		ch, err = webhook.New(c.Name, *c.Webhook, c.Template)
	case TypeSlack:
		ch, err = slack.New(c.Name, *c.Slack, c.Template)
	case TypeTeams:
		ch, err = teams.New(c.Name, *c.Teams, c.Template)
	case TypeCustom:
		ch = c.Channel
	}
	if err != nil {
		return nil, flatten(err)
	}
	return ch, nil
}

// flatten lists the errors inside a joined error.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func validName(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// prefixed prefixes every error with what it is about.
func prefixed(what string, errs []error) []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = fmt.Errorf("notify: %s: %w", what, e)
	}
	return out
}

var errNoName = errors.New("name is required (no spaces)")

// SampleConfig is an example of the notify section of riposte.yaml.
//
//go:embed sample.conf
var SampleConfig string
