// Package pagerduty is the PagerDuty connector: it pages through the
// Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/),
// one alert per Riposte incident. The dedup_key "riposte-<incident>"
// makes every send idempotent at PagerDuty: a retried trigger adds to the
// same alert, and acknowledge and resolve find it by the same key.
package pagerduty

import (
	"context"
	"fmt"
	"maps"
	"net/http"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "pagerduty"

var incidentArg = connector.ArgSpec{Type: "string", Description: "the Riposte incident (default: the run's)"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Pages through PagerDuty's Events API v2: one alert per Riposte incident (dedup_key riposte-<incident>), acknowledged and resolved as the incident moves.",
	Operations: map[string]connector.Operation{
		"open": {
			Description: "Trigger the incident's PagerDuty alert (a repeat adds to the same alert).",
			Args: map[string]connector.ArgSpec{
				"incident":  incidentArg,
				"title":     {Type: "string", Required: true, Description: "payload.summary (cut to 1024 bytes)"},
				"priority":  {Type: "string", Description: "P1 (critical), P2 (error), P3 (warning, default), P4 (info)"},
				"source":    {Type: "string", Description: "payload.source: the affected system (default: the config's source)"},
				"component": {Type: "string", Description: "payload.component"},
				"group":     {Type: "string", Description: "payload.group"},
				"class":     {Type: "string", Description: "payload.class"},
				"details":   {Type: "map", Description: "added to payload.custom_details"},
			},
			Outputs:    map[string]string{"dedup_key": "the alert's key at PagerDuty", "status": "PagerDuty's answer status", "message": "PagerDuty's answer message"},
			Idempotent: true,
			Reversible: "close",
		},
		"update": {
			Description: "Follow the Riposte incident's status: new triggers again, triaged/contained/eradicated acknowledge, recovered/closed resolve.",
			Args: map[string]connector.ArgSpec{
				"incident": incidentArg,
				"status":   {Type: "string", Required: true, Description: "the Riposte incident's status"},
				"title":    {Type: "string", Description: "payload.summary, required when status is new"},
				"priority": {Type: "string", Description: "P1..P4, when status is new"},
				"source":   {Type: "string", Description: "payload.source, when status is new"},
			},
			Outputs:    map[string]string{"dedup_key": "the alert's key", "event_action": "trigger, acknowledge or resolve", "status": "PagerDuty's answer status"},
			Idempotent: true,
		},
		"close": {
			Description: "Resolve the incident's PagerDuty alert.",
			Args:        map[string]connector.ArgSpec{"incident": incidentArg},
			Outputs:     map[string]string{"dedup_key": "the alert's key", "status": "PagerDuty's answer status"},
			Idempotent:  true,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	cfg Config
	api *apiclient.Client
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	api, err := cfg.Client(Name, DefaultURL, cfg.RoutingKey)
	if err != nil {
		return nil, err
	}
	// The key travels in the body, not in a header.
	api.SecretField = "routing_key"
	api.ErrMessage = func(b []byte) string { return apiclient.JSONField(b, "message", "errors") }
	if cfg.Source == "" {
		cfg.Source = "riposte"
	}
	return &Connector{cfg: cfg, api: api}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

var severities = map[int]string{1: "critical", 2: "error", 3: "warning", 4: "info"}

// DedupKey is the alert key of a Riposte incident.
func DedupKey(incident string) string { return "riposte-" + incident }

type job struct {
	op, incident, action string
	req                  apiclient.Request
}

func (c *Connector) prepare(call connector.Call) (*job, error) {
	op, ok := spec.Operations[call.Operation]
	what := Name + "." + call.Operation
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "pagerduty: unknown operation %q (want open, update or close)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	inc, err := apiclient.Incident(what, call)
	if err != nil {
		return nil, err
	}
	j := &job{op: call.Operation, incident: inc, action: "resolve"}
	if call.Operation == "update" {
		st, err := apiclient.Status(what, call.Args)
		if err != nil {
			return nil, err
		}
		switch st {
		case "new":
			j.action = "trigger"
		case "triaged", "contained", "eradicated":
			j.action = "acknowledge"
		}
	}
	if call.Operation == "open" {
		j.action = "trigger"
	}
	body := map[string]any{"event_action": j.action, "dedup_key": DedupKey(inc)}
	if j.action == "trigger" {
		if body["payload"], body["links"], err = c.payload(what, inc, call.Args); err != nil {
			return nil, err
		}
		body["client"] = "Riposte"
		if link := apiclient.Link(c.cfg.RiposteURL, inc); link != "" {
			body["client_url"] = link
		}
	}
	j.req = apiclient.Request{Method: http.MethodPost, Path: []string{"v2", "enqueue"}, Body: body, Retry: true}
	return j, nil
}

func (c *Connector) payload(what, inc string, args map[string]any) (map[string]any, []map[string]any, error) {
	title := apiclient.Text(args, "title", 1024)
	if title == "" {
		return nil, nil, connector.Errorf(connector.Permanent, "%s: title is required to trigger", what)
	}
	prio, err := apiclient.Priority(what, args)
	if err != nil {
		return nil, nil, err
	}
	src := apiclient.Text(args, "source", 255)
	if src == "" {
		src = c.cfg.Source
	}
	details := map[string]any{}
	if d, ok := args["details"].(map[string]any); ok {
		maps.Copy(details, d)
	}
	details["riposte_incident"] = inc
	details["priority"] = fmt.Sprintf("P%d", prio)
	p := map[string]any{"summary": title, "source": src, "severity": severities[prio], "custom_details": details}
	for _, k := range []string{"component", "group", "class"} {
		if v := apiclient.Text(args, k, 255); v != "" {
			p[k] = v
		}
	}
	var links []map[string]any
	if link := apiclient.Link(c.cfg.RiposteURL, inc); link != "" {
		details["link"] = link
		links = []map[string]any{{"href": link, "text": "Riposte incident " + inc}}
	}
	return p, links, nil
}

func (c *Connector) undo(j *job) *connector.Undo {
	if j.op != "open" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "close", Args: map[string]any{"incident": j.incident},
		Summary: "resolve the PagerDuty alert " + DedupKey(j.incident)}
}

// Simulate validates the call and returns the request Execute would send,
// the routing key shown by reference.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{
		Summary:  fmt.Sprintf("would send a PagerDuty %s event for %s", j.action, DedupKey(j.incident)),
		Commands: []string{c.api.Line(j.req)},
		Outputs:  map[string]any{"dedup_key": DedupKey(j.incident), "event_action": j.action},
		Undo:     c.undo(j),
	}, nil
}

// Execute sends the event and checks PagerDuty's answer names the same
// alert.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	res := connector.Result{Commands: []string{c.api.Line(j.req)}}
	var ans struct {
		Status   string `json:"status"`
		Message  string `json:"message"`
		DedupKey string `json:"dedup_key"`
	}
	if _, err := c.api.Do(ctx, j.req, &ans); err != nil {
		return res, fmt.Errorf("pagerduty.%s %s: %w", j.op, DedupKey(j.incident), err)
	}
	key := DedupKey(j.incident)
	if ans.Status != "success" || ans.DedupKey != key {
		return res, connector.Errorf(connector.Unknown, "pagerduty.%s: PagerDuty answered status %q, dedup_key %q (sent %q): %s",
			j.op, limit.Text(ans.Status, 64), limit.Text(ans.DedupKey, 300), key, limit.Text(ans.Message, 256))
	}
	res.Outputs = map[string]any{"dedup_key": key, "event_action": j.action, "status": ans.Status, "message": ans.Message}
	res.Summary = fmt.Sprintf("PagerDuty %s of %s accepted (%s)", j.action, key, limit.Text(ans.Message, 128))
	res.Undo = c.undo(j)
	return res, nil
}
