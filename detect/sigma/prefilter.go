package sigma

import (
	"encoding/json"
	"math"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/riposte-soar/riposte/event"
)

// needle is a literal that must occur (folded) in a field's value, or in
// the keyword haystack when field is nil, for some rule to match. score
// estimates how rarely it occurs.
type needle struct {
	field *fref
	s     string
	score int
	exact bool // the whole value equals s (not windowed)
}

// exactBonus rewards a needle that must equal the whole value: equality
// on a field is far more selective than a substring of the same length.
const exactBonus = 6

// maxNeedle caps needle length: any substring of a required literal is
// required too, and long needles only grow the automaton.
const maxNeedle = 16

// commonTokens are substrings so frequent in Windows telemetry (paths,
// extensions, registry roots, call traces) that a needle made of them
// says little: a rule whose only needle is "c:\windows\system32\" would
// be evaluated for nearly every event. Needle scores count the bytes not
// covered by these.
var commonTokens = []string{
	`c:\windows\system32\`, `c:\windows\syswow64\`, `c:\windows\`, `\windows\system32\`,
	`\system32\`, `\syswow64\`, `c:\program files (x86)\`, `c:\program files\`, `\program files`,
	`c:\users\`, `\users\`, `\appdata\local\`, `\appdata\roaming\`, `\appdata\`,
	`\microsoft\windows\`, `\software\microsoft\windows\currentversion\`, `\software\microsoft\`,
	`\software\`, `\microsoft\`, `hklm\`, `hkcu\`, `hku\`, `\registry\machine\`, `\registry\user\`,
	`\currentcontrolset\`, `\services\`, `\windows\`, `\temp\`, `.exe`, `.dll`, `.sys`,
	`ntdll.dll`, `kernelbase.dll`, `kernel32.dll`, `svchost.exe`, `powershell`, `microsoft`, `windows`,
	`system32`, `http://`, `https://`, `true`, `false`, `0x`,
}

// coverage marks the bytes of lit that belong to a common token.
func coverage(lit string) []bool {
	cov := make([]bool, len(lit))
	for _, t := range commonTokens {
		for i := 0; i+len(t) <= len(lit); {
			j := strings.Index(lit[i:], t)
			if j < 0 {
				break
			}
			for k := i + j; k < i+j+len(t); k++ {
				cov[k] = true
			}
			i += j + 1
		}
	}
	return cov
}

// mkNeedle picks the window of at most maxNeedle bytes of lit with the
// most uncommon bytes (from the tail for endswith values) and scores it.
func mkNeedle(f *fref, lit string, tail bool, bonus int) needle {
	cov := coverage(lit)
	w := min(len(lit), maxNeedle)
	cnt := 0
	for k := 0; k < w; k++ {
		if !cov[k] {
			cnt++
		}
	}
	best, bestAt := cnt, 0
	for st := 1; st+w <= len(lit); st++ {
		if !cov[st-1] {
			cnt--
		}
		if !cov[st+w-1] {
			cnt++
		}
		if cnt > best || (cnt == best && tail) {
			best, bestAt = cnt, st
		}
	}
	if w < len(lit) {
		bonus = 0 // a window is no longer anchored
	}
	return needle{field: f, s: lit[bestAt : bestAt+w], score: min(best, 16) + bonus, exact: bonus == exactBonus}
}

// nset is "at least one of these needles occurs"; ok=false means no such
// set could be derived (the branch must always be evaluated).
type nset struct {
	ns []needle
	ok bool
}

func (a nset) score() int {
	if !a.ok || len(a.ns) == 0 {
		return -1
	}
	m := 1 << 30
	for _, n := range a.ns {
		m = min(m, n.score)
	}
	return m
}

// better reports whether a is a better requirement than b: a stronger
// weakest needle, then fewer needles.
func (a nset) better(b nset) bool {
	if !b.ok {
		return a.ok
	}
	if !a.ok {
		return false
	}
	sa, sb := a.score(), b.score()
	if sa != sb {
		return sa > sb
	}
	return len(a.ns) < len(b.ns)
}

// best is for AND: any one operand's requirement is a requirement of the
// whole, so take the most selective.
func best(sets []nset) nset {
	var b nset
	for _, s := range sets {
		if s.better(b) {
			b = s
		}
	}
	return b
}

