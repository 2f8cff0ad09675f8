package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/notify/webhook"
	"github.com/riposte-soar/riposte/respond"
	"github.com/riposte-soar/riposte/rulestore"
	"github.com/riposte-soar/riposte/secret"
)

func (s *Server) respondRoutes() []Route {
	if s.d.Respond == nil {
		return nil
	}
	return []Route{
		{Method: "GET", Path: "/api/v1/incidents/{id}/undo", Role: auth.Viewer, Summary: "What playbooks did for an incident that recovery can undo, in order, and what is undone.", handler: s.listUndo},
		{Method: "POST", Path: "/api/v1/incidents/{id}/recover", Role: auth.Responder, Summary: "Undo, newest first, what playbooks did for an incident; each undo goes on the timeline.", handler: s.recoverIncident},
		{Method: "GET", Path: "/api/v1/playbooks", Role: auth.Viewer, Summary: "Playbooks with their current version and state.", handler: s.listPlaybooks},
		{Method: "POST", Path: "/api/v1/playbooks", Role: auth.Responder, Summary: "Add a playbook (our YAML or CACAO 2.0 JSON) or store its next version; checked against the connectors first.",
			Body: `{"body": "<YAML or CACAO JSON>", "reason": "..."}`, handler: s.putPlaybook},
		{Method: "GET", Path: "/api/v1/playbooks/{id}", Role: auth.Viewer, Summary: "A playbook's current version.", handler: s.getPlaybook},
		{Method: "GET", Path: "/api/v1/playbooks/{id}/versions", Role: auth.Viewer, Summary: "Every version of a playbook.", handler: s.playbookHistory},
		{Method: "POST", Path: "/api/v1/playbooks/{id}/rollback", Role: auth.Responder, Summary: "Make an earlier version current again, as a new version.",
			Body: `{"version": 1, "reason": "..."}`, handler: s.rollbackPlaybook},
		{Method: "POST", Path: "/api/v1/playbooks/{id}/disable", Role: auth.Responder, Summary: "Stop a playbook's triggers.", handler: s.togglePlaybook(false)},
		{Method: "POST", Path: "/api/v1/playbooks/{id}/enable", Role: auth.Responder, Summary: "Arm a playbook's triggers again.", handler: s.togglePlaybook(true)},
		{Method: "POST", Path: "/api/v1/playbooks/{id}/runs", Role: auth.Responder, Summary: "Start a playbook by hand, optionally for an incident.",
			Body: `{"incident": "id", "vars": {}, "again": false}`, handler: s.startRun},
		{Method: "POST", Path: "/api/v1/hooks/{name}", Role: auth.Ingest, Summary: "Inbound webhook: starts the playbooks whose webhook trigger has this name, with the JSON body as input. Signed with X-Riposte-Signature when the trigger names a secret.",
			Body: "a JSON object of input variables", handler: s.webhook},
		{Method: "GET", Path: "/api/v1/runs", Role: auth.Viewer, Summary: "Playbook runs, newest first.", handler: s.listRuns,
			Query: []Param{{"status", "running, succeeded, failed, cancelled...", false}, {"playbook", "playbook id", false}}},
		{Method: "GET", Path: "/api/v1/runs/{id}", Role: auth.Viewer, Summary: "A run's trace: steps, commands, results, variables, outcome.", handler: s.getRun},
		{Method: "POST", Path: "/api/v1/runs/{id}/cancel", Role: auth.Responder, Summary: "Cancel a run (and its child runs).", handler: s.cancelRun},
		{Method: "GET", Path: "/api/v1/approvals", Role: auth.Viewer, Summary: "Approvals and manual steps, open ones first.", handler: s.listApprovals,
			Query: []Param{{"state", "open, answered, expired, cancelled (default open)", false}}},
		{Method: "POST", Path: "/api/v1/approvals/{id}/approve", Role: auth.Responder, Summary: "Approve, with a comment and the form's values.", Body: `{"comment": "...", "values": {"field": "value"}}`, handler: s.answer(true)},
		{Method: "POST", Path: "/api/v1/approvals/{id}/deny", Role: auth.Responder, Summary: "Deny, with a comment.", Body: `{"comment": "..."}`, handler: s.answer(false)},
	}
}

