package correlate

import (
	"math"
	"math/bits"
	"slices"
	"sort"
)

// entry is one observation kept in a group's window.
type entry struct {
	t     int64   // event time, ns
	mask  uint64  // referenced rules it matched
	num   float64 // value_sum / value_avg
	first int64   // earliest contributing event (t, or an inner hit's first event)
	id    string
	val   string // value_count
	host  string
	more  []string // inner hit's event ids (chained correlations)
}

// group is the state of one group key of one correlation.
type group struct {
	key  string
	vals []string // group-by values
	// ents are sorted by time (ties in arrival order) and hold every
	// observation that a window yet to be evaluated may contain.
	ents []entry
	// Sliding mode: ents[lo:] is the window ending at the high-water mark
	// and agg summarizes it.
	lo      int
	agg     agg
	hwm     int64 // high-water mark: latest event time seen
	wall    int64 // wall time when hwm was last advanced
	started bool
	// reset is where the last hit (or closed window) ended: earlier events
	// were consumed by it and are dropped.
	reset      int64
	prev, next *group
	level      uint8  // evidence level: the recency list g is in
	ver, saved uint64 // change sequence, last checkpointed sequence
}

// agg summarizes a run of entries incrementally.
type agg struct {
	n     int64
	sum   float64
	vals  map[string]int32 // value_count: distinct values
	rules []int32          // temporal types: entries per rule
	nrule int              // rules with entries
}

func (a *agg) add(c *corr, en *entry) {
	a.n++
	switch c.rule.Type {
	case ValueCount:
		if a.vals == nil {
			a.vals = map[string]int32{}
		}
		a.vals[en.val]++
	case ValueSum, ValueAvg:
		a.sum += en.num
	case Temporal, TemporalOrdered:
		if a.rules == nil {
			a.rules = make([]int32, c.nrules)
		}
		for m := en.mask; m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m)
			if i < len(a.rules) {
				if a.rules[i] == 0 {
					a.nrule++
				}
				a.rules[i]++
			}
		}
	}
}

func (a *agg) remove(c *corr, en *entry) {
	a.n--
	switch c.rule.Type {
	case ValueCount:
		if a.vals[en.val]--; a.vals[en.val] <= 0 {
			delete(a.vals, en.val)
		}
	case ValueSum, ValueAvg:
		a.sum -= en.num
		if a.n == 0 {
			a.sum = 0 // no drift carried into the next run
		}
	case Temporal, TemporalOrdered:
		for m := en.mask; m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m)
			if i < len(a.rules) {
				if a.rules[i]--; a.rules[i] == 0 {
					a.nrule--
				}
			}
		}
	}
}

func (a *agg) clear() {
	a.n, a.sum, a.nrule = 0, 0, 0
	clear(a.vals)
	clear(a.rules)
}

// set is the set of rules with entries.
func (a *agg) set() uint64 {
	var s uint64
	for i, n := range a.rules {
		if n > 0 {
			s |= 1 << i
		}
	}
	return s
}

// measure evaluates the condition over window w summarized by a. It returns
// the value tested, the count reported and whether the condition holds.
func (c *corr) measure(a *agg, w []entry) (float64, int64, bool) {
	var cnt int64
	switch c.rule.Type {
	case EventCount:
		cnt = a.n
	case ValueCount:
		cnt = int64(len(a.vals))
	case ValueSum:
		return a.sum, a.n, c.rule.Condition.Holds(a.sum)
	case ValueAvg:
		if a.n == 0 {
			return 0, 0, false
		}
		v := a.sum / float64(a.n)
		return v, a.n, c.rule.Condition.Holds(v)
	case Temporal:
		if c.expr != nil {
			set := a.set()
			cnt = int64(bits.OnesCount64(set))
			return float64(cnt), cnt, c.expr.eval(set)
		}
		cnt = int64(a.nrule)
	case TemporalOrdered:
		if c.expr != nil {
			set, _ := c.greedy(w, false)
			cnt = int64(bits.OnesCount64(set))
			return float64(cnt), cnt, c.expr.eval(set)
		}
		cnt, _ = c.chain(w, false)
	}
	return float64(cnt), cnt, c.rule.Condition.Holds(float64(cnt))
}

