package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/feeds"
	"github.com/riposte-soar/riposte/fleet"
)

// opsDecisionsPage is the decisions list with its filter (kept in the URL).
type opsDecisionsPage struct {
	Filter    opsDecisionFilter
	Rows      []opsDecisionRow
	Pager     opsPager
	Kinds     []string
	States    []string
	HasAgents bool
	// HasBouncers shows the CrowdSec bouncers that pulled each decision.
	HasBouncers bool
	// Feeds are the firewalls polling the block-list feeds (nil: no feed
	// store on this node).
	Feeds    []feeds.Consumer
	HasFeeds bool
}

type opsDecisionFilter struct {
	Kind, Target, State, Incident string
	Page                          int
}

// URL is the list at this filter (the page the forms come back to).
func (f opsDecisionFilter) URL() string {
	v := f.values()
	if len(v) == 0 {
		return "/decisions"
	}
	return "/decisions?" + v.Encode()
}

func (f opsDecisionFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"kind": f.Kind, "target": f.Target, "state": f.State, "incident": f.Incident} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Page > 0 {
		v.Set("page", strconv.Itoa(f.Page))
	}
	return v
}

// opsDecisionRow is a decision and the agents that hold it or should.
type opsDecisionRow struct {
	decision.Decision
	Active              bool
	EnforcedBy, Missing []string
	// PulledBy names the CrowdSec bouncers that were sent it to enforce.
	PulledBy []string
}

func (c *Console) opsDecisions(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	f := opsDecisionFilter{Kind: q.Get("kind"), Target: strings.TrimSpace(q.Get("target")), Incident: strings.TrimSpace(q.Get("incident")),
		State: q.Get("state"), Page: opsPageOf(r)}
	if !q.Has("state") {
		f.State = decision.StateActive // what people look for first: what is blocked now
	}
	state := f.State
	if state == "all" {
		state = ""
	}
	if f.Kind != "" && f.Kind != decision.DenyIP && f.Kind != decision.ContainHost {
		c.fail(w, r, v, http.StatusBadRequest, "kind must be deny_ip or contain_host")
		return
	}
	now := c.d.Now()
	ds, total, err := c.d.Decisions.Find(r.Context(), decision.Filter{Kind: f.Kind, Target: f.Target, Incident: f.Incident, State: state,
		Limit: opsPageSize, Offset: f.Page * opsPageSize}, now)
	if err != nil {
		c.fail(w, r, v, http.StatusBadRequest, "The decisions could not be listed: "+err.Error())
		return
	}
	p := opsDecisionsPage{Filter: f, Kinds: []string{decision.DenyIP, decision.ContainHost},
		States: []string{decision.StateActive, decision.StateReverted, decision.StateExpired, "all"}, HasAgents: c.d.Fleet != nil}
	var agents []fleet.Agent
	if c.d.Fleet != nil {
		agents = c.d.Fleet.List()
	}
	for _, d := range ds {
		row := opsDecisionRow{Decision: d, Active: d.Active(now)}
		row.EnforcedBy, row.Missing = fleet.Enforcement(d, agents, now)
		p.Rows = append(p.Rows, row)
	}
	if c.d.Bouncers != nil {
		ids := make([]string, len(p.Rows))
		for i, row := range p.Rows {
			ids[i] = row.ID
		}
		by, err := c.d.Bouncers.PulledBy(r.Context(), ids)
		if err != nil {
			c.fail(w, r, v, http.StatusInternalServerError, "The bouncers' pulls could not be read: "+err.Error())
			return
		}
		p.HasBouncers = true
		for i := range p.Rows {
			p.Rows[i].PulledBy = by[p.Rows[i].ID]
		}
	}
	if c.d.Feeds != nil {
		fs, err := c.d.Feeds.List(r.Context())
		if err != nil {
			c.fail(w, r, v, http.StatusInternalServerError, "The firewall feeds could not be read: "+err.Error())
			return
		}
		p.Feeds, p.HasFeeds = fs, true
	}
	p.Pager = opsPages("/decisions", f.values(), f.Page, len(ds), total)
	c.render(w, r, http.StatusOK, "decisions", view{V: v, Title: "Decisions", Nav: "decisions", Page: p})
}

// opsRevertDecision is POST /api/v1/decisions/{id}/revert from the page.
func (c *Console) opsRevertDecision(w http.ResponseWriter, r *http.Request, v *viewer) {
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		c.fail(w, r, v, http.StatusBadRequest, "Say why the decision is reverted (the reason goes to the audit log and the incident).")
		return
	}
	_, err := c.d.Decisions.Revert(r.Context(), r.PathValue("id"), v.Actor(), reason, c.d.Now().UTC())
	switch {
	case errors.Is(err, decision.ErrNotFound):
		c.fail(w, r, v, http.StatusNotFound, err.Error())
	case err != nil:
		c.fail(w, r, v, http.StatusConflict, err.Error())
	default:
		back(w, r, "/decisions")
	}
}
