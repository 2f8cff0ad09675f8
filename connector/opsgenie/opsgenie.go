// Package opsgenie is the Opsgenie connector: it pages through the Alert
// API v2 (https://docs.opsgenie.com/docs/alert-api), one alert per Riposte
// incident under the alias "riposte-<incident>". Opsgenie deduplicates
// alerts by alias (a repeated create raises the count of the open alert),
// and notes, acknowledge and close address the alert by that alias, so
// every call is safe to repeat. Opsgenie processes requests
// asynchronously; each one is checked through its request status.
package opsgenie

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "opsgenie"

var incidentArg = connector.ArgSpec{Type: "string", Description: "the Riposte incident (default: the run's)"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Pages through Opsgenie's Alert API: one alert per Riposte incident (alias riposte-<incident>), noted, acknowledged and closed as the incident moves; each request checked through its request status.",
	Operations: map[string]connector.Operation{
		"open": {
			Description: "Create the incident's Opsgenie alert (a repeat raises the count of the open one).",
			Args: map[string]connector.ArgSpec{
				"incident":    incidentArg,
				"title":       {Type: "string", Required: true, Description: "the alert message (cut to 130 characters)"},
				"description": {Type: "string", Description: "the alert description (cut to 15000 characters)"},
				"priority":    {Type: "string", Description: "P1..P4 (default P3)"},
				"entity":      {Type: "string", Description: "the entity the alert is about (a host)"},
				"tags":        {Type: "strings", Description: "added to the config's tags"},
				"details":     {Type: "map", Description: "custom properties (values as text)"},
			},
			Outputs:    map[string]string{"alias": "the alert's alias", "alert_id": "Opsgenie's alert id", "request_id": "the request's id"},
			Idempotent: true,
			Reversible: "close",
		},
		"update": {
			Description: "Follow the Riposte incident's status: a note, and acknowledge at triaged/contained/eradicated, close at recovered/closed.",
			Args: map[string]connector.ArgSpec{
				"incident": incidentArg,
				"status":   {Type: "string", Description: "the Riposte incident's status"},
				"comment":  {Type: "string", Description: "a note (cut to 25000 characters)"},
			},
			Outputs:    map[string]string{"alias": "the alert's alias", "action": "note, acknowledge or close", "request_id": "the request's id"},
			Idempotent: true,
		},
		"close": {
			Description: "Close the incident's Opsgenie alert.",
			Args: map[string]connector.ArgSpec{
				"incident": incidentArg,
				"comment":  {Type: "string", Description: "the closing note"},
			},
			Outputs:    map[string]string{"alias": "the alert's alias", "request_id": "the request's id"},
			Idempotent: true,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	cfg Config
	api *apiclient.Client
	// poll is the wait between request status checks.
	poll time.Duration
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	api, err := cfg.Client(Name, DefaultURL, cfg.APIKey)
	if err != nil {
		return nil, err
	}
	api.Auth = func(h http.Header, v string) { h.Set("Authorization", "GenieKey "+v) }
	api.ErrMessage = func(b []byte) string { return apiclient.JSONField(b, "message", "errors") }
	return &Connector{cfg: cfg, api: api, poll: 500 * time.Millisecond}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

// Alias is the alert alias of a Riposte incident.
func Alias(incident string) string { return "riposte-" + incident }

type job struct {
	op, incident, action string
	req                  apiclient.Request
}

func (c *Connector) prepare(call connector.Call) (*job, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "opsgenie: unknown operation %q (want open, update or close)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	inc, err := apiclient.Incident(what, call)
	if err != nil {
		return nil, err
	}
	j := &job{op: call.Operation, incident: inc}
	alias := Alias(inc)
	byAlias := url.Values{"identifierType": {"alias"}}
	note := apiclient.Text(call.Args, "comment", 25000)
	switch call.Operation {
	case "open":
		j.action = "create"
		title := apiclient.Text(call.Args, "title", 130)
		if title == "" {
			return nil, connector.Errorf(connector.Permanent, "%s: title is empty", what)
		}
		prio, err := apiclient.Priority(what, call.Args)
		if err != nil {
			return nil, err
		}
		desc := apiclient.Text(call.Args, "description", 14000)
		details := map[string]any{"riposte_incident": inc}
		if link := apiclient.Link(c.cfg.RiposteURL, inc); link != "" {
			details["riposte_link"] = link
			desc = strings.TrimSpace(desc + "\n\nRiposte incident: " + link)
		}
		if d, ok := call.Args["details"].(map[string]any); ok {
			for k, v := range d {
				if k != "" && len(details) < 50 {
					details[limit.Text(k, 128)] = limit.Text(fmt.Sprint(v), 1024)
				}
			}
		}
		tags := slices.Clone(c.cfg.Tags)
		for _, t := range stringsArg(call.Args["tags"]) {
			if t = limit.Text(strings.TrimSpace(t), 50); t != "" && !slices.Contains(tags, t) && len(tags) < 20 {
				tags = append(tags, t)
			}
		}
		body := map[string]any{"message": title, "alias": alias, "description": desc, "priority": fmt.Sprintf("P%d", prio),
			"source": "Riposte", "details": details}
		if len(tags) > 0 {
			body["tags"] = tags
		}
		if e := apiclient.Text(call.Args, "entity", 512); e != "" {
			body["entity"] = e
		}
		if len(c.cfg.Teams) > 0 {
			var rs []map[string]any
			for _, t := range c.cfg.Teams {
				rs = append(rs, map[string]any{"name": t, "type": "team"})
			}
			body["responders"] = rs
		}
		j.req = apiclient.Request{Method: http.MethodPost, Path: []string{"v2", "alerts"}, Body: body, Retry: true}
		return j, nil
	case "update":
		st, err := apiclient.Status(what, call.Args)
		if err != nil {
			return nil, err
		}
		if st == "" && note == "" {
			return nil, connector.Errorf(connector.Permanent, "%s: give a status, a comment or both", what)
		}
		if st != "" {
			note = strings.TrimSpace("Riposte incident " + inc + " is now " + st + ". " + note)
		}
		j.action = "notes"
		switch st {
		case "triaged", "contained", "eradicated":
			j.action = "acknowledge"
		case "recovered", "closed":
			j.action = "close"
		}
	case "close":
		j.action = "close"
		if note == "" {
			note = "Closed by Riposte: incident " + inc + " is resolved."
		}
	}
	j.req = apiclient.Request{Method: http.MethodPost, Path: []string{"v2", "alerts", alias, j.action}, Query: byAlias,
		Body: map[string]any{"user": "Riposte", "source": "Riposte", "note": note}, Retry: true}
	return j, nil
}

func stringsArg(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (c *Connector) undo(j *job) *connector.Undo {
	if j.op != "open" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "close", Args: map[string]any{"incident": j.incident},
		Summary: "close the Opsgenie alert " + Alias(j.incident)}
}

// Simulate validates the call and returns the request Execute would send;
// it reads no secret and sends nothing.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{
		Summary:  fmt.Sprintf("would %s the Opsgenie alert %s", j.action, Alias(j.incident)),
		Commands: []string{c.api.Line(j.req)},
		Outputs:  map[string]any{"alias": Alias(j.incident), "action": j.action},
		Undo:     c.undo(j),
	}, nil
}

// accepted is Opsgenie's answer to an alert request.
type accepted struct {
	Result    string `json:"result"`
	RequestID string `json:"requestId"`
}

// status is the answer of GET /v2/alerts/requests/{id}.
type status struct {
	Data struct {
		Success   bool   `json:"success"`
		IsSuccess bool   `json:"isSuccess"`
		Action    string `json:"action"`
		Status    string `json:"status"`
		AlertID   string `json:"alertId"`
		Alias     string `json:"alias"`
	} `json:"data"`
}

// Execute sends the request, then reads its status until Opsgenie has
// processed it.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	alias := Alias(j.incident)
	res := connector.Result{Commands: []string{c.api.Line(j.req)}}
	var a accepted
	if _, err := c.api.Do(ctx, j.req, &a); err != nil {
		return res, fmt.Errorf("opsgenie.%s %s: %w", j.op, alias, err)
	}
	if a.RequestID == "" {
		return res, connector.Errorf(connector.Unknown, "opsgenie.%s %s: accepted without a requestId (%s)", j.op, alias, limit.Text(a.Result, 128))
	}
	st, err := c.processed(ctx, a.RequestID)
	if err != nil {
		return res, fmt.Errorf("opsgenie.%s %s: request %s accepted, its status unknown: %w", j.op, alias, a.RequestID, err)
	}
	if !st.Data.IsSuccess {
		return res, connector.Errorf(connector.Permanent, "opsgenie.%s %s: Opsgenie processed request %s and failed it: %s",
			j.op, alias, a.RequestID, limit.Text(st.Data.Status, 256))
	}
	res.Outputs = map[string]any{"alias": alias, "action": j.action, "request_id": a.RequestID, "alert_id": st.Data.AlertID}
	res.Summary = fmt.Sprintf("Opsgenie %s of alert %s: %s (checked through request %s)", j.action, alias, limit.Text(st.Data.Status, 128), a.RequestID)
	res.Undo = c.undo(j)
	return res, nil
}

// processed reads a request's status, waiting while Opsgenie answers 404
// ("might not be processed, yet").
func (c *Connector) processed(ctx context.Context, id string) (*status, error) {
	req := apiclient.Request{Method: http.MethodGet, Path: []string{"v2", "alerts", "requests", id}, Retry: true}
	var err error
	for range 10 {
		var st status
		if _, err = c.api.Do(ctx, req, &st); err == nil {
			return &st, nil
		}
		if !apiclient.IsStatus(err, http.StatusNotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, connector.Errorf(connector.Unknown, "%v", ctx.Err())
		case <-time.After(c.poll):
		}
	}
	return nil, &connector.Error{Class: connector.Unknown, Err: err}
}
