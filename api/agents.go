package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/openc2"
)

func (s *Server) agentRoutes() []Route {
	if s.d.Fleet == nil {
		return nil
	}
	return []Route{
		{Method: "POST", Path: "/api/v1/agents/enroll", Role: Public, Summary: "A new host agent trades its one-time enrollment token for its identity.",
			Body: `{"token": "...", "public_key": "<base64 Ed25519>", "hostname": "web-1", "nats_public_key": "U... (its NATS user nkey; a server on a NATS cluster answers nats_jwt)"}`, handler: s.enrollAgent},
		{Method: "GET", Path: "/api/v1/agents", Role: auth.Viewer, Summary: "Enrolled host agents with their inventory and last heartbeat.", handler: s.listAgents},
		{Method: "POST", Path: "/api/v1/agents/tokens", Role: auth.Admin, Summary: "Create a one-time enrollment token (shown once).",
			Body: `{"ttl": "24h"}`, handler: s.createAgentToken},
		{Method: "POST", Path: "/api/v1/agents/breakglass", Role: auth.Admin, Summary: "Lift a host's isolation when it cannot be reached: its isolation decisions are reverted and a one-time signed release token is returned for root on the host (riposte agent release).",
			Body: `{"host": "web-1", "reason": "...", "ttl": "1h"}`, handler: s.breakGlass},
		{Method: "POST", Path: "/api/v1/agents/{id}/revoke", Role: auth.Admin, Summary: "Revoke an agent: its credential is refused from now on (on every server of a NATS cluster that trusts Riposte; 502 revocation_not_confirmed when a server did not confirm, retried until it does).", handler: s.revokeAgent},
		{Method: "PUT", Path: "/api/v1/agents/evidence", Role: AgentAuth, Summary: "An agent uploads evidence for one of its pending commands (HTTP Basic: agent-<id> and its credential; X-Riposte-SHA256 must match the content).",
			Query: []Param{{"command", "the command the evidence answers", true}, {"name", "file name", true}}, handler: s.uploadEvidence},
		{Method: "GET", Path: "/api/v1/evidence", Role: auth.Viewer, Summary: "Stored evidence with its custody record (who asked, when, which incident, which host, SHA-256).",
			Query: []Param{{"incident", "only this incident's", false}}, handler: s.listEvidence},
		{Method: "GET", Path: "/api/v1/evidence/{id}", Role: auth.Analyst, Summary: "Download one item; refused if its content no longer matches its recorded SHA-256.", handler: s.getEvidence},
		{Method: "POST", Path: "/openc2", Role: auth.Responder, Summary: "OpenC2 producer endpoint: a command (bare, or in the HTTPS transfer envelope) for the agent named by the actuator's hostname; containment becomes a held decision.",
			Body: `{"action": "deny", "target": {"ipv4_net": "203.0.113.7"}, "actuator": {"slpf": {"hostname": "web-1"}}}`, handler: s.openc2},
	}
}

// enrollAnswer is an enrolment's answer (named for the OpenAPI document).
type enrollAnswer struct {
	fleet.EnrollResponse
	NATSURL string `json:"nats_url"`
}

func (s *Server) enrollAgent(w http.ResponseWriter, r *http.Request, _ *Caller) {
	var in fleet.EnrollRequest
	if !decodeBody(w, r, &in) {
		return
	}
	resp, err := s.d.Fleet.Enroll(r.Context(), in, time.Now().UTC())
	if errors.Is(err, fleet.ErrEnroll) {
		httpjson.Error(w, http.StatusForbidden, "enrollment_refused", err.Error())
		return
	} else if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	out := enrollAnswer{resp, s.d.AgentBusURL(r)}
	httpjson.Write(w, http.StatusOK, out)
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request, _ *Caller) {
	httpjson.Write(w, http.StatusOK, map[string]any{"agents": nonNil(s.d.Fleet.List())})
}

type agentTokenRequest struct{ TTL string }

func (s *Server) createAgentToken(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in agentTokenRequest
	if r.ContentLength != 0 && !decodeBody(w, r, &in) {
		return
	}
	ttl := 24 * time.Hour
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil {
			badRequest(w, "ttl %q: want a duration like 24h", in.TTL)
			return
		}
		ttl = d
	}
	secret, rec, err := s.d.Fleet.CreateToken(r.Context(), ttl, c.Actor())
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	httpjson.Write(w, http.StatusCreated, map[string]any{"id": rec.ID, "token": secret, "expires": rec.Expires})
}

