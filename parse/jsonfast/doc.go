// Package jsonfast is a hand-written JSON decoder for the HTTP ingest hot
// path.
//
// Every event line that reaches ingest used to be decoded with
// encoding/json (a Decoder with UseNumber into map[string]any), and that
// dominated CPU: the reflection-driven decoder scans each byte twice (once
// to validate, once to build values) and grows every map and slice from
// empty. Decode does a single pass over the byte slice with no reflection
// and no intermediate tokens, converts strings without escapes with one
// allocation (a short key and its short string or number value share one),
// and allocates every map and slice once, at its final size.
//
// Speed is only acceptable if nothing else changes. Decode must accept
// exactly the inputs encoding/json accepts and produce identical values:
// map[string]any, []any, string, json.Number, bool and nil; the strict
// RFC 8259 number grammar; escapes including \uXXXX surrogate pairs (an
// unpaired surrogate becomes U+FFFD); control characters in strings
// rejected; invalid UTF-8 in strings replaced with U+FFFD byte by byte;
// duplicate keys resolved "last one wins"; nesting capped at 10000. A
// detection rule that matched under encoding/json must match under
// jsonfast, and an event that encoding/json rejected must still be
// rejected, so the equivalence is not just asserted: it is checked by the
// differential fuzz test FuzzDecode, which runs every input through both
// decoders and requires the same accept/reject decision and
// reflect.DeepEqual values. Keep that test passing (and its seeds under
// testdata/fuzz) whenever this package changes.
//
// Only the error text differs: errors are *SyntaxError values that give the
// byte offset and what the decoder expected there, worded for a user rather
// than copied from encoding/json.
package jsonfast