// union is for OR: every operand must contribute, or nothing is required.
func union(sets []nset) nset {
	var u nset
	u.ok = true
	for _, s := range sets {
		if !s.ok {
			return nset{}
		}
		u.ns = append(u.ns, s.ns...)
	}
	if len(u.ns) == 0 {
		return nset{}
	}
	return u
}

// patternNeedle returns the best literal a pattern requires.
func patternNeedle(f *fref, p *pattern) nset {
	lit := ""
	tail := false
	bonus := 0
	switch p.kind {
	case pExact:
		lit, bonus = p.lit, exactBonus
	case pPrefix:
		lit, bonus = p.lit, 1
	case pContains:
		lit = p.lit
	case pSuffix:
		lit, tail, bonus = p.lit, true, 1
	case pGlob:
		for _, g := range p.segs {
			for _, a := range g.atoms {
				if a.k == aLit && len(a.s) > len(lit) {
					lit = a.s
				}
			}
		}
	}
	if p.cased {
		lit = fold(lit)
	}
	if lit == "" {
		return nset{}
	}
	return nset{ns: []needle{mkNeedle(f, lit, tail, bonus)}, ok: true}
}

func itemNeedles(ci *citem, eidKey int32) nset {
	it := ci.it
	if it.neq {
		return nset{}
	}
	// Exact EventID tests are decided by the bucket key already; as a
	// needle they would always be found.
	if ci.kind == kString && ci.allInts && len(ci.field.keys) == 1 && ci.field.keys[0] == eidKey {
		return nset{}
	}
	f := &ci.field
	if it.keyword {
		f = nil
	}
	var perValue []nset
	switch ci.kind {
	case kString:
		for _, alts := range ci.pats {
			var as []nset
			for i := range alts {
				as = append(as, patternNeedle(f, &alts[i]))
			}
			perValue = append(perValue, union(as))
		}
	case kRegex:
		for _, re := range it.res {
			perValue = append(perValue, regexNeedles(f, re.String()))
		}
	default:
		return nset{}
	}
	if it.all {
		return best(perValue)
	}
	return union(perValue)
}

// regexNeedles derives literals a regular expression cannot match
// without. Case-insensitive parts are folded, like the scanned text.
func regexNeedles(f *fref, src string) nset {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nset{}
	}
	lits, ok := reqLits(re.Simplify(), 0)
	if !ok {
		return nset{}
	}
	s := nset{ok: true}
	for _, l := range lits {
		s.ns = append(s.ns, mkNeedle(f, fold(l), false, 0))
	}
	return s
}

// regexGuard returns literals (folded) every match of the expression
// contains, all of them: a cheap strings.Contains test that spares most
// regular expression runs, which in RE2 cost per byte of the value.
func regexGuard(src string) []string {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil
	}
	var out []string
	var walk func(re *syntax.Regexp, depth int)
	walk = func(re *syntax.Regexp, depth int) {
		if depth > 50 {
			return
		}
		switch re.Op {
		case syntax.OpLiteral:
			if l := fold(string(re.Rune)); len(l) >= 2 && !slices.Contains(out, l) {
				out = append(out, l)
			}
		case syntax.OpCapture, syntax.OpPlus:
			walk(re.Sub[0], depth+1)
		case syntax.OpRepeat:
			if re.Min >= 1 {
				walk(re.Sub[0], depth+1)
			}
		case syntax.OpConcat:
			for _, sub := range re.Sub {
				walk(sub, depth+1)
			}
		}
	}
	walk(re.Simplify(), 0)
	// The longest first: they fail fastest.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	if len(out) > 4 {
		out = out[:4]
	}
	return out
}

// regexMinLen is the least number of bytes a match needs: each matched
// rune is at least one byte. Values shorter cannot match (".{1000,}").
func regexMinLen(src string) int {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return 0
	}
	var ml func(re *syntax.Regexp, depth int) int
	ml = func(re *syntax.Regexp, depth int) int {
		if depth > 50 {
			return 0
		}
		switch re.Op {
		case syntax.OpLiteral:
			n := 0
			for _, r := range re.Rune {
				n += utf8.RuneLen(r)
			}
			return n
		case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			return 1
		case syntax.OpCapture, syntax.OpPlus:
			return ml(re.Sub[0], depth+1)
		case syntax.OpRepeat:
			return min(re.Min*ml(re.Sub[0], depth+1), 1<<20)
		case syntax.OpConcat:
			n := 0
			for _, sub := range re.Sub {
				n += ml(sub, depth+1)
			}
			return min(n, 1<<20)
		case syntax.OpAlternate:
			n := -1
			for _, sub := range re.Sub {
				if v := ml(sub, depth+1); n < 0 || v < n {
					n = v
				}
			}
			return max(n, 0)
		}
		return 0
	}
	return ml(re, 0)
}

