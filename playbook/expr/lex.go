package expr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/riposte-soar/riposte/internal/stixpattern"
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
	st       stixpattern.Token // literals: the shared lexer's token, decoded by stixpattern.LiteralOf
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
var observationWords = stixpattern.ObservationKeywords

// IsKeyword reports whether a bare word is reserved by the language.
func IsKeyword(w string) bool {
	u := strings.ToUpper(w)
	return keywords[u] || observationWords[u]
}

func isNameStart(c byte) bool { return stixpattern.IsIdentStart(c) }
func isNameChar(c byte) bool  { return stixpattern.IsIdentChar(c) }

// simple maps the shared STIX tokens a condition uses as they are.
var simple = map[stixpattern.Kind]tokKind{
	stixpattern.LParen: tLParen, stixpattern.RParen: tRParen,
	stixpattern.LBrack: tLBrack, stixpattern.RBrack: tRBrack,
	stixpattern.Comma: tComma, stixpattern.Op: tOp,
	stixpattern.String: tString, stixpattern.Int: tNumber, stixpattern.Float: tNumber,
	stixpattern.Timestamp: tTime, stixpattern.Hex: tHex, stixpattern.Binary: tBinary,
}

// lex reads a condition with the shared STIX lexer and layers Riposte's
// additions on its identifiers: keywords, __name__:value variables, bare
// names, and dictionary paths written straight after an operand.
func lex(src string) ([]token, error) {
	if len(src) > MaxSource {
		return nil, &SyntaxError{0, fmt.Sprintf("condition is %d bytes, more than %d", len(src), MaxSource)}
	}
	var toks []token
	i := 0
	for {
		if len(toks) > MaxTokens {
			return nil, &SyntaxError{i, fmt.Sprintf("more than %d tokens", MaxTokens)}
		}
		st, err := stixpattern.Next(src, i)
		if err != nil {
			return nil, syntaxError(err)
		}
		if st.Kind == stixpattern.EOF {
			return append(toks, token{kind: tEOF, start: st.Pos, end: st.Pos}), nil
		}
		if k, ok := simple[st.Kind]; ok {
			if k == tNumber && st.End < len(src) && isNameChar(src[st.End]) {
				// 5x would otherwise read as 5 and a name.
				return nil, &SyntaxError{st.End, "unexpected character after number"}
			}
			toks = append(toks, token{kind: k, text: st.Text, start: st.Pos, end: st.End, st: st})
			i = st.End
			continue
		}
		if st.Kind != stixpattern.Ident {
			// ':' '.' '*' belong to STIX object paths, which conditions
			// write as variables.
			return nil, &SyntaxError{st.Pos, fmt.Sprintf("unexpected character %q", st.Text)}
		}
		word, j := st.Text, st.End
		up := strings.ToUpper(word)
		if observationWords[up] {
			return nil, &SyntaxError{st.Pos, fmt.Sprintf("STIX observation operator %s is not supported in playbook conditions", up)}
		}
		if keywords[up] {
			toks = append(toks, token{kind: tKeyword, text: up, start: st.Pos, end: j})
			i = j
			continue
		}
		t := token{kind: tIdent, text: word, start: st.Pos}
		if strings.HasPrefix(word, "__") && strings.HasSuffix(word, "__") && len(word) > 4 {
			t.kind = tVar
			if strings.HasPrefix(src[j:], ":value") {
				t.hasValue = true
				j += len(":value")
			}
		} else if j < len(src) && src[j] == ':' {
			return nil, &SyntaxError{j, fmt.Sprintf("%q is not a variable: write __name__:value", word)}
		}
		t.rootEnd = j
		path, n, err := lexPath(src, j)
		if err != nil {
			return nil, err
		}
		t.path, t.end = path, n
		toks = append(toks, t)
		i = n
	}
}

// syntaxError turns a shared lexer error into this package's error type.
func syntaxError(err error) error {
	var le *stixpattern.Error
	if errors.As(err, &le) {
		return &SyntaxError{le.Pos, le.Msg}
	}
	return err
}

// lexString reads a single-quoted string with \' and \\ escapes.
func lexString(src string, i int) (string, int, error) {
	s, n, err := stixpattern.ScanString(src, i)
	if err != nil {
		return "", 0, syntaxError(err)
	}
	return s, n, nil
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
