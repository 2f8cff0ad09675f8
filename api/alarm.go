package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/internal/httpjson"
)

func (s *Server) alarmRoutes() []Route {
	if s.d.Alarm == nil {
		return nil
	}
	return []Route{
		{Method: "GET", Path: "/api/v1/incidents", Role: auth.Viewer, Summary: "The incident queue: priority first, then age.", handler: s.listIncidents,
			Query: []Param{{"status", "comma-separated statuses (default: every open status)", false}, {"priority", "P1..P4", false},
				{"assignee", "", false}, {"limit", "1-1000 (default 100)", false}, {"offset", "", false}}},
		{Method: "GET", Path: "/api/v1/incidents/{id}", Role: auth.Viewer, Summary: "An incident with its alerts, timeline and response times.", handler: s.getIncident},
		{Method: "POST", Path: "/api/v1/incidents/{id}/assign", Role: auth.Analyst, Summary: "Assign an incident.", Body: `{"assignee": "..."}`, handler: s.changeIncident("assign")},
		{Method: "POST", Path: "/api/v1/incidents/{id}/status", Role: auth.Analyst, Summary: "Move an incident along new, triaged, contained, eradicated, recovered, closed.",
			Body: `{"status": "...", "comment": "..."}`, handler: s.changeIncident("status")},
		{Method: "POST", Path: "/api/v1/incidents/{id}/comment", Role: auth.Analyst, Summary: "Comment on an incident.", Body: `{"text": "..."}`, handler: s.changeIncident("comment")},
		{Method: "POST", Path: "/api/v1/incidents/{id}/verdict", Role: auth.Analyst, Summary: "Record true_positive, false_positive or benign.", Body: `{"verdict": "..."}`, handler: s.changeIncident("verdict")},
		{Method: "POST", Path: "/api/v1/incidents/{id}/tags", Role: auth.Analyst, Summary: "Add or remove tags.", Body: `{"add": [], "remove": []}`, handler: s.changeIncident("tags")},
		{Method: "POST", Path: "/api/v1/incidents/{id}/priority", Role: auth.Analyst, Summary: "Override the incident's priority and/or severity by hand (kept when new alerts join), or hand the rating back to detection with clear; audited, on the timeline.",
			Body: `{"priority": "P1..P4", "severity": 1, "clear": false, "reason": "..."}`, handler: s.changeIncident("priority")},
		{Method: "POST", Path: "/api/v1/incidents/{id}/merge", Role: auth.Analyst, Summary: "Merge other incidents into this one.", Body: `{"sources": ["id"], "reason": "..."}`, handler: s.mergeIncident},
		{Method: "POST", Path: "/api/v1/incidents/{id}/split", Role: auth.Analyst, Summary: "Move alerts out of this incident into a new one.", Body: `{"alerts": ["id"], "reason": "..."}`, handler: s.splitIncident},
		{Method: "GET", Path: "/api/v1/alerts/held", Role: auth.Viewer, Summary: "Alerts held by silences or inhibition (stored and counted, in no incident).", handler: s.heldAlerts},
		{Method: "GET", Path: "/api/v1/silences", Role: auth.Viewer, Summary: "Silences, with how many alerts each held.", handler: s.listSilences,
			Query: []Param{{"all", "1 to include ended silences", false}}},
		{Method: "POST", Path: "/api/v1/silences", Role: auth.Analyst, Summary: "Hold matching alerts for a time, with a reason.",
			Body: `{"matchers": [{"field": "host", "op": "=~", "value": "build-.*"}], "starts_at": "...", "ends_at": "...", "reason": "..."}`, handler: s.addSilence},
		{Method: "DELETE", Path: "/api/v1/silences/{id}", Role: auth.Analyst, Summary: "End a silence now.", handler: s.expireSilence},
		{Method: "GET", Path: "/api/v1/assets", Role: auth.Viewer, Summary: "Asset inventory; discovered=1 adds assets seen in alerts but not yet known.", handler: s.listAssets,
			Query: []Param{{"discovered", "1 to include discovered assets", false}}},
		{Method: "POST", Path: "/api/v1/assets", Role: auth.Admin, Summary: "Add or replace assets: a JSON list, CSV (text/csv) or YAML (application/yaml).", Body: "assets", handler: s.putAssets},
		{Method: "GET", Path: "/api/v1/metrics/response", Role: auth.Viewer, Summary: "Time to detect, acknowledge, contain and resolve; counts by priority, status, verdict and rule.", handler: s.responseMetrics,
			Query: []Param{{"from", "RFC 3339 (default 30 days ago)", false}, {"to", "RFC 3339 (default now)", false}}},
	}
}

