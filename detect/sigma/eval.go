package sigma

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/riposte-soar/riposte/event"
)

// scratch is the per-event working state: a lazily filled cache of field
// values and their folded forms, an arena the folded and formatted strings
// live in, and the prefilter's marks. Reused through a sync.Pool, so a
// Match that finds nothing allocates nothing.
type scratch struct {
	m     *Matcher
	ev    *event.Event
	gen   uint32
	slots []slot
	arena []byte

	// prefilter
	stamp  []uint32 // per bucket rule: marked in this event
	ostamp []uint32 // per automaton output: already reported in this event
	cands  []int32
	local  []int32 // the bucket's global -> local rule index

	// keyword haystack, built on first use in an event
	kwReady  bool
	kwFolded bool
	kwRaw    []string
	kwFold   []string

	spaceReady bool
	spaceKeys  []spaceKV
}

type slot struct {
	gen  uint32
	ok   bool
	v    any
	rgen uint32 // str valid
	sgen uint32 // fold valid
	sok  bool
	str  string
	fold string
}

type spaceKV struct {
	name string // without spaces
	v    any
}

func (m *Matcher) newScratch() *scratch {
	sc := &scratch{m: m, slots: make([]slot, len(m.keys)), arena: make([]byte, 0, 4096)}
	sc.ensure(0, m.nouts)
	return sc
}

func (sc *scratch) ensure(rules, outs int) {
	if len(sc.stamp) < rules {
		sc.stamp = make([]uint32, rules)
	}
	if len(sc.ostamp) < outs {
		sc.ostamp = make([]uint32, outs)
	}
}

func (sc *scratch) begin(ev *event.Event) {
	sc.ev = ev
	sc.gen++
	if sc.gen == 0 {
		// Wrapped: stale stamps could now look current.
		for i := range sc.slots {
			sc.slots[i] = slot{}
		}
		clear(sc.stamp)
		clear(sc.ostamp)
		sc.gen = 1
	}
	sc.arena = sc.arena[:0]
	sc.cands = sc.cands[:0]
	sc.kwReady, sc.kwFolded = false, false
	sc.spaceReady = false
}

func (sc *scratch) end() {
	sc.ev, sc.local = nil, nil
	if cap(sc.arena) > 1<<20 {
		sc.arena = make([]byte, 0, 4096)
	}
	sc.kwRaw, sc.kwFold = sc.kwRaw[:0], sc.kwFold[:0]
	sc.spaceKeys = sc.spaceKeys[:0]
}

// arenaString returns the bytes appended since start as a string without
// copying: the arena is only appended to within an event, so the bytes
// never change while the string is in use.
func (sc *scratch) arenaString(start int) string {
	n := len(sc.arena) - start
	if n == 0 {
		return ""
	}
	return unsafe.String(&sc.arena[start], n)
}

func (sc *scratch) get(k int32) (any, bool) {
	s := &sc.slots[k]
	if s.gen != sc.gen {
		v, ok := sc.ev.Fields[sc.m.keys[k]]
		s.gen, s.v, s.ok = sc.gen, v, ok
	}
	return s.v, s.ok
}

// resolve finds a rule field's value: the first present mapped key, or,
// for events whose normalizer keeps spaces in names, a key that equals the
// field once its spaces are removed (spec §4). k is -1 when the value did
// not come from a cached key.
func (sc *scratch) resolve(f *fref) (int32, any, bool) {
	for _, k := range f.keys {
		if v, ok := sc.get(k); ok {
			return k, v, true
		}
	}
	// The Windows normalizers already add space-free names.
	if sc.ev.LogSource.Product == "windows" {
		return -1, nil, false
	}
	if !sc.spaceReady {
		sc.spaceReady = true
		for name, v := range sc.ev.Fields {
			if strings.IndexByte(name, ' ') < 0 {
				continue
			}
			start := len(sc.arena)
			for i := 0; i < len(name); i++ {
				if name[i] != ' ' {
					sc.arena = append(sc.arena, name[i])
				}
			}
			sc.spaceKeys = append(sc.spaceKeys, spaceKV{name: sc.arenaString(start), v: v})
		}
	}
	for _, kv := range sc.spaceKeys {
		if kv.name == f.name {
			return -1, kv.v, true
		}
	}
	return -1, nil, false
}

