// Package falcon is the CrowdStrike Falcon connector: it network-contains
// a host and lifts the containment, through the Falcon Hosts API
// (https://developer.crowdstrike.com/api-reference/collections/hosts:
// PerformActionV2, QueryDevicesByFilter, GetDeviceDetailsV2) with an
// OAuth2 client-credentials token. Each change is verified by reading the
// host's containment status back.
package falcon

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/clientcreds"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "falcon"

// DefaultURL is the US-1 cloud's API.
const DefaultURL = "https://api.crowdstrike.com"

var targetArgs = map[string]connector.ArgSpec{
	"host":      {Type: "string", Description: "the host's name as Falcon knows it (one of host and device_id)"},
	"device_id": {Type: "string", Description: "the host's agent id (AID, 32 hex digits)"},
}

var outputs = map[string]string{"device_id": "the host's AID", "hostname": "its name in Falcon", "status": "its containment status after the call",
	"already": "true when the host was in that state before the call (no undo is returned then)"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Network-contains a host through CrowdStrike Falcon (only the Falcon cloud stays reachable) and lifts the containment; each verified by reading the host's status.",
	Operations: map[string]connector.Operation{
		"contain": {
			Description: "Contain the host (action contain), unless it is contained or being contained.",
			Args:        targetArgs, Outputs: outputs, Idempotent: true, Reversible: "lift_containment",
		},
		"lift_containment": {
			Description: "Lift the host's containment (action lift_containment), unless it is not contained.",
			Args:        targetArgs, Outputs: outputs, Idempotent: true,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	api *apiclient.Client
	tok *clientcreds.Source
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("falcon: client_id is required")
	}
	api, err := cfg.Client(Name, DefaultURL, cfg.ClientSecret)
	if err != nil {
		return nil, err
	}
	tu := cfg.TokenURL
	if tu == "" {
		tu = api.Base.String() + "/oauth2/token"
	}
	tokURL, err := clientcreds.CheckTokenURL("falcon: token_url", tu)
	if err != nil {
		return nil, err
	}
	src := &clientcreds.Source{Name: Name, TokenURL: tokURL, ClientID: cfg.ClientID, Secret: cfg.ClientSecret,
		Secrets: cfg.Secrets, HTTP: api.HTTP, MaxWait: cfg.MaxWait}
	src.Bind(api)
	api.ErrMessage = errMessage
	return &Connector{api: api, tok: src}, nil
}

// errMessage reads the messages of the Falcon API's errors list.
func errMessage(b []byte) string {
	var e struct {
		Errors []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	var parts []string
	for _, x := range e.Errors {
		if x.Message != "" {
			parts = append(parts, x.Message)
		}
	}
	return strings.Join(parts, "; ")
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

var (
	aidRE = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
	// A host name goes into an FQL string between single quotes: only
	// letters, digits, dots, hyphens and underscores are let through, so
	// nothing in it can end the string or widen the filter.
	hostRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}(\.[A-Za-z0-9_-]{1,63}){0,8}$`)
)

type target struct{ op, host, aid string }

func (c *Connector) prepare(call connector.Call) (*target, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "falcon: unknown operation %q (want contain or lift_containment)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	host := strings.TrimSpace(apiclient.Text(call.Args, "host", 300))
	aid := strings.ToLower(strings.TrimSpace(apiclient.Text(call.Args, "device_id", 64)))
	switch {
	case (host == "") == (aid == ""):
		return nil, connector.Errorf(connector.Permanent, "%s: give one of host and device_id", what)
	case aid != "" && !aidRE.MatchString(aid):
		return nil, connector.Errorf(connector.Permanent, "%s: device_id %q is not an agent id (32 hex digits)", what, limit.Text(aid, 64))
	case host != "" && !hostRE.MatchString(host):
		return nil, connector.Errorf(connector.Permanent, "%s: host %q is not a host name", what, limit.Text(host, 64))
	}
	return &target{op: call.Operation, host: host, aid: aid}, nil
}

func queryReq(host string) apiclient.Request {
	// The most recently seen first: a reinstalled host keeps its old,
	// silent AID for a while.
	return apiclient.Request{Method: http.MethodGet, Path: []string{"devices", "queries", "devices", "v1"}, Retry: true,
		Query: map[string][]string{"filter": {"hostname:'" + host + "'"}, "sort": {"last_seen.desc"}, "limit": {"1"}}}
}

func deviceReq(aid string) apiclient.Request {
	return apiclient.Request{Method: http.MethodGet, Path: []string{"devices", "entities", "devices", "v2"}, Retry: true,
		Query: map[string][]string{"ids": {aid}}}
}

// actionReq sets a state, so it is safe to repeat after a lost answer.
func actionReq(action, aid string) apiclient.Request {
	return apiclient.Request{Method: http.MethodPost, Path: []string{"devices", "entities", "devices-actions", "v2"}, Retry: true,
		Query: map[string][]string{"action_name": {action}}, Body: map[string]any{"ids": []string{aid}}}
}

// done lists the statuses in which an operation has nothing left to do.
var done = map[string][]string{
	"contain":          {"contained", "containment_pending"},
	"lift_containment": {"normal", "lift_containment_pending"},
}

func undo(t *target, aid, host string) *connector.Undo {
	if t.op != "contain" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "lift_containment", Args: map[string]any{"device_id": aid},
		Summary: "lift the Falcon containment of " + host + " (" + aid + ")"}
}

// Simulate validates the call and returns the requests Execute may send,
// {device_id} standing for the AID it does not look up. It reads no
// secret and fetches no token.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	t, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	aid, name := t.aid, t.aid
	var cmds []string
	if aid == "" {
		cmds = append(cmds, c.api.Line(queryReq(t.host)))
		aid, name = "{device_id}", t.host
	}
	cmds = append(cmds, c.api.Line(deviceReq(aid)), c.api.Line(actionReq(t.op, aid)), c.api.Line(deviceReq(aid)))
	return connector.Result{Summary: fmt.Sprintf("would %s Falcon host %s unless it is %s", strings.ReplaceAll(t.op, "_", " "), name, strings.Join(done[t.op], " or ")),
		Commands: cmds, Undo: undo(t, aid, name)}, nil
}

type device struct {
	DeviceID string `json:"device_id"`
	Hostname string `json:"hostname"`
	Status   string `json:"status"`
}

// Execute finds the host, reads its status, acts when needed and reads
// the status back.
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
	aid := t.aid
	if aid == "" {
		var q struct {
			Resources []string `json:"resources"`
		}
		if err := do(queryReq(t.host), &q); err != nil {
			return res, fmt.Errorf("%s: finding host %s: %w", what, t.host, err)
		}
		if len(q.Resources) == 0 || !aidRE.MatchString(q.Resources[0]) {
			return res, connector.Errorf(connector.Permanent, "%s: Falcon knows no host named %s", what, t.host)
		}
		aid = strings.ToLower(q.Resources[0])
	}
	read := func() (*device, error) {
		var d struct {
			Resources []device `json:"resources"`
		}
		if err := do(deviceReq(aid), &d); err != nil {
			return nil, err
		}
		for _, x := range d.Resources {
			if strings.EqualFold(x.DeviceID, aid) {
				return &x, nil
			}
		}
		return nil, connector.Errorf(connector.Permanent, "%s: Falcon has no host %s", what, aid)
	}
	dev, err := read()
	if err != nil {
		return res, fmt.Errorf("%s: reading host %s: %w", what, aid, err)
	}
	if t.host != "" && !strings.EqualFold(dev.Hostname, t.host) {
		return res, connector.Errorf(connector.Permanent, "%s: Falcon answered host %q for the name %s", what, limit.Text(dev.Hostname, 64), t.host)
	}
	name := cmp.Or(dev.Hostname, aid)
	res.Outputs = map[string]any{"device_id": aid, "hostname": dev.Hostname, "status": dev.Status, "already": true}
	if slices.Contains(done[t.op], dev.Status) {
		res.Summary = fmt.Sprintf("Falcon host %s (%s) was already %s; nothing changed", name, aid, dev.Status)
		return res, nil
	}
	if err := do(actionReq(t.op, aid), nil); err != nil {
		return res, fmt.Errorf("%s %s: %w", what, name, err)
	}
	after, err := read()
	if err != nil {
		return res, connector.Errorf(connector.Unknown, "%s %s: Falcon accepted the action, then reading the status back failed: %v", what, name, err)
	}
	res.Outputs["status"], res.Outputs["already"] = after.Status, false
	if !slices.Contains(done[t.op], after.Status) {
		return res, connector.Errorf(connector.Unknown, "%s %s: Falcon accepted the action but the host's status is %q", what, name, limit.Text(after.Status, 64))
	}
	res.Summary = fmt.Sprintf("Falcon host %s (%s): %s, status %s", name, aid, strings.ReplaceAll(t.op, "_", " "), after.Status)
	res.Undo = undo(t, aid, name)
	return res, nil
}
