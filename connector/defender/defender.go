// Package defender is the Microsoft Defender for Endpoint connector: it
// isolates a machine from the network and releases it, through the
// Defender for Endpoint API
// (https://learn.microsoft.com/defender-endpoint/api/isolate-machine,
// unisolate-machine, get-machines, get-machineaction-object) with a
// Microsoft identity platform client-credentials token. Each action is
// followed to its machine action's status.
package defender

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/clientcreds"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "defender"

// Defaults of Config.
const (
	DefaultURL   = "https://api.securitycenter.microsoft.com"
	DefaultScope = "https://api.securitycenter.microsoft.com/.default"
)

var targetArgs = map[string]connector.ArgSpec{
	"host":       {Type: "string", Description: "the machine's computerDnsName (one of host and machine_id)"},
	"machine_id": {Type: "string", Description: "the machine's id (40 hex digits)"},
	"comment":    {Type: "string", Description: "the comment Defender records with the action (default: the Riposte incident)"},
}

var outputs = map[string]string{"machine_id": "the machine's id", "host": "its computerDnsName", "action_id": "the machine action's id",
	"status": "the machine action's status", "already": "true when the machine was in that state before the call (no undo is returned then)"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Isolates a machine from the network through Microsoft Defender for Endpoint (Full or Selective) and releases it; each followed to its machine action's status.",
	Operations: map[string]connector.Operation{
		"isolate": {
			Description: "Isolate the machine, unless its latest isolation action is an isolation that did not fail.",
			Args: map[string]connector.ArgSpec{"host": targetArgs["host"], "machine_id": targetArgs["machine_id"], "comment": targetArgs["comment"],
				"isolation_type": {Type: "string", Description: "Full or Selective (default: the config's)"}},
			Outputs: outputs, Idempotent: true, Reversible: "release",
		},
		"release": {
			Description: "Release the machine from isolation (unisolate), unless it is not isolated.",
			Args:        targetArgs, Outputs: outputs, Idempotent: true,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	cfg Config
	api *apiclient.Client
	tok *clientcreds.Source
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("defender: client_id is required")
	}
	api, err := cfg.Client(Name, DefaultURL, cfg.ClientSecret)
	if err != nil {
		return nil, err
	}
	tu := cfg.TokenURL
	if tu == "" {
		if tu, err = clientcreds.MicrosoftTokenURL(cfg.TenantID); err != nil {
			return nil, fmt.Errorf("defender: %w", err)
		}
	}
	tokURL, err := clientcreds.CheckTokenURL("defender: token_url", tu)
	if err != nil {
		return nil, err
	}
	cfg.IsolationType = cmp.Or(cfg.IsolationType, "Full")
	if _, err := isolationType(cfg.IsolationType); err != nil {
		return nil, fmt.Errorf("defender: %w", err)
	}
	src := &clientcreds.Source{Name: Name, TokenURL: tokURL, ClientID: cfg.ClientID, Secret: cfg.ClientSecret, Secrets: cfg.Secrets,
		Scope: cmp.Or(cfg.Scope, DefaultScope), GrantType: true, HTTP: api.HTTP, MaxWait: cfg.MaxWait}
	src.Bind(api)
	api.ErrMessage = func(b []byte) string { return apiclient.JSONField(b, "error") }
	return &Connector{cfg: cfg, api: api, tok: src}, nil
}

func isolationType(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "full":
		return "Full", nil
	case "selective":
		return "Selective", nil
	}
	return "", fmt.Errorf("isolation_type %q: want Full or Selective", limit.Text(s, 32))
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

var machineRE = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

type target struct {
	op, host, id, comment, isolation string
}

func (c *Connector) prepare(call connector.Call) (*target, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "defender: unknown operation %q (want isolate or release)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	t := &target{op: call.Operation, host: apiclient.Text(call.Args, "host", 300),
		id: strings.ToLower(apiclient.Text(call.Args, "machine_id", 64))}
	switch {
	case (t.host == "") == (t.id == ""):
		return nil, connector.Errorf(connector.Permanent, "%s: give one of host and machine_id", what)
	case t.id != "" && !machineRE.MatchString(t.id):
		return nil, connector.Errorf(connector.Permanent, "%s: machine_id %q is not a machine id (40 hex digits)", what, limit.Text(t.id, 64))
	case t.host != "" && (len(t.host) > 253 || strings.IndexFunc(t.host, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0):
		return nil, connector.Errorf(connector.Permanent, "%s: host %q is not a machine name", what, limit.Text(t.host, 64))
	}
	t.comment = strings.Join(strings.Fields(apiclient.Text(call.Args, "comment", 1000)), " ")
	if t.comment == "" {
		t.comment = "Riposte"
		if call.Incident != "" {
			t.comment += " incident " + limit.Text(call.Incident, 128)
		}
	}
	if t.op == "isolate" {
		it, _ := call.Args["isolation_type"].(string)
		var err error
		if t.isolation, err = isolationType(cmp.Or(it, c.cfg.IsolationType)); err != nil {
			return nil, connector.Errorf(connector.Permanent, "%s: %v", what, err)
		}
	}
	return t, nil
}

// odataString quotes s as an OData string literal: a quote is doubled.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func findReq(host string) apiclient.Request {
	return apiclient.Request{Method: http.MethodGet, Path: []string{"api", "machines"}, Retry: true,
		Query: map[string][]string{"$filter": {"computerDnsName eq " + odataString(host)}}}
}

