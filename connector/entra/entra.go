// Package entra is the Microsoft Entra ID connector: it disables a user
// (and enables it again) and revokes the user's sign-in sessions, through
// Microsoft Graph v1.0 (https://learn.microsoft.com/graph/api/user-update,
// user-get, user-revokesigninsessions) with a Microsoft identity platform
// client-credentials token. A change of accountEnabled is verified by
// reading the user back.
package entra

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/clientcreds"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Name is the connector's name in playbooks.
const Name = "entra"

// Defaults of Config.
const (
	DefaultURL   = "https://graph.microsoft.com"
	DefaultScope = "https://graph.microsoft.com/.default"
	// version is the Graph API version every path starts with.
	version = "v1.0"
)

var userArg = map[string]connector.ArgSpec{
	"user": {Type: "string", Required: true, Description: "the user's object id (GUID) or userPrincipalName"},
}

var stateOutputs = map[string]string{"user": "the user as given", "account_enabled": "accountEnabled as read back after the call",
	"already": "true when the user was in that state before the call (no undo is returned then)"}

var spec = connector.Spec{
	Name:        Name,
	Description: "Disables a Microsoft Entra ID user (accountEnabled false) and enables it again, each read back, and revokes a user's sign-in sessions, through Microsoft Graph v1.0.",
	Operations: map[string]connector.Operation{
		"disable_user": {
			Description: "Block the user's sign-in (accountEnabled false), unless it is blocked already.",
			Args:        userArg, Outputs: stateOutputs, Idempotent: true, Reversible: "enable_user",
		},
		"enable_user": {
			Description: "Allow the user's sign-in again (accountEnabled true), unless it is allowed already.",
			Args:        userArg, Outputs: stateOutputs, Idempotent: true,
		},
		"revoke_sessions": {
			Description: "Invalidate the user's refresh tokens and session cookies (revokeSignInSessions): every application asks for a new sign-in. Cannot be undone.",
			Args:        userArg, Idempotent: true,
			Outputs: map[string]string{"user": "the user as given", "revoked_at": "when Graph accepted the revocation (RFC 3339)"},
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	api *apiclient.Client
	tok *clientcreds.Source
	// verifyWait is the pause between reads of a change not yet visible
	// (Entra replicates directory writes).
	verifyWait time.Duration
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("entra: client_id is required")
	}
	api, err := cfg.Client(Name, DefaultURL, cfg.ClientSecret)
	if err != nil {
		return nil, err
	}
	tu := cfg.TokenURL
	if tu == "" {
		if tu, err = clientcreds.MicrosoftTokenURL(cfg.TenantID); err != nil {
			return nil, fmt.Errorf("entra: %w", err)
		}
	}
	tokURL, err := clientcreds.CheckTokenURL("entra: token_url", tu)
	if err != nil {
		return nil, err
	}
	src := &clientcreds.Source{Name: Name, TokenURL: tokURL, ClientID: cfg.ClientID, Secret: cfg.ClientSecret, Secrets: cfg.Secrets,
		Scope: cmp.Or(cfg.Scope, DefaultScope), GrantType: true, HTTP: api.HTTP, MaxWait: cfg.MaxWait}
	src.Bind(api)
	// Graph's error: {"error":{"code","message","innerError"}}.
	api.ErrMessage = func(b []byte) string { return apiclient.JSONField(b, "error") }
	return &Connector{api: api, tok: src, verifyWait: time.Second}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

var (
	guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// upnRE is a userPrincipalName: the characters Entra allows before
	// the @ (a guest's carries #EXT#), a domain after it.
	upnRE = regexp.MustCompile(`^[A-Za-z0-9'.\-_!#^~]{1,113}@[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63}){0,8}$`)
)

// checkUser validates a user argument. A UPN starting with $ is refused:
// Graph reads /users/$… as a system query option, so such a user is
// named by its object id.
func checkUser(what, u string) (string, error) {
	switch {
	case u == "":
		return "", connector.Errorf(connector.Permanent, "%s: user is required", what)
	case guidRE.MatchString(u):
		return strings.ToLower(u), nil
	case strings.HasPrefix(u, "$"):
		return "", connector.Errorf(connector.Permanent, "%s: user %q starts with $: give its object id", what, limit.Text(u, 64))
	case len(u) <= 256 && upnRE.MatchString(u) && !strings.Contains(u, ".."):
		return u, nil
	}
	return "", connector.Errorf(connector.Permanent, "%s: user %q is not an object id or a userPrincipalName", what, limit.Text(u, 64))
}

type job struct {
	op, user string
}

func (c *Connector) prepare(call connector.Call) (*job, error) {
	what := Name + "." + call.Operation
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "entra: unknown operation %q (want disable_user, enable_user or revoke_sessions)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	raw, _ := call.Args["user"].(string)
	u, err := checkUser(what, strings.TrimSpace(raw))
	if err != nil {
		return nil, err
	}
	return &job{op: call.Operation, user: u}, nil
}

func getReq(user string) apiclient.Request {
	return apiclient.Request{Method: http.MethodGet, Path: []string{version, "users", user}, Retry: true,
		Query: map[string][]string{"$select": {"accountEnabled"}}}
}

// patchReq sets a value: sending it twice does no harm.
func patchReq(user string, enabled bool) apiclient.Request {
	return apiclient.Request{Method: http.MethodPatch, Path: []string{version, "users", user}, Retry: true,
		Body: map[string]any{"accountEnabled": enabled}}
}

// revokeReq may be repeated: a second revocation moves
// signInSessionsValidFromDateTime to a later time, which is what is
// wanted anyway.
func revokeReq(user string) apiclient.Request {
	return apiclient.Request{Method: http.MethodPost, Path: []string{version, "users", user, "revokeSignInSessions"}, Retry: true}
}

func undo(j *job) *connector.Undo {
	if j.op != "disable_user" {
		return nil
	}
	return &connector.Undo{Connector: Name, Operation: "enable_user", Args: map[string]any{"user": j.user},
		Summary: "enable Entra ID user " + j.user}
}

// Simulate validates the call and returns the requests Execute may send.
// It fetches no token.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	if j.op == "revoke_sessions" {
		return connector.Result{Summary: "would revoke the sign-in sessions of Entra ID user " + j.user,
			Commands: []string{c.api.Line(revokeReq(j.user))}}, nil
	}
	want := j.op == "enable_user"
	return connector.Result{Summary: fmt.Sprintf("would set accountEnabled %v on Entra ID user %s", want, j.user),
		Commands: []string{c.api.Line(getReq(j.user)), c.api.Line(patchReq(j.user, want)), c.api.Line(getReq(j.user))},
		Undo:     undo(j)}, nil
}

