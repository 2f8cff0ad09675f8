// Package stixpattern is the one lexer and literal decoder for the STIX 2.1
// patterning language in Riposte. Two parsers sit on it: the
// indicator importer (detect/intel), which parses whole patterns with
// observation operators and qualifiers, and the playbook condition language
// (playbook/expr), which CACAO 2.0 defines as STIX patterning and which
// adds variables with dictionary paths and its own operators. Both read the
// same tokens and literals, so a string escape or a timestamp means the same
// thing in an indicator and in a playbook condition.
package stixpattern

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is the kind of a token.
type Kind uint8

const (
	EOF       Kind = iota
	Ident          // object type, property name, keyword or (in conditions) variable
	String         // 'text'; Text is the decoded value
	Timestamp      // t'RFC 3339'; Text as written, Time decoded
	Hex            // h'00ff'; Text as written, Bytes decoded
	Binary         // b'base64'; Text as written, Bytes decoded
	Int            // 12, -3, +4
	Float          // 1.5, -0.25, 2e3
	LParen
	RParen
	LBrack
	RBrack
	Comma
	Colon
	Dot
	Star
	Op // = == != <> < <= > >=
)

// Token is one lexical element of a pattern.
type Token struct {
	Kind Kind
	Text string // identifier, operator, number as written, decoded string or literal body
	Pos  int    // byte offset of the first byte
	End  int    // byte offset after the last byte
	// Decoded typed literals, so a bad one is refused where it is written.
	Time  time.Time
	Bytes []byte
	// Aux is the caller's own reading of a token (a playbook variable with
	// its path); such a token is an operand, never a keyword or literal.
	Aux any
}

// Error is a lexical error with the byte offset where it was found.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("offset %d: %s", e.Pos, e.Msg) }

// IsIdentStart and IsIdentChar define identifiers: STIX object types and
// properties are letters, digits, '_' and '-' (ipv4-addr, x-acme-thing).
func IsIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// IsIdentChar reports whether c may continue an identifier.
func IsIdentChar(c byte) bool {
	return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '-'
}

var punct = [256]Kind{'[': LBrack, ']': RBrack, '(': LParen, ')': RParen, ',': Comma, ':': Colon, '.': Dot, '*': Star}

// Next returns the token at or after offset i, skipping white space; at
// the end of src it returns an EOF token.
func Next(src string, i int) (Token, error) {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\r' || src[i] == '\n') {
		i++
	}
	if i >= len(src) {
		return Token{Kind: EOF, Pos: i, End: i}, nil
	}
	c := src[i]
	switch {
	case punct[c] != 0:
		return Token{Kind: punct[c], Text: src[i : i+1], Pos: i, End: i + 1}, nil
	case c == '=' || c == '!' || c == '<' || c == '>':
		op := src[i : i+1]
		if i+1 < len(src) {
			switch two := src[i : i+2]; two {
			case "==", "!=", "<>", "<=", ">=":
				op = two
			}
		}
		if op == "!" {
			return Token{}, &Error{i, "unexpected '!' (write != , or NOT before an operator)"}
		}
		return Token{Kind: Op, Text: op, Pos: i, End: i + len(op)}, nil
	case c == '\'':
		s, end, err := ScanString(src, i)
		if err != nil {
			return Token{}, err
		}
		return Token{Kind: String, Text: s, Pos: i, End: end}, nil
	case c == '-' || c == '+' || (c >= '0' && c <= '9'):
		return scanNumber(src, i)
	case IsIdentStart(c):
		j := i + 1
		for j < len(src) && IsIdentChar(src[j]) {
			j++
		}
		if j == i+1 && j < len(src) && src[j] == '\'' && (c == 't' || c == 'h' || c == 'b') {
			return scanTyped(src, i)
		}
		return Token{Kind: Ident, Text: src[i:j], Pos: i, End: j}, nil
	}
	r, _ := utf8.DecodeRuneInString(src[i:])
	return Token{}, &Error{i, fmt.Sprintf("unexpected character %q", r)}
}

// ScanString reads a quoted literal whose opening quote is at src[i] and returns
// its decoded text and the offset after the closing quote. The only escapes
// are \' and \\.
func ScanString(src string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			if j+1 < len(src) && (src[j+1] == '\'' || src[j+1] == '\\') {
				b.WriteByte(src[j+1])
				j++
				continue
			}
			return "", 0, &Error{j, `invalid escape in string literal (only \' and \\ are allowed)`}
		case '\'':
			return b.String(), j + 1, nil
		default:
			b.WriteByte(src[j])
		}
	}
	return "", 0, &Error{i, "unterminated string literal"}
}