// reqLits returns literals one of which every match contains.
func reqLits(re *syntax.Regexp, depth int) ([]string, bool) {
	if depth > 50 {
		return nil, false
	}
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return nil, false
		}
		return []string{string(re.Rune)}, true
	case syntax.OpCapture, syntax.OpPlus:
		return reqLits(re.Sub[0], depth+1)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return reqLits(re.Sub[0], depth+1)
		}
	case syntax.OpConcat:
		var bestL []string
		bestS := -1
		for _, sub := range re.Sub {
			l, ok := reqLits(sub, depth+1)
			if !ok {
				continue
			}
			sc := 1 << 30
			for _, x := range l {
				sc = min(sc, mkNeedle(nil, fold(x), false, 0).score)
			}
			if sc > bestS || (sc == bestS && len(l) < len(bestL)) {
				bestL, bestS = l, sc
			}
		}
		return bestL, bestL != nil
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			l, ok := reqLits(sub, depth+1)
			if !ok {
				return nil, false
			}
			all = append(all, l...)
		}
		return all, len(all) > 0
	}
	return nil, false
}

func nodeNeedles(n *cnode, eidKey int32) nset {
	switch n.op {
	case cIdent:
		var maps []nset
		for _, items := range n.sel.maps {
			var is []nset
			for _, ci := range items {
				is = append(is, itemNeedles(ci, eidKey))
			}
			maps = append(maps, best(is))
		}
		return union(maps)
	case cAnd:
		var ks []nset
		for _, k := range n.kids {
			ks = append(ks, nodeNeedles(k, eidKey))
		}
		return best(ks)
	case cOr, cAtLeast:
		var ks []nset
		for _, k := range n.kids {
			ks = append(ks, nodeNeedles(k, eidKey))
		}
		return union(ks)
	}
	return nset{} // not: nothing is required
}

// eidReq derives the EventID values a rule requires: the EventID of a
// matching event is necessarily one of them (ok=false: no such set).
// It mirrors nodeNeedles, on exact integer tests of the EventID field.
func (m *Matcher) eidReq(n *cnode) ([]int64, bool) {
	switch n.op {
	case cIdent:
		var all []int64
		for _, items := range n.sel.maps {
			var best []int64
			found := false
			for _, ci := range items {
				if ci.kind != kString || ci.it.neq || ci.it.keyword || !ci.allInts ||
					len(ci.field.keys) != 1 || ci.field.keys[0] != m.eidKey {
					continue
				}
				if !found || len(ci.ints) < len(best) {
					best, found = ci.ints, true
				}
			}
			if !found {
				return nil, false
			}
			all = append(all, best...)
		}
		return all, true
	case cAnd:
		var best []int64
		found := false
		for _, k := range n.kids {
			if v, ok := m.eidReq(k); ok && (!found || len(v) < len(best)) {
				best, found = v, true
			}
		}
		return best, found
	case cOr, cAtLeast:
		var all []int64
		for _, k := range n.kids {
			v, ok := m.eidReq(k)
			if !ok {
				return nil, false
			}
			all = append(all, v...)
		}
		return all, true
	}
	return nil, false
}

