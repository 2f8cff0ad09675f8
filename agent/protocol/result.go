package protocol

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"github.com/riposte-soar/riposte/openc2"
)

// Result limits.
const (
	// MaxResponseSize bounds the OpenC2 response payload in bytes.
	MaxResponseSize = 256 << 10
	// MaxEvidenceItems bounds the evidence list of one result.
	MaxEvidenceItems = 1024
	maxEvidenceName  = 1024
)

// EvidenceItem names one piece of evidence the agent collected and uploaded
// separately; the server checks the upload against SHA256 and Size.
type EvidenceItem struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"` // lowercase hex, 64 characters
	Size   int64  `json:"size"`
}

// Result is an agent's answer to one command, signed with the agent's own
// key (generated at enrollment).
type Result struct {
	AgentID   string          `json:"agent_id"`
	CommandID string          `json:"command_id"`
	Response  json.RawMessage `json:"response"`
	Evidence  []EvidenceItem  `json:"evidence,omitempty"`
	Sig       []byte          `json:"sig"`
}

func (r *Result) signedBytes() []byte {
	var c canon
	c.str(tagResult)
	c.str(r.AgentID)
	c.str(r.CommandID)
	c.bytes(r.Response)
	c.u64(uint64(len(r.Evidence)))
	for _, e := range r.Evidence {
		c.str(e.Name)
		c.str(e.SHA256)
		c.u64(uint64(e.Size))
	}
	return c.b
}

// SignResult returns r with Sig set by the agent's key agentPriv. Response is
// normalised as encoding/json emits it (see Sign). Like ed25519.Sign, it
// panics if agentPriv has the wrong length.
func SignResult(agentPriv ed25519.PrivateKey, r Result) Result {
	r.Response = canonicalJSON(r.Response)
	r.Sig = ed25519.Sign(agentPriv, r.signedBytes())
	return r
}

// VerifyResult checks r against the public key recorded for agentID at
// enrollment (the server looks it up by the NATS subject / connection the
// result arrived on, never by r.AgentID alone). It refuses a bad signature
// (ErrBadSignature), a result naming another agent (ErrWrongAgent), an
// invalid OpenC2 response (ErrInvalidResponse) and malformed fields or
// evidence (ErrMalformed).
func VerifyResult(agentPub ed25519.PublicKey, r Result, agentID string) error {
	if len(agentPub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: agent public key has %d bytes, want %d", ErrMalformed, len(agentPub), ed25519.PublicKeySize)
	}
	if len(r.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature has %d bytes, want %d", ErrBadSignature, len(r.Sig), ed25519.SignatureSize)
	}
	if len(r.Response) > MaxResponseSize {
		return fmt.Errorf("%w: response is %d bytes, limit %d", ErrInvalidResponse, len(r.Response), MaxResponseSize)
	}
	if len(r.Evidence) > MaxEvidenceItems {
		return fmt.Errorf("%w: %d evidence items, limit %d", ErrMalformed, len(r.Evidence), MaxEvidenceItems)
	}
	if len(r.AgentID) > maxIDLen || len(r.CommandID) > maxIDLen {
		return fmt.Errorf("%w: oversized identifier", ErrMalformed)
	}
	if !ed25519.Verify(agentPub, r.signedBytes(), r.Sig) {
		return ErrBadSignature
	}
	if r.AgentID != agentID {
		return fmt.Errorf("%w: result from %q, expected %q", ErrWrongAgent, r.AgentID, agentID)
	}
	if err := checkID("command id", r.CommandID); err != nil {
		return err
	}
	for i, e := range r.Evidence {
		if e.Name == "" || len(e.Name) > maxEvidenceName {
			return fmt.Errorf("%w: evidence[%d]: name must be 1..%d bytes", ErrMalformed, i, maxEvidenceName)
		}
		if !checkHexLen(e.SHA256, 32) {
			return fmt.Errorf("%w: evidence[%d]: sha256 must be 64 lowercase hex characters", ErrMalformed, i)
		}
		if e.Size < 0 {
			return fmt.Errorf("%w: evidence[%d]: negative size", ErrMalformed, i)
		}
	}
	if err := openc2.ValidateResponse(r.Response); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidResponse, err)
	}
	return nil
}
