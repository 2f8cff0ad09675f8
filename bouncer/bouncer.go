// Package bouncer serves Riposte's decisions to CrowdSec bouncers: the
// part of the CrowdSec Local API that bouncers call (GET
// /v1/decisions/stream and GET /v1/decisions, with an X-Api-Key per
// bouncer), so any of them (nftables/iptables, nginx, Traefik, HAProxy,
// Cloudflare, AWS WAF...) enforces what Riposte decided. It reads package
// decision; package api mounts its handlers; the store remembers what each
// bouncer was sent, so deltas are exact and people see which bouncer
// pulled which decision.
package bouncer

import (
	"net/netip"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/decision"
)

// Origin is the origin every served decision carries: bouncers that filter
// on origins (only_include_decisions_from) select Riposte's with it.
const Origin = "riposte"

// MaxDuration caps the duration a bouncer is told: a decision held until
// reverted, or longer than this, is sent for MaxDuration and sent again
// before that runs out. Kernel set timeouts and some bouncers' caches do
// not take years.
const MaxDuration = 30 * 24 * time.Hour

// resendBefore is how long before a sent duration runs out the decision is
// sent again (the bouncer's pull interval must be shorter).
const resendBefore = 10 * time.Minute

// Decision is a decision as the CrowdSec Local API writes it.
type Decision struct {
	// ID is the decision's number (Riposte's rule number: unique, and
	// an integer as bouncers expect).
	ID int64 `json:"id"`
	// UUID is Riposte's decision ID.
	UUID   string `json:"uuid"`
	Origin string `json:"origin"`
	// Type is always "ban": Riposte denies; it has no captcha.
	Type string `json:"type"`
	// Scope is "Ip" (one address) or "Range" (a CIDR).
	Scope string `json:"scope"`
	Value string `json:"value"`
	// Duration is what is left, in Go's notation ("3h59m50s").
	Duration string `json:"duration"`
	// Until is when it ends (RFC 3339), as far as the bouncer is told.
	Until string `json:"until,omitempty"`
	// Scenario is the decision's reason, and its incident if any.
	Scenario  string `json:"scenario"`
	Simulated bool   `json:"simulated"`
}

// served turns a Riposte decision into what a bouncer is sent at now; ok
// is false for decisions bouncers do not enforce (host isolation, a deny
// scoped to one host, one not in force).
func served(d decision.Decision, now time.Time) (Decision, bool) {
	if d.Kind != decision.DenyIP || d.Host != "" || !d.Active(now) {
		return Decision{}, false
	}
	p, err := netip.ParsePrefix(d.Target)
	if err != nil {
		return Decision{}, false
	}
	out := Decision{ID: d.Rule, UUID: d.ID, Origin: Origin, Type: "ban", Scope: "Range", Value: p.String(),
		Scenario: d.Reason}
	if p.IsSingleIP() {
		out.Scope, out.Value = "Ip", p.Addr().String()
	}
	if d.Incident != "" {
		out.Scenario += " (incident " + d.Incident + ")"
	}
	if len(out.Scenario) > 512 {
		out.Scenario = out.Scenario[:512]
	}
	left := MaxDuration
	if !d.Expires.IsZero() {
		left = min(d.Expires.Sub(now), MaxDuration)
	}
	left = left.Round(time.Second)
	if left < time.Second {
		left = time.Second
	}
	out.Duration = left.String()
	out.Until = now.Add(left).UTC().Format(time.RFC3339)
	return out, true
}

// outlasts reports whether a should be served rather than b for one value:
// the one lasting longer, and of two equal the newer.
func outlasts(a, b decision.Decision) bool {
	switch {
	case a.Expires.IsZero() != b.Expires.IsZero():
		return a.Expires.IsZero()
	case !a.Expires.Equal(b.Expires):
		return a.Expires.After(b.Expires)
	}
	return a.ID > b.ID
}

// dueAgain reports whether a held decision's sent duration runs out soon,
// so it must be sent again (see MaxDuration).
func dueAgain(held Decision, now time.Time) bool {
	u, err := time.Parse(time.RFC3339, held.Until)
	return err == nil && u.Sub(now) < resendBefore
}

// Filter is what a bouncer asks for (query parameters shared by both
// routes); zero fields do not constrain.
type Filter struct {
	// Scopes are lower-case scope names ("ip", "range").
	Scopes []string
	// Origins select decisions by origin.
	Origins []string
	// Containing and NotContaining match parts of the scenario,
	// case-insensitively.
	Containing, NotContaining []string
}

func (f Filter) match(d Decision) bool {
	if len(f.Scopes) > 0 && !containsFold(f.Scopes, d.Scope) {
		return false
	}
	if len(f.Origins) > 0 && !containsFold(f.Origins, d.Origin) {
		return false
	}
	sc := strings.ToLower(d.Scenario)
	if len(f.Containing) > 0 && !anyIn(sc, f.Containing) {
		return false
	}
	return !anyIn(sc, f.NotContaining)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func anyIn(s string, parts []string) bool {
	for _, p := range parts {
		if p != "" && strings.Contains(s, strings.ToLower(p)) {
			return true
		}
	}
	return false
}

// list splits a comma-separated parameter, dropping empty items.
func list(v string) []string {
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
