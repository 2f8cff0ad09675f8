// Package incidentops is the incident connector: playbook steps that work
// an incident the way a person does (status, comment, assign, tag,
// verdict), through the alarm service, so each change lands in the
// incident's timeline and the audit log under the actor
// "playbook:<run id>".
package incidentops

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// SampleConfig is the part of riposte.yaml the incident connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Name is the connector's name in playbooks.
const Name = "incident"

// Limits on what a step may write to an incident.
const (
	// MaxComment is the longest comment kept; longer ones are cut and
	// marked (a comment often quotes event data).
	MaxComment = 16 << 10
	// MaxTags is the most tags one call adds or removes.
	MaxTags = 32
	// MaxTag is the longest tag.
	MaxTag = 128
	// MaxAssignee is the longest assignee name.
	MaxAssignee = 256
	// DefaultRememberKeys is how many comment idempotency keys are kept.
	DefaultRememberKeys = 4096
)

// Incidents is what the connector needs from the alarm stage;
// *alarm.Service implements it.
type Incidents interface {
	Update(ctx context.Context, id string, c alarm.Change, actor string) (*alarm.Incident, error)
}

// Config is the incident connector's configuration.
type Config struct {
	// RememberKeys is how many comment idempotency keys are remembered in
	// memory to drop repeats; 0 means DefaultRememberKeys.
	RememberKeys int `yaml:"remember_keys" json:"remember_keys,omitempty"`
}

// Connector implements connector.Connector.
type Connector struct {
	inc  Incidents
	keys *limit.Keys
}

// New makes the connector over the alarm service.
func New(inc Incidents, cfg Config) *Connector {
	if cfg.RememberKeys <= 0 {
		cfg.RememberKeys = DefaultRememberKeys
	}
	return &Connector{inc: inc, keys: limit.NewKeys(cfg.RememberKeys)}
}

var incidentArg = connector.ArgSpec{Type: "string", Description: "incident ID (default: the incident the run responds to)"}

var outputs = map[string]string{
	"incident": "the incident ID", "status": "its status after the call", "assignee": "its assignee",
	"verdict": "its verdict", "tags": "its tags", "changed": "whether the call changed anything",
}

var spec = connector.Spec{
	Name:        Name,
	Description: "Works an incident: status, comment, assignment, tags, verdict; recorded in its timeline and the audit log.",
	Operations: map[string]connector.Operation{
		"status": {
			Description: "Move the incident to a status (new, triaged, contained, eradicated, recovered, closed).",
			Args: map[string]connector.ArgSpec{
				"status":   {Type: "string", Required: true, Description: "new, triaged, contained, eradicated, recovered or closed"},
				"incident": incidentArg,
			},
			Outputs: outputs, Idempotent: true,
		},
		"comment": {
			Description: "Add a comment to the incident's timeline.",
			Args: map[string]connector.ArgSpec{
				"text":     {Type: "string", Required: true, Description: "the comment (cut to 16 KiB)"},
				"incident": incidentArg,
			},
			Outputs: outputs, Idempotent: false,
		},
		"assign": {
			Description: "Assign the incident (an empty assignee unassigns it).",
			Args: map[string]connector.ArgSpec{
				"assignee": {Type: "string", Required: true, Description: "user name or team; empty to unassign"},
				"incident": incidentArg,
			},
			Outputs: outputs, Idempotent: true,
		},
		"tag": {
			Description: "Add and remove tags.",
			Args: map[string]connector.ArgSpec{
				"add":      {Type: "strings", Description: "tags to add"},
				"remove":   {Type: "strings", Description: "tags to remove"},
				"incident": incidentArg,
			},
			Outputs: outputs, Idempotent: true, Reversible: "tag",
		},
		"verdict": {
			Description: "Record the verdict (true_positive, false_positive, benign).",
			Args: map[string]connector.ArgSpec{
				"verdict":  {Type: "string", Required: true, Description: "true_positive, false_positive or benign"},
				"incident": incidentArg,
			},
			Outputs: outputs, Idempotent: true,
		},
	},
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

// change is a validated call.
type change struct {
	id, actor string
	c         alarm.Change
	cmd       string
}

func bad(op, format string, a ...any) error {
	return connector.Errorf(connector.Permanent, "incident."+op+": "+format, a...)
}

func (c *Connector) prepare(call connector.Call) (*change, error) {
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "incident: unknown operation %q (want status, comment, assign, tag or verdict)", call.Operation)
	}
	name := call.Operation
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("incident.%s: %w", name, err)}
	}
	a := call.Args
	ch := &change{id: call.Incident, actor: "playbook"}
	if call.RunID != "" {
		ch.actor = "playbook:" + call.RunID
	}
	if s, _ := a["incident"].(string); s != "" {
		ch.id = s
	}
	if ch.id == "" {
		return nil, bad(name, "no incident: the run responds to none and no incident argument was given")
	}
	if len(ch.id) > 128 || strings.ContainsFunc(ch.id, unicode.IsControl) {
		return nil, bad(name, "incident %q is not an incident ID", limit.Text(ch.id, 64))
	}
	var what string
	switch name {
	case "status":
		st, err := alarm.ParseStatus(a["status"].(string))
		if err != nil {
			return nil, bad(name, "%s", limit.Text(err.Error(), 256))
		}
		ch.c.Status, what = &st, "status="+string(st)
	case "verdict":
		v, err := alarm.ParseVerdict(a["verdict"].(string))
		if err != nil {
			return nil, bad(name, "%s", limit.Text(err.Error(), 256))
		}
		ch.c.Verdict, what = &v, "verdict="+string(v)
	case "assign":
		who := strings.TrimSpace(a["assignee"].(string))
		if len(who) > MaxAssignee || strings.ContainsFunc(who, unicode.IsControl) {
			return nil, bad(name, "assignee is not a name (at most %d bytes, no control characters)", MaxAssignee)
		}
		ch.c.Assignee, what = &who, fmt.Sprintf("assignee=%q", who)
	case "comment":
		text := limit.Text(a["text"].(string), MaxComment)
		if strings.TrimSpace(text) == "" {
			return nil, bad(name, "the comment is empty")
		}
		ch.c.Comment, what = text, fmt.Sprintf("comment=%q", text)
	case "tag":
		add, err := tags(a["add"])
		if err != nil {
			return nil, bad(name, "add: %v", err)
		}
		del, err := tags(a["remove"])
		if err != nil {
			return nil, bad(name, "remove: %v", err)
		}
		if len(add)+len(del) == 0 {
			return nil, bad(name, "give tags to add or remove")
		}
		ch.c.AddTags, ch.c.DelTags = add, del
		what = fmt.Sprintf("add=%q remove=%q", add, del)
	}
	ch.cmd = limit.Text(fmt.Sprintf("incident.update %s %s actor=%s", ch.id, what, ch.actor), limit.Command)
	return ch, nil
}

