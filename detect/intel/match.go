package intel

import (
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/event"
)

// obsKind says how an event field is read.
type obsKind uint8

const (
	obsIP       obsKind = iota
	obsDomain           // a host name
	obsURL              // an absolute URL (its host is looked up too)
	obsHash             // one hash, algorithm by length
	obsHashList         // Sysmon "SHA1=…,MD5=…,SHA256=…,IMPHASH=…"
	obsEmail
	obsUA
	obsJA3
	obsRegKey
	obsFilename // a file name or path (its base name is looked up)
	obsASN
)

// fieldSpec is one event field the matcher reads.
type fieldSpec struct {
	name string
	obs  obsKind
}

// MatchedFields returns the event fields Match reads, in the order they are
// read (an entry found in two fields is reported for the first), with the
// observable each holds.
func MatchedFields() [][2]string {
	names := [...]string{"ip", "domain", "url", "hash", "hashes", "email", "user_agent", "ja3", "regkey", "filename", "asn"}
	out := make([][2]string, len(matchFields))
	for i, f := range matchFields {
		out[i] = [2]string{f.name, names[f.obs]}
	}
	return out
}

// matchFields lists the event fields the matcher reads (spec §7.2). ECS
// names come first; the Windows/Sysmon names cover events whose
// normalization did not add the ECS twin.
var matchFields = []fieldSpec{
	{"destination.ip", obsIP},
	{"source.ip", obsIP},
	{"client.ip", obsIP},
	{"server.ip", obsIP},
	{"host.ip", obsIP},
	{"related.ip", obsIP},
	{"DestinationIp", obsIP},
	{"SourceIp", obsIP},
	{"IpAddress", obsIP},
	{"SourceAddress", obsIP},
	{"DestAddress", obsIP},

	{"dns.question.name", obsDomain},
	{"url.domain", obsDomain},
	{"destination.domain", obsDomain},
	{"server.domain", obsDomain},
	{"tls.client.server_name", obsDomain},
	{"QueryName", obsDomain},
	{"DestinationHostname", obsDomain},

	{"url.full", obsURL},
	{"url.original", obsURL},

	{"file.hash.md5", obsHash},
	{"file.hash.sha1", obsHash},
	{"file.hash.sha256", obsHash},
	{"file.hash.sha512", obsHash},
	{"process.hash.md5", obsHash},
	{"process.hash.sha1", obsHash},
	{"process.hash.sha256", obsHash},
	{"process.hash.sha512", obsHash},
	{"process.parent.hash.md5", obsHash},
	{"process.parent.hash.sha1", obsHash},
	{"process.parent.hash.sha256", obsHash},
	{"process.parent.hash.sha512", obsHash},
	{"dll.hash.md5", obsHash},
	{"dll.hash.sha1", obsHash},
	{"dll.hash.sha256", obsHash},
	{"dll.hash.sha512", obsHash},
	{"related.hash", obsHash},
	{"tls.server.hash.md5", obsHash},
	{"tls.server.hash.sha1", obsHash},
	{"tls.server.hash.sha256", obsHash},
	{"Hashes", obsHashList},
	{"Hash", obsHashList},

	{"email.from.address", obsEmail},
	{"email.sender.address", obsEmail},
	{"email.reply_to.address", obsEmail},
	{"email.to.address", obsEmail},
	{"email.cc.address", obsEmail},
	{"email.bcc.address", obsEmail},

	{"user_agent.original", obsUA},
	{"tls.client.ja3", obsJA3},
	{"registry.path", obsRegKey},
	{"TargetObject", obsRegKey},

	{"file.name", obsFilename},
	{"file.path", obsFilename},
	{"TargetFilename", obsFilename},
	{"ImageLoaded", obsFilename},
	{"dll.path", obsFilename},

	{"destination.as.number", obsASN},
	{"source.as.number", obsASN},
	{"client.as.number", obsASN},
	{"server.as.number", obsASN},
}

// fieldsFor keeps the fields that can hit one of the kinds present.
func fieldsFor(counts map[Kind]int) []fieldSpec {
	has := func(ks ...Kind) bool {
		for _, k := range ks {
			if counts[k] > 0 {
				return true
			}
		}
		return false
	}
	var out []fieldSpec
	for _, f := range matchFields {
		var ok bool
		switch f.obs {
		case obsIP:
			ok = has(KindIPv4, KindIPv6, KindCIDR4, KindCIDR6)
		case obsDomain:
			ok = has(KindDomain)
		case obsURL:
			ok = has(KindURL, KindDomain, KindIPv4, KindIPv6, KindCIDR4, KindCIDR6)
		case obsHash, obsHashList:
			ok = has(KindMD5, KindSHA1, KindSHA256, KindSHA512)
		case obsEmail:
			ok = has(KindEmail)
		case obsUA:
			ok = has(KindUserAgent)
		case obsJA3:
			ok = has(KindJA3)
		case obsRegKey:
			ok = has(KindRegKey)
		case obsFilename:
			ok = has(KindFilename)
		case obsASN:
			ok = has(KindASN)
		}
		if ok {
			out = append(out, f)
		}
	}
	return out
}