// greedy walks the referenced rules in their listed order and takes each
// one's first match after the previous taken match. The set it returns is
// what a condition expression of a temporal_ordered correlation sees: for
// rules [a, b] "a and not b" means an a not followed by a b.
func (c *corr) greedy(w []entry, want bool) (uint64, []int) {
	var set uint64
	var idx []int
	cur := 0
	for r := 0; r < c.nrules; r++ {
		bit := uint64(1) << r
		for i := cur; i < len(w); i++ {
			if w[i].mask&bit != 0 {
				set |= bit
				if want {
					idx = append(idx, i)
				}
				cur = i + 1
				break
			}
		}
	}
	return set, idx
}

type chainNode struct {
	i    int
	prev *chainNode
}

// chain returns the length of the longest run of distinct referenced rules
// matched in their listed order (each by a different entry, in time order),
// and with want the entries of one such run. temporal_ordered counts this:
// the default condition gte len(rules) means all rules, in order.
func (c *corr) chain(w []entry, want bool) (int64, []int) {
	var best [MaxRules]int32
	var node [MaxRules]*chainNode
	for i := range w {
		m := w[i].mask
		for m != 0 { // descending, so best[q<r] still holds the values before entry i
			r := 63 - bits.LeadingZeros64(m)
			m &^= 1 << r
			p, pi := int32(0), -1
			for q := 0; q < r; q++ {
				if best[q] > p {
					p, pi = best[q], q
				}
			}
			if p+1 > best[r] {
				best[r] = p + 1
				if want {
					n := &chainNode{i: i}
					if pi >= 0 {
						n.prev = node[pi]
					}
					node[r] = n
				}
			}
		}
	}
	top, tr := int32(0), -1
	for r := 0; r < c.nrules; r++ {
		if best[r] > top {
			top, tr = best[r], r
		}
	}
	if !want || tr < 0 {
		return int64(top), nil
	}
	var idx []int
	for n := node[tr]; n != nil; n = n.prev {
		idx = append(idx, n.i)
	}
	slices.Reverse(idx)
	return int64(top), idx
}

// firing is a window that satisfied its condition.
type firing struct {
	start, end int64
	count      int64
	value      float64
	ids        []string
	first      int64
	host       string
}

// fire describes window w (start, end) whose condition held.
func (c *corr) fire(w []entry, start, end int64, v float64, cnt int64) firing {
	f := firing{start: start, end: end, count: cnt, value: v, first: math.MaxInt64}
	var idx []int
	switch {
	case c.ordered && c.expr != nil:
		_, idx = c.greedy(w, true)
	case c.ordered:
		_, idx = c.chain(w, true)
	}
	each := func(fn func(en *entry)) {
		if idx == nil {
			for i := range w {
				fn(&w[i])
			}
			return
		}
		for _, i := range idx {
			fn(&w[i])
		}
	}
	total, mixed := 0, false
	each(func(en *entry) {
		if en.id != "" {
			total++
		}
		total += len(en.more)
		f.first = min(f.first, en.first)
		switch {
		case f.host == "" && !mixed:
			f.host = en.host
		case en.host != f.host:
			mixed = true
		}
	})
	if mixed {
		f.host = ""
	}
	if f.first == math.MaxInt64 {
		f.first = start
	}
	// Event ids: all of them, or the first k/2 and the last k-k/2.
	k := c.k
	head, tailN := total, 0
	if total > k {
		head, tailN = k/2, k-k/2
	}
	ids := make([]string, 0, head+tailN)
	seen := 0
	add := func(id string) {
		if seen < head || seen >= total-tailN {
			ids = append(ids, id)
		}
		seen++
	}
	each(func(en *entry) {
		if en.id != "" {
			add(en.id)
		}
		for _, id := range en.more {
			add(id)
		}
	})
	f.ids = ids
	return f
}

