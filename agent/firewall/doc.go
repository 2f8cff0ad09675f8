// Package firewall is the Riposte host agent's nftables enforcement layer.
//
// It programs nf_tables through netlink (github.com/google/nftables); it never
// shells out to nft. All decisions live in one inet table owned by the agent:
//
//	table inet <name>
//	  set allow4_in, allow4_out, deny4_in, deny4_out { type ipv4_addr; flags interval,timeout }
//	  set allow6_in, allow6_out, deny6_in, deny6_out { type ipv6_addr; flags interval,timeout }
//	  chain input   { type filter hook input   priority filter - 10; policy accept;
//	                  ip saddr @allow4_in accept; ip6 saddr @allow6_in accept; <allow rules>
//	                  ip saddr @deny4_in drop;    ip6 saddr @deny6_in drop;    <deny rules> }
//	  chain output  { … hook output, daddr, the *_out sets … }
//	  chain forward { … both: saddr against *_in, daddr against *_out … }
//
// Direction "in" matches the peer as source (traffic arriving from it),
// "out" as destination (traffic sent to it), "both" both. Address and prefix
// decisions without protocol/port become set elements whose kernel timeout is
// the remaining time to Expires. Decisions with a protocol or port, and
// prefixes nested in (or equal to) another element of the same set (interval
// sets reject overlaps), become one rule each; such rules carry the decision
// in their comment ("riposte:id=…&a=…&net=…&exp=…") and do not expire in the
// kernel: the caller re-Applies its desired state, which drops them.
//
// Apply replaces the whole table in a single atomic netlink batch
// (add table; delete table; add table; …), so it is idempotent, repairs any
// drift (flushed ruleset, deleted table, edited chains) and never leaves a
// window without rules. State lists the sets and rules back as decisions so
// the agent can verify an action and detect drift.
//
// Batches are encoded by google/nftables but sent by this package (batch.go)
// with an acknowledgement requested for the last message only: the library
// asks one for every message, and the kernel, which queues all replies
// before userspace reads any, overflowed the socket (ENOBUFS) at a few
// hundred rules. Set elements go in messages of at most 1,000 elements
// within the same batch. A batch that fails in transport (socket error,
// lost replies) is sent once more on a new socket; replaying it is harmless
// since it replaces the table. After any failure the socket concerned is
// replaced, so stale replies cannot be read as the next request's.
//
// Contain creates a second table, <name>_iso, with input/output/forward base
// chains at priority filter - 20 and policy drop, accepting only loopback and
// the allowed prefixes (no blanket established accept, so existing sessions
// die); Release deletes it.
//
// Quarantine (gateways) keeps a third table, <name>_seg, with input, output
// and forward base chains at priority filter - 15 and policy accept: the
// allowed prefixes (SOC, Riposte server) are accepted first, then packets
// from or to each quarantined segment are dropped, both those the gateway
// routes and those to and from the gateway itself. Each rule carries its
// segment or allowed prefix in its comment; Quarantined reads them back and
// counts a segment as held only when all four of its rules are present.
// An empty quarantine deletes the table.
package firewall
