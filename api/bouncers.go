package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/bouncer"
	"github.com/riposte-soar/riposte/internal/httpjson"
)

// BouncerAuth marks a route of the CrowdSec Local API: the handler checks
// the bouncer's key (X-Api-Key), and user tokens do not apply.
const BouncerAuth auth.Role = "bouncer"

// bouncerRoutes serve Riposte's decisions to CrowdSec bouncers under the
// paths the CrowdSec Local API uses, and show people what each pulled.
func (s *Server) bouncerRoutes() []Route {
	if s.d.Bouncers == nil {
		return nil
	}
	return []Route{
		{Method: "GET", Path: "/v1/decisions/stream", Role: BouncerAuth, handler: s.bouncerStream,
			Summary: "CrowdSec Local API for bouncers: with startup=true every deny decision in force for every host; otherwise what changed since this bouncer's last pull. HEAD checks the key. Errors are {\"message\": ...}.",
			Query: []Param{{"startup", "true on the bouncer's first pull", false}, {"scopes", "ip, range or both (default ip,range)", false},
				{"origins", "only decisions of these origins (Riposte's is riposte)", false},
				{"scenarios_containing", "only decisions whose scenario (reason) contains one of these", false},
				{"scenarios_not_containing", "leave out decisions whose scenario contains one of these", false}}},
		{Method: "GET", Path: "/v1/decisions", Role: BouncerAuth, handler: s.bouncerQuery,
			Summary: "CrowdSec Local API for live bouncers: the deny decisions in force that match, or null when none does.",
			Query: []Param{{"ip", "an address: decisions covering it", false}, {"range", "a CIDR: decisions covering it (contains=false: within it)", false},
				{"contains", "true (default) or false", false}, {"scope", "ip or range", false}, {"value", "exact value", false},
				{"type", "ban (the only type Riposte has)", false}, {"origins", "as for the stream", false},
				{"scenarios_containing", "as for the stream", false}, {"scenarios_not_containing", "as for the stream", false}}},
		{Method: "GET", Path: "/api/v1/bouncers", Role: auth.Viewer, Summary: "CrowdSec bouncers: when each last pulled, from where, and the decisions it holds (never a key).", handler: s.listBouncers},
		{Method: "GET", Path: "/api/v1/bouncers/{name}/pulls", Role: auth.Viewer, Summary: "A bouncer's pull log, newest first: each decision it was sent to enforce or lift.", handler: s.bouncerPulls,
			Query: []Param{{"limit", "1-2000 (default 2000)", false}}},
	}
}

func (s *Server) bouncerStream(w http.ResponseWriter, r *http.Request, _ *Caller) {
	s.d.Bouncers.Stream(w, r)
}

func (s *Server) bouncerQuery(w http.ResponseWriter, r *http.Request, _ *Caller) {
	s.d.Bouncers.Query(w, r)
}

func (s *Server) listBouncers(w http.ResponseWriter, r *http.Request, _ *Caller) {
	bs, err := s.d.Bouncers.Store.List(r.Context())
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"bouncers": nonNil(bs)})
}

func (s *Server) bouncerPulls(w http.ResponseWriter, r *http.Request, _ *Caller) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > bouncer.KeepPulls {
			badRequest(w, "limit=%q must be a whole number from 1 to %d", v, bouncer.KeepPulls)
			return
		}
		limit = n
	}
	ps, err := s.d.Bouncers.Store.Pulls(r.Context(), r.PathValue("name"), limit)
	if err != nil {
		if errors.Is(err, bouncer.ErrNotFound) {
			httpjson.Error(w, http.StatusNotFound, "not_found", err.Error())
			return
		}
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"pulls": ps})
}
