package intel

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/riposte-soar/riposte/event"
)

// benchIndex builds an index of n indicators: 40% addresses, 10% networks,
// 25% domains (a fifth with subdomains), 10% URLs, 15% hashes.
func benchIndex(b testing.TB, n int) *Index {
	r := rand.New(rand.NewPCG(1, 2))
	s := Source{Feed: "bench", Active: true, Confidence: 80, ValidUntil: date("2030-01-01T00:00:00Z")}
	inds := make([]Indicator, 0, n)
	hex := func(nbytes int) string {
		buf := make([]byte, nbytes)
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		return fmt.Sprintf("%x", buf)
	}
	for i := 0; i < n; i++ {
		var in Indicator
		switch p := i % 20; {
		case p < 8:
			a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(220)), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
			in = Indicator{Kind: KindIPv4, Value: a.String()}
		case p < 10:
			if p == 9 {
				var a16 [16]byte
				a16[0], a16[1], a16[2], a16[3] = 0x20, 0x01, byte(r.Uint32()), byte(r.Uint32())
				in = Indicator{Kind: KindCIDR6, Value: netip.PrefixFrom(netip.AddrFrom16(a16), 32+r.IntN(17)).Masked().String()}
			} else {
				a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(220)), byte(r.Uint32()), byte(r.Uint32()), 0})
				in = Indicator{Kind: KindCIDR4, Value: netip.PrefixFrom(a, 16+r.IntN(9)).Masked().String()}
			}
		case p < 15:
			in = Indicator{Kind: KindDomain, Value: fmt.Sprintf("%s.evil%d.example", hex(4), i)}
			if p == 14 {
				in.Match = MatchSubdomains
			}
		case p < 17:
			in = Indicator{Kind: KindURL, Value: fmt.Sprintf("http://%s.bad%d.example/gate.php?id=%d", hex(3), i, i)}
		case p < 18:
			in = Indicator{Kind: KindMD5, Value: hex(16)}
		case p < 19:
			in = Indicator{Kind: KindSHA1, Value: hex(20)}
		default:
			in = Indicator{Kind: KindSHA256, Value: hex(32)}
		}
		if in.Match == "" {
			in.Match = MatchExact
		}
		in.Sources = []Source{s}
		inds = append(inds, in)
	}
	ix := NewIndex(Config{})
	if err := ix.Replace("bench", inds); err != nil || ix.Len() < n*99/100 {
		panic(fmt.Sprintf("bench index: %v, %d of %d", err, ix.Len(), n))
	}
	return ix
}

