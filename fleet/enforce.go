package fleet

import (
	"time"

	"github.com/riposte-soar/riposte/decision"
)

// Holds reports whether the agent's last heartbeat says it enforces d.
func (a *Agent) Holds(d decision.Decision) bool {
	switch d.Kind {
	case decision.ContainHost:
		return a.Contained != 0 && a.Contained == d.Rule
	case decision.DenyIP:
		for _, r := range a.Rules {
			if r == d.Rule {
				return true
			}
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
		if a.Revoked || !d.AppliesTo(a.Hostname) {
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
