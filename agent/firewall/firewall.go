package firewall

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Decision is one SLPF allow/deny decision as the host agent enforces it.
type Decision struct {
	ID        string
	Action    string       // "deny" or "allow"
	Direction string       // "in", "out" or "both"
	Net       netip.Prefix // /32 or /128 for one address, or a CIDR
	Proto     string       // "", "tcp" or "udp"
	Port      uint16       // destination port; 0: any
	Expires   time.Time    // zero: until reverted
}

// Firewall owns one inet table (and, while the host is contained, a second
// table named table+"_iso") in the network namespace that was current when
// Open was called.
type Firewall struct {
	mu    sync.Mutex
	ns    netns.NsHandle
	conn  *nftables.Conn // reads (dumps); replaced after an error
	tx    *netlink.Conn  // batches (see batch.go); nil until needed
	txBuf int            // send buffer size set on tx, 0: the default
	seq   uint32         // last netlink sequence number used on tx
	rxBuf []byte
	table string
	now   func() time.Time
}

const (
	chainIn   = "input"
	chainOut  = "output"
	chainFwd  = "forward"
	isoSuffix = "_iso"
	// maxElemsPerMsg bounds one NEWSETELEM message (spec §9: ≤ 1,000
	// elements per chunk); large sets take several messages of the same
	// (atomic) batch.
	maxElemsPerMsg = 1000
	commentPrefix  = "riposte:"
)

// Open returns a Firewall bound to the calling thread's current network
// namespace (callers that switch namespaces must hold runtime.LockOSThread).
// Nothing is changed in the kernel until Apply or Contain.
func Open(table string) (*Firewall, error) {
	if table == "" || len(table) > 200 || strings.ContainsAny(table, " \x00") {
		return nil, fmt.Errorf("firewall: invalid table name %q", table)
	}
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("firewall: current netns: %w", err)
	}
	f := &Firewall{ns: ns, table: table, now: time.Now}
	if err := f.reopen(); err != nil {
		ns.Close()
		return nil, fmt.Errorf("firewall: nf_tables netlink: %w", err)
	}
	// Probe that nf_tables answers in this namespace.
	if _, err := f.conn.ListTablesOfFamily(nftables.TableFamilyINet); err != nil {
		f.Close()
		return nil, fmt.Errorf("firewall: nf_tables netlink: %w", err)
	}
	return f, nil
}

// reopen replaces the read connection. After a failed request its socket
// may still hold replies that the library would take for the answers to the
// next request (and then wait forever for the real ones).
func (f *Firewall) reopen() error {
	if f.conn != nil {
		f.conn.CloseLasting()
		f.conn = nil
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(f.ns)), nftables.AsLasting())
	if err != nil {
		return err
	}
	f.conn = c
	return nil
}

// reader returns the read connection, reopening it if a reopen failed.
func (f *Firewall) reader() (*nftables.Conn, error) {
	if !f.ns.IsOpen() {
		return nil, errClosed
	}
	if f.conn == nil {
		if err := f.reopen(); err != nil {
			return nil, fmt.Errorf("firewall: nf_tables netlink: %w", err)
		}
	}
	return f.conn, nil
}

// readFailed reopens the read connection after err and returns err.
func (f *Firewall) readFailed(err error) error {
	if !f.ns.IsOpen() {
		return err
	}
	if rerr := f.reopen(); rerr != nil {
		return errors.Join(err, fmt.Errorf("firewall: reopen nf_tables netlink: %w", rerr))
	}
	return err
}

var errClosed = errors.New("firewall: closed")

// Close releases the netlink sockets and namespace handle. Kernel state is kept.
func (f *Firewall) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if f.conn != nil {
		err = f.conn.CloseLasting()
		f.conn = nil
	}
	if f.tx != nil {
		err = errors.Join(err, f.tx.Close())
		f.tx = nil
	}
	if f.ns.IsOpen() {
		f.ns.Close()
	}
	return err
}

// ---- validation / normalisation ----

