package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// TokenSize is the enrollment secret's entropy in bytes (256 bits).
const TokenSize = 32

// TokenRecord is what the server stores for an enrollment token: never the
// secret, only its SHA-256 (a 256-bit random secret needs no slow hash).
type TokenRecord struct {
	ID        string    `json:"id"`   // random, for listing and revoking
	Hash      string    `json:"hash"` // HashToken(secret), lowercase hex
	CreatedAt time.Time `json:"created_at"`
	Expires   time.Time `json:"expires"`
	Used      bool      `json:"used"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	AgentID   string    `json:"agent_id,omitempty"` // the agent it enrolled
}

// AgentRecord is an enrolled agent's identity as the server stores it.
type AgentRecord struct {
	ID         string            `json:"id"`
	PublicKey  ed25519.PublicKey `json:"public_key"`
	Hostname   string            `json:"hostname"`
	EnrolledAt time.Time         `json:"enrolled_at"`
	TokenID    string            `json:"token_id"`
}

// HashToken returns the lowercase-hex SHA-256 of an enrollment secret. The
// server may index token records by it to find the record for a secret.
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("protocol: reading random bytes: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// NewEnrollmentToken creates a one-time token valid for ttl from now. The
// secret is handed to the operator once (base64url, 43 characters); only rec
// is stored.
func NewEnrollmentToken(ttl time.Duration) (secret string, rec TokenRecord) {
	b := make([]byte, TokenSize)
	if _, err := rand.Read(b); err != nil {
		panic("protocol: reading random token: " + err.Error())
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	now := time.Now()
	rec = TokenRecord{ID: randomHex(16), Hash: HashToken(secret), CreatedAt: now, Expires: now.Add(ttl)}
	return secret, rec
}

// NewAgentID returns a random 128-bit agent identifier (lowercase hex), safe
// as a NATS subject token.
func NewAgentID() string { return randomHex(16) }

// Enroll consumes the token rec with secret and returns the new agent's
// identity. It refuses a wrong secret (ErrTokenInvalid, constant-time
// comparison of hashes), a used token (ErrTokenUsed), an expired one
// (ErrTokenExpired), and a bad public key or hostname (ErrMalformed). On
// success rec is marked used; the caller must persist rec and the agent
// record atomically (e.g. compare-and-set on Used in one transaction) before
// answering, so two concurrent enrollments cannot both succeed.
func Enroll(rec *TokenRecord, secret string, agentPub ed25519.PublicKey, hostname string, now time.Time) (AgentRecord, error) {
	if rec == nil {
		return AgentRecord{}, fmt.Errorf("%w: nil token record", ErrTokenInvalid)
	}
	got := sha256.Sum256([]byte(secret))
	want, err := hex.DecodeString(rec.Hash)
	if err != nil || len(want) != sha256.Size || subtle.ConstantTimeCompare(got[:], want) != 1 {
		return AgentRecord{}, ErrTokenInvalid
	}
	if rec.Used {
		return AgentRecord{}, fmt.Errorf("%w: at %s", ErrTokenUsed, rec.UsedAt.UTC().Format(time.RFC3339))
	}
	if !now.Before(rec.Expires) {
		return AgentRecord{}, fmt.Errorf("%w: at %s", ErrTokenExpired, rec.Expires.UTC().Format(time.RFC3339))
	}
	if len(agentPub) != ed25519.PublicKeySize {
		return AgentRecord{}, fmt.Errorf("%w: agent public key has %d bytes, want %d", ErrMalformed, len(agentPub), ed25519.PublicKeySize)
	}
	if err := checkHostname(hostname); err != nil {
		return AgentRecord{}, err
	}
	a := AgentRecord{
		ID:         NewAgentID(),
		PublicKey:  append(ed25519.PublicKey(nil), agentPub...),
		Hostname:   hostname,
		EnrolledAt: now,
		TokenID:    rec.ID,
	}
	rec.Used, rec.UsedAt, rec.AgentID = true, now, a.ID
	return a, nil
}

// checkHostname accepts 1..253 bytes of valid UTF-8 without control or
// space characters (the hostname is informational and shown in the UI).
func checkHostname(h string) error {
	if h == "" || len(h) > maxHostnameLen || !utf8.ValidString(h) {
		return fmt.Errorf("%w: hostname must be 1..%d bytes of UTF-8", ErrMalformed, maxHostnameLen)
	}
	for _, r := range h {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%w: hostname %q has a control or space character", ErrMalformed, h)
		}
	}
	return nil
}
