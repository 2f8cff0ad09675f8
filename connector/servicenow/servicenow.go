// Package servicenow is the ServiceNow connector: one incident record per
// Riposte incident, through the Table API
// (https://developer.servicenow.com/ — REST API reference, Table API,
// /api/now/table). The record's correlation_id is "riposte-<incident>";
// every operation first queries for it, so an open repeated after a crash
// or an unknown outcome finds the record it made instead of making a
// second.
package servicenow

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "servicenow"

var incidentArg = connector.ArgSpec{Type: "string", Description: "the Riposte incident (default: the run's)"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Opens, annotates, moves and resolves one ServiceNow incident per Riposte incident (correlation_id riposte-<incident>) through the Table API.",
	Operations: map[string]connector.Operation{
		"open": {
			Description: "Find the incident record by its correlation_id, or create it (urgency and impact from the priority).",
			Args: map[string]connector.ArgSpec{
				"incident":    incidentArg,
				"title":       {Type: "string", Required: true, Description: "the short description (cut to 160 characters)"},
				"description": {Type: "string", Description: "the description, as text"},
				"priority":    {Type: "string", Description: "P1 (urgency 1, impact 1), P2 (1, 2), P3 (2, 2; default), P4 (2, 3)"},
			},
			Outputs:    map[string]string{"sys_id": "the record's sys_id", "number": "the incident number (INC0010001)", "created": "false when the record existed"},
			Idempotent: true,
			Reversible: "close",
		},
		"update": {
			Description: "Add a work note to the incident record and set the state the config maps the status to.",
			Args: map[string]connector.ArgSpec{
				"incident": incidentArg,
				"status":   {Type: "string", Description: "the Riposte incident's status"},
				"comment":  {Type: "string", Description: "a work note, as text"},
			},
			Outputs:    map[string]string{"sys_id": "the record", "number": "the incident number", "state": "the state set"},
			Idempotent: false,
		},
		"close": {
			Description: "Resolve the incident record with the configured close code and notes (nothing when it is already resolved, closed or canceled).",
			Args:        map[string]connector.ArgSpec{"incident": incidentArg},
			Outputs:     map[string]string{"sys_id": "the record", "number": "the incident number", "state": "the state set"},
			Idempotent:  true,
		},
	},
}

// The incident states of the base system that need no resolving.
var doneStates = []string{"6", "7", "8"}

// fields is what every request asks back: small answers, no reference
// links.
const fields = "sys_id,number,state,correlation_id"

var (
	stateRE = regexp.MustCompile(`^[0-9]{1,3}$`)
	sysIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
	// codeTag matches the [code] and [/code] markers: text between them
	// in a journal field is rendered as HTML.
	codeTag = regexp.MustCompile(`(?i)\[\s*(/?)\s*code\s*\]`)
)

// Connector implements connector.Connector.
type Connector struct {
	cfg Config
	api *apiclient.Client
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("servicenow: url is required")
	}
	if cfg.User == "" || strings.Contains(cfg.User, ":") {
		return nil, fmt.Errorf("servicenow: user is required and must not contain ':'")
	}
	api, err := cfg.Client(Name, "", cfg.Password)
	if err != nil {
		return nil, err
	}
	if cfg.ResolveState == "" {
		cfg.ResolveState = "6"
	}
	if cfg.States == nil {
		cfg.States = map[string]string{"triaged": "2", "contained": "2", "eradicated": "2", "recovered": cfg.ResolveState, "closed": cfg.ResolveState}
	}
	if !stateRE.MatchString(cfg.ResolveState) {
		return nil, fmt.Errorf("servicenow: resolve_state %q is not a state value (a number such as 6)", cfg.ResolveState)
	}
	for st, v := range cfg.States {
		if !slices.Contains(apiclient.Statuses, st) {
			return nil, fmt.Errorf("servicenow: states: %q is not a Riposte incident status (%s)", st, strings.Join(apiclient.Statuses, ", "))
		}
		if !stateRE.MatchString(v) {
			return nil, fmt.Errorf("servicenow: states: %s: %q is not a state value (a number such as 2)", st, v)
		}
	}
	if cfg.CloseCode == "" {
		cfg.CloseCode = "Solution provided"
	}
	user := cfg.User
	api.Auth = func(h http.Header, v string) {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+v)))
	}
	api.ErrMessage = errMessage
	return &Connector{cfg: cfg, api: api}, nil
}

