// Package sigma is Riposte's Sigma detection engine: it loads Sigma rules
// (specification 2.1, with the Riposte choices of shared/specs/sigma.md)
// and evaluates them directly against normalized events. It is a matcher,
// not a query converter.
//
// Loading. Parse reads one file (several YAML documents: detection rules,
// correlation documents — returned raw for package detect/correlate — and
// meta-filters); LoadPaths walks trees, applies the status policy
// (deprecated and unsupported rules are skipped) and the filters, and
// reports one LoadError per document that did not load, as
// "file:line: reason", while the others load. Everything that can be
// decided without configuration is checked at load: modifier chains,
// RE2 compilation of every regular expression, the condition grammar,
// selectors that match no identifier.
//
// Compiling. Compile turns rules into a Matcher for a Mapping: which event
// logsources a rule's logsource covers, under which event field names a
// rule field is found (Security 4688 NewProcessName for Image, ECS names
// for Sysmon names, ...), and the values of expand placeholders. A rule
// whose placeholder has no value is disabled with an error.
//
// Matching. Match is built so that a rule costs nothing for an event it
// cannot match:
//
//   - Rules are indexed by the event's logsource and EventID: an event is
//     only offered the rules written for its product/service/category
//     (and the generic ones), and of those only the ones whose EventID
//     requirement it meets.
//   - Every rule gets a set of required literals: at least one of them
//     occurs, folded, in a given field of any event the rule matches
//     (derived through the condition: the most selective operand of an
//     AND, the union over an OR). One Aho-Corasick automaton per rule
//     field scans the event's value once for all rules; keyword needles
//     are found in the raw message by a Wu-Manber skip scan. Only rules
//     with a needle found (or without needles at all) are evaluated.
//   - Values are folded (Unicode simple case folding) once at compile
//     time; event values lazily, once per event, into a reused arena.
//     The automata fold ASCII case in their byte classes, so scanning
//     needs no folded copy at all.
//   - Evaluation short-circuits, cheapest operand first; regular
//     expressions run only when the literals every match contains and a
//     minimum length are met.
//
// MatchNaive evaluates every admitted rule with no index or prefilter and
// the same semantics; tests check that the two agree.
//
// Match and MatchNaive are safe for concurrent use; a Matcher is
// immutable once built except for the per-event-kind indexes, which are
// built on first sight under a lock and published atomically. Matching an
// event that no rule matches allocates nothing.
//
// See README.md for the supported features, the mapping file format and
// measured performance.
package sigma