// actionsReq lists the machine's actions: the latest isolation or
// release that did not fail says whether it is isolated.
func actionsReq(id string) apiclient.Request {
	return apiclient.Request{Method: http.MethodGet, Path: []string{"api", "machineactions"}, Retry: true,
		Query: map[string][]string{"$filter": {"machineId eq " + odataString(id)}}}
}

// actReq is not retried after a 5xx: a second request while the first
// is pending is refused, and the state check of a repeat finds it.
func actReq(t *target, id string) apiclient.Request {
	body := map[string]any{"Comment": t.comment}
	verb := "unisolate"
	if t.op == "isolate" {
		body["IsolationType"], verb = t.isolation, "isolate"
	}
	return apiclient.Request{Method: http.MethodPost, Path: []string{"api", "machines", id, verb}, Body: body}
}

func actionReq(id string) apiclient.Request {
	return apiclient.Request{Method: http.MethodGet, Path: []string{"api", "machineactions", id}, Retry: true}
}

func undo(t *target, id, host string) *connector.Undo {
	if t.op != "isolate" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "release", Args: map[string]any{"machine_id": id},
		Summary: "release " + host + " (" + id + ") from Defender isolation"}
}

// Simulate validates the call and returns the requests Execute may send,
// {machine_id} and {action_id} standing for what it does not look up. It
// fetches no token.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	t, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	id, name := t.id, t.id
	var cmds []string
	if id == "" {
		cmds = append(cmds, c.api.Line(findReq(t.host)))
		id, name = "{machine_id}", t.host
	}
	cmds = append(cmds, c.api.Line(actionsReq(id)), c.api.Line(actReq(t, id)), c.api.Line(actionReq("{action_id}")))
	return connector.Result{Summary: fmt.Sprintf("would %s Defender machine %s", t.op, name), Commands: cmds, Undo: undo(t, id, name)}, nil
}

type machine struct {
	ID              string    `json:"id"`
	ComputerDNSName string    `json:"computerDnsName"`
	LastSeen        time.Time `json:"lastSeen"`
}

type machineAction struct {
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	Status   string    `json:"status"`
	Created  time.Time `json:"creationDateTimeUtc"`
	Comment  string    `json:"requestorComment"`
	Computer string    `json:"computerDnsName"`
}

// failed are the statuses of a machine action that did nothing.
var failed = []string{"Failed", "TimeOut", "Cancelled"}

// Execute finds the machine, reads whether it is isolated, acts when
// needed and reads the action's status.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	t, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	what := Name + "." + t.op
	res := connector.Result{}
	do := func(r apiclient.Request, out any) error {
		res.Commands = append(res.Commands, c.api.Line(r))
		_, err := clientcreds.Do(ctx, c.tok, c.api, r, out)
		return err
	}
	id, host := t.id, t.host
	if id == "" {
		var ans struct {
			Value []machine `json:"value"`
		}
		if err := do(findReq(t.host), &ans); err != nil {
			return res, fmt.Errorf("%s: finding machine %s: %w", what, t.host, err)
		}
		// Several records of one name (a reinstalled machine): the most
		// recently seen.
		var best *machine
		for i, m := range ans.Value {
			if machineRE.MatchString(m.ID) && strings.EqualFold(m.ComputerDNSName, t.host) && (best == nil || m.LastSeen.After(best.LastSeen)) {
				best = &ans.Value[i]
			}
		}
		if best == nil {
			return res, connector.Errorf(connector.Permanent, "%s: Defender knows no machine named %s", what, t.host)
		}
		id = strings.ToLower(best.ID)
	}
	var acts struct {
		Value []machineAction `json:"value"`
	}
	if err := do(actionsReq(id), &acts); err != nil {
		return res, fmt.Errorf("%s: reading the actions of machine %s: %w", what, id, err)
	}
	var last *machineAction
	for i, a := range acts.Value {
		if (a.Type == "Isolate" || a.Type == "Unisolate") && !slices.Contains(failed, a.Status) && (last == nil || a.Created.After(last.Created)) {
			last = &acts.Value[i]
		}
	}
	name := cmp.Or(host, id)
	res.Outputs = map[string]any{"machine_id": id, "host": host, "already": true}
	isolated := last != nil && last.Type == "Isolate"
	if isolated == (t.op == "isolate") {
		state := "not isolated"
		if isolated {
			res.Outputs["action_id"], res.Outputs["status"] = last.ID, last.Status
			state = "isolated (action " + last.ID + ", " + last.Status + ")"
		}
		res.Summary = fmt.Sprintf("Defender machine %s was already %s; nothing changed", name, state)
		return res, nil
	}
	var act machineAction
	if err := do(actReq(t, id), &act); err != nil {
		return res, fmt.Errorf("%s %s: %w", what, name, err)
	}
	if act.ID == "" {
		return res, connector.Errorf(connector.Unknown, "%s %s: Defender answered without a machine action id", what, name)
	}
	res.Outputs["action_id"], res.Outputs["already"] = act.ID, false
	var got machineAction
	if err := do(actionReq(act.ID), &got); err != nil {
		return res, connector.Errorf(connector.Unknown, "%s %s: Defender accepted action %s, then reading it failed: %v", what, name, act.ID, err)
	}
	res.Outputs["status"] = got.Status
	if slices.Contains(failed, got.Status) || got.Status == "" {
		return res, connector.Errorf(connector.Permanent, "%s %s: machine action %s is %q", what, name, act.ID, limit.Text(got.Status, 32))
	}
	res.Summary = fmt.Sprintf("Defender machine %s: %s requested (action %s, %s)", name, t.op, act.ID, got.Status)
	res.Undo = undo(t, id, name)
	return res, nil
}