// Typical events after normalization; none of them is listed.
var benchEvents = map[string]*event.Event{
	"sysmon3_network": {Fields: map[string]any{
		"EventID": int64(3), "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "WS01.corp.example",
		"Image": `C:\Program Files\Google\Chrome\Application\chrome.exe`, "User": `CORP\alice`, "Protocol": "tcp",
		"SourceIp": "10.1.2.3", "SourcePort": "51234", "DestinationIp": "142.250.74.110", "DestinationPort": "443",
		"DestinationHostname": "fra16s48-in-f14.1e100.net", "host.name": "WS01.corp.example", "user.name": "alice",
		"source.ip": "10.1.2.3", "source.port": int64(51234), "destination.ip": "142.250.74.110", "destination.port": int64(443),
		"process.executable": `C:\Program Files\Google\Chrome\Application\chrome.exe`,
	}},
	"sysmon1_process": {Fields: map[string]any{
		"EventID": int64(1), "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "WS01.corp.example",
		"Image": `C:\Windows\System32\cmd.exe`, "CommandLine": "cmd.exe /c whoami", "User": `CORP\alice`,
		"Hashes":         "SHA1=0DD4BD4A1A4D6A1A9E6A8F6B8C2A1D5E6F7A8B9C,MD5=4E2A5B8F3C1D6E7F8A9B0C1D2E3F4A5B,SHA256=7F6E5D4C3B2A1908F7E6D5C4B3A29180F7E6D5C4B3A29180F7E6D5C4B3A29180,IMPHASH=1A2B3C4D5E6F708192A3B4C5D6E7F809",
		"file.hash.sha1": "0dd4bd4a1a4d6a1a9e6a8f6b8c2a1d5e6f7a8b9c", "file.hash.md5": "4e2a5b8f3c1d6e7f8a9b0c1d2e3f4a5b",
		"file.hash.sha256": "7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180",
		"ParentImage":      `C:\Windows\explorer.exe`, "host.name": "WS01.corp.example", "user.name": "alice",
		"process.executable": `C:\Windows\System32\cmd.exe`, "process.command_line": "cmd.exe /c whoami",
	}},
	"sysmon22_dns": {Fields: map[string]any{
		"EventID": int64(22), "Channel": "Microsoft-Windows-Sysmon/Operational", "QueryName": "login.microsoftonline.com",
		"QueryStatus": "0", "QueryResults": "type:  5 login.mso.msidentity.com;::ffff:20.190.160.20;", "Image": `C:\Windows\System32\svchost.exe`,
		"host.name": "WS01.corp.example",
	}},
	"ecs_proxy": {Fields: map[string]any{
		"source.ip": "10.1.2.3", "destination.ip": "151.101.1.69", "destination.port": int64(443),
		"url.full": "https://cdn.jsdelivr.net/npm/bootstrap@5.3.0/dist/js/bootstrap.bundle.min.js?v=1", "url.domain": "cdn.jsdelivr.net",
		"user_agent.original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"http.request.method": "GET", "http.response.status_code": int64(200), "related.ip": []any{"10.1.2.3", "151.101.1.69"},
		"host.name": "proxy01",
	}},
	"sshd_auth": {Fields: map[string]any{
		"source.ip": "2001:db8:ffff::42", "source.port": int64(50022), "user.name": "root", "event.outcome": "failure",
		"host.name": "bastion", "process.name": "sshd",
	}},
}

func BenchmarkMatch(b *testing.B) {
	ix := benchIndex(b, 100_000)
	at := date("2025-07-01T00:00:00Z")
	for _, name := range []string{"sysmon3_network", "sysmon1_process", "sysmon22_dns", "ecs_proxy", "sshd_auth"} {
		e := benchEvents[name]
		b.Run("miss/"+name, func(b *testing.B) {
			n := 0
			hit := func(Hit) { n++ }
			b.ReportAllocs()
			for b.Loop() {
				ix.Match(e, at, hit)
			}
			if n != 0 {
				b.Fatalf("%d unexpected hits", n)
			}
		})
	}
	// one listed address and one listed hash
	var ip, sha string
	for _, in := range ix.Indicators() {
		if in.Kind == KindIPv4 && ip == "" {
			ip = in.Value
		}
		if in.Kind == KindSHA256 && sha == "" {
			sha = in.Value
		}
	}
	e := &event.Event{Fields: map[string]any{}}
	for k, v := range benchEvents["sysmon1_process"].Fields {
		e.Fields[k] = v
	}
	e.Fields["file.hash.sha256"], e.Fields["destination.ip"] = sha, ip
	b.Run("hit/sysmon1_two_iocs", func(b *testing.B) {
		n := 0
		hit := func(Hit) { n++ }
		b.ReportAllocs()
		for b.Loop() {
			ix.Match(e, at, hit)
		}
		if n == 0 {
			b.Fatal("no hits")
		}
	})
}

func BenchmarkIndexAdd(b *testing.B) {
	ix := benchIndex(b, 100_000)
	s := Source{Feed: "taxii", Active: true, Confidence: 80, ID: "indicator--x"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		s.ID = fmt.Sprintf("indicator--%d", i)
		_ = ix.Add("taxii", []Indicator{{Kind: KindIPv4, Value: fmt.Sprintf("203.0.%d.%d", i/256%256, i%256), Match: MatchExact, Sources: []Source{s}}})
	}
}
