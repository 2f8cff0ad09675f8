package protocol

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers can branch with errors.Is.
var (
	// ErrBadSignature: the signature does not verify under the given key
	// (forged or tampered message, wrong key, bad signature length).
	ErrBadSignature = errors.New("protocol: bad signature")
	// ErrWrongAgent: a correctly signed message for another agent.
	ErrWrongAgent = errors.New("protocol: message is for another agent")
	// ErrExpired: the envelope's expiry has passed.
	ErrExpired = errors.New("protocol: envelope expired")
	// ErrNotYetValid: the envelope is issued in the future beyond ClockSkew.
	ErrNotYetValid = errors.New("protocol: envelope issued in the future")
	// ErrReplay: the envelope's nonce has already been accepted.
	ErrReplay = errors.New("protocol: replayed nonce")
	// ErrInvalidCommand: the payload is not a valid OpenC2 command.
	ErrInvalidCommand = errors.New("protocol: invalid OpenC2 command")
	// ErrInvalidResponse: the result payload is not a valid OpenC2 response.
	ErrInvalidResponse = errors.New("protocol: invalid OpenC2 response")
	// ErrMalformed: a structurally invalid message, key, identifier or
	// argument (empty or oversized fields, bad nonce, bad time window, ...).
	ErrMalformed = errors.New("protocol: malformed message")
	// ErrNonceCacheFull: the nonce cache is at its bound and no entry has
	// expired; the envelope is refused (fail closed) rather than forgetting
	// a live nonce, which would re-open a replay window.
	ErrNonceCacheFull = errors.New("protocol: nonce cache full")
	// ErrTokenInvalid: the enrollment secret does not match the token.
	ErrTokenInvalid = errors.New("protocol: invalid enrollment token")
	// ErrTokenUsed: the enrollment token was already used.
	ErrTokenUsed = errors.New("protocol: enrollment token already used")
	// ErrTokenExpired: the enrollment token has expired.
	ErrTokenExpired = errors.New("protocol: enrollment token expired")
)
