package jsonfast

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

type (
	obj = map[string]any
	arr = []any
	num = json.Number
)

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`{}`, obj{}},
		{`[]`, arr{}},
		{" \t\r\n{ \n } \r\n\t", obj{}},
		{`[ ]`, arr{}},
		{`null`, nil},
		{`true`, true},
		{`false`, false},
		{`""`, ""},
		{`"a"`, "a"},
		{`0`, num("0")},
		{`-0`, num("-0")},
		{`-0.0e-0`, num("-0.0e-0")},
		{`1E+2`, num("1E+2")},
		{`1e400`, num("1e400")},
		{`2.5e-400`, num("2.5e-400")},
		{`12345678901234567890123456789`, num("12345678901234567890123456789")},
		{`-9223372036854775809`, num("-9223372036854775809")},
		{`[1,"a",true,false,null,{},[]]`, arr{num("1"), "a", true, false, nil, obj{}, arr{}}},
		{"[\t1 ,\r\n2 ]\n", arr{num("1"), num("2")}},
		{`{"a":{"b":[{"c":null}]}}`, obj{"a": obj{"b": arr{obj{"c": nil}}}}},
		{`{"a":1,"a":2}`, obj{"a": num("2")}},
		{`{"a":{"x":1},"a":[2]}`, obj{"a": arr{num("2")}}},
		// Escapes.
		{`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t"},
		{`"\u0041\u00e9\u20AC\u0000"`, "A\u00e9\u20ac\x00"},
		{`{"k\u0000ey":"v"}`, obj{"k\x00ey": "v"}},
		{`"x\ty"`, "x\ty"},
		{"\"\x7f\"", "\x7f"},
		// Surrogates: valid pair, lone high, lone low, reversed, high+high+low.
		{`"\ud83d\ude00"`, "\U0001F600"},
		{`"\uD83D\uDE00"`, "\U0001F600"},
		{`"\ud83d"`, "\uFFFD"},
		{`"\ud83dx"`, "\uFFFDx"},
		{`"\ude00"`, "\uFFFD"},
		{`"\ude00\ud83d"`, "\uFFFD\uFFFD"},
		{`"\ud800\ud800\udc00"`, "\uFFFD\U00010000"},
		{`"\ud800\u0041"`, "\uFFFDA"},
		{`"\ud800\n"`, "\uFFFD\n"},
		// UTF-8: valid multi-byte passes through; each invalid byte becomes U+FFFD.
		{"\"h\u00e9llo \u20ac \U0001F600\"", "h\u00e9llo \u20ac \U0001F600"},
		{"\"\xff\"", "\uFFFD"},
		{"\"a\xffb\xfe\"", "a\uFFFDb\uFFFD"},
		{"\"\xe2\x82\"", "\uFFFD\uFFFD"},                     // truncated sequence
		{"\"\xed\xa0\x80\"", "\uFFFD\uFFFD\uFFFD"},           // UTF-8 encoded surrogate
		{"\"\xc0\xaf\"", "\uFFFD\uFFFD"},                     // overlong '/'
		{"\"\xf4\x90\x80\x80\"", "\uFFFD\uFFFD\uFFFD\uFFFD"}, // above U+10FFFF
		{"\"\xef\xbf\xbd\"", "\uFFFD"},                       // a real U+FFFD stays
		{"\"\xff\\n\"", "\uFFFD\n"},                          // invalid UTF-8 and an escape
		{"{\"\xff\":1,\"\xfe\":2}", obj{"\uFFFD": num("2")}},
		// Members whose key and value share an allocation, and the
		// neighbouring cases that must not.
		{`{"a":"b","c":-1.5e3,"":"","d":""}`, obj{"a": "b", "c": num("-1.5e3"), "": "", "d": ""}},
		{"{\"a\" \t:\r\n \"b\"}", obj{"a": "b"}},
		{"{\"a\":        \"far\",\"n\":          7}", obj{"a": "far", "n": num("7")}},
		{`{"k":"` + strings.Repeat("x", 80) + `","n":1` + strings.Repeat("0", 80) + `}`,
			obj{"k": strings.Repeat("x", 80), "n": num("1" + strings.Repeat("0", 80))}},
		{`{"k\u0041":"v","k":"v\u0041","e":"\u00e9"}`, obj{"kA": "v", "k": "vA", "e": "\u00e9"}},
		{"{\"k\":\"a\xffb\",\"\xff\":\"v\"}", obj{"k": "a\uFFFDb", "\uFFFD": "v"}},
		{`{"k":true,"l":null,"m":[],"n":{}}`, obj{"k": true, "l": nil, "m": arr{}, "n": obj{}}},
		{`{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":10,"1":"dup"}`,
			obj{"1": "dup", "2": num("2"), "3": num("3"), "4": num("4"), "5": num("5"), "6": num("6"),
				"7": num("7"), "8": num("8"), "9": num("9"), "10": num("10")}},
	}
	for _, tt := range tests {
		got, err := Decode([]byte(tt.in))
		if err != nil {
			t.Errorf("Decode(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestDecodeInvalid(t *testing.T) {
	tests := []struct {
		in     string
		offset int64
		msg    string
	}{
		{``, 0, "unexpected end of JSON input"},
		{"  \n", 3, "unexpected end of JSON input"},
		{`x`, 0, `invalid character 'x' looking for beginning of value`},
		{`{`, 1, "unexpected end of JSON input"},
		{`[`, 1, "unexpected end of JSON input"},
		{`[1`, 2, "unexpected end of JSON input"},
		{`[1,`, 3, "unexpected end of JSON input"},
		{`{"a"`, 4, "unexpected end of JSON input"},
		{`{"a":`, 5, "unexpected end of JSON input"},
		{`{"a":1`, 6, "unexpected end of JSON input"},
		{`{"a":1,`, 7, "unexpected end of JSON input"},
		{`"abc`, 4, "unexpected end of JSON input"},
		{`"\`, 2, "unexpected end of JSON input"},
		{`"\u12`, 5, "unexpected end of JSON input"},
		{`[1,]`, 3, `invalid character ']' looking for beginning of value`},
		{`{"a":-}`, 6, `invalid character '}' in numeric literal`},
		{`{"a":-`, 6, "unexpected end of JSON input"},
		{`{"a":1.}`, 7, `invalid character '}' after decimal point`},
		{`{"a":"b`, 7, "unexpected end of JSON input"},
		{`{"a":"b\`, 8, "unexpected end of JSON input"},
		{`{"a` + "\x00" + `":1}`, 3, `invalid character '\x00' in string literal`},
		{`{"a":1,}`, 7, `invalid character '}' looking for beginning of object key string`},
		{`{a:1}`, 1, `invalid character 'a' looking for beginning of object key string`},
		{`{'a':1}`, 1, `invalid character '\'' looking for beginning of object key string`},
		{`{"a" 1}`, 5, `invalid character '1' after object key (expecting ':')`},
		{`{"a":1 "b":2}`, 7, `invalid character '"' after object key:value pair`},
		{`[1 2]`, 3, `invalid character '2' after array element`},
		{`1 2`, 2, `invalid character '2' after top-level value`},
		{`{}x`, 2, `invalid character 'x' after top-level value`},
		{`01`, 1, `invalid character '1' after top-level value`},
		{`-`, 1, "unexpected end of JSON input"},
		{`-a`, 1, `invalid character 'a' in numeric literal`},
		{`+1`, 0, `invalid character '+' looking for beginning of value`},
		{`.5`, 0, `invalid character '.' looking for beginning of value`},
		{`1.`, 2, "unexpected end of JSON input"},
		{`1.e5`, 2, `invalid character 'e' after decimal point in numeric literal`},
		{`1e`, 2, "unexpected end of JSON input"},
		{`1e+`, 3, "unexpected end of JSON input"},
		{`1ex`, 2, `invalid character 'x' in exponent of numeric literal`},
		{`[NaN]`, 1, `invalid character 'N' looking for beginning of value`},
		{`tru`, 3, "unexpected end of JSON input"},
		{`trux`, 3, `invalid character 'x' in literal true (expecting 'e')`},
		{`nul`, 3, "unexpected end of JSON input"},
		{`fals3`, 4, `invalid character '3' in literal false (expecting 'e')`},
		{`True`, 0, `invalid character 'T' looking for beginning of value`},
		{"\"a\x01b\"", 2, `invalid character '\x01' in string literal`},
		{"\"a\nb\"", 2, `invalid character '\n' in string literal`},
		{"\"\xffa\x1f\"", 3, `invalid character '\x1f' in string literal`},
		{`"\x"`, 2, `invalid character 'x' in string escape code`},
		{`"\'"`, 2, `invalid character '\'' in string escape code`},
		{`"\u12g4"`, 5, `invalid character 'g' in \u hexadecimal character escape`},
		{`"\ud800\u12"`, 11, `invalid character '"' in \u hexadecimal character escape`},
		{"\xef\xbb\xbf{}", 0, `invalid character '\xef' looking for beginning of value`},
		{"\f1", 0, `invalid character '\f' looking for beginning of value`},
		{"\u00a01", 0, `invalid character '\xc2' looking for beginning of value`},
		{"1\x00", 1, `invalid character '\x00' after top-level value`},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), MaxDepth, "exceeded max nesting depth"},
		{strings.Repeat(`{"a":`, MaxDepth+1), 5 * MaxDepth, "exceeded max nesting depth"},
	}
	for _, tt := range tests {
		got, err := Decode([]byte(tt.in))
		if err == nil {
			t.Errorf("Decode(%.40q) = %#v, want error", tt.in, got)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Decode(%.40q): error %T %v is not a *SyntaxError", tt.in, err, err)
			continue
		}
		if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Decode(%.40q): error at %d %q, want at %d %q", tt.in, se.Offset, se.Msg, tt.offset, tt.msg)
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Decode(%.40q): Error() = %q does not mention %q", tt.in, err.Error(), tt.msg)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	for _, tc := range []struct {
		open, close string
	}{
		{"[", "]"},
		{`{"k":`, "}"},
		{`[{"k":`, "}]"},
	} {
		for _, depth := range []int{MaxDepth - 1, MaxDepth, MaxDepth + 1} {
			reps := depth
			if len(tc.open) > 1 && tc.open[0] == '[' { // two levels per repetition
				reps = depth / 2
				if depth%2 == 1 {
					continue
				}
			}
			in := strings.Repeat(tc.open, reps) + "0" + strings.Repeat(tc.close, reps)
			_, err := Decode([]byte(in))
			if ok := err == nil; ok != (depth <= MaxDepth) {
				t.Errorf("%s depth %d: err = %v", tc.open, depth, err)
			}
			_, stdErr := stdDecode([]byte(in))
			if (err == nil) != (stdErr == nil) {
				t.Errorf("%s depth %d: jsonfast err = %v, encoding/json err = %v", tc.open, depth, err, stdErr)
			}
		}
	}
}

func TestDecodeObject(t *testing.T) {
	m, err := DecodeObject([]byte(` {"a":[1,{"b":"c"}],"d":null} `))
	if err != nil {
		t.Fatal(err)
	}
	if want := (obj{"a": arr{num("1"), obj{"b": "c"}}, "d": nil}); !reflect.DeepEqual(m, want) {
		t.Errorf("got %#v, want %#v", m, want)
	}
	for _, tc := range []struct {
		in, msg string
		offset  int64
	}{
		{` [1]`, "not a JSON object (got an array)", 1},
		{`"s"`, "not a JSON object (got a string)", 0},
		{`12`, "not a JSON object (got a number)", 0},
		{`true`, "not a JSON object (got a boolean)", 0},
		{`null`, "not a JSON object (got null)", 0},
		{``, "unexpected end of JSON input", 0},
		{`[1`, "unexpected end of JSON input", 2},
		{`{}{}`, "after top-level value", 2},
		{`{"a":}`, "looking for beginning of value", 5},
	} {
		m, err := DecodeObject([]byte(tc.in))
		var se *SyntaxError
		if !errors.As(err, &se) || se.Msg != tc.msg && !strings.Contains(se.Msg, tc.msg) || se.Offset != tc.offset {
			t.Errorf("DecodeObject(%q) = %v, %v; want error at %d %q", tc.in, m, err, tc.offset, tc.msg)
		}
		if m != nil {
			t.Errorf("DecodeObject(%q) returned a map with its error", tc.in)
		}
	}
}

// TestDecodeDoesNotAlias checks that decoded strings do not share memory with
// the input, which the caller may reuse (a pooled read buffer).
func TestDecodeDoesNotAlias(t *testing.T) {
	in := []byte(`{"key":"value","n":123,"a":["x"]}`)
	m, err := DecodeObject(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'Z'
	}
	want := obj{"key": "value", "n": num("123"), "a": arr{"x"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("after overwriting the input: %#v, want %#v", m, want)
	}
}

// TestPoolState decodes after failures at every depth and position to make
// sure a pooled decoder carries no state from an earlier call.
func TestPoolState(t *testing.T) {
	good := []byte(`{"a":[1,2,{"b":[3,"\u00e9"]}],"c":"\\"}`)
	want, err := Decode(good)
	if err != nil {
		t.Fatal(err)
	}
	for i := range good {
		_, _ = Decode(good[:i])
		got, err := Decode(good)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("after Decode(%q): got %#v, %v", good[:i], got, err)
		}
	}
}

// TestWideNested interleaves objects and arrays that are wider than the
// in-frame member buffer, so the shared member and element stacks are used
// by several levels at once.
func TestWideNested(t *testing.T) {
	var gen func(depth int) string
	gen = func(depth int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range 12 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%d":`, i)
			switch {
			case depth > 0 && i == 9:
				b.WriteString(gen(depth - 1))
			case depth > 0 && i == 10:
				b.WriteString("[" + gen(depth-1) + ",1,[2," + gen(depth-1) + "]]")
			default:
				fmt.Fprintf(&b, `"v%d-%d"`, depth, i)
			}
		}
		b.WriteString("}")
		return b.String()
	}
	in := []byte(gen(3))
	checkSame(t, in)
	for i := range in {
		checkSame(t, in[:i])
	}
}

// TestLargeScratch decodes inputs that grow the pooled scratch space past
// what is kept, then checks that decoding still works.
func TestLargeScratch(t *testing.T) {
	big := `["` + strings.Repeat(`\n`, 70000) + `",` + strings.Repeat(`{"a":0},`, 5000) + `{"` + strings.Repeat("k", 10) + `":1}]`
	checkSame(t, []byte(big))
	var b strings.Builder
	b.WriteString("{")
	for i := range 5000 {
		fmt.Fprintf(&b, `"%d":%d,`, i, i)
	}
	b.WriteString(`"x":null}`)
	checkSame(t, []byte(b.String()))
	checkSame(t, []byte(`{"a":[1,"\u00e9"]}`))
}