func tags(v any) ([]string, error) {
	var out []string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []string:
		out = slices.Clone(x)
	case []any:
		for _, e := range x {
			out = append(out, e.(string)) // CheckArgs made sure
		}
	}
	if len(out) > MaxTags {
		return nil, fmt.Errorf("%d tags, at most %d", len(out), MaxTags)
	}
	for i, t := range out {
		t = strings.TrimSpace(t)
		if t == "" || len(t) > MaxTag || strings.ContainsFunc(t, unicode.IsControl) {
			return nil, fmt.Errorf("tag %q is not a tag (1 to %d bytes, no control characters)", limit.Text(t, 64), MaxTag)
		}
		out[i] = t
	}
	return out, nil
}

// Simulate validates the call and returns the change it would make.
func (c *Connector) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	ch, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{Summary: limit.Text("would "+ch.cmd, limit.Command), Commands: []string{ch.cmd}}, nil
}

// Execute applies the change.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	ch, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	res := connector.Result{Commands: []string{ch.cmd}}
	dedup := call.Operation == "comment" && call.IdempotencyKey != ""
	// Claim the key before writing, so two concurrent retries comment once.
	if dedup && !c.keys.Add(call.IdempotencyKey) {
		res.Summary = "comment already added (same idempotency key): " + ch.id
		res.Outputs = map[string]any{"incident": ch.id, "changed": false}
		return res, nil
	}
	inc, err := c.inc.Update(ctx, ch.id, ch.c, ch.actor)
	if err != nil {
		if dedup && connector.ClassOf(classify(call.Operation, ch.id, err)) != connector.Unknown {
			c.keys.Remove(call.IdempotencyKey) // nothing was written: a retry must write
		}
		return res, classify(call.Operation, ch.id, err)
	}
	tagsCopy := slices.Clone(inc.Tags)
	if tagsCopy == nil {
		tagsCopy = []string{}
	}
	res.Outputs = map[string]any{
		"incident": inc.ID, "status": string(inc.Status), "assignee": inc.Assignee,
		"verdict": string(inc.Verdict), "tags": tagsCopy, "changed": true,
	}
	res.Summary = ch.cmd
	return res, nil
}

func classify(op, id string, err error) error {
	msg := limit.Text(err.Error(), 512)
	switch {
	case errors.Is(err, alarm.ErrNotFound):
		return connector.Errorf(connector.Permanent, "incident.%s: incident %s not found", op, limit.Text(id, 64))
	case errors.Is(err, alarm.ErrMerged):
		return connector.Errorf(connector.Permanent, "incident.%s: %s", op, msg)
	case op == "comment" && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)):
		// The write may have committed as the context ended.
		return connector.Errorf(connector.Unknown, "incident.%s: %s", op, msg)
	}
	// A failed write is rolled back: nothing happened.
	return connector.Errorf(connector.Transient, "incident.%s: %s", op, msg)
}
