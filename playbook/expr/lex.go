package expr

import (
	"fmt"
	"strings"
)

// Limits that keep compilation and evaluation bounded whatever the input.
const (
	MaxSource = 8 << 10 // bytes of condition text
	MaxTokens = 2048    // tokens in one condition
	MaxDepth  = 64      // nesting of parentheses, brackets and NOT
	MaxList   = 512     // literals in one IN list
	MaxPath   = 32      // path elements after an operand
)

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
	tOp      // = == != <> < <= > >=
	tKeyword // AND OR NOT IN LIKE MATCHES ISSUBSET ISSUPERSET EXISTS CONTAINS TRUE FALSE
	tString  // '…'
	tNumber  // 12, -3.5e2
	tTime    // t'…'
	tHex     // h'…'
	tBinary  // b'…'
	tVar     // __name__:value (or __name__) with path
	tIdent   // bare name with path
)

type pathElem struct {
	key   string
	idx   int
	isIdx bool
}

type token struct {
	kind  tokKind
	text  string // operator, upper-cased keyword, literal value, variable/ident name
	start int    // byte offsets in the source
	end   int
	// variables and identifiers
	rootEnd  int  // end of the name part (before the path)
	hasValue bool // tVar written with ":value"
	path     []pathElem
}

// SyntaxError is a compile error with the byte offset where it was found.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("at offset %d: %s", e.Pos, e.Msg) }

var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IN": true, "LIKE": true, "MATCHES": true,
	"ISSUBSET": true, "ISSUPERSET": true, "EXISTS": true, "CONTAINS": true,
	"TRUE": true, "FALSE": true,
}

// STIX observation operators and qualifiers have no meaning in a playbook
// condition (cacao.md §6).
var observationWords = map[string]bool{
	"FOLLOWEDBY": true, "WITHIN": true, "REPEATS": true, "TIMES": true,
	"START": true, "STOP": true, "SECONDS": true,
}

// IsKeyword reports whether a bare word is reserved by the language.
func IsKeyword(w string) bool {
	u := strings.ToUpper(w)
	return keywords[u] || observationWords[u]
}

func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isNameChar(c byte) bool {
	return isNameStart(c) || (c >= '0' && c <= '9') || c == '-'
}

func lex(src string) ([]token, error) {
	if len(src) > MaxSource {
		return nil, &SyntaxError{0, fmt.Sprintf("condition is %d bytes, more than %d", len(src), MaxSource)}
	}
	var toks []token
	i := 0
	for {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		if len(toks) > MaxTokens {
			return nil, &SyntaxError{i, fmt.Sprintf("more than %d tokens", MaxTokens)}
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, start: i, end: i})
			return toks, nil
		}
		c := src[i]
		start := i
		switch {
		case c == '(':
			toks = append(toks, token{kind: tLParen, start: i, end: i + 1})
			i++
		case c == ')':
			toks = append(toks, token{kind: tRParen, start: i, end: i + 1})
			i++
		case c == '[':
			toks = append(toks, token{kind: tLBrack, start: i, end: i + 1})
			i++
		case c == ']':
			toks = append(toks, token{kind: tRBrack, start: i, end: i + 1})
			i++
		case c == ',':
			toks = append(toks, token{kind: tComma, start: i, end: i + 1})
			i++
		case c == '=' || c == '!' || c == '<' || c == '>':
			op := string(c)
			if i+1 < len(src) {
				two := src[i : i+2]
				switch two {
				case "==", "!=", "<>", "<=", ">=":
					op = two
				}
			}
			if op == "!" {
				return nil, &SyntaxError{i, "unexpected '!' (use != or NOT)"}
			}
			toks = append(toks, token{kind: tOp, text: op, start: i, end: i + len(op)})
			i += len(op)
		case c == '\'':
			s, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, text: s, start: i, end: n})
			i = n
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			if src[j] == '-' {
				j++
			}
			d0 := j
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j == d0 {
				return nil, &SyntaxError{i, "'-' must start a number"}
			}
			if j < len(src) && src[j] == '.' {
				j++
				d1 := j
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
				if j == d1 {
					return nil, &SyntaxError{j, "digits expected after '.'"}
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				j++
				if j < len(src) && (src[j] == '+' || src[j] == '-') {
					j++
				}
				d2 := j
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
				if j == d2 {
					return nil, &SyntaxError{j, "digits expected in exponent"}
				}
			}
			if j < len(src) && isNameChar(src[j]) {
				return nil, &SyntaxError{j, "unexpected character after number"}
			}
			toks = append(toks, token{kind: tNumber, text: src[i:j], start: i, end: j})
			i = j
		case isNameStart(c):
			j := i
			for j < len(src) && isNameChar(src[j]) {
				j++
			}
			word := src[i:j]
			// t'…', h'…', b'…'
			if (word == "t" || word == "h" || word == "b") && j < len(src) && src[j] == '\'' {
				s, n, err := lexString(src, j)
				if err != nil {
					return nil, err
				}
				k := map[string]tokKind{"t": tTime, "h": tHex, "b": tBinary}[word]
				toks = append(toks, token{kind: k, text: s, start: i, end: n})
				i = n
				continue
			}
			up := strings.ToUpper(word)
			if observationWords[up] {
				return nil, &SyntaxError{i, fmt.Sprintf("STIX observation operator %s is not supported in playbook conditions", up)}
			}
			if keywords[up] {
				toks = append(toks, token{kind: tKeyword, text: up, start: i, end: j})
				i = j
				continue
			}
			t := token{kind: tIdent, text: word, start: i}
			if strings.HasPrefix(word, "__") && strings.HasSuffix(word, "__") && len(word) > 4 {
				t.kind = tVar
				if strings.HasPrefix(src[j:], ":value") {
					t.hasValue = true
					j += len(":value")
				}
			} else if j < len(src) && src[j] == ':' {
				return nil, &SyntaxError{j, fmt.Sprintf("%q is not a variable: write __name__:value", src[i:j])}
			}
			t.rootEnd = j
			path, n, err := lexPath(src, j)
			if err != nil {
				return nil, err
			}
			t.path, t.end = path, n
			toks = append(toks, t)
			i = n
		default:
			return nil, &SyntaxError{i, fmt.Sprintf("unexpected character %q", c)}
		}
		_ = start
	}
}

