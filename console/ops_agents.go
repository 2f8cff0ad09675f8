package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
)

// opsAgentsPage lists the enrolled agents with what they enforce.
type opsAgentsPage struct {
	Agents []opsAgentRow
	// NewToken is an enrollment token just created: shown once, never
	// stored in clear.
	NewToken   string
	NewExpires time.Time
	TTL        string
}

// opsAgentRow is one agent and how its host stands against the decisions in
// force.
type opsAgentRow struct {
	fleet.Agent
	Enforcing []decision.Decision
	Missing   []decision.Decision
	// Isolated: the heartbeat says the host is contained; Ordered: a
	// contain_host decision holds but the agent has not confirmed it.
	Isolated, Ordered bool
}

func (c *Console) opsAgents(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.opsRenderAgents(w, r, v, http.StatusOK, opsAgentsPage{TTL: "24h"}, "")
}

func (c *Console) opsRenderAgents(w http.ResponseWriter, r *http.Request, v *viewer, status int, p opsAgentsPage, msg string) {
	now := c.d.Now()
	var active []decision.Decision
	if c.d.Decisions != nil {
		var err error
		if active, err = c.d.Decisions.List(r.Context(), false, now); err != nil {
			c.fail(w, r, v, http.StatusInternalServerError, "The decisions could not be read: "+err.Error())
			return
		}
	}
	for _, a := range c.d.Fleet.List() {
		row := opsAgentRow{Agent: a, Isolated: a.Contained != 0}
		for _, d := range active {
			if a.Revoked || !a.Enforces(d) {
				continue
			}
			if a.Holds(d) {
				row.Enforcing = append(row.Enforcing, d)
			} else {
				row.Missing = append(row.Missing, d)
				row.Ordered = row.Ordered || d.Kind == decision.ContainHost
			}
		}
		p.Agents = append(p.Agents, row)
	}
	c.render(w, r, status, "agents", view{V: v, Title: "Agents", Nav: "agents", Error: msg, Page: p})
}

// opsCreateToken makes a one-time enrollment token and shows it on the
// answer itself: a redirect would have to carry the secret in a URL.
func (c *Console) opsCreateToken(w http.ResponseWriter, r *http.Request, v *viewer) {
	in := strings.TrimSpace(r.PostFormValue("ttl"))
	if in == "" {
		in = "24h"
	}
	ttl, err := opsSpan(in)
	if err != nil {
		c.opsAgentsError(w, r, v, "Token lifetime "+err.Error(), in)
		return
	}
	secret, rec, err := c.d.Fleet.CreateToken(r.Context(), ttl, v.Actor())
	if err != nil {
		c.opsAgentsError(w, r, v, "The token was not created: "+err.Error(), in)
		return
	}
	c.opsRenderAgents(w, r, v, http.StatusCreated, opsAgentsPage{NewToken: secret, NewExpires: rec.Expires, TTL: in}, "")
}

func (c *Console) opsAgentsError(w http.ResponseWriter, r *http.Request, v *viewer, msg, ttl string) {
	if r.Header.Get("HX-Request") != "" {
		c.fail(w, r, v, http.StatusBadRequest, msg)
		return
	}
	// The page again, with the message and what was typed.
	c.opsRenderAgents(w, r, v, http.StatusBadRequest, opsAgentsPage{TTL: ttl}, msg)
}

// opsRevokeAgent revokes an agent's credential (the page asks first).
func (c *Console) opsRevokeAgent(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := c.d.Fleet.Revoke(r.Context(), r.PathValue("id"), v.Actor()); err != nil {
		c.fail(w, r, v, http.StatusNotFound, err.Error())
		return
	}
	back(w, r, "/agents")
}
