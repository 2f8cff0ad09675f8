package notify

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/riposte-soar/riposte/notify/channel"
)

type route struct {
	name     string
	match    Match
	channels []string
	cont     bool
}

// compileRoute checks r against the known channels and normalizes it.
func compileRoute(i int, r Route, known map[string]bool) (route, string, []error) {
	label := fmt.Sprintf("route %d", i+1)
	if r.Name != "" {
		label = fmt.Sprintf("route %q", r.Name)
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	out := route{name: label, cont: r.Continue, match: Match{Events: r.Match.Events}}
	for _, e := range r.Match.Events {
		if !channel.KnownEvent(e) {
			bad("match.events: %q is not an event (want one of %s)", e, strings.Join(channel.Events, ", "))
		}
	}
	for _, p := range r.Match.Priorities {
		up := strings.ToUpper(strings.TrimSpace(p))
		if channel.PriorityRank(up) > 4 {
			bad("match.priorities: %q is not P1, P2, P3 or P4", p)
		}
		out.match.Priorities = append(out.match.Priorities, up)
	}
	pats := func(field string, in []string) []string {
		var res []string
		for _, p := range in {
			lp := strings.ToLower(strings.TrimSpace(p))
			if _, err := path.Match(lp, ""); err != nil || lp == "" {
				bad("match.%s: %q is not a valid pattern", field, p)
			}
			res = append(res, lp)
		}
		return res
	}
	out.match.Owners = pats("owners", r.Match.Owners)
	out.match.Tags = pats("tags", r.Match.Tags)
	seen := map[string]bool{}
	for _, c := range r.Channels {
		switch {
		case !known[c]:
			bad("channels: no channel named %q", c)
		case seen[c]:
			bad("channels: %q listed twice", c)
		}
		seen[c] = true
		out.channels = append(out.channels, c)
	}
	return out, label, errs
}

func (r route) matches(m Message) bool {
	if len(r.match.Events) > 0 && !slices.Contains(r.match.Events, m.Event) {
		return false
	}
	if len(r.match.Priorities) > 0 && !slices.Contains(r.match.Priorities, strings.ToUpper(m.Incident.Priority)) {
		return false
	}
	return anyMatch(r.match.Owners, m.Incident.Owners) && anyMatch(r.match.Tags, m.Incident.Tags)
}

// anyMatch reports whether some value matches some pattern; no patterns
// match anything.
func anyMatch(patterns, values []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, v := range values {
		lv := strings.ToLower(v)
		for _, p := range patterns {
			if ok, _ := path.Match(p, lv); ok {
				return true
			}
		}
	}
	return false
}

// targets returns the channels m goes to, in route order, each once.
func targets(routes []route, m Message) []string {
	var out []string
	for _, r := range routes {
		if !r.matches(m) {
			continue
		}
		for _, c := range r.channels {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
		if !r.cont {
			break
		}
	}
	return out
}