// insert adds en in time order (after entries with the same time).
func (g *group) insert(en entry) int {
	n := len(g.ents)
	if n == 0 || g.ents[n-1].t <= en.t {
		g.ents = append(g.ents, en)
		return n
	}
	i := sort.Search(n, func(k int) bool { return g.ents[k].t > en.t })
	g.ents = slices.Insert(g.ents, i, en)
	return i
}

// dropFront removes the first j entries.
func (g *group) dropFront(j int) {
	if j <= 0 {
		return
	}
	n := copy(g.ents, g.ents[j:])
	clear(g.ents[n:])
	g.ents = g.ents[:n]
	g.lo = max(0, g.lo-j)
}

// rebuild recomputes the sliding window ending at the high-water mark.
func (g *group) rebuild(c *corr) {
	cut := subSat(g.hwm, c.ts)
	g.lo = sort.Search(len(g.ents), func(k int) bool { return g.ents[k].t > cut })
	g.agg.clear()
	for i := g.lo; i < len(g.ents); i++ {
		g.agg.add(c, &g.ents[i])
	}
}

// addSliding adds en to a group whose condition is decided as events arrive
// (gt, gte, or an expression without not): a window (t-timespan, t] fires
// as soon as its condition holds, and the group's state is then reset.
func (c *corr) addSliding(g *group, en entry, lateness int64) []firing {
	n := len(g.ents)
	if n == 0 || en.t >= g.ents[n-1].t {
		last := n - 1
		if isTemporal(c.rule.Type) && last >= g.lo && last >= 0 && g.ents[last].mask == en.mask {
			// Consecutive matches of the same rules: only the latest can
			// matter to windows that end later, and it stays in them longest.
			g.ents[last] = en
		} else {
			g.ents = append(g.ents, en)
			g.agg.add(c, &g.ents[n])
		}
		cut := subSat(en.t, c.ts)
		for g.lo < len(g.ents) && g.ents[g.lo].t <= cut {
			g.agg.remove(c, &g.ents[g.lo])
			g.lo++
		}
		w := g.ents[g.lo:]
		if v, cnt, ok := c.measure(&g.agg, w); ok {
			f := c.fire(w, cut, en.t, v, cnt)
			g.dropFront(len(g.ents))
			g.agg.clear()
			g.reset = en.t
			return []firing{f}
		}
		c.compact(g, lateness, false)
		return nil
	}
	// Out of order (but within the allowed lateness): evaluate the windows
	// that end at the entries from en on and contain en.
	i := g.insert(en)
	var tmp agg
	l := sort.Search(len(g.ents), func(k int) bool { return g.ents[k].t > subSat(en.t, c.ts) })
	for k := l; k <= i; k++ {
		tmp.add(c, &g.ents[k])
	}
	for j := i; j < len(g.ents); j++ {
		end := g.ents[j].t
		cut := subSat(end, c.ts)
		if j > i {
			if cut >= en.t {
				break
			}
			tmp.add(c, &g.ents[j])
			for g.ents[l].t <= cut {
				tmp.remove(c, &g.ents[l])
				l++
			}
		}
		w := g.ents[l : j+1]
		if v, cnt, ok := c.measure(&tmp, w); ok {
			f := c.fire(w, cut, end, v, cnt)
			g.dropFront(j + 1)
			g.reset = end
			g.rebuild(c)
			return []firing{f}
		}
	}
	g.rebuild(c)
	return nil
}