func normalize(d Decision) (Decision, error) {
	switch d.Action {
	case "deny", "allow":
	default:
		return d, fmt.Errorf("firewall: decision %q: action %q (want deny|allow)", d.ID, d.Action)
	}
	switch d.Direction {
	case "in", "out", "both":
	case "":
		d.Direction = "both" // SLPF: absent direction means both
	default:
		return d, fmt.Errorf("firewall: decision %q: direction %q (want in|out|both)", d.ID, d.Direction)
	}
	switch d.Proto {
	case "", "tcp", "udp":
	default:
		return d, fmt.Errorf("firewall: decision %q: proto %q (want tcp|udp or empty)", d.ID, d.Proto)
	}
	if !d.Net.IsValid() {
		return d, fmt.Errorf("firewall: decision %q: invalid prefix", d.ID)
	}
	a := d.Net.Addr()
	bits := d.Net.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	d.Net = netip.PrefixFrom(a.WithZone(""), bits).Masked()
	if len(d.ID) > 200 {
		return d, fmt.Errorf("firewall: decision id too long (%d bytes)", len(d.ID))
	}
	return d, nil
}

func sides(dir string) []string {
	switch dir {
	case "in":
		return []string{"in"}
	case "out":
		return []string{"out"}
	}
	return []string{"in", "out"}
}

func setName(action string, v6 bool, side string) string {
	fam := "4"
	if v6 {
		fam = "6"
	}
	return action + fam + "_" + side
}

// ---- address helpers ----

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangeToPrefixes splits [start, end] (inclusive) into CIDR prefixes.
func rangeToPrefixes(start, end netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	nbits := start.BitLen()
	s := new(big.Int).SetBytes(start.AsSlice())
	e := new(big.Int).SetBytes(end.AsSlice())
	one := big.NewInt(1)
	for s.Cmp(e) <= 0 && len(out) < 4*nbits {
		// largest block aligned at s that fits in [s, e]
		size := 0
		for size < nbits {
			blk := new(big.Int).Lsh(one, uint(size+1))
			if new(big.Int).Mod(s, blk).Sign() != 0 {
				break
			}
			last := new(big.Int).Add(s, new(big.Int).Sub(blk, one))
			if last.Cmp(e) > 0 {
				break
			}
			size++
		}
		buf := s.FillBytes(make([]byte, nbits/8))
		a, _ := netip.AddrFromSlice(buf)
		out = append(out, netip.PrefixFrom(a, nbits-size))
		s.Add(s, new(big.Int).Lsh(one, uint(size)))
	}
	return out
}

// ---- kernel object builders ----

func (f *Firewall) tbl(name string) *nftables.Table {
	return &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
}

func baseChain(t *nftables.Table, name string, hook *nftables.ChainHook, prio int32, policy nftables.ChainPolicy) *nftables.Chain {
	p := policy
	return &nftables.Chain{
		Name: name, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: hook, Priority: nftables.ChainPriorityRef(nftables.ChainPriority(prio)), Policy: &p,
	}
}

