package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Segment is one quarantined network behind a gateway: traffic routed
// from or to it is dropped except from/to the allowed prefixes.
type Segment struct {
	ID      string
	Net     netip.Prefix
	Expires time.Time // zero: until lifted; the caller lifts it (kernel rules do not expire)
}

const (
	segSuffix     = "_seg"
	segPrefix     = "riposte-seg:"
	segAllowLabel = "riposte-allow:"
	// prioSegment runs before the decision table (filter - 10) and after
	// host isolation (filter - 20); an accept here does not stop a later
	// chain from dropping, so allowed prefixes stay subject to deny_ip.
	prioSegment = -15
)

// where a segment's rules are: each must be found for the segment to
// count as enforced when read back.
const (
	placeFwdSrc = 1 << iota
	placeFwdDst
	placeIn
	placeOut
	placeAll = placeFwdSrc | placeFwdDst | placeIn | placeOut
)

func segComment(s Segment) []byte {
	v := url.Values{}
	v.Set("id", s.ID)
	v.Set("net", s.Net.String())
	if !s.Expires.IsZero() {
		v.Set("exp", strconv.FormatInt(s.Expires.UnixMilli(), 10))
	}
	return userdata.AppendString(nil, userdata.TypeComment, segPrefix+v.Encode())
}

func allowComment(p netip.Prefix) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, segAllowLabel+p.String())
}

func parseSegComment(ud []byte) (seg Segment, allow netip.Prefix, ok bool) {
	s, found := userdata.GetString(ud, userdata.TypeComment)
	if !found {
		return Segment{}, netip.Prefix{}, false
	}
	if rest, isAllow := strings.CutPrefix(s, segAllowLabel); isAllow {
		p, err := netip.ParsePrefix(rest)
		return Segment{}, p, err == nil
	}
	rest, isSeg := strings.CutPrefix(s, segPrefix)
	if !isSeg {
		return Segment{}, netip.Prefix{}, false
	}
	v, err := url.ParseQuery(rest)
	if err != nil {
		return Segment{}, netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(v.Get("net"))
	if err != nil {
		return Segment{}, netip.Prefix{}, false
	}
	seg = Segment{ID: v.Get("id"), Net: p}
	if es := v.Get("exp"); es != "" {
		ms, err := strconv.ParseInt(es, 10, 64)
		if err != nil {
			return Segment{}, netip.Prefix{}, false
		}
		seg.Expires = time.UnixMilli(ms)
	}
	return seg, netip.Prefix{}, true
}

func normalizePrefix(p netip.Prefix) (netip.Prefix, error) {
	d, err := normalize(Decision{Action: "deny", Net: p})
	return d.Net, err
}

// normSegments validates and canonicalises a quarantine: prefixes masked
// and unmapped, segments and allowed prefixes sorted and without repeats.
func normSegments(segs []Segment, allow []netip.Prefix) ([]Segment, []netip.Prefix, error) {
	out := make([]Segment, 0, len(segs))
	for _, s := range segs {
		p, err := normalizePrefix(s.Net)
		if err != nil {
			return nil, nil, fmt.Errorf("firewall: segment %q: %w", s.ID, err)
		}
		if len(s.ID) > 200 {
			return nil, nil, fmt.Errorf("firewall: segment id too long (%d bytes)", len(s.ID))
		}
		s.Net = p
		if !s.Expires.IsZero() {
			s.Expires = time.UnixMilli(s.Expires.UnixMilli())
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Segment) int {
		if c := a.Net.Addr().Compare(b.Net.Addr()); c != 0 {
			return c
		}
		if c := a.Net.Bits() - b.Net.Bits(); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var al []netip.Prefix
	for _, p := range allow {
		n, err := normalizePrefix(p)
		if err != nil {
			return nil, nil, fmt.Errorf("firewall: allowed prefix: %w", err)
		}
		al = append(al, n)
	}
	slices.SortFunc(al, comparePrefix)
	return out, slices.Compact(al), nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// Quarantine makes the segment table (name+"_seg") hold exactly segs: on a
// gateway, packets routed from or to a quarantined segment are dropped,
// and so are the segment's packets to and from the gateway itself, except
// from/to the allow prefixes (the SOC, the Riposte server) and loopback.
// The table is replaced in one atomic batch (an empty segs deletes it), so
// calling it again repairs any drift.
func (f *Firewall) Quarantine(segs []Segment, allow []netip.Prefix) error {
	segs, allow, err := normSegments(segs, allow)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return f.drop(f.table + segSuffix)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	err = f.commit(func(c *nftables.Conn) error {
		f.buildSegments(c, segs, allow)
		return nil
	})
	if err != nil {
		return fmt.Errorf("firewall: quarantine: %w", err)
	}
	return nil
}

func (f *Firewall) buildSegments(c *nftables.Conn, segs []Segment, allow []netip.Prefix) {
	t := f.tbl(f.table + segSuffix)
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	in := c.AddChain(baseChain(t, chainIn, nftables.ChainHookInput, prioSegment, nftables.ChainPolicyAccept))
	out := c.AddChain(baseChain(t, chainOut, nftables.ChainHookOutput, prioSegment, nftables.ChainPolicyAccept))
	fwd := c.AddChain(baseChain(t, chainFwd, nftables.ChainHookForward, prioSegment, nftables.ChainPolicyAccept))
	acc := &expr.Verdict{Kind: expr.VerdictAccept}
	drop := &expr.Verdict{Kind: expr.VerdictDrop}
	add := func(ch *nftables.Chain, ex []expr.Any, ud []byte) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: ex, UserData: ud})
	}
	add(in, []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("lo")}, acc}, nil)
	add(out, []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("lo")}, acc}, nil)
	for _, p := range allow {
		ud := allowComment(p)
		add(in, append(prefixMatch(p, "in"), acc), ud)
		add(out, append(prefixMatch(p, "out"), acc), ud)
		add(fwd, append(prefixMatch(p, "in"), acc), ud)
		add(fwd, append(prefixMatch(p, "out"), acc), ud)
	}
	for _, s := range segs {
		ud := segComment(s)
		add(fwd, append(prefixMatch(s.Net, "in"), drop), ud)
		add(fwd, append(prefixMatch(s.Net, "out"), drop), ud)
		add(in, append(prefixMatch(s.Net, "in"), drop), ud)
		add(out, append(prefixMatch(s.Net, "out"), drop), ud)
	}
}