// prepare derives every rule's prefilter requirements and builds one
// automaton per field (shared by all buckets) and one for keywords.
func (m *Matcher) prepare() {
	m.eidKey = m.key("EventID")
	type group struct {
		f       fref
		needles []string
		rules   [][]int32
		idx     map[string]int
		scan    int32
	}
	groups := map[string]*group{}
	var order []*group
	add := func(g *group, s string, r int32) {
		i, ok := g.idx[s]
		if !ok {
			i = len(g.needles)
			g.idx[s] = i
			g.needles = append(g.needles, s)
			g.rules = append(g.rules, nil)
		}
		if l := g.rules[i]; len(l) == 0 || l[len(l)-1] != r {
			g.rules[i] = append(l, r)
		}
	}
	for _, cr := range m.rules {
		if v, ok := m.eidReq(cr.root); ok {
			cr.eids, cr.hasEIDs = v, true
		}
		ns := nodeNeedles(cr.root, m.eidKey)
		if !ns.ok {
			continue
		}
		cr.filtered = true
		for _, n := range ns.ns {
			if n.field == nil {
				cr.kwNeedles = append(cr.kwNeedles, n.s)
				continue
			}
			key := frefKey(n.field)
			g := groups[key]
			if g == nil {
				g = &group{f: *n.field, idx: map[string]int{}, scan: int32(len(order))}
				groups[key] = g
				order = append(order, g)
			}
			add(g, n.s, int32(cr.idx))
			if l := cr.scans; len(l) == 0 || l[len(l)-1] != g.scan {
				cr.scans = append(cr.scans, g.scan)
			}
		}
	}
	outs := int32(0)
	for _, g := range order {
		a := buildAutomaton(g.needles, g.rules, outs, 0)
		outs += int32(len(a.outs))
		m.scans = append(m.scans, fieldScan{f: g.f, ac: a})
	}
	m.nouts = int(outs)
	m.nextOut = outs
}

// textScanner is a prefilter over text: an automaton, or a skipScanner
// when every needle is long.
type textScanner interface {
	scanText(text string, sc *scratch)
}

// keywordScanner builds the scanner over the keyword needles of a
// bucket's rules. Keyword rules are few, and per bucket the needles are
// longer (Windows buckets only see the Windows keyword rules), which the
// skip scanner turns into speed. Under mu.
func (m *Matcher) keywordScanner(rules []*crule) (textScanner, int32) {
	var sig []byte
	idx := map[string]int{}
	var needles []string
	var lists [][]int32
	for _, cr := range rules {
		if len(cr.kwNeedles) == 0 {
			continue
		}
		sig = strconv.AppendInt(sig, int64(cr.idx), 36)
		sig = append(sig, ',')
		for _, n := range cr.kwNeedles {
			i, ok := idx[n]
			if !ok {
				i = len(needles)
				idx[n] = i
				needles = append(needles, n)
				lists = append(lists, nil)
			}
			if l := lists[i]; len(l) == 0 || l[len(l)-1] != int32(cr.idx) {
				lists[i] = append(l, int32(cr.idx))
			}
		}
	}
	if len(needles) == 0 {
		return nil, 0
	}
	if c, ok := m.kwCache[string(sig)]; ok {
		return c.s, c.end
	}
	minLen := len(needles[0])
	for _, n := range needles {
		minLen = min(minLen, len(n))
	}
	var ts textScanner
	var nouts int32
	if sk := newSkipScannerIf(minLen, needles, lists, m.nextOut); sk != nil {
		ts, nouts = sk, int32(len(sk.ac.outs))
	} else {
		a := buildAutomaton(needles, lists, m.nextOut, 0)
		ts, nouts = a, int32(len(a.outs))
	}
	m.nextOut += nouts
	m.kwCache[string(sig)] = kwEntry{ts, m.nextOut}
	return ts, m.nextOut
}

func newSkipScannerIf(minLen int, needles []string, lists [][]int32, base int32) *skipScanner {
	if minLen < minSkipLen {
		return nil
	}
	return newSkipScanner(needles, lists, base)
}

type kwEntry struct {
	s   textScanner
	end int32
}

type fieldScan struct {
	f  fref
	ac *automaton
}

// bucket is the index for one kind of event (logsource and EventID): the
// rules that can apply, the ones that must always be evaluated, and the
// field automata the others need.
type bucket struct {
	rules  []*crule
	always []int32
	scans  []int32 // indexes into Matcher.scans
	kw     textScanner
	outEnd int32   // output slots the bucket's scanners use
	local  []int32 // global rule index -> index in rules, or -1
	sig    string
}

// bucketKey identifies a kind of event. eidMode: 0 the event has no
// integer EventID, 1 it has eid, 2 unknown (the cache is full: every rule
// of the logsource is offered).
type bucketKey struct {
	ls      event.LogSource
	eid     int64
	eidMode uint8
}