func nfproto(v6 bool) []expr.Any {
	p := byte(unix.NFPROTO_IPV4)
	if v6 {
		p = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// addrLoad loads the source (side "in": the remote peer sends) or destination
// (side "out") address into register 1.
func addrLoad(v6 bool, side string) []expr.Any {
	var off, n uint32 = 12, 4 // IPv4 saddr
	if side == "out" {
		off = 16
	}
	if v6 {
		off, n = 8, 16
		if side == "out" {
			off = 24
		}
	}
	return append(nfproto(v6), &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
}

func prefixMatch(p netip.Prefix, side string) []expr.Any {
	v6 := p.Addr().Is6()
	ex := addrLoad(v6, side)
	n := p.Addr().BitLen() / 8
	if p.Bits() < p.Addr().BitLen() {
		mask := make([]byte, n)
		for i := 0; i < p.Bits(); i++ {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		ex = append(ex, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(n), Mask: mask, Xor: make([]byte, n)})
	}
	return append(ex, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()})
}

func verdict(action string) *expr.Verdict {
	if action == "allow" {
		return &expr.Verdict{Kind: expr.VerdictAccept}
	}
	return &expr.Verdict{Kind: expr.VerdictDrop}
}

func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func ruleComment(d Decision) []byte {
	v := url.Values{}
	v.Set("id", d.ID)
	v.Set("a", d.Action)
	v.Set("net", d.Net.String())
	if d.Proto != "" {
		v.Set("proto", d.Proto)
	}
	if d.Port != 0 {
		v.Set("port", strconv.Itoa(int(d.Port)))
	}
	if !d.Expires.IsZero() {
		v.Set("exp", strconv.FormatInt(d.Expires.UnixMilli(), 10))
	}
	return userdata.AppendString(nil, userdata.TypeComment, commentPrefix+v.Encode())
}

func parseRuleComment(ud []byte) (Decision, bool) {
	s, ok := userdata.GetString(ud, userdata.TypeComment)
	if !ok || !strings.HasPrefix(s, commentPrefix) {
		return Decision{}, false
	}
	v, err := url.ParseQuery(strings.TrimPrefix(s, commentPrefix))
	if err != nil {
		return Decision{}, false
	}
	p, err := netip.ParsePrefix(v.Get("net"))
	if err != nil {
		return Decision{}, false
	}
	d := Decision{ID: v.Get("id"), Action: v.Get("a"), Net: p, Proto: v.Get("proto")}
	if ps := v.Get("port"); ps != "" {
		n, err := strconv.ParseUint(ps, 10, 16)
		if err != nil {
			return Decision{}, false
		}
		d.Port = uint16(n)
	}
	if es := v.Get("exp"); es != "" {
		ms, err := strconv.ParseInt(es, 10, 64)
		if err != nil {
			return Decision{}, false
		}
		d.Expires = time.UnixMilli(ms)
	}
	return d, true
}

// decisionRules returns the rule expressions (one per protocol) for d on one side.
func decisionRules(d Decision, side string) [][]expr.Any {
	protos := []string{d.Proto}
	if d.Proto == "" && d.Port != 0 {
		protos = []string{"tcp", "udp"}
	}
	var out [][]expr.Any
	for _, pr := range protos {
		ex := prefixMatch(d.Net, side)
		if pr != "" {
			num := byte(unix.IPPROTO_TCP)
			if pr == "udp" {
				num = unix.IPPROTO_UDP
			}
			ex = append(ex,
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{num}})
		}
		if d.Port != 0 {
			ex = append(ex,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(d.Port)})
		}
		out = append(out, append(ex, verdict(d.Action)))
	}
	return out
}

// ---- Apply ----

type placed struct {
	d    Decision
	side string
}

// plan splits decisions into set elements and explicit rules. Interval sets
// cannot hold overlapping ranges, so a prefix nested in (or equal to) one
// already placed in the same set becomes a rule instead.
func plan(ds []Decision, now time.Time) (elems map[string][]placed, rules []placed, err error) {
	elems = map[string][]placed{}
	cand := map[string][]placed{}
	for _, d0 := range ds {
		d, err := normalize(d0)
		if err != nil {
			return nil, nil, err
		}
		if !d.Expires.IsZero() && d.Expires.Sub(now) < time.Millisecond {
			continue // already expired
		}
		for _, side := range sides(d.Direction) {
			p := placed{d, side}
			if d.Proto != "" || d.Port != 0 {
				rules = append(rules, p)
				continue
			}
			k := setName(d.Action, d.Net.Addr().Is6(), side)
			cand[k] = append(cand[k], p)
		}
	}
	for k, ps := range cand {
		sort.SliceStable(ps, func(i, j int) bool {
			if c := ps[i].d.Net.Addr().Compare(ps[j].d.Net.Addr()); c != 0 {
				return c < 0
			}
			return ps[i].d.Net.Bits() < ps[j].d.Net.Bits()
		})
		var lastEnd netip.Addr
		for _, p := range ps {
			if lastEnd.IsValid() && p.d.Net.Addr().Compare(lastEnd) <= 0 {
				rules = append(rules, p)
				continue
			}
			elems[k] = append(elems[k], p)
			lastEnd = lastAddr(p.d.Net)
		}
	}
	return elems, rules, nil
}