// Hit is one indicator found in one event.
type Hit struct {
	// Field is the event field that matched; Observed is its value as
	// normalized (for a URL's host, the host).
	Field    string
	Observed string
	// Indicator is the entry that matched, with only the records that
	// detect now in Sources.
	Indicator Indicator
	// Context holds the entry's other records: expired, revoked, inactive
	// or below the confidence threshold. They enrich, never alert.
	Context []Source
	// Covering lists, for an address, the less specific entries (CIDRs)
	// that contain it and also detect.
	Covering []Indicator
}

// Confidence is the highest confidence among the detecting records.
func (h *Hit) Confidence() int { return h.Indicator.Confidence() }

// TLP is the most restrictive TLP among the detecting records.
func (h *Hit) TLP() TLP { return h.Indicator.TLP() }

// matcher is the per-call state of Match; it lives on the stack.
type matcher struct {
	s       *snapshot
	now     time.Time
	minConf int
	hit     func(Hit)
	rep     [8]*Indicator
	nrep    int
	more    []*Indicator
	buf     [512]byte
}

// Match reads the event's observables (MatchedFields) and calls hit for
// every entry that detects at now: active, not revoked, valid, confident
// enough. Each entry is reported once per event. Match allocates nothing
// when nothing matches (URLs longer than 512 bytes excepted).
func (ix *Index) Match(ev *event.Event, now time.Time, hit func(Hit)) {
	s := ix.snap.Load()
	if s.n == 0 || ev == nil || len(ev.Fields) == 0 {
		return
	}
	m := matcher{s: s, now: now, minConf: int(ix.minConf.Load()), hit: hit}
	for i := range s.fields {
		f := &s.fields[i]
		v, ok := ev.Fields[f.name]
		if !ok {
			continue
		}
		switch x := v.(type) {
		case string:
			m.observe(f, x)
		case []any:
			for j, e := range x {
				if j >= 64 {
					break
				}
				m.observeAny(f, e)
			}
		default:
			m.observeAny(f, x)
		}
	}
}

func (m *matcher) observeAny(f *fieldSpec, v any) {
	switch x := v.(type) {
	case string:
		m.observe(f, x)
	case int64:
		if f.obs == obsASN && x > 0 {
			m.asn(f, strconv.AppendInt(m.buf[:0], x, 10))
		}
	case float64:
		if f.obs == obsASN && x > 0 && x < 1<<32 && x == math.Trunc(x) {
			m.asn(f, strconv.AppendInt(m.buf[:0], int64(x), 10))
		}
	}
}

func (m *matcher) observe(f *fieldSpec, v string) {
	if v == "" || v == "-" {
		return
	}
	s := m.s
	switch f.obs {
	case obsIP:
		if a, ok := parseObservedIP(v); ok {
			m.ip(f, a)
		}
	case obsDomain:
		if looksLikeIP(v) {
			if a, ok := parseObservedIP(v); ok {
				m.ip(f, a)
			}
		} else if b, ok := appendDomain(m.buf[:0], v); ok {
			m.domain(f, b)
		}
	case obsURL:
		b, hs, he, ok := appendURL(m.buf[:0], v)
		if !ok {
			return
		}
		if e := s.urls[string(b)]; e != nil && m.detects(e) {
			m.report(e, f, b)
		}
		if len(s.urlPrefix) > 0 {
			for _, e := range s.urlPrefix[string(b[hs:he])] {
				if strings.HasPrefix(string(b), e.Value) && m.detects(e) {
					m.report(e, f, b)
				}
			}
		}
		host := b[hs:he]
		if (hs > 0 && b[hs-1] == '[') || looksLikeIP(string(host)) {
			// the conversion allocates; only for address hosts
			if a, err := netip.ParseAddr(string(host)); err == nil {
				m.ip(f, a.Unmap())
				return
			}
		}
		m.domain(f, host)
	case obsHash:
		m.hash(f, strings.TrimSpace(v))
	case obsHashList:
		if !strings.Contains(v, "=") {
			m.hash(f, strings.TrimSpace(v))
			return
		}
		for rest := v; rest != ""; {
			var part string
			part, rest, _ = strings.Cut(rest, ",")
			alg, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || strings.EqualFold(alg, "IMPHASH") {
				continue
			}
			m.hash(f, strings.TrimSpace(val))
		}
	case obsEmail:
		if b, ok := appendEmail(m.buf[:0], v); ok {
			m.str(f, strEmail, b)
		}
	case obsUA:
		b := appendFold(m.buf[:0], v)
		m.str(f, strUA, b)
		for _, e := range s.uaContain {
			if strings.Contains(string(b), e.Value) && m.detects(e) {
				m.report(e, f, b)
			}
		}
	case obsJA3:
		if b, ok := appendHash(m.buf[:0], v, 16); ok {
			m.str(f, strJA3, b)
		}
	case obsRegKey:
		b := appendRegKey(m.buf[:0], v)
		m.str(f, strRegKey, b)
		// a key indicator also matches the values below it
		if i := lastByte(b, '\\'); i > 0 {
			m.str(f, strRegKey, b[:i])
		}
	case obsFilename:
		m.str(f, strFilename, appendFold(m.buf[:0], basename(v)))
	case obsASN:
		if b, ok := appendASN(m.buf[:0], v); ok {
			m.asn(f, b)
		}
	}
}

