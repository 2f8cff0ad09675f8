// Package thehive is the TheHive 5 connector: one case per Riposte
// incident, through TheHive's v1 API
// (https://docs.strangebee.com/thehive/api-docs/). The case carries the
// tag "riposte:<incident>"; every operation first finds the case by that
// tag, so an open repeated after a crash or an unknown outcome finds the
// case it made instead of making a second.
package thehive

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "thehive"

var incidentArg = connector.ArgSpec{Type: "string", Description: "the Riposte incident (default: the run's)"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Opens, comments, moves and closes one TheHive 5 case per Riposte incident (tag riposte:<incident>), with the incident's observables.",
	Operations: map[string]connector.Operation{
		"open": {
			Description: "Find the incident's case by its tag, or create it; then add the observables it lacks.",
			Args: map[string]connector.ArgSpec{
				"incident":    incidentArg,
				"title":       {Type: "string", Required: true, Description: "the case title (cut to 512 characters)"},
				"description": {Type: "string", Description: "the case description, as text (Markdown in it is escaped)"},
				"priority":    {Type: "string", Description: "P1 (critical), P2 (high), P3 (medium, default), P4 (low)"},
				"tags":        {Type: "strings", Description: "more case tags"},
				"observables": {Type: "map", Description: "data type → list of values: ip, domain, fqdn, url, mail, hash, filename, hostname, user-agent, other"},
			},
			Outputs:    map[string]string{"case_id": "TheHive's case id (~…)", "number": "the case number", "created": "false when the case existed", "observables": "observables added"},
			Idempotent: true,
			Reversible: "close",
		},
		"update": {
			Description: "Comment on the incident's case and move it: new → New, triaged/contained/eradicated → InProgress, recovered/closed → the close status.",
			Args: map[string]connector.ArgSpec{
				"incident": incidentArg,
				"status":   {Type: "string", Description: "the Riposte incident's status"},
				"comment":  {Type: "string", Description: "a comment (as text)"},
			},
			Outputs:    map[string]string{"case_id": "the case", "status": "the case status set"},
			Idempotent: false,
		},
		"close": {
			Description: "Close the incident's case with the configured close status and a summary.",
			Args: map[string]connector.ArgSpec{
				"incident": incidentArg,
				"summary":  {Type: "string", Description: "the closing summary (as text)"},
			},
			Outputs:    map[string]string{"case_id": "the case", "status": "the close status"},
			Idempotent: true,
		},
	},
}

var dataTypes = []string{"ip", "domain", "fqdn", "url", "mail", "hash", "filename", "hostname", "user-agent", "other"}

var closeStatuses = []string{"TruePositive", "FalsePositive", "Indeterminate", "Other", "Duplicated"}

// Connector implements connector.Connector.
type Connector struct {
	cfg Config
	api *apiclient.Client
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("thehive: url is required")
	}
	api, err := cfg.Client(Name, "", cfg.APIKey)
	if err != nil {
		return nil, err
	}
	if cfg.TLP == 0 {
		cfg.TLP = 2
	}
	if cfg.PAP == 0 {
		cfg.PAP = 2
	}
	if cfg.CloseStatus == "" {
		cfg.CloseStatus = "TruePositive"
	}
	switch {
	case cfg.TLP < 0 || cfg.TLP > 4:
		return nil, fmt.Errorf("thehive: tlp %d: want 0 to 4", cfg.TLP)
	case cfg.PAP < 0 || cfg.PAP > 3:
		return nil, fmt.Errorf("thehive: pap %d: want 0 to 3", cfg.PAP)
	case !slices.Contains(closeStatuses, cfg.CloseStatus):
		return nil, fmt.Errorf("thehive: close_status %q: want one of %s", cfg.CloseStatus, strings.Join(closeStatuses, ", "))
	case strings.ContainsAny(cfg.Organisation, "\r\n\x00"):
		return nil, fmt.Errorf("thehive: organisation has a line break")
	}
	api.Auth = func(h http.Header, v string) { h.Set("Authorization", "Bearer "+v) }
	if cfg.Organisation != "" {
		api.Header = http.Header{"X-Organisation": {cfg.Organisation}}
	}
	api.ErrMessage = func(b []byte) string { return apiclient.JSONField(b, "type", "message") }
	return &Connector{cfg: cfg, api: api}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

// Tag is the case tag of a Riposte incident.
func Tag(incident string) string { return "riposte:" + incident }

