package intel

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/event"
	norm "github.com/riposte-soar/riposte/normalize"
)

// normalized runs raw JSON through Riposte's normalizer, as ingest does.
func normalized(t testing.TB, raw string) *event.Event {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		t.Fatal(err)
	}
	e := &event.Event{ID: "01JZTEST000000000000000000", Time: now, Received: now}
	norm.FromJSON(obj, e)
	return e
}

// matchIndex loads the STIX, MISP and CSV fixtures into one index.
func matchIndex(t testing.TB) *Index {
	t.Helper()
	ix := NewIndex(Config{})
	stix, err := ImportSTIX(openTestdata(t, "stix/bundle.json"), "stix")
	must(t, err)
	misp, err := ImportMISPFeedDir("testdata/misp", "misp")
	must(t, err)
	lines, err := ImportCSV(openTestdata(t, "csv/mixed.txt"), CSVOptions{Feed: "lines", Now: date("2025-06-30T00:00:00Z")})
	must(t, err)
	ix.Update(func(tx *Tx) {
		must(t, tx.Replace("stix", stix.Indicators))
		must(t, tx.Replace("misp", misp.Indicators))
		must(t, tx.Replace("lines", lines.Indicators))
	})
	return ix
}

// matchNow is inside the fixtures' validity windows (MISP addresses
// expire 30 days after 2025-06-01).
var matchNow = date("2025-06-15T12:00:00Z")