// elemChunks returns the set elements for ps split into the contents of
// NEWSETELEM messages: at most maxElemsPerMsg elements and maxElemBytes
// encoded bytes each, never separating an interval's start from its end.
func elemChunks(ps []placed, now time.Time) [][]nftables.SetElement {
	var out [][]nftables.SetElement
	var cur []nftables.SetElement
	size := 0
	for _, p := range ps {
		var to time.Duration
		if !p.d.Expires.IsZero() {
			to = p.d.Expires.Sub(now).Round(time.Millisecond)
			if to < time.Millisecond {
				to = time.Millisecond
			}
		}
		start := p.d.Net.Addr()
		els := []nftables.SetElement{{Key: start.AsSlice(), Timeout: to, Comment: p.d.ID}}
		if end := lastAddr(p.d.Net).Next(); end.IsValid() {
			els = append(els, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
		}
		n := 0
		for _, e := range els {
			n += elemBytes(e)
		}
		if len(cur) > 0 && (len(cur)+len(els) > maxElemsPerMsg || size+n > maxElemBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, els...)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// elemBytes is an upper bound of e's encoding by google/nftables: list item
// header, flags, nested key, timeout, and the comment as userdata TLV.
func elemBytes(e nftables.SetElement) int {
	n := 4 + 8 + 8 + nlmsgAlign(len(e.Key)) + 12
	if e.Comment != "" {
		n += 4 + nlmsgAlign(3+len(e.Comment))
	}
	return n
}

// Apply makes the kernel state of the table equal to exactly ds, in one
// atomic netlink batch. Already expired decisions are skipped.
func (f *Firewall) Apply(ds []Decision) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	elems, rules, err := plan(ds, now)
	if err != nil {
		return err
	}
	if err := f.commit(func(c *nftables.Conn) error { return f.build(c, elems, rules, now) }); err != nil {
		return fmt.Errorf("firewall: apply: %w", err)
	}
	return nil
}

// build queues the replacement of the decision table on c.
func (f *Firewall) build(c *nftables.Conn, elems map[string][]placed, rules []placed, now time.Time) error {
	t := f.tbl(f.table)
	// add+delete+add: idempotent whether or not the table exists, and the
	// whole replacement is one transaction (no window without rules).
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	prio := int32(-10) // filter - 10
	chains := map[string]*nftables.Chain{
		chainIn:  c.AddChain(baseChain(t, chainIn, nftables.ChainHookInput, prio, nftables.ChainPolicyAccept)),
		chainOut: c.AddChain(baseChain(t, chainOut, nftables.ChainHookOutput, prio, nftables.ChainPolicyAccept)),
		chainFwd: c.AddChain(baseChain(t, chainFwd, nftables.ChainHookForward, prio, nftables.ChainPolicyAccept)),
	}
	sets := map[string]*nftables.Set{}
	for _, action := range []string{"allow", "deny"} {
		for _, v6 := range []bool{false, true} {
			for _, side := range []string{"in", "out"} {
				name := setName(action, v6, side)
				kt := nftables.TypeIPAddr
				if v6 {
					kt = nftables.TypeIP6Addr
				}
				// IDs only need to be unique within the batch; setting them
				// avoids the library's unsynchronised global counter.
				s := &nftables.Set{Table: t, Name: name, ID: uint32(len(sets) + 1), KeyType: kt, Interval: true, HasTimeout: true}
				if err := c.AddSet(s, nil); err != nil {
					return fmt.Errorf("firewall: set %s: %w", name, err)
				}
				for _, chunk := range elemChunks(elems[name], now) {
					if err := c.SetAddElements(s, chunk); err != nil {
						return fmt.Errorf("firewall: set %s: %w", name, err)
					}
				}
				sets[name] = s
			}
		}
	}
	// A rule decision appears in two chains, as one or two rules each.
	comments := make([][]byte, len(rules))
	for i, r := range rules {
		comments[i] = ruleComment(r.d)
	}
	addRule := func(chain string, ex []expr.Any, ud []byte) {
		c.AddRule(&nftables.Rule{Table: t, Chain: chains[chain], Exprs: ex, UserData: ud})
	}
	hooks := []struct {
		chain string
		sides []string
	}{{chainIn, []string{"in"}}, {chainOut, []string{"out"}}, {chainFwd, []string{"in", "out"}}}
	for _, h := range hooks {
		for _, action := range []string{"allow", "deny"} {
			for _, side := range h.sides {
				for _, v6 := range []bool{false, true} {
					s := sets[setName(action, v6, side)]
					ex := append(addrLoad(v6, side), &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID}, verdict(action))
					addRule(h.chain, ex, nil)
				}
				for i, r := range rules {
					if r.d.Action != action || r.side != side {
						continue
					}
					for _, ex := range decisionRules(r.d, side) {
						addRule(h.chain, ex, comments[i])
					}
				}
			}
		}
	}
	return nil
}

// ---- State ----

type stateKey struct {
	id, action, proto string
	net               netip.Prefix
	port              uint16
}

type stateVal struct {
	in, out bool
	exp     time.Time
}

// State reads back the decisions the kernel holds: set elements (with their
// remaining timeouts, converted to absolute Expires) and the rules carrying a
// riposte comment. Direction is derived from where they were found: the
// input side ("_in" sets, input chain) and the output side ("_out" sets,
// output chain). A missing table yields an empty list.
func (f *Firewall) State() ([]Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ds, err := f.state()
	if err != nil {
		return nil, f.readFailed(err)
	}
	return ds, nil
}

func (f *Firewall) state() ([]Decision, error) {
	now := f.now()
	c, err := f.reader()
	if err != nil {
		return nil, err
	}
	t, err := c.ListTableOfFamily(f.table, nftables.TableFamilyINet)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("firewall: list table: %w", err)
	}
	acc := map[stateKey]*stateVal{}
	var order []stateKey
	add := func(d Decision, side string) {
		k := stateKey{d.ID, d.Action, d.Proto, d.Net, d.Port}
		v, ok := acc[k]
		if !ok {
			v = &stateVal{exp: d.Expires}
			acc[k] = v
			order = append(order, k)
		}
		if side == "in" {
			v.in = true
		} else {
			v.out = true
		}
		if d.Expires.IsZero() || (!v.exp.IsZero() && d.Expires.After(v.exp)) {
			v.exp = d.Expires
		}
	}
	sets, err := c.GetSets(t)
	if err != nil {
		return nil, fmt.Errorf("firewall: list sets: %w", err)
	}
	for _, s := range sets {
		name := s.Name
		var action, side string
		var v6 bool
		switch {
		case strings.HasPrefix(name, "allow"):
			action = "allow"
		case strings.HasPrefix(name, "deny"):
			action = "deny"
		default:
			continue
		}
		rest := strings.TrimPrefix(name, action)
		switch rest {
		case "4_in", "4_out":
		case "6_in", "6_out":
			v6 = true
		default:
			continue
		}
		side = rest[2:]
		els, err := c.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("firewall: list set %s: %w", name, err)
		}
		for _, d := range intervalDecisions(els, v6, now) {
			d.Action = action
			add(d, side)
		}
	}
	for _, ch := range []string{chainIn, chainOut} {
		rs, err := c.GetRules(t, &nftables.Chain{Name: ch, Table: t})
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, fmt.Errorf("firewall: list rules %s: %w", ch, err)
		}
		side := "in"
		if ch == chainOut {
			side = "out"
		}
		for _, r := range rs {
			if d, ok := parseRuleComment(r.UserData); ok {
				add(d, side)
			}
		}
	}
	out := make([]Decision, 0, len(order))
	for _, k := range order {
		v := acc[k]
		dir := "both"
		switch {
		case v.in && !v.out:
			dir = "in"
		case v.out && !v.in:
			dir = "out"
		}
		out = append(out, Decision{ID: k.id, Action: k.action, Direction: dir, Net: k.net, Proto: k.proto, Port: k.port, Expires: v.exp})
	}
	sortDecisions(out)
	return out, nil
}

