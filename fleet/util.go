package fleet

import (
	"sort"
	"strings"
)

func sortAgents(as []Agent) {
	sort.Slice(as, func(i, j int) bool {
		if as[i].Hostname != as[j].Hostname {
			return as[i].Hostname < as[j].Hostname
		}
		return as[i].ID < as[j].ID
	})
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
