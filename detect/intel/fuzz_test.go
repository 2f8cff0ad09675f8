package intel

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/riposte-soar/riposte/event"
)

// checkResult asserts what every importer promises for any input.
func checkResult(t *testing.T, res Result) {
	t.Helper()
	ix := NewIndex(Config{})
	for _, in := range res.Indicators {
		if in.Value == "" || len(in.Sources) != 1 {
			t.Fatalf("bad indicator %+v", in)
		}
		if _, err := ParseKind(string(in.Kind)); err != nil || in.Kind == "" {
			t.Fatalf("bad kind %q", in.Kind)
		}
		if in.Kind != KindPattern {
			// importer output is already normal
			k, v, err := normalize(in.Kind, in.Value, true)
			if err != nil || k != in.Kind || v != in.Value {
				t.Fatalf("%s %q is not normal: %s %q %v", in.Kind, in.Value, k, v, err)
			}
		}
	}
	_ = ix.Add("fuzz", res.Indicators)
	if len(res.Problems) > MaxProblems {
		t.Fatalf("%d problems kept", len(res.Problems))
	}
}

func addFiles(f *testing.F, glob string) {
	files, _ := filepath.Glob(glob)
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
}

func FuzzImportSTIX(f *testing.F) {
	addFiles(f, "testdata/stix/*.json")
	f.Add([]byte(`{"type":"bundle","objects":[{"type":"indicator","id":"indicator--1","pattern":"[ipv4-addr:value = '1.2.3.4'] OR [domain-name:value IN ('a.b', 'c.d')]","pattern_type":"stix","valid_from":"2025-01-01T00:00:00Z","confidence":1e308}]}`))
	f.Add([]byte(`[{"type":"marking-definition","id":"m","definition_type":"tlp","definition":{"tlp":7}}]`))
	f.Add([]byte(`{"type":"indicator","id":"indicator--x","pattern":"[file:hashes.'SHA-256' = 'zz' AND NOT EXISTS a:b] REPEATS 2 TIMES"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ImportSTIX(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		checkResult(t, res)
	})
}

func FuzzImportMISPEvent(f *testing.F) {
	addFiles(f, "testdata/misp/*.json")
	f.Add([]byte(`{"Event":{"Attribute":[{"type":"domain|ip","value":"a.example|::ffff:1.2.3.4","to_ids":"1"},{"type":"ip-dst|port","value":"|"}],"Object":[{"Attribute":[{"type":"regkey|value","value":"HKLM\\x|y"}]}]}}`))
	f.Add([]byte(`{"response":[{"Event":{"Tag":[{"name":"tlp:"}],"threat_level_id":{}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ImportMISPEvent(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		checkResult(t, res)
	})
}

func FuzzImportCSV(f *testing.F) {
	addFiles(f, "testdata/csv/*")
	f.Add([]byte("\"a\",\"b\nc\"\n*.x.example\n0.0.0.0 y.example ; z\n"))
	f.Add([]byte("\ufeffindicator\n hxxps[://]evil[.]example/a b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, co := range []CSVOptions{
			{Feed: "lines"},
			{Feed: "csv", Format: "csv", Column: "url", LabelColumns: []string{"tags"}, HostLevel: true},
			{Feed: "hdr", Header: true, Delimiter: ';'},
			{Feed: "sub", Kind: KindDomain, Match: MatchSubdomains, AllowSingleLabel: true},
		} {
			res, err := ImportCSV(bytes.NewReader(data), co)
			if err != nil {
				continue
			}
			checkResult(t, res)
		}
	})
}

func FuzzParsePattern(f *testing.F) {
	for _, p := range []string{
		"[ipv4-addr:value = '1.2.3.4']",
		"([a:b[*].c NOT MATCHES 'x' AND EXISTS a:d] OR [b:c IN (1, 2.5, t'2025-01-01T00:00:00Z', h'00', b'AA==', true)]) WITHIN 5 SECONDS FOLLOWEDBY [x:y >= -1]",
		"[a:b = 'x'] START '2025-01-01T00:00:00Z' STOP t'2025-01-02T00:00:00Z'",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, _, err := parsePattern(s)
		if err == nil {
			tier1(n)
		}
	})
}

// FuzzIndexMatchIP checks matching against a brute-force longest-prefix
// search, for any value in any field.
func FuzzIndexMatchIP(f *testing.F) {
	nets := []string{"198.51.100.0/24", "198.51.0.0/16", "198.51.100.128/25", "2001:db8::/32", "2001:db8:bad::/48", "0.0.0.0/1"}
	addrs := []string{"198.51.100.7", "2001:db8:bad::1", "203.0.113.1"}
	ix := NewIndex(Config{})
	var inds []Indicator
	for _, n := range nets {
		k, v, _ := Normalize(KindCIDR4, n)
		inds = append(inds, Indicator{Kind: k, Value: v, Match: MatchExact, Sources: []Source{{Feed: "f", Active: true, Confidence: 50}}})
	}
	for _, a := range addrs {
		inds = append(inds, mk(f, KindIPv4, a, Source{Feed: "f", Active: true, Confidence: 50}))
	}
	if err := ix.Add("f", inds); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"198.51.100.7", "198.51.100.200", "::ffff:198.51.100.9", "2001:db8:bad::ffff", "fe80::1%eth0", "[2001:db8::1]", "1.1.1.1", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got []Hit
		ix.Match(&event.Event{Fields: map[string]any{"destination.ip": s}}, now, func(h Hit) { got = append(got, h) })
		// also throw the value at every other field: no panics
		for _, fld := range MatchedFields() {
			ix.Match(&event.Event{Fields: map[string]any{fld[0]: s, "related.ip": []any{s, s}}}, now, func(Hit) {})
		}
		a, ok := parseObservedIP(s)
		want := ""
		if ok {
			best := -1
			for _, in := range inds {
				var p netip.Prefix
				if in.Kind == KindIPv4 || in.Kind == KindIPv6 {
					x := netip.MustParseAddr(in.Value)
					p = netip.PrefixFrom(x, x.BitLen())
				} else {
					p = netip.MustParsePrefix(in.Value)
				}
				if p.Contains(a) && p.Bits() > best {
					best, want = p.Bits(), in.Value
				}
			}
		}
		switch {
		case want == "" && len(got) != 0:
			t.Fatalf("%q: unexpected hit %s", s, got[0].Indicator.Value)
		case want != "" && (len(got) != 1 || got[0].Indicator.Value != want):
			t.Fatalf("%q: hits %v, want %s", s, got, want)
		}
	})
}