// errMessage reads the Table API's error body,
// {"error":{"message":…,"detail":…},"status":"failure"}.
func errMessage(b []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Detail  string `json:"detail"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	parts := []string{}
	for _, s := range []string{e.Error.Message, e.Error.Detail} {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ": ")
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

// Correlation is the correlation_id of a Riposte incident's record.
func Correlation(incident string) string { return "riposte-" + incident }

// EscapeJournal keeps text a journal field (work notes) shows as text:
// [code]…[/code] would be rendered as HTML.
func EscapeJournal(s string) string {
	return codeTag.ReplaceAllString(s, "(${1}code)")
}

type plan struct {
	op, incident string
	create       map[string]any
	note         string
	state        string
}

func (c *Connector) prepare(call connector.Call) (*plan, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "servicenow: unknown operation %q (want open, update or close)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	inc, err := apiclient.Incident(what, call)
	if err != nil {
		return nil, err
	}
	// The id goes into an encoded query, where ^ separates conditions and
	// = compares: apiclient.Incident admits neither; the field holds 100.
	if strings.ContainsAny(inc, "^=") || len(Correlation(inc)) > 100 {
		return nil, connector.Errorf(connector.Permanent, "%s: incident %q cannot be a correlation_id", what, limit.Text(inc, 64))
	}
	p := &plan{op: call.Operation, incident: inc}
	switch call.Operation {
	case "open":
		title := strings.Join(strings.Fields(apiclient.Text(call.Args, "title", 160)), " ")
		if title == "" {
			return nil, connector.Errorf(connector.Permanent, "%s: title is empty", what)
		}
		prio, err := apiclient.Priority(what, call.Args)
		if err != nil {
			return nil, err
		}
		urgency, impact := Matrix(prio)
		desc := apiclient.Text(call.Args, "description", 30000)
		desc = strings.TrimSpace(desc + "\n\nRiposte incident " + inc)
		if l := apiclient.Link(c.cfg.RiposteURL, inc); l != "" {
			desc += "\n" + l
		}
		p.create = map[string]any{"short_description": title, "description": desc,
			"urgency": urgency, "impact": impact,
			"correlation_id": Correlation(inc), "correlation_display": "Riposte"}
		for k, v := range map[string]string{"assignment_group": c.cfg.AssignmentGroup, "category": c.cfg.Category, "caller_id": c.cfg.CallerID} {
			if v != "" {
				p.create[k] = v
			}
		}
	case "update":
		st, err := apiclient.Status(what, call.Args)
		if err != nil {
			return nil, err
		}
		p.note = apiclient.Text(call.Args, "comment", 30000)
		if st == "" && p.note == "" {
			return nil, connector.Errorf(connector.Permanent, "%s: give a status, a comment or both", what)
		}
		if st != "" {
			p.note = strings.TrimSpace("Riposte incident " + inc + " is now " + st + ".\n" + p.note)
			p.state = c.cfg.States[st]
		}
		p.note = EscapeJournal(p.note)
	case "close":
		p.state = c.cfg.ResolveState
	}
	return p, nil
}

// Matrix maps a Riposte priority (1..4) to urgency and impact, chosen so
// the base system's priority lookup gives the same number.
func Matrix(prio int) (urgency, impact string) {
	switch prio {
	case 1:
		return "1", "1"
	case 2:
		return "1", "2"
	case 4:
		return "2", "3"
	}
	return "2", "2"
}

func tablePath(sysID ...string) []string {
	return append([]string{"api", "now", "table", "incident"}, sysID...)
}

func (c *Connector) findReq(inc string) apiclient.Request {
	return apiclient.Request{Method: http.MethodGet, Path: tablePath(), Retry: true, Query: url.Values{
		"sysparm_query":  {"correlation_id=" + Correlation(inc) + "^ORDERBYDESCsys_created_on"},
		"sysparm_limit":  {"1"},
		"sysparm_fields": {fields},
	}}
}

func createReq(body map[string]any) apiclient.Request {
	return apiclient.Request{Method: http.MethodPost, Path: tablePath(), Query: url.Values{"sysparm_fields": {fields}}, Body: body}
}

// patchReq sets fields of a record; it is retried only when it sets values
// (no work note: a note sent twice shows twice).
func patchReq(sysID string, body map[string]any) apiclient.Request {
	_, note := body["work_notes"]
	return apiclient.Request{Method: http.MethodPatch, Path: tablePath(sysID), Query: url.Values{"sysparm_fields": {fields}}, Body: body, Retry: !note}
}

func (c *Connector) closeBody(inc string) map[string]any {
	notes := c.cfg.CloseNotes
	if notes == "" {
		notes = "Resolved by Riposte: incident " + inc + " recovered."
	}
	return map[string]any{"state": c.cfg.ResolveState, "close_code": c.cfg.CloseCode, "close_notes": notes}
}

func (c *Connector) updateBody(p *plan) map[string]any {
	body := map[string]any{}
	if p.note != "" {
		body["work_notes"] = p.note
	}
	if p.state != "" {
		if p.state == c.cfg.ResolveState {
			for k, v := range c.closeBody(p.incident) {
				body[k] = v
			}
		}
		body["state"] = p.state
	}
	return body
}

func (c *Connector) undo(p *plan) *connector.Undo {
	if p.op != "open" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "close", Args: map[string]any{"incident": p.incident},
		Summary: "resolve the ServiceNow incident with correlation_id " + Correlation(p.incident)}
}

// Simulate validates the call and returns the requests Execute may send,
// {sys_id} standing for the record it does not look up.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	cmds := []string{c.api.Line(c.findReq(p.incident))}
	switch p.op {
	case "open":
		cmds = append(cmds, c.api.Line(createReq(p.create)))
	case "update":
		cmds = append(cmds, c.api.Line(patchReq("{sys_id}", c.updateBody(p))))
	case "close":
		cmds = append(cmds, c.api.Line(patchReq("{sys_id}", c.closeBody(p.incident))))
	}
	return connector.Result{Summary: fmt.Sprintf("would find the ServiceNow incident with correlation_id %s, then %s it", Correlation(p.incident), p.op),
		Commands: cmds, Undo: c.undo(p), Outputs: map[string]any{"correlation_id": Correlation(p.incident)}}, nil
}

type record struct {
	SysID         string `json:"sys_id"`
	Number        string `json:"number"`
	State         string `json:"state"`
	CorrelationID string `json:"correlation_id"`
}

func (c *Connector) find(ctx context.Context, inc string) (*record, error) {
	var ans struct {
		Result []record `json:"result"`
	}
	if _, err := c.api.Do(ctx, c.findReq(inc), &ans); err != nil {
		return nil, err
	}
	for _, r := range ans.Result {
		// The answer is checked, not trusted: the sys_id goes in a path.
		if r.CorrelationID == Correlation(inc) && sysIDRE.MatchString(r.SysID) {
			return &r, nil
		}
	}
	return nil, nil
}

// Execute finds the record, then sends the call's request.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	corr := Correlation(p.incident)
	res := connector.Result{Commands: []string{c.api.Line(c.findReq(p.incident))}}
	rec, err := c.find(ctx, p.incident)
	if err != nil {
		return res, fmt.Errorf("servicenow.%s: searching for the incident with correlation_id %s: %w", p.op, corr, err)
	}
	if p.op == "open" {
		created := false
		if rec == nil {
			r := createReq(p.create)
			res.Commands = append(res.Commands, c.api.Line(r))
			var ans struct {
				Result record `json:"result"`
			}
			_, err := c.api.Do(ctx, r, &ans)
			switch {
			case connector.ClassOf(err) == connector.Unknown:
				if rec, _ = c.find(ctx, p.incident); rec == nil {
					return res, fmt.Errorf("servicenow.open: creating the incident: %w", err)
				}
			case err != nil:
				return res, fmt.Errorf("servicenow.open: creating the incident: %w", err)
			case !sysIDRE.MatchString(ans.Result.SysID):
				return res, connector.Errorf(connector.Unknown, "servicenow.open: ServiceNow answered the create without a sys_id")
			default:
				rec, created = &ans.Result, true
			}
		}
		res.Outputs = map[string]any{"sys_id": rec.SysID, "number": rec.Number, "created": created, "correlation_id": corr}
		verb := "opened"
		if !created {
			verb = "found"
		}
		res.Summary = fmt.Sprintf("ServiceNow incident %s %s for incident %s", limit.Text(rec.Number, 40), verb, p.incident)
		res.Undo = c.undo(p)
		return res, nil
	}
	if rec == nil {
		return res, connector.Errorf(connector.Permanent, "servicenow.%s: no incident has correlation_id %s", p.op, corr)
	}
	number := limit.Text(rec.Number, 40)
	res.Outputs = map[string]any{"sys_id": rec.SysID, "number": rec.Number}
	var body map[string]any
	if p.op == "close" {
		if slices.Contains(doneStates, rec.State) {
			res.Summary = fmt.Sprintf("ServiceNow incident %s is already resolved (state %s)", number, limit.Text(rec.State, 8))
			return res, nil
		}
		body = c.closeBody(p.incident)
	} else {
		body = c.updateBody(p)
	}
	r := patchReq(rec.SysID, body)
	res.Commands = append(res.Commands, c.api.Line(r))
	var ans struct {
		Result record `json:"result"`
	}
	if _, err := c.api.Do(ctx, r, &ans); err != nil {
		return res, fmt.Errorf("servicenow.%s %s: %w", p.op, number, err)
	}
	res.Summary = "ServiceNow incident " + number + ": " + p.op
	if st, ok := body["state"].(string); ok {
		// Verified: the answer carries the record as written; a business
		// rule refusing the state leaves it unchanged.
		if ans.Result.State != st {
			return res, connector.Errorf(connector.Permanent, "servicenow.%s %s: state %s was sent, the record answered state %q (a business rule or ACL kept it)",
				p.op, number, st, limit.Text(ans.Result.State, 8))
		}
		res.Outputs["state"] = st
		res.Summary += ", state " + st
	}
	return res, nil
}
