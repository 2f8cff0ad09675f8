package intel

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures an Index.
type Config struct {
	// MinConfidence: records below it never match (they still show as
	// context). Change it later with SetMinConfidence.
	MinConfidence int
}

// Index holds every feed's indicators in structures built for per-event
// matching (spec §7.3). Readers (Match, Lookup) never lock: they read an
// immutable snapshot published with an atomic pointer swap. Writers
// (Add, Remove, Replace, Update) serialize on a mutex, copy only the
// structures of the kinds they touch, and publish a new snapshot.
type Index struct {
	mu      sync.Mutex
	w       writer
	gen     uint64
	snap    atomic.Pointer[snapshot]
	minConf atomic.Int64
}

// NewIndex returns an empty index.
func NewIndex(cfg Config) *Index {
	ix := &Index{w: writer{
		entries: map[entryKey]*Indicator{},
		objects: map[objKey]*objState{},
		feeds:   map[string]map[entryKey]struct{}{},
	}}
	ix.minConf.Store(int64(cfg.MinConfidence))
	s := &snapshot{}
	s.init()
	ix.snap.Store(s)
	return ix
}

// SetMinConfidence changes the confidence threshold; it applies to the
// next Match.
func (ix *Index) SetMinConfidence(n int) { ix.minConf.Store(int64(n)) }

// MinConfidence returns the confidence threshold.
func (ix *Index) MinConfidence() int { return int(ix.minConf.Load()) }

type entryKey struct {
	kind  Kind
	match MatchMode
	value string
}

func keyOf(in *Indicator) entryKey { return entryKey{in.Kind, in.Match, in.Value} }

type objKey struct{ feed, id string }

type objState struct {
	modified time.Time
	keys     []entryKey
}

// writer is the canonical state, only touched under Index.mu.
type writer struct {
	entries map[entryKey]*Indicator // published entries are never modified
	objects map[objKey]*objState    // versioned source objects (STIX ids, MISP uuids)
	feeds   map[string]map[entryKey]struct{}
}

// snapshot is what matching reads; it is never modified once published.
type snapshot struct {
	ips       map[netip.Addr]*Indicator
	cidr4     *trieNode
	cidr6     *trieNode
	domains   map[string]domSlot
	urls      map[string]*Indicator
	urlPrefix map[string][]*Indicator // host -> prefix entries
	md5       map[[16]byte]*Indicator
	sha1      map[[20]byte]*Indicator
	sha256    map[[32]byte]*Indicator
	sha512    map[[64]byte]*Indicator
	strs      [nStrKinds]map[string]*Indicator
	uaContain []*Indicator
	patterns  map[string]*Indicator
	counts    map[Kind]int
	n         int
	// fields are the event fields worth reading for this snapshot's kinds.
	fields []fieldSpec
}

type domSlot struct{ exact, sub *Indicator }

// String kinds share one map type.
const (
	strEmail = iota
	strFilename
	strJA3
	strUA
	strMutex
	strRegKey
	strASN
	nStrKinds
)

func strSlot(k Kind) int {
	switch k {
	case KindEmail:
		return strEmail
	case KindFilename:
		return strFilename
	case KindJA3:
		return strJA3
	case KindUserAgent:
		return strUA
	case KindMutex:
		return strMutex
	case KindRegKey:
		return strRegKey
	case KindASN:
		return strASN
	}
	return -1
}

func (s *snapshot) init() {
	s.ips = map[netip.Addr]*Indicator{}
	s.domains = map[string]domSlot{}
	s.urls = map[string]*Indicator{}
	s.urlPrefix = map[string][]*Indicator{}
	s.md5 = map[[16]byte]*Indicator{}
	s.sha1 = map[[20]byte]*Indicator{}
	s.sha256 = map[[32]byte]*Indicator{}
	s.sha512 = map[[64]byte]*Indicator{}
	for i := range s.strs {
		s.strs[i] = map[string]*Indicator{}
	}
	s.patterns = map[string]*Indicator{}
	s.counts = map[Kind]int{}
}

// Len returns the number of entries (kind, match, value).
func (ix *Index) Len() int { return ix.snap.Load().n }

// Counts returns the number of entries per kind.
func (ix *Index) Counts() map[Kind]int { return maps.Clone(ix.snap.Load().counts) }

