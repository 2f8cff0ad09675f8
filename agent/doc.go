// Package agent is `riposte agent`, run on each protected Linux host: it
// enrolls once with a one-time token, then receives only its own
// server-signed OpenC2 commands over the bus, applies them (nftables
// through agent/enforce, isolation, and the host operations of
// agent/hostops), verifies each effect, and answers with signed results.
// Between commands it keeps the firewall equal to the decisions it holds
// and tells the server, in every heartbeat, which ones those are.
package agent
