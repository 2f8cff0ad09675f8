package stixpattern

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// lexAll reads every token of src, as both parsers do.
func lexAll(src string) ([]Token, error) {
	var out []Token
	for i := 0; ; {
		t, err := Next(src, i)
		if err != nil {
			return out, err
		}
		out = append(out, t)
		if t.Kind == EOF {
			return out, nil
		}
		if t.End <= i {
			panic("lexer did not advance")
		}
		i = t.End
	}
}

func TestNext(t *testing.T) {
	tests := []struct {
		src  string
		kind []Kind
		text []string
	}{
		{"[ipv4-addr:value = '198.51.100.1']",
			[]Kind{LBrack, Ident, Colon, Ident, Op, String, RBrack, EOF},
			[]string{"[", "ipv4-addr", ":", "value", "=", "198.51.100.1", "]", ""}},
		{`'it\'s \\ ok'`, []Kind{String, EOF}, []string{`it's \ ok`, ""}},
		{"a == b <> c != d <= e >= f < g > h",
			[]Kind{Ident, Op, Ident, Op, Ident, Op, Ident, Op, Ident, Op, Ident, Op, Ident, Op, Ident, EOF},
			[]string{"a", "==", "b", "<>", "c", "!=", "d", "<=", "e", ">=", "f", "<", "g", ">", "h", ""}},
		{"12 -3 +4 1.5 -0.25 2e3 1.5E-2", []Kind{Int, Int, Int, Float, Float, Float, Float, EOF},
			[]string{"12", "-3", "+4", "1.5", "-0.25", "2e3", "1.5E-2", ""}},
		{"t'2025-01-01T00:00:00Z' h'00ff' b'aGk=' h''", []Kind{Timestamp, Hex, Binary, Hex, EOF},
			[]string{"2025-01-01T00:00:00Z", "00ff", "aGk=", "", ""}},
		{"to_refs[*].value", []Kind{Ident, LBrack, Star, RBrack, Dot, Ident, EOF},
			[]string{"to_refs", "[", "*", "]", ".", "value", ""}},
		{"t h b tag", []Kind{Ident, Ident, Ident, Ident, EOF}, []string{"t", "h", "b", "tag", ""}},
		{"REPEATS 5TIMES", []Kind{Ident, Int, Ident, EOF}, []string{"REPEATS", "5", "TIMES", ""}},
	}
	for _, tt := range tests {
		toks, err := lexAll(tt.src)
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		var kinds []Kind
		var texts []string
		for _, tk := range toks {
			kinds = append(kinds, tk.Kind)
			texts = append(texts, tk.Text)
		}
		if len(kinds) != len(tt.kind) {
			t.Errorf("%q: kinds %v, want %v", tt.src, kinds, tt.kind)
			continue
		}
		for i := range kinds {
			if kinds[i] != tt.kind[i] || texts[i] != tt.text[i] {
				t.Errorf("%q: token %d = %v %q, want %v %q", tt.src, i, kinds[i], texts[i], tt.kind[i], tt.text[i])
			}
		}
	}
}

func TestNextDecodesTypedLiterals(t *testing.T) {
	toks, err := lexAll("t'2025-01-02T03:04:05.5+01:00' h'0aFF' b'aGVsbG8='")
	if err != nil {
		t.Fatal(err)
	}
	if got := toks[0].Time.UTC().Format("2006-01-02T15:04:05.0Z"); got != "2025-01-02T02:04:05.5Z" {
		t.Errorf("timestamp decoded as %s", got)
	}
	if got := string(toks[1].Bytes); got != "\x0a\xff" {
		t.Errorf("hex decoded as %q", got)
	}
	if got := string(toks[2].Bytes); got != "hello" {
		t.Errorf("binary decoded as %q", got)
	}
}

func TestNextErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
		pos  int
	}{
		{"'abc", "unterminated string literal", 0},
		{`'a\n'`, "invalid escape", 2},
		{"a ! b", "unexpected '!'", 2},
		{"a ~ b", "unexpected character '~'", 2},
		{"é", "unexpected character 'é'", 0},
		{"t'yesterday'", "bad timestamp literal", 0},
		{"h'abc'", "bad hex literal", 0},
		{"h'zz'", "bad hex literal", 0},
		{"b'***'", "bad binary (base64) literal", 0},
		{"- 1", "'-' must start a number", 0},
		{"1.", "digits expected after '.'", 2},
		{"1e+", "digits expected in the exponent", 3},
	}
	for _, tt := range tests {
		_, err := lexAll(tt.src)
		var le *Error
		if !errors.As(err, &le) || !strings.Contains(le.Msg, tt.want) || le.Pos != tt.pos {
			t.Errorf("%q: error %v, want %q at offset %d", tt.src, err, tt.want, tt.pos)
		}
	}
}

