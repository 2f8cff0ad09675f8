package jsonfast

import (
	"encoding/binary"
	"testing"
)

// TestSkipPlain checks the 8-bytes-at-a-time scan against the byte table
// for every byte value in every lane, and for every pair of adjacent bytes
// (where a borrow from one lane could leak into the next).
func TestSkipPlain(t *testing.T) {
	ref := func(b []byte) int {
		i := 0
		for i < len(b) && plain[b[i]] {
			i++
		}
		return i
	}
	check := func(b []byte) {
		if got, want := skipPlain(b, 0), ref(b); got != want {
			t.Fatalf("skipPlain(%q) = %d, want %d", b, got, want)
		}
		if len(b) >= 8 {
			w := binary.LittleEndian.Uint64(b)
			if (notPlain8(w) != 0) != (ref(b[:8]) < 8) {
				t.Fatalf("notPlain8(%q) = %#x", b[:8], notPlain8(w))
			}
		}
	}
	base := []byte("abcdefghijklmnopq")
	b := make([]byte, len(base))
	for k := range 10 {
		for c := range 256 {
			copy(b, base)
			b[k] = byte(c)
			check(b)
		}
	}
	for c1 := range 256 {
		for c2 := range 256 {
			for _, k := range []int{0, 3, 6, 7, 9} {
				copy(b, base)
				b[k], b[k+1] = byte(c1), byte(c2)
				check(b)
				check(b[:k+2])
			}
		}
	}
}
