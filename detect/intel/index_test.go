package intel

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/event"
)

var now = date("2025-07-01T12:00:00Z")

func src(feed string, conf int) Source {
	return Source{Feed: feed, Confidence: conf, Active: true,
		ValidFrom: date("2025-01-01T00:00:00Z"), ValidUntil: date("2026-01-01T00:00:00Z")}
}

func mk(t testing.TB, kind Kind, value string, s Source) Indicator {
	t.Helper()
	in, err := NewIndicator(kind, value, s)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func ev(fields map[string]any) *event.Event {
	return &event.Event{ID: "01JZ0000000000000000000000", Time: now, Host: "ws-17", Fields: fields}
}

// hits returns "field=kind:value" for each hit.
func hits(ix *Index, e *event.Event, at time.Time) []string {
	var out []string
	ix.Match(e, at, func(h Hit) {
		out = append(out, h.Field+"="+string(h.Indicator.Kind)+":"+h.Indicator.Value)
	})
	return out
}

func collect(ix *Index, e *event.Event, at time.Time) []Hit {
	var out []Hit
	ix.Match(e, at, func(h Hit) { out = append(out, h) })
	return out
}

func TestIndexCIDRLongestPrefix(t *testing.T) {
	ix := NewIndex(Config{})
	must(t, ix.Add("a", []Indicator{mk(t, KindCIDR4, "198.51.0.0/16", src("a", 60)), mk(t, KindCIDR6, "2001:db8::/32", src("a", 60))}))
	must(t, ix.Add("b", []Indicator{mk(t, KindCIDR4, "198.51.100.0/24", src("b", 70)), mk(t, KindCIDR6, "2001:db8:bad::/48", src("b", 70))}))
	must(t, ix.Add("c", []Indicator{mk(t, KindIPv4, "198.51.100.7", src("c", 80)), mk(t, KindIPv6, "2001:db8:bad::1", src("c", 80))}))
	tests := []struct {
		ip       string
		want     string
		covering []string
	}{
		{"198.51.100.7", "198.51.100.7", []string{"198.51.100.0/24", "198.51.0.0/16"}},
		{"::ffff:198.51.100.7", "198.51.100.7", []string{"198.51.100.0/24", "198.51.0.0/16"}},
		{"198.51.100.8", "198.51.100.0/24", []string{"198.51.0.0/16"}},
		{"198.51.200.1", "198.51.0.0/16", nil},
		{"198.52.0.1", "", nil},
		{"2001:db8:bad::1", "2001:db8:bad::1", []string{"2001:db8:bad::/48", "2001:db8::/32"}},
		{"2001:db8:bad::2", "2001:db8:bad::/48", []string{"2001:db8::/32"}},
		{"2001:db8:1::1", "2001:db8::/32", nil},
		{"2001:db9::1", "", nil},
		{"not-an-ip", "", nil},
	}
	for _, tt := range tests {
		hs := collect(ix, ev(map[string]any{"destination.ip": tt.ip}), now)
		if tt.want == "" {
			if len(hs) != 0 {
				t.Errorf("%s: unexpected hits %v", tt.ip, hs)
			}
			continue
		}
		if len(hs) != 1 {
			t.Errorf("%s: %d hits, want 1", tt.ip, len(hs))
			continue
		}
		var cov []string
		for _, c := range hs[0].Covering {
			cov = append(cov, c.Value)
		}
		if hs[0].Indicator.Value != tt.want || !slices.Equal(cov, tt.covering) || hs[0].Field != "destination.ip" {
			t.Errorf("%s: hit %s covering %v, want %s %v", tt.ip, hs[0].Indicator.Value, cov, tt.want, tt.covering)
		}
	}
	// the longest prefix that *detects* wins: expire the /24
	expired := src("b", 70)
	expired.ValidUntil = date("2025-06-01T00:00:00Z")
	must(t, ix.Add("b", []Indicator{mk(t, KindCIDR4, "198.51.100.0/24", expired)}))
	if got := hits(ix, ev(map[string]any{"source.ip": "198.51.100.8"}), now); !slices.Equal(got, []string{"source.ip=cidr4:198.51.0.0/16"}) {
		t.Errorf("after expiry: %v", got)
	}
	// removing entries prunes the trie
	ix.RemoveFeed("a")
	ix.RemoveFeed("b")
	if got := hits(ix, ev(map[string]any{"source.ip": "198.51.200.1"}), now); len(got) != 0 {
		t.Errorf("after removal: %v", got)
	}
	if ix.Len() != 2 || ix.Counts()[KindIPv4] != 1 {
		t.Errorf("len %d counts %v", ix.Len(), ix.Counts())
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestIndexSubdomains(t *testing.T) {
	ix := NewIndex(Config{})
	must(t, ix.Add("f", []Indicator{
		mk(t, KindDomain, "*.evil.example", src("f", 80)),
		mk(t, KindDomain, "exact.example", src("f", 80)),
		mk(t, KindDomain, "münchen-evil.example", src("f", 80)),
	}))
	tests := []struct {
		name string
		want []string
	}{
		{"evil.example", []string{"dns.question.name=domain:evil.example"}},
		{"a.b.EVIL.example.", []string{"dns.question.name=domain:evil.example"}},
		{"notevil.example", nil},
		{"example", nil},
		{"exact.example", []string{"dns.question.name=domain:exact.example"}},
		{"sub.exact.example", nil},
		{"MÜNCHEN-evil.example", []string{"dns.question.name=domain:xn--mnchen-evil-thb.example"}},
		{"xn--mnchen-evil-thb.example", []string{"dns.question.name=domain:xn--mnchen-evil-thb.example"}},
	}
	for _, tt := range tests {
		if got := hits(ix, ev(map[string]any{"dns.question.name": tt.name}), now); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if err := ix.Add("f", []Indicator{{Kind: KindDomain, Value: "co.uk", Match: MatchSubdomains, Sources: []Source{src("f", 80)}}}); err == nil {
		t.Error("subdomains on a public suffix accepted")
	}
}

func TestIndexURLs(t *testing.T) {
	ix := NewIndex(Config{})
	must(t, ix.Add("f", []Indicator{
		mk(t, KindURL, "http://evil.example/a~b/gate.php?id=1", src("f", 80)),
		{Kind: KindURL, Value: "https://kits.example/kits/", Match: MatchPrefix, Sources: []Source{src("f", 80)}},
		mk(t, KindDomain, "host-only.example", src("f", 80)),
		mk(t, KindIPv4, "203.0.113.66", src("f", 80)),
	}))
	tests := []struct {
		url  string
		want []string
	}{
		{"HTTP://EVIL.example:80/a%7Eb/gate.php?id=1#frag", []string{"url.full=url:http://evil.example/a~b/gate.php?id=1"}},
		{"http://evil.example/a~b/gate.php?id=2", nil},
		{"http://evil.example/A~b/gate.php?id=1", nil},
		{"https://kits.example/kits/phish.zip", []string{"url.full=url:https://kits.example/kits/"}},
		{"https://kits.example:443/kits/", []string{"url.full=url:https://kits.example/kits/"}},
		{"https://kits.example/other", nil},
		{"https://host-only.example/anything?q", []string{"url.full=domain:host-only.example"}},
		{"http://203.0.113.66:8080/x", []string{"url.full=ipv4:203.0.113.66"}},
		{"/relative/path", nil},
	}
	for _, tt := range tests {
		if got := hits(ix, ev(map[string]any{"url.full": tt.url}), now); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.url, got, tt.want)
		}
	}
}

func TestIndexValidity(t *testing.T) {
	ix := NewIndex(Config{MinConfidence: 50})
	revoked := src("f", 90)
	revoked.Revoked = true
	inactive := src("f", 90)
	inactive.Active = false
	future := src("f", 90)
	future.ValidFrom = date("2025-12-01T00:00:00Z")
	must(t, ix.Add("f", []Indicator{
		mk(t, KindSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", src("f", 90)),
		mk(t, KindMD5, "d41d8cd98f00b204e9800998ecf8427e", revoked),
		mk(t, KindSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", inactive),
		mk(t, KindDomain, "future.example", future),
		mk(t, KindDomain, "weak.example", src("f", 40)),
	}))
	e := ev(map[string]any{
		"file.hash.sha256":  "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		"file.hash.md5":     "d41d8cd98f00b204e9800998ecf8427e",
		"file.hash.sha1":    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
		"dns.question.name": "future.example",
		"url.domain":        "weak.example",
	})
	if got := hits(ix, e, now); !slices.Equal(got, []string{"file.hash.sha256=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}) {
		t.Errorf("hits %v", got)
	}
	// valid_until is exclusive
	if got := hits(ix, e, date("2026-01-01T00:00:00Z")); len(got) != 0 {
		t.Errorf("at valid_until: %v", got)
	}
	if got := hits(ix, e, date("2025-12-31T23:59:59Z")); len(got) != 2 {
		t.Errorf("just before valid_until: %v", got)
	}
	if got := hits(ix, e, date("2025-12-02T00:00:00Z")); len(got) != 2 {
		t.Errorf("after future valid_from: %v", got)
	}
	ix.SetMinConfidence(30)
	if got := hits(ix, e, now); !slices.Contains(got, "url.domain=domain:weak.example") {
		t.Errorf("after lowering the threshold: %v", got)
	}
}

func TestIndexProvenanceAndContext(t *testing.T) {
	ix := NewIndex(Config{})
	expired := src("old-feed", 90)
	expired.ValidUntil = date("2025-06-28T00:00:00Z")
	a := src("feed-a", 60)
	a.TLP, a.Labels = TLPGreen, []string{"botnet"}
	b := src("feed-b", 85)
	b.TLP, b.Labels, b.ID = TLPAmber, []string{"c2"}, "indicator--1"
	must(t, ix.Add("feed-a", []Indicator{mk(t, KindIPv4, "203.0.113.5", a)}))
	must(t, ix.Add("feed-b", []Indicator{mk(t, KindIPv4, "203.0.113.5", b)}))
	must(t, ix.Add("old-feed", []Indicator{mk(t, KindIPv4, "203.0.113.5", expired)}))
	if ix.Len() != 1 {
		t.Fatalf("len %d, want one entry for three records", ix.Len())
	}
	hs := collect(ix, ev(map[string]any{"destination.ip": "203.0.113.5", "related.ip": []any{"203.0.113.5", "198.51.100.1"}}), now)
	if len(hs) != 1 {
		t.Fatalf("%d hits, want 1 (deduplicated across fields)", len(hs))
	}
	h := hs[0]
	if len(h.Indicator.Sources) != 2 || h.Confidence() != 85 || h.TLP() != TLPAmber ||
		!slices.Equal(h.Indicator.Labels(), []string{"botnet", "c2"}) {
		t.Errorf("hit %+v", h.Indicator)
	}
	if len(h.Context) != 1 || h.Context[0].Feed != "old-feed" {
		t.Errorf("context %+v", h.Context)
	}
	got := ix.Lookup(KindIPv4, "203.0.113.5")
	if len(got) != 1 || len(got[0].Sources) != 3 {
		t.Errorf("lookup %+v", got)
	}
}

func TestIndexReplaceRemove(t *testing.T) {
	ix := NewIndex(Config{})
	must(t, ix.Add("a", []Indicator{mk(t, KindDomain, "x.example", src("a", 80)), mk(t, KindDomain, "y.example", src("a", 80))}))
	must(t, ix.Add("b", []Indicator{mk(t, KindDomain, "x.example", src("b", 80))}))
	must(t, ix.Replace("a", []Indicator{mk(t, KindDomain, "z.example", src("a", 80))}))
	check := func(name string, want map[string][]string) {
		t.Helper()
		for d, feeds := range want {
			var got []string
			for _, in := range ix.Lookup(KindDomain, d) {
				for _, s := range in.Sources {
					got = append(got, s.Feed)
				}
			}
			if !slices.Equal(got, feeds) {
				t.Errorf("%s: %s asserted by %v, want %v", name, d, got, feeds)
			}
		}
	}
	check("replace", map[string][]string{"x.example": {"b"}, "y.example": nil, "z.example": {"a"}})
	ix.Remove("b", []Indicator{mk(t, KindDomain, "x.example", src("b", 80))})
	check("remove", map[string][]string{"x.example": nil, "z.example": {"a"}})
	if ix.Len() != 1 || len(ix.Indicators()) != 1 {
		t.Errorf("len %d", ix.Len())
	}
	// per-event replacement of a MISP event in one transaction
	e1 := src("misp", 80)
	e1.ID, e1.Event = "attr-1", "event-1"
	e2 := src("misp", 80)
	e2.ID, e2.Event = "attr-2", "event-2"
	must(t, ix.Add("misp", []Indicator{mk(t, KindDomain, "m1.example", e1), mk(t, KindDomain, "m2.example", e2)}))
	ix.RemoveEvent("misp", "event-1")
	check("remove event", map[string][]string{"m1.example": nil, "m2.example": {"misp"}})
}

func TestIndexVersioning(t *testing.T) {
	ix := NewIndex(Config{})
	v := func(value string, modified string, revoked bool) Indicator {
		s := src("stix", 80)
		s.ID, s.Modified, s.Revoked = "indicator--7", date(modified), revoked
		return mk(t, KindDomain, value, s)
	}
	must(t, ix.Add("stix", []Indicator{v("v2.example", "2025-02-01T00:00:00Z", false)}))
	// an older version is ignored
	must(t, ix.Add("stix", []Indicator{v("v1.example", "2025-01-01T00:00:00Z", false)}))
	if ix.Lookup(KindDomain, "v1.example") != nil || ix.Lookup(KindDomain, "v2.example") == nil {
		t.Fatal("older version replaced the newer one")
	}
	// a newer version replaces every entry of the object
	must(t, ix.Add("stix", []Indicator{v("v3.example", "2025-03-01T00:00:00Z", false), v("v3b.example", "2025-03-01T00:00:00Z", false)}))
	if ix.Lookup(KindDomain, "v2.example") != nil || ix.Lookup(KindDomain, "v3b.example") == nil {
		t.Fatal("newer version did not replace the object")
	}
	// revocation withdraws it
	must(t, ix.Add("stix", []Indicator{v("v3.example", "2025-04-01T00:00:00Z", true)}))
	if got := hits(ix, ev(map[string]any{"dns.question.name": "v3.example"}), now); len(got) != 0 {
		t.Errorf("revoked object matched: %v", got)
	}
	if ix.Len() != 1 {
		t.Errorf("len %d, want 1 (v3b retired with the old version)", ix.Len())
	}
}

func TestIndexAddErrors(t *testing.T) {
	ix := NewIndex(Config{})
	err := ix.Add("f", []Indicator{
		{Kind: KindIPv4, Value: "nope", Sources: []Source{src("f", 50)}},
		{Kind: KindIPv4, Value: "203.0.113.1", Match: MatchPrefix, Sources: []Source{src("f", 50)}},
		{Kind: KindDomain, Value: "OK.example", Sources: []Source{src("f", 50)}},
	})
	if err == nil || ix.Len() != 1 || ix.Lookup(KindDomain, "ok.example") == nil {
		t.Errorf("err %v len %d", err, ix.Len())
	}
}

// TestIndexConcurrent swaps snapshots while readers match; run with -race.
func TestIndexConcurrent(t *testing.T) {
	ix := NewIndex(Config{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := ev(map[string]any{"destination.ip": "203.0.113.9", "dns.question.name": "a.evil.example"})
			for {
				select {
				case <-stop:
					return
				default:
				}
				ix.Match(e, now, func(h Hit) {
					if h.Indicator.Value == "" || len(h.Indicator.Sources) == 0 {
						t.Error("torn hit")
					}
				})
			}
		}()
	}
	for i := 0; i < 200; i++ {
		inds := []Indicator{
			mk(t, KindIPv4, fmt.Sprintf("203.0.113.%d", i%20), src("f", 80)),
			mk(t, KindCIDR4, fmt.Sprintf("198.51.%d.0/24", i%50), src("f", 80)),
			mk(t, KindDomain, "*.evil.example", src("f", 80)),
		}
		if i%2 == 0 {
			must(t, ix.Replace("f", inds))
		} else {
			must(t, ix.Add("g", inds))
		}
	}
	close(stop)
	wg.Wait()
}

func TestMatchMissAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 20k index")
	}
	ix := benchIndex(nil, 20_000)
	at := date("2025-07-01T00:00:00Z")
	hit := func(Hit) { t.Error("hit") }
	for name, e := range benchEvents {
		if n := testing.AllocsPerRun(100, func() { ix.Match(e, at, hit) }); n != 0 {
			t.Errorf("%s: %.1f allocations per miss", name, n)
		}
	}
}