// compact drops entries that no window can contain any more: older than
// the high-water mark minus timespan minus lateness. Unless force, it only
// copies when that frees a good share of the slice.
func (c *corr) compact(g *group, lateness int64, force bool) bool {
	limit := subSat(subSat(g.hwm, c.ts), lateness)
	p := 0
	for p < g.lo && g.ents[p].t <= limit {
		p++
	}
	if p == 0 || !force && p < 32 && 2*p < len(g.ents) {
		return false
	}
	g.dropFront(p)
	return true
}

// prune is Tick's compaction of a sliding group.
func (c *corr) prune(g *group, lateness int64) bool { return c.compact(g, lateness, true) }

// closeDue closes the group's windows that are due by clock. A window is
// decided at close when its condition has lt, lte, eq or neq, or its
// expression has not: it starts at the group's first event, covers
// [first, first+timespan), and closes once clock - lateness reaches its end.
// It fires when its condition holds; either way its events are consumed and
// the next window starts at the next event.
func (c *corr) closeDue(g *group, clock, lateness int64, out []firing) []firing {
	for len(g.ents) > 0 {
		f := g.ents[0].t
		end := addSat(f, c.ts)
		if subSat(clock, lateness) < end {
			break
		}
		j := sort.Search(len(g.ents), func(k int) bool { return g.ents[k].t >= end })
		w := g.ents[:j]
		var tmp agg
		for k := range w {
			tmp.add(c, &w[k])
		}
		if v, cnt, ok := c.measure(&tmp, w); ok {
			out = append(out, c.fire(w, f, end, v, cnt))
		}
		g.dropFront(j)
		g.reset = end
	}
	return out
}

// Eviction order. A correlation keeps its groups in one recency list per
// evidence level (levelOf the entries a group holds) and evicts the least
// recently used group of the lowest level first. A flood of addresses that
// each fail once therefore only displaces other single-hit groups: a group
// nearer its threshold survives until every kept group has as much evidence.

// evidenceLevels is the number of evidence levels: 0, 1, 2-3, 4-7, ... 64+ entries.
const evidenceLevels = 8

// lru is one recency list, head most recently used.
type lru struct{ head, tail *group }

func levelOf(n int) uint8 { return uint8(min(bits.Len(uint(n)), evidenceLevels-1)) }

// victim is the group to evict: the least recently used of the lowest level.
func (c *corr) victim() *group {
	for l := range c.lru {
		if t := c.lru[l].tail; t != nil {
			return t
		}
	}
	return nil
}

// place makes g the most recently used group of its evidence level; g must
// be linked.
func (c *corr) place(g *group) {
	l := levelOf(len(g.ents))
	if l == g.level && c.lru[l].head == g {
		return
	}
	c.unlink(g)
	g.level = l
	c.pushFront(g)
}

// relevel moves g to the list of its evidence level only when that changed
// (Tick: it keeps the recency of groups it merely visits).
func (c *corr) relevel(g *group) {
	if l := levelOf(len(g.ents)); l != g.level {
		c.unlink(g)
		g.level = l
		c.pushFront(g)
	}
}

// each calls fn for every group, lowest level first and each level least
// recently used first; fn may unlink the group it is given or move it to a
// lower level.
func (c *corr) each(fn func(g *group)) {
	for l := range c.lru {
		for g := c.lru[l].tail; g != nil; {
			prev := g.prev
			fn(g)
			g = prev
		}
	}
}

func (c *corr) pushFront(g *group) {
	ls := &c.lru[g.level]
	g.prev, g.next = nil, ls.head
	if ls.head != nil {
		ls.head.prev = g
	}
	ls.head = g
	if ls.tail == nil {
		ls.tail = g
	}
}

func (c *corr) unlink(g *group) {
	ls := &c.lru[g.level]
	if g.prev != nil {
		g.prev.next = g.next
	} else {
		ls.head = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	} else {
		ls.tail = g.prev
	}
	g.prev, g.next = nil, nil
}

func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

func subSat(a, b int64) int64 {
	if b == math.MinInt64 {
		return addSat(addSat(a, math.MaxInt64), 1)
	}
	return addSat(a, -b)
}
