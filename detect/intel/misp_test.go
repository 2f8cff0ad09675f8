package intel

import (
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestImportMISPFeed(t *testing.T) {
	res, err := ImportMISPFeed(os.DirFS("testdata/misp"), "circl")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		t.Logf("problem: %v", p)
	}
	const e1, e2 = "5f1c2a3b-0000-4000-8000-00000000e001", "5f1c2a3b-0000-4000-8000-00000000e002"
	tests := []struct {
		kind       Kind
		value      string
		event      string
		tlp        TLP
		confidence int
		active     bool
		context    map[string]string
		labels     []string
	}{
		{KindIPv4, "198.51.100.23", e1, TLPGreen, 90, true, map[string]string{"direction": "dst"},
			[]string{"misp-category:Network activity", "attack.t1071", `misp-galaxy:tool="Cobalt Strike"`}},
		{KindDomain, "beacon.evil-cdn.example", e1, TLPGreen, 90, true, nil, nil},
		{KindURL, "https://beacon.evil-cdn.example/jquery-3.3.1.min.js", e1, TLPGreen, 90, true, nil, nil},
		{KindMD5, "0123456789abcdef0123456789abcdef", e1, TLPGreen, 90, false, map[string]string{"inactive": "to_ids is false"}, nil},
		{KindSHA256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", e1, TLPGreen, 90, true, map[string]string{"filename": "beacon.dll"}, nil},
		{KindIPv4, "203.0.113.99", e1, TLPGreen, 90, true, map[string]string{"port": "8443"}, nil},
		{KindDomain, "update.evil-cdn.example", e1, TLPGreen, 90, true, nil, nil},
		{KindIPv4, "192.0.2.44", e1, TLPGreen, 90, true, nil, nil},
		{KindIPv4, "198.51.100.66", e1, TLPGreen, 90, false, map[string]string{"inactive": "deleted in MISP"}, []string{"misp:deleted"}},
		{KindIPv4, "198.51.100.77", e1, TLPRed, 90, true, nil, nil},
		{KindIPv4, "192.168.1.10", e1, TLPGreen, 90, false, nil, nil},
		{KindSHA1, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", e1, TLPGreen, 90, true, nil, nil},
		{KindFilename, "invoice_2025.pdf.exe", e1, TLPGreen, 90, true, nil, nil},
		{KindEmail, "billing@invoices-secure.example", e2, TLPAmber, 75, true, nil, []string{"phishing"}},
		{KindDomain, "login.invoices-secure.example", e2, TLPAmber, 75, true, nil, nil},
		{KindSHA512, "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e", e2, TLPAmber, 75, true, nil, nil},
		{KindRegKey, `hkcu\software\microsoft\windows\currentversion\run\updater`, e2, TLPAmber, 75, true, nil, nil},
		{KindUserAgent, "mozilla/4.0 (compatible; stealerbot/2.1)", e2, TLPAmber, 75, true, nil, nil},
		{KindASN, "64511", e2, TLPAmber, 75, true, nil, nil},
		{KindJA3, "e7d705a3286e19ea42f587b344ee6865", e2, TLPAmber, 75, true, nil, nil},
		{KindMutex, `global\stealerbotmtx`, e2, TLPAmber, 75, true, nil, nil},
		{KindURL, "http://login.invoices-secure.example/auth/", e2, TLPClear, 75, true, nil, nil},
	}
	for _, tt := range tests {
		in := find(t, res.Indicators, tt.kind, tt.value)
		if in == nil {
			continue
		}
		s := in.Sources[0]
		if s.Feed != "circl" || s.Event != tt.event || s.ID == "" || s.Modified.IsZero() || s.Name == "" {
			t.Errorf("%s: provenance %+v", tt.value, s)
		}
		if s.TLP != tt.tlp || s.Confidence != tt.confidence || s.Active != tt.active {
			t.Errorf("%s: tlp %q conf %d active %v, want %q %d %v", tt.value, s.TLP, s.Confidence, s.Active, tt.tlp, tt.confidence, tt.active)
		}
		for k, v := range tt.context {
			if s.Context[k] != v {
				t.Errorf("%s: context %v, want %s=%s", tt.value, s.Context, k, v)
			}
		}
		for _, l := range tt.labels {
			if !slices.Contains(s.Labels, l) {
				t.Errorf("%s: labels %v lack %q", tt.value, s.Labels, l)
			}
		}
	}
	// validity: attribute timestamp + TTL; first_seen bounds the start
	ip := find(t, res.Indicators, KindIPv4, "198.51.100.23")
	if ip != nil && !ip.Sources[0].ValidUntil.Equal(time.Unix(1748736000, 0).Add(TTLAddress)) {
		t.Errorf("ip valid_until %v", ip.Sources[0].ValidUntil)
	}
	mutex := find(t, res.Indicators, KindMutex, `global\stealerbotmtx`)
	if mutex != nil && !mutex.Sources[0].ValidFrom.Equal(date("2025-05-30T00:00:00Z")) {
		t.Errorf("mutex valid_from %v", mutex.Sources[0].ValidFrom)
	}
	for _, in := range res.Indicators {
		if in.Value == "198.51.100.250" {
			t.Error("event missing from the manifest was imported")
		}
	}
	for _, want := range []struct{ where, msg string }{
		{"Attribute[10] a0000001-0000-4000-8000-000000000011", "not-an-ip"},
		{"Attribute[11]", "192.168.1.10 is a private address"},
		{"event 5f1c2a3b-0000-4000-8000-00000000e002 Attribute[8]", "composite type filename|md5 without '|'"},
	} {
		if !hasProblem(res, want.where, want.msg) {
			t.Errorf("no problem %q at %q", want.msg, want.where)
		}
	}
	if res.Skipped["misp:text"] != 1 || res.Skipped["misp:link"] != 1 || res.Skipped["misp:vulnerability"] != 1 {
		t.Errorf("skipped %v", res.Skipped)
	}
	if res.Items != 26 {
		t.Errorf("items %d, want 26", res.Items)
	}
}

func TestImportMISPFeedProblems(t *testing.T) {
	fsys := fstest.MapFS{
		"manifest.json": {Data: []byte(`{"../../etc/passwd": {}, "5f1c2a3b-0000-4000-8000-0000000000ff": {}, "5f1c2a3b-0000-4000-8000-0000000000fe": {}}`)},
		"5f1c2a3b-0000-4000-8000-0000000000fe.json": {Data: []byte(`{"Event": {"Attribute": {}}}`)},
	}
	res, err := ImportMISPFeed(fsys, "f")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"not a uuid", "event file", "malformed MISP event"} {
		if !hasProblem(res, "", want) {
			t.Errorf("no problem %q in %v", want, res.Problems)
		}
	}
	if _, err := ImportMISPFeed(fstest.MapFS{}, "f"); err == nil {
		t.Error("feed without manifest: no error")
	}
	if _, err := ImportMISPFeed(fstest.MapFS{"manifest.json": {Data: []byte(`[]`)}}, "f"); err == nil {
		t.Error("manifest not an object: no error")
	}
}

func TestImportMISPEventShapes(t *testing.T) {
	attr := `{"type":"domain","value":"x.example","to_ids":true,"timestamp":"1748736000"}`
	for name, in := range map[string]string{
		"core":       `{"Event":{"uuid":"u","Attribute":[` + attr + `]}}`,
		"bare":       `{"uuid":"u","Attribute":[` + attr + `]}`,
		"restSearch": `{"response":[{"Event":{"uuid":"u","Attribute":[` + attr + `]}}]}`,
	} {
		res, err := ImportMISPEvent(strings.NewReader(in), "f")
		if err != nil || len(res.Indicators) != 1 || res.Indicators[0].Value != "x.example" {
			t.Errorf("%s: %v %+v", name, err, res.Indicators)
		}
	}
	for name, in := range map[string]string{"empty": "", "array": "[]", "broken": `{"Event":`} {
		if _, err := ImportMISPEvent(strings.NewReader(in), "f"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// a malformed attribute is reported and the others still load
	res, err := ImportMISPEvent(strings.NewReader(`{"Event":{"uuid":"u","threat_level_id":"2","Attribute":[{"type":"domain","value":["x"]},`+attr+`]}}`), "f")
	if err != nil || len(res.Indicators) != 1 || !hasProblem(res, "event u Attribute[0]", "malformed attribute") {
		t.Errorf("%v %+v %v", err, res.Indicators, res.Problems)
	}
	if res.Indicators[0].Sources[0].Confidence != 70 {
		t.Errorf("threat level 2 gave confidence %d", res.Indicators[0].Sources[0].Confidence)
	}
}
