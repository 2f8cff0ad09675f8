package hostops

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
)

type nameTarget struct {
	Name string `json:"name"`
}

type remediationTarget struct {
	Name string   `json:"name"`
	Argv []string `json:"argv"`
}

// remediate: remediate x-riposte:remediation {"name": N[, "argv": [...]]}.
// The argv is the agent's own for a name it configures (a different argv
// in the command is refused); otherwise the one the server's allowlist gave
// in the signed command (unless local_remediations_only). It runs as an
// argv, never through a shell.
func (h *Host) remediate(ctx context.Context, c *call) (result, error) {
	const field = "target.x-riposte:remediation.name"
	var t remediationTarget
	if err := decodeTarget(c, &t); err != nil {
		return result{}, err
	}
	if err := checkName(field, t.Name, remediationRe, 64); err != nil {
		return result{}, err
	}
	argv, ok := h.remediations[t.Name]
	source := "agent"
	if ok && len(t.Argv) > 0 && !slices.Equal(argv, t.Argv) {
		// Two allowlists disagreeing is a configuration error to see,
		// not something to settle silently either way.
		return result{}, errBad("target.x-riposte:remediation.argv", "differs from this agent's own remediation %s", quote(t.Name))
	}
	if !ok && len(t.Argv) > 0 && !h.cfg.LocalRemediationsOnly {
		if len(t.Argv) > 64 {
			return result{}, errBad("target.x-riposte:remediation.argv", "has %d entries, limit 64", len(t.Argv))
		}
		if err := checkArgv("argv", t.Argv); err != nil {
			return result{}, errBad("target.x-riposte:remediation.argv", "%v", err)
		}
		argv, ok, source = t.Argv, true, "server"
	}
	if !ok {
		names := make([]string, 0, len(h.remediations))
		for n := range h.remediations {
			names = append(names, n)
		}
		sort.Strings(names)
		return result{}, errForbidden(field, "%s is not a configured remediation (configured: %s)", quote(t.Name), strings.Join(names, ", "))
	}
	res, err := run(ctx, argv, nil, h.cfg.RemediationTimeout, h.cfg.MaxOutput)
	det := map[string]any{"remediation": t.Name, "exec": res, "allowlist": source}
	if err != nil {
		return result{details: det}, errFailed("remediation %q: %v", t.Name, err)
	}
	if res.ExitCode != 0 {
		return result{details: det}, errFailed("remediation %q exited with code %d", t.Name, res.ExitCode)
	}
	return result{text: fmt.Sprintf("remediation %q exited with code 0", t.Name), details: det, verified: true}, nil
}
