package protocol

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// Domain-separation tags: the first field of every signed encoding, so a
// signature over one message kind can never be reinterpreted as another.
const (
	tagCommand = "riposte/agent/command/v1"
	tagResult  = "riposte/agent/result/v1"
)

// canon builds an unambiguous encoding: every variable-length field is
// preceded by its length as a big-endian uint64; times are the instant as
// Unix seconds and nanoseconds (location and monotonic reading ignored).
type canon struct{ b []byte }

func (c *canon) u64(v uint64) { c.b = binary.BigEndian.AppendUint64(c.b, v) }

func (c *canon) bytes(p []byte) {
	c.u64(uint64(len(p)))
	c.b = append(c.b, p...)
}

func (c *canon) str(s string) {
	c.u64(uint64(len(s)))
	c.b = append(c.b, s...)
}

func (c *canon) time(t time.Time) {
	c.u64(uint64(t.Unix()))
	c.u64(uint64(t.Nanosecond()))
}

// Identifier limits.
const (
	maxIDLen       = 128
	maxHostnameLen = 253
)

// checkID accepts identifiers that are safe as a single NATS subject token
// and in logs: 1..128 characters from [A-Za-z0-9_-]. In particular '.', '*',
// '>' and whitespace are refused, so an identifier can never widen a
// subject permission.
func checkID(what, id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("%w: %s must be 1..%d characters", ErrMalformed, what, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %s %q has a character outside [A-Za-z0-9_-]", ErrMalformed, what, id)
		}
	}
	return nil
}

// checkHexLen reports whether s is exactly n bytes in lowercase hex.
func checkHexLen(s string, n int) bool {
	if len(s) != 2*n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// ValidID reports whether id is a well-formed command or agent id.
func ValidID(id string) bool { return checkID("id", id) == nil }
