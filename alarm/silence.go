package alarm

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alert"
)

// Matcher tests one property of an alert.
type Matcher struct {
	// Field is rule_id, rule_title, level, kind, tag, host, user, ip, hash or domain.
	Field string `json:"field"`
	// Op is "=", "!=", "=~" or "!~" (RE2, anchored).
	Op    string `json:"op"`
	Value string `json:"value"`
	re    *regexp.Regexp
}

// Silence holds matching alerts for a time: a maintenance window, a known
// false positive being tuned. Held alerts are still stored and counted.
type Silence struct {
	ID        string     `json:"id"`
	Matchers  []*Matcher `json:"matchers"`
	StartsAt  time.Time  `json:"starts_at"`
	EndsAt    time.Time  `json:"ends_at"`
	Author    string     `json:"author"`
	Reason    string     `json:"reason"`
	CreatedAt time.Time  `json:"created_at"`
	// Held counts the alerts this silence held (filled when read).
	Held int64 `json:"held"`
}

var matcherFields = []string{"rule_id", "rule_title", "level", "kind", "tag", "host", "user", "ip", "hash", "domain"}

// Validate checks a silence and compiles its regexes.
func (s *Silence) Validate() error {
	if len(s.Matchers) == 0 {
		return fmt.Errorf("a silence needs at least one matcher")
	}
	if !s.EndsAt.After(s.StartsAt) {
		return fmt.Errorf("ends_at must be after starts_at")
	}
	if strings.TrimSpace(s.Reason) == "" {
		return fmt.Errorf("a silence needs a reason")
	}
	for i, m := range s.Matchers {
		if !slices.Contains(matcherFields, m.Field) {
			return fmt.Errorf("matcher %d: unknown field %q (want one of %s)", i, m.Field, strings.Join(matcherFields, ", "))
		}
		switch m.Op {
		case "=", "!=":
		case "=~", "!~":
			re, err := regexp.Compile("^(?:" + m.Value + ")$")
			if err != nil {
				return fmt.Errorf("matcher %d: %v", i, err)
			}
			m.re = re
		default:
			return fmt.Errorf("matcher %d: unknown op %q (want =, !=, =~ or !~)", i, m.Op)
		}
	}
	return nil
}

// Active reports whether the silence holds alerts at t.
func (s *Silence) Active(t time.Time) bool { return !t.Before(s.StartsAt) && t.Before(s.EndsAt) }

func (m *Matcher) test(vals []string) bool {
	hit := false
	for _, v := range vals {
		switch m.Op {
		case "=", "!=":
			hit = hit || strings.EqualFold(v, m.Value)
		default:
			hit = hit || m.re.MatchString(v)
		}
	}
	if m.Op == "!=" || m.Op == "!~" {
		return !hit
	}
	return hit
}

func values(a *alert.Alert, ents []Entity, field string) []string {
	switch field {
	case "rule_id":
		return []string{a.Rule.ID}
	case "rule_title":
		return []string{a.Rule.Title}
	case "level":
		return []string{a.Rule.Level}
	case "kind":
		return []string{string(a.Kind)}
	case "tag":
		return a.Rule.Tags
	}
	var out []string
	for _, e := range ents {
		if e.Kind == field {
			out = append(out, e.Value)
		}
	}
	return out
}

// Matches reports whether every matcher holds for the alert.
func (s *Silence) Matches(a *alert.Alert, ents []Entity) bool {
	for _, m := range s.Matchers {
		if !m.test(values(a, ents, m.Field)) {
			return false
		}
	}
	return true
}

func (e *Engine) silenced(a *alert.Alert, ents []Entity, at time.Time) *Silence {
	for _, s := range e.silences {
		if s.Active(at) && s.Matches(a, ents) {
			return s
		}
	}
	return nil
}
