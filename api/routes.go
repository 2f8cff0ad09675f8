package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/eventstore"
	"github.com/riposte-soar/riposte/ingest/sources/httpin"
	"github.com/riposte-soar/riposte/intake"
	"github.com/riposte-soar/riposte/internal/httpjson"
)

func (s *Server) table() []Route {
	return []Route{
		{Method: "GET", Path: "/healthz", Role: Public, Summary: "Liveness: 200 while the process runs.", handler: s.healthz},
		{Method: "GET", Path: "/readyz", Role: Public, Summary: "Readiness: 200 when the stores and the bus answer, 503 otherwise.", handler: s.readyz},
		{Method: "GET", Path: "/metrics", Role: Public, Summary: "Prometheus metrics.", handler: s.metrics},
		{Method: "GET", Path: "/api/v1/openapi.json", Role: Public, Summary: "This API's OpenAPI 3.1 document.", handler: s.openapi},
		{Method: "GET", Path: "/api/v1/whoami", Role: anyRole, Summary: "The calling token's name and role.", handler: s.whoami},
		{Method: "POST", Path: "/api/v1/events", Role: auth.Ingest, Summary: "Ingest events: one JSON object, an array, or NDJSON; gzip allowed. 202 once stored, with the lines refused and why.",
			Body: "JSON object, JSON array of objects, or NDJSON", handler: s.postEvents},
		{Method: "POST", Path: "/api/v1/alerts", Role: auth.Ingest, Summary: "Ingest alerts raised by other detectors (Suricata EVE, Zeek notice, Wazuh, Alertmanager webhook, generic JSON): one document, an array, or NDJSON, under the limits of event ingest. 202 once stored on the alerts stream, with the documents refused and why.",
			Body: "JSON object, JSON array of objects, or NDJSON", handler: s.postAlerts,
			Query: []Param{{"format", "suricata, zeek, wazuh, alertmanager or generic; without it each document's format is recognised by its shape", false}}},
		{Method: "GET", Path: "/api/v1/events", Role: auth.Viewer, Summary: "Stored events in a time window, oldest first, paged.", handler: s.getEvents,
			Query: []Param{{"host", "exact host name", false}, {"from", "RFC 3339 time, inclusive", false}, {"to", "RFC 3339 time, exclusive", false},
				{"q", "text contained in the raw event or its fields (case-insensitive for ASCII)", false},
				{"id", "only the event with this ID (an alert's event_ids)", false}, {"limit", "page size, 1-10000 (default 1000)", false},
				{"cursor", "next_cursor of the previous page", false}}},
		{Method: "GET", Path: "/api/v1/tokens", Role: auth.Admin, Summary: "List API tokens (never their secrets).", handler: s.listTokens},
		{Method: "POST", Path: "/api/v1/tokens", Role: auth.Admin, Summary: "Create a token; the secret is in this answer only.", Body: `{"name": "...", "role": "viewer|analyst|responder|admin|ingest", "expires": "30d (optional; or an RFC 3339 time)"}`, handler: s.createToken},
		{Method: "DELETE", Path: "/api/v1/tokens/{id}", Role: auth.Admin, Summary: "Revoke a token.", handler: s.revokeToken},
		{Method: "GET", Path: "/api/v1/secrets", Role: auth.Admin, Summary: "List secrets: names, sizes, who created and last set them; never a value.", handler: s.listSecrets},
		{Method: "PUT", Path: "/api/v1/secrets/{name}", Role: auth.Admin, Summary: "Create or replace (rotate) a secret; write-only: no route answers its value. A name with '/' is sent as %2F.", Body: `{"value": "..."}`, handler: s.putSecret},
		{Method: "DELETE", Path: "/api/v1/secrets/{name}", Role: auth.Admin, Summary: "Delete a secret.", handler: s.deleteSecret},
		{Method: "GET", Path: "/api/v1/audit", Role: auth.Admin, Summary: "Audit log entries after a sequence number.", handler: s.listAudit,
			Query: []Param{{"after", "sequence number to start after (default 0)", false}, {"limit", "1-1000 (default 100)", false}}},
		{Method: "GET", Path: "/api/v1/audit/verify", Role: auth.Admin, Summary: "Verify the audit hash chain; names the first broken entry.", handler: s.verifyAudit},
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ *Caller) {
	httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok", "version": s.d.Version})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *Caller) {
	if err := s.d.Ready(r.Context()); err != nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "not_ready", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ *Caller) {
	s.d.Metrics.ServeHTTP(w, r)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, c *Caller) {
	httpjson.Write(w, http.StatusOK, c.Token)
}

func (s *Server) postEvents(w http.ResponseWriter, r *http.Request, c *Caller) {
	// The token is the sender whose share of the in-flight budget the
	// request takes.
	s.d.Ingest.ServeHTTP(w, r.WithContext(httpin.WithSender(r.Context(), c.Token.ID)))
}

func (s *Server) postAlerts(w http.ResponseWriter, r *http.Request, c *Caller) {
	if s.d.IngestAlerts == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "alert intake is not running on this node")
		return
	}
	format := r.URL.Query().Get("format")
	if _, ok := intake.Lookup(format); format != "" && !ok {
		badRequest(w, "format %q is not one of %s", format, intake.Names())
		return
	}
	ctx := intake.WithFormat(httpin.WithSender(r.Context(), c.Token.ID), format)
	s.d.IngestAlerts.ServeHTTP(w, r.WithContext(ctx))
}