func (s *Server) respondError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, rulestore.ErrNotFound), errors.Is(err, engine.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, rulestore.ErrUnchanged), errors.Is(err, engine.ErrDuplicateRun):
		httpjson.Error(w, http.StatusConflict, "conflict", err.Error())
	case isValidation(err):
		httpjson.Error(w, http.StatusUnprocessableEntity, "invalid_playbook", err.Error())
	default:
		httpjson.Error(w, http.StatusUnprocessableEntity, "refused", err.Error())
	}
}

func (s *Server) listPlaybooks(w http.ResponseWriter, r *http.Request, _ *Caller) {
	ps, err := s.d.Respond.Lib.Store.List(r.Context())
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"playbooks": nonNil(ps)})
}

// sourceRequest stores a rule's or playbook's next version.
type sourceRequest struct {
	Body   string `json:"body"`
	Reason string `json:"reason"`
}

func (s *Server) putPlaybook(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in sourceRequest
	if !decodeBody(w, r, &in) {
		return
	}
	v, err := s.d.Respond.Put(r.Context(), []byte(in.Body), c.Actor(), in.Reason)
	if err != nil {
		s.respondError(w, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, v)
}

func (s *Server) getPlaybook(w http.ResponseWriter, r *http.Request, _ *Caller) {
	p, v, err := s.d.Respond.Lib.Store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.respondError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"playbook": p, "version": v})
}

func (s *Server) playbookHistory(w http.ResponseWriter, r *http.Request, _ *Caller) {
	vs, err := s.d.Respond.Lib.Store.History(r.Context(), r.PathValue("id"))
	if err != nil {
		s.respondError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"versions": vs})
}

type rollbackRequest struct {
	Version int    `json:"version"`
	Reason  string `json:"reason"`
}

func (s *Server) rollbackPlaybook(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in rollbackRequest
	if !decodeBody(w, r, &in) {
		return
	}
	v, err := s.d.Respond.Rollback(r.Context(), r.PathValue("id"), in.Version, c.Actor(), in.Reason)
	if err != nil {
		s.respondError(w, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, v)
}

func (s *Server) togglePlaybook(on bool) func(http.ResponseWriter, *http.Request, *Caller) {
	return func(w http.ResponseWriter, r *http.Request, c *Caller) {
		if err := s.d.Respond.SetEnabled(r.Context(), r.PathValue("id"), on, c.Actor(), ""); err != nil {
			s.respondError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

type runRequest struct {
	Incident string         `json:"incident"`
	Vars     map[string]any `json:"vars"`
	Again    bool           `json:"again"`
}

func (s *Server) startRun(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in runRequest
	if r.ContentLength != 0 && !decodeBody(w, r, &in) {
		return
	}
	// The run's audit entry is written by the engine in the transaction
	// that starts it.
	si := respond.StartInput{Vars: in.Vars, Again: in.Again, Actor: c.Actor(), Trigger: "manual"}
	if in.Incident != "" {
		inc, err := s.d.Alarm.Store().Get(r.Context(), in.Incident)
		if err != nil {
			s.alarmError(w, err)
			return
		}
		si.Incident = inc
	}
	id, err := s.d.Respond.Start(r.Context(), r.PathValue("id"), si)
	if err != nil {
		s.respondError(w, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, map[string]string{"run": id})
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, _ *Caller) {
	q := r.URL.Query()
	runs, err := s.d.Respond.Engine.Runs(r.Context(), engine.RunFilter{Status: q.Get("status"), PlaybookID: q.Get("playbook"), Limit: 200})
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"runs": nonNil(runs)})
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request, _ *Caller) {
	tr, err := s.d.Respond.Engine.Trace(r.Context(), r.PathValue("id"))
	if err != nil {
		s.respondError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, tr)
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request, c *Caller) {
	if err := s.d.Respond.Engine.Cancel(r.Context(), r.PathValue("id"), c.Actor()); err != nil {
		s.respondError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request, _ *Caller) {
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "open"
	}
	if state == "all" {
		state = ""
	}
	inqs, err := s.d.Respond.Engine.Inquiries(r.Context(), engine.InquiryFilter{State: state})
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"approvals": nonNil(inqs)})
}

type answerRequest struct {
	Comment string         `json:"comment"`
	Values  map[string]any `json:"values"` // the approval's form
}

func (s *Server) answer(approve bool) func(http.ResponseWriter, *http.Request, *Caller) {
	return func(w http.ResponseWriter, r *http.Request, c *Caller) {
		var in answerRequest
		if r.ContentLength != 0 && !decodeBody(w, r, &in) {
			return
		}
		// The token's name is the person; its role, and every role it
		// includes (an admin may answer what a responder may), is what
		// role assignees can match.
		var roles []string
		for _, r := range auth.Roles {
			if c.Token.Role.Allows(r) {
				roles = append(roles, string(r))
			}
		}
		// The engine audits the answer in the transaction that applies it.
		ctx := engine.WithActor(r.Context(), c.Actor())
		if err := s.d.Respond.Engine.AnswerForm(ctx, r.PathValue("id"), approve, in.Comment, c.Token.Name, roles, in.Values); err != nil {
			s.respondError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request, c *Caller) {
	name := r.PathValue("name")
	ref, ok := s.d.Respond.WebhookSecret(name)
	if !ok {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no enabled playbook has webhook trigger "+name)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		badRequest(w, "body: %v", err)
		return
	}
	if ref != "" {
		key, err := s.webhookKey(r.Context(), ref)
		if err != nil {
			// Fail closed: a trigger that asks for a signature never
			// starts a run unsigned because its secret is missing.
			s.d.Log.Error("webhook trigger: its secret cannot be read; calls are refused", "webhook", name, "err", err)
			httpjson.Error(w, http.StatusServiceUnavailable, "secret_unavailable", "the webhook's secret_ref cannot be read: "+err.Error())
			return
		}
		// Signed as Riposte's own webhooks sign, checked by the same code.
		switch err := webhook.Verify(key, r.Header, body, 5*time.Minute, time.Now()); {
		case errors.Is(err, webhook.ErrStale):
			httpjson.Error(w, http.StatusUnauthorized, "stale_signature", "X-Riposte-Timestamp is missing or more than 5 minutes away")
			return
		case err != nil:
			httpjson.Error(w, http.StatusUnauthorized, "bad_signature", "X-Riposte-Signature does not match the webhook's secret")
			return
		}
	}
	vars := map[string]any{}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &vars); err != nil {
			badRequest(w, "body must be a JSON object of input variables: %v", err)
			return
		}
	}
	// Each run's start is audited with the caller by the engine.
	ids, err := s.d.Respond.Webhook(r.Context(), name, vars, r.Header.Get("Idempotency-Key"), c.Actor())
	if err != nil {
		s.respondError(w, err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, map[string]any{"runs": nonNil(ids)})
}

func (s *Server) listUndo(w http.ResponseWriter, r *http.Request, _ *Caller) {
	es, err := s.d.Respond.Ledger.Entries(r.Context(), r.PathValue("id"))
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"undo": nonNil(es)})
}

