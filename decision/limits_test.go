package decision

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/audit"
)

// TestLimits: what a deny may name, through Add (the one way in for the
// API, playbooks, OpenC2 and the CLI). A refusal records nothing.
func TestLimits(t *testing.T) {
	s, _ := open(t)
	s.SetLimits(Limits{MaxPrefixV4: 24, MaxPrefixV6: 48, Protected: []netip.Prefix{
		netip.MustParsePrefix("192.0.2.10/32"),      // the server
		netip.MustParsePrefix("198.51.100.53/32"),   // a permitted resolver
		netip.MustParsePrefix("2001:db8:ffff::/48"), // a protected network
	}})
	ctx := context.Background()
	for _, tc := range []struct {
		target string
		want   string // "" accepted (the stored target), else a word of the refusal
		stored string
	}{
		{"203.0.113.7", "", "203.0.113.7/32"},
		{"203.0.113.0/24", "", "203.0.113.0/24"},
		{"2001:db8:1::/48", "", "2001:db8:1::/48"},
		{"2001:db8::7", "", "2001:db8::7/128"},
		{"10.1.2.3", "", "10.1.2.3/32"}, // private addresses attack too
		{"0.0.0.0/0", "wider than the IPv4 limit of /24", ""},
		{"::/0", "wider than the IPv6 limit of /48", ""},
		{"203.0.113.0/23", "/23 is wider", ""},
		{"2001:db8::/47", "/47 is wider", ""},
		{"::ffff:0.0.0.0/96", "0.0.0.0/0: /0 is wider", ""},
		{"0.0.0.0", "unspecified", ""},
		{"::", "unspecified", ""},
		{"127.0.0.1", "loopback", ""},
		{"127.0.0.0/24", "loopback", ""},
		{"::1", "loopback", ""},
		{"::ffff:127.0.0.1", "loopback", ""},
		{"169.254.169.254", "link-local", ""},
		{"fe80::1", "link-local", ""},
		{"224.0.0.251", "multicast", ""},
		{"ff02::1", "multicast", ""},
		{"255.255.255.255", "broadcast", ""},
		{"192.0.2.10", "protected", ""},
		{"192.0.2.0/24", "holds 192.0.2.10/32, a protected address", ""},
		{"198.51.100.53", "protected", ""},
		{"2001:db8:ffff:1::9", "protected", ""},
	} {
		t.Run(tc.target, func(t *testing.T) {
			d, err := s.Add(ctx, Decision{Kind: DenyIP, Target: tc.target, Owner: "playbook:p", Reason: "alert"}, time.Hour, now)
			if tc.want == "" {
				if err != nil || d.Target != tc.stored {
					t.Fatalf("got %+v, %v; want %s recorded", d, err, tc.stored)
				}
				return
			}
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal saying %q", err, tc.want)
			}
			all, _ := s.List(ctx, true, now)
			for _, o := range all {
				if o.Target == d.Target {
					t.Fatalf("refused %s but recorded %+v", tc.target, o)
				}
			}
		})
	}
	// Containment of a host is not an address: the limits do not apply.
	if _, err := s.Add(ctx, Decision{Kind: ContainHost, Target: "ws-1", Owner: "a", Reason: "r"}, time.Hour, now); err != nil {
		t.Fatal(err)
	}
}

// TestForced: an admin's forced decision passes the limits, and the audit
// log says it was forced.
func TestForced(t *testing.T) {
	s, db := open(t)
	ctx := context.Background()
	d, err := s.Add(ctx, Decision{Kind: DenyIP, Target: "198.51.100.0/22", Owner: "admin-alice", Reason: "botnet range, ticket 42", Forced: true}, time.Hour, now)
	if err != nil || d.Target != "198.51.100.0/22" || !d.Forced {
		t.Fatalf("forced: %+v, %v", d, err)
	}
	es, err := audit.New(db).List(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range es {
		if e.Action == "decision.add" && strings.Contains(string(e.Detail), `"forced":true`) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit entry marks the decision forced: %+v", es)
	}
}

func TestDefaultLimits(t *testing.T) {
	s, _ := open(t) // New holds decisions to DefaultLimits
	_, err := s.Add(context.Background(), Decision{Kind: DenyIP, Target: "0.0.0.0/0", Owner: "x", Reason: "y"}, time.Hour, now)
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("0.0.0.0/0 with the default limits: %v", err)
	}
}

// TestSegmentLimits: what a segment quarantine may name through Add; the
// server's address inside a segment is no refusal (the quarantine keeps
// it reachable), a network wider than the segment limit is.
func TestSegmentLimits(t *testing.T) {
	s, _ := open(t)
	s.SetLimits(Limits{MaxPrefixV4: 24, MaxPrefixV6: 48, MaxSegmentV4: 20, Protected: []netip.Prefix{netip.MustParsePrefix("10.1.0.10/32")}})
	ctx := context.Background()
	for _, tc := range []struct{ target, want, stored string }{
		{"10.1.0.0/24", "", "10.1.0.0/24"},
		{"10.1.0.77", "", "10.1.0.77/32"},
		{"10.1.0.10", "", "10.1.0.10/32"},
		{"10.16.0.0/20", "", "10.16.0.0/20"},
		{"10.0.0.0/8", "refusing to quarantine 10.0.0.0/8: /8 is wider than the IPv4 segment limit of /20", ""},
		{"2001:db8::/32", "", "2001:db8::/32"},
		{"2001:db8::/31", "segment limit of /32", ""},
		{"127.0.0.0/24", "loopback", ""},
		{"fe80::/64", "link-local", ""},
		{"0.0.0.0/0", "wider", ""},
		{"not-a-net", "neither an IP address nor a CIDR", ""},
	} {
		t.Run(tc.target, func(t *testing.T) {
			d, err := s.Add(ctx, Decision{Kind: ContainSegment, Target: tc.target, Owner: "playbook:p", Reason: "alert"}, -1, now)
			if tc.want == "" {
				if err != nil || d.Target != tc.stored || !d.Expires.IsZero() {
					t.Fatalf("got %+v, %v; want %s recorded until reverted", d, err, tc.stored)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %+v, %v; want a refusal saying %q", d, err, tc.want)
			}
		})
	}
}

func TestSegmentAppliesTo(t *testing.T) {
	for _, tc := range []struct {
		d    Decision
		host string
		want bool
	}{
		{Decision{Kind: ContainSegment, Target: "10.1.0.0/24", Host: "edge-1"}, "EDGE-1", true},
		{Decision{Kind: ContainSegment, Target: "10.1.0.0/24", Host: "edge-1"}, "edge-2", false},
		{Decision{Kind: ContainSegment, Target: "10.1.0.0/24"}, "edge-1", false}, // matched by segments in fleet
	} {
		if got := tc.d.AppliesTo(tc.host); got != tc.want {
			t.Errorf("%+v AppliesTo(%s) = %v, want %v", tc.d, tc.host, got, tc.want)
		}
	}
}
