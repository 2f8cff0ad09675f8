package httpin

import (
	"bytes"
	"compress/gzip"
	"reflect"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/internal/bustest"
	"github.com/riposte-soar/riposte/normalize"
)

// A gzip body sent without Content-Encoding (curl --data-binary @x.gz,
// shippers that compress by default) is recognised by its magic bytes and
// decompressed under the same limits as a declared one; it used to be
// refused line by line as invalid JSON.
func TestGzipRecognisedWithoutContentEncoding(t *testing.T) {
	tb := bustest.Start(t, 0)
	h := New(tb.Pipe, tb.M, testLimits, normalize.FromJSON, bustest.DiscardLog())
	cases := []struct {
		name       string
		req        req
		wantStatus int
		wantCode   string
		wantMsg    string
		wantRaw    []string
	}{
		{"gzip ndjson, no header", req{body: gz(t, lines("s", 3))}, 202, "", "",
			[]string{`{"msg":"s0"}`, `{"msg":"s1"}`, `{"msg":"s2"}`}},
		{"gzip chunked, no header", req{body: gz(t, lines("c", 2)), chunked: true}, 202, "", "",
			[]string{`{"msg":"c0"}`, `{"msg":"c1"}`}},
		{"gzip array, no header", req{body: gz(t, `[{"msg":"a"},{"msg":"b"}]`)}, 202, "", "",
			[]string{`{"msg":"a"}`, `{"msg":"b"}`}},
		// The limits apply to what it decompresses to, as with the header.
		{"over max_body_bytes after decompression", req{body: gz(t, paddedLines("Z", 20))}, 413, "body_too_large", "after decompression", nil},
		{"over max_batch_events", req{body: gz(t, lines("n", 21))}, 413, "batch_too_large", "max_batch_events", nil},
		{"magic bytes, then no gzip", req{body: []byte("\x1f\x8bnot gzip at all")}, 400, "bad_body", "gzip's magic bytes", nil},
		{"truncated", req{body: gz(t, lines("t", 50))[:40]}, 400, "bad_body", "", nil},
		// Plain bodies, even of one byte, are still read as they are.
		{"one plain byte", req{body: []byte("{")}, 400, "", "", nil},
		{"plain ndjson", req{body: []byte(lines("p", 2))}, 202, "", "", []string{`{"msg":"p0"}`, `{"msg":"p1"}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := post(t, h, c.req)
			if a.status != c.wantStatus {
				t.Fatalf("status %d, want %d (answer %+v %+v)", a.status, c.wantStatus, a.Result, a.Error)
			}
			if c.wantCode != "" && (a.Error == nil || a.Error.Code != c.wantCode || !strings.Contains(a.Error.Message, c.wantMsg)) {
				t.Errorf("error %+v, want code %q saying %q", a.Error, c.wantCode, c.wantMsg)
			}
			if got := raws(tb.Stored(t)); !reflect.DeepEqual(got, append([]string{}, c.wantRaw...)) {
				t.Errorf("stored %q, want %q", got, c.wantRaw)
			}
		})
	}
}

// Whatever the body, sniffing never panics, and a compressed body sent
// without the header gets the answer its plain text gets.
func FuzzGzipSniff(f *testing.F) {
	f.Add([]byte(`{"msg":"x"}`), true)
	f.Add([]byte("\x1f\x8b"), false)
	f.Add([]byte("\x1f"), false)
	f.Add([]byte(""), true)
	tb := bustest.Start(f, 0)
	h := New(tb.Pipe, tb.M, testLimits, normalize.FromJSON, bustest.DiscardLog())
	f.Fuzz(func(t *testing.T, body []byte, compress bool) {
		// A plain body that itself starts with the magic bytes is taken
		// for gzip: only other bodies must store the same either way.
		if compress && !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(body)
			w.Close()
			plain := post(t, h, req{body: body})
			tb.Stored(t)
			sniffed := post(t, h, req{body: b.Bytes()})
			tb.Stored(t)
			if plain.status != sniffed.status || plain.Accepted != sniffed.Accepted || plain.Rejected != sniffed.Rejected {
				t.Fatalf("plain %d %+v, gzip without header %d %+v", plain.status, plain.Result, sniffed.status, sniffed.Result)
			}
			return
		}
		post(t, h, req{body: body})
		tb.Stored(t)
	})
}
