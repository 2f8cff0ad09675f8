package alarm

import (
	"fmt"
	"strings"
	"time"
)

// Severity of a Sigma level (1 informational/low .. 4 critical).
func Severity(level string) int {
	switch strings.ToLower(level) {
	case "critical":
		return 4
	case "high":
		return 3
	case "medium":
		return 2
	}
	return 1
}

// SeverityFromConfidence rates an indicator hit by the indicator's confidence.
func SeverityFromConfidence(c int) int {
	switch {
	case c >= 90:
		return 4
	case c >= 70:
		return 3
	case c >= 40:
		return 2
	}
	return 1
}

// PriorityRule is one row of the priority matrix: the first row whose
// minimums an incident meets gives its priority.
type PriorityRule struct {
	Priority       string `yaml:"priority" json:"priority"`
	MinSeverity    int    `yaml:"min_severity" json:"min_severity"`
	MinUrgency     int    `yaml:"min_urgency" json:"min_urgency"`
	MinCriticality int    `yaml:"min_criticality" json:"min_criticality"`
}

// SLA is how long an incident of a priority may wait for each step.
type SLA struct {
	Acknowledge time.Duration
	Contain     time.Duration
	Resolve     time.Duration
}

// Policy is the prioritization configuration.
type Policy struct {
	// Matrix rows, first match wins; an incident meeting none is P4.
	Matrix []PriorityRule
	// TacticUrgency maps ATT&CK tactics (as in tags: attack.exfiltration)
	// to urgency 1..3; tactics not listed have urgency 1.
	TacticUrgency map[string]int
	// KindUrgency raises urgency by alert kind (indicator, correlation).
	KindUrgency map[string]int
	// DefaultCriticality is used for assets Riposte does not know.
	DefaultCriticality int
	SLA                map[string]SLA
}

// DefaultPolicy is what a new installation uses.
func DefaultPolicy() Policy {
	return Policy{
		Matrix: []PriorityRule{
			{"P1", 4, 1, 4}, {"P1", 3, 3, 4}, {"P1", 4, 3, 1},
			{"P2", 4, 1, 1}, {"P2", 3, 3, 1}, {"P2", 3, 1, 4}, {"P2", 2, 3, 4},
			{"P3", 3, 1, 1}, {"P3", 2, 2, 1}, {"P3", 2, 1, 4},
		},
		TacticUrgency: map[string]int{
			"exfiltration": 3, "impact": 3, "command_and_control": 3, "lateral_movement": 3, "initial_access": 3,
			"credential_access": 2, "privilege_escalation": 2, "execution": 2, "persistence": 2,
			"defense_evasion": 2, "collection": 2,
			"discovery": 1, "reconnaissance": 1, "resource_development": 1,
		},
		KindUrgency:        map[string]int{"indicator": 2},
		DefaultCriticality: 3,
		SLA: map[string]SLA{
			"P1": {15 * time.Minute, time.Hour, 24 * time.Hour},
			"P2": {time.Hour, 4 * time.Hour, 72 * time.Hour},
			"P3": {8 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour},
			"P4": {24 * time.Hour, 72 * time.Hour, 30 * 24 * time.Hour},
		},
	}
}

// Validate checks the matrix and SLA table.
func (p Policy) Validate() error {
	for i, r := range p.Matrix {
		if _, ok := p.SLA[r.Priority]; !ok {
			return fmt.Errorf("priority matrix row %d: priority %q has no SLA", i, r.Priority)
		}
	}
	if _, ok := p.SLA["P4"]; !ok {
		return fmt.Errorf("priority P4 (the default) has no SLA")
	}
	return nil
}

// Urgency of tags and an alert kind.
func (p Policy) Urgency(tags []string, kind string) int {
	u := 1
	for _, t := range tags {
		t = strings.ToLower(t)
		if !strings.HasPrefix(t, "attack.") {
			continue
		}
		if v := p.TacticUrgency[strings.TrimPrefix(t, "attack.")]; v > u {
			u = v
		}
	}
	if v := p.KindUrgency[kind]; v > u {
		u = v
	}
	return u
}

// Priority from the matrix.
func (p Policy) Priority(sev, urg, crit int) string {
	for _, r := range p.Matrix {
		if sev >= r.MinSeverity && urg >= r.MinUrgency && crit >= r.MinCriticality {
			return r.Priority
		}
	}
	return "P4"
}

// prioRank orders priorities for the queue: P1 first.
func prioRank(p string) int {
	if len(p) == 2 && p[0] == 'P' {
		return int(p[1] - '0')
	}
	return 9
}

// tactics lists the ATT&CK tactics among tags.
func tactics(tags []string) []string {
	var out []string
	for _, t := range tags {
		t = strings.ToLower(t)
		if !strings.HasPrefix(t, "attack.") {
			continue
		}
		name := strings.TrimPrefix(t, "attack.")
		if len(name) > 1 && (name[0] == 't' || name[0] == 'g' || name[0] == 's') && name[1] >= '0' && name[1] <= '9' {
			continue // technique, group or software id, not a tactic
		}
		out = append(out, name)
	}
	return out
}