func (s *Server) revokeAgent(w http.ResponseWriter, r *http.Request, c *Caller) {
	if err := s.d.Fleet.Revoke(r.Context(), r.PathValue("id"), c.Actor()); errors.Is(err, fleet.ErrNotConfirmed) {
		// Revoked here; the NATS cluster is told again until every server
		// confirms: the caller may retry to see it confirmed.
		httpjson.Error(w, http.StatusBadGateway, "revocation_not_confirmed", err.Error())
		return
	} else if err != nil {
		httpjson.Error(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"revoked": r.PathValue("id")})
}

// openc2 takes a command from an outside producer. Containment (deny,
// contain) is recorded as a decision with the caller as owner, so it has an
// expiry, an undo and the same enforcement as Riposte's own; everything
// else goes to the agent as is. The answer is an OpenC2 response, wrapped
// in the transfer envelope when the request was.
func (s *Server) openc2(w http.ResponseWriter, r *http.Request, c *Caller) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 256<<10))
	if err != nil {
		badRequest(w, "body: %v", err)
		return
	}
	var env struct {
		Headers map[string]any `json:"headers"`
		Body    struct {
			OpenC2 struct {
				Request json.RawMessage `json:"request"`
			} `json:"openc2"`
		} `json:"body"`
	}
	raw, wrapped := json.RawMessage(body), false
	if json.Unmarshal(body, &env) == nil && len(env.Body.OpenC2.Request) > 0 {
		raw, wrapped = env.Body.OpenC2.Request, true
	}
	answer := func(status int, rsp openc2.Response) {
		if !wrapped {
			httpjson.Write(w, status, rsp)
			return
		}
		h := map[string]any{"created": time.Now().UnixMilli(), "from": "riposte"}
		if id, ok := env.Headers["request_id"]; ok {
			h["request_id"] = id
		}
		if from, ok := env.Headers["from"]; ok {
			h["to"] = from
		}
		httpjson.Write(w, status, map[string]any{"headers": h, "body": map[string]any{"openc2": map[string]any{"response": rsp}}})
	}
	cmd, err := openc2.DecodeCommand(openc2.ComponentRiposte, raw)
	if err != nil {
		answer(http.StatusBadRequest, openc2.Response{Status: 400, StatusText: err.Error()})
		return
	}
	host := actuatorHost(cmd)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if d, active, ok, err := s.openc2Decision(ctx, cmd, host, c); ok {
		if err != nil {
			answer(http.StatusBadRequest, openc2.Response{Status: 400, StatusText: err.Error()})
			return
		}
		outs := s.d.Fleet.Await(ctx, d, active)
		rsp := openc2.Response{Status: 200, Results: map[string]json.RawMessage{}}
		if d.Kind == decision.DenyIP && active {
			rsp.Results["slpf"] = mustJSON(map[string]any{"rule_number": d.Rule})
		}
		rsp.Results["x-riposte"] = mustJSON(map[string]any{"decision": d.ID, "expires": d.Expires, "agents": outs})
		for _, o := range outs {
			if o.Status != 200 && !(o.Status == 404 && !active) {
				rsp.Status, rsp.StatusText = 500, fmt.Sprintf("decision %s recorded; agent on %s answered %d %s", d.ID, o.Hostname, o.Status, o.Text)
			}
		}
		answer(http.StatusOK, rsp)
		return
	}
	if (cmd.Action == "allow" || cmd.Action == "deny") && (strings.HasSuffix(cmd.Target.Name, "_net") || strings.HasSuffix(cmd.Target.Name, "_connection")) {
		// Agents hold exactly the decisions: a rule that is not one would
		// be removed at the next heartbeat, or could take a rule number a
		// decision needs.
		answer(http.StatusNotImplemented, openc2.Response{Status: 501, StatusText: "Not Implemented: " + cmd.Action + " " + cmd.Target.Name +
			" is not taken from producers; deny ipv4_net/ipv6_net (held as a decision) is"})
		return
	}
	if host == "" {
		answer(http.StatusBadRequest, openc2.Response{Status: 400, StatusText: "actuator: name the host (actuator {\"er\"|\"slpf\": {\"hostname\": ...}})"})
		return
	}
	a, ok := s.d.Fleet.ByHost(host)
	if !ok {
		answer(http.StatusNotFound, openc2.Response{Status: 404, StatusText: "no enrolled agent on host " + host})
		return
	}
	id := "oc2-" + c.Token.ID + "-" + cmd.CommandID
	if cmd.CommandID == "" {
		id = "oc2-" + fmt.Sprint(time.Now().UnixNano())
	}
	_, rsp, err := s.d.Fleet.Send(ctx, a.ID, sanitizeID(id), raw, fleet.Requester{Actor: c.Actor()})
	if err != nil {
		answer(http.StatusGatewayTimeout, openc2.Response{Status: 503, StatusText: err.Error()})
		return
	}
	if err := s.d.Audit.Append(r.Context(), c.Actor(), "openc2.command", "agent:"+a.ID, map[string]any{"action": cmd.Action, "target": cmd.Target.Name, "status": rsp.Status}); err != nil {
		s.d.Log.Error("audit", "err", err)
	}
	answer(http.StatusOK, *rsp)
}

