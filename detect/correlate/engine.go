package correlate

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/event"
)

// Options tune an Engine.
type Options struct {
	// AllowedLateness is how far behind a group's high-water mark (the
	// latest event time it saw) an event may be and still count. Later
	// events are dropped and counted in Stats.Late. 0 means 60 s; a
	// negative value means none.
	AllowedLateness time.Duration
	// MaxGroupsPerRule bounds the groups one correlation keeps; beyond it
	// the group with the least evidence (fewest entries; least recently
	// used among equals) is evicted, counted in Stats.Evicted and reported
	// by Pressure. 0 means 100,000.
	MaxGroupsPerRule int
	// PressureInterval is the least time between two Pressure reports of
	// one correlation. 0 means one minute.
	PressureInterval time.Duration
	// MaxEventIDs is K, the most contributing event ids a hit carries
	// (the first K/2 and the last K-K/2 when there are more). 0 means 20.
	MaxEventIDs int
	// Now is the wall clock (time.Now when nil). Tick closes windows of
	// idle groups by it.
	Now func() time.Time
}

const (
	defaultLateness  = 60 * time.Second
	defaultMaxGroups = 100_000
	defaultK         = 20
	defaultPressure  = time.Minute
	// maxNetworks bounds the networks a pressure report tallies; new
	// groups from further networks are counted in no network.
	maxNetworks = 4096
)

// Hit is one correlation hit.
type Hit struct {
	Rule *Rule
	// GroupKey identifies the group within the rule: the group-by values
	// in group-by order, each Go-quoted, in brackets (`["203.0.113.7"]`;
	// `[]` without group-by).
	GroupKey string
	// Group maps each group-by field to its value.
	Group map[string]string
	// WindowStart and WindowEnd bound the window that fired: (End-timespan,
	// End] for conditions decided as events arrive, [first event, first
	// event+timespan) for conditions decided when the window closes.
	WindowStart, WindowEnd time.Time
	// Count is what the condition counted: events (event_count), distinct
	// values (value_count), distinct rules (temporal types), or the number
	// of values summed or averaged (value_sum, value_avg).
	Count int64
	// Value is the number the condition was tested on: Count, or the sum
	// or mean for value_sum and value_avg.
	Value float64
	// EventIDs are up to K contributing event ids, in event-time order
	// (for chained correlations, those of the inner hits).
	EventIDs []string
	// FirstEventTime is the earliest contributing event's time.
	FirstEventTime time.Time
	// Host is the host of the contributing events when they all share one.
	Host string
	// Suppressed is true when every correlation consuming this one's hits
	// has generate: false: the hit feeds them but raises no alert itself.
	Suppressed bool
}

// Correlation returns the alert context of the hit.
func (h *Hit) Correlation() *alert.Correlation {
	return &alert.Correlation{Type: h.Rule.Type, GroupBy: h.Group, WindowStart: h.WindowStart,
		WindowEnd: h.WindowEnd, Count: h.Count}
}

// RuleStats are the counters of one correlation.
type RuleStats struct {
	Observed       int64 // matches offered to the correlation
	MissingGroupBy int64 // ignored: a group-by field was absent or null
	MissingValue   int64 // ignored: value field absent (value_count) or not numeric (value_sum/avg)
	Late           int64 // dropped: more than AllowedLateness behind the group's high-water mark
	Stale          int64 // dropped: older than the group's last hit or closed window
	Evicted        int64 // groups evicted by the MaxGroupsPerRule bound
	Expired        int64 // idle groups dropped by Tick
	Hits           int64
	Groups         int64 // live groups
}

// Stats are the engine's counters: totals and per correlation (by Key).
type Stats struct {
	RuleStats
	Rules map[string]RuleStats
}

// Engine evaluates correlations over a stream of base-rule matches. It is
// safe for concurrent use (one mutex).
type Engine struct {
	mu       sync.Mutex
	lateness int64
	maxGroup int
	interval int64 // PressureInterval
	k        int
	now      func() time.Time
	corrs    []*corr // inner before outer
	byRef    map[string][]target
	uses     map[string]*refUse
	rejected []error
	buf      []byte

	// persistence bookkeeping (see persist.go)
	track   bool
	synced  bool // state store matches: restored, or a full checkpoint committed
	seq     uint64
	dropped map[string]uint64
}

