package fleet

import (
	"fmt"
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
		{Hostname: "edge-1", Inventory: Inventory{Mode: "gateway", Segments: []string{"10.1.0.0/24", "10.2.0.0/24"}, Quarantined: []int64{21}}},
		{Hostname: "edge-2", Inventory: Inventory{Mode: "gateway", Segments: []string{"10.3.0.0/24"}}},
	}
	for _, c := range []struct {
		name        string
		d           decision.Decision
		by, missing []string
	}{
		{"deny everywhere", decision.Decision{Kind: decision.DenyIP, Rule: 7}, []string{"web-1"}, []string{"web-2", "db-1", "edge-1", "edge-2"}},
		{"segment on the gateway in front of it", decision.Decision{Kind: decision.ContainSegment, Target: "10.1.0.0/24", Rule: 21}, []string{"edge-1"}, nil},
		{"one host by address", decision.Decision{Kind: decision.ContainSegment, Target: "10.3.0.9/32", Rule: 22}, nil, []string{"edge-2"}},
		{"a network spanning segments", decision.Decision{Kind: decision.ContainSegment, Target: "10.0.0.0/14", Rule: 23}, nil, []string{"edge-1", "edge-2"}},
		{"no gateway in front", decision.Decision{Kind: decision.ContainSegment, Target: "10.9.0.0/24", Rule: 24}, nil, nil},
		{"gateway named", decision.Decision{Kind: decision.ContainSegment, Target: "10.9.0.0/24", Host: "EDGE-2", Rule: 25}, nil, []string{"edge-2"}},
		{"host agent named is no gateway", decision.Decision{Kind: decision.ContainSegment, Target: "10.9.0.0/24", Host: "web-1", Rule: 26}, nil, nil},
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

// TestSegmentCommands: what a gateway is sent to quarantine a segment and
// to lift it is valid OpenC2 and carries the permitted addresses.
func TestSegmentCommands(t *testing.T) {
	exp := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	on, err := DecisionCommand(decision.Decision{ID: "d1", Kind: decision.ContainSegment, Target: "10.1.0.0/24", Rule: 21, Expires: exp}, true, []string{"192.0.2.10", "bogus"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"action":"contain","actuator":{"x-riposte":{}},"args":{"response_requested":"complete","x-riposte":{"permitted":["192.0.2.10/32"],"rule_number":21,"stop_time":` + fmt.Sprint(exp.UnixMilli()) + `}},"target":{"x-riposte:segment":{"net":"10.1.0.0/24"}}}`
	if string(on) != want {
		t.Fatalf("contain:\n got %s\nwant %s", on, want)
	}
	off, err := DecisionCommand(decision.Decision{ID: "d1", Kind: decision.ContainSegment, Rule: 21}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"action":"allow","actuator":{"x-riposte":{}},"args":{"response_requested":"complete"},"target":{"x-riposte:segment":{"rule_number":21}}}`; string(off) != want {
		t.Fatalf("allow:\n got %s\nwant %s", off, want)
	}
	if _, err := DecisionCommand(decision.Decision{ID: "d2", Kind: decision.ContainSegment, Target: "nope", Rule: 3}, true, nil); err == nil {
		t.Fatal("a segment that is no CIDR made a command")
	}
}
