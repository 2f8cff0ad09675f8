// Package termsafe makes untrusted text safe to print on a terminal.
//
// Event fields, host names, token and rule names reach the CLI from people
// and machines we do not trust. A terminal acts on what it is sent: an
// escape sequence in a user name can retitle the window, clear the screen,
// move the cursor over earlier lines or, with bidi overrides, show text in
// an order other than its bytes. Everything printed for a person goes
// through this package; machine formats (JSON) do not.
package termsafe

import (
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Field returns s unchanged when every rune is printable and s does not
// start with a double quote; otherwise s quoted with Go escapes (\x1b,
// \n, \u202e, \" and \\), like git quotes unusual path names. A printed
// value is therefore unambiguous: one that starts with " is quoted (and
// Unfield gives the bytes back), any other is the value itself. Ordinary
// values, DOMAIN\user included, print as they are.
func Field(s string) string {
	if plain(s) {
		return s
	}
	return strconv.Quote(s)
}

// Unfield reverses Field.
func Unfield(s string) (string, error) {
	if len(s) == 0 || s[0] != '"' {
		return s, nil
	}
	return strconv.Unquote(s)
}

func plain(s string) bool {
	if len(s) > 0 && s[0] == '"' {
		return false
	}
	for _, r := range s {
		// unicode.IsPrint excludes C0 and C1 controls, DEL, format
		// characters (bidi overrides and isolates, zero-width joiners)
		// and every space but ' '. A bad byte decodes as RuneError,
		// which is printable, so look for it explicitly.
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Unsafe reports whether a rune must not reach a terminal raw inside
// free text: controls (C0, DEL, C1) but newline and tab, format characters
// (bidi overrides, zero-width characters) and the Unicode line and
// paragraph separators.
func Unsafe(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// Text escapes what Unsafe names, and bytes that are not UTF-8, in
// free text that keeps its lines (messages, multi-line errors): \x1b for
// a byte, \u202e for a rune. Unlike Field it is not reversible; it is
// meant for prose, not for values.
func Text(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || Unsafe(r) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	return string(appendText(nil, []byte(s), true))
}

// appendText appends p escaped to dst. With final false, an incomplete
// UTF-8 sequence at the end of p is left out, for the caller to complete
// with the next write; the number of bytes consumed is len(p) minus it.
func appendText(dst, p []byte, final bool) []byte {
	dst, _ = appendTextN(dst, p, final)
	return dst
}

func appendTextN(dst, p []byte, final bool) ([]byte, int) {
	const hex = "0123456789abcdef"
	i := 0
	for i < len(p) {
		if !final && !utf8.FullRune(p[i:]) {
			break
		}
		r, n := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, '\\', 'x', hex[p[i]>>4], hex[p[i]&15])
		case r < utf8.RuneSelf && Unsafe(r):
			dst = append(dst, '\\', 'x', hex[r>>4], hex[r&15])
		case Unsafe(r) && r <= 0xffff:
			dst = append(dst, '\\', 'u')
			for s := 12; s >= 0; s -= 4 {
				dst = append(dst, hex[r>>s&15])
			}
		case Unsafe(r):
			// Cf has runes beyond the BMP (language tags, U+E0001...).
			dst = append(dst, '\\', 'U')
			for s := 28; s >= 0; s -= 4 {
				dst = append(dst, hex[r>>s&15])
			}
		default:
			dst = append(dst, p[i:i+n]...)
		}
		i += n
	}
	return dst, i
}

// Writer escapes what Unsafe names in everything written through it. It is
// the CLI's last line of defence: a value a command forgot to pass
// through Field still cannot drive the terminal (it can at most add a line).
type Writer struct {
	w       io.Writer
	pending []byte // an incomplete UTF-8 sequence from the last Write
	buf     []byte
}

// NewWriter wraps w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Raw is the wrapped writer, for exact machine output (JSON).
func (w *Writer) Raw() io.Writer { return w.w }

// Write escapes p; a multi-byte rune split across writes is kept until it
// is complete.
func (w *Writer) Write(p []byte) (int, error) {
	in := p
	if len(w.pending) > 0 {
		in = append(w.pending, p...)
	}
	out, n := appendTextN(w.buf[:0], in, false)
	w.pending = append(w.pending[:0:0], in[n:]...)
	w.buf = out[:0]
	if _, err := w.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes out an incomplete sequence left by the last Write, escaped
// as the bytes it is.
func (w *Writer) Flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	out := appendText(nil, w.pending, true)
	w.pending = nil
	_, err := w.w.Write(out)
	return err
}

// JSON escapes, inside a JSON document, the runes Text would: as \u
// escapes, which decode to the same value, so the document means exactly
// what it meant (a consumer gets every byte of every value) and is safe
// on a terminal too. encoding/json already escapes C0 controls but leaves
// DEL, C1 and bidi characters raw. Outside strings, JSON allows only
// spaces, tabs and newlines, none of which is touched. A byte that is not
// UTF-8 (encoding/json never writes one) becomes U+FFFD, as encoding/json
// would have made it.
func JSON(doc []byte) []byte {
	const hex = "0123456789abcdef"
	var out []byte
	last := 0
	for i := 0; i < len(doc); {
		r, n := utf8.DecodeRune(doc[i:])
		bad := r == utf8.RuneError && n == 1
		if !bad && (r == '\n' || r == '\t' || r == '\r' || !Unsafe(r)) {
			i += n
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(doc)+16)
		}
		out = append(out, doc[last:i]...)
		if bad {
			r = utf8.RuneError
		}
		units := []rune{r}
		if r > 0xffff {
			r -= 0x10000
			units = []rune{0xd800 + r>>10, 0xdc00 + r&0x3ff}
		}
		for _, u := range units {
			out = append(out, '\\', 'u', hex[u>>12&15], hex[u>>8&15], hex[u>>4&15], hex[u&15])
		}
		i += n
		last = i
	}
	if out == nil {
		return doc
	}
	return append(out, doc[last:]...)
}