type target struct {
	c    *corr
	mask uint64
}

type refUse struct{ total, generate int }

// corr is a compiled correlation and its state.
type corr struct {
	rule      *Rule
	key, fp   string
	ts        int64
	closeMode bool
	nrules    int
	k         int // MaxEventIDs
	expr      *exprNode
	ordered   bool
	// group[g][i] is the field read for group-by g from a match of
	// rule i; value[f][i] likewise for condition field f.
	group, value [][]string
	aliased      bool
	groups       map[string]*group
	lru          [evidenceLevels]lru // by evidence level (window.go)
	press        pressure
	outers       []target
	deleted      map[string]uint64 // deleted group keys not yet checkpointed
	st           RuleStats
}

// NewEngine compiles rules (normally the output of Resolve) into an engine.
// Rules that Resolve would reject for structural reasons (cycles, duplicate
// ids, chains whose fields do not line up) or that are invalid are left out;
// Rejected says why.
func NewEngine(rules []*Rule, opts Options) *Engine {
	e := &Engine{lateness: int64(defaultLateness), maxGroup: defaultMaxGroups, k: defaultK, now: time.Now,
		interval: int64(defaultPressure)}
	switch {
	case opts.AllowedLateness > 0:
		e.lateness = int64(opts.AllowedLateness)
	case opts.AllowedLateness < 0:
		e.lateness = 0
	}
	if opts.MaxGroupsPerRule > 0 {
		e.maxGroup = opts.MaxGroupsPerRule
	}
	if opts.MaxEventIDs > 0 {
		e.k = opts.MaxEventIDs
	}
	if opts.PressureInterval > 0 {
		e.interval = int64(opts.PressureInterval)
	}
	if opts.Now != nil {
		e.now = opts.Now
	}
	e.install(rules)
	return e
}

// Rejected returns why rules given to NewEngine or Reload were left out.
func (e *Engine) Rejected() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.rejected)
}

// install compiles rules and builds the indexes; it does not touch state.
func (e *Engine) install(rules []*Rule) {
	ordered, errs := resolve(rules, nil)
	e.rejected = errs
	e.corrs = e.corrs[:0]
	e.byRef = map[string][]target{}
	e.uses = map[string]*refUse{}
	byRef := map[string]*corr{}
	for _, r := range ordered {
		c, err := compile(r)
		if err != nil {
			e.rejected = append(e.rejected, err)
			continue
		}
		c.k = e.k
		e.corrs = append(e.corrs, c)
		for _, ref := range []string{r.ID, r.Name} {
			if ref != "" {
				byRef[ref] = c
			}
		}
	}
	for _, c := range e.corrs {
		for i, ref := range c.rule.Rules {
			u := e.uses[ref]
			if u == nil {
				u = &refUse{}
				e.uses[ref] = u
			}
			u.total++
			if c.rule.Generate {
				u.generate++
			}
			t := target{c, 1 << i}
			if inner := byRef[ref]; inner != nil {
				inner.outers = append(inner.outers, t)
			} else {
				e.byRef[ref] = append(e.byRef[ref], t)
			}
		}
	}
}

