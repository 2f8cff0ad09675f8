package sigma

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/riposte-soar/riposte/event"
)

// Matcher evaluates a compiled rule set against events. Match and
// MatchNaive are safe for concurrent use: per-event state lives in pooled
// scratch space, and the per-logsource indexes are built once and then
// only read.
type Matcher struct {
	mapping *Mapping
	rules   []*crule
	keys    []string // event field names rules look up, by key id
	keyIdx  map[string]int32

	// Prefilter: one automaton per rule field (as resolved), one for
	// keywords, and nouts output lists across them.
	scans   []fieldScan
	nouts   int
	eidKey  int32
	nextOut int32              // under mu: next free output slot
	kwCache map[string]kwEntry // under mu

	mu      sync.Mutex // serializes bucket builds
	buckets atomic.Pointer[map[bucketKey]*bucket]
	bySig   map[string]*bucket // under mu
	pool    sync.Pool
}

// crule is a compiled rule.
type crule struct {
	r    *Rule
	idx  int
	root *cnode
	// Prefilter requirements: the EventIDs the rule can match (hasEIDs),
	// and whether it has needles (filtered), in which field automata
	// (scans) and in the keyword automaton (kw).
	eids      []int64
	hasEIDs   bool
	filtered  bool
	scans     []int32
	kwNeedles []string
}

type cnode struct {
	op   cop
	n    int
	sel  *csel
	kids []*cnode
	cost int
}

type csel struct {
	maps [][]*citem
	cost int
}

// fref is a rule field resolved against the mapping: the event keys to try
// in order (the first present one is the field's value).
type fref struct {
	name string
	keys []int32
}

type citem struct {
	it    *item
	kind  itemKind
	field fref
	pats  [][]pattern
	refs  []fref
	// ints holds the values when every one is a plain decimal integer, so
	// an int64 event value (EventID) is compared without formatting it.
	ints    []int64
	allInts bool
	cost    int
}

func (m *Matcher) key(name string) int32 {
	if id, ok := m.keyIdx[name]; ok {
		return id
	}
	id := int32(len(m.keys))
	m.keys = append(m.keys, name)
	m.keyIdx[name] = id
	return id
}

func (m *Matcher) fref(name string, ls LogSource) fref {
	cands := m.mapping.fieldCandidates(name, ls)
	f := fref{name: name, keys: make([]int32, len(cands))}
	for i, c := range cands {
		f.keys[i] = m.key(c)
	}
	return f
}

// Compile builds a Matcher from rules with a logsource/field Mapping (nil:
// DefaultMapping). A rule that cannot run with this mapping (an expand
// placeholder without values, an unknown taxonomy) is left out with a
// LoadError; the others compile.
func Compile(rules []*Rule, mp *Mapping) (*Matcher, []LoadError) {
	if mp == nil {
		mp = DefaultMapping()
	}
	m := &Matcher{mapping: mp.clone(), keyIdx: map[string]int32{}}
	var errs []LoadError
	for _, r := range rules {
		if r == nil || r.Detection == nil {
			continue
		}
		label := r.ID
		if label == "" {
			label = r.Title
		}
		if !m.mapping.taxonomyOK(r.Taxonomy) {
			errs = append(errs, LoadError{File: r.File, Line: r.Line, Rule: label,
				Reason: fmt.Sprintf("taxonomy %q has no mapping", r.Taxonomy)})
			continue
		}
		cr, err := m.compileRule(r)
		if err != nil {
			err.File, err.Rule = r.File, label
			errs = append(errs, *err)
			continue
		}
		cr.idx = len(m.rules)
		m.rules = append(m.rules, cr)
	}
	m.prepare()
	empty := map[bucketKey]*bucket{}
	m.buckets.Store(&empty)
	m.bySig = map[string]*bucket{}
	m.kwCache = map[string]kwEntry{}
	m.pool.New = func() any { return m.newScratch() }
	return m, errs
}

// Rules returns the compiled rules, in Compile order.
func (m *Matcher) Rules() []*Rule {
	out := make([]*Rule, len(m.rules))
	for i, cr := range m.rules {
		out[i] = cr.r
	}
	return out
}

func (m *Matcher) compileRule(r *Rule) (*crule, *LoadError) {
	d := r.Detection
	sels := make([]*csel, len(d.searches))
	for i, s := range d.searches {
		cs := &csel{}
		for _, mp := range s.maps {
			var items []*citem
			for _, it := range mp {
				ci, err := m.compileItem(it, r.LogSource)
				if err != nil {
					return nil, &LoadError{Line: it.line, Reason: err.Error()}
				}
				items = append(items, ci)
			}
			// Cheap tests first: an AND stops at the first false.
			sort.SliceStable(items, func(a, b int) bool { return items[a].cost < items[b].cost })
			c := 0
			for _, ci := range items {
				c += ci.cost
			}
			cs.maps = append(cs.maps, items)
			cs.cost += c
		}
		sels[i] = cs
	}
	return &crule{r: r, root: buildNode(d.cond, sels)}, nil
}

