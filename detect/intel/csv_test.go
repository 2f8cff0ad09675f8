package intel

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var importTime = date("2025-07-01T00:00:00Z")

func TestImportCSVURLhaus(t *testing.T) {
	res, err := ImportCSV(openTestdata(t, "csv/urlhaus.csv"), CSVOptions{
		Feed: "urlhaus", Format: "csv", Column: "url", LabelColumns: []string{"threat", "tags"},
		Confidence: 80, TLP: TLPClear, Now: importTime, HostLevel: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		t.Logf("problem: %v", p)
	}
	u := find(t, res.Indicators, KindURL, "http://198.51.100.5:8080/bins/mozi.m")
	if u != nil {
		s := u.Sources[0]
		if s.Confidence != 80 || s.TLP != TLPClear || !s.Active || s.Ref != "line 8" ||
			!s.ValidUntil.Equal(importTime.Add(TTLName)) || !slices.Equal(s.Labels, []string{"malware_download", "elf", "mozi"}) {
			t.Errorf("url record %+v", s)
		}
	}
	find(t, res.Indicators, KindURL, "https://dropper.evil.example/Invoice.PDF?x=A%2F")
	find(t, res.Indicators, KindURL, "http://[2001:db8::bad]/x.sh")
	// host-level: the hosts are indexed too
	find(t, res.Indicators, KindIPv4, "198.51.100.5")
	find(t, res.Indicators, KindDomain, "dropper.evil.example")
	find(t, res.Indicators, KindIPv6, "2001:db8::bad")
	if !hasProblem(res, "line 10", "cannot tell what kind") {
		t.Error("bad value on line 10 not reported")
	}
	if !hasProblem(res, "line 12", "no column 3") {
		t.Error("short line 12 not reported")
	}
	if res.Errors != 2 || len(res.Indicators) != 6 {
		t.Errorf("%d errors, %d indicators", res.Errors, len(res.Indicators))
	}
}

func TestImportCSVLines(t *testing.T) {
	res, err := ImportCSV(openTestdata(t, "csv/mixed.txt"), CSVOptions{Feed: "mixed", Now: importTime})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		t.Logf("problem: %v", p)
	}
	want := []struct {
		kind  Kind
		value string
		match MatchMode
	}{
		{KindIPv4, "203.0.113.50", MatchExact},
		{KindCIDR4, "198.51.100.0/24", MatchExact},
		{KindCIDR6, "2001:db8:f00d::/48", MatchExact},
		{KindDomain, "malware-c2.example", MatchExact},
		{KindURL, "http://phish.example/login.php", MatchExact},
		{KindDomain, "evil.example.net", MatchExact},
		{KindSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", MatchExact},
		{KindMD5, "d41d8cd98f00b204e9800998ecf8427e", MatchExact},
		{KindSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", MatchExact},
		{KindEmail, "attacker@mail.example", MatchExact},
		{KindDomain, "dyn-evil.example", MatchSubdomains},
		{KindDomain, "hosts-file-entry.example", MatchExact},
		{KindIPv4, "10.0.0.5", MatchExact},
		{KindASN, "64500", MatchExact},
	}
	for _, w := range want {
		in := find(t, res.Indicators, w.kind, w.value)
		if in != nil && in.Match != w.match {
			t.Errorf("%s: match %s, want %s", w.value, in.Match, w.match)
		}
	}
	if len(res.Indicators) != len(want) {
		t.Errorf("%d indicators, want %d (duplicates merged)", len(res.Indicators), len(want))
	}
	cidr := find(t, res.Indicators, KindCIDR4, "198.51.100.0/24")
	if cidr != nil && cidr.Sources[0].Context["comment"] != "SBL123456" {
		t.Errorf("cidr context %v", cidr.Sources[0].Context)
	}
	priv := find(t, res.Indicators, KindIPv4, "10.0.0.5")
	if priv != nil && priv.Sources[0].Active {
		t.Error("private address is active")
	}
	if !hasProblem(res, "line 17", "cannot tell") || !hasProblem(res, "line 16", "private address") {
		t.Errorf("problems %v", res.Problems)
	}
	if ip := find(t, res.Indicators, KindIPv4, "203.0.113.50"); ip != nil && ip.Sources[0].Ref != "line 4" {
		t.Errorf("duplicate kept the later line: %s", ip.Sources[0].Ref)
	}
}

func TestImportCSVHeaderAndKinds(t *testing.T) {
	res, err := ImportCSV(openTestdata(t, "csv/iocs.csv"), CSVOptions{
		Feed: "partner", Header: true, Delimiter: ';', Column: "indicator",
		LabelColumns: []string{"threat"}, TTL: 7 * 24 * time.Hour, Now: importTime,
	})
	if err != nil {
		t.Fatal(err)
	}
	find(t, res.Indicators, KindIPv4, "203.0.113.77")
	find(t, res.Indicators, KindDomain, "bad-domain.example")
	find(t, res.Indicators, KindURL, "https://bad-domain.example/kit.zip")
	md5 := find(t, res.Indicators, KindMD5, "44d88612fea8a8f36de82e1278abb02f")
	if md5 != nil && (!md5.Sources[0].ValidUntil.Equal(importTime.Add(7*24*time.Hour)) || md5.Sources[0].Labels[0] != "eicar" || md5.Sources[0].Confidence != DefaultConfidence) {
		t.Errorf("md5 record %+v", md5.Sources[0])
	}
	if !hasProblem(res, "line 6", "empty value") || !hasProblem(res, "line 7", "999.1.1.1") {
		t.Errorf("problems %v", res.Problems)
	}
	// fixed kind: every value must be that kind
	res, err = ImportCSV(strings.NewReader("203.0.113.1\nexample.org\n"), CSVOptions{Feed: "ips", Kind: KindIPv4, Now: importTime})
	if err != nil || len(res.Indicators) != 1 || !hasProblem(res, "line 2", "not an IP") {
		t.Errorf("fixed kind: %v %v %v", err, res.Indicators, res.Problems)
	}
	// domain feed with subdomain matching, refusing public suffixes
	res, _ = ImportCSV(strings.NewReader("evil.example\nco.uk\n"), CSVOptions{Feed: "doms", Kind: KindDomain, Match: MatchSubdomains, Now: importTime})
	if len(res.Indicators) != 1 || res.Indicators[0].Match != MatchSubdomains || !hasProblem(res, "line 2", "public suffix") {
		t.Errorf("subdomains: %v %v", res.Indicators, res.Problems)
	}
}

func TestImportCSVConfigErrors(t *testing.T) {
	for name, co := range map[string]CSVOptions{
		"kind":      {Kind: "nope"},
		"format":    {Format: "xml"},
		"match":     {Match: "fuzzy"},
		"delimiter": {Format: "csv", Delimiter: '"'},
		"column":    {Header: true, Column: "missing"},
	} {
		if _, err := ImportCSV(strings.NewReader("a,b\n1.2.3.4,x\n"), co); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// a long line is reported and the next one still read
	res, err := ImportCSV(strings.NewReader(strings.Repeat("a", 100)+"\n203.0.113.1\n"), CSVOptions{MaxLineBytes: 50, Now: importTime})
	if err != nil || len(res.Indicators) != 1 || !hasProblem(res, "line 1", "longer than 50") {
		t.Errorf("long line: %v %v %v", err, res.Indicators, res.Problems)
	}
}
