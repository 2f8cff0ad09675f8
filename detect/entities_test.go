package detect

import (
	"slices"
	"testing"

	"github.com/riposte-soar/riposte/event"
)

// TestEntityAddresses: address fields give only single addresses. Issue
// 10, finding 7: an event with IpAddress "0.0.0.0/0" made an alert about
// source_ips ["0.0.0.0/0"], and a playbook blocked the Internet.
func TestEntityAddresses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields map[string]any
		src    []string
		dst    []string
	}{
		{"windows prefix", map[string]any{"IpAddress": "0.0.0.0/0", "TargetUserName": "bob"}, nil, nil},
		{"ipv6 any", map[string]any{"source.ip": "::/0", "destination.ip": "2001:db8::/32"}, nil, nil},
		{"network", map[string]any{"SourceIp": "203.0.113.0/24"}, nil, nil},
		{"range and list", map[string]any{"src_ip": "10.0.0.1-10.0.0.9", "dst_ip": "10.0.0.1, 10.0.0.2"}, nil, nil},
		{"unspecified and dash", map[string]any{"IpAddress": "0.0.0.0", "source.ip": "-", "DestinationIp": "::"}, nil, nil},
		{"garbage", map[string]any{"source.ip": "\x1b[2J", "c-ip": "web-01"}, nil, nil},
		{"single addresses", map[string]any{"IpAddress": "203.0.113.7", "source.ip": "203.0.113.7", "destination.ip": "2001:DB8::1"},
			[]string{"203.0.113.7"}, []string{"2001:db8::1"}},
		{"mapped", map[string]any{"IpAddress": "::ffff:198.51.100.9"}, []string{"198.51.100.9"}, nil},
		{"a list keeps its addresses", map[string]any{"source.ip": []any{"0.0.0.0/0", "192.0.2.4"}}, []string{"192.0.2.4"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Entities(&event.Event{Fields: tc.fields})
			if !slices.Equal(e.SourceIPs, tc.src) || !slices.Equal(e.DestIPs, tc.dst) {
				t.Fatalf("source %q dest %q; want %q %q", e.SourceIPs, e.DestIPs, tc.src, tc.dst)
			}
		})
	}
}
