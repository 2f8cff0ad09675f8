package http

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// refusedError is an address the policy refuses: never retried.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func refused(format string, a ...any) error { return &refusedError{fmt.Sprintf(format, a...)} }

func isRefused(err error) bool {
	var r *refusedError
	return errors.As(err, &r)
}

// Cloud metadata services, by name and by address. They hand out instance
// credentials: an action must never reach them unless allowed by address.
var (
	metadataNames = map[string]bool{
		"metadata.google.internal":   true,
		"metadata.goog":              true,
		"metadata":                   true,
		"instance-data":              true,
		"instance-data.ec2.internal": true,
	}
	metadataAddrs = map[netip.Addr]bool{
		netip.MustParseAddr("169.254.169.254"): true, // AWS, GCP, Azure, OCI, ...
		netip.MustParseAddr("169.254.170.2"):   true, // ECS task metadata
		netip.MustParseAddr("fd00:ec2::254"):   true, // AWS IPv6
		netip.MustParseAddr("100.100.100.200"): true, // Alibaba Cloud
	}
	cgnat   = netip.MustParsePrefix("100.64.0.0/10")
	thisNet = netip.MustParsePrefix("0.0.0.0/8")
	v4Resv  = netip.MustParsePrefix("240.0.0.0/4")
	nat64   = []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("64:ff9b:1::/48")}
)

func normHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// checkName refuses metadata host names before any lookup.
func (p policy) checkName(host string) error {
	n := normHost(host)
	if metadataNames[n] && !p.hosts[n] {
		return refused("host %s is a cloud metadata service: refused", n)
	}
	return nil
}

// checkAddr decides whether an address may be dialled. hostAllowed says the
// host name asked for is in allow_hosts.
func (p policy) checkAddr(a netip.Addr, hostAllowed bool) error {
	a = a.Unmap().WithZone("")
	for _, pr := range p.prefixes {
		if pr.Contains(a) {
			return nil
		}
	}
	// An IPv6 address that carries an IPv4 one through a NAT64 gateway
	// reaches that IPv4 address: judge that one.
	if a.Is6() {
		for _, pr := range nat64 {
			if pr.Contains(a) {
				b := a.As16()
				v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
				if err := p.checkAddr(v4, hostAllowed); err != nil {
					return refused("%s (NAT64 of %s)", err, v4)
				}
				return nil
			}
		}
	}
	switch {
	case !a.IsValid():
		return refused("no address: refused")
	case metadataAddrs[a]:
		return refused("address %s is a cloud metadata service: refused", a)
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return refused("address %s is link-local: refused", a)
	case a.IsUnspecified() || a.IsMulticast() || thisNet.Contains(a) || v4Resv.Contains(a):
		return refused("address %s is not a unicast host address: refused", a)
	case a.IsLoopback() || a.IsPrivate() || cgnat.Contains(a):
		if p.allowPrivate || hostAllowed {
			return nil
		}
		return refused("address %s is loopback or private: refused (allow_private or allow_hosts allow it)", a)
	}
	return nil
}

// checkLiteral checks a URL host before any dial: metadata names, and IP
// literals by the same rules as dialled addresses.
func (p policy) checkLiteral(host string) error {
	if err := p.checkName(host); err != nil {
		return err
	}
	n := normHost(host)
	if a, err := netip.ParseAddr(strings.Trim(n, "[]")); err == nil {
		return p.checkAddr(a, p.hosts[n])
	}
	if n == "localhost" || strings.HasSuffix(n, ".localhost") {
		if p.allowPrivate || p.hosts[n] {
			return nil
		}
		return refused("host %s is loopback: refused (allow_private or allow_hosts allow it)", n)
	}
	return nil
}
