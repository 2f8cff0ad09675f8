package fleet

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/decision"
)

// Holds reports whether the agent's last heartbeat says it enforces d.
func (a *Agent) Holds(d decision.Decision) bool {
	switch d.Kind {
	case decision.ContainHost:
		return a.Contained != 0 && a.Contained == d.Rule
	case decision.DenyIP:
		return slices.Contains(a.Rules, d.Rule)
	case decision.ContainSegment:
		return slices.Contains(a.Quarantined, d.Rule)
	}
	return false
}

// Gateway reports whether the agent runs in gateway mode.
func (a *Agent) Gateway() bool { return a.Mode == "gateway" }

// Enforces reports whether the agent must enforce d: what
// decision.AppliesTo says from its host name, and for a segment
// quarantine, a gateway named by it or, when it names none, every gateway
// with a declared segment that overlaps its target.
func (a *Agent) Enforces(d decision.Decision) bool {
	if d.Kind != decision.ContainSegment {
		return d.AppliesTo(a.Hostname)
	}
	if !a.Gateway() {
		return false
	}
	if d.Host != "" {
		return strings.EqualFold(d.Host, a.Hostname)
	}
	t, err := netip.ParsePrefix(d.Target)
	if err != nil {
		return false
	}
	for _, s := range a.Segments {
		if p, err := netip.ParsePrefix(s); err == nil && p.Overlaps(t) {
			return true
		}
	}
	return false
}

// Enforcement splits the live agents an active decision applies to into
// those whose last heartbeat reports enforcing it and those that do not
// (yet): what a person needs to trust a block.
func Enforcement(d decision.Decision, agents []Agent, now time.Time) (by, missing []string) {
	if !d.Active(now) {
		return nil, nil
	}
	for i := range agents {
		a := &agents[i]
		if a.Revoked || !a.Enforces(d) {
			continue
		}
		if a.Holds(d) {
			by = append(by, a.Hostname)
		} else {
			missing = append(missing, a.Hostname)
		}
	}
	return by, missing
}
