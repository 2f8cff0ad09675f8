package decision

import (
	"errors"
	"fmt"
	"net/netip"
)

// Limits keep a deny decision to what an incident can warrant. Addresses
// reach decisions from event fields an attacker writes (an "IpAddress" of
// 0.0.0.0/0), from playbooks acting on them and from producers over
// OpenC2; without limits one log line could cut a network off the
// Internet, or the hosts off Riposte itself.
type Limits struct {
	// MaxPrefixV4 and MaxPrefixV6 are the widest networks a deny may
	// name: a /16 is refused when MaxPrefixV4 is 24.
	MaxPrefixV4, MaxPrefixV6 int
	// Protected are never denied, nor any network that holds one of
	// them: the server's own addresses and those agents must reach.
	Protected []netip.Prefix
	// MaxSegmentV4 and MaxSegmentV6 are the widest networks a segment
	// quarantine (contain_segment) may name; zero means /16 and /32. A
	// quarantine keeps the SOC and the server reachable, so protected
	// addresses inside it are no reason to refuse.
	MaxSegmentV4, MaxSegmentV6 int
}

// DefaultLimits: a /24 or a /48 at the widest, nothing protected beyond
// the special ranges every deny refuses.
var DefaultLimits = Limits{MaxPrefixV4: 24, MaxPrefixV6: 48}

// special are ranges a deny never names: denying them breaks the host
// itself (loopback), its neighbours (link-local, where DHCPv6, router
// advertisements and cloud metadata live), group traffic (multicast) or
// means "any" (unspecified, broadcast).
var special = []struct {
	p   netip.Prefix
	why string
}{
	{netip.MustParsePrefix("0.0.0.0/32"), "the unspecified address"},
	{netip.MustParsePrefix("::/128"), "the unspecified address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "the broadcast address"},
}

// ErrRefused marks a decision the limits refuse; errors.Is finds it in a
// *RefusedError.
var ErrRefused = errors.New("refused by the decision limits")

// RefusedError says which limit refused a target and why.
type RefusedError struct {
	Target string
	Why    string
	// Verb is what was refused ("" reads "deny").
	Verb string
}

func (e *RefusedError) Error() string {
	v := e.Verb
	if v == "" {
		v = "deny"
	}
	return fmt.Sprintf("refusing to %s %s: %s (an admin may force it with a reason)", v, e.Target, e.Why)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Check refuses a deny target the limits do not allow. p is a masked
// prefix as normalize makes it.
func (l Limits) Check(p netip.Prefix) error {
	refuse := func(format string, a ...any) error {
		return &RefusedError{Target: p.String(), Why: fmt.Sprintf(format, a...)}
	}
	max, fam := l.MaxPrefixV4, "IPv4"
	if p.Addr().Is6() {
		max, fam = l.MaxPrefixV6, "IPv6"
	}
	if p.Bits() < max {
		return refuse("/%d is wider than the %s limit of /%d (%s addresses)", p.Bits(), fam, max, size(p))
	}
	for _, s := range special {
		if p.Overlaps(s.p) {
			return refuse("it is or holds %s (%s)", s.why, s.p)
		}
	}
	for _, q := range l.Protected {
		if p.Overlaps(q) {
			return refuse("it is or holds %s, a protected address (the server's own or agents.permitted/agents.protected)", q)
		}
	}
	return nil
}

// CheckSegment refuses a segment quarantine target wider than the
// segment limits, or naming special ranges (loopback, link-local,
// multicast, unspecified, broadcast). p is masked.
func (l Limits) CheckSegment(p netip.Prefix) error {
	max, fam := l.MaxSegmentV4, "IPv4"
	if max == 0 {
		max = 16
	}
	if p.Addr().Is6() {
		max, fam = l.MaxSegmentV6, "IPv6"
		if max == 0 {
			max = 32
		}
	}
	if p.Bits() < max {
		return &RefusedError{Target: p.String(), Verb: "quarantine", Why: fmt.Sprintf("/%d is wider than the %s segment limit of /%d (%s addresses)", p.Bits(), fam, max, size(p))}
	}
	for _, s := range special {
		if p.Overlaps(s.p) {
			return &RefusedError{Target: p.String(), Verb: "quarantine", Why: fmt.Sprintf("it is or holds %s (%s)", s.why, s.p)}
		}
	}
	return nil
}

// size names how many addresses a prefix holds, for the refusal.
func size(p netip.Prefix) string {
	host := p.Addr().BitLen() - p.Bits()
	if host >= 63 {
		return fmt.Sprintf("2^%d", host)
	}
	return fmt.Sprint(uint64(1) << host)
}
