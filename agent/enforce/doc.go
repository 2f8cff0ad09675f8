// Package enforce is what the Riposte host agent runs to keep its nftables
// firewall (package agent/firewall) equal to the decisions it holds, across
// agent restarts and ruleset flushes (spec: /work/shared/specs/openc2.md,
// "Enforcement drift": the host's firewall always equals the active
// decisions).
//
// An Enforcer persists its decisions in a JSON state file written atomically
// (temp file, fsync, rename, fsync of the directory). Upsert and Revert
// persist first, then apply the whole active set in one atomic batch.
// Upsert merges re-bans: a held decision with the same ID or the same
// (action, direction, net, proto, port) is replaced, keeping the later
// expiry (zero = never).
//
// Reconcile drops expired decisions from the state file, reads the kernel
// back (firewall.State) and re-applies when it differs from the active set.
// Equality is on the set of (action, direction, net, proto, port); expiries
// match when both are zero or within a tolerance (DefaultTolerance), since
// the kernel counts element timeouts down. Decisions within the tolerance of
// expiring may be present or absent on either side. An expiry read back is
// known only to within the duration of the read (firewall.State converts
// remaining timeouts with the time it starts reading), so the kernel is in
// sync only if every expiry the read allows is within the tolerance; Drift
// lists differences by the same rule.
//
// The decision clock may be injected (Open's now). Expiries are translated
// to the real clock when applied and back when read, with the offset between
// the two clocks read at that moment (not from a decision time read before a
// state-file write or a kernel read), so a clock jump shows up as drift and
// is repaired.
package enforce