// Tx is one batch of changes, published atomically when Update returns.
type Tx struct {
	ix    *Index
	dirty map[entryKey]*Indicator // copies made in this transaction
}

// Update runs fn with a transaction and publishes its changes as one new
// snapshot: matching sees all of them or none.
func (ix *Index) Update(fn func(tx *Tx)) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	tx := &Tx{ix: ix, dirty: map[entryKey]*Indicator{}}
	fn(tx)
	ix.commit(tx)
}

// Add upserts a feed's indicators. Records with a source object id are
// versioned: a batch replaces every entry of an object whose Modified is
// not older than the stored one, and an older version is ignored. Records
// without an id are keyed by (feed, kind, match, value). Invalid
// indicators are skipped and reported in the error.
func (ix *Index) Add(feed string, inds []Indicator) error {
	var err error
	ix.Update(func(tx *Tx) { err = tx.Add(feed, inds) })
	return err
}

// Remove deletes the feed's records for the given entries.
func (ix *Index) Remove(feed string, inds []Indicator) {
	ix.Update(func(tx *Tx) { tx.Remove(feed, inds) })
}

// Replace atomically replaces everything a feed asserted with inds.
func (ix *Index) Replace(feed string, inds []Indicator) error {
	var err error
	ix.Update(func(tx *Tx) { err = tx.Replace(feed, inds) })
	return err
}

// RemoveFeed deletes everything a feed asserted.
func (ix *Index) RemoveFeed(feed string) { ix.Update(func(tx *Tx) { tx.RemoveFeed(feed) }) }

// RemoveEvent deletes a feed's records that came from one MISP event (or
// STIX bundle), to retire it or to replace it with Add in the same Update.
func (ix *Index) RemoveEvent(feed, event string) {
	ix.Update(func(tx *Tx) { tx.RemoveEvent(feed, event) })
}

// mutable returns a private copy of the entry at k (creating it), which
// the transaction may modify.
func (tx *Tx) mutable(k entryKey) *Indicator {
	if e, ok := tx.dirty[k]; ok && e != nil {
		return e
	}
	w := &tx.ix.w
	var e *Indicator
	if old := w.entries[k]; old != nil {
		c := *old
		c.Sources = slices.Clone(old.Sources)
		e = &c
	} else {
		e = &Indicator{Kind: k.kind, Match: k.match, Value: k.value}
	}
	tx.dirty[k] = e
	w.entries[k] = e
	return e
}

// removeRecords drops the records of feed (of object id when id != "")
// from the entry at k.
func (tx *Tx) removeRecords(k entryKey, feed string, id string, all bool) {
	w := &tx.ix.w
	if w.entries[k] == nil {
		return
	}
	e := tx.mutable(k)
	kept := e.Sources[:0]
	for _, s := range e.Sources {
		if s.Feed == feed && (all || s.ID == id) {
			if s.ID != "" && all {
				tx.forgetObjectKey(objKey{feed, s.ID}, k)
			}
			continue
		}
		kept = append(kept, s)
	}
	clear(e.Sources[len(kept):])
	e.Sources = kept
	if !slices.ContainsFunc(e.Sources, func(s Source) bool { return s.Feed == feed }) {
		if fk := w.feeds[feed]; fk != nil {
			delete(fk, k)
			if len(fk) == 0 {
				delete(w.feeds, feed)
			}
		}
	}
}

func (tx *Tx) forgetObjectKey(ok objKey, k entryKey) {
	w := &tx.ix.w
	st := w.objects[ok]
	if st == nil {
		return
	}
	st.keys = slices.DeleteFunc(st.keys, func(x entryKey) bool { return x == k })
	if len(st.keys) == 0 {
		delete(w.objects, ok)
	}
}

