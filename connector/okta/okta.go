// Package okta is the Okta connector: it suspends a user (and
// unsuspends it) and clears the user's sessions, through the Okta Users
// API v1 (https://developer.okta.com/docs/api/openapi/okta-management/:
// User, User Lifecycle, User Sessions) with an API token. A lifecycle
// change is verified by reading the user's status back.
package okta

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "okta"

var userArg = connector.ArgSpec{Type: "string", Required: true, Description: "the user's login (usually an e-mail address) or Okta id"}

var stateOutputs = map[string]string{"user_id": "the user's Okta id", "login": "its login", "status": "its status read back after the call",
	"already": "true when the user was in that state before the call (no undo is returned then)"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Suspends an Okta user and unsuspends it, each verified by reading the user's status, and clears a user's sessions, through the Okta Users API.",
	Operations: map[string]connector.Operation{
		"suspend_user": {
			Description: "Suspend the user (lifecycle/suspend: no sign-in, assignments kept), unless it is suspended or deactivated.",
			Args:        map[string]connector.ArgSpec{"user": userArg}, Outputs: stateOutputs, Idempotent: true, Reversible: "unsuspend_user",
		},
		"unsuspend_user": {
			Description: "Return a suspended user to ACTIVE (lifecycle/unsuspend), unless it is not suspended.",
			Args:        map[string]connector.ArgSpec{"user": userArg}, Outputs: stateOutputs, Idempotent: true,
		},
		"clear_sessions": {
			Description: "End all the user's Okta sessions and, unless oauth_tokens is false, revoke the OpenID Connect and OAuth tokens issued to it. Cannot be undone.",
			Args: map[string]connector.ArgSpec{"user": userArg,
				"oauth_tokens": {Type: "bool", Description: "also revoke the OAuth refresh and access tokens (default true)"}},
			Outputs:    map[string]string{"user_id": "the user's Okta id", "login": "its login", "cleared_at": "when Okta accepted it (RFC 3339)"},
			Idempotent: true,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	api *apiclient.Client
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, fmt.Errorf("okta: url (your Okta org, https://<org>.okta.com) is required")
	}
	api, err := cfg.Client(Name, "", cfg.APIToken)
	if err != nil {
		return nil, err
	}
	api.Auth = func(h http.Header, v string) { h.Set("Authorization", "SSWS "+v) }
	api.ErrMessage = errMessage
	hc := *api.HTTP
	hc.Transport = &rateReset{next: cmp.Or[http.RoundTripper](hc.Transport, http.DefaultTransport)}
	api.HTTP = &hc
	return &Connector{api: api}, nil
}

// errMessage reads Okta's error: {"errorCode","errorSummary",
// "errorCauses":[{"errorSummary"}]}.
func errMessage(b []byte) string {
	var e struct {
		Code    string `json:"errorCode"`
		Summary string `json:"errorSummary"`
		Causes  []struct {
			Summary string `json:"errorSummary"`
		} `json:"errorCauses"`
	}
	if json.Unmarshal(b, &e) != nil || (e.Code == "" && e.Summary == "") {
		return ""
	}
	msg := strings.TrimPrefix(e.Code+": "+e.Summary, ": ")
	for _, c := range e.Causes {
		if c.Summary != "" {
			msg += "; " + c.Summary
		}
	}
	return msg
}

// rateReset turns Okta's rate-limit answer into the Retry-After the
// client honours: Okta sends X-Rate-Limit-Reset, the UTC epoch second the
// window resets, counted here from the answer's Date so a skewed local
// clock does not matter.
type rateReset struct{ next http.RoundTripper }

func (t *rateReset) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "" {
		return resp, err
	}
	reset, perr := strconv.ParseInt(strings.TrimSpace(resp.Header.Get("X-Rate-Limit-Reset")), 10, 64)
	if perr != nil {
		return resp, nil
	}
	now := time.Now()
	if d, derr := http.ParseTime(resp.Header.Get("Date")); derr == nil {
		now = d
	}
	wait := math.Ceil(time.Unix(reset, 0).Sub(now).Seconds())
	resp.Header.Set("Retry-After", strconv.Itoa(int(max(1, min(wait, 3600)))))
	return resp, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

// idRE is an Okta object id ("00ub0oNGTSWTBKOLGLNR").
var idRE = regexp.MustCompile(`^[0-9A-Za-z]{20}$`)

// checkLogin validates a user argument: a login (at most 100 characters,
// no space, control character or slash — Okta cannot find a login with
// a slash by path) or an id. "me" is refused: /api/v1/users/me is the
// API token's own admin.
func checkLogin(what, u string) (string, error) {
	switch {
	case u == "":
		return "", connector.Errorf(connector.Permanent, "%s: user is required", what)
	case strings.EqualFold(u, "me"):
		return "", connector.Errorf(connector.Permanent, "%s: user %q names the API token's own account", what, u)
	case len(u) > 100 || u == "." || u == ".." || strings.IndexFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' || r == '\\' }) >= 0:
		return "", connector.Errorf(connector.Permanent, "%s: user %q is not an Okta login or id", what, limit.Text(u, 64))
	}
	return u, nil
}

type job struct {
	op, user string
	oauth    bool
}

func (c *Connector) prepare(call connector.Call) (*job, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "okta: unknown operation %q (want suspend_user, unsuspend_user or clear_sessions)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	raw, _ := call.Args["user"].(string)
	u, err := checkLogin(what, strings.TrimSpace(raw))
	if err != nil {
		return nil, err
	}
	j := &job{op: call.Operation, user: u, oauth: true}
	if v, ok := call.Args["oauth_tokens"].(bool); ok {
		j.oauth = v
	}
	return j, nil
}

func getReq(user string) apiclient.Request {
	return apiclient.Request{Method: http.MethodGet, Path: []string{"api", "v1", "users", user}, Retry: true}
}

// lifecycleReq is not resent after a 5xx: a repeat of a suspension that
// took effect is refused (E0000001), and the state check of the next
// attempt finds it.
func lifecycleReq(id, verb string) apiclient.Request {
	return apiclient.Request{Method: http.MethodPost, Path: []string{"api", "v1", "users", id, "lifecycle", verb}}
}

func sessionsReq(id string, oauth bool) apiclient.Request {
	return apiclient.Request{Method: http.MethodDelete, Path: []string{"api", "v1", "users", id, "sessions"}, Retry: true,
		Query: map[string][]string{"oauthTokens": {strconv.FormatBool(oauth)}}}
}

func undo(j *job, id, login string) *connector.Undo {
	if j.op != "suspend_user" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "unsuspend_user", Args: map[string]any{"user": id},
		Summary: "unsuspend Okta user " + cmp.Or(login, id)}
}