// looksLikeIP is a cheap test that spares ParseAddr (whose errors
// allocate) the host names: an IPv4 dotted quad or anything with a colon.
func looksLikeIP(s string) bool {
	if strings.IndexByte(s, ':') >= 0 {
		return true
	}
	if s == "" || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

func lastByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func (m *matcher) detects(e *Indicator) bool { return e.DetectsAt(m.now, m.minConf) }

func (m *matcher) str(f *fieldSpec, slot int, b []byte) {
	if len(b) == 0 {
		return
	}
	if e := m.s.strs[slot][string(b)]; e != nil && m.detects(e) {
		m.report(e, f, b)
	}
}

func (m *matcher) asn(f *fieldSpec, b []byte) { m.str(f, strASN, b) }

// ip looks an address up: the exact entry if it detects, else the longest
// detecting prefix.
func (m *matcher) ip(f *fieldSpec, a netip.Addr) {
	s := m.s
	var best *Indicator
	if e := s.ips[a]; e != nil && m.detects(e) {
		best = e
	}
	root := s.cidr6
	if a.Is4() {
		root = s.cidr4
	}
	if best == nil && root != nil {
		best = trieLongest(root, a, m.now, m.minConf)
	}
	if best == nil || m.seen(best) {
		return
	}
	h := m.newHit(best, f, a.String())
	trieWalk(root, a, func(e *Indicator) bool {
		if e != best && m.detects(e) {
			h.Covering = append(h.Covering, m.detecting(e))
			m.mark(e)
		}
		return true
	})
	slices.Reverse(h.Covering) // most specific first
	m.hit(h)
}

// domain looks up a normalized name and, for subdomain entries, each
// parent down to two labels.
func (m *matcher) domain(f *fieldSpec, b []byte) {
	s := m.s
	if len(b) == 0 {
		return
	}
	if slot, ok := s.domains[string(b)]; ok {
		if slot.exact != nil && m.detects(slot.exact) {
			m.report(slot.exact, f, b)
		}
		if slot.sub != nil && m.detects(slot.sub) {
			m.report(slot.sub, f, b)
		}
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '.' {
			continue
		}
		parent := b[i+1:]
		if indexByte(parent, '.') < 0 {
			break // never a single label
		}
		if slot, ok := s.domains[string(parent)]; ok && slot.sub != nil && m.detects(slot.sub) {
			m.report(slot.sub, f, b)
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func (m *matcher) hash(f *fieldSpec, v string) {
	s := m.s
	var e *Indicator
	switch len(v) {
	case 32:
		var h [16]byte
		if decodeHex(h[:], v) {
			e = s.md5[h]
		}
	case 40:
		var h [20]byte
		if decodeHex(h[:], v) {
			e = s.sha1[h]
		}
	case 64:
		var h [32]byte
		if decodeHex(h[:], v) {
			e = s.sha256[h]
		}
	case 128:
		var h [64]byte
		if decodeHex(h[:], v) {
			e = s.sha512[h]
		}
	}
	if e != nil && m.detects(e) {
		m.report(e, f, []byte(e.Value))
	}
}

func (m *matcher) seen(e *Indicator) bool {
	for i := 0; i < m.nrep; i++ {
		if m.rep[i] == e {
			return true
		}
	}
	return slices.Contains(m.more, e)
}

func (m *matcher) mark(e *Indicator) {
	if m.nrep < len(m.rep) {
		m.rep[m.nrep] = e
		m.nrep++
		return
	}
	m.more = append(m.more, e)
}

func (m *matcher) report(e *Indicator, f *fieldSpec, observed []byte) {
	if m.seen(e) {
		return
	}
	m.hit(m.newHit(e, f, string(observed)))
}

func (m *matcher) newHit(e *Indicator, f *fieldSpec, observed string) Hit {
	m.mark(e)
	h := Hit{Field: f.name, Observed: observed, Indicator: m.detecting(e)}
	for _, s := range e.Sources {
		if !s.Detects(m.now, m.minConf) {
			h.Context = append(h.Context, s)
		}
	}
	return h
}

// detecting returns a copy of e with the records that detect now.
func (m *matcher) detecting(e *Indicator) Indicator {
	c := Indicator{Kind: e.Kind, Value: e.Value, Match: e.Match}
	for _, s := range e.Sources {
		if s.Detects(m.now, m.minConf) {
			c.Sources = append(c.Sources, s)
		}
	}
	return c
}
