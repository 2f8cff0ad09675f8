package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/internal/httpjson"
)

func (s *Server) decisionRoutes() []Route {
	if s.d.Decisions == nil {
		return nil
	}
	return []Route{
		{Method: "GET", Path: "/api/v1/decisions", Role: auth.Viewer, Summary: "Containment decisions: active ones, or all with all=1.", handler: s.listDecisions,
			Query: []Param{{"all", "1 to include expired and reverted decisions", false}}},
		{Method: "POST", Path: "/api/v1/decisions", Role: auth.Responder, Summary: "Record a containment decision (deny_ip or contain_host) with a reason; repeat offenders get longer bans.",
			Body: `{"kind": "deny_ip", "target": "203.0.113.7", "host": "", "ttl": "1h" | "until_reverted" | "", "reason": "...", "incident": "...", "force": false}`, handler: s.addDecision},
		{Method: "POST", Path: "/api/v1/decisions/{id}/revert", Role: auth.Responder, Summary: "Revert a decision now.", Body: `{"reason": "..."}`, handler: s.revertDecision},
	}
}

// enforced is a decision with the agents that report enforcing it in
// their last heartbeat, and those that should but do not (yet).
type enforced struct {
	decision.Decision
	EnforcedBy []string `json:"enforced_by"`
	Missing    []string `json:"missing_on"`
}

func (s *Server) listDecisions(w http.ResponseWriter, r *http.Request, _ *Caller) {
	ds, err := s.d.Decisions.List(r.Context(), r.URL.Query().Get("all") == "1", time.Now().UTC())
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	if s.d.Fleet == nil {
		httpjson.Write(w, http.StatusOK, map[string]any{"decisions": nonNil(ds)})
		return
	}
	// Each decision with the agents that report enforcing it in their
	// last heartbeat, and those that should but do not (yet).
	agents := s.d.Fleet.List()
	out := make([]enforced, 0, len(ds))
	for _, d := range ds {
		e := enforced{Decision: d, EnforcedBy: []string{}, Missing: []string{}}
		for _, a := range agents {
			if a.Revoked || !a.Enforces(d) || !d.Active(time.Now()) {
				continue
			}
			if a.Holds(d) {
				e.EnforcedBy = append(e.EnforcedBy, a.Hostname)
			} else {
				e.Missing = append(e.Missing, a.Hostname)
			}
		}
		out = append(out, e)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"decisions": out})
}

type decisionRequest struct {
	Kind, Target, Host, TTL, Reason, Incident string
	// Force passes the decision limits (a wide network, a protected
	// address): an admin's call, audited.
	Force bool
}

type decisionAdded struct {
	decision.Decision
	// Agents are the enforcing agents' verified answers.
	Agents []fleet.Outcome `json:"agents,omitempty"`
}

func (s *Server) addDecision(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in decisionRequest
	if !decodeBody(w, r, &in) {
		return
	}
	var ttl time.Duration
	switch in.TTL {
	case "":
	case "until_reverted":
		ttl = -1
	default:
		d, err := time.ParseDuration(in.TTL)
		if err != nil || d <= 0 {
			badRequest(w, "ttl %q: want a duration like 1h, until_reverted, or nothing for the repeat-offender schedule", in.TTL)
			return
		}
		ttl = d
	}
	if in.Force && c.Token.Role != auth.Admin {
		httpjson.Error(w, http.StatusForbidden, "forbidden", "force needs role admin; this token has role "+string(c.Token.Role))
		return
	}
	d, err := s.d.Decisions.Add(r.Context(), decision.Decision{Kind: in.Kind, Target: in.Target, Host: in.Host, Owner: c.Actor(),
		Reason: in.Reason, Incident: in.Incident, Forced: in.Force}, ttl, time.Now().UTC())
	if errors.Is(err, decision.ErrRefused) {
		httpjson.Error(w, http.StatusUnprocessableEntity, "refused", "decision: "+err.Error())
		return
	}
	if err != nil {
		badRequest(w, "decision: %v", err)
		return
	}
	out := decisionAdded{Decision: d}
	if s.d.Fleet != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		out.Agents = s.d.Fleet.Await(ctx, d, true)
		cancel()
	}
	httpjson.Write(w, http.StatusCreated, out)
}

type revertRequest struct{ Reason string }

func (s *Server) revertDecision(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in revertRequest
	if r.ContentLength != 0 && !decodeBody(w, r, &in) {
		return
	}
	d, err := s.d.Decisions.Revert(r.Context(), r.PathValue("id"), c.Actor(), in.Reason, time.Now().UTC())
	switch {
	case errors.Is(err, decision.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not_found", err.Error())
	case err != nil:
		httpjson.Error(w, http.StatusConflict, "conflict", err.Error())
	default:
		httpjson.Write(w, http.StatusOK, d)
	}
}
