package fleet

import (
	"slices"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/decision"
)

func TestEnforcement(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	agents := []Agent{
		{Hostname: "web-1", Inventory: Inventory{Rules: []int64{7}}},
		{Hostname: "web-2"},
		{Hostname: "db-1", Inventory: Inventory{Contained: 9}},
		{Hostname: "old", Revoked: true},
	}
	for _, c := range []struct {
		name        string
		d           decision.Decision
		by, missing []string
	}{
		{"deny everywhere", decision.Decision{Kind: decision.DenyIP, Rule: 7}, []string{"web-1"}, []string{"web-2", "db-1"}},
		{"deny on one host", decision.Decision{Kind: decision.DenyIP, Rule: 7, Host: "web-2"}, nil, []string{"web-2"}},
		{"contain held", decision.Decision{Kind: decision.ContainHost, Target: "DB-1", Rule: 9}, []string{"db-1"}, nil},
		{"contain not held", decision.Decision{Kind: decision.ContainHost, Target: "web-1", Rule: 10}, nil, []string{"web-1"}},
		{"reverted counts nowhere", decision.Decision{Kind: decision.DenyIP, Rule: 7, RevertedAt: &now}, nil, nil},
	} {
		by, missing := Enforcement(c.d, agents, now)
		if !slices.Equal(by, c.by) || !slices.Equal(missing, c.missing) {
			t.Errorf("%s: enforced by %v, missing on %v; want %v, %v", c.name, by, missing, c.by, c.missing)
		}
	}
}