func compile(r *Rule) (*corr, error) {
	bad := func(key, msg string) error { return &Error{File: r.File, Line: r.Line, Key: key, Msg: msg} }
	switch {
	case !slices.Contains(types, r.Type):
		return nil, bad("correlation.type", fmt.Sprintf("%q is not supported", r.Type))
	case r.Timespan <= 0:
		return nil, bad("correlation.timespan", "must be greater than zero")
	case len(r.Rules) == 0 || len(r.Rules) > MaxRules:
		return nil, bad("correlation.rules", fmt.Sprintf("needs 1 to %d rules", MaxRules))
	case isValueType(r.Type) && len(r.condFields()) == 0:
		return nil, bad("correlation.condition.field", "missing")
	}
	c := &corr{rule: r, key: r.Key(), fp: r.Fingerprint(), ts: int64(r.Timespan), nrules: len(r.Rules),
		ordered: r.Type == TemporalOrdered, groups: map[string]*group{}, deleted: map[string]uint64{}}
	if r.Expr != "" {
		x := r.expr
		if x == nil {
			var err error
			if x, _, err = parseExpr(r.Expr); err != nil {
				return nil, bad("correlation.condition", err.Error())
			}
			x.bind(r.Rules)
		}
		if !isTemporal(r.Type) {
			return nil, bad("correlation.condition", "a string condition only applies to temporal types")
		}
		c.expr = x
		c.closeMode = x.hasNot()
	} else {
		if len(r.Condition.Ops) == 0 {
			return nil, bad("correlation.condition", "no comparison")
		}
		c.closeMode = r.Condition.decidedAtClose()
	}
	fields := func(names []string) [][]string {
		out := make([][]string, len(names))
		for g, name := range names {
			out[g] = make([]string, len(r.Rules))
			for i, ref := range r.Rules {
				out[g][i] = r.fieldFor(name, ref)
				if out[g][i] != name {
					c.aliased = true
				}
			}
		}
		return out
	}
	c.group = fields(r.GroupBy)
	if isValueType(r.Type) {
		c.value = fields(r.condFields())
	}
	return c, nil
}

// Suppressed reports whether a base rule's (or a correlation's) own alerts
// are suppressed: it is referenced, by id or name, by at least one
// correlation, and every correlation referencing it has generate: false.
func (e *Engine) Suppressed(ruleID, ruleName string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.suppressed(ruleID, ruleName)
}

func (e *Engine) suppressed(id, name string) bool {
	total, gen := 0, 0
	for _, ref := range []string{id, name} {
		if u := e.uses[ref]; ref != "" && u != nil {
			total += u.total
			gen += u.generate
		}
		if id == name {
			break
		}
	}
	return total > 0 && gen == 0
}

// Referenced reports whether any correlation references the rule.
func (e *Engine) Referenced(ruleID, ruleName string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return ruleID != "" && e.uses[ruleID] != nil || ruleName != "" && e.uses[ruleName] != nil
}

// obs is one observation offered to a correlation: a base-rule match on an
// event, or an inner correlation's hit.
type obs struct {
	t      int64
	fields map[string]any    // event fields
	grp    map[string]string // inner hit's group values
	id     string
	more   []string
	first  int64
	host   string
	// keep, when set, restricts the observation to the groups it accepts.
	keep func(groupKey []byte) bool
}

func (o *obs) str(name string) (string, bool) {
	if o.grp != nil {
		s, ok := o.grp[name]
		return s, ok
	}
	v, ok := o.fields[name]
	if !ok {
		return "", false
	}
	return strForm(v)
}

func (o *obs) num(name string) (float64, bool) {
	if o.grp != nil {
		s, ok := o.grp[name]
		if !ok {
			return 0, false
		}
		return numForm(s)
	}
	return numForm(o.fields[name])
}

// strForm is the string form of a field value; nil and empty lists count as
// absent. A list becomes the JSON array of its elements' string forms.
func strForm(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10), true
		}
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	case []any:
		if len(x) == 0 {
			return "", false
		}
		ss := make([]string, 0, len(x))
		for _, el := range x {
			s, _ := strForm(el)
			ss = append(ss, s)
		}
		b, _ := json.Marshal(ss)
		return string(b), true
	case json.Number:
		return x.String(), true
	}
	return fmt.Sprint(v), true
}