// Markdown escapes text for TheHive's Markdown fields: every character
// that Markdown (or the HTML it allows) gives a meaning is backslashed,
// so an event's text cannot become a link, an image or markup.
func Markdown(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_{}[]()<>#+-.!|~&\"'=:", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

type observable struct{ dataType, data string }

// plan is a validated call: the requests it may send.
type plan struct {
	op, incident string
	create       apiclient.Request
	observables  []observable
	status       string
	comment      string
	patch        map[string]any
}

func (c *Connector) prepare(call connector.Call) (*plan, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "thehive: unknown operation %q (want open, update or close)", limit.Text(call.Operation, 64))
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
		title := apiclient.Text(call.Args, "title", 512)
		if title == "" {
			return nil, connector.Errorf(connector.Permanent, "%s: title is empty", what)
		}
		prio, err := apiclient.Priority(what, call.Args)
		if err != nil {
			return nil, err
		}
		desc := Markdown(apiclient.Text(call.Args, "description", 60000))
		desc = strings.TrimSpace(desc + "\n\nRiposte incident `" + inc + "`")
		if link := apiclient.Link(c.cfg.RiposteURL, inc); link != "" {
			desc += ": <" + link + ">"
		}
		tags := []string{"riposte", Tag(inc)}
		for _, t := range stringsOf(call.Args["tags"]) {
			if t = limit.Text(strings.TrimSpace(t), 128); t != "" && !slices.Contains(tags, t) && len(tags) < 30 {
				tags = append(tags, t)
			}
		}
		p.create = apiclient.Request{Method: http.MethodPost, Path: []string{"api", "v1", "case"}, Body: map[string]any{
			"title": title, "description": desc, "severity": 5 - prio, "tlp": c.cfg.TLP, "pap": c.cfg.PAP, "tags": tags, "flag": false,
		}}
		obs, _ := call.Args["observables"].(map[string]any)
		for _, dt := range slices.Sorted(keysOf(obs)) {
			if !slices.Contains(dataTypes, dt) {
				return nil, connector.Errorf(connector.Permanent, "%s: observable type %q: want one of %s", what, limit.Text(dt, 32), strings.Join(dataTypes, ", "))
			}
			for _, v := range stringsOf(obs[dt]) {
				if v = strings.TrimSpace(v); v != "" && len(v) <= 4096 && len(p.observables) < 500 {
					p.observables = append(p.observables, observable{dt, v})
				}
			}
		}
	case "update":
		st, err := apiclient.Status(what, call.Args)
		if err != nil {
			return nil, err
		}
		p.comment = apiclient.Text(call.Args, "comment", 60000)
		if st == "" && p.comment == "" {
			return nil, connector.Errorf(connector.Permanent, "%s: give a status, a comment or both", what)
		}
		if st != "" {
			p.comment = strings.TrimSpace("Riposte incident `" + inc + "` is now **" + st + "**.\n\n" + Markdown(p.comment))
		} else {
			p.comment = Markdown(p.comment)
		}
		switch st {
		case "new":
			p.status = "New"
		case "triaged", "contained", "eradicated":
			p.status = "InProgress"
		case "recovered", "closed":
			p.status = c.cfg.CloseStatus
			p.patch = map[string]any{"status": p.status, "summary": "Riposte incident " + inc + " is " + st + "."}
		}
		if p.patch == nil && p.status != "" {
			p.patch = map[string]any{"status": p.status}
		}
	case "close":
		summary := Markdown(apiclient.Text(call.Args, "summary", 60000))
		if summary == "" {
			summary = "Closed by Riposte: incident `" + inc + "` is resolved."
		}
		p.status = c.cfg.CloseStatus
		p.patch = map[string]any{"status": p.status, "summary": summary}
	}
	return p, nil
}

func keysOf(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
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
	return apiclient.Request{Method: http.MethodPost, Path: []string{"api", "v1", "query"}, Retry: true,
		Body: map[string]any{"query": []any{
			map[string]any{"_name": "listCase"},
			map[string]any{"_name": "filter", "_eq": map[string]any{"_field": "tags", "_value": Tag(inc)}},
			map[string]any{"_name": "sort", "_fields": []any{map[string]any{"_createdAt": "desc"}}},
			map[string]any{"_name": "page", "from": 0, "to": 1},
		}}}
}

func obsReq(caseID string, o observable, inc string, tlp, pap int) apiclient.Request {
	return apiclient.Request{Method: http.MethodPost, Path: []string{"api", "v1", "case", caseID, "observable"}, Body: map[string]any{
		"dataType": o.dataType, "data": o.data, "message": "From Riposte incident " + inc, "tlp": tlp, "pap": pap,
		"ioc": true, "sighted": true, "tags": []string{Tag(inc)}}}
}

func (c *Connector) requests(p *plan, caseID string) []apiclient.Request {
	out := []apiclient.Request{c.findReq(p.incident)}
	if p.op == "open" {
		out = append(out, p.create)
		for _, o := range p.observables {
			out = append(out, obsReq(caseID, o, p.incident, c.cfg.TLP, c.cfg.PAP))
		}
		return out
	}
	if p.comment != "" {
		out = append(out, commentReq(caseID, p.comment))
	}
	if p.patch != nil {
		out = append(out, patchReq(caseID, p.patch))
	}
	return out
}

