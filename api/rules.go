package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/detect"
	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/rulestore"
)

// RuleService is what the rule routes need (detect.Manager provides it).
type RuleService interface {
	List(ctx context.Context) ([]rulestore.Rule, error)
	Get(ctx context.Context, id string) (rulestore.Rule, rulestore.Version, error)
	History(ctx context.Context, id string) ([]rulestore.Version, error)
	Active(ctx context.Context) ([]rulestore.Version, error)
	Put(ctx context.Context, body []byte, author, reason string) (rulestore.Version, error)
	SetEnabled(ctx context.Context, id string, on bool, author, reason string) error
	Rollback(ctx context.Context, id string, to int, author, reason string) (rulestore.Version, error)
}

func (s *Server) ruleRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/rules", Role: auth.Viewer, Summary: "Detection rules with their current version and state.", handler: s.listRules},
		{Method: "GET", Path: "/api/v1/rules/active", Role: auth.Viewer, Summary: "The current version (with body) of every enabled rule.", handler: s.activeRules},
		{Method: "GET", Path: "/api/v1/rules/{id}", Role: auth.Viewer, Summary: "A rule and its current version.", handler: s.getRule},
		{Method: "GET", Path: "/api/v1/rules/{id}/versions", Role: auth.Viewer, Summary: "Every version of a rule: author, time, reason, body.", handler: s.ruleHistory},
		{Method: "POST", Path: "/api/v1/rules", Role: auth.Analyst, Summary: "Add a rule or store its next version; validated against the active set, then hot-loaded.",
			Body: `{"body": "<Sigma YAML>", "reason": "..."}`, handler: s.putRule},
		{Method: "POST", Path: "/api/v1/rules/{id}/disable", Role: auth.Analyst, Summary: "Disable a rule.", Body: `{"reason": "..."}`, handler: s.toggleRule(false)},
		{Method: "POST", Path: "/api/v1/rules/{id}/enable", Role: auth.Analyst, Summary: "Enable a rule.", Body: `{"reason": "..."}`, handler: s.toggleRule(true)},
		{Method: "GET", Path: "/api/v1/alerts/stream", Role: auth.Viewer, Summary: "Alerts as detection raised them, from the alerts stream, oldest first.", handler: s.listAlerts,
			Query: []Param{{"after", "stream sequence to start after (the previous answer's next)", false}, {"limit", "1-1000 (default 100)", false}}},
		{Method: "POST", Path: "/api/v1/rules/{id}/rollback", Role: auth.Analyst, Summary: "Make an earlier version current again, as a new version.",
			Body: `{"version": 2, "reason": "..."}`, handler: s.rollbackRule},
	}
}

func (s *Server) ruleError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, rulestore.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, rulestore.ErrUnchanged):
		httpjson.Error(w, http.StatusConflict, "unchanged", err.Error())
	case isValidation(err):
		httpjson.Error(w, http.StatusUnprocessableEntity, "invalid_rule", err.Error())
	default:
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
	}
}

// isValidation recognizes a refusal on the rule's merits without importing
// the detect package's type.
func isValidation(err error) bool {
	var v interface{ ValidationErrors() []string }
	return errors.As(err, &v)
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request, _ *Caller) {
	rs, err := s.d.Rules.List(r.Context())
	if err != nil {
		s.ruleError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"rules": nonNil(rs)})
}

func (s *Server) activeRules(w http.ResponseWriter, r *http.Request, _ *Caller) {
	vs, err := s.d.Rules.Active(r.Context())
	if err != nil {
		s.ruleError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"versions": nonNil(vs)})
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request, _ *Caller) {
	rule, v, err := s.d.Rules.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.ruleError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"rule": rule, "version": v})
}

func (s *Server) ruleHistory(w http.ResponseWriter, r *http.Request, _ *Caller) {
	vs, err := s.d.Rules.History(r.Context(), r.PathValue("id"))
	if err != nil {
		s.ruleError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"versions": vs})
}

func (s *Server) putRule(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in sourceRequest
	if !decodeBody(w, r, &in) {
		return
	}
	if in.Body == "" {
		badRequest(w, "body: the rule's YAML is required")
		return
	}
	v, err := s.d.Rules.Put(r.Context(), []byte(in.Body), c.Actor(), in.Reason)
	if err != nil {
		s.ruleError(w, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, v)
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) toggleRule(on bool) func(http.ResponseWriter, *http.Request, *Caller) {
	return func(w http.ResponseWriter, r *http.Request, c *Caller) {
		var in reasonRequest
		if r.ContentLength != 0 && !decodeBody(w, r, &in) {
			return
		}
		if err := s.d.Rules.SetEnabled(r.Context(), r.PathValue("id"), on, c.Actor(), in.Reason); err != nil {
			s.ruleError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) rollbackRule(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in rollbackRequest
	if !decodeBody(w, r, &in) {
		return
	}
	if in.Version < 1 {
		badRequest(w, "version: the version to restore is required")
		return
	}
	v, err := s.d.Rules.Rollback(r.Context(), r.PathValue("id"), in.Version, c.Actor(), in.Reason)
	if err != nil {
		s.ruleError(w, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, v)
}

// AlertReader lists alerts from the alerts stream.
type AlertReader interface {
	After(ctx context.Context, seq uint64, limit int) ([]detect.StreamAlert, error)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request, _ *Caller) {
	q := r.URL.Query()
	var after uint64
	limit := 100
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			badRequest(w, "after=%q must be a stream sequence number", v)
			return
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			badRequest(w, "limit=%q must be a whole number from 1 to 1000", v)
			return
		}
		limit = n
	}
	as, err := s.d.Alerts.After(r.Context(), after, limit)
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "stream_error", err.Error())
		return
	}
	next := after
	if len(as) > 0 {
		next = as[len(as)-1].Seq
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"alerts": nonNil(as), "next": next})
}
