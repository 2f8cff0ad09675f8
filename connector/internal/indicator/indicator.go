// Package indicator checks what the enrichment connectors (abuseipdb,
// virustotal, rdap) are asked about — addresses, domain names, file
// hashes — before any of it leaves for a third party: the value goes into
// a URL path or query, and an internal address is nobody else's business.
package indicator

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// Ranges that are not anyone's on the Internet beyond what netip already
// classes as private, loopback, link-local, multicast or unspecified.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"), // documentation
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// IP parses an address (IPv4, IPv6; no zone, no prefix).
func IP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", limit.Text(s, 64))
	}
	return a.Unmap(), nil
}

// Public reports whether a is a global unicast address that a registry
// or reputation service can know about.
func Public(a netip.Addr) bool {
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Domain checks a DNS name (ASCII; IDNs in their xn-- form) of at least
// two labels and returns it lower-cased without a trailing dot.
func Domain(s string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	bad := fmt.Errorf("%q is not a domain name", limit.Text(s, 64))
	if d == "" || len(d) > 253 {
		return "", bad
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "", bad
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return "", bad
		}
	}
	// A last label of digits is an address, not a name.
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", bad
	}
	return d, nil
}

var hexRE = regexp.MustCompile(`^[0-9a-f]+$`)

// Hash checks a file hash and names its kind: md5, sha1 or sha256.
func Hash(s string) (string, string, error) {
	h := strings.ToLower(strings.TrimSpace(s))
	kinds := map[int]string{32: "md5", 40: "sha1", 64: "sha256"}
	kind, ok := kinds[len(h)]
	if !ok || !hexRE.MatchString(h) {
		return "", "", fmt.Errorf("%q is not an MD5, SHA-1 or SHA-256 hash in hex", limit.Text(s, 80))
	}
	return h, kind, nil
}

// Stamp writes a time as RFC 3339 in UTC; the zero time is "".
func Stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// ParseStamp reads an RFC 3339 time from an API and writes it back in
// UTC; what does not parse is "".
func ParseStamp(s string) string {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return Stamp(t)
}
