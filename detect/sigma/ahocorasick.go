package sigma

import (
	"encoding/binary"
	"sort"
	"unicode/utf8"
	"unsafe"
)

// automaton is an Aho-Corasick DFA used as a prefilter: it may report a
// needle that is not there, never miss one that is. That freedom buys two
// things. Byte classes fold ASCII case (needles are folded, the scanned
// text is not), so event values are scanned as they are, without making a
// folded copy. And every byte >= 0x80 shares one class, which keeps the
// table narrow; a non-ASCII rune then matches any rune of the same UTF-8
// length, a harmless over-approximation — except for the few runes whose
// folded form has a different length (Kelvin sign, long s, dotted I),
// for which scanText folds the text first.
//
// Transitions are a dense table, one row per state; an entry is
// (next state * classes) << 1 | hasOutput, so a step costs two loads.
type automaton struct {
	cls     [256]uint8
	ncls    int32
	trans   []int32
	outIdx  []int32   // per state: output list, or -1
	outs    [][]int32 // output lists: global rule indexes
	outBase int32     // first output's slot in scratch.ostamp
	maxLen  int       // longest needle
}

// maxClasses bounds the table width of large automata.
const maxClasses = 40

// buildAutomaton builds the automaton for folded needles, needle i
// marking rules[i].
//
// classLimit, when not 0, bounds the number of classes whatever the size.
func buildAutomaton(needles []string, rules [][]int32, outBase int32, classLimit int) *automaton {
	a := &automaton{outBase: outBase}
	// Class 0: bytes in no needle; 1: all bytes >= 0x80; then one per
	// ASCII byte used, upper-case letters sharing their lower-case class.
	// Large automata keep only the most frequent needle bytes apart and
	// merge the rest into one class: the table shrinks, and the automaton
	// stays a superset filter.
	var freq [128]int
	for _, n := range needles {
		a.maxLen = max(a.maxLen, len(n))
		for i := 0; i < len(n); i++ {
			if c := n[i]; c < utf8.RuneSelf {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				freq[c]++
			}
		}
	}
	var byFreq []int
	for b := 0; b < 128; b++ {
		if freq[b] > 0 {
			byFreq = append(byFreq, b)
		}
	}
	sort.SliceStable(byFreq, func(i, j int) bool { return freq[byFreq[i]] > freq[byFreq[j]] })
	total := 0
	for _, n := range needles {
		total += len(n)
	}
	keep := len(byFreq)
	if total > 20000 && keep > maxClasses-3 {
		keep = maxClasses - 3
	}
	if classLimit > 0 && keep > classLimit-3 {
		keep = classLimit - 3
	}
	nc := int32(2)
	rare := int32(0)
	for i, b := range byFreq {
		if i < keep {
			a.cls[b] = uint8(nc)
			nc++
			continue
		}
		if rare == 0 {
			rare = nc
			nc++
		}
		a.cls[b] = uint8(rare)
	}
	for b := 'A'; b <= 'Z'; b++ {
		a.cls[b] = a.cls[b+'a'-'A']
	}
	for b := 128; b < 256; b++ {
		a.cls[b] = 1
	}
	a.ncls = nc

	type node struct {
		next []int32
		out  []int32
	}
	nodes := []node{{next: make([]int32, nc)}}
	for i, n := range needles {
		s := int32(0)
		for j := 0; j < len(n); j++ {
			c := a.cls[n[j]]
			if nodes[s].next[c] == 0 {
				nodes = append(nodes, node{next: make([]int32, nc)})
				nodes[s].next[c] = int32(len(nodes) - 1)
			}
			s = nodes[s].next[c]
		}
		nodes[s].out = append(nodes[s].out, rules[i]...)
	}
	ns := len(nodes)
	fail := make([]int32, ns)
	queue := make([]int32, 0, ns)
	for c := int32(0); c < nc; c++ {
		if t := nodes[0].next[c]; t != 0 {
			queue = append(queue, t)
		}
	}
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		if f := fail[s]; len(nodes[f].out) > 0 {
			nodes[s].out = append(nodes[s].out, nodes[f].out...)
		}
		for c := int32(0); c < nc; c++ {
			if t := nodes[s].next[c]; t != 0 {
				fail[t] = nodes[fail[s]].next[c]
				queue = append(queue, t)
			} else {
				nodes[s].next[c] = nodes[fail[s]].next[c]
			}
		}
	}
	a.trans = make([]int32, int32(ns)*nc)
	a.outIdx = make([]int32, ns)
	for s := 0; s < ns; s++ {
		a.outIdx[s] = -1
		if out := nodes[s].out; len(out) > 0 {
			a.outIdx[s] = int32(len(a.outs))
			a.outs = append(a.outs, dedupSorted(out))
		}
	}
	for s := 0; s < ns; s++ {
		row := a.trans[int32(s)*nc : int32(s+1)*nc]
		for c, t := range nodes[s].next {
			v := (t * nc) << 1
			if a.outIdx[t] >= 0 {
				v |= 1
			}
			row[c] = v
		}
		nodes[s].next = nil
	}
	return a
}

