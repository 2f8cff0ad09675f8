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
// expiring may be present or absent on either side.
//
// The decision clock may be injected (Open's now). Expiries are translated
// to the real clock when applied and back when read, so a clock jump shows
// up as drift and is repaired.
package enforce
