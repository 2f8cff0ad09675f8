package firewall

import (
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// mixedDecisions returns n seeded decisions of every kind Apply handles:
// single IPv4/IPv6 addresses (set elements, some adjacent, some duplicated),
// CIDRs nested in or equal to other CIDRs of the same set (overlap rules),
// CIDRs covering some of the addresses (which then become rules too) and
// proto/port decisions (rules; a port without proto is two rules per side),
// with random actions, directions and expiries.
func mixedDecisions(n int, seed uint64) []Decision {
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	dirs := []string{"in", "out", "both"}
	now := time.Now()
	ds := make([]Decision, 0, n)
	host4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{172, byte(16 + rng.IntN(16)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	host6 := func() netip.Addr {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 6: byte(rng.IntN(16)), 14: byte(rng.IntN(256)), 15: byte(rng.IntN(256))})
	}
	for i := range n {
		d := Decision{ID: fmt.Sprintf("m%d", i), Action: "deny", Direction: dirs[rng.IntN(3)]}
		if rng.IntN(6) == 0 {
			d.Action = "allow"
		}
		if rng.IntN(8) != 0 {
			d.Expires = now.Add(time.Hour + time.Duration(rng.Int64N(int64(time.Hour))))
		}
		switch r := rng.IntN(100); {
		case r < 45:
			d.Net = netip.PrefixFrom(host4(), 32)
		case r < 60:
			d.Net = netip.PrefixFrom(host6(), 128)
		case r < 72:
			// few distinct networks, so most of them overlap one another
			a := netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(16)), 0})
			d.Net = netip.PrefixFrom(a, 16+rng.IntN(3)*4).Masked()
		case r < 76:
			d.Net = netip.PrefixFrom(host6(), 56+rng.IntN(3)*8).Masked()
		case r < 78:
			d.Net = netip.PrefixFrom(host4(), 24).Masked()
		default:
			d.Net = netip.PrefixFrom(host4(), 32)
			if rng.IntN(3) == 0 {
				d.Net = netip.PrefixFrom(host6(), 128)
			}
			if rng.IntN(4) == 0 {
				d.Net = netip.PrefixFrom(d.Net.Addr(), d.Net.Bits()-8).Masked()
			}
			d.Port = uint16(1 + rng.IntN(65535))
			if rng.IntN(3) != 0 {
				d.Proto = []string{"tcp", "udp"}[rng.IntN(2)]
			}
		}
		if i > 0 && rng.IntN(50) == 0 {
			d.Net = ds[rng.IntN(i)].Net // same target under another id
		}
		ds = append(ds, d)
	}
	return ds
}

// counts reports how many set elements and rules Apply programs for ds.
func counts(t testing.TB, ds []Decision) (elems, rules int) {
	t.Helper()
	el, rs, err := plan(ds, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range el {
		elems += len(ps)
	}
	for _, r := range rs {
		// once in the input or output chain, once in forward
		rules += 2 * len(decisionRules(r.d, r.side))
	}
	return elems, rules
}

// TestApplyLarge is the regression test for Apply failing with netlink
// ENOBUFS on decision sets with many rules, and for the connection being
// unusable afterwards.
func TestApplyLarge(t *testing.T) {
	e := enter(t)
	defer e.close()
	s1, s2 := listen(t, "10.99.0.2"), listen(t, "10.99.0.2")
	for _, n := range []int{65, 200, 1000, 5000} {
		ds := mixedDecisions(n, uint64(n))
		if n == 5000 {
			// and it enforces: one element, one port rule
			ds = append(ds,
				Decision{ID: "blk", Action: "deny", Direction: "in", Net: pfx("10.99.0.1/32")},
				Decision{ID: "blkp", Action: "deny", Direction: "in", Net: pfx("10.99.0.0/24"), Proto: "tcp", Port: s2.Port()})
		}
		el, rs := counts(t, ds)
		start := time.Now()
		if err := e.fw.Apply(ds); err != nil {
			t.Fatalf("Apply of %d decisions (%d elements, %d rules): %v", n, el, rs, err)
		}
		took := time.Since(start)
		st, err := e.fw.State()
		if err != nil {
			t.Fatalf("State after %d decisions: %v", n, err)
		}
		sameDecisions(t, ds, st)
		t.Logf("%d decisions (%d elements, %d rules): Apply %v", len(ds), el, rs, took.Round(time.Millisecond))
	}
	mustBlock(t, "10.99.0.1", s1)
	mustConnect(t, "10.99.0.3", s1)
	mustBlock(t, "10.99.0.3", s2)
	// Shrinking back to a small set works on the same connection.
	small := mixedDecisions(10, 1)
	if err := e.fw.Apply(small); err != nil {
		t.Fatal(err)
	}
	st, err := e.fw.State()
	if err != nil {
		t.Fatal(err)
	}
	sameDecisions(t, small, st)
}

// BenchmarkApply measures Apply of n mixed decisions over a table already
// holding them: enforce re-applies the whole set on every change, so this
// is the cost of one ban or revert at that size. About a minute:
//
//	go test -run '^$' -bench . -benchtime 20x ./agent/firewall/
func BenchmarkApply(b *testing.B) {
	e := enter(b)
	defer e.close()
	for _, n := range []int{10, 100, 1000, 10000} {
		ds := mixedDecisions(n, uint64(n))
		el, rs := counts(b, ds)
		b.Run(fmt.Sprintf("decisions=%d", n), func(b *testing.B) {
			if err := e.fw.Apply(ds); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := e.fw.Apply(ds); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(el), "elements")
			b.ReportMetric(float64(rs), "rules")
		})
	}
}

