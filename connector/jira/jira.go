// Package jira is the Jira connector: one issue per Riposte incident,
// through the Jira Cloud platform REST API v3
// (https://developer.atlassian.com/cloud/jira/platform/rest/v3/). The
// issue carries the label "riposte-<incident>"; every operation first
// searches for it, so an open repeated after a crash or an unknown outcome
// finds the issue it made. Descriptions and comments are Atlassian
// Document Format built as data: event text is only ever a text node.
package jira

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "jira"

var incidentArg = connector.ArgSpec{Type: "string", Description: "the Riposte incident (default: the run's)"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Opens, comments, transitions and closes one Jira issue per Riposte incident (label riposte-<incident>), descriptions in Atlassian Document Format.",
	Operations: map[string]connector.Operation{
		"open": {
			Description: "Find the incident's issue by its label, or create it.",
			Args: map[string]connector.ArgSpec{
				"incident":    incidentArg,
				"title":       {Type: "string", Required: true, Description: "the summary (cut to 255 characters)"},
				"description": {Type: "string", Description: "the description, as text"},
				"priority":    {Type: "string", Description: "P1..P4, mapped by the config's priorities"},
				"labels":      {Type: "strings", Description: "more labels (no spaces)"},
			},
			Outputs:    map[string]string{"key": "the issue key (SEC-12)", "id": "the issue id", "created": "false when the issue existed"},
			Idempotent: true,
			Reversible: "close",
		},
		"update": {
			Description: "Comment on the incident's issue and take the transition the config maps its status to.",
			Args: map[string]connector.ArgSpec{
				"incident": incidentArg,
				"status":   {Type: "string", Description: "the Riposte incident's status"},
				"comment":  {Type: "string", Description: "a comment, as text"},
			},
			Outputs:    map[string]string{"key": "the issue key", "transition": "the transition taken"},
			Idempotent: false,
		},
		"close": {
			Description: "Take the close transition of the incident's issue (nothing when it is already done).",
			Args:        map[string]connector.ArgSpec{"incident": incidentArg},
			Outputs:     map[string]string{"key": "the issue key", "transition": "the transition taken"},
			Idempotent:  true,
		},
	},
}

var projectRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,31}$`)

// Connector implements connector.Connector.
type Connector struct {
	cfg Config
	api *apiclient.Client
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("jira: url is required")
	}
	if !projectRE.MatchString(cfg.Project) {
		return nil, fmt.Errorf("jira: project %q is not a project key", cfg.Project)
	}
	api, err := cfg.Client(Name, "", cfg.APIToken)
	if err != nil {
		return nil, err
	}
	if cfg.IssueType == "" {
		cfg.IssueType = "Task"
	}
	if cfg.Priorities == nil {
		cfg.Priorities = map[string]string{"P1": "Highest", "P2": "High", "P3": "Medium", "P4": "Low"}
	}
	if cfg.Transitions == nil {
		cfg.Transitions = map[string]string{"recovered": "Done", "closed": "Done"}
	}
	for st := range cfg.Transitions {
		if !slices.Contains(apiclient.Statuses, st) {
			return nil, fmt.Errorf("jira: transitions: %q is not a Riposte incident status (%s)", st, strings.Join(apiclient.Statuses, ", "))
		}
	}
	if cfg.CloseTransition == "" {
		cfg.CloseTransition = "Done"
	}
	email := cfg.Email
	api.Auth = func(h http.Header, v string) {
		if email != "" {
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(email+":"+v)))
		} else {
			h.Set("Authorization", "Bearer "+v)
		}
	}
	api.ErrMessage = func(b []byte) string { return apiclient.JSONField(b, "errorMessages", "errors", "message") }
	return &Connector{cfg: cfg, api: api}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

// Label is the issue label of a Riposte incident.
func Label(incident string) string { return "riposte-" + incident }

// ADF is an Atlassian Document Format document of plain paragraphs, one
// per line of text, and an optional link paragraph: text only ever goes
// in text nodes, so nothing in it is markup.
func ADF(text, linkText, href string) map[string]any {
	var content []any
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if line = strings.TrimRight(line, " \t"); line == "" {
			continue
		}
		content = append(content, map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": line}}})
	}
	if href != "" {
		content = append(content, map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": linkText,
			"marks": []any{map[string]any{"type": "link", "attrs": map[string]any{"href": href}}}}}})
	}
	if len(content) == 0 {
		content = []any{map[string]any{"type": "paragraph", "content": []any{}}}
	}
	return map[string]any{"type": "doc", "version": 1, "content": content}
}

type plan struct {
	op, incident string
	create       apiclient.Request
	comment      string
	transition   string
}

func (c *Connector) prepare(call connector.Call) (*plan, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "jira: unknown operation %q (want open, update or close)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	inc, err := apiclient.Incident(what, call)
	if err != nil {
		return nil, err
	}
	p := &plan{op: call.Operation, incident: inc}
	switch call.Operation {
	case "open":
		title := strings.Join(strings.Fields(apiclient.Text(call.Args, "title", 255)), " ")
		if title == "" {
			return nil, connector.Errorf(connector.Permanent, "%s: title is empty", what)
		}
		prio, err := apiclient.Priority(what, call.Args)
		if err != nil {
			return nil, err
		}
		labels := []string{"riposte", Label(inc)}
		for _, l := range stringsOf(call.Args["labels"]) {
			if l = strings.TrimSpace(l); l != "" && !strings.ContainsAny(l, " \t\r\n") && len(l) <= 255 && !slices.Contains(labels, l) {
				labels = append(labels, l)
			}
		}
		desc := apiclient.Text(call.Args, "description", 30000)
		desc = strings.TrimSpace(desc + "\nRiposte incident " + inc)
		fields := map[string]any{
			"project": map[string]any{"key": c.cfg.Project}, "issuetype": map[string]any{"name": c.cfg.IssueType},
			"summary": title, "labels": labels,
			"description": ADF(desc, "Open the incident in Riposte", apiclient.Link(c.cfg.RiposteURL, inc)),
		}
		if name := c.cfg.Priorities[fmt.Sprintf("P%d", prio)]; name != "" {
			fields["priority"] = map[string]any{"name": name}
		}
		p.create = apiclient.Request{Method: http.MethodPost, Path: []string{"rest", "api", "3", "issue"}, Body: map[string]any{"fields": fields}}
	case "update":
		st, err := apiclient.Status(what, call.Args)
		if err != nil {
			return nil, err
		}
		p.comment = apiclient.Text(call.Args, "comment", 30000)
		if st == "" && p.comment == "" {
			return nil, connector.Errorf(connector.Permanent, "%s: give a status, a comment or both", what)
		}
		if st != "" {
			p.comment = strings.TrimSpace("Riposte incident " + inc + " is now " + st + ".\n" + p.comment)
			p.transition = c.cfg.Transitions[st]
		}
	case "close":
		p.transition = c.cfg.CloseTransition
	}
	return p, nil
}

func stringsOf(v any) []string {
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

func (c *Connector) findReq(inc string) apiclient.Request {
	// The label is a checked incident id: nothing in it needs JQL quoting
	// beyond the quotes.
	jql := fmt.Sprintf(`project = "%s" AND labels = "%s" ORDER BY created DESC`, c.cfg.Project, Label(inc))
	return apiclient.Request{Method: http.MethodPost, Path: []string{"rest", "api", "3", "search", "jql"}, Retry: true,
		Body: map[string]any{"jql": jql, "fields": []string{"summary", "status", "labels"}, "maxResults": 1}}
}

func commentReq(key, text string) apiclient.Request {
	return apiclient.Request{Method: http.MethodPost, Path: []string{"rest", "api", "3", "issue", key, "comment"}, Body: map[string]any{"body": ADF(text, "", "")}}
}

func transitionsReq(key string) apiclient.Request {
	return apiclient.Request{Method: http.MethodGet, Path: []string{"rest", "api", "3", "issue", key, "transitions"}, Retry: true}
}

func doTransitionReq(key, id string) apiclient.Request {
	return apiclient.Request{Method: http.MethodPost, Path: []string{"rest", "api", "3", "issue", key, "transitions"},
		Body: map[string]any{"transition": map[string]any{"id": id}}, Retry: true}
}

func (c *Connector) undo(p *plan) *connector.Undo {
	if p.op != "open" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "close", Args: map[string]any{"incident": p.incident},
		Summary: "close the Jira issue labelled " + Label(p.incident)}
}

// Simulate validates the call and returns the requests Execute may send,
// {key} standing for the issue it does not look up.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	cmds := []string{c.api.Line(c.findReq(p.incident))}
	if p.op == "open" {
		cmds = append(cmds, c.api.Line(p.create))
	}
	if p.comment != "" {
		cmds = append(cmds, c.api.Line(commentReq("{key}", p.comment)))
	}
	if p.transition != "" {
		cmds = append(cmds, c.api.Line(transitionsReq("{key}")), c.api.Line(doTransitionReq("{key}", "{id of "+p.transition+"}")))
	}
	return connector.Result{Summary: fmt.Sprintf("would find the Jira issue labelled %s in %s, then %s it", Label(p.incident), c.cfg.Project, p.op),
		Commands: cmds, Undo: c.undo(p), Outputs: map[string]any{"label": Label(p.incident)}}, nil
}

type issue struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Fields struct {
		Labels []string `json:"labels"`
		Status struct {
			Name           string `json:"name"`
			StatusCategory struct {
				Key string `json:"key"`
			} `json:"statusCategory"`
		} `json:"status"`
	} `json:"fields"`
}

func (c *Connector) find(ctx context.Context, inc string) (*issue, error) {
	var ans struct {
		Issues []issue `json:"issues"`
	}
	if _, err := c.api.Do(ctx, c.findReq(inc), &ans); err != nil {
		return nil, err
	}
	for _, i := range ans.Issues {
		if i.Key != "" && slices.Contains(i.Fields.Labels, Label(inc)) {
			return &i, nil
		}
	}
	return nil, nil
}

// Execute finds the issue, then sends the call's requests.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	label := Label(p.incident)
	res := connector.Result{Commands: []string{c.api.Line(c.findReq(p.incident))}}
	do := func(r apiclient.Request, out any) error {
		res.Commands = append(res.Commands, c.api.Line(r))
		_, err := c.api.Do(ctx, r, out)
		return err
	}
	is, err := c.find(ctx, p.incident)
	if err != nil {
		return res, fmt.Errorf("jira.%s: searching for the issue labelled %s: %w", p.op, label, err)
	}
	if p.op == "open" {
		created := false
		if is == nil {
			var made issue
			err := do(p.create, &made)
			if connector.ClassOf(err) == connector.Unknown {
				if is, _ = c.find(ctx, p.incident); is == nil {
					return res, fmt.Errorf("jira.open: creating the issue: %w", err)
				}
			} else if err != nil {
				return res, fmt.Errorf("jira.open: creating the issue: %w", err)
			} else if made.Key == "" {
				return res, connector.Errorf(connector.Unknown, "jira.open: Jira answered the create without an issue key")
			} else {
				is, created = &made, true
			}
		}
		res.Outputs = map[string]any{"key": is.Key, "id": is.ID, "created": created, "label": label}
		verb := "opened"
		if !created {
			verb = "found"
		}
		res.Summary = fmt.Sprintf("Jira issue %s %s for incident %s", is.Key, verb, p.incident)
		res.Undo = c.undo(p)
		return res, nil
	}
	if is == nil {
		return res, connector.Errorf(connector.Permanent, "jira.%s: no issue in %s is labelled %s", p.op, c.cfg.Project, label)
	}
	res.Outputs = map[string]any{"key": is.Key, "id": is.ID}
	if p.comment != "" {
		if err := do(commentReq(is.Key, p.comment), nil); err != nil {
			return res, fmt.Errorf("jira.%s %s: %w", p.op, is.Key, err)
		}
	}
	res.Summary = "Jira issue " + is.Key + ": " + p.op
	if p.transition == "" {
		return res, nil
	}
	if p.op == "close" && is.Fields.Status.StatusCategory.Key == "done" {
		res.Summary = fmt.Sprintf("Jira issue %s is already done (%s)", is.Key, limit.Text(is.Fields.Status.Name, 64))
		return res, nil
	}
	var ts struct {
		Transitions []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"transitions"`
	}
	if err := do(transitionsReq(is.Key), &ts); err != nil {
		return res, fmt.Errorf("jira.%s %s: %w", p.op, is.Key, err)
	}
	var names []string
	for _, t := range ts.Transitions {
		names = append(names, t.Name)
		if strings.EqualFold(t.Name, p.transition) {
			if err := do(doTransitionReq(is.Key, t.ID), nil); err != nil {
				return res, fmt.Errorf("jira.%s %s: transition %q: %w", p.op, is.Key, p.transition, err)
			}
			res.Outputs["transition"] = t.Name
			res.Summary += ", transition " + t.Name
			return res, nil
		}
	}
	return res, connector.Errorf(connector.Permanent, "jira.%s %s: the issue (status %s) has no transition %q; it has: %s",
		p.op, is.Key, limit.Text(is.Fields.Status.Name, 64), p.transition, limit.Text(strings.Join(names, ", "), 256))
}