func sanitizeID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func actuatorHost(c *openc2.Command) string {
	if c.Actuator == nil {
		return ""
	}
	var sp struct {
		Hostname string `json:"hostname"`
	}
	_ = json.Unmarshal(c.Actuator.Specifiers, &sp)
	return sp.Hostname
}

// openc2Decision turns containment commands into decisions. ok is false
// for commands that are not containment.
func (s *Server) openc2Decision(ctx context.Context, c *openc2.Command, host string, caller *Caller) (decision.Decision, bool, bool, error) {
	now := time.Now().UTC()
	reason := "OpenC2 command from " + caller.Actor()
	if c.Args != nil && c.Args.Comment != "" {
		reason = c.Args.Comment
	}
	switch {
	case c.Action == "deny" && (c.Target.Name == "ipv4_net" || c.Target.Name == "ipv6_net"):
		var v string
		_ = json.Unmarshal(c.Target.Value, &v)
		d := decision.Decision{Kind: decision.DenyIP, Target: v, Host: host, Owner: caller.Actor(), Reason: reason}
		ttl := time.Duration(0)
		if c.Args != nil && c.Args.StopTime != nil {
			d.Expires = time.UnixMilli(*c.Args.StopTime).UTC()
		} else if c.Args != nil && c.Args.Duration != nil {
			ttl = time.Duration(*c.Args.Duration) * time.Millisecond
		}
		d, err := s.d.Decisions.Add(ctx, d, ttl, now)
		return d, true, true, err
	case c.Action == "delete" && c.Target.Name == "slpf:rule_number":
		var n int64
		_ = json.Unmarshal(c.Target.Value, &n)
		d, err := s.decisionByRule(ctx, n, now)
		if err != nil {
			return d, false, true, err
		}
		if host != "" && d.Host != "" && !strings.EqualFold(d.Host, host) {
			return d, false, true, fmt.Errorf("rule %d is scoped to host %s, not %s", n, d.Host, host)
		}
		d, err = s.d.Decisions.Revert(ctx, d.ID, caller.Actor(), reason, now)
		return d, false, true, err
	case c.Action == "contain" && c.Target.Name == "device":
		var dev struct {
			Hostname string `json:"hostname"`
		}
		_ = json.Unmarshal(c.Target.Value, &dev)
		if dev.Hostname == "" {
			dev.Hostname = host
		}
		d := decision.Decision{Kind: decision.ContainHost, Target: dev.Hostname, Owner: caller.Actor(), Reason: reason}
		ttl := time.Duration(-1)
		if c.Args != nil && c.Args.Duration != nil {
			ttl = time.Duration(*c.Args.Duration) * time.Millisecond
		}
		d, err := s.d.Decisions.Add(ctx, d, ttl, now)
		return d, true, true, err
	case c.Action == "allow" && c.Target.Name == "device":
		var dev struct {
			Hostname string `json:"hostname"`
		}
		_ = json.Unmarshal(c.Target.Value, &dev)
		if dev.Hostname == "" {
			dev.Hostname = host
		}
		ds, err := s.d.Decisions.List(ctx, false, now)
		if err != nil {
			return decision.Decision{}, false, true, err
		}
		for _, d := range ds {
			if d.Kind == decision.ContainHost && strings.EqualFold(d.Target, dev.Hostname) {
				d, err := s.d.Decisions.Revert(ctx, d.ID, caller.Actor(), reason, now)
				return d, false, true, err
			}
		}
		return decision.Decision{}, false, true, fmt.Errorf("host %s is not contained", dev.Hostname)
	}
	return decision.Decision{}, false, false, nil
}

