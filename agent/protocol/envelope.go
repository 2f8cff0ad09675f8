package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riposte-soar/riposte/openc2"
)

// Limits enforced by Verify.
const (
	// ClockSkew is how far in the future IssuedAt may be (agent clock behind
	// the server's) before Verify refuses with ErrNotYetValid.
	ClockSkew = 2 * time.Minute
	// MaxLifetime bounds Expires-IssuedAt, which bounds how long a nonce must
	// be remembered and so the size a NonceCache needs.
	MaxLifetime = 24 * time.Hour
	// MaxCommandSize bounds the OpenC2 payload in bytes.
	MaxCommandSize = 64 << 10
	// NonceSize is the nonce length in bytes (128 bits); on the wire it is
	// lowercase hex (32 characters).
	NonceSize = 16
)

// Envelope carries one server-signed OpenC2 command to one agent.
type Envelope struct {
	AgentID   string          `json:"agent_id"`
	CommandID string          `json:"command_id"`
	IssuedAt  time.Time       `json:"issued_at"`
	Expires   time.Time       `json:"expires"`
	Nonce     string          `json:"nonce"`
	Command   json.RawMessage `json:"command"`
	Sig       []byte          `json:"sig"`
}

// GenerateKey returns a new server signing key. The caller persists it and
// distributes its public half (priv.Public()) to agents at enrollment.
func GenerateKey() ed25519.PrivateKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil { // crypto/rand does not fail on supported platforms
		panic("protocol: generating key: " + err.Error())
	}
	return priv
}

// NewNonce returns a fresh random 128-bit nonce in lowercase hex.
func NewNonce() string {
	var b [NonceSize]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("protocol: reading random nonce: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// NewEnvelope is a convenience that fills IssuedAt=now, Expires=now+ttl and
// a fresh nonce; pass the result to Sign.
func NewEnvelope(agentID, commandID string, command json.RawMessage, now time.Time, ttl time.Duration) Envelope {
	return Envelope{AgentID: agentID, CommandID: commandID, IssuedAt: now, Expires: now.Add(ttl),
		Nonce: NewNonce(), Command: command}
}

// signedBytes is the canonical encoding of every field but Sig.
func (e *Envelope) signedBytes() []byte {
	var c canon
	c.str(tagCommand)
	c.str(e.AgentID)
	c.str(e.CommandID)
	c.time(e.IssuedAt)
	c.time(e.Expires)
	c.str(e.Nonce)
	c.bytes(e.Command)
	return c.b
}

// canonicalJSON returns raw as encoding/json would emit it inside a
// marshalled struct (compacted, HTML-escaped), so an envelope survives a
// JSON round trip byte for byte. Invalid JSON is returned unchanged (Verify
// refuses it as ErrInvalidCommand).
func canonicalJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	out, err := json.Marshal(raw)
	if err != nil {
		return raw
	}
	return out
}

// Sign returns env with Sig set by priv. A missing Nonce is filled with a
// fresh one, and Command is normalised to the form encoding/json emits
// (compact), so the signed envelope verifies after a JSON round trip. The
// other fields are signed as given: set IssuedAt and Expires (or use
// NewEnvelope). Like ed25519.Sign, Sign panics if priv has the wrong length.
func Sign(priv ed25519.PrivateKey, env Envelope) Envelope {
	if env.Nonce == "" {
		env.Nonce = NewNonce()
	}
	env.Command = canonicalJSON(env.Command)
	env.Sig = ed25519.Sign(priv, env.signedBytes())
	return env
}

// Verify checks env for the agent agentID at time now, and on success
// records its nonce in seen. Checks, in order: shape (ErrMalformed),
// signature under pub (ErrBadSignature), addressee (ErrWrongAgent), time
// window (ErrExpired, ErrNotYetValid, ErrMalformed for an inverted or
// over-long window), OpenC2 validity (ErrInvalidCommand), and finally the
// nonce (ErrReplay, ErrNonceCacheFull). A nonce is recorded only for an
// envelope that passed every other check.
func Verify(pub ed25519.PublicKey, env Envelope, agentID string, now time.Time, seen NonceCache) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: server public key has %d bytes, want %d", ErrMalformed, len(pub), ed25519.PublicKeySize)
	}
	if seen == nil {
		return fmt.Errorf("%w: nil nonce cache", ErrMalformed)
	}
	if len(env.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature has %d bytes, want %d", ErrBadSignature, len(env.Sig), ed25519.SignatureSize)
	}
	if len(env.Command) > MaxCommandSize {
		return fmt.Errorf("%w: command is %d bytes, limit %d", ErrInvalidCommand, len(env.Command), MaxCommandSize)
	}
	if len(env.AgentID) > maxIDLen || len(env.CommandID) > maxIDLen || len(env.Nonce) > 2*NonceSize {
		return fmt.Errorf("%w: oversized identifier", ErrMalformed)
	}
	if !ed25519.Verify(pub, env.signedBytes(), env.Sig) {
		return ErrBadSignature
	}
	// Authentic from here on.
	if env.AgentID != agentID {
		return fmt.Errorf("%w: envelope for %q, this agent is %q", ErrWrongAgent, env.AgentID, agentID)
	}
	if err := checkID("command id", env.CommandID); err != nil {
		return err
	}
	if !checkHexLen(env.Nonce, NonceSize) {
		return fmt.Errorf("%w: nonce must be %d lowercase hex characters", ErrMalformed, 2*NonceSize)
	}
	if !env.Expires.After(env.IssuedAt) {
		return fmt.Errorf("%w: expires %s is not after issued_at %s", ErrMalformed, env.Expires.Format(time.RFC3339Nano), env.IssuedAt.Format(time.RFC3339Nano))
	}
	if env.Expires.Sub(env.IssuedAt) > MaxLifetime {
		return fmt.Errorf("%w: lifetime %s exceeds %s", ErrMalformed, env.Expires.Sub(env.IssuedAt), MaxLifetime)
	}
	if !now.Before(env.Expires) {
		return fmt.Errorf("%w: at %s (now %s)", ErrExpired, env.Expires.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
	}
	if env.IssuedAt.Sub(now) > ClockSkew {
		return fmt.Errorf("%w: issued at %s, now %s, allowed skew %s", ErrNotYetValid, env.IssuedAt.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano), ClockSkew)
	}
	if err := openc2.ValidateCommand(env.Command); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	if err := seen.Add(env.Nonce, env.Expires, now); err != nil {
		if errors.Is(err, ErrReplay) || errors.Is(err, ErrNonceCacheFull) {
			return err
		}
		return fmt.Errorf("%w: nonce cache: %w", ErrNonceCacheFull, err)
	}
	return nil
}