// numForm reads a number, also from decimal text; NaN and infinities are
// not numbers here.
func numForm(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case string:
		var err error
		f, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, false
		}
	default:
		var ok bool
		if f, ok = number(v); !ok {
			return 0, false
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// eventTime is the event's time, else its receive time, else now.
func eventTime(ev *event.Event, now time.Time) int64 {
	for _, t := range []time.Time{ev.Time, ev.Received} {
		if y := t.Year(); !t.IsZero() && y > 1678 && y < 2262 {
			return t.UnixNano()
		}
	}
	return now.UnixNano()
}

func ts(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// Observe feeds one match of a base rule (identified by id and name: a
// correlation may reference either) on an event. It returns the hits this
// completes, including those of chained correlations, inner first.
func (e *Engine) Observe(ruleID, ruleName string, ev *event.Event) []Hit {
	return e.observe(ruleID, ruleName, ev, nil)
}

// ObserveKeys is Observe restricted to the groups whose key keep accepts:
// in a cluster, each node keeps the groups of its partitions. Hits of inner
// correlations feed their outer correlations here, whatever their key.
func (e *Engine) ObserveKeys(ruleID, ruleName string, ev *event.Event, keep func(groupKey []byte) bool) []Hit {
	return e.observe(ruleID, ruleName, ev, keep)
}

// Fields lists the event fields the correlations referencing a base rule
// read from its matches (group-by and condition fields): what a match must
// carry to be observed elsewhere.
func (e *Engine) Fields(ruleID, ruleName string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	add := func(f string) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	for _, ref := range []string{ruleID, ruleName} {
		for _, t := range e.byRef[ref] {
			for m := t.mask; m != 0; m &= m - 1 {
				ri := bits.TrailingZeros64(m)
				for _, g := range t.c.group {
					add(g[ri])
				}
				for _, v := range t.c.value {
					add(v[ri])
				}
			}
		}
		if ruleID == ruleName {
			break
		}
	}
	return out
}

func (e *Engine) observe(ruleID, ruleName string, ev *event.Event, keep func([]byte) bool) []Hit {
	if ev == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	tgts := e.byRef[ruleID]
	if ruleName != ruleID {
		if more := e.byRef[ruleName]; len(more) > 0 {
			tgts = slices.Clone(tgts)
		next:
			for _, t := range more {
				for i := range tgts {
					if tgts[i].c == t.c {
						tgts[i].mask |= t.mask
						continue next
					}
				}
				tgts = append(tgts, t)
			}
		}
	}
	if len(tgts) == 0 {
		return nil
	}
	t := eventTime(ev, now)
	o := &obs{t: t, fields: ev.Fields, id: ev.ID, first: t, host: ev.Host, keep: keep}
	var hits []Hit
	for _, tg := range tgts {
		e.feed(tg.c, tg.mask, o, now.UnixNano(), &hits)
	}
	return hits
}

// GroupKeys returns the state records an observation of the base rule on ev
// would update, as (correlation key, group key) pairs, without updating
// them. State is keyed this way so that a multi-node deployment can
// partition it: route each observation by these keys.
func (e *Engine) GroupKeys(ruleID, ruleName string, ev *event.Event) []GroupRef {
	if ev == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	o := &obs{fields: ev.Fields}
	var out []GroupRef
	for _, ref := range []string{ruleID, ruleName} {
		for _, t := range e.byRef[ref] {
			for m := t.mask; m != 0; m &= m - 1 {
				k, ok := t.c.keyOf(o, bits.TrailingZeros64(m), nil)
				if r := (GroupRef{t.c.key, k}); ok && !slices.Contains(out, r) {
					out = append(out, r)
				}
			}
		}
		if ruleID == ruleName {
			break
		}
	}
	return out
}

// feed offers o, matched through the rules in mask, to c.
func (e *Engine) feed(c *corr, mask uint64, o *obs, wall int64, hits *[]Hit) {
	if mask&(mask-1) == 0 || !c.aliased {
		e.feedOne(c, mask, bits.TrailingZeros64(mask), o, wall, hits)
		return
	}
	// Several rules of c matched, and aliases may read different fields for
	// them: one entry per distinct group key and value.
	type part struct {
		key  string
		mask uint64
		ri   int
	}
	var parts []part
	for m := mask; m != 0; m &= m - 1 {
		ri := bits.TrailingZeros64(m)
		k, ok := c.keyOf(o, ri, nil)
		if !ok {
			k = "\x00missing"
		}
		for _, f := range c.value {
			s, _ := o.str(f[ri])
			k += "\x00" + s
		}
		i := slices.IndexFunc(parts, func(p part) bool { return p.key == k })
		if i < 0 {
			parts = append(parts, part{k, 1 << ri, ri})
		} else {
			parts[i].mask |= 1 << ri
		}
	}
	for _, p := range parts {
		e.feedOne(c, p.mask, p.ri, o, wall, hits)
	}
}

// keyOf appends the group key of o (read as a match of rule ri) to buf.
func (c *corr) keyOf(o *obs, ri int, buf []byte) (string, bool) {
	buf = append(buf[:0], '[')
	for g := range c.group {
		v, ok := o.str(c.group[g][ri])
		if !ok {
			return "", false
		}
		if g > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendQuote(buf, v)
	}
	buf = append(buf, ']')
	return string(buf), true
}

func (e *Engine) feedOne(c *corr, mask uint64, ri int, o *obs, wall int64, hits *[]Hit) {
	c.st.Observed++
	// Group key, built in e.buf so that a known group costs no allocation.
	buf := append(e.buf[:0], '[')
	for g := range c.group {
		v, ok := o.str(c.group[g][ri])
		if !ok {
			c.st.MissingGroupBy++
			e.buf = buf
			return
		}
		if g > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendQuote(buf, v)
	}
	buf = append(buf, ']')
	e.buf = buf
	if o.keep != nil && !o.keep(buf) {
		c.st.Observed-- // another partition's group
		return
	}

	en := entry{t: o.t, mask: mask, first: o.first, id: o.id, host: o.host, more: o.more}
	switch c.rule.Type {
	case ValueCount:
		if len(c.value) == 1 {
			v, ok := o.str(c.value[0][ri])
			if !ok {
				c.st.MissingValue++
				return
			}
			en.val = v
		} else {
			vs := make([]string, len(c.value))
			for f := range c.value {
				v, ok := o.str(c.value[f][ri])
				if !ok {
					c.st.MissingValue++
					return
				}
				vs[f] = v
			}
			b, _ := json.Marshal(vs)
			en.val = string(b)
		}
	case ValueSum, ValueAvg:
		n, ok := o.num(c.value[0][ri])
		if !ok {
			c.st.MissingValue++
			return
		}
		en.num = n
	}

	g := c.groups[string(buf)]
	if g != nil {
		switch {
		case o.t < subSat(g.hwm, e.lateness):
			c.st.Late++
			return
		case o.t < g.reset:
			c.st.Stale++
			return
		}
	} else {
		g = e.newGroup(c, string(buf), o, ri, wall)
	}
	e.markDirty(c, g)
	if o.t >= g.hwm || !g.started {
		g.hwm, g.wall, g.started = o.t, wall, true
	}
	var fired []firing
	if c.closeMode {
		g.insert(en)
		fired = c.closeDue(g, g.hwm, e.lateness, nil)
	} else {
		fired = c.addSliding(g, en, e.lateness)
	}
	c.place(g)
	for i := range fired {
		e.emit(c, g, &fired[i], wall, hits)
	}
}

func (e *Engine) newGroup(c *corr, key string, o *obs, ri int, wall int64) *group {
	g := &group{key: key, reset: math.MinInt64}
	g.vals = make([]string, len(c.group))
	for i := range c.group {
		g.vals[i], _ = o.str(c.group[i][ri])
	}
	if len(c.groups) >= e.maxGroup {
		e.evict(c, g.vals, wall)
	}
	c.groups[key] = g
	c.pushFront(g)
	delete(c.deleted, key)
	return g
}

func (e *Engine) dropGroup(c *corr, g *group) {
	delete(c.groups, g.key)
	c.unlink(g)
	if e.track {
		e.seq++
		c.deleted[g.key] = e.seq
	}
}

func (e *Engine) markDirty(c *corr, g *group) {
	e.seq++
	g.ver = e.seq
}

// emit turns a firing into a hit and offers it to the correlations that
// consume c.
func (e *Engine) emit(c *corr, g *group, f *firing, wall int64, hits *[]Hit) {
	c.st.Hits++
	h := Hit{Rule: c.rule, GroupKey: g.key, WindowStart: ts(f.start), WindowEnd: ts(f.end),
		Count: f.count, Value: f.value, EventIDs: f.ids, FirstEventTime: ts(f.first), Host: f.host,
		Suppressed: e.suppressed(c.rule.ID, c.rule.Name)}
	h.Group = make(map[string]string, len(c.rule.GroupBy))
	for i, name := range c.rule.GroupBy {
		h.Group[name] = g.vals[i]
	}
	*hits = append(*hits, h)
	if len(c.outers) == 0 {
		return
	}
	o := &obs{t: f.end, grp: h.Group, more: h.EventIDs, first: f.first, host: h.Host}
	for _, t := range c.outers {
		e.feed(t.c, t.mask, o, wall, hits)
	}
}

// Tick closes the windows that closed by now (conditions with lt, lte, eq,
// neq, and condition expressions with not) and drops idle state. A group's
// clock is its high-water mark plus the wall time since that mark was set,
// so windows close with event time while events flow and with wall time
// when they stop; a window [first, first+timespan) closes once the clock
// passes its end plus the allowed lateness. A group idle for longer than
// timespan plus lateness on that clock is dropped.
func (e *Engine) Tick(now time.Time) []Hit {
	e.mu.Lock()
	defer e.mu.Unlock()
	wall := now.UnixNano()
	var hits []Hit
	for _, c := range e.corrs {
		c.each(func(g *group) {
			clock := g.hwm
			if d := wall - g.wall; d > 0 && clock < math.MaxInt64-d {
				clock += d
			}
			if c.closeMode {
				for _, f := range c.closeDue(g, clock, e.lateness, nil) {
					e.markDirty(c, g)
					e.emit(c, g, &f, wall, &hits)
				}
			} else if c.prune(g, e.lateness) {
				e.markDirty(c, g)
			}
			if subSat(clock, g.hwm) > addSat(c.ts, e.lateness) {
				e.dropGroup(c, g)
				c.st.Expired++
			} else {
				c.relevel(g)
			}
		})
	}
	return hits
}

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{Rules: map[string]RuleStats{}}
	for _, c := range e.corrs {
		rs := c.st
		rs.Groups = int64(len(c.groups))
		s.Rules[c.key] = rs
		s.Observed += rs.Observed
		s.MissingGroupBy += rs.MissingGroupBy
		s.MissingValue += rs.MissingValue
		s.Late += rs.Late
		s.Stale += rs.Stale
		s.Evicted += rs.Evicted
		s.Expired += rs.Expired
		s.Hits += rs.Hits
		s.Groups += rs.Groups
	}
	return s
}

// Rules returns the installed correlations, inner before outer.
func (e *Engine) Rules() []*Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Rule, len(e.corrs))
	for i, c := range e.corrs {
		out[i] = c.rule
	}
	return out
}

// Reload replaces the rules. State (groups, windows, counters) is carried
// over for every correlation whose Key and Fingerprint are unchanged (so a
// new title or level keeps it); a correlation whose definition changed
// starts empty, and its persisted state is deleted at the next checkpoint.
func (e *Engine) Reload(rules []*Rule) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := map[string]*corr{}
	for _, c := range e.corrs {
		old[c.key] = c
	}
	e.corrs = nil
	e.install(rules)
	for _, c := range e.corrs {
		o := old[c.key]
		if o == nil {
			continue
		}
		delete(old, c.key)
		if o.fp != c.fp {
			e.dropRule(o.key)
			continue
		}
		c.groups, c.lru, c.press, c.deleted, c.st = o.groups, o.lru, o.press, o.deleted, o.st
	}
	for k := range old {
		e.dropRule(k)
	}
}

func (e *Engine) dropRule(key string) {
	if !e.track {
		return
	}
	e.seq++
	e.dropped[key] = e.seq
}