func (s *Server) alarmError(w http.ResponseWriter, err error) {
	if errors.Is(err, alarm.ErrNotFound) {
		httpjson.Error(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	httpjson.Error(w, http.StatusUnprocessableEntity, "refused", err.Error())
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, _ *Caller) {
	q := r.URL.Query()
	f := alarm.Filter{Priority: q.Get("priority"), Assignee: q.Get("assignee")}
	if v := q.Get("status"); v != "" {
		for _, p := range strings.Split(v, ",") {
			st, err := alarm.ParseStatus(p)
			if err != nil {
				badRequest(w, "status: %v", err)
				return
			}
			f.Statuses = append(f.Statuses, st)
		}
	} else {
		f.Statuses = []alarm.Status{alarm.StatusNew, alarm.StatusTriaged, alarm.StatusContained, alarm.StatusEradicated, alarm.StatusRecovered}
	}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), 100, 1, 1000); err != nil {
		badRequest(w, "limit: %v", err)
		return
	}
	if f.Offset, err = intParam(q.Get("offset"), 0, 0, 1<<30); err != nil {
		badRequest(w, "offset: %v", err)
		return
	}
	incs, err := s.d.Alarm.Store().List(r.Context(), f)
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"incidents": nonNil(incs)})
}

func intParam(v string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q must be a whole number from %d to %d", v, lo, hi)
	}
	return n, nil
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request, _ *Caller) {
	st := s.d.Alarm.Store()
	inc, err := st.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.alarmError(w, err)
		return
	}
	alerts, err := st.Alerts(r.Context(), inc.ID)
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	tl, err := st.Timeline(r.Context(), inc.ID)
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"incident": inc, "durations": inc.Durations(), "alerts": nonNil(alerts), "timeline": nonNil(tl)})
}

// incidentChange is the body of every change to one incident; each route
// reads its own fields.
type incidentChange struct {
	Assignee *string  `json:"assignee"`
	Status   string   `json:"status"`
	Comment  string   `json:"comment"`
	Text     string   `json:"text"`
	Verdict  string   `json:"verdict"`
	Add      []string `json:"add"`
	Remove   []string `json:"remove"`
	Priority *string  `json:"priority"`
	Severity *int     `json:"severity"`
	Clear    bool     `json:"clear"`
	Reason   string   `json:"reason"`
}

func (s *Server) changeIncident(kind string) func(http.ResponseWriter, *http.Request, *Caller) {
	return func(w http.ResponseWriter, r *http.Request, c *Caller) {
		var in incidentChange
		if !decodeBody(w, r, &in) {
			return
		}
		var ch alarm.Change
		switch kind {
		case "assign":
			if in.Assignee == nil {
				badRequest(w, "assignee is required (\"\" to unassign)")
				return
			}
			ch.Assignee = in.Assignee
		case "status":
			st, err := alarm.ParseStatus(in.Status)
			if err != nil {
				badRequest(w, "status: %v", err)
				return
			}
			ch.Status, ch.Comment = &st, in.Comment
		case "comment":
			if strings.TrimSpace(in.Text) == "" {
				badRequest(w, "text is required")
				return
			}
			ch.Comment = in.Text
		case "verdict":
			v, err := alarm.ParseVerdict(in.Verdict)
			if err != nil {
				badRequest(w, "verdict: %v", err)
				return
			}
			ch.Verdict = &v
		case "tags":
			ch.AddTags, ch.DelTags = in.Add, in.Remove
		case "priority":
			if in.Priority == nil && in.Severity == nil && !in.Clear {
				badRequest(w, "give priority, severity or both, or clear: true to hand the rating back to detection")
				return
			}
			if strings.TrimSpace(in.Reason) == "" {
				badRequest(w, "reason is required: it goes on the timeline and in the audit log")
				return
			}
			ch.Priority, ch.Severity, ch.ClearOverride, ch.Reason = in.Priority, in.Severity, in.Clear, in.Reason
		}
		inc, err := s.d.Alarm.Update(r.Context(), r.PathValue("id"), ch, c.Actor())
		if err != nil {
			s.alarmError(w, err)
			return
		}
		httpjson.Write(w, http.StatusOK, inc)
	}
}