type recoveryStep struct {
	OK      bool   `json:"ok"`
	Summary string `json:"summary"`
}

func (s *Server) recoverIncident(w http.ResponseWriter, r *http.Request, c *Caller) {
	// Nothing to recover for what never existed: 404, and no audit entry.
	if _, err := s.d.Alarm.Store().Get(r.Context(), r.PathValue("id")); err != nil {
		s.alarmError(w, err)
		return
	}
	steps, err := s.d.Respond.Recover(r.Context(), r.PathValue("id"), c.Actor())
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	out := make([]recoveryStep, len(steps))
	failed := 0
	for i, st := range steps {
		out[i] = recoveryStep{st.OK, st.Summary}
		if !st.OK {
			failed++
		}
	}
	// Each undo was audited with its ledger write, each lifted decision
	// with its revert.
	httpjson.Write(w, http.StatusOK, map[string]any{"steps": out, "failed": failed})
}

// webhookKey reads a webhook trigger's signing key at each call, so a
// rotated secret applies from the next delivery on.
func (s *Server) webhookKey(ctx context.Context, ref string) ([]byte, error) {
	if v, ok := strings.CutPrefix(ref, "env:"); ok {
		return []byte(os.Getenv(v)), nil
	}
	if _, ok, err := secret.ParseRef(ref); ok || err != nil {
		if err != nil {
			return nil, err
		}
		if s.d.Secrets == nil {
			return nil, errors.New("this node has no secret store")
		}
		v, err := s.d.Secrets.Resolve(ctx, ref)
		return []byte(v), err
	}
	return nil, fmt.Errorf("%q is neither env:VAR nor secret://NAME", ref)
}