// scanNumber reads [+-]digits[.digits][e[+-]digits] (the exponent is a
// Riposte extension; STIX numbers have none).
func scanNumber(src string, i int) (Token, error) {
	j := i
	if src[j] == '-' || src[j] == '+' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(src) && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		return j - k
	}
	if digits() == 0 {
		return Token{}, &Error{i, fmt.Sprintf("'%c' must start a number", src[i])}
	}
	kind := Int
	if j < len(src) && src[j] == '.' {
		j++
		if digits() == 0 {
			return Token{}, &Error{j, "digits expected after '.' in a number"}
		}
		kind = Float
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		j++
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if digits() == 0 {
			return Token{}, &Error{j, "digits expected in the exponent of a number"}
		}
		kind = Float
	}
	return Token{Kind: kind, Text: src[i:j], Pos: i, End: j}, nil
}

// scanTyped reads t'…', h'…' and b'…' and decodes the value.
func scanTyped(src string, i int) (Token, error) {
	s, end, err := ScanString(src, i+1)
	if err != nil {
		return Token{}, err
	}
	t := Token{Text: s, Pos: i, End: end}
	switch src[i] {
	case 't':
		t.Kind = Timestamp
		if t.Time, err = ParseTimestamp(s); err != nil {
			return Token{}, &Error{i, err.Error()}
		}
	case 'h':
		t.Kind = Hex
		if t.Bytes, err = hex.DecodeString(s); err != nil {
			return Token{}, &Error{i, fmt.Sprintf("bad hex literal h'%s'", clip(s))}
		}
	case 'b':
		t.Kind = Binary
		if t.Bytes, err = base64.StdEncoding.DecodeString(s); err != nil {
			return Token{}, &Error{i, fmt.Sprintf("bad binary (base64) literal b'%s'", clip(s))}
		}
	}
	return t, nil
}

// ParseTimestamp reads an RFC 3339 timestamp, the form STIX uses both in
// t'…' literals and in the STIX 2.0 quoted START/STOP form.
func ParseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad timestamp literal %q (want RFC 3339, e.g. t'2025-01-01T00:00:00Z')", clip(s))
	}
	return t, nil
}

// ComparisonOp returns the canonical spelling of a STIX comparison
// operator token: = for = and ==, != for != and <>, the upper-case keyword
// for IN, LIKE, MATCHES, ISSUBSET and ISSUPERSET.
func ComparisonOp(t Token) (string, bool) {
	switch t.Kind {
	case Op:
		switch t.Text {
		case "==":
			return "=", true
		case "<>":
			return "!=", true
		}
		return t.Text, true
	case Ident:
		switch u := strings.ToUpper(t.Text); u {
		case "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET":
			return u, true
		}
	}
	return "", false
}

// ObservationKeywords are the STIX words that combine or qualify whole
// observations rather than compare values.
var ObservationKeywords = map[string]bool{
	"FOLLOWEDBY": true, "WITHIN": true, "REPEATS": true, "TIMES": true,
	"START": true, "STOP": true, "SECONDS": true,
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Bool is the kind of a true or false literal; the lexer reads those words
// as identifiers, and Literal decodes them.
const Bool Kind = 255

// Literal is a decoded literal of a comparison.
type Literal struct {
	Kind  Kind   // String, Int, Float, Timestamp, Hex, Binary or Bool
	Text  string // decoded string, number as written, body of t'…' h'…' b'…', true or false
	Int   int64  // Int within int64 (IsInt)
	IsInt bool
	Float float64 // Int and Float
	Bool  bool
	Time  time.Time
	Bytes []byte
	Pos   int // offset in the source
}

// LiteralOf decodes a literal token; ok is false for a token that is not a
// literal. true and false are case-insensitive, as STIX keywords are. A
// number beyond the range of float64 is an error.
func LiteralOf(t Token) (l Literal, ok bool, err error) {
	l = Literal{Kind: t.Kind, Text: t.Text, Time: t.Time, Bytes: t.Bytes, Pos: t.Pos}
	switch t.Kind {
	case String, Timestamp, Hex, Binary:
		return l, true, nil
	case Int, Float:
		if i, err := strconv.ParseInt(t.Text, 10, 64); err == nil && t.Kind == Int {
			l.Int, l.IsInt, l.Float = i, true, float64(i)
			return l, true, nil
		}
		if l.Float, err = strconv.ParseFloat(t.Text, 64); err != nil {
			return Literal{}, true, &Error{t.Pos, fmt.Sprintf("number %s is out of range", clip(t.Text))}
		}
		return l, true, nil
	case Ident:
		switch {
		case strings.EqualFold(t.Text, "true"):
			return Literal{Kind: Bool, Text: "true", Bool: true, Pos: t.Pos}, true, nil
		case strings.EqualFold(t.Text, "false"):
			return Literal{Kind: Bool, Text: "false", Pos: t.Pos}, true, nil
		}
	}
	return Literal{}, false, nil
}