func TestMatchEvents(t *testing.T) {
	ix := matchIndex(t)
	tests := []struct {
		name string
		raw  string
		want []string // field=kind:value
	}{
		{
			"sysmon 3 network connection (flat, OTRF)",
			`{"SourceName":"Microsoft-Windows-Sysmon","Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Hostname":"WS03.example.local","Image":"C:\\Tools\\agent.exe","User":"EXAMPLE\\dave","Protocol":"tcp","SourceIp":"192.0.2.10","SourcePort":"49700","DestinationIp":"203.0.113.10","DestinationPort":"443","DestinationHostname":"update.evil-cdn.example"}`,
			[]string{"destination.ip=ipv4:203.0.113.10", "DestinationHostname=domain:update.evil-cdn.example"},
		},
		{
			"sysmon 1 process create (winlogbeat) with Hashes",
			`{"@timestamp":"2025-07-01T10:15:30Z","host":{"name":"ws01"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","computer_name":"WS01","event_id":"1","provider_name":"Microsoft-Windows-Sysmon","event_data":{"Image":"C:\\Users\\alice\\Downloads\\loader.exe","CommandLine":"loader.exe","User":"CORP\\alice","Hashes":"SHA1=DA39A3EE5E6B4B0D3255BFEF95601890AFD80709,MD5=0123456789ABCDEF0123456789ABCDEF,SHA256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855,IMPHASH=D41D8CD98F00B204E9800998ECF8427E"}}}`,
			[]string{"file.hash.sha1=sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709", "file.hash.sha256=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		},
		{
			"sysmon 22 DNS query",
			`{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":22,"Hostname":"WS03","Image":"C:\\Windows\\System32\\svchost.exe","QueryName":"x.y.dyn-evil.example","QueryStatus":"0","QueryResults":"::ffff:198.51.100.23;"}`,
			[]string{"QueryName=domain:dyn-evil.example"},
		},
		{
			"sysmon 13 registry value set",
			`{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":13,"EventType":"SetValue","TargetObject":"HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater","Details":"C:\\x.exe"}`,
			[]string{`TargetObject=regkey:hkcu\software\microsoft\windows\currentversion\run\updater`},
		},
		{
			"sysmon 11 file create: TargetFilename is a name, not a hash",
			`{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":11,"Image":"C:\\x.exe","TargetFilename":"C:\\Users\\bob\\AppData\\Local\\Temp\\Invoice_2025.pdf.EXE"}`,
			[]string{"file.path=filename:invoice_2025.pdf.exe"},
		},
		{
			"ECS web proxy event",
			`{"@timestamp":"2025-07-01T10:00:00Z","host":{"name":"proxy01"},"source":{"ip":"10.1.2.3"},"destination":{"ip":"198.51.100.77","domain":"update.evil-cdn.example"},"url":{"full":"https://Beacon.Evil-CDN.example/jquery-3.3.1.min.js","domain":"beacon.evil-cdn.example"},"user_agent":{"original":"Mozilla/4.0 (compatible; StealerBot/2.1)"},"tls":{"client":{"ja3":"e7d705a3286e19ea42f587b344ee6865"}},"related":{"ip":["10.1.2.3","198.51.100.77"]}}`,
			[]string{"destination.ip=ipv4:198.51.100.77", "destination.domain=domain:update.evil-cdn.example",
				"url.full=url:https://beacon.evil-cdn.example/jquery-3.3.1.min.js", "url.domain=domain:beacon.evil-cdn.example",
				"user_agent.original=user_agent:mozilla/4.0 (compatible; stealerbot/2.1)", "tls.client.ja3=ja3:e7d705a3286e19ea42f587b344ee6865"},
		},
		{
			"ECS mail event",
			`{"email":{"from":{"address":["Billing@Invoices-Secure.example"]},"to":{"address":["alice@corp.example"]}},"source":{"as":{"number":64511}}}`,
			[]string{"email.from.address=email:billing@invoices-secure.example", "source.as.number=asn:64511"},
		},
		{
			"generic JSON firewall log (aliases)",
			`{"src_ip":"2001:db8:f00d::99","dst_ip":"::ffff:203.0.113.50","action":"allow"}`,
			[]string{"destination.ip=ipv4:203.0.113.50", "source.ip=cidr6:2001:db8:f00d::/48"},
		},
		{
			"private, revoked, expired, inactive: no hit; a deleted address falls back to its listed network",
			`{"source":{"ip":"192.168.1.10"},"destination":{"ip":"198.51.100.66"},"dns":{"question":{"name":"revoked.example"}},"url":{"domain":"expired.example"},"file":{"hash":{"md5":"0123456789abcdef0123456789abcdef"}},"host":{"ip":"10.20.30.40"}}`,
			[]string{"destination.ip=cidr4:198.51.100.0/24"},
		},
	}
	for _, tt := range tests {
		e := normalized(t, tt.raw)
		got := hits(ix, e, matchNow)
		slices.Sort(got)
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", tt.name, got, want)
		}
	}
}

func TestMatchRawWindowsNames(t *testing.T) {
	ix := matchIndex(t)
	// events whose normalization added no ECS twins
	e := &event.Event{Fields: map[string]any{
		"Hashes":        "SHA1=0000000000000000000000000000000000000000,MD5=D41D8CD98F00B204E9800998ECF8427E,IMPHASH=0123456789ABCDEF0123456789ABCDEF",
		"DestinationIp": "203.0.113.10",
		"QueryName":     "Login.Invoices-Secure.example.",
		"SourceIp":      "2001:db8:f00d::1",
	}}
	got := hits(ix, e, matchNow)
	slices.Sort(got)
	want := []string{"DestinationIp=ipv4:203.0.113.10", "Hashes=md5:d41d8cd98f00b204e9800998ecf8427e",
		"QueryName=domain:login.invoices-secure.example", "SourceIp=cidr6:2001:db8:f00d::/48"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestMatchedFields(t *testing.T) {
	fields := MatchedFields()
	for _, want := range [][2]string{{"destination.ip", "ip"}, {"QueryName", "domain"}, {"Hashes", "hashes"}, {"url.full", "url"}, {"TargetFilename", "filename"}} {
		if !slices.Contains(fields, want) {
			t.Errorf("MatchedFields lacks %v", want)
		}
	}
	for _, f := range fields {
		if f[0] == "TargetFilename" && f[1] != "filename" {
			t.Error("TargetFilename read as a hash")
		}
	}
}

func TestMatchHostileValues(t *testing.T) {
	ix := matchIndex(t)
	values := []any{"", "-", strings.Repeat("a.", 300) + "example", "http://" + strings.Repeat("x", 5000) + ".example/", "[::1", "1.2.3.4%", "SHA256=", ",,,", "=,=", int64(-1), float64(1e300), true, nil, []any{[]any{"x"}}, map[string]any{}, bytes.Repeat([]byte{0xff}, 10)}
	for _, f := range MatchedFields() {
		for _, v := range values {
			ix.Match(&event.Event{Fields: map[string]any{f[0]: v}}, now, func(Hit) {})
		}
	}
	ix.Match(nil, now, func(Hit) { t.Error("hit on nil event") })
	ix.Match(&event.Event{}, now, func(Hit) { t.Error("hit on empty event") })
}