// Simulate validates the call and returns the requests Execute may send,
// {user_id} standing for the id it does not look up.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	id := "{user_id}"
	cmds := []string{c.api.Line(getReq(j.user))}
	switch j.op {
	case "clear_sessions":
		cmds = append(cmds, c.api.Line(sessionsReq(id, j.oauth)))
		return connector.Result{Summary: "would clear the sessions of Okta user " + j.user, Commands: cmds}, nil
	case "suspend_user":
		cmds = append(cmds, c.api.Line(lifecycleReq(id, "suspend")))
	default:
		cmds = append(cmds, c.api.Line(lifecycleReq(id, "unsuspend")))
	}
	cmds = append(cmds, c.api.Line(getReq(id)))
	return connector.Result{Summary: fmt.Sprintf("would %s Okta user %s", strings.TrimSuffix(j.op, "_user"), j.user),
		Commands: cmds, Undo: undo(j, id, j.user)}, nil
}

type user struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Profile struct {
		Login string `json:"login"`
	} `json:"profile"`
}

// Execute finds the user, changes its status when needed and reads it
// back; or clears its sessions.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	what := Name + "." + j.op
	res := connector.Result{}
	do := func(r apiclient.Request, out any) error {
		res.Commands = append(res.Commands, c.api.Line(r))
		_, err := c.api.Do(ctx, r, out)
		return err
	}
	var u user
	if err := do(getReq(j.user), &u); err != nil {
		return res, fmt.Errorf("%s: finding user %s: %w", what, j.user, err)
	}
	// A login shortname is looked up too: the answer must be the user
	// named, by id, login or the login's part before the @.
	short, _, _ := strings.Cut(u.Profile.Login, "@")
	if !idRE.MatchString(u.ID) || (u.ID != j.user && !strings.EqualFold(u.Profile.Login, j.user) && !strings.EqualFold(short, j.user)) {
		return res, connector.Errorf(connector.Permanent, "%s: Okta answered user %q (%s) for %q", what, limit.Text(u.Profile.Login, 100), limit.Text(u.ID, 32), j.user)
	}
	res.Outputs = map[string]any{"user_id": u.ID, "login": u.Profile.Login}
	name := cmp.Or(u.Profile.Login, u.ID)
	if j.op == "clear_sessions" {
		if err := do(sessionsReq(u.ID, j.oauth), nil); err != nil {
			return res, fmt.Errorf("%s %s: %w", what, name, err)
		}
		res.Outputs["cleared_at"] = time.Now().UTC().Format(time.RFC3339)
		res.Summary = "Okta user " + name + ": sessions cleared"
		if j.oauth {
			res.Summary += " and OAuth tokens revoked"
		}
		res.Summary += " (cannot be undone)"
		return res, nil
	}
	res.Outputs["status"] = u.Status
	verb, want := "unsuspend", "ACTIVE"
	if j.op == "suspend_user" {
		verb, want = "suspend", "SUSPENDED"
	}
	// Only an ACTIVE user can be suspended and only a SUSPENDED one
	// unsuspended; a deactivated user cannot sign in already.
	switch {
	case j.op == "suspend_user" && (u.Status == "SUSPENDED" || u.Status == "DEPROVISIONED"),
		j.op == "unsuspend_user" && u.Status != "SUSPENDED":
		res.Outputs["already"] = true
		res.Summary = fmt.Sprintf("Okta user %s was %s; nothing changed", name, u.Status)
		return res, nil
	}
	res.Outputs["already"] = false
	if err := do(lifecycleReq(u.ID, verb), nil); err != nil {
		return res, fmt.Errorf("%s %s (status %s): %w", what, name, u.Status, err)
	}
	var got user
	if err := do(getReq(u.ID), &got); err != nil {
		return res, connector.Errorf(connector.Unknown, "%s %s: Okta accepted it, then reading the user back failed: %v", what, name, err)
	}
	res.Outputs["status"] = got.Status
	if got.Status != want {
		return res, connector.Errorf(connector.Unknown, "%s %s: Okta accepted it but the user's status reads %q, want %s", what, name, limit.Text(got.Status, 32), want)
	}
	res.Summary = fmt.Sprintf("Okta user %s: %s (status %s read back)", name, verb, got.Status)
	res.Undo = undo(j, u.ID, u.Profile.Login)
	return res, nil
}