func dedupSorted(x []int32) []int32 {
	y := append([]int32(nil), x...)
	sort.Slice(y, func(i, j int) bool { return y[i] < y[j] })
	out := y[:0]
	for i, v := range y {
		if i == 0 || v != y[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// scanText scans an event value (not folded) and marks the candidate
// rules of the needles found.
func (a *automaton) scanText(text string, sc *scratch) {
	if a.scan(text, sc) && foldChangesLength(text) {
		a.scan(sc.foldStr(text), sc)
	}
}

// scan reports whether text holds a byte >= 0x80.
//
// A DFA step waits for the previous one (the next row depends on the
// state), so one chain leaves the CPU mostly idle. Longer texts are cut in
// two halves scanned by two interleaved chains; the first runs on past
// the middle by the longest needle, so a needle across the cut is still
// seen, and the duplicates that overlap produces are absorbed by the
// per-event output stamps.
func (a *automaton) scan(text string, sc *scratch) bool {
	trans := a.trans
	cls := &a.cls
	var high byte
	i := 0
	s := int32(0)
	if n := len(text); n >= 2*a.maxLen+32 {
		half := n / 2
		j, s2 := half, int32(0)
		for ; j < n; i, j = i+1, j+1 {
			b1, b2 := text[i], text[j]
			high |= b1 | b2
			t1 := trans[s+int32(cls[b1])]
			t2 := trans[s2+int32(cls[b2])]
			s, s2 = t1>>1, t2>>1
			if (t1|t2)&1 != 0 {
				if t1&1 != 0 {
					a.report(s/a.ncls, sc)
				}
				if t2&1 != 0 {
					a.report(s2/a.ncls, sc)
				}
			}
		}
		// Chain 1 covered [0, n-half); it goes on alone to the end of the
		// overlap, half+maxLen-1.
		text = text[:min(n, half+a.maxLen-1)]
	}
	for ; i < len(text); i++ {
		b := text[i]
		high |= b
		t := trans[s+int32(cls[b])]
		s = t >> 1
		if t&1 != 0 {
			a.report(s/a.ncls, sc)
		}
	}
	return high >= utf8.RuneSelf
}

func (a *automaton) report(state int32, sc *scratch) {
	a.reportOut(a.outIdx[state], sc)
}

func (a *automaton) reportOut(o int32, sc *scratch) {
	so := a.outBase + o
	if sc.ostamp[so] == sc.gen {
		return
	}
	sc.ostamp[so] = sc.gen
	local := sc.local
	for _, g := range a.outs[o] {
		r := local[g]
		if r >= 0 && sc.stamp[r] != sc.gen {
			sc.stamp[r] = sc.gen
			sc.cands = append(sc.cands, r)
		}
	}
}

// foldChangesLength reports whether some rune of s folds to a rune of
// another UTF-8 length, which the high-byte class cannot follow. Only the
// lead bytes of such runes (foldLenLead) need decoding.
func foldChangesLength(s string) bool {
	if !hasNonASCII(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if foldLenLead[s[i]] {
			r, _ := utf8.DecodeRuneInString(s[i:])
			if foldLenChanges(r) {
				return true
			}
		}
	}
	return false
}

func foldLenChanges(r rune) bool {
	if r < utf8.RuneSelf || r == utf8.RuneError {
		return false
	}
	f := foldRune(r)
	return f != r && utf8.RuneLen(f) != utf8.RuneLen(r)
}

// foldLenLead marks the UTF-8 lead bytes of runes whose folded form has
// another length (Kelvin sign, long s, dotted capital I, ...).
var foldLenLead = func() (t [256]bool) {
	var buf [4]byte
	// Beyond the BMP case pairs keep their length (Deseret, Osage, ...).
	for r := rune(0x80); r <= 0xFFFF; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		if foldLenChanges(r) {
			utf8.EncodeRune(buf[:], r)
			t[buf[0]] = true
		}
	}
	return t
}()

func (a *automaton) memBytes() int {
	n := len(a.trans)*4 + len(a.outIdx)*4
	for _, o := range a.outs {
		n += len(o)*4 + 24
	}
	return n
}

// skipScanner is the prefilter for needle sets whose shortest needle is
// long (keyword lists): Wu-Manber with three-byte blocks, so most windows
// of the text are skipped by up to minLen-2 bytes instead of stepping byte
// by byte. Bytes are compared by the automaton's classes (ASCII case
// folded, high bytes merged), the same over-approximation as the DFA.
//
// A skip loop is bound by latency (each step's loads wait for the last
// step's shift), so the common case — nothing near — probes four windows
// at once, and block indexes are built from pre-shifted class tables
// rather than multiplications.
type skipScanner struct {
	ac     *automaton // classes, and the rule lists to report
	m      int        // shortest needle length
	def    int        // the largest shift, m-2
	c0     [256]uint16
	c1     [256]uint16
	c2     [256]uint16
	shift  []uint8   // by block
	hash   [][]int32 // block at m-3..m-1 -> needles ending their first m bytes with it
	needle []string
	outOf  []int32 // needle -> output list of ac
}

const minSkipLen = 6

func newSkipScanner(needles []string, rules [][]int32, outBase int32) *skipScanner {
	a := buildAutomaton(needles, rules, outBase, 32)
	m := len(needles[0])
	for _, n := range needles {
		m = min(m, len(n))
	}
	s := &skipScanner{ac: a, m: m, def: min(m-2, 255), shift: make([]uint8, 1<<15), hash: make([][]int32, 1<<15), needle: needles}
	for b := 0; b < 256; b++ {
		c := uint16(a.cls[b])
		s.c0[b], s.c1[b], s.c2[b] = c<<10, c<<5, c
	}
	for i := range s.shift {
		s.shift[i] = uint8(s.def)
	}
	for ni, n := range needles {
		for j := 2; j < m; j++ {
			if sh := m - 1 - j; sh < int(s.shift[s.blk(n, j)]) {
				s.shift[s.blk(n, j)] = uint8(sh)
			}
		}
		b := s.blk(n, m-1)
		s.hash[b] = append(s.hash[b], int32(ni))
	}
	// The output list of each needle's end state: walk the DFA.
	s.outOf = make([]int32, len(needles))
	for ni, n := range needles {
		st := int32(0)
		for j := 0; j < len(n); j++ {
			st = a.trans[st+int32(a.cls[n[j]])] >> 1
		}
		s.outOf[ni] = a.outIdx[st/a.ncls]
	}
	return s
}

// blk is the block of the three bytes ending at j.
func (s *skipScanner) blk(t string, j int) int {
	return int(s.c0[t[j-2]] | s.c1[t[j-1]] | s.c2[t[j]])
}

func (s *skipScanner) scanText(text string, sc *scratch) {
	s.scan(text, sc)
	if foldChangesLength(text) {
		s.scan(sc.foldStr(text), sc)
	}
}

func (s *skipScanner) scan(text string, sc *scratch) {
	shift := s.shift
	def := s.def
	d := uint8(def)
	i := s.m - 1
	for i+3*def < len(text) {
		s1 := shift[s.blk(text, i)]
		s2 := shift[s.blk(text, i+def)]
		s3 := shift[s.blk(text, i+2*def)]
		s4 := shift[s.blk(text, i+3*def)]
		if s1 == d && s2 == d && s3 == d && s4 == d {
			i += 4 * def
			continue
		}
		if s1 > 0 {
			i += int(s1)
			continue
		}
		s.verify(text, i, sc)
		i++
	}
	for i < len(text) {
		if sh := shift[s.blk(text, i)]; sh > 0 {
			i += int(sh)
			continue
		}
		s.verify(text, i, sc)
		i++
	}
}

// verify checks the needles whose first m bytes end in the block at i.
func (s *skipScanner) verify(text string, i int, sc *scratch) {
	cls := &s.ac.cls
	start := i - s.m + 1
cand:
	for _, ni := range s.hash[s.blk(text, i)] {
		n := s.needle[ni]
		if start+len(n) > len(text) {
			continue
		}
		for j := 0; j < len(n); j++ {
			if cls[text[start+j]] != cls[n[j]] {
				continue cand
			}
		}
		// The end state's output list also holds the rules of needles that
		// are suffixes of this one, which occur too.
		if o := s.outOf[ni]; o >= 0 {
			s.ac.reportOut(o, sc)
		}
	}
}

// hasNonASCII checks eight bytes at a time.
func hasNonASCII(s string) bool {
	i := 0
	if len(s) >= 8 {
		b := unsafe.Slice(unsafe.StringData(s), len(s))
		for ; i+8 <= len(b); i += 8 {
			if binary.LittleEndian.Uint64(b[i:])&0x8080808080808080 != 0 {
				return true
			}
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}