type user struct {
	AccountEnabled *bool `json:"accountEnabled"`
}

// Execute reads the user, changes accountEnabled when needed and reads it
// back; or revokes the user's sessions.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	what := Name + "." + j.op
	res := connector.Result{Outputs: map[string]any{"user": j.user}}
	do := func(r apiclient.Request, out any) error {
		res.Commands = append(res.Commands, c.api.Line(r))
		_, err := clientcreds.Do(ctx, c.tok, c.api, r, out)
		return err
	}
	if j.op == "revoke_sessions" {
		var ans struct {
			Value *bool `json:"value"`
		}
		if err := do(revokeReq(j.user), &ans); err != nil {
			return res, fmt.Errorf("%s %s: %w", what, j.user, err)
		}
		if ans.Value != nil && !*ans.Value {
			return res, connector.Errorf(connector.Permanent, "%s %s: Graph answered value false", what, j.user)
		}
		res.Outputs["revoked_at"] = time.Now().UTC().Format(time.RFC3339)
		res.Summary = "Entra ID user " + j.user + ": sign-in sessions revoked (cannot be undone)"
		return res, nil
	}
	want := j.op == "enable_user"
	read := func() (bool, error) {
		var u user
		if err := do(getReq(j.user), &u); err != nil {
			return false, err
		}
		if u.AccountEnabled == nil {
			return false, connector.Errorf(connector.Unknown, "Graph answered without accountEnabled")
		}
		return *u.AccountEnabled, nil
	}
	enabled, err := read()
	if err != nil {
		return res, fmt.Errorf("%s: reading user %s: %w", what, j.user, err)
	}
	res.Outputs["account_enabled"], res.Outputs["already"] = enabled, enabled == want
	if enabled == want {
		res.Summary = fmt.Sprintf("Entra ID user %s already had accountEnabled %v; nothing changed", j.user, enabled)
		return res, nil
	}
	if err := do(patchReq(j.user, want), nil); err != nil {
		return res, fmt.Errorf("%s %s: %w", what, j.user, err)
	}
	for i := 0; ; i++ {
		if enabled, err = read(); err != nil {
			return res, connector.Errorf(connector.Unknown, "%s %s: Graph accepted the change, then reading it back failed: %v", what, j.user, err)
		}
		res.Outputs["account_enabled"] = enabled
		if enabled == want {
			break
		}
		if i == 2 {
			return res, connector.Errorf(connector.Unknown, "%s %s: Graph accepted the change but still reads accountEnabled %v", what, j.user, enabled)
		}
		t := time.NewTimer(c.verifyWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, connector.Errorf(connector.Unknown, "%s %s: not read back before the deadline: %v", what, j.user, ctx.Err())
		case <-t.C:
		}
	}
	verb := "disabled"
	if want {
		verb = "enabled"
	}
	res.Summary = fmt.Sprintf("Entra ID user %s %s (accountEnabled %v read back)", j.user, verb, enabled)
	res.Undo = undo(j)
	return res, nil
}