func sortDecisions(ds []Decision) {
	slices.SortFunc(ds, func(a, b Decision) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		if c := a.Net.Addr().Compare(b.Net.Addr()); c != 0 {
			return c
		}
		if c := a.Net.Bits() - b.Net.Bits(); c != 0 {
			return c
		}
		if c := strings.Compare(a.Action+a.Proto, b.Action+b.Proto); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
}

// intervalDecisions pairs interval start elements with their end elements.
func intervalDecisions(els []nftables.SetElement, v6 bool, now time.Time) []Decision {
	type pt struct {
		a   netip.Addr
		end bool
		e   nftables.SetElement
	}
	var pts []pt
	for _, e := range els {
		a, ok := netip.AddrFromSlice(e.Key)
		if !ok || a.Is6() != v6 {
			continue
		}
		pts = append(pts, pt{a, e.IntervalEnd, e})
	}
	sort.SliceStable(pts, func(i, j int) bool {
		if c := pts[i].a.Compare(pts[j].a); c != 0 {
			return c < 0
		}
		return pts[i].end && !pts[j].end // an end closes before a start at the same key
	})
	var out []Decision
	for i, p := range pts {
		if p.end {
			continue
		}
		// range ends before the next end marker, or at the top of the space
		var last netip.Addr
		for j := i + 1; j < len(pts); j++ {
			if pts[j].end {
				last = pts[j].a.Prev()
				break
			}
			if !pts[j].end {
				break // another start: the previous range is open-ended (not produced by Apply)
			}
		}
		if !last.IsValid() {
			if i+1 < len(pts) {
				last = pts[i+1].a.Prev()
			} else {
				last = lastAddr(netip.PrefixFrom(p.a, 0))
			}
		}
		var exp time.Time
		if p.e.Timeout != 0 {
			exp = now.Add(p.e.Expires)
		}
		for _, pfx := range rangeToPrefixes(p.a, last) {
			out = append(out, Decision{ID: p.e.Comment, Net: pfx, Expires: exp})
		}
	}
	return out
}

// ---- containment ----

// Contain isolates the host: a second table (name+"_iso") with input, output
// and forward base chains at priority filter - 20 and policy drop accepts only
// loopback and traffic from/to the allow prefixes (the Riposte server). No
// blanket "ct state established" accept, so existing sessions die. Calling it
// again replaces the allow list atomically.
func (f *Firewall) Contain(allow []netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ps []netip.Prefix
	for _, p := range allow {
		d, err := normalize(Decision{Action: "allow", Net: p})
		if err != nil {
			return err
		}
		ps = append(ps, d.Net)
	}
	err := f.commit(func(c *nftables.Conn) error {
		f.buildContain(c, ps)
		return nil
	})
	if err != nil {
		return fmt.Errorf("firewall: contain: %w", err)
	}
	return nil
}

// buildContain queues the replacement of the isolation table on c.
func (f *Firewall) buildContain(c *nftables.Conn, ps []netip.Prefix) {
	t := f.tbl(f.table + isoSuffix)
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	prio := int32(-20)
	in := c.AddChain(baseChain(t, chainIn, nftables.ChainHookInput, prio, nftables.ChainPolicyDrop))
	out := c.AddChain(baseChain(t, chainOut, nftables.ChainHookOutput, prio, nftables.ChainPolicyDrop))
	fwd := c.AddChain(baseChain(t, chainFwd, nftables.ChainHookForward, prio, nftables.ChainPolicyDrop))
	acc := &expr.Verdict{Kind: expr.VerdictAccept}
	c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("lo")}, acc}})
	c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("lo")}, acc}})
	for _, p := range ps {
		c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: append(prefixMatch(p, "in"), acc)})
		c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: append(prefixMatch(p, "out"), acc)})
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: append(prefixMatch(p, "in"), acc)})
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: append(prefixMatch(p, "out"), acc)})
	}
}

// Contained reports whether the isolation table exists.
func (f *Firewall) Contained() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.reader()
	if err != nil {
		return false, err
	}
	_, err = c.ListTableOfFamily(f.table+isoSuffix, nftables.TableFamilyINet)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return false, f.readFailed(err)
}

// Release lifts containment (deletes the isolation table); idempotent.
func (f *Firewall) Release() error {
	return f.drop(f.table + isoSuffix)
}

// Remove deletes the decision table; idempotent. Containment, if any, is
// left in place (use Release).
func (f *Firewall) Remove() error {
	return f.drop(f.table)
}

func (f *Firewall) drop(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tbl(name)
	err := f.commit(func(c *nftables.Conn) error {
		c.AddTable(t)
		c.DelTable(t)
		return nil
	})
	if err != nil {
		return fmt.Errorf("firewall: delete table %s: %w", name, err)
	}
	return nil
}
