package termsafe

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile is what finding 6 of issue 10 sent as a Windows user name: set
// the window title, ring the bell, clear the screen.
const hostile = "\x1b]0;pwned\a\x1b[2J"

func TestField(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"web-01", "web-01"},
		{`CORP\alice`, `CORP\alice`},
		{`CORP\nick`, `CORP\nick`}, // a backslash alone is not an escape
		{"Zoë 李", "Zoë 李"},
		{"", ""},
		{hostile, `"\x1b]0;pwned\a\x1b[2J"`},
		{"a\nb", `"a\nb"`},
		{"a\tb", `"a\tb"`},
		{"csi\u009b2J", `"csi\u009b2J"`},
		{"evil\u202egpj.exe", `"evil\u202egpj.exe"`},
		{"del\x7f", `"del\x7f"`},
		{"bad\xffbyte", `"bad\xffbyte"`},
		{`"quoted"`, `"\"quoted\""`}, // a value that looks quoted is quoted
		{`\x1b`, `\x1b`},             // literal text: not quoted, so not an escape
	} {
		got := Field(tc.in)
		if got != tc.want {
			t.Errorf("Field(%q) = %s, want %s", tc.in, got, tc.want)
		}
		back, err := Unfield(got)
		if err != nil || back != tc.in {
			t.Errorf("Unfield(%s) = %q, %v; want %q", got, back, err, tc.in)
		}
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"line one\nline two\n", "line one\nline two\n"},
		{"col\tcol", "col\tcol"},
		{"user " + hostile + " failed", `user \x1b]0;pwned\x07\x1b[2J failed`},
		{"cr\r over", `cr\x0d over`},
		{"c1 \u0085\u009b", `c1 \u0085\u009b`},
		{"bidi \u202e \u2066 \u200f", `bidi \u202e \u2066 \u200f`},
		{"tag \U000E0041", `tag \U000e0041`},
		{"lone \x9b byte", `lone \x9b byte`},
		{"fine: Zoë", "fine: Zoë"},
	} {
		if got := Text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestWriterSplitRune: a bidi override split across two writes (as a
// tabwriter or a small buffer may do) is still caught.
func TestWriterSplitRune(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	s := []byte("x\u202ey\xe2")
	for _, b := range s {
		if _, err := w.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), `x\u202ey\xe2`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// safeBytes checks that s holds nothing a terminal acts on: no control
// byte but those allowed, valid UTF-8, no unsafe rune.
func safeBytes(t *testing.T, what, s string, allowNL bool) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("%s: %q is not UTF-8", what, s)
	}
	for _, r := range s {
		if (r == '\n' || r == '\t') && allowNL {
			continue
		}
		if r < 0x20 || r == 0x7f || Unsafe(r) {
			t.Fatalf("%s: %q holds %U", what, s, r)
		}
	}
}

func FuzzField(f *testing.F) {
	for _, s := range []string{"", "web-01", hostile, `CORP\x1b`, `"`, "\u202e", "\xff\xfe", "\u0085", "\"\\x1b\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Field(s)
		safeBytes(t, "Field", got, false)
		back, err := Unfield(got)
		if err != nil || back != s {
			t.Fatalf("Unfield(Field(%q)) = %q, %v", s, back, err)
		}
		if got != s && !strings.HasPrefix(got, `"`) {
			t.Fatalf("Field(%q) = %q changed an unquoted value", s, got)
		}
	})
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"", "a\nb", hostile, "\u202e", "\xe2\x80", "\U000E0041"} {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, s string, chunk uint8) {
		got := Text(s)
		safeBytes(t, "Text", got, true)
		if strings.Count(got, "\n") != strings.Count(s, "\n") {
			t.Fatalf("Text(%q) = %q changed the lines", s, got)
		}
		// The writer, fed in chunks of any size, escapes the same way.
		var out bytes.Buffer
		w := NewWriter(&out)
		n := int(chunk%7) + 1
		for i := 0; i < len(s); i += n {
			if _, err := w.Write([]byte(s[i:min(i+n, len(s))])); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != got {
			t.Fatalf("Writer in chunks of %d wrote %q, Text %q", n, out.String(), got)
		}
	})
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{"", hostile, "\u202e\u0085\x7f", "\U000E0041", "a\nb\tc", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc, err := json.MarshalIndent(map[string]any{"v": s, "list": []string{s, "x"}}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got := JSON(doc)
		safeBytes(t, "JSON", string(got), true)
		var a, b any
		if err := json.Unmarshal(doc, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("JSON(%s) = %s is not JSON: %v", doc, got, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("JSON(%s) = %s decodes to %v, not %v", doc, got, b, a)
		}
	})
}

func TestJSONExact(t *testing.T) {
	doc, _ := json.Marshal(map[string]string{"user": hostile + "\u202e\u0085\x7f"})
	got := JSON(doc)
	if want := `{"user":"\u001b]0;pwned\u0007\u001b[2J\u202e\u0085\u007f"}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	var v map[string]string
	if err := json.Unmarshal(got, &v); err != nil || v["user"] != hostile+"\u202e\u0085\x7f" {
		t.Fatalf("decoded %q, %v", v["user"], err)
	}
}
