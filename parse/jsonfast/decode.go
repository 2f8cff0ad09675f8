package jsonfast

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects Decode accepts, the
// same limit encoding/json enforces.
const MaxDepth = 10000

// SyntaxError describes why an input is not valid JSON (or, from
// DecodeObject, not a JSON object).
type SyntaxError struct {
	Offset int64  // byte offset in the input where the problem was found
	Msg    string // what went wrong / what was expected there
}

func (e *SyntaxError) Error() string {
	return "invalid JSON at byte " + strconv.FormatInt(e.Offset, 10) + ": " + e.Msg
}

// Decode parses exactly one JSON value from b (surrounding whitespace
// allowed, nothing else after it) and returns it as encoding/json with
// UseNumber would: map[string]any, []any, string, json.Number, bool, nil.
// Errors are *SyntaxError. b is not retained and not modified, and no
// returned string shares memory with it. Safe for concurrent use.
func Decode(b []byte) (any, error) {
	d := getDecoder(b)
	v, err := d.top()
	putDecoder(d)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeObject is Decode that requires the top-level value to be an object.
// Any other valid value is reported as a *SyntaxError such as
// "not a JSON object (got an array)" at the offset where the value starts.
func DecodeObject(b []byte) (map[string]any, error) {
	d := getDecoder(b)
	m, err := d.topObject()
	putDecoder(d)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// kv is one decoded object member waiting on the member stack until its
// object is complete and the map can be allocated at its final size.
type kv struct {
	k string
	v any
}

type decoder struct {
	data  []byte
	depth int
	buf   []byte // scratch for strings that need unescaping
	// shared, when set, is a string copy of data that keys and plain
	// values are sliced from (DecodeObjectShared).
	shared string
	vals   []any // stack of pending array elements, shared by all levels
	kvs    []kv  // stack of pending object members, shared by all levels
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

func getDecoder(b []byte) *decoder {
	d := decoderPool.Get().(*decoder)
	d.data = b
	d.depth = 0
	d.shared = ""
	return d
}

// sub returns data[i:j] as a string: a slice of the shared copy when there
// is one, else a copy of its own.
func (d *decoder) sub(i, j int) string {
	if d.shared != "" {
		return d.shared[i:j]
	}
	return string(d.data[i:j])
}

// DecodeObjectShared is DecodeObject for callers that keep the input for
// as long as the result (ingest keeps every event's raw bytes): the input
// is copied into one string once, and keys and plain string values are
// slices of it, instead of one allocation each. The result pins that copy.
func DecodeObjectShared(b []byte) (map[string]any, error) {
	d := getDecoder(b)
	d.shared = string(b)
	m, err := d.topObject()
	putDecoder(d)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Scratch stacks larger than these are dropped rather than pooled, so one
// huge input does not pin memory for the life of the process.
const (
	maxPooledBuf = 64 << 10
	maxPooledVal = 4 << 10
)

func putDecoder(d *decoder) {
	d.data = nil
	// After an error the stacks still hold the members and elements of the
	// unfinished containers; drop the references so the pool keeps nothing
	// alive. (On success they are already empty.)
	clear(d.vals)
	d.vals = d.vals[:0]
	clear(d.kvs)
	d.kvs = d.kvs[:0]
	if cap(d.buf) > maxPooledBuf {
		d.buf = nil
	}
	if cap(d.vals) > maxPooledVal {
		d.vals = nil
	}
	if cap(d.kvs) > maxPooledVal {
		d.kvs = nil
	}
	decoderPool.Put(d)
}

func (d *decoder) top() (any, *SyntaxError) {
	i := skipSpace(d.data, 0)
	v, i, err := d.value(i)
	if err != nil {
		return nil, err
	}
	if i = skipSpace(d.data, i); i < len(d.data) {
		return nil, d.invalid(i, "after top-level value (expecting end of input)")
	}
	return v, nil
}

func (d *decoder) topObject() (map[string]any, *SyntaxError) {
	data := d.data
	i := skipSpace(data, 0)
	if i < len(data) && data[i] == '{' {
		m, j, err := d.object(i + 1)
		if err != nil {
			return nil, err
		}
		if j = skipSpace(data, j); j < len(data) {
			return nil, d.invalid(j, "after top-level value (expecting end of input)")
		}
		return m, nil
	}
	v, err := d.top()
	if err != nil {
		return nil, err
	}
	return nil, &SyntaxError{Offset: int64(i), Msg: "not a JSON object (got " + kind(v) + ")"}
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a value"
}

// isSpace reports the four whitespace bytes RFC 8259 allows between tokens.
func isSpace(c byte) bool {
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r')
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// value decodes the value starting at data[i] (whitespace already skipped)
// and returns it with the offset just past it.
func (d *decoder) value(i int) (any, int, *SyntaxError) {
	data := d.data
	if i >= len(data) {
		return nil, i, d.eof()
	}
	switch c := data[i]; c {
	case '"':
		s, j, err := d.str(i + 1)
		if err != nil {
			return nil, j, err
		}
		return s, j, nil
	case '{':
		m, j, err := d.object(i + 1)
		if err != nil {
			return nil, j, err
		}
		return m, j, nil
	case '[':
		a, j, err := d.array(i + 1)
		if err != nil {
			return nil, j, err
		}
		return a, j, nil
	case 't':
		j, err := d.literal(i, "true")
		return true, j, err
	case 'f':
		j, err := d.literal(i, "false")
		return false, j, err
	case 'n':
		j, err := d.literal(i, "null")
		return nil, j, err
	default:
		if c == '-' || c-'0' < 10 {
			j, err := d.numberEnd(i)
			if err != nil {
				return nil, j, err
			}
			return json.Number(d.sub(i, j)), j, nil
		}
		return nil, i, d.invalid(i, "looking for beginning of value")
	}
}

func (d *decoder) literal(i int, lit string) (int, *SyntaxError) {
	data := d.data
	if len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	for k := 1; k < len(lit); k++ {
		if i+k >= len(data) {
			return i + k, d.eof()
		}
		if data[i+k] != lit[k] {
			return i + k, d.invalid(i+k, "in literal "+lit+" (expecting "+quoteChar(lit[k])+")")
		}
	}
	panic("unreachable")
}

// numberEnd scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at data[i]
// and returns the offset just past it.
func (d *decoder) numberEnd(i int) (int, *SyntaxError) {
	data := d.data
	if data[i] == '-' {
		i++
		if i >= len(data) {
			return i, d.eof()
		}
	}
	switch c := data[i]; {
	case c == '0':
		i++
	case c-'1' < 9:
		i++
		for i < len(data) && data[i]-'0' < 10 {
			i++
		}
	default:
		return i, d.invalid(i, "in numeric literal (expecting a digit)")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) {
			return i, d.eof()
		}
		if data[i]-'0' >= 10 {
			return i, d.invalid(i, "after decimal point in numeric literal (expecting a digit)")
		}
		for i < len(data) && data[i]-'0' < 10 {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) {
			return i, d.eof()
		}
		if data[i]-'0' >= 10 {
			return i, d.invalid(i, "in exponent of numeric literal (expecting a digit)")
		}
		for i < len(data) && data[i]-'0' < 10 {
			i++
		}
	}
	return i, nil
}

// plain[c] is true for bytes that stand for themselves inside a string and
// need no further checks: printable ASCII other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// cleanStr scans the string whose opening quote is at data[i-1]. If it
// needs no decoding (no escapes, valid UTF-8) it returns the offset of the
// closing quote; otherwise, or if the string is malformed, -1.
func (d *decoder) cleanStr(i int) int {
	data := d.data
	start := i
	ascii := true
	for {
		if i = skipPlain(data, i); i >= len(data) {
			return -1
		}
		c := data[i]
		if c >= utf8.RuneSelf {
			ascii = false
			i++
			continue
		}
		if c == '"' && (ascii || utf8.Valid(data[start:i])) {
			return i
		}
		return -1
	}
}

// skipPlain returns the offset of the first byte at or after i that is not
// plain, or len(data).
func skipPlain(data []byte, i int) int {
	for len(data)-i >= 8 {
		if m := notPlain8(binary.LittleEndian.Uint64(data[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(data) && plain[data[i]] {
		i++
	}
	return i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// notPlain8 looks at 8 bytes at once (little-endian) and returns a mask
// whose lowest set bit is the top bit of the first byte that is not plain:
// '"', '\\', a control character or >= 0x80; zero if all are plain. Each
// term can set spurious bits only above a lane that really matches (borrows
// start at a matching lane), so the lowest set bit is always exact.
func notPlain8(w uint64) uint64 {
	q := w ^ (lsb * '"')
	b := w ^ (lsb * '\\')
	return ((q-lsb)&^q | (b-lsb)&^b | (w - lsb*0x20) | w) & msb
}

// str decodes the string whose opening quote is at data[i-1] and returns
// the offset just past the closing quote.
func (d *decoder) str(i int) (string, int, *SyntaxError) {
	if j := d.cleanStr(i); j >= 0 {
		return d.sub(i, j), j + 1, nil
	}
	return d.strSlow(i)
}

// strSlow decodes the string whose opening quote is at data[i-1] when it
// has escapes or invalid UTF-8 (or is malformed: strSlow reports why).
func (d *decoder) strSlow(i int) (string, int, *SyntaxError) {
	data := d.data
	buf := d.buf[:0]
	for {
		if i >= len(data) {
			d.buf = buf
			return "", i, d.eof()
		}
		c := data[i]
		if plain[c] {
			j := skipPlain(data, i+1)
			buf = append(buf, data[i:j]...)
			i = j
			continue
		}
		switch {
		case c == '"':
			d.buf = buf
			return string(buf), i + 1, nil
		case c == '\\':
			i++
			if i >= len(data) {
				d.buf = buf
				return "", i, d.eof()
			}
			switch e := data[i]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, err := d.hex4(i + 1)
				if err != nil {
					d.buf = buf
					return "", i, err
				}
				i += 4 // now at the last hex digit
				if utf16.IsSurrogate(r) {
					// Exactly what encoding/json does: a surrogate pairs
					// with an immediately following \uXXXX if that makes a
					// valid pair; otherwise it alone becomes U+FFFD and the
					// next escape is decoded on its own.
					r2 := getu4(data[i+1:])
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						buf = utf8.AppendRune(buf, dec)
						i += 6
						break
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
			default:
				d.buf = buf
				return "", i, d.invalid(i, `in string escape code (expecting one of "\/bfnrtu)`)
			}
			i++
		case c < ' ':
			d.buf = buf
			return "", i, d.invalid(i, "in string literal (control characters must be escaped)")
		default:
			// Non-ASCII: copy valid sequences, replace each byte that does
			// not start one with U+FFFD (utf8.DecodeRune consumes exactly
			// one byte of an invalid sequence), as encoding/json does.
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, "\uFFFD"...)
			} else {
				buf = append(buf, data[i:i+size]...)
			}
			i += size
		}
	}
}

// hex4 decodes the four hex digits at data[i:i+4].
func (d *decoder) hex4(i int) (rune, *SyntaxError) {
	data := d.data
	var r rune
	for k := i; k < i+4; k++ {
		if k >= len(data) {
			return 0, d.eof()
		}
		h := unhex(data[k])
		if h < 0 {
			return 0, d.invalid(k, `in \u hexadecimal character escape (expecting a hex digit)`)
		}
		r = r<<4 | h
	}
	return r, nil
}

func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// getu4 decodes a \uXXXX escape at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		h := unhex(c)
		if h < 0 {
			return -1
		}
		r = r<<4 | h
	}
	return r
}

// maxShared is the longest key-to-value span (key, separator and value
// bytes) that object decodes into one shared allocation.
const maxShared = 64

// object decodes the object whose '{' is at data[i-1].
func (d *decoder) object(i int) (map[string]any, int, *SyntaxError) {
	if d.depth++; d.depth > MaxDepth {
		return nil, i - 1, &SyntaxError{Offset: int64(i - 1), Msg: "exceeded max nesting depth of " + strconv.Itoa(MaxDepth)}
	}
	data := d.data
	i = skipSpace(data, i)
	if i >= len(data) {
		return nil, i, d.eof()
	}
	if data[i] == '}' {
		d.depth--
		return map[string]any{}, i + 1, nil
	}
	// Members are collected first so the map can be allocated at its final
	// size: up to len(local) in this frame (no heap writes), the rest on the
	// shared stack d.kvs.
	var local [8]kv
	n := 0
	base := -1
	for {
		if data[i] != '"' {
			return nil, i, d.invalid(i, "looking for beginning of object key string")
		}
		var (
			k   string
			v   any
			err *SyntaxError
		)
		kstart := i + 1
		kend := d.cleanStr(kstart)
		if kend >= 0 {
			i = kend + 1
		} else if k, i, err = d.strSlow(kstart); err != nil {
			return nil, i, err
		}
		if i = skipSpace(data, i); i >= len(data) {
			return nil, i, d.eof()
		}
		if data[i] != ':' {
			return nil, i, d.invalid(i, "after object key (expecting ':')")
		}
		i = skipSpace(data, i+1)
		if kend >= 0 {
			// A short plain key with a short plain string or number close
			// behind it: one allocation holds both, saving one of the
			// three a member costs. The span is capped so that a key or
			// value the caller keeps pins at most a few dozen bytes more.
			if d.shared == "" && i-kend <= 8 && i < len(data) {
				switch c := data[i]; {
				case c == '"':
					if vend := d.cleanStr(i + 1); vend >= 0 && vend-kstart <= maxShared {
						s := string(data[kstart:vend])
						k = s[:kend-kstart]
						v = s[i+1-kstart:]
						i = vend + 1
						goto member
					}
				case c == '-' || c-'0' < 10:
					vend, err := d.numberEnd(i)
					if err != nil {
						return nil, vend, err
					}
					if vend-kstart <= maxShared {
						s := string(data[kstart:vend])
						k = s[:kend-kstart]
						v = json.Number(s[i-kstart:])
						i = vend
						goto member
					}
					k = d.sub(kstart, kend)
					v = json.Number(d.sub(i, vend))
					i = vend
					goto member
				}
			}
			k = d.sub(kstart, kend)
		}
		if v, i, err = d.value(i); err != nil {
			return nil, i, err
		}
	member:
		if n < len(local) {
			local[n] = kv{k, v}
			n++
		} else {
			if base < 0 {
				base = len(d.kvs)
				d.kvs = append(d.kvs, local[:]...)
			}
			d.kvs = append(d.kvs, kv{k, v})
		}
		if i = skipSpace(data, i); i >= len(data) {
			return nil, i, d.eof()
		}
		if data[i] == ',' {
			if i = skipSpace(data, i+1); i >= len(data) {
				return nil, i, d.eof()
			}
			continue
		}
		if data[i] == '}' {
			break
		}
		return nil, i, d.invalid(i, "after object key:value pair (expecting ',' or '}')")
	}
	members := local[:n]
	if base >= 0 {
		members = d.kvs[base:]
	}
	m := make(map[string]any, len(members))
	for _, e := range members {
		m[e.k] = e.v // duplicate keys: the last one wins, as in encoding/json
	}
	if base >= 0 {
		clear(members)
		d.kvs = d.kvs[:base]
	}
	d.depth--
	return m, i + 1, nil
}

// array decodes the array whose '[' is at data[i-1].
func (d *decoder) array(i int) ([]any, int, *SyntaxError) {
	if d.depth++; d.depth > MaxDepth {
		return nil, i - 1, &SyntaxError{Offset: int64(i - 1), Msg: "exceeded max nesting depth of " + strconv.Itoa(MaxDepth)}
	}
	data := d.data
	i = skipSpace(data, i)
	if i >= len(data) {
		return nil, i, d.eof()
	}
	if data[i] == ']' {
		d.depth--
		return []any{}, i + 1, nil
	}
	base := len(d.vals)
	for {
		v, j, err := d.value(i)
		if err != nil {
			return nil, j, err
		}
		d.vals = append(d.vals, v)
		if i = skipSpace(data, j); i >= len(data) {
			return nil, i, d.eof()
		}
		if data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if data[i] == ']' {
			break
		}
		return nil, i, d.invalid(i, "after array element (expecting ',' or ']')")
	}
	elems := d.vals[base:]
	a := make([]any, len(elems))
	copy(a, elems)
	clear(elems)
	d.vals = d.vals[:base]
	d.depth--
	return a, i + 1, nil
}

func (d *decoder) eof() *SyntaxError {
	return &SyntaxError{Offset: int64(len(d.data)), Msg: "unexpected end of JSON input"}
}

func (d *decoder) invalid(i int, context string) *SyntaxError {
	return &SyntaxError{Offset: int64(i), Msg: "invalid character " + quoteChar(d.data[i]) + " " + context}
}

func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c >= utf8.RuneSelf:
		return `'\x` + strconv.FormatUint(uint64(c)>>4, 16) + strconv.FormatUint(uint64(c)&15, 16) + `'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}
