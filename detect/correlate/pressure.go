package correlate

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// State pressure. A correlation keeps at most MaxGroupsPerRule groups, so
// an attacker who can make many group keys (one source address each, easy
// with an IPv6 /64) could push the evidence against them out of memory.
// Eviction takes the groups with the least evidence first (window.go), and
// every eviction is counted and reported: Pressure hands out one report per
// correlation and interval, naming the networks the new groups came from,
// for the caller to raise as an alert. The flood is then itself a finding.

// Pressure reports that a correlation's state was full and groups were
// evicted since its last report.
type Pressure struct {
	Rule *Rule
	// Evicted is the number of groups evicted since the last report, and
	// MaxEvictedEntries the most entries (events) one of them held: 1 means
	// only single-event groups were lost.
	Evicted           int64
	MaxEvictedEntries int
	// Groups is the number of groups kept, Max the bound.
	Groups, Max int
	// Since is the wall time of the first eviction reported, Until the
	// report's.
	Since, Until time.Time
	// Networks are where the new groups that forced evictions came from:
	// the /24 (IPv4) or /64 (IPv6) of their first group-by value that is an
	// IP address, most groups first, at most five. Empty when no group-by
	// value is an address.
	Networks []NetworkCount
}

// NetworkCount is a network and how many new groups came from it.
type NetworkCount struct {
	Network string
	Groups  int64
}

// pressure is what a correlation evicted since its last report.
type pressure struct {
	evicted  int64
	maxEnts  int
	since    int64                  // wall ns of the first unreported eviction
	last     int64                  // wall ns of the last report
	networks map[netip.Prefix]int64 // new groups that forced an eviction, by network
}

// evict makes room for a new group with group-by values vals.
func (e *Engine) evict(c *corr, vals []string, wall int64) {
	v := c.victim()
	if v == nil {
		return
	}
	p := &c.press
	if p.evicted == 0 {
		p.since = wall
	}
	p.evicted++
	p.maxEnts = max(p.maxEnts, len(v.ents))
	if n, ok := network(vals); ok {
		if p.networks == nil {
			p.networks = map[netip.Prefix]int64{}
		}
		if _, ok := p.networks[n]; ok || len(p.networks) < maxNetworks {
			p.networks[n]++
		}
	}
	e.dropGroup(c, v)
	c.st.Evicted++
}

// network is the /24 or /64 of the first group-by value that is an IP
// address: an attacker with many addresses usually has them in a few such
// networks (an IPv6 /64 is one subscriber's).
func network(vals []string) (netip.Prefix, bool) {
	for _, v := range vals {
		a, err := netip.ParseAddr(v)
		if err != nil {
			continue
		}
		a = a.Unmap().WithZone("")
		bits := 64
		if a.Is4() {
			bits = 24
		}
		pfx, err := a.Prefix(bits)
		return pfx, err == nil
	}
	return netip.Prefix{}, false
}

// Pressure returns a report for each correlation that evicted groups since
// its last report, provided Options.PressureInterval has passed since that
// report.
func (e *Engine) Pressure(now time.Time) []Pressure {
	e.mu.Lock()
	defer e.mu.Unlock()
	wall := now.UnixNano()
	var out []Pressure
	for _, c := range e.corrs {
		p := &c.press
		if p.evicted == 0 || p.last != 0 && wall-p.last < e.interval {
			continue
		}
		r := Pressure{Rule: c.rule, Evicted: p.evicted, MaxEvictedEntries: p.maxEnts, Groups: len(c.groups),
			Max: e.maxGroup, Since: ts(p.since), Until: now.UTC()}
		for n, k := range p.networks {
			r.Networks = append(r.Networks, NetworkCount{n.String(), k})
		}
		slices.SortFunc(r.Networks, func(a, b NetworkCount) int {
			return cmp.Or(cmp.Compare(b.Groups, a.Groups), strings.Compare(a.Network, b.Network))
		})
		r.Networks = r.Networks[:min(len(r.Networks), 5)]
		out = append(out, r)
		c.press = pressure{last: wall}
	}
	return out
}