// BenchmarkApplyHosts is the blocklist case: single addresses only, all of
// them set elements, for comparison with the mix above, where rules dominate.
func BenchmarkApplyHosts(b *testing.B) {
	e := enter(b)
	defer e.close()
	const n = 10000
	ds := make([]Decision, 0, n)
	exp := time.Now().Add(time.Hour)
	for i := range n {
		a := netip.AddrFrom4([4]byte{172, 16 + byte(i>>16), byte(i >> 8), byte(i)})
		if i%4 == 0 {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		}
		ds = append(ds, Decision{ID: fmt.Sprintf("h%d", i), Action: "deny", Direction: "both", Net: netip.PrefixFrom(a, a.BitLen()), Expires: exp})
	}
	el, rs := counts(b, ds)
	b.Run(fmt.Sprintf("decisions=%d", n), func(b *testing.B) {
		if err := e.fw.Apply(ds); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := e.fw.Apply(ds); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(el), "elements")
		b.ReportMetric(float64(rs), "rules")
	})
}

// BenchmarkState measures reading n mixed decisions back (Reconcile's cost).
func BenchmarkState(b *testing.B) {
	e := enter(b)
	defer e.close()
	for _, n := range []int{10, 100, 1000, 10000} {
		ds := mixedDecisions(n, uint64(n))
		b.Run(fmt.Sprintf("decisions=%d", n), func(b *testing.B) {
			if err := e.fw.Apply(ds); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := e.fw.State(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestElemChunks: element messages respect both bounds and never split an
// interval's start from its end.
func TestElemChunks(t *testing.T) {
	now := time.Now()
	for _, idLen := range []int{1, 200} {
		var ps []placed
		for i := range 3000 {
			a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0})
			id := fmt.Sprintf("%0*d", idLen, i)
			ps = append(ps, placed{Decision{ID: id, Action: "deny", Net: netip.PrefixFrom(a, 24), Expires: now.Add(time.Hour)}, "in"})
		}
		chunks := elemChunks(ps, now)
		total := 0
		for i, c := range chunks {
			size := 0
			for _, e := range c {
				size += elemBytes(e)
			}
			if len(c) == 0 || len(c) > maxElemsPerMsg || size > maxElemBytes {
				t.Fatalf("id length %d: chunk %d: %d elements, %d bytes", idLen, i, len(c), size)
			}
			if c[0].IntervalEnd || !c[len(c)-1].IntervalEnd {
				t.Fatalf("id length %d: chunk %d splits an interval", idLen, i)
			}
			total += len(c)
		}
		if total != 2*len(ps) {
			t.Fatalf("id length %d: %d elements, want %d", idLen, total, 2*len(ps))
		}
	}
}

// TestApplyLongIDs: 1,000 elements with 200-byte decision IDs exceed the
// 64 KiB a netlink attribute can hold; chunking by size keeps them apart.
func TestApplyLongIDs(t *testing.T) {
	e := enter(t)
	defer e.close()
	var ds []Decision
	for i := range 3000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0})
		ds = append(ds, Decision{ID: fmt.Sprintf("%0200d", i), Action: "deny", Direction: "in", Net: netip.PrefixFrom(a, 24)})
	}
	if err := e.fw.Apply(ds); err != nil {
		t.Fatal(err)
	}
	st, err := e.fw.State()
	if err != nil {
		t.Fatal(err)
	}
	sameDecisions(t, ds, st)
}
