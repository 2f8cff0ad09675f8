package jsonfast

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/internal/corpus"
	"github.com/riposte-soar/riposte/internal/testenv"
)

// stdDecode is the reference: what the ingest path did before jsonfast, a
// json.Decoder with UseNumber, plus the rule that only whitespace may
// follow the value.
func stdDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	for _, c := range b[dec.InputOffset():] {
		if !isSpace(c) {
			return nil, errors.New("data after the top-level value")
		}
	}
	return v, nil
}

// checkSame fails t unless jsonfast and encoding/json agree on b.
func checkSame(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := stdDecode(b)
	got, err := Decode(b)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("input %q:\njsonfast error:      %v\nencoding/json error: %v", b, err, wantErr)
	}
	if err != nil {
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("input %q: error %T is not a *SyntaxError", b, err)
		}
		if se.Offset < 0 || se.Offset > int64(len(b)) || se.Msg == "" {
			t.Fatalf("input %q: bad error %+v", b, se)
		}
		if m, oerr := DecodeObject(b); oerr == nil || m != nil {
			t.Fatalf("input %q: Decode failed but DecodeObject = %v, %v", b, m, oerr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("input %q:\njsonfast:      %#v\nencoding/json: %#v", b, got, want)
	}
	m, oerr := DecodeObject(b)
	if _, isObj := want.(map[string]any); isObj {
		if oerr != nil || !reflect.DeepEqual(m, want) {
			t.Fatalf("input %q: DecodeObject = %#v, %v; want %#v", b, m, oerr, want)
		}
	} else if oerr == nil || m != nil || !strings.HasPrefix(oerr.(*SyntaxError).Msg, "not a JSON object") {
		t.Fatalf("input %q: DecodeObject of a non-object = %v, %v", b, m, oerr)
	}
}

// trickySeeds are the handwritten cases the fuzz test starts from, besides
// the real events from the corpus.
var trickySeeds = []string{
	`{"a\"b\\c\/d\b\f\n\r\t":"\u0041\u00e9\u20AC\u0000","":""}`,
	`["\ud83d\ude00","\ud83d","\ude00\ud83d","\ud800\ud800\udc00","\uD800\u0041","\ud800\n"]`,
	"{\"\xff\":\"a\xfeb\xe2\x82 \xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80 \xef\xbf\xbd\\n\",\"\xfe\":2}",
	`[12345678901234567890123456789,-0,0.0,-0.0e-0,1e400,1E+2,2.5e-400,-1.5E-07]`,
	`[01,1.,.5,+1,1e,-,0x10,NaN,Infinity]`,
	// Deep nesting. The limit itself (MaxDepth) is compared in
	// TestDepthLimit: 20 KB seeds would leave the fuzzer minimizing
	// instead of fuzzing for most of a short run.
	strings.Repeat(`[{"a":`, 300) + `0` + strings.Repeat(`}]`, 300),
	strings.Repeat(`[`, 1000) + strings.Repeat(`]`, 999),
	`{}`,
	`[]`,
	" \t\r\n{ \"a\" :\t[ 1 ,\r\n2 ] ,\n\"b\":{ } }\r\n ",
	"\f{}",
	"{}\x00",
	`{"a":1,"a":{"x":[true,false,null]},"a":"last"}`,
	"\"ctl \x01 del \x7f\"",
	`{"a":1,}`,
	`"\u12g4" "\x"`,
	`tru nul fals`,
	`{"event":{"code":"4688"}} {"event":{}}`,
}

// corpusEvents returns up to max events from the Sigma regression corpus,
// compacted onto one line as they arrive on the ingest path and, if pretty,
// also as stored (indented). Nil when the corpus is not on this machine.
func corpusEvents(tb testing.TB, max int, pretty bool) [][]byte {
	root := corpus.Optional("sigma/regression_data")
	if root == "" {
		return nil
	}
	var files []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return nil
	})
	slices.Sort(files)
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// A file is a stream of one or more events.
		dec := json.NewDecoder(bytes.NewReader(b))
		for len(out) < max {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err == io.EOF {
				break
			} else if err != nil {
				tb.Fatalf("%s: %v", f, err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, raw); err != nil {
				tb.Fatalf("%s: %v", f, err)
			}
			out = append(out, compact.Bytes())
			if pretty {
				out = append(out, slices.Clone(raw))
			}
		}
		if len(out) >= max {
			break
		}
	}
	return out
}

func TestDifferentialCorpus(t *testing.T) {
	corpus.Dir(t, "sigma/regression_data")
	events := corpusEvents(t, 1<<20, true)
	testenv.Need(t, len(events) > 0, "events in the corpus folder sigma/regression_data")
	for _, e := range events {
		checkSame(t, e)
	}
	t.Logf("%d events agree", len(events))
}

// TestDifferentialMutations runs every tricky seed and a few corpus events
// through systematic damage (every truncation, every single-byte
// replacement with a byte that matters to the grammar) and compares.
func TestDifferentialMutations(t *testing.T) {
	inputs := [][]byte{}
	for _, s := range trickySeeds {
		if len(s) < 1000 {
			inputs = append(inputs, []byte(s))
		}
	}
	inputs = append(inputs, corpusEvents(t, 4, true)...)
	subst := []byte("\x00\x1f \t\n\"\\/{}[]:,.-+0159eEuUabfnrtx\x7f\x80\xbf\xc2\xe2\xed\xf0\xf4\xff")
	n := 0
	for _, in := range inputs {
		for i := 0; i <= len(in); i++ {
			checkSame(t, in[:i])
			checkSame(t, in[i:])
			n += 2
		}
		if len(in) > 400 {
			continue
		}
		buf := slices.Clone(in)
		for i := range in {
			for _, c := range subst {
				buf[i] = c
				checkSame(t, buf)
				n++
			}
			buf[i] = in[i]
		}
	}
	t.Logf("%d inputs agree", n)
}

func FuzzDecode(f *testing.F) {
	for _, e := range corpusEvents(f, 12, false) {
		f.Add(e)
	}
	for _, s := range trickySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSame(t, b)
	})
}

// FuzzDecodeShared checks that the shared-string decoder returns exactly
// what the copying one does.
func FuzzDecodeShared(f *testing.F) {
	f.Add([]byte(`{"a":"b","c":1.5,"d":[1,"x\n"],"e":{"f":null}}`))
	f.Add([]byte(`{"k":"v\u00e9","n":-0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m1, err1 := DecodeObject(b)
		m2, err2 := DecodeObjectShared(b)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("errors differ: %v vs %v", err1, err2)
		}
		if err1 == nil && !reflect.DeepEqual(m1, m2) {
			t.Fatalf("results differ:\n%#v\n%#v", m1, m2)
		}
	})
}