func commentReq(caseID, msg string) apiclient.Request {
	return apiclient.Request{Method: http.MethodPost, Path: []string{"api", "v1", "case", caseID, "comment"}, Body: map[string]any{"message": msg}}
}

func patchReq(caseID string, patch map[string]any) apiclient.Request {
	return apiclient.Request{Method: http.MethodPatch, Path: []string{"api", "v1", "case", caseID}, Body: patch, Retry: true}
}

func (c *Connector) undo(p *plan) *connector.Undo {
	if p.op != "open" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "close", Args: map[string]any{"incident": p.incident},
		Summary: "close the TheHive case tagged " + Tag(p.incident)}
}

// Simulate validates the call and returns the requests Execute would send
// (the case id shown as {case}); it reads no secret and sends nothing.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	var cmds []string
	for _, r := range c.requests(p, "{case}") {
		cmds = append(cmds, c.api.Line(r))
	}
	return connector.Result{
		Summary:  fmt.Sprintf("would find the TheHive case tagged %s, then %s it", Tag(p.incident), p.op),
		Commands: cmds, Undo: c.undo(p),
		Outputs: map[string]any{"tag": Tag(p.incident)},
	}, nil
}

// hiveCase is the part of TheHive's OutputCase the connector reads.
type hiveCase struct {
	ID     string   `json:"_id"`
	Number int      `json:"number"`
	Title  string   `json:"title"`
	Status string   `json:"status"`
	Stage  string   `json:"stage"`
	Tags   []string `json:"tags"`
}

func (c *Connector) find(ctx context.Context, inc string) (*hiveCase, error) {
	var found []hiveCase
	if _, err := c.api.Do(ctx, c.findReq(inc), &found); err != nil {
		return nil, err
	}
	for _, k := range found {
		if slices.Contains(k.Tags, Tag(inc)) && k.ID != "" {
			return &k, nil
		}
	}
	return nil, nil
}

// Execute finds the case, then sends the call's requests.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	p, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	tag := Tag(p.incident)
	res := connector.Result{}
	do := func(r apiclient.Request, out any) error {
		res.Commands = append(res.Commands, c.api.Line(r))
		_, err := c.api.Do(ctx, r, out)
		return err
	}
	res.Commands = append(res.Commands, c.api.Line(c.findReq(p.incident)))
	k, err := c.find(ctx, p.incident)
	if err != nil {
		return res, fmt.Errorf("thehive.%s: finding the case tagged %s: %w", p.op, tag, err)
	}
	if p.op != "open" {
		if k == nil {
			return res, connector.Errorf(connector.Permanent, "thehive.%s: no case is tagged %s", p.op, tag)
		}
		if p.comment != "" {
			if err := do(commentReq(k.ID, p.comment), nil); err != nil {
				return res, fmt.Errorf("thehive.%s %s: %w", p.op, k.ID, err)
			}
		}
		if p.patch != nil {
			if err := do(patchReq(k.ID, p.patch), nil); err != nil {
				return res, fmt.Errorf("thehive.%s %s: %w", p.op, k.ID, err)
			}
		}
		res.Outputs = map[string]any{"case_id": k.ID, "number": k.Number, "status": p.status}
		res.Summary = fmt.Sprintf("TheHive case #%d (%s): %s", k.Number, k.ID, p.op)
		if p.status != "" {
			res.Summary += ", status " + p.status
		}
		return res, nil
	}
	created := false
	if k == nil {
		var made hiveCase
		err := do(p.create, &made)
		if connector.ClassOf(err) == connector.Unknown {
			// The case may exist: look again rather than make a second.
			if k, _ = c.find(ctx, p.incident); k == nil {
				return res, fmt.Errorf("thehive.open: creating the case: %w", err)
			}
		} else if err != nil {
			return res, fmt.Errorf("thehive.open: creating the case: %w", err)
		} else {
			if made.ID == "" {
				return res, connector.Errorf(connector.Unknown, "thehive.open: TheHive answered the create without a case id")
			}
			k, created = &made, true
		}
	}
	added := 0
	for _, o := range p.observables {
		err := do(obsReq(k.ID, o, p.incident, c.cfg.TLP, c.cfg.PAP), nil)
		if err != nil && apiclient.IsStatus(err, http.StatusBadRequest) && strings.Contains(err.Error(), "already exist") {
			continue // the case has it: a repeat of this call
		}
		if err != nil {
			return res, fmt.Errorf("thehive.open: case %s made, adding observable %s %s: %w", k.ID, o.dataType, limit.Text(o.data, 128), err)
		}
		added++
	}
	res.Outputs = map[string]any{"case_id": k.ID, "number": k.Number, "created": created, "observables": added, "tag": tag}
	verb := "opened"
	if !created {
		verb = "found"
	}
	res.Summary = fmt.Sprintf("TheHive case #%d (%s) %s for incident %s, %d observable(s) added", k.Number, k.ID, verb, p.incident, added)
	res.Undo = c.undo(p)
	return res, nil
}
