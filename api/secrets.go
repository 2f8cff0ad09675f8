package api

import (
	"errors"
	"net/http"

	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/secret"
)

// secretRequest is PUT /api/v1/secrets/{name}'s body. The value goes in
// and never comes out: no route answers it.
type secretRequest struct {
	Value string `json:"value"`
}

func (s *Server) putSecret(w http.ResponseWriter, r *http.Request, c *Caller) {
	if s.d.Secrets == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "this node has no secret store")
		return
	}
	name := r.PathValue("name")
	var in secretRequest
	if !decodeBody(w, r, &in) {
		return
	}
	// Set audits the change (name and size) in the transaction that
	// stores it; its errors name the secret, never the value.
	if err := s.d.Secrets.Set(r.Context(), name, []byte(in.Value), c.Actor()); err != nil {
		badRequest(w, "%v", err)
		return
	}
	m, err := s.d.Secrets.Meta(r.Context(), name)
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, m)
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request, _ *Caller) {
	if s.d.Secrets == nil {
		httpjson.Write(w, http.StatusOK, map[string]any{"secrets": []secret.Meta{}})
		return
	}
	ms, err := s.d.Secrets.List(r.Context())
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"secrets": nonNil(ms)})
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request, c *Caller) {
	if s.d.Secrets == nil {
		httpjson.Error(w, http.StatusNotFound, "not_found", "this node has no secret store")
		return
	}
	if err := s.d.Secrets.Delete(r.Context(), r.PathValue("name"), c.Actor()); err != nil {
		if errors.Is(err, secret.ErrNotFound) {
			httpjson.Error(w, http.StatusNotFound, "not_found", err.Error())
			return
		}
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
