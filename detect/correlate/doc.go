// Package correlate evaluates Sigma correlation rules (Sigma 2.1
// "correlation rules", plus the v2.2 tags and the approved SEP for string
// conditions) over the stream of base-rule matches that the detect stage
// produces. The reference is shared/specs/sigma.md §10.
//
// Three steps:
//
//   - Parse validates one decoded YAML document and returns a *Rule, or
//     errors that each name the key at fault (*Error: "file:line: key: msg").
//   - Resolve checks references across a rule set (base rules by id or name,
//     other correlations), rejects cycles and ambiguous names, and orders
//     chains inner before outer.
//   - An Engine takes base-rule matches (Observe) and the passing of time
//     (Tick) and returns Hits.
//
// # Semantics
//
// Types: event_count, value_count (distinct values, or distinct tuples for
// a list of fields), temporal (distinct rules; default condition gte
// len(rules)), temporal_ordered (the longest run of rules matched in their
// listed order), value_sum and value_avg (numeric field; text that parses as
// a number counts, anything else is ignored). value_percentile is rejected
// as unsupported.
//
// Streaming choices (spec §10, each covered by testdata/cases):
//
//  1. Event time. A group's window is sliding, (t - timespan, t], evaluated
//     at each event. An event more than Options.AllowedLateness (60 s)
//     behind its group's high-water mark is dropped and counted in
//     Stats.Late; an earlier event within the lateness is inserted in order
//     and the windows it falls in are evaluated (a hit then carries the
//     window that completed). Replays of old data behave like live data.
//  2. A group fires when its condition becomes true, then its state is
//     reset: the threshold must be reached again, and events older than the
//     hit's window end are dropped as stale (Stats.Stale).
//  3. Conditions with lt, lte, eq or neq, and string conditions with not,
//     are decided when the window closes. Such a window starts at the
//     group's first event, covers [first, first + timespan), and closes once
//     the group's clock passes its end plus the allowed lateness. The clock
//     is the high-water mark plus the wall time since it was set, so windows
//     close with event time while events flow (Observe) and with wall time
//     when they stop (Tick). A group exists only once an event matched.
//  4. A match lacking any group-by field (absent or null) is ignored by that
//     correlation (Stats.MissingGroupBy). Group-by values are the string
//     forms of field values (4688 and "4688" are one group; a list is the
//     JSON array of its elements' string forms). No group-by is one group.
//  5. Chained correlations consume the inner correlation's hits as events:
//     time = the hit's window end, fields = its group values. The outer
//     correlation's group-by (through its aliases) must name fields the
//     inner one groups by; Resolve checks that.
//  6. State is keyed by (correlation key, group key) and bounded per
//     correlation (Options.MaxGroupsPerRule). Beyond the bound the group
//     with the least evidence goes: groups are ranked by the entries they
//     hold on a log scale (0, 1, 2-3, 4-7, ... 64+), least recently used
//     first among equals, so a flood of new single-event groups cannot
//     evict a group nearer its threshold. Evictions are counted
//     (Stats.Evicted) and reported by Engine.Pressure, once per correlation
//     and Options.PressureInterval, with the /24 or /64 networks the new
//     groups came from. Idle groups (clock more than timespan + lateness
//     past their high-water mark) are dropped by Tick (Stats.Expired).
//     GroupKeys gives the keys an observation touches, for routing when
//     state is partitioned across nodes.
//  7. A Hit carries the group key and values, the window bounds, the count
//     and tested value, up to K event ids (Options.MaxEventIDs, default 20:
//     the first K/2 and the last K-K/2), the first event time and the host
//     when all contributing events share one.
//  8. Filters never apply to correlation documents: this package has no
//     filter hook; the Sigma engine applies filters to base rules only.
//
// generate: false (the default) suppresses the referenced rules' own alerts;
// Engine.Suppressed answers for a base rule or a correlation (true only when
// every correlation referencing it has generate false), and Hit.Suppressed
// for a correlation's hits consumed by an outer correlation.
//
// # Persistence
//
// Engine.Checkpoint hands out the groups changed since the last committed
// checkpoint (plus the groups and correlations whose state must be deleted),
// each as a record (correlation key, definition fingerprint, group key, JSON
// state); Engine.Restore takes records back and reports stale ones (unknown
// correlation, changed definition, undecodable). Store keeps the records in
// a SQLite file of its own (store.Open with Migrations): Load at start, Save
// periodically and at shutdown. Engine.Reload swaps the rules and keeps the
// state of every correlation whose key and fingerprint are unchanged.
package correlate