// Quarantined reads the segment table back: the segments whose drop rules
// are all in place (routed from and to the segment, and to and from the
// gateway) and the allowed prefixes found in every chain. A missing table
// is no quarantine.
func (f *Firewall) Quarantined() ([]Segment, []netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	segs, allow, err := f.quarantined()
	if err != nil {
		return nil, nil, f.readFailed(err)
	}
	return segs, allow, nil
}

func (f *Firewall) quarantined() ([]Segment, []netip.Prefix, error) {
	c, err := f.reader()
	if err != nil {
		return nil, nil, err
	}
	t, err := c.ListTableOfFamily(f.table+segSuffix, nftables.TableFamilyINet)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("firewall: list table: %w", err)
	}
	type segKey struct {
		id  string
		net netip.Prefix
		exp int64
	}
	segAt := map[segKey]int{}
	allowAt := map[netip.Prefix]int{}
	var order []segKey
	var allowOrder []netip.Prefix
	for _, ch := range []string{chainFwd, chainIn, chainOut} {
		rs, err := c.GetRules(t, &nftables.Chain{Name: ch, Table: t})
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, nil, fmt.Errorf("firewall: list rules %s: %w", ch, err)
		}
		for _, r := range rs {
			s, a, ok := parseSegComment(r.UserData)
			if !ok {
				continue
			}
			place := placeOf(ch, r.Exprs)
			if place == 0 {
				continue
			}
			if a.IsValid() {
				if _, seen := allowAt[a]; !seen {
					allowOrder = append(allowOrder, a)
				}
				allowAt[a] |= place
				continue
			}
			k := segKey{s.ID, s.Net, s.Expires.UnixMilli()}
			if s.Expires.IsZero() {
				k.exp = 0
			}
			if _, seen := segAt[k]; !seen {
				order = append(order, k)
			}
			segAt[k] |= place
		}
	}
	var segs []Segment
	for _, k := range order {
		if segAt[k] != placeAll {
			continue
		}
		s := Segment{ID: k.id, Net: k.net}
		if k.exp != 0 {
			s.Expires = time.UnixMilli(k.exp)
		}
		segs = append(segs, s)
	}
	var allow []netip.Prefix
	for _, p := range allowOrder {
		if allowAt[p] == placeAll {
			allow = append(allow, p)
		}
	}
	segs, allow, err = normSegments(segs, allow)
	return segs, allow, err
}

// placeOf says where a rule is: its chain, and in forward whether it
// matches the source or the destination address (read from the payload
// offset it loads).
func placeOf(chain string, ex []expr.Any) int {
	switch chain {
	case chainIn:
		return placeIn
	case chainOut:
		return placeOut
	}
	for _, e := range ex {
		p, ok := e.(*expr.Payload)
		if !ok || p.Base != expr.PayloadBaseNetworkHeader {
			continue
		}
		switch p.Offset {
		case 12, 8: // IPv4 / IPv6 source
			return placeFwdSrc
		case 16, 24: // IPv4 / IPv6 destination
			return placeFwdDst
		}
	}
	return 0
}
