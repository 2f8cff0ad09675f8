package alert

import (
	"net/netip"
	"strings"
)

// Address reads one IP address from an event field for SourceIPs and
// DestIPs: the canonical form of a single address, or false for anything
// else. Fields are written by whoever sends the event, and playbooks act
// on these entities (a block of "0.0.0.0/0" blocks everything), so
// prefixes, ranges, lists and garbage are not addresses; neither is the
// unspecified address, which names no one. An IPv4 address written as
// IPv6 (::ffff:192.0.2.1, as Windows logs it) is the IPv4 address; a zone
// (fe80::1%eth0) is dropped.
func Address(s string) (string, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return "", false
	}
	a = a.Unmap().WithZone("")
	if a.IsUnspecified() {
		return "", false
	}
	return a.String(), true
}
