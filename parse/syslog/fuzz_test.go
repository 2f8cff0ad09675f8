package syslog

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add([]byte(tt.in))
	}
	for _, s := range []string{
		"", "<", "<>", "<1", "<191>", "<13>1 ", "<13>1 - - - - - [", `<13>1 - - - - - [a b="\`,
		`<13>1 - - - - - [a b="\]\"\\" c="d"][a e="f"]` + "\xEF\xBB\xBF\xEF\xBB\xBFx",
		"<13>1 9999-12-31T23:59:59.999999999-23:59 h a p m - x",
		"<13>1 0000-01-01T00:00:00+23:59 h a p m - x",
		"<13>Jan  1 00:00:00 h a: x", "Feb 29 2023 12:00:00 h a: x", "Oct 3 1:2:3 h",
		"<13>2024-10-03 h a: x", "<13>oct 03 09:15:02.1234567891 h t[: x",
		"<7>Oct  3 09:15:02 h t[]: x", "<7>Oct  3 09:15:02 :", "<13>99 - x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data, testNow)
		if err != nil {
			if !isZeroMessage(m) {
				t.Errorf("Parse returned %+v with error %v", m, err)
			}
			if e := err.Error(); !strings.HasPrefix(e, "syslog: ") || len(e) > 512 { // quote() keeps each quoted part to 64 input bytes
				t.Errorf("error %q is unprefixed or unbounded", e)
			}
			return
		}
		checkValid(t, data, m)

		// The MSG of one message is itself fed to Parse by relays that
		// wrap messages; whatever it yields must be valid too.
		if m2, err := Parse([]byte(m.Message), testNow); err == nil {
			checkValid(t, []byte(m.Message), m2)
		}

		if m.Format == format5424 {
			out := render5424(m)
			m2, err := Parse([]byte(out), testNow)
			if err != nil {
				t.Fatalf("re-parsing %q (rendered from %q): %v", out, data, err)
			}
			sameMessage(t, m2, m)
		}
	})
}

func isZeroMessage(m Message) bool {
	return m.Format == "" && m.Facility == 0 && m.Severity == 0 && m.Timestamp.IsZero() &&
		m.Hostname == "" && m.AppName == "" && m.ProcID == "" && m.MsgID == "" &&
		m.StructuredData == nil && m.Message == ""
}

// checkValid checks what every successfully parsed Message must satisfy.
func checkValid(t *testing.T, in []byte, m Message) {
	t.Helper()
	if m.Format != format5424 && m.Format != format3164 {
		t.Errorf("Format = %q", m.Format)
	}
	if (m.Facility == -1) != (m.Severity == -1) || m.Facility < -1 || m.Facility > 23 || m.Severity < -1 || m.Severity > 7 {
		t.Errorf("Facility, Severity = %d, %d", m.Facility, m.Severity)
	}
	if m.Format == format5424 && m.Facility == -1 {
		t.Errorf("rfc5424 without PRI")
	}
	for _, f := range []string{m.Hostname, m.AppName, m.ProcID, m.MsgID} {
		if strings.Contains(f, " ") {
			t.Errorf("header field %q contains a space", f)
		}
		if m.Format == format5424 && f == "-" {
			t.Errorf("NILVALUE leaked into a field: %+v", m)
		}
	}
	trimmed := strings.TrimRight(string(in), "\r\n\x00")
	if !strings.HasSuffix(trimmed, m.Message) {
		t.Errorf("Message %q is not the tail of the input %q", m.Message, in)
	}
	if m.StructuredData != nil && len(m.StructuredData) == 0 {
		t.Errorf("empty non-nil StructuredData")
	}
	for id, params := range m.StructuredData {
		if !validSDName(id) || params == nil {
			t.Errorf("bad SD-ID %q (params %v)", id, params)
		}
		for name := range params {
			if !validSDName(name) {
				t.Errorf("bad SD-PARAM name %q", name)
			}
		}
	}
	if !m.Timestamp.IsZero() && (m.Timestamp.Year() < 0 || m.Timestamp.Year() > 9999) {
		t.Errorf("Timestamp %v out of range", m.Timestamp)
	}
}

func validSDName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isSDName(s[i]) {
			return false
		}
	}
	return true
}

// render5424 writes m back as RFC 5424, so that parsing the result must give
// m again.
func render5424(m Message) string {
	var b strings.Builder
	b.WriteString("<" + strconv.Itoa(m.Facility*8+m.Severity) + ">1 ")
	if m.Timestamp.IsZero() {
		b.WriteString("-")
	} else {
		b.WriteString(m.Timestamp.Format(time.RFC3339Nano))
	}
	for _, f := range []string{m.Hostname, m.AppName, m.ProcID, m.MsgID} {
		if f == "" {
			f = "-"
		}
		b.WriteString(" " + f)
	}
	b.WriteString(" ")
	if m.StructuredData == nil {
		b.WriteString("-")
	}
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)
	for _, id := range sortedKeys(m.StructuredData) {
		b.WriteString("[" + id)
		for _, name := range sortedKeys(m.StructuredData[id]) {
			b.WriteString(" " + name + `="` + esc.Replace(m.StructuredData[id][name]) + `"`)
		}
		b.WriteString("]")
	}
	b.WriteString(" ")
	if strings.HasPrefix(m.Message, bom) {
		b.WriteString(bom) // Parse strips one BOM; keep the one that was part of MSG
	}
	b.WriteString(m.Message)
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func FuzzReader(f *testing.F) {
	m := "<13>1 - host app - - - hello"
	for _, s := range []string{
		oc(m) + oc(m), m + "\n" + m + "\r\n", oc(m) + m + "\n" + oc(m) + "\n",
		"5 abcde6 abcdef5 vwxyz", "abcde\nabcdef\r\nvw\x00xyz", "12", "12 abc", "0 0 0 \n",
		"999999999 x", "1234567890 x\n", strings.Repeat("y", 200) + "\nok",
	} {
		f.Add([]byte(s), uint8(5))
		f.Add([]byte(s), uint8(40))
	}
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		maxSize := int(size)%64 + 1
		var results [][]string
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.OneByteReader,
			iotest.HalfReader,
		} {
			rd := NewReader(wrap(bytes.NewReader(data)), maxSize)
			var got []string
			for calls := 0; ; calls++ {
				// Every call consumes at least a byte or ends the stream.
				if calls > len(data)+2 {
					t.Fatalf("no EOF after %d calls on %d bytes", calls, len(data))
				}
				frame, err := rd.Next()
				var tl *FrameTooLongError
				if err == nil {
					if len(frame) == 0 || len(frame) > maxSize {
						t.Fatalf("frame of %d bytes with maxSize %d", len(frame), maxSize)
					}
					got = append(got, string(frame))
					continue
				}
				if frame != nil {
					t.Fatalf("frame %q returned with error %v", frame, err)
				}
				if errors.As(err, &tl) {
					if tl.Length <= maxSize || tl.Max != maxSize {
						t.Fatalf("FrameTooLongError %+v with maxSize %d", tl, maxSize)
					}
					got = append(got, "toolong:"+strconv.Itoa(tl.Length))
					continue
				}
				if err == io.ErrUnexpectedEOF {
					got = append(got, "unexpected-eof")
					continue
				}
				if err != io.EOF {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			results = append(results, got)
		}
		// Framing must not depend on how the stream was split into reads.
		for _, r := range results[1:] {
			if !slices.Equal(r, results[0]) {
				t.Fatalf("framing depends on read sizes:\n%q\n%q", results[0], r)
			}
		}
	})
}