func (s *Server) decisionByRule(ctx context.Context, rule int64, now time.Time) (decision.Decision, error) {
	ds, err := s.d.Decisions.List(ctx, false, now)
	if err != nil {
		return decision.Decision{}, err
	}
	for _, d := range ds {
		if d.Rule == rule && d.Kind == decision.DenyIP {
			return d, nil
		}
	}
	return decision.Decision{}, fmt.Errorf("no active decision has rule number %d", rule)
}

func (s *Server) uploadEvidence(w http.ResponseWriter, r *http.Request, _ *Caller) {
	user, pass, ok := r.BasicAuth()
	id, isAgent := strings.CutPrefix(user, "agent-")
	if !ok || !isAgent || !s.d.Fleet.CheckCredential(id, pass) {
		w.Header().Set("WWW-Authenticate", `Basic realm="riposte-agents"`)
		httpjson.Error(w, http.StatusUnauthorized, "unauthenticated", "evidence uploads need the agent's credential")
		return
	}
	q := r.URL.Query()
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("X-Riposte-Signature"))
	if err != nil || r.ContentLength < 0 {
		badRequest(w, "an upload needs Content-Length and X-Riposte-Signature (base64)")
		return
	}
	var body io.Reader = r.Body
	if p := s.d.Limits.Pace; p != nil {
		// Evidence can be large: the body may take as long as it keeps
		// the minimum rate, instead of the server's read timeout.
		pb := p.Body(w, r)
		defer pb.Close()
		body = pb
	}
	e, err := s.d.Fleet.StoreEvidence(r.Context(), id, q.Get("command"), q.Get("name"), r.Header.Get("X-Riposte-SHA256"), r.ContentLength, sig, body)
	switch {
	case errors.Is(err, fleet.ErrEvidence):
		badRequest(w, "%v", err)
	case err != nil:
		httpjson.Error(w, http.StatusInternalServerError, "internal", err.Error())
	default:
		httpjson.Write(w, http.StatusCreated, e)
	}
}

func (s *Server) listEvidence(w http.ResponseWriter, r *http.Request, _ *Caller) {
	es, err := s.d.Fleet.ListEvidence(r.Context(), r.URL.Query().Get("incident"))
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"evidence": nonNil(es)})
}

func (s *Server) getEvidence(w http.ResponseWriter, r *http.Request, c *Caller) {
	e, f, err := s.d.Fleet.OpenEvidence(r.Context(), r.PathValue("id"))
	if errors.Is(err, os.ErrNotExist) {
		httpjson.Error(w, http.StatusNotFound, "not_found", err.Error())
		return
	} else if err != nil {
		httpjson.Error(w, http.StatusConflict, "integrity", err.Error())
		return
	}
	defer f.Close()
	// Every access is part of the chain of custody.
	_ = s.d.Audit.Append(r.Context(), c.Actor(), "evidence.read", "evidence:"+e.ID, map[string]string{"sha256": e.SHA256})
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", e.Name))
	w.Header().Set("X-Riposte-SHA256", e.SHA256)
	w.Header().Set("Content-Length", fmt.Sprint(e.Size))
	if p := s.d.Limits.Pace; p != nil && p.MinRate > 0 {
		// A large item may take longer than the server's write timeout;
		// give it the time the minimum rate allows.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(p.Write + time.Duration(e.Size/p.MinRate)*time.Second))
	}
	_, _ = io.Copy(w, f)
}

type breakGlassRequest struct{ Host, Reason, TTL string }

func (s *Server) breakGlass(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in breakGlassRequest
	if !decodeBody(w, r, &in) {
		return
	}
	ttl := time.Hour
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil {
			badRequest(w, "ttl %q: want a duration like 1h", in.TTL)
			return
		}
		ttl = d
	}
	tok, reverted, err := s.d.Fleet.BreakGlass(r.Context(), in.Host, c.Actor(), in.Reason, ttl)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	httpjson.Write(w, http.StatusCreated, map[string]any{"token": tok, "reverted": nonNil(reverted)})
}