func badRequest(w http.ResponseWriter, format string, a ...any) {
	httpjson.Error(w, http.StatusBadRequest, "bad_request", fmt.Sprintf(format, a...))
}

func (s *Server) getEvents(w http.ResponseWriter, r *http.Request, _ *Caller) {
	q := r.URL.Query()
	var eq eventstore.Query
	eq.Host, eq.Text, eq.ID, eq.After = q.Get("host"), q.Get("q"), q.Get("id"), q.Get("cursor")
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &eq.From}, {"to", &eq.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				badRequest(w, "%s=%q is not an RFC 3339 time like 2026-11-26T10:00:00Z", p.name, v)
				return
			}
			*p.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			badRequest(w, "limit=%q must be a whole number from 1 to 10000", v)
			return
		}
		eq.Limit = n
	}
	evs, next, err := s.d.Events.Find(r.Context(), eq)
	if err != nil {
		if eq.After != "" {
			badRequest(w, "%v", err)
			return
		}
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"events": nonNil(evs), "next_cursor": next})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, _ *Caller) {
	ts, err := s.d.Tokens.List(r.Context())
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"tokens": nonNil(ts)})
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	d := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		badRequest(w, "request body: %v", err)
		return false
	}
	return true
}

// tokenRequest is POST /api/v1/tokens's body (named for the OpenAPI document).
type tokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Expires is a duration from now ("30d", "12h") or an RFC 3339
	// time; empty: the token never expires.
	Expires string `json:"expires"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in tokenRequest
	if !decodeBody(w, r, &in) {
		return
	}
	role, err := auth.ParseRole(in.Role)
	if err != nil {
		badRequest(w, "role: %v", err)
		return
	}
	exp, err := auth.ParseExpiry(in.Expires, time.Now())
	if err != nil {
		badRequest(w, "expires: %v", err)
		return
	}
	// Create audits the token in the transaction that stores it.
	secret, tok, err := s.d.Tokens.CreateExpiring(r.Context(), in.Name, role, c.Actor(), exp)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	httpjson.Write(w, http.StatusCreated, map[string]any{"token": tok, "secret": secret})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, c *Caller) {
	id := r.PathValue("id")
	if err := s.d.Tokens.RevokeBy(r.Context(), id, c.Actor()); err != nil {
		if errors.Is(err, auth.ErrUnknownToken) {
			httpjson.Error(w, http.StatusNotFound, "not_found", err.Error())
			return
		}
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, _ *Caller) {
	q := r.URL.Query()
	after, limit := int64(0), 100
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			badRequest(w, "after=%q must be a sequence number", v)
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
	es, err := s.d.Audit.List(r.Context(), after, limit)
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"entries": nonNil(es)})
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, _ *Caller) {
	n, brk, err := s.d.Audit.Verify(r.Context())
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"entries": n, "intact": brk == nil, "break": brk})
}