// validate normalizes a hand-built indicator and checks its shape.
func validate(in *Indicator) error {
	if in.Match == "" {
		in.Match = MatchExact
	}
	if in.Kind == KindPattern {
		if in.Value == "" {
			return errors.New("empty pattern")
		}
		return nil
	}
	k, v, err := Normalize(in.Kind, in.Value)
	if err != nil {
		if in.Kind == KindDomain {
			// single-label names are accepted when an importer allowed them
			if b, ok := appendDomain(nil, in.Value); ok && !strings.Contains(string(b), ".") {
				k, v, err = KindDomain, string(b), nil
			}
		}
		if err != nil {
			return err
		}
	}
	in.Kind, in.Value = k, v
	switch in.Match {
	case MatchExact:
	case MatchSubdomains:
		if in.Kind != KindDomain {
			return fmt.Errorf("match %s needs kind domain", in.Match)
		}
		if isPublicSuffix(in.Value) {
			return fmt.Errorf("%s is a public suffix: subdomain matching refused", in.Value)
		}
	case MatchPrefix:
		if in.Kind != KindURL {
			return fmt.Errorf("match %s needs kind url", in.Match)
		}
	case MatchContains:
		if in.Kind != KindUserAgent {
			return fmt.Errorf("match %s is supported for user_agent only", in.Match)
		}
	default:
		return fmt.Errorf("unknown match mode %q", in.Match)
	}
	return nil
}

// Add: see Index.Add.
func (tx *Tx) Add(feed string, inds []Indicator) error {
	w := &tx.ix.w
	// the newest version of each object in this batch
	newest := map[objKey]time.Time{}
	for i := range inds {
		for _, s := range inds[i].Sources {
			if s.ID == "" {
				continue
			}
			k := objKey{feed, s.ID}
			if t, ok := newest[k]; !ok || s.Modified.After(t) {
				newest[k] = s.Modified
			}
		}
	}
	skip := map[objKey]bool{}
	for k, t := range newest {
		st := w.objects[k]
		if st == nil {
			continue
		}
		if st.modified.After(t) {
			skip[k] = true // older than what we have
			continue
		}
		for _, ek := range slices.Clone(st.keys) {
			tx.removeRecords(ek, feed, k.id, false)
		}
		delete(w.objects, k)
	}
	var errs []error
	for i := range inds {
		in := inds[i]
		if err := validate(&in); err != nil {
			if len(errs) < 100 {
				errs = append(errs, fmt.Errorf("%s %q: %w", inds[i].Kind, clip(inds[i].Value), err))
			}
			continue
		}
		k := keyOf(&in)
		for _, s := range in.Sources {
			s.Feed = feed
			if s.ID != "" {
				ok := objKey{feed, s.ID}
				if skip[ok] || s.Modified.Before(newest[ok]) {
					continue
				}
				st := w.objects[ok]
				if st == nil {
					st = &objState{modified: s.Modified}
					w.objects[ok] = st
				}
				if !slices.Contains(st.keys, k) {
					st.keys = append(st.keys, k)
				}
			}
			e := tx.mutable(k)
			s.Labels = slices.Clone(s.Labels)
			if j := slices.IndexFunc(e.Sources, func(x Source) bool { return x.Feed == feed && x.ID == s.ID }); j >= 0 {
				e.Sources[j] = s
			} else {
				e.Sources = append(e.Sources, s)
			}
			fk := w.feeds[feed]
			if fk == nil {
				fk = map[entryKey]struct{}{}
				w.feeds[feed] = fk
			}
			fk[k] = struct{}{}
		}
	}
	return errors.Join(errs...)
}

// Remove: see Index.Remove.
func (tx *Tx) Remove(feed string, inds []Indicator) {
	for i := range inds {
		in := inds[i]
		if validate(&in) != nil {
			continue
		}
		tx.removeRecords(keyOf(&in), feed, "", true)
	}
}

// RemoveFeed: see Index.RemoveFeed.
func (tx *Tx) RemoveFeed(feed string) {
	for k := range maps.Clone(tx.ix.w.feeds[feed]) {
		tx.removeRecords(k, feed, "", true)
	}
}

// Replace: see Index.Replace.
func (tx *Tx) Replace(feed string, inds []Indicator) error {
	tx.RemoveFeed(feed)
	return tx.Add(feed, inds)
}

// RemoveEvent: see Index.RemoveEvent.
func (tx *Tx) RemoveEvent(feed, event string) {
	w := &tx.ix.w
	for k := range maps.Clone(w.feeds[feed]) {
		e := w.entries[k]
		if e == nil {
			continue
		}
		for _, s := range slices.Clone(e.Sources) {
			if s.Feed == feed && s.Event == event {
				tx.removeRecords(k, feed, s.ID, false)
				if s.ID != "" {
					tx.forgetObjectKey(objKey{feed, s.ID}, k)
				}
			}
		}
	}
}

