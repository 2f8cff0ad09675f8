package protocol

import (
	"crypto/ed25519"
	"fmt"
	"net/netip"
	"time"
)

const tagHeartbeat = "riposte/agent/heartbeat/v1"

// Heartbeat limits.
const (
	maxAddresses = 256
	maxRules     = 65536
	maxInfoLen   = 256
)

// Heartbeat is what an agent publishes periodically and on every
// (re)connection: its inventory, and the rule numbers of the decisions it
// enforces, so the server can send what is missing and delete what is no
// longer decided (the agent may have been offline when a decision changed).
type Heartbeat struct {
	AgentID   string    `json:"agent_id"`
	Time      time.Time `json:"time"`
	Hostname  string    `json:"hostname"`
	Addresses []string  `json:"addresses"`
	OS        string    `json:"os"`
	Version   string    `json:"version"`
	// Rules are the SLPF rule numbers of the active decisions held.
	Rules []int64 `json:"rules"`
	// Contained says the host is isolated, and by which rule (-1: by a
	// command that named none).
	Contained int64 `json:"contained,omitempty"`
	// Mode is "gateway" for an agent on a router enforcing in the
	// forward path ("" : a host agent); Segments are the networks it
	// declares behind it, Quarantined the rule numbers of the segment
	// quarantines it holds.
	Mode        string   `json:"mode,omitempty"`
	Segments    []string `json:"segments,omitempty"`
	Quarantined []int64  `json:"quarantined,omitempty"`
	Sig         []byte   `json:"sig"`
}

func (h *Heartbeat) signedBytes() []byte {
	var c canon
	c.str(tagHeartbeat)
	c.str(h.AgentID)
	c.time(h.Time)
	c.str(h.Hostname)
	c.u64(uint64(len(h.Addresses)))
	for _, a := range h.Addresses {
		c.str(a)
	}
	c.str(h.OS)
	c.str(h.Version)
	c.u64(uint64(len(h.Rules)))
	for _, r := range h.Rules {
		c.u64(uint64(r))
	}
	c.u64(uint64(h.Contained))
	// Appended only when present, so a host agent's heartbeat signs the
	// same bytes as before gateways existed (older agents still verify).
	if h.Mode != "" || len(h.Segments) > 0 || len(h.Quarantined) > 0 {
		c.str(tagGateway)
		c.str(h.Mode)
		c.u64(uint64(len(h.Segments)))
		for _, s := range h.Segments {
			c.str(s)
		}
		c.u64(uint64(len(h.Quarantined)))
		for _, r := range h.Quarantined {
			c.u64(uint64(r))
		}
	}
	return c.b
}

const tagGateway = "gateway/v1"

// SignHeartbeat returns h signed by the agent's key.
func SignHeartbeat(agentPriv ed25519.PrivateKey, h Heartbeat) Heartbeat {
	h.Sig = ed25519.Sign(agentPriv, h.signedBytes())
	return h
}

// VerifyHeartbeat checks h against the key enrolled for agentID.
func VerifyHeartbeat(agentPub ed25519.PublicKey, h Heartbeat, agentID string) error {
	if len(agentPub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: agent public key has %d bytes", ErrMalformed, len(agentPub))
	}
	if len(h.Addresses) > maxAddresses || len(h.Rules) > maxRules || len(h.OS) > maxInfoLen || len(h.Version) > maxInfoLen ||
		len(h.Segments) > maxAddresses || len(h.Quarantined) > maxRules {
		return fmt.Errorf("%w: oversized heartbeat", ErrMalformed)
	}
	switch h.Mode {
	case "", "host", "gateway":
	default:
		return fmt.Errorf("%w: mode %.20q is not host or gateway", ErrMalformed, h.Mode)
	}
	for _, s := range h.Segments {
		if _, err := netip.ParsePrefix(s); err != nil || len(s) > 64 {
			return fmt.Errorf("%w: segment %.40q is not a CIDR", ErrMalformed, s)
		}
	}
	for _, a := range h.Addresses {
		if _, err := netip.ParseAddr(a); err != nil || len(a) > 64 {
			return fmt.Errorf("%w: address %.40q is not an IP address", ErrMalformed, a)
		}
	}
	if len(h.Sig) != ed25519.SignatureSize || !ed25519.Verify(agentPub, h.signedBytes(), h.Sig) {
		return ErrBadSignature
	}
	if h.AgentID != agentID {
		return fmt.Errorf("%w: heartbeat from %q, expected %q", ErrWrongAgent, h.AgentID, agentID)
	}
	return checkHostname(h.Hostname)
}
