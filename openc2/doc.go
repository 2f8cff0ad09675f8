// Package openc2 holds Riposte's OpenC2 message types and validators.
//
// It validates bare OpenC2 commands and responses (no HTTPS v1.1 envelope)
// against the Language Specification 1.0 (CS02), the Stateless Packet
// Filtering profile (SLPF 1.0, and the 1.1 spellings) and the Endpoint
// Response profile (ER CSD01), following /work/shared/specs/openc2.md.
//
// ValidateCommand and ValidateResponse use Riposte's wire baseline
// (ComponentRiposte: LS + SLPF + ER + well-formed "x-" extensions).
// ValidateCommandFor and ValidateResponseFor select another component, the
// plugfest notion that makes a vector good or bad "relative to" a consumer:
// ComponentLanguage (LS only, no profiles or extensions), ComponentSLPF,
// ComponentSLPF11 and ComponentER.
//
// Errors are prefixed "openc2: " and name the JSON path of the offending
// value, e.g.
//
//	openc2: target.ipv4_net: "10.0.0.300/24" is not an IPv4 CIDR
//	openc2: action "deny" is not valid with target "file" in profile slpf
//
// DecodeCommand and DecodeResponse validate and then decode into Command
// and Response; the types encode back to the same JSON shape.
package openc2
