package intel

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestImportSTIXBundle(t *testing.T) {
	res, err := ImportSTIX(openTestdata(t, "stix/bundle.json"), "example-stix")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		t.Logf("problem: %v", p)
	}
	tests := []struct {
		kind       Kind
		value      string
		tlp        TLP
		confidence int
		active     bool
		revoked    bool
		validUntil string // RFC 3339, "" = not checked
		labels     []string
	}{
		{KindIPv4, "203.0.113.10", TLPGreen, 85, true, false, "2027-01-01T00:00:00Z",
			[]string{"malicious-activity", "attack.command_and_control"}},
		{KindDomain, "c2.evil.example", TLPAmber, 70, true, false, "2025-04-01T00:00:00Z",
			[]string{"malware:Cobalt Strike", "attack-pattern:Web Protocols", "attack.t1071.001"}},
		{KindIPv6, "2001:db8:bad::1", TLPAmber, 70, true, false, "2025-01-31T00:00:00Z", nil},
		{KindURL, "http://evil.example/a~b/gate.php?id=1", TLPAmber, 70, true, false, "", nil},
		{KindSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", TLPAmberStrict, 95, true, false, "2026-01-01T00:00:00Z", nil},
		{KindMD5, "d41d8cd98f00b204e9800998ecf8427e", TLPAmberStrict, 95, true, false, "", nil},
		{KindSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", TLPAmberStrict, 95, true, false, "", nil},
		{KindCIDR4, "198.51.100.0/24", TLPRed, 60, true, false, "", nil},
		{KindCIDR4, "203.0.113.0/25", TLPRed, 60, true, false, "", nil},
		{KindEmail, "phisher@evil.example", "", DefaultConfidence, true, false, "", nil},
		{KindDomain, "revoked.example", "", DefaultConfidence, true, true, "", nil},
		{KindDomain, "expired.example", "", DefaultConfidence, true, false, "2020-01-01T00:00:00Z", nil},
		{KindDomain, "new-version.example", "", DefaultConfidence, true, false, "", nil},
		{KindDomain, "unknown-marking.example", TLPAmber, DefaultConfidence, true, false, "", nil},
		{KindIPv4, "10.20.30.40", "", DefaultConfidence, false, false, "", nil},
		{KindURL, "https://cdn.evil.example/payload.bin", "", DefaultConfidence, true, false, "", nil},
	}
	for _, tt := range tests {
		in := find(t, res.Indicators, tt.kind, tt.value)
		if in == nil {
			continue
		}
		if len(in.Sources) != 1 {
			t.Errorf("%s: %d sources", tt.value, len(in.Sources))
			continue
		}
		s := in.Sources[0]
		if s.Feed != "example-stix" || !strings.HasPrefix(s.ID, "indicator--") || s.Modified.IsZero() {
			t.Errorf("%s: provenance %+v", tt.value, s)
		}
		if s.TLP != tt.tlp || s.Confidence != tt.confidence || s.Active != tt.active || s.Revoked != tt.revoked {
			t.Errorf("%s: tlp %q conf %d active %v revoked %v, want %q %d %v %v",
				tt.value, s.TLP, s.Confidence, s.Active, s.Revoked, tt.tlp, tt.confidence, tt.active, tt.revoked)
		}
		if tt.validUntil != "" && !s.ValidUntil.Equal(date(tt.validUntil)) {
			t.Errorf("%s: valid_until %v, want %s", tt.value, s.ValidUntil, tt.validUntil)
		}
		for _, l := range tt.labels {
			if !slices.Contains(s.Labels, l) {
				t.Errorf("%s: labels %v lack %q", tt.value, s.Labels, l)
			}
		}
	}
	// the older version of indicator 8 is ignored
	for _, in := range res.Indicators {
		if in.Value == "old-version.example" {
			t.Error("older version of an object was imported")
		}
	}
	// unsupported patterns are kept as context
	patterns := 0
	for _, in := range res.Indicators {
		if in.Kind == KindPattern {
			patterns++
			if in.Sources[0].Active {
				t.Errorf("pattern %q is active", in.Value)
			}
		}
	}
	if patterns != 5 { // tier 2, tier 3, sigma, syntax error, 2.0 START/STOP
		t.Errorf("%d pattern indicators, want 5", patterns)
	}
	for _, want := range []struct{ where, msg string }{
		{"objects[14] indicator--a1000000-0000-4000-8000-000000000009", "comparisons combined with AND"},
		{"objects[15] indicator--a1000000-0000-4000-8000-000000000010", "FOLLOWEDBY"},
		{"objects[16]", "pattern_type \"sigma\""},
		{"objects[17]", "pattern does not parse: offset 31: expected ']'"},
		{"objects[18]", "confidence 150"},
		{"objects[19] indicator--a1000000-0000-4000-8000-000000000014", "no pattern"},
		{"objects[20]", "10.20.30.40 is a private address"},
		{"objects[24]", "no spec_version"},
		{"objects[24]", "STIX 2.0 form"},
		{"objects[25]", "not a STIX object"},
		{"objects[26] indicator--a1000000-0000-4000-8000-000000000018", "malformed indicator"},
	} {
		if !hasProblem(res, want.where, want.msg) {
			t.Errorf("no problem %q at %q", want.msg, want.where)
		}
	}
	if res.Skipped["stix:identity"] != 1 || res.Skipped["stix:malware"] != 1 {
		t.Errorf("skipped %v", res.Skipped)
	}
	if res.Items != 28 {
		t.Errorf("items %d, want 28", res.Items)
	}
}

func TestImportSTIXShapes(t *testing.T) {
	one := `{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001","created":"2025-01-01T00:00:00Z","modified":"2025-01-01T00:00:00Z","pattern":"[domain-name:value = 'x.example']","pattern_type":"stix","valid_from":"2025-01-01T00:00:00Z"}`
	for name, in := range map[string]string{
		"single object": one,
		"array":         "[" + one + "]",
		"envelope":      `{"more":false,"objects":[` + one + `]}`,
	} {
		res, err := ImportSTIX(strings.NewReader(in), "f")
		if err != nil || len(res.Indicators) != 1 {
			t.Errorf("%s: %v %d indicators", name, err, len(res.Indicators))
		}
	}
	for name, in := range map[string]string{
		"empty":        "",
		"not json":     "hello",
		"no type":      `{"id":"x"}`,
		"objects type": `{"type":"bundle","objects":{}}`,
	} {
		if _, err := ImportSTIX(strings.NewReader(in), "f"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestImportSTIXDefaultTTL(t *testing.T) {
	in := `{"type":"bundle","id":"bundle--1","objects":[
	{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001","created":"2025-01-01T00:00:00Z","modified":"2025-03-01T00:00:00Z","pattern":"[ipv4-addr:value = '198.51.100.1'] OR [file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']","pattern_type":"stix","valid_from":"2025-01-01T00:00:00Z"}]}`
	res, err := ImportSTIXOptions(strings.NewReader(in), Options{Feed: "f"})
	if err != nil {
		t.Fatal(err)
	}
	// TTL counts from the last (re)assertion: modified, not valid_from
	ip := find(t, res.Indicators, KindIPv4, "198.51.100.1")
	md5 := find(t, res.Indicators, KindMD5, "d41d8cd98f00b204e9800998ecf8427e")
	if ip == nil || md5 == nil {
		return
	}
	if got, want := ip.Sources[0].ValidUntil, date("2025-03-01T00:00:00Z").Add(30*24*time.Hour); !got.Equal(want) {
		t.Errorf("ip valid_until %v, want %v", got, want)
	}
	if got, want := md5.Sources[0].ValidUntil, date("2025-03-01T00:00:00Z").Add(365*24*time.Hour); !got.Equal(want) {
		t.Errorf("md5 valid_until %v, want %v", got, want)
	}
}
