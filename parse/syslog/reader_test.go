package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// oc frames s with octet counting.
func oc(s string) string { return fmt.Sprintf("%d %s", len(s), s) }

// collect drains a Reader into a readable transcript: "frame" for a frame,
// "toolong:N" for a skipped frame, "unexpected-eof" and "err:..." for
// errors. It stops at io.EOF or any error that is not expected to be
// followed by more frames.
func collect(t testing.TB, rd *Reader, limit int) []string {
	t.Helper()
	var out []string
	for range limit {
		f, err := rd.Next()
		var tl *FrameTooLongError
		switch {
		case err == nil:
			out = append(out, string(f))
			continue
		case errors.Is(err, io.EOF):
			return out
		case errors.As(err, &tl):
			out = append(out, fmt.Sprintf("toolong:%d", tl.Length))
			continue
		case errors.Is(err, io.ErrUnexpectedEOF):
			out = append(out, "unexpected-eof")
			continue // the next call must report io.EOF
		default:
			return append(out, "err:"+err.Error())
		}
	}
	t.Fatalf("Reader did not reach EOF after %d calls; got %q", limit, out)
	return nil
}

// readers wraps an input in ways that split it differently, since framing
// must not depend on where reads happen to end.
var readers = map[string]func(string) io.Reader{
	"whole":    func(s string) io.Reader { return strings.NewReader(s) },
	"onebyte":  func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
	"halfread": func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
	"dataerr":  func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
}

func TestReader(t *testing.T) {
	m1 := "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed"
	m2 := "<38>Oct  3 09:15:02 bastion sshd[51234]: Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2"
	multi := "<13>1 - h app - - - line one\nline two" // only octet counting can carry an LF
	tests := []struct {
		name string
		max  int
		in   string
		want []string
	}{
		{"octet counting", 1024, oc(m1) + oc(m2) + oc(multi), []string{m1, m2, multi}},
		{"octet counting with LF after each frame", 1024, oc(m1) + "\n" + oc(m2) + "\r\n", []string{m1, m2}},
		{"LF", 1024, m1 + "\n" + m2 + "\n", []string{m1, m2}},
		{"CRLF, NUL and blank lines", 1024, m1 + "\r\n\n\r\n" + m2 + "\x00" + m1 + "\x00\n", []string{m1, m2, m1}},
		{"final LF frame without newline", 1024, m1 + "\n" + m2, []string{m1, m2}},
		{"mixed", 1024, oc(m1) + m2 + "\n" + oc(multi) + m1 + "\n" + oc(m2), []string{m1, m2, multi, m1, m2}},
		{"line starting with digits", 1024, "2024-10-03T09:15:02Z host app: x\n12345\n", []string{"2024-10-03T09:15:02Z host app: x", "12345"}},
		{"long digit run is a line", 1024, "1234567890 text\n", []string{"1234567890 text"}},
		{"zero-length octet frame", 1024, "0 " + oc(m1), []string{m1}},
		{"empty stream", 1024, "", nil},
		{"only separators", 1024, "\n\r\n\x00", nil},
		{"octet frame exactly max", 5, "5 abcde6 abcdef5 vwxyz", []string{"abcde", "toolong:6", "vwxyz"}},
		{"LF frame exactly max", 5, "abcde\nabcde\r\nabcdef\nvwxyz", []string{"abcde", "abcde", "toolong:6", "vwxyz"}},
		{"oversize octet frame then normal", 64, oc(strings.Repeat("x", 500)) + oc(m1[:60]), []string{"toolong:500", m1[:60]}},
		{"oversize LF frame then normal", 64, strings.Repeat("y", 5000) + "\n" + m1[:60] + "\n", []string{"toolong:5000", m1[:60]}},
		{"oversize LF frame at EOF", 64, m1[:10] + "\n" + strings.Repeat("y", 300), []string{m1[:10], "toolong:300"}},
		{"oversize count far beyond buffer", 64, "999999999 abc", []string{"unexpected-eof"}},
		{"EOF mid octet frame", 1024, oc(m1) + "100 <13>1 - - -", []string{m1, "unexpected-eof"}},
		{"EOF in octet count", 1024, oc(m1) + "12", []string{m1, "unexpected-eof"}},
		{"EOF after octet count", 1024, "12 ", []string{"unexpected-eof"}},
	}
	for _, tt := range tests {
		for rname, wrap := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				got := collect(t, NewReader(wrap(tt.in), tt.max), len(tt.in)+3)
				if !slices.Equal(got, tt.want) {
					t.Errorf("got  %q\nwant %q", got, tt.want)
				}
			})
		}
	}
}

func TestReaderManyFrames(t *testing.T) {
	// Far more data than the initial buffer, so compaction and growth run.
	var in strings.Builder
	var want []string
	for i := range 5000 {
		msg := fmt.Sprintf("<13>Oct  3 09:15:02 host app[%d]: %s", i, strings.Repeat("z", i%700))
		want = append(want, msg)
		if i%3 == 0 {
			in.WriteString(oc(msg))
		} else {
			in.WriteString(msg + "\n")
		}
	}
	for rname, wrap := range readers {
		got := collect(t, NewReader(wrap(in.String()), 1024), len(want)+2)
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %d frames, want %d; frames differ", rname, len(got), len(want))
		}
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("<13>a\n<13>b"), iotest.ErrReader(boom))
	rd := NewReader(r, 100)
	if f, err := rd.Next(); err != nil || string(f) != "<13>a" {
		t.Fatalf("Next = %q, %v", f, err)
	}
	// The unterminated "<13>b" may be cut short: an error, not a frame.
	for range 2 {
		if _, err := rd.Next(); !errors.Is(err, boom) {
			t.Fatalf("Next error = %v, want %v", err, boom)
		}
	}
}

func TestReaderNoProgress(t *testing.T) {
	rd := NewReader(zeroReader{}, 100)
	if _, err := rd.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("Next error = %v, want io.ErrNoProgress", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderDefaultMax(t *testing.T) {
	big := strings.Repeat("a", defaultMaxSize)
	rd := NewReader(strings.NewReader(big+"\n"+big+"b\n"), 0)
	if f, err := rd.Next(); err != nil || len(f) != defaultMaxSize {
		t.Fatalf("Next = %d bytes, %v", len(f), err)
	}
	var tl *FrameTooLongError
	if _, err := rd.Next(); !errors.As(err, &tl) || tl.Length != defaultMaxSize+1 || tl.Max != defaultMaxSize {
		t.Fatalf("Next error = %v, want FrameTooLongError", err)
	}
	if tl.Error() != "syslog: frame of 65537 bytes exceeds the maximum of 65536" {
		t.Errorf("Error() = %q", tl.Error())
	}
}

func BenchmarkReader(b *testing.B) {
	msg := "<38>Oct  3 09:15:02 bastion sshd[51234]: Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2"
	var buf bytes.Buffer
	for i := range 1000 {
		if i%2 == 0 {
			buf.WriteString(oc(msg))
		} else {
			buf.WriteString(msg + "\n")
		}
	}
	data := buf.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rd := NewReader(bytes.NewReader(data), 8192)
		for {
			if _, err := rd.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}
