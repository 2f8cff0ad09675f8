// Package intel loads threat-intelligence indicators (STIX 2.1 bundles,
// TAXII 2.1 collections, MISP feeds and events, CSV and plain lists) into
// one indicator model and matches them against normalized events at line
// rate. It follows shared/specs/intel.md.
//
// # Model
//
// An Indicator is one (kind, match mode, normalized value) entry with a
// list of provenance records (Source): feed, source object id and version,
// confidence, TLP, validity window, revoked and active flags, labels.
// Importers return one record per indicator; the Index merges every
// feed's records for the same entry. A record detects while it is active,
// not revoked, inside [ValidFrom, ValidUntil) and at or above the index's
// minimum confidence; an entry matches while any record detects. The other
// records are reported as context with the hit.
//
// Values are normalized the same way at import and at match time (spec
// §7.1): IPs unmapped and zone-free, CIDRs masked, domains lower-case
// punycode without trailing dot, URLs with lower-case scheme and host, no
// default port or fragment and decoded unreserved escapes, hashes and
// e-mail addresses lower-case.
//
// # Importers
//
// ImportSTIX, ImportMISPEvent, ImportMISPFeed and ImportCSV never panic on
// hostile input. They return a Result with the indicators and every
// problem located precisely (object index and id, event and attribute,
// line number); their error is reserved for input that is unusable as a
// whole. STIX patterns are parsed by a hand-written parser for the 2.1
// grammar; tier-1 patterns (comparisons with = / IN / ISSUBSET on IP,
// domain, URL, hash, e-mail, file name, mutex, registry key and AS paths,
// combined with OR) become lookups, and every other pattern is kept as a
// KindPattern indicator for context, with a warning saying why.
// TAXIIClient.Poll pages through a TAXII 2.1 collection.
//
// # Index and matching
//
// Index keeps per-kind structures: a map per hash algorithm keyed by fixed
// arrays, a map of single addresses, persistent binary tries for IPv4 and
// IPv6 networks (longest prefix wins, covering prefixes are reported as
// provenance), a domain map walked from the observed name up to its
// registrable parent for subdomain entries, an exact URL map plus prefix
// entries per host, and maps of folded strings. Readers load an immutable
// snapshot through an atomic pointer; writers copy only the structures of
// the kinds a batch touches. Match reads a fixed list of ECS and
// Windows/Sysmon fields (MatchedFields) and allocates nothing when nothing
// matches. ToAlert turns a Hit into an alert.Alert.
package intel
