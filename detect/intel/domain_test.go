package intel

import (
	"strings"
	"testing"
)

// Non-ASCII names are mapped as a resolver maps them (UTS 46), so every
// spelling of one name is one indicator.
func TestDomainIDNA(t *testing.T) {
	cases := []struct {
		in, want string // want "": refused
	}{
		{"münchen.example", "xn--mnchen-3ya.example"},
		{"MÜNCHEN.Example.", "xn--mnchen-3ya.example"},
		{"xn--mnchen-3ya.example", "xn--mnchen-3ya.example"},
		// full-width letters and the ideographic full stop map to ASCII
		{"ｅｖｉｌ。example", "evil.example"},
		{"例え。テスト", "xn--r8jz45g.xn--zckzah"},
		// UTS 46 non-transitional: ß and ς stay themselves
		{"faß.de", "xn--fa-hia.de"},
		{"παράδειγμα.ελ", "xn--hxajbheg2az3al.xn--qxam"},
		// a soft hyphen is mapped away, as resolvers do
		{"ev\u00adil.example", "evil.example"},
		{"_dmarc.example.com", "_dmarc.example.com"},
		// not host names
		{"ex ample.example", ""},
		{"mün chen.example", ""},
		{"a\u202eb.example", ""},
		{"münchen..example", ""},
		{"-münchen.example", ""},
		{strings.Repeat("ü", 64) + ".example", ""},
	}
	for _, c := range cases {
		b, ok := appendDomain(nil, c.in)
		got := string(b)
		if !ok {
			got = ""
		}
		if got != c.want {
			t.Errorf("%q → %q, want %q", c.in, got, c.want)
		}
	}
}

// Subdomain matching is refused on every public suffix of the Public
// Suffix List, multi-label and private ones included; the stand-in list
// before knew only a few hundred.
func TestSubdomainsOnPublicSuffix(t *testing.T) {
	cases := []struct {
		domain string
		public bool
	}{
		{"co.uk", true},
		{"github.io", true},
		{"s3.eu-west-1.amazonaws.com", true},
		{"kawasaki.jp", false}, // *.kawasaki.jp is public, kawasaki.jp itself a registrable name
		{"anything.kawasaki.jp", true},
		{"city.kawasaki.jp", false}, // an exception to the wildcard
		{"公司.cn", true},
		{"pages.dev", true},
		{"blogspot.co.uk", false},
		{"com", true},
		{"evil.co.uk", false},
		{"attacker.github.io", false},
		{"evil.example", false},
		{"evil.münchen.museum", false},
	}
	for _, c := range cases {
		ix := NewIndex(Config{})
		err := ix.Add("f", []Indicator{{Kind: KindDomain, Value: c.domain, Match: MatchSubdomains, Sources: []Source{src("f", 80)}}})
		if c.public && (err == nil || !strings.Contains(err.Error(), "public suffix")) {
			t.Errorf("%s: subdomains accepted (err %v), want refused as a public suffix", c.domain, err)
		}
		if !c.public && err != nil {
			t.Errorf("%s: %v, want accepted", c.domain, err)
		}
	}
	res, _ := ImportCSV(strings.NewReader("evil.example\ngithub.io\nevil.github.io\nCO.UK\n"),
		CSVOptions{Feed: "doms", Kind: KindDomain, Match: MatchSubdomains, Now: importTime})
	if len(res.Indicators) != 2 || !hasProblem(res, "line 2", "public suffix") || !hasProblem(res, "line 4", "public suffix") {
		t.Errorf("CSV import: %v %v", res.Indicators, res.Problems)
	}
}

// An IDN indicator with subdomain matching catches a subdomain written in
// Unicode, upper case or punycode in an event.
func TestIDNSubdomainMatch(t *testing.T) {
	ix := NewIndex(Config{})
	must(t, ix.Add("f", []Indicator{{Kind: KindDomain, Value: "BÜCHER-evil.co.uk", Match: MatchSubdomains, Sources: []Source{src("f", 80)}}}))
	for _, name := range []string{"www.bücher-evil.co.uk", "WWW.BÜCHER-EVIL.CO.UK.", "a.xn--bcher-evil-9db.co.uk"} {
		e := ev(map[string]any{"dns.question.name": name})
		if got := hits(ix, e, now); len(got) != 1 {
			t.Errorf("%s: hits %v, want the indicator", name, got)
		}
	}
	if got := hits(ix, ev(map[string]any{"dns.question.name": "bücher-evil.co.uk.example"}), now); len(got) != 0 {
		t.Errorf("a longer name matched: %v", got)
	}
}
