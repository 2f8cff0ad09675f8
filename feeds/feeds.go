// Package feeds serves Riposte's deny decisions as block lists that
// firewalls poll: Palo Alto External Dynamic Lists, FortiGate external
// threat feeds, Check Point custom intelligence (IoC) feeds and JSON.
// Each consumer has its own token; a change counter (serial) and an ETag
// make a poll that finds nothing new cost one small 304.
//
// Only addresses and networks are served. Riposte has no "block this
// domain" decision: sinkholed names live in the resolver the dnssink
// connector drives, with no record Riposte could serve or revert here.
// A domain list needs a decision kind of its own first (see the README).
package feeds

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/decision"
)

// MaxEntries bounds a feed: past it the newest decisions are served and
// the answer says how many were left out (X-Riposte-Truncated). Palo Alto
// firewalls take 50,000-150,000 addresses over all their lists, FortiGate
// and Check Point gateways about as many; a longer list would be cut by
// the firewall with no say in what goes.
const MaxEntries = 100_000

// Entry is one blocked address or network.
type Entry struct {
	// Value is an address ("203.0.113.7") or a network ("198.51.100.0/24").
	Value string `json:"value"`
	// Type is "ip" or "cidr".
	Type string `json:"type"`
	// Decision is the Riposte decision that blocks it.
	Decision string    `json:"decision"`
	Reason   string    `json:"reason"`
	Incident string    `json:"incident,omitempty"`
	Start    time.Time `json:"start"`
	// Expires is when it ends (absent: when reverted).
	Expires *time.Time `json:"expires,omitempty"`

	prefix netip.Prefix
}

// Entries turns the decisions in force at now into a feed: deny decisions
// that apply everywhere (a deny scoped to one host is that host's
// business, not the edge's), one entry per value (the decision lasting
// longest), by address. It keeps at most limit entries, the newest, and
// says how many it left out.
func Entries(ds []decision.Decision, now time.Time, limit int) (out []Entry, dropped int) {
	best := map[netip.Prefix]decision.Decision{}
	for _, d := range ds {
		if d.Kind != decision.DenyIP || d.Host != "" || !d.Active(now) {
			continue
		}
		p, err := netip.ParsePrefix(d.Target)
		if err != nil {
			continue
		}
		p = p.Masked()
		if o, ok := best[p]; !ok || outlasts(d, o) {
			best[p] = d
		}
	}
	for p, d := range best {
		e := Entry{Value: p.String(), Type: "cidr", Decision: d.ID, Reason: d.Reason, Incident: d.Incident,
			Start: d.Start.UTC(), prefix: p}
		if p.IsSingleIP() {
			e.Value, e.Type = p.Addr().String(), "ip"
		}
		if !d.Expires.IsZero() {
			x := d.Expires.UTC()
			e.Expires = &x
		}
		out = append(out, e)
	}
	if limit > 0 && len(out) > limit {
		slices.SortFunc(out, func(a, b Entry) int {
			if c := b.Start.Compare(a.Start); c != 0 {
				return c
			}
			return strings.Compare(a.Decision, b.Decision)
		})
		dropped = len(out) - limit
		out = out[:limit]
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := a.prefix.Addr().Compare(b.prefix.Addr()); c != 0 {
			return c
		}
		return a.prefix.Bits() - b.prefix.Bits()
	})
	return out, dropped
}

// outlasts reports whether a should be served rather than b for one value:
// the one lasting longer, and of two equal the newer.
func outlasts(a, b decision.Decision) bool {
	switch {
	case a.Expires.IsZero() != b.Expires.IsZero():
		return a.Expires.IsZero()
	case !a.Expires.Equal(b.Expires):
		return a.Expires.After(b.Expires)
	}
	return a.ID > b.ID
}

// Digest identifies a feed's content: the values and the decisions behind
// them (a decision's expiry never changes, so its ID stands for it).
func Digest(es []Entry) string {
	h := sha256.New()
	for _, e := range es {
		h.Write([]byte(e.Value))
		h.Write([]byte{' '})
		h.Write([]byte(e.Decision))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// oneLine makes untrusted text (a reason) safe inside one line of a list
// a firewall parses: no control characters (a newline would start a
// forged entry), at most n bytes, cut on a character boundary.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
