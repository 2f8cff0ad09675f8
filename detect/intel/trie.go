package intel

import (
	"net/netip"
	"time"
)

// trieNode is a node of a persistent binary prefix trie: published nodes
// are never modified; a transaction copies the path it changes (nodes it
// created itself, marked with its generation, are changed in place).
type trieNode struct {
	child [2]*trieNode
	e     *Indicator
	gen   uint64
}

func addrBit(a *[16]byte, i int) int {
	return int(a[i>>3]>>(7-uint(i&7))) & 1
}

// prefixBytes returns the address bytes and bit count of p in the trie's
// layout: IPv4 in the first 4 bytes.
func prefixBytes(p netip.Prefix) ([16]byte, int) {
	var b [16]byte
	if p.Addr().Is4() {
		a := p.Addr().As4()
		copy(b[:], a[:])
	} else {
		b = p.Addr().As16()
	}
	return b, p.Bits()
}

func (n *trieNode) own(gen uint64) *trieNode {
	if n == nil {
		return &trieNode{gen: gen}
	}
	if n.gen == gen {
		return n
	}
	c := *n
	c.gen = gen
	return &c
}

// trieSet sets (e != nil) or clears (e == nil) the entry at p and returns
// the new root.
func trieSet(root *trieNode, p netip.Prefix, e *Indicator, gen uint64) *trieNode {
	b, bits := prefixBytes(p)
	return trieSetAt(root, &b, bits, 0, e, gen)
}

func trieSetAt(n *trieNode, b *[16]byte, bits, depth int, e *Indicator, gen uint64) *trieNode {
	if n == nil && e == nil {
		return nil
	}
	n = n.own(gen)
	if depth == bits {
		n.e = e
	} else {
		bit := addrBit(b, depth)
		n.child[bit] = trieSetAt(n.child[bit], b, bits, depth+1, e, gen)
	}
	if n.e == nil && n.child[0] == nil && n.child[1] == nil {
		return nil
	}
	return n
}

// trieWalk calls fn for every entry on the path to a (the prefixes that
// contain it), shortest prefix first, until fn returns false.
func trieWalk(root *trieNode, a netip.Addr, fn func(*Indicator) bool) {
	var b [16]byte
	bits := 128
	if a.Is4() {
		a4 := a.As4()
		copy(b[:], a4[:])
		bits = 32
	} else {
		b = a.As16()
	}
	n := root
	for depth := 0; n != nil; depth++ {
		if n.e != nil && !fn(n.e) {
			return
		}
		if depth == bits {
			return
		}
		n = n.child[addrBit(&b, depth)]
	}
}

// trieLongest returns the longest prefix containing a whose entry detects
// at now; it allocates nothing.
func trieLongest(root *trieNode, a netip.Addr, now time.Time, minConf int) *Indicator {
	var b [16]byte
	bits := 128
	if a.Is4() {
		a4 := a.As4()
		copy(b[:], a4[:])
		bits = 32
	} else {
		b = a.As16()
	}
	var best *Indicator
	n := root
	for depth := 0; n != nil; depth++ {
		if n.e != nil && n.e.DetectsAt(now, minConf) {
			best = n.e
		}
		if depth == bits {
			break
		}
		n = n.child[addrBit(&b, depth)]
	}
	return best
}