func buildNode(c *cond, sels []*csel) *cnode {
	n := &cnode{op: c.op, n: c.n}
	if c.op == cIdent {
		n.sel = sels[c.id]
		n.cost = n.sel.cost
		return n
	}
	for _, k := range c.kids {
		kn := buildNode(k, sels)
		n.kids = append(n.kids, kn)
		n.cost += kn.cost
	}
	// AND and OR are commutative and side-effect free: try the cheapest
	// operand first so short-circuiting skips the expensive ones.
	if n.op == cAnd || n.op == cOr {
		sort.SliceStable(n.kids, func(a, b int) bool { return n.kids[a].cost < n.kids[b].cost })
	}
	return n
}

func (m *Matcher) compileItem(it *item, ls LogSource) (*citem, error) {
	ci := &citem{it: it, kind: it.kind, pats: it.pats}
	if !it.keyword {
		ci.field = m.fref(it.field, ls)
	}
	for _, r := range it.refs {
		ci.refs = append(ci.refs, m.fref(r, ls))
	}
	if it.expand {
		vals, err := it.expandValues(m.mapping.Placeholders)
		if err != nil {
			return nil, fmt.Errorf("%q: %v; rule disabled", it.key, err)
		}
		ci.pats = compileAlts(vals, it.cased)
	}
	switch it.kind {
	case kString:
		ci.cost = 2
		ci.allInts = true
		for _, alts := range ci.pats {
			for _, p := range alts {
				switch p.kind {
				case pExact:
				case pPrefix, pSuffix:
					ci.cost++
				default:
					ci.cost += 2
				}
				if p.kind != pExact || !isCanonicalInt(p.lit) {
					ci.allInts = false
				} else {
					v, _ := strconv.ParseInt(p.lit, 10, 64)
					ci.ints = append(ci.ints, v)
				}
			}
		}
		if it.all {
			ci.allInts = false
		}
		if ci.allInts {
			ci.cost = 1
		}
		if it.keyword {
			ci.cost += 200
		}
	case kRegex:
		ci.cost = 30 * len(it.res)
		if it.keyword {
			ci.cost += 400
		}
	case kNull, kExists:
		ci.cost = 1
	case kCIDR, kNumber:
		ci.cost = 4
	default:
		ci.cost = 8
	}
	return ci, nil
}

// isCanonicalInt reports whether s is how strconv writes some int64, so
// that string equality and integer equality agree.
func isCanonicalInt(s string) bool {
	v, err := strconv.ParseInt(s, 10, 64)
	return err == nil && strconv.FormatInt(v, 10) == s
}

// Match calls hit for every rule that matches ev. Only the rules for ev's
// logsource are considered, and of those only the ones whose required
// literals occur in the event (or that have none) are evaluated.
func (m *Matcher) Match(ev *event.Event, hit func(r *Rule)) {
	b := m.bucketFor(ev)
	if len(b.rules) == 0 {
		return
	}
	sc := m.pool.Get().(*scratch)
	sc.begin(ev)
	sc.ensure(len(b.rules), int(b.outEnd))
	m.candidates(b, sc)
	for _, li := range sc.cands {
		cr := b.rules[li]
		if sc.evalNode(cr.root) {
			hit(cr.r)
		}
	}
	sc.end()
	m.pool.Put(sc)
}

// MatchNaive is the reference evaluator: every rule whose logsource admits
// the event is evaluated in full, with no index or prefilter. It shares
// the item semantics with Match and exists to check and measure Match.
func (m *Matcher) MatchNaive(ev *event.Event, hit func(r *Rule)) {
	sc := m.pool.Get().(*scratch)
	sc.begin(ev)
	for _, cr := range m.rules {
		if !m.mapping.admits(cr.r.LogSource, ev.LogSource) {
			continue
		}
		if sc.evalNode(cr.root) {
			hit(cr.r)
		}
	}
	sc.end()
	m.pool.Put(sc)
}

// Dormant returns the rules that none of the given event logsources would
// be offered: loaded, but with no configured source that can produce
// their events (spec §3).
func (m *Matcher) Dormant(sources []event.LogSource) []*Rule {
	var out []*Rule
	for _, cr := range m.rules {
		live := false
		for _, ls := range sources {
			if m.mapping.admits(cr.r.LogSource, ls) {
				live = true
				break
			}
		}
		if !live {
			out = append(out, cr.r)
		}
	}
	return out
}