// lexString reads a single-quoted string with \' and \\ escapes.
func lexString(src string, i int) (string, int, error) {
	var b strings.Builder
	j := i + 1
	for j < len(src) {
		switch src[j] {
		case '\\':
			if j+1 >= len(src) || (src[j+1] != '\'' && src[j+1] != '\\') {
				return "", 0, &SyntaxError{j, `only \' and \\ escapes are allowed in strings`}
			}
			b.WriteByte(src[j+1])
			j += 2
		case '\'':
			return b.String(), j + 1, nil
		default:
			b.WriteByte(src[j])
			j++
		}
	}
	return "", 0, &SyntaxError{i, "unterminated string"}
}

// lexPath reads `.key`, `.'key'`, `[n]` and `['key']` elements that
// immediately follow an operand.
func lexPath(src string, j int) ([]pathElem, int, error) {
	var path []pathElem
	for j < len(src) {
		if len(path) >= MaxPath {
			return nil, 0, &SyntaxError{j, fmt.Sprintf("path longer than %d elements", MaxPath)}
		}
		switch src[j] {
		case '.':
			j++
			if j < len(src) && src[j] == '\'' {
				s, n, err := lexString(src, j)
				if err != nil {
					return nil, 0, err
				}
				path = append(path, pathElem{key: s})
				j = n
				continue
			}
			k := j
			for k < len(src) && isNameChar(src[k]) {
				k++
			}
			if k == j {
				return nil, 0, &SyntaxError{j, "a key is expected after '.'"}
			}
			path = append(path, pathElem{key: src[j:k]})
			j = k
		case '[':
			if j+1 < len(src) && src[j+1] == '\'' {
				s, n, err := lexString(src, j+1)
				if err != nil {
					return nil, 0, err
				}
				if n >= len(src) || src[n] != ']' {
					return nil, 0, &SyntaxError{n, "']' expected"}
				}
				path = append(path, pathElem{key: s})
				j = n + 1
				continue
			}
			k := j + 1
			for k < len(src) && src[k] >= '0' && src[k] <= '9' {
				k++
			}
			if k == j+1 || k >= len(src) || src[k] != ']' || k-j > 7 {
				// Not an index: a '[' that opens a bracketed expression.
				return path, j, nil
			}
			n := 0
			for _, d := range src[j+1 : k] {
				n = n*10 + int(d-'0')
			}
			path = append(path, pathElem{idx: n, isIdx: true})
			j = k + 1
		default:
			return path, j, nil
		}
	}
	return path, j, nil
}