// commit publishes the transaction: the touched structures are copied,
// changed and swapped in with the rest of the old snapshot.
func (ix *Index) commit(tx *Tx) {
	if len(tx.dirty) == 0 {
		return
	}
	ix.gen++
	gen := ix.gen
	old := ix.snap.Load()
	ns := *old
	cloned := map[string]bool{}
	own := func(name string, clone func()) {
		if !cloned[name] {
			cloned[name] = true
			clone()
		}
	}
	ns.counts = maps.Clone(old.counts)
	for k, e := range tx.dirty {
		if e != nil && len(e.Sources) == 0 {
			e = nil
		}
		if e == nil {
			delete(ix.w.entries, k)
		}
		prevExists := old.has(k)
		switch {
		case prevExists && e == nil:
			ns.counts[k.kind]--
			ns.n--
		case !prevExists && e != nil:
			ns.counts[k.kind]++
			ns.n++
		}
		if ns.counts[k.kind] <= 0 {
			delete(ns.counts, k.kind)
		}
		switch k.kind {
		case KindIPv4, KindIPv6:
			a, err := netip.ParseAddr(k.value)
			if err != nil {
				continue
			}
			own("ips", func() { ns.ips = maps.Clone(old.ips) })
			setOrDelete(ns.ips, a, e)
		case KindCIDR4, KindCIDR6:
			p, err := netip.ParsePrefix(k.value)
			if err != nil {
				continue
			}
			if k.kind == KindCIDR4 {
				ns.cidr4 = trieSet(ns.cidr4, p, e, gen)
			} else {
				ns.cidr6 = trieSet(ns.cidr6, p, e, gen)
			}
		case KindDomain:
			own("domains", func() { ns.domains = maps.Clone(old.domains) })
			slot := ns.domains[k.value]
			if k.match == MatchSubdomains {
				slot.sub = e
			} else {
				slot.exact = e
			}
			if slot.exact == nil && slot.sub == nil {
				delete(ns.domains, k.value)
			} else {
				ns.domains[k.value] = slot
			}
		case KindURL:
			if k.match == MatchPrefix {
				host, _ := urlHost(k.value)
				own("urlPrefix", func() { ns.urlPrefix = maps.Clone(old.urlPrefix) })
				list := slices.DeleteFunc(slices.Clone(ns.urlPrefix[host]), func(x *Indicator) bool { return x.Value == k.value })
				if e != nil {
					list = append(list, e)
				}
				if len(list) == 0 {
					delete(ns.urlPrefix, host)
				} else {
					ns.urlPrefix[host] = list
				}
				continue
			}
			own("urls", func() { ns.urls = maps.Clone(old.urls) })
			setOrDelete(ns.urls, k.value, e)
		case KindMD5:
			var h [16]byte
			if decodeHex(h[:], k.value) {
				own("md5", func() { ns.md5 = maps.Clone(old.md5) })
				setOrDelete(ns.md5, h, e)
			}
		case KindSHA1:
			var h [20]byte
			if decodeHex(h[:], k.value) {
				own("sha1", func() { ns.sha1 = maps.Clone(old.sha1) })
				setOrDelete(ns.sha1, h, e)
			}
		case KindSHA256:
			var h [32]byte
			if decodeHex(h[:], k.value) {
				own("sha256", func() { ns.sha256 = maps.Clone(old.sha256) })
				setOrDelete(ns.sha256, h, e)
			}
		case KindSHA512:
			var h [64]byte
			if decodeHex(h[:], k.value) {
				own("sha512", func() { ns.sha512 = maps.Clone(old.sha512) })
				setOrDelete(ns.sha512, h, e)
			}
		case KindPattern:
			own("patterns", func() { ns.patterns = maps.Clone(old.patterns) })
			setOrDelete(ns.patterns, k.value, e)
		default:
			i := strSlot(k.kind)
			if i < 0 {
				continue
			}
			if k.match == MatchContains {
				own("uaContain", func() { ns.uaContain = slices.Clone(old.uaContain) })
				ns.uaContain = slices.DeleteFunc(ns.uaContain, func(x *Indicator) bool { return x.Value == k.value })
				if e != nil {
					ns.uaContain = append(ns.uaContain, e)
				}
				continue
			}
			own(string(k.kind), func() { ns.strs[i] = maps.Clone(old.strs[i]) })
			setOrDelete(ns.strs[i], k.value, e)
		}
	}
	ns.fields = fieldsFor(ns.counts)
	ix.snap.Store(&ns)
}