func TestComparisonOp(t *testing.T) {
	tests := []struct {
		tok  Token
		want string // "" for not an operator
	}{
		{Token{Kind: Op, Text: "=="}, "="}, {Token{Kind: Op, Text: "="}, "="},
		{Token{Kind: Op, Text: "<>"}, "!="}, {Token{Kind: Op, Text: "!="}, "!="},
		{Token{Kind: Op, Text: "<="}, "<="}, {Token{Kind: Ident, Text: "like"}, "LIKE"},
		{Token{Kind: Ident, Text: "IsSubSet"}, "ISSUBSET"}, {Token{Kind: Ident, Text: "in"}, "IN"},
		{Token{Kind: Ident, Text: "matches"}, "MATCHES"}, {Token{Kind: Ident, Text: "issuperset"}, "ISSUPERSET"},
		{Token{Kind: Ident, Text: "CONTAINS"}, ""}, {Token{Kind: Ident, Text: "AND"}, ""},
		{Token{Kind: String, Text: "IN"}, ""},
	}
	for _, tt := range tests {
		got, ok := ComparisonOp(tt.tok)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("ComparisonOp(%v %q) = %q %v, want %q", tt.tok.Kind, tt.tok.Text, got, ok, tt.want)
		}
	}
}

func TestLiteralOf(t *testing.T) {
	tests := []struct {
		src  string
		want string // kind and decoded value; "-" when not a literal
	}{
		{"'a b'", "string a b"},
		{"+12", "int 12"},
		{"-3", "int -3"},
		{"12.0", "float 12"},
		{"2e3", "float 2000"},
		{"99999999999999999999", "float 1e+20"},
		{"TRUE", "bool true"},
		{"False", "bool false"},
		{"t'2025-01-01T00:00:00+02:00'", "time 2024-12-31T22:00:00Z"},
		{"h'00ff'", "bytes 00ff"},
		{"b'AP8='", "bytes 00ff"},
		{"name", "-"},
		{"(", "-"},
	}
	for _, tt := range tests {
		tok, err := Next(tt.src, 0)
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		l, ok, err := LiteralOf(tok)
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		got := "-"
		if ok {
			switch l.Kind {
			case String:
				got = "string " + l.Text
			case Int:
				got = fmt.Sprintf("int %d", l.Int)
			case Float:
				got = fmt.Sprintf("float %g", l.Float)
			case Bool:
				got = fmt.Sprintf("bool %v", l.Bool)
			case Timestamp:
				got = "time " + l.Time.UTC().Format(time.RFC3339)
			case Hex, Binary:
				got = fmt.Sprintf("bytes %x", l.Bytes)
			}
			if l.Kind == Int && !l.IsInt {
				got = fmt.Sprintf("float %g", l.Float)
			}
		}
		if got != tt.want {
			t.Errorf("LiteralOf(%q) = %s, want %s", tt.src, got, tt.want)
		}
	}
	tok, _ := Next("1e999", 0)
	if _, _, err := LiteralOf(tok); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("1e999: error %v, want out of range", err)
	}
}

// FuzzNext checks that the lexer never panics, always advances, and keeps
// offsets inside the input.
func FuzzNext(f *testing.F) {
	for _, s := range []string{
		"[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS",
		`__x__:value.a['b'][0] IN (1, -2.5e3, t'2025-01-01T00:00:00Z', h'00', b'AA==', true)`,
		`'\'' '\\' '`, "1e", "+", "!=", "é",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for i := 0; ; {
			tk, err := Next(src, i)
			if err != nil {
				var le *Error
				if !errors.As(err, &le) || le.Pos < i || le.Pos > len(src) {
					t.Fatalf("bad error %v at %d", err, i)
				}
				return
			}
			if tk.Pos < i || tk.End > len(src) || tk.Pos > tk.End {
				t.Fatalf("token %+v out of range after %d", tk, i)
			}
			if tk.Kind == EOF {
				return
			}
			if tk.End == i {
				t.Fatalf("no progress at %d", i)
			}
			i = tk.End
		}
	})
}