type mergeRequest struct {
	Sources []string `json:"sources"`
	Reason  string   `json:"reason"`
}

func (s *Server) mergeIncident(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in mergeRequest
	if !decodeBody(w, r, &in) {
		return
	}
	if len(in.Sources) == 0 {
		badRequest(w, "sources: name the incidents to merge into this one")
		return
	}
	inc, err := s.d.Alarm.Merge(r.Context(), r.PathValue("id"), in.Sources, c.Actor(), in.Reason)
	if err != nil {
		s.alarmError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, inc)
}

type splitRequest struct {
	Alerts []string `json:"alerts"`
	Reason string   `json:"reason"`
}

func (s *Server) splitIncident(w http.ResponseWriter, r *http.Request, c *Caller) {
	var in splitRequest
	if !decodeBody(w, r, &in) {
		return
	}
	inc, err := s.d.Alarm.Split(r.Context(), r.PathValue("id"), in.Alerts, c.Actor(), in.Reason)
	if err != nil {
		s.alarmError(w, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, inc)
}

func (s *Server) heldAlerts(w http.ResponseWriter, r *http.Request, _ *Caller) {
	n, err := intParam(r.URL.Query().Get("limit"), 100, 1, 1000)
	if err != nil {
		badRequest(w, "limit: %v", err)
		return
	}
	as, err := s.d.Alarm.Store().Suppressed(r.Context(), n)
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	counts, _ := s.d.Alarm.Store().SuppressedCount(r.Context())
	httpjson.Write(w, http.StatusOK, map[string]any{"alerts": nonNil(as), "counts": counts})
}

func (s *Server) listSilences(w http.ResponseWriter, r *http.Request, _ *Caller) {
	sils, err := s.d.Alarm.Store().Silences(r.Context(), r.URL.Query().Get("all") == "1")
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"silences": nonNil(sils)})
}

func (s *Server) addSilence(w http.ResponseWriter, r *http.Request, c *Caller) {
	var sil alarm.Silence
	if !decodeBody(w, r, &sil) {
		return
	}
	if sil.StartsAt.IsZero() {
		sil.StartsAt = time.Now().UTC()
	}
	out, err := s.d.Alarm.AddSilence(r.Context(), &sil, c.Actor())
	if err != nil {
		badRequest(w, "silence: %v", err)
		return
	}
	httpjson.Write(w, http.StatusCreated, out)
}

func (s *Server) expireSilence(w http.ResponseWriter, r *http.Request, c *Caller) {
	if err := s.d.Alarm.ExpireSilence(r.Context(), r.PathValue("id"), c.Actor()); err != nil {
		s.alarmError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listAssets(w http.ResponseWriter, r *http.Request, _ *Caller) {
	as, err := s.d.Alarm.Store().Assets(r.Context(), r.URL.Query().Get("discovered") == "1")
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"assets": nonNil(as)})
}

func (s *Server) putAssets(w http.ResponseWriter, r *http.Request, c *Caller) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	if err != nil {
		badRequest(w, "body: %v", err)
		return
	}
	var assets []*alarm.Asset
	switch ct := r.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "text/csv"):
		assets, err = alarm.ImportCSV(strings.NewReader(string(body)))
	default:
		// JSON is YAML, so one reader takes both.
		assets, err = alarm.ImportYAML(body)
	}
	if err != nil {
		badRequest(w, "assets: %v", err)
		return
	}
	if err := s.d.Alarm.PutAssets(r.Context(), assets, c.Actor()); err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"stored": len(assets)})
}

func (s *Server) responseMetrics(w http.ResponseWriter, r *http.Request, _ *Caller) {
	q := r.URL.Query()
	to, from := time.Now().UTC(), time.Now().UTC().Add(-30*24*time.Hour)
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				badRequest(w, "%s=%q is not an RFC 3339 time", p.name, v)
				return
			}
			*p.dst = t
		}
	}
	m, err := s.d.Alarm.Store().ResponseMetrics(r.Context(), from, to)
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, m)
}