// strForm renders a scalar as the string rules compare with; ok is false
// for null and for anything that is not a scalar.
func (sc *scratch) strForm(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		start := len(sc.arena)
		sc.arena = strconv.AppendInt(sc.arena, x, 10)
		return sc.arenaString(start), true
	case float64:
		start := len(sc.arena)
		sc.arena = strconv.AppendFloat(sc.arena, x, 'f', -1, 64)
		return sc.arenaString(start), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case int:
		start := len(sc.arena)
		sc.arena = strconv.AppendInt(sc.arena, int64(x), 10)
		return sc.arenaString(start), true
	case json.Number:
		return string(x), true
	}
	return "", false
}

func (sc *scratch) foldStr(s string) string {
	if !needsFold(s) {
		return s
	}
	start := len(sc.arena)
	sc.arena = appendFold(sc.arena, s)
	return sc.arenaString(start)
}

// rawForm returns a scalar's string form, cached per key.
func (sc *scratch) rawForm(k int32, v any) (string, bool) {
	if k < 0 {
		return sc.strForm(v)
	}
	s := &sc.slots[k]
	if s.rgen != sc.gen {
		s.rgen = sc.gen
		s.str, s.sok = sc.strForm(v)
	}
	return s.str, s.sok
}

// forms returns a scalar's string and folded forms, cached per key.
func (sc *scratch) forms(k int32, v any) (string, string, bool) {
	if k >= 0 {
		s := &sc.slots[k]
		if s.sgen == sc.gen {
			return s.str, s.fold, s.sok
		}
		str, ok := sc.rawForm(k, v)
		s.sgen = sc.gen
		if ok {
			s.fold = sc.foldStr(str)
		}
		return str, s.fold, ok
	}
	str, ok := sc.strForm(v)
	if !ok {
		return "", "", false
	}
	return str, sc.foldStr(str), true
}

func (sc *scratch) evalNode(n *cnode) bool {
	switch n.op {
	case cIdent:
		return sc.evalSel(n.sel)
	case cAnd:
		for _, k := range n.kids {
			if !sc.evalNode(k) {
				return false
			}
		}
		return true
	case cOr:
		for _, k := range n.kids {
			if sc.evalNode(k) {
				return true
			}
		}
		return false
	case cNot:
		return !sc.evalNode(n.kids[0])
	case cAtLeast:
		cnt := 0
		for i, k := range n.kids {
			if sc.evalNode(k) {
				cnt++
				if cnt >= n.n {
					return true
				}
			}
			if cnt+len(n.kids)-i-1 < n.n {
				return false
			}
		}
		return false
	}
	return false
}