func setOrDelete[K comparable](m map[K]*Indicator, k K, e *Indicator) {
	if e == nil {
		delete(m, k)
	} else {
		m[k] = e
	}
}

// has reports whether the snapshot holds the entry k.
func (s *snapshot) has(k entryKey) bool {
	return s.get(k) != nil
}

// get returns the entry k from the snapshot.
func (s *snapshot) get(k entryKey) *Indicator {
	switch {
	case k.match == MatchExact:
	case k.match == MatchSubdomains && k.kind == KindDomain:
	case k.match == MatchPrefix && k.kind == KindURL:
	case k.match == MatchContains && k.kind == KindUserAgent:
	default:
		return nil
	}
	switch k.kind {
	case KindIPv4, KindIPv6:
		if a, err := netip.ParseAddr(k.value); err == nil {
			return s.ips[a]
		}
	case KindCIDR4, KindCIDR6:
		p, err := netip.ParsePrefix(k.value)
		if err != nil {
			return nil
		}
		root := s.cidr4
		if k.kind == KindCIDR6 {
			root = s.cidr6
		}
		var found *Indicator
		trieWalk(root, p.Addr(), func(e *Indicator) bool {
			if e.Value == k.value {
				found = e
				return false
			}
			return true
		})
		return found
	case KindDomain:
		slot := s.domains[k.value]
		if k.match == MatchSubdomains {
			return slot.sub
		}
		return slot.exact
	case KindURL:
		if k.match == MatchPrefix {
			host, _ := urlHost(k.value)
			for _, e := range s.urlPrefix[host] {
				if e.Value == k.value {
					return e
				}
			}
			return nil
		}
		return s.urls[k.value]
	case KindMD5:
		var h [16]byte
		if decodeHex(h[:], k.value) {
			return s.md5[h]
		}
	case KindSHA1:
		var h [20]byte
		if decodeHex(h[:], k.value) {
			return s.sha1[h]
		}
	case KindSHA256:
		var h [32]byte
		if decodeHex(h[:], k.value) {
			return s.sha256[h]
		}
	case KindSHA512:
		var h [64]byte
		if decodeHex(h[:], k.value) {
			return s.sha512[h]
		}
	case KindPattern:
		return s.patterns[k.value]
	default:
		if k.match == MatchContains {
			for _, e := range s.uaContain {
				if e.Value == k.value {
					return e
				}
			}
			return nil
		}
		if i := strSlot(k.kind); i >= 0 {
			return s.strs[i][k.value]
		}
	}
	return nil
}

// Lookup returns the entries for a value of kind (every match mode), in
// whatever state, for enrichment ("seen in feed X, expired 3 days ago").
// The results are copies.
func (ix *Index) Lookup(kind Kind, value string) []Indicator {
	k, v, err := Normalize(kind, value)
	if err != nil {
		if kind != KindPattern {
			return nil
		}
		k, v = kind, value
	}
	s := ix.snap.Load()
	var out []Indicator
	for _, m := range []MatchMode{MatchExact, MatchSubdomains, MatchPrefix, MatchContains} {
		if e := s.get(entryKey{k, m, v}); e != nil {
			c := *e
			c.Sources = slices.Clone(e.Sources)
			out = append(out, c)
		}
	}
	return out
}

// Indicators returns a copy of every entry (for export and tests), sorted
// by kind, match and value.
func (ix *Index) Indicators() []Indicator {
	ix.mu.Lock()
	out := make([]Indicator, 0, len(ix.w.entries))
	for _, e := range ix.w.entries {
		c := *e
		c.Sources = slices.Clone(e.Sources)
		out = append(out, c)
	}
	ix.mu.Unlock()
	slices.SortFunc(out, func(a, b Indicator) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}
