package intel

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is what an indicator value is (spec §1).
type Kind string

// The indicator kinds.
const (
	KindIPv4      Kind = "ipv4"
	KindIPv6      Kind = "ipv6"
	KindCIDR4     Kind = "cidr4"
	KindCIDR6     Kind = "cidr6"
	KindDomain    Kind = "domain"
	KindURL       Kind = "url"
	KindEmail     Kind = "email"
	KindMD5       Kind = "md5"
	KindSHA1      Kind = "sha1"
	KindSHA256    Kind = "sha256"
	KindSHA512    Kind = "sha512"
	KindFilename  Kind = "filename"
	KindJA3       Kind = "ja3"
	KindUserAgent Kind = "user_agent"
	KindMutex     Kind = "mutex"
	KindRegKey    Kind = "regkey"
	KindASN       Kind = "asn"
	// KindPattern is a STIX (or other) pattern that is not a plain lookup:
	// it is kept as context and never matched by the index.
	KindPattern Kind = "pattern"
)

// Kinds lists every kind, for configuration validation.
var Kinds = []Kind{KindIPv4, KindIPv6, KindCIDR4, KindCIDR6, KindDomain, KindURL,
	KindEmail, KindMD5, KindSHA1, KindSHA256, KindSHA512, KindFilename, KindJA3,
	KindUserAgent, KindMutex, KindRegKey, KindASN, KindPattern}

// ParseKind returns the Kind named s ("auto" and "" give "", which means
// detect per value).
func ParseKind(s string) (Kind, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "", "auto":
		return "", nil
	case "ip":
		return KindIPv4, nil // refined per value by Normalize
	case "cidr":
		return KindCIDR4, nil
	case "hash":
		return "", fmt.Errorf("kind %q is ambiguous: name the algorithm (md5, sha1, sha256, sha512)", s)
	}
	if slices.Contains(Kinds, Kind(s)) {
		return Kind(s), nil
	}
	return "", fmt.Errorf("unknown indicator kind %q", s)
}

// isIPKind reports whether k is one of the address kinds, which Normalize
// refines to the family and prefix length of the value.
func isIPKind(k Kind) bool {
	return k == KindIPv4 || k == KindIPv6 || k == KindCIDR4 || k == KindCIDR6
}

// isHashKind reports whether k is a file hash kind.
func isHashKind(k Kind) bool {
	return k == KindMD5 || k == KindSHA1 || k == KindSHA256 || k == KindSHA512
}

// MatchMode says how an indicator value is compared with observables.
type MatchMode string

// The match modes.
const (
	MatchExact MatchMode = "exact"
	// MatchSubdomains matches a domain and every name below it.
	MatchSubdomains MatchMode = "subdomains"
	// MatchPrefix matches a URL and every URL that starts with it.
	MatchPrefix MatchMode = "prefix"
	// MatchContains matches user agents and URLs that contain the value.
	MatchContains MatchMode = "contains"
)

// TLP is a Traffic Light Protocol level (TLP 2.0 names; TLP 1.0 WHITE is
// CLEAR). The empty TLP means the source gave none.
type TLP string

// The TLP levels, least restrictive first.
const (
	TLPClear       TLP = "clear"
	TLPGreen       TLP = "green"
	TLPAmber       TLP = "amber"
	TLPAmberStrict TLP = "amber+strict"
	TLPRed         TLP = "red"
)

// rank orders TLP levels by restriction; unknown non-empty values rank as
// AMBER (spec §2.1: an unknown marking is treated as AMBER).
func (t TLP) rank() int {
	switch t {
	case "":
		return 0
	case TLPClear:
		return 1
	case TLPGreen:
		return 2
	case TLPAmber:
		return 3
	case TLPAmberStrict:
		return 4
	case TLPRed:
		return 5
	}
	return 3
}

// MoreRestrictive returns the more restrictive of t and u.
func (t TLP) MoreRestrictive(u TLP) TLP {
	if u.rank() > t.rank() {
		return u
	}
	return t
}

// ParseTLP reads "TLP:AMBER", "tlp:amber+strict", "white", "clear", ...
// ok is false for a string that is not a TLP level.
func ParseTLP(s string) (TLP, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "tlp:")
	s = strings.Trim(s, "\" ")
	switch s {
	case "white", "clear":
		return TLPClear, true
	case "green":
		return TLPGreen, true
	case "amber":
		return TLPAmber, true
	case "amber+strict", "amber-strict", "amber_strict":
		return TLPAmberStrict, true
	case "red":
		return TLPRed, true
	}
	return "", false
}

// Default TTLs when the source gives no end of validity (spec §5.3).
const (
	TTLAddress = 30 * 24 * time.Hour
	TTLName    = 90 * 24 * time.Hour
	TTLHash    = 365 * 24 * time.Hour
)

// DefaultTTL returns the validity assumed for a value of kind k whose
// source gives no valid_until: IPs and CIDRs 30 days, domains and URLs 90
// days, hashes 365 days, everything else 90 days.
func DefaultTTL(k Kind) time.Duration {
	switch {
	case isIPKind(k), k == KindASN:
		return TTLAddress
	case isHashKind(k), k == KindJA3:
		return TTLHash
	}
	return TTLName
}

