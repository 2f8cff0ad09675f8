// Package protocol is the wire security layer between the Riposte server and
// its host agents (`riposte agent`).
//
// Trust model:
//
//   - The server holds one ed25519 signing key (GenerateKey; the caller
//     persists it). Every command sent to an agent travels in an Envelope
//     signed with it (Sign) over a canonical, length-prefixed, domain-separated
//     encoding of every field but the signature.
//   - The agent checks each envelope with Verify, which refuses, with an
//     errors.Is-able sentinel: a bad or forged signature (ErrBadSignature), a
//     command addressed to another agent (ErrWrongAgent), an expired envelope
//     (ErrExpired), one issued in the future beyond ClockSkew
//     (ErrNotYetValid), a replayed nonce (ErrReplay), a command that is not a
//     valid OpenC2 command (ErrInvalidCommand) and structurally malformed
//     envelopes (ErrMalformed). Nonces are remembered by a NonceCache until
//     the envelope expires; MemoryNonceCache is a bounded in-memory
//     implementation and the interface lets the agent persist its own.
//   - Each agent generates its own ed25519 key at enrollment. Results are
//     signed with it (SignResult) and checked by the server (VerifyResult)
//     against the key recorded for that agent.
//   - Enrollment uses a one-time, 256-bit random token (NewEnrollmentToken)
//     which the server stores only hashed, with an expiry. Enroll consumes it
//     once and returns the AgentRecord (ID, public key, hostname, time).
//   - On NATS, each agent may only subscribe to its own command subject and
//     publish to its own result subject (SubjectFor, NATSPermissions), so it
//     receives only its own commands and publishes only its own results.
package protocol
