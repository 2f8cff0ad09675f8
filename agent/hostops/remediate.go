package hostops

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

type nameTarget struct {
	Name string `json:"name"`
}

// remediate: remediate x-riposte:remediation {"name": N}. The command
// chooses a name; the argv comes from the configuration only.
func (h *Host) remediate(ctx context.Context, c *call) (result, error) {
	const field = "target.x-riposte:remediation.name"
	var t nameTarget
	if err := decodeTarget(c, &t); err != nil {
		return result{}, err
	}
	if err := checkName(field, t.Name, remediationRe, 64); err != nil {
		return result{}, err
	}
	argv, ok := h.remediations[t.Name]
	if !ok {
		names := make([]string, 0, len(h.remediations))
		for n := range h.remediations {
			names = append(names, n)
		}
		sort.Strings(names)
		return result{}, errForbidden(field, "%s is not a configured remediation (configured: %s)", quote(t.Name), strings.Join(names, ", "))
	}
	res, err := run(ctx, argv, nil, h.cfg.RemediationTimeout, h.cfg.MaxOutput)
	det := map[string]any{"remediation": t.Name, "exec": res}
	if err != nil {
		return result{details: det}, errFailed("remediation %q: %v", t.Name, err)
	}
	if res.ExitCode != 0 {
		return result{details: det}, errFailed("remediation %q exited with code %d", t.Name, res.ExitCode)
	}
	return result{text: fmt.Sprintf("remediation %q exited with code 0", t.Name), details: det, verified: true}, nil
}