// DefaultConfidence is used when a source states none (STIX without
// confidence, CSV feeds without a configured default).
const DefaultConfidence = 50

// Source is one provenance record: one source's assertion of an indicator
// and everything that decides whether that assertion is a detection.
type Source struct {
	// Feed is the configured feed id the record came from.
	Feed string `json:"feed"`
	// ID is the source object: a STIX indicator id, a MISP attribute uuid;
	// empty for list feeds, where the value itself is the identity.
	ID string `json:"id,omitempty"`
	// Event is the MISP event uuid (or STIX bundle id) that carried ID.
	Event string `json:"event,omitempty"`
	// Name is a human title: STIX name, MISP event info.
	Name string `json:"name,omitempty"`
	// Modified is the object's version (STIX modified, MISP timestamp);
	// an older version of the same (Feed, ID) never replaces a newer one.
	Modified time.Time `json:"modified,omitzero"`
	// Ref says where in the input the record was read ("line 12",
	// "objects[3]").
	Ref        string `json:"ref,omitempty"`
	Confidence int    `json:"confidence"`
	TLP        TLP    `json:"tlp,omitempty"`
	// ValidFrom and ValidUntil bound the activity window; a zero ValidFrom
	// has no lower bound. Importers fill ValidUntil from the default TTL
	// when the source gives none, so a zero ValidUntil means "forever" only
	// for indicators built by hand.
	ValidFrom  time.Time `json:"valid_from,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// Revoked records are withdrawn by their producer.
	Revoked bool `json:"revoked,omitempty"`
	// Active is false for context-only records (MISP to_ids false,
	// allowlisted values, unsupported patterns): they enrich but never
	// alert.
	Active bool     `json:"active"`
	Labels []string `json:"labels,omitempty"`
	// Context holds extra facts that are not matched: port, filename of a
	// filename|hash pair, pattern_type, why a record is inactive, ...
	Context map[string]string `json:"context,omitempty"`
}

// Detects reports whether the record is a detection at now with the given
// minimum confidence: active, not revoked, inside its validity window.
func (s *Source) Detects(now time.Time, minConfidence int) bool {
	if !s.Active || s.Revoked || s.Confidence < minConfidence {
		return false
	}
	if !s.ValidFrom.IsZero() && now.Before(s.ValidFrom) {
		return false
	}
	if !s.ValidUntil.IsZero() && !now.Before(s.ValidUntil) {
		return false
	}
	return true
}

// String identifies the record for alerts: "feed:id" or the feed alone.
func (s *Source) String() string {
	if s.ID == "" {
		return s.Feed
	}
	return s.Feed + ":" + s.ID
}

// Indicator is one (kind, value, match) entry and the provenance records
// that assert it. Importers return one Source per Indicator; the Index
// merges every feed's records for the same entry.
type Indicator struct {
	Kind Kind `json:"kind"`
	// Value is normalized (spec §7.1); for KindPattern it is the pattern.
	Value   string    `json:"value"`
	Match   MatchMode `json:"match"`
	Sources []Source  `json:"sources"`
}

// NewIndicator normalizes value as kind (kind "" detects it) and returns
// an exact-match indicator asserted by src. A wildcard domain "*.x.org"
// becomes x.org matched with subdomains.
func NewIndicator(kind Kind, value string, src Source) (Indicator, error) {
	mode := MatchExact
	if (kind == KindDomain || kind == "") && strings.HasPrefix(strings.TrimSpace(value), "*.") {
		value = strings.TrimSpace(value)[2:]
		kind, mode = KindDomain, MatchSubdomains
	}
	var (
		k   Kind
		v   string
		err error
	)
	if kind == "" {
		k, v, err = Detect(value)
	} else {
		k, v, err = Normalize(kind, value)
	}
	if err != nil {
		return Indicator{}, err
	}
	return Indicator{Kind: k, Value: v, Match: mode, Sources: []Source{src}}, nil
}

// Key identifies the entry: kind, match mode and value.
func (in *Indicator) Key() string {
	return string(in.Kind) + ":" + string(in.Match) + ":" + in.Value
}

// DetectsAt reports whether any record detects at now.
func (in *Indicator) DetectsAt(now time.Time, minConfidence int) bool {
	for i := range in.Sources {
		if in.Sources[i].Detects(now, minConfidence) {
			return true
		}
	}
	return false
}

// Confidence is the highest confidence among the records.
func (in *Indicator) Confidence() int {
	c := 0
	for i, s := range in.Sources {
		if i == 0 || s.Confidence > c {
			c = s.Confidence
		}
	}
	return c
}

// TLP is the most restrictive TLP among the records.
func (in *Indicator) TLP() TLP {
	var t TLP
	for _, s := range in.Sources {
		t = t.MoreRestrictive(s.TLP)
	}
	return t
}

// Labels is the sorted union of the records' labels.
func (in *Indicator) Labels() []string {
	var out []string
	for _, s := range in.Sources {
		out = append(out, s.Labels...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Severity says whether a Problem stopped a value from being imported.
type Severity string

// The problem severities.
const (
	SeverityError   Severity = "error"   // the object or line was skipped or kept as context only
	SeverityWarning Severity = "warning" // imported, with a caveat
)

// Problem is one import error or warning, located precisely.
type Problem struct {
	Feed     string   `json:"feed,omitempty"`
	Severity Severity `json:"severity"`
	// Where locates the input: "line 12", "objects[3] indicator--…",
	// "event <uuid> attribute <uuid>", "page 2".
	Where string `json:"where"`
	// Line is the 1-based line for line-oriented inputs, else 0.
	Line int    `json:"line,omitempty"`
	Msg  string `json:"msg"`
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.Feed != "" {
		b.WriteString(p.Feed)
		b.WriteString(": ")
	}
	if p.Where != "" {
		b.WriteString(p.Where)
		b.WriteString(": ")
	}
	if p.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// MaxProblems bounds the problems one import keeps; the rest are counted
// in Result.MoreProblems so hostile input cannot exhaust memory.
const MaxProblems = 1000

// Result is what an importer read.
type Result struct {
	Indicators []Indicator `json:"indicators"`
	Problems   []Problem   `json:"problems,omitempty"`
	// MoreProblems counts problems beyond MaxProblems.
	MoreProblems int `json:"more_problems,omitempty"`
	// Items counts what was examined (STIX objects, MISP attributes, data
	// lines), the base of a feed's error rate.
	Items int `json:"items"`
	// Errors and Warnings count every problem, kept or not.
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	// Skipped counts input items that carry no indicator by design (MISP
	// text/comment/link attributes, STIX objects other than indicators),
	// by type, so nothing disappears unaccounted.
	Skipped map[string]int `json:"skipped,omitempty"`
}

func (r *Result) problem(p Problem) {
	if p.Severity == SeverityWarning {
		r.Warnings++
	} else {
		p.Severity = SeverityError
		r.Errors++
	}
	if len(r.Problems) >= MaxProblems {
		r.MoreProblems++
		return
	}
	r.Problems = append(r.Problems, p)
}

func (r *Result) skip(what string) {
	if r.Skipped == nil {
		r.Skipped = map[string]int{}
	}
	if len(r.Skipped) < 256 || r.Skipped[what] > 0 {
		r.Skipped[what]++
	} else {
		r.Skipped["other"]++
	}
}

// Options are the per-feed import settings shared by every importer.
type Options struct {
	// Feed names the feed in every Source and Problem.
	Feed string
	// Now is the import clock, the base of default TTLs for sources that
	// give no timestamps (zero: time.Now()).
	Now time.Time
	// TTL overrides the default TTL for every kind when > 0.
	TTL time.Duration
	// Confidence is used when the source states none (0: DefaultConfidence).
	Confidence int
	// TLP is used when the source marks nothing.
	TLP TLP
	// AllowPrivate keeps private, loopback, link-local and other
	// non-routable addresses active; by default such entries are imported
	// inactive and reported (spec §7.4 allowlists).
	AllowPrivate bool
	// AllowSingleLabel accepts single-label domain names ("localhost").
	AllowSingleLabel bool
}

func (o *Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now().UTC()
	}
	return o.Now
}

func (o *Options) ttl(k Kind) time.Duration {
	if o.TTL > 0 {
		return o.TTL
	}
	return DefaultTTL(k)
}

func (o *Options) confidence() int {
	if o.Confidence > 0 {
		return min(o.Confidence, 100)
	}
	return DefaultConfidence
}

// finish applies what every importer does to a fresh indicator: default
// TTL from base, allowlists, the default TLP. It returns a problem message
// when the entry was disabled.
func (o *Options) finish(in *Indicator, base time.Time) string {
	s := &in.Sources[0]
	if s.Feed == "" {
		s.Feed = o.Feed
	}
	if s.TLP == "" {
		s.TLP = o.TLP
	}
	if s.ValidUntil.IsZero() {
		if base.IsZero() || base.Before(s.ValidFrom) {
			base = s.ValidFrom
		}
		if base.IsZero() {
			base = o.now()
		}
		s.ValidUntil = base.Add(o.ttl(in.Kind))
	}
	if isIPKind(in.Kind) && !o.AllowPrivate {
		if why := nonRoutable(in.Kind, in.Value); why != "" && s.Active {
			s.Active = false
			setContext(s, "inactive", why)
			return fmt.Sprintf("%s %s is %s: imported as context only (allowlist)", in.Kind, in.Value, why)
		}
	}
	return ""
}

func setContext(s *Source, k, v string) {
	if s.Context == nil {
		s.Context = map[string]string{}
	}
	s.Context[k] = v
}

// epoch reads Unix seconds from a decimal string.
func epoch(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// addLabel appends l unless present.
func addLabel(ls []string, l string) []string {
	l = strings.TrimSpace(l)
	if l == "" || slices.Contains(ls, l) {
		return ls
	}
	return append(ls, l)
}