func (sc *scratch) evalSel(s *csel) bool {
	for _, items := range s.maps {
		ok := true
		for _, ci := range items {
			if !sc.evalItem(ci) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (sc *scratch) evalItem(ci *citem) bool {
	r := sc.evalItem0(ci)
	if ci.it.neq {
		return !r
	}
	return r
}

func (sc *scratch) evalItem0(ci *citem) bool {
	if ci.it.keyword {
		return sc.evalKeyword(ci)
	}
	switch ci.kind {
	case kExists:
		_, _, ok := sc.resolve(&ci.field)
		return ok == ci.it.exists
	case kNull:
		_, v, ok := sc.resolve(&ci.field)
		return !ok || v == nil
	}
	k, v, ok := sc.resolve(&ci.field)
	if !ok {
		return false
	}
	if arr, isArr := v.([]any); isArr {
		for _, e := range arr {
			if sc.evalValue(ci, -1, e) {
				return true
			}
		}
		return false
	}
	return sc.evalValue(ci, k, v)
}

func matchPats(pats [][]pattern, all bool, s string) bool {
	if all {
		for _, alts := range pats {
			ok := false
			for i := range alts {
				if alts[i].match(s) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}
	for _, alts := range pats {
		for i := range alts {
			if alts[i].match(s) {
				return true
			}
		}
	}
	return false
}

func (sc *scratch) evalValue(ci *citem, k int32, v any) bool {
	it := ci.it
	if v == nil {
		return false
	}
	switch ci.kind {
	case kString:
		if ci.allInts {
			if iv, ok := v.(int64); ok {
				for _, x := range ci.ints {
					if x == iv {
						return true
					}
				}
				return false
			}
		}
		raw, fo, ok := sc.forms(k, v)
		if !ok {
			return false
		}
		if it.cased {
			return matchPats(ci.pats, it.all, raw)
		}
		return matchPats(ci.pats, it.all, fo)
	case kRegex:
		raw, fo, ok := sc.forms(k, v)
		if !ok {
			return false
		}
		return matchRegexps(it, raw, fo)
	case kCIDR:
		raw, _, ok := sc.forms(k, v)
		if !ok {
			return false
		}
		a, ok := parseIP(raw)
		if !ok {
			return false
		}
		for _, p := range it.nets {
			hit := p.Contains(a)
			if it.all && !hit {
				return false
			}
			if !it.all && hit {
				return true
			}
		}
		return it.all
	case kNumber:
		n, ok := eventNumber(v)
		if !ok {
			return false
		}
		for _, x := range it.nums {
			c := n.cmp(x)
			var hit bool
			switch it.numOp {
			case "lt":
				hit = c < 0
			case "lte":
				hit = c <= 0
			case "gt":
				hit = c > 0
			default:
				hit = c >= 0
			}
			if it.all && !hit {
				return false
			}
			if !it.all && hit {
				return true
			}
		}
		return it.all
	case kTime:
		t, ok := eventTime(v)
		if !ok {
			return false
		}
		var part int64
		switch it.tpart {
		case "minute":
			part = int64(t.Minute())
		case "hour":
			part = int64(t.Hour())
		case "day":
			part = int64(t.Day())
		case "week":
			_, w := t.ISOWeek()
			part = int64(w)
		case "month":
			part = int64(t.Month())
		default:
			part = int64(t.Year())
		}
		for _, x := range it.tvals {
			if x == part && !it.all {
				return true
			}
			if x != part && it.all {
				return false
			}
		}
		return it.all
	case kFieldref:
		raw, fo, ok := sc.forms(k, v)
		if !ok {
			return false
		}
		for i := range ci.refs {
			hit := sc.fieldrefMatch(ci, &ci.refs[i], raw, fo)
			if it.all && !hit {
				return false
			}
			if !it.all && hit {
				return true
			}
		}
		return it.all
	}
	return false
}

func matchRegexps(it *item, s, folded string) bool {
	for i, re := range it.res {
		hit := len(s) >= it.minLen[i] && guardOK(it.guards[i], folded) && re.MatchString(s)
		if it.all && !hit {
			return false
		}
		if !it.all && hit {
			return true
		}
	}
	return it.all
}

func (sc *scratch) fieldrefMatch(ci *citem, ref *fref, raw, fo string) bool {
	k, v, ok := sc.resolve(ref)
	if !ok || v == nil {
		return false
	}
	test := func(k int32, v any) bool {
		oraw, ofo, ok := sc.forms(k, v)
		if !ok {
			return false
		}
		a, b := fo, ofo
		if ci.it.cased {
			a, b = raw, oraw
		}
		switch ci.it.refPos {
		case pContains:
			return strings.Contains(a, b)
		case pPrefix:
			return strings.HasPrefix(a, b)
		case pSuffix:
			return strings.HasSuffix(a, b)
		}
		return a == b
	}
	if arr, isArr := v.([]any); isArr {
		for _, e := range arr {
			if test(-1, e) {
				return true
			}
		}
		return false
	}
	return test(k, v)
}

// keywordRaw returns the keyword haystack (spec §9, Riposte choice): the
// raw message when the event carries one, else every string field value.
func (sc *scratch) keywordRaw() []string {
	if sc.kwReady {
		return sc.kwRaw
	}
	sc.kwReady = true
	ev := sc.ev
	if len(ev.Raw) > 0 {
		sc.kwRaw = append(sc.kwRaw, unsafe.String(&ev.Raw[0], len(ev.Raw)))
		return sc.kwRaw
	}
	for _, v := range ev.Fields {
		switch x := v.(type) {
		case string:
			sc.kwRaw = append(sc.kwRaw, x)
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					sc.kwRaw = append(sc.kwRaw, s)
				}
			}
		}
	}
	return sc.kwRaw
}

// keywordTexts returns the haystack raw and folded.
func (sc *scratch) keywordTexts() (raw, folded []string) {
	raw = sc.keywordRaw()
	if !sc.kwFolded {
		sc.kwFolded = true
		for _, t := range raw {
			sc.kwFold = append(sc.kwFold, sc.foldStr(t))
		}
	}
	return raw, sc.kwFold
}

func (sc *scratch) evalKeyword(ci *citem) bool {
	raw, fo := sc.keywordTexts()
	it := ci.it
	if ci.kind == kRegex {
		for ri, re := range it.res {
			hit := false
			for ti, t := range raw {
				if len(t) >= it.minLen[ri] && guardOK(it.guards[ri], fo[ti]) && re.MatchString(t) {
					hit = true
					break
				}
			}
			if it.all && !hit {
				return false
			}
			if !it.all && hit {
				return true
			}
		}
		return it.all
	}
	texts := fo
	if it.cased {
		texts = raw
	}
	for _, alts := range ci.pats {
		hit := false
	search:
		for _, t := range texts {
			for i := range alts {
				if alts[i].match(t) {
					hit = true
					break search
				}
			}
		}
		if it.all && !hit {
			return false
		}
		if !it.all && hit {
			return true
		}
	}
	return it.all
}

func guardOK(g []string, folded string) bool {
	for _, l := range g {
		if !strings.Contains(folded, l) {
			return false
		}
	}
	return true
}

// parseIP parses an event value as an IP address; a quick syntax check
// first keeps non-addresses from allocating an error.
func parseIP(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || len(s) > 64 {
		return netip.Addr{}, false
	}
	if s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	sep := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' || c == ':':
			sep = true
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F', c == '%':
		default:
			if strings.IndexByte(s[:i], '%') < 0 { // zone names are free text
				return netip.Addr{}, false
			}
		}
	}
	if !sep {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	// A zone (fe80::1%eth0) names the interface, not the network.
	return a.WithZone("").Unmap(), true
}

func eventNumber(v any) (number, bool) {
	switch x := v.(type) {
	case int64:
		return number{i: x, f: float64(x), isInt: true}, true
	case float64:
		return number{f: x}, true
	case int:
		return number{i: int64(x), f: float64(x), isInt: true}, true
	case string:
		return parseNumber(x)
	case json.Number:
		return parseNumber(string(x))
	}
	return number{}, false
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// eventTime reads a date-valued field; times without an offset are UTC,
// and the event's own offset is kept (no conversion, spec §7).
func eventTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		if len(s) < 10 || s[4] != '-' || s[7] != '-' {
			return time.Time{}, false
		}
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t, true
			}
		}
	case int64:
		switch {
		case x <= 0:
		case x < 1e11:
			return time.Unix(x, 0).UTC(), true
		case x < 1e14:
			return time.UnixMilli(x).UTC(), true
		default:
			return time.Unix(0, x).UTC(), true
		}
	}
	return time.Time{}, false
}