const maxBuckets = 4096

func (m *Matcher) eventKey(ev *event.Event) bucketKey {
	k := bucketKey{ls: ev.LogSource}
	// The integer an EventID test would see: the value's text must be
	// the integer's canonical text, as evaluation compares by text.
	switch v := ev.Fields["EventID"].(type) {
	case int64:
		k.eid, k.eidMode = v, 1
	case int:
		k.eid, k.eidMode = int64(v), 1
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			k.eid, k.eidMode = int64(v), 1
		}
	case string:
		if n, ok := parseNumber(v); ok && n.isInt && isCanonicalInt(v) {
			k.eid, k.eidMode = n.i, 1
		}
	case json.Number:
		if n, ok := parseNumber(string(v)); ok && n.isInt && isCanonicalInt(string(v)) {
			k.eid, k.eidMode = n.i, 1
		}
	case []any:
		// Any element may match: offer every rule.
		k.eidMode = 2
	}
	return k
}

func (m *Matcher) bucketFor(ev *event.Event) *bucket {
	k := m.eventKey(ev)
	cur := *m.buckets.Load()
	if b, ok := cur[k]; ok {
		return b
	}
	if len(cur) >= maxBuckets {
		k.eid, k.eidMode = 0, 2
		if b, ok := cur[k]; ok {
			return b
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur = *m.buckets.Load()
	if b, ok := cur[k]; ok {
		return b
	}
	b := m.buildBucket(k)
	next := make(map[bucketKey]*bucket, len(cur)+1)
	for kk, v := range cur {
		next[kk] = v
	}
	next[k] = b
	m.buckets.Store(&next)
	return b
}

func (m *Matcher) buildBucket(k bucketKey) *bucket {
	b := &bucket{}
	sig := make([]byte, 0, 64)
	for _, cr := range m.rules {
		if !m.mapping.admits(cr.r.LogSource, k.ls) {
			continue
		}
		if cr.hasEIDs && k.eidMode != 2 {
			if k.eidMode == 0 || !slices.Contains(cr.eids, k.eid) {
				continue
			}
		}
		b.rules = append(b.rules, cr)
		sig = strconv.AppendInt(sig, int64(cr.idx), 36)
		sig = append(sig, ',')
	}
	// Kinds of events offered the same rules share one bucket.
	if o, ok := m.bySig[string(sig)]; ok {
		return o
	}
	b.sig = string(sig)
	b.local = make([]int32, len(m.rules))
	for i := range b.local {
		b.local[i] = -1
	}
	seen := map[int32]bool{}
	for li, cr := range b.rules {
		b.local[cr.idx] = int32(li)
		if !cr.filtered {
			b.always = append(b.always, int32(li))
			continue
		}
		for _, s := range cr.scans {
			if !seen[s] {
				seen[s] = true
				b.scans = append(b.scans, s)
			}
		}
	}
	slices.Sort(b.scans)
	b.outEnd = int32(m.nouts)
	if kw, end := m.keywordScanner(b.rules); kw != nil {
		b.kw, b.outEnd = kw, end
	}
	m.bySig[b.sig] = b
	return b
}

func frefKey(f *fref) string {
	var sb strings.Builder
	for _, k := range f.keys {
		sb.WriteString(strconv.Itoa(int(k)))
		sb.WriteByte(',')
	}
	return sb.String()
}

// candidates fills sc.cands with the bucket-local indexes of the rules to
// evaluate, in bucket order.
func (m *Matcher) candidates(b *bucket, sc *scratch) {
	sc.cands = append(sc.cands, b.always...)
	sc.local = b.local
	for _, si := range b.scans {
		fs := &m.scans[si]
		k, v, ok := sc.resolve(&fs.f)
		if !ok {
			continue
		}
		if arr, isArr := v.([]any); isArr {
			for _, e := range arr {
				if s, ok := sc.strForm(e); ok {
					fs.ac.scanText(s, sc)
				}
			}
			continue
		}
		if s, ok := sc.rawForm(k, v); ok {
			fs.ac.scanText(s, sc)
		}
	}
	if b.kw != nil {
		for _, t := range sc.keywordRaw() {
			b.kw.scanText(t, sc)
		}
	}
	slices.Sort(sc.cands)
}
