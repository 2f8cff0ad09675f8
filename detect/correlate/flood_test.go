package correlate

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/event"
)

// bruteForceRule is the default SSH brute-force correlation (detect/rules/
// default/mr_linux_sshd_brute_force.yml).
const bruteForceRule = `title: SSH brute force from one address
id: 641fe131-66f0-4058-9033-a72ae94cd73e
name: sshd_brute_force
correlation:
  type: event_count
  rules: [sshd_failed_login]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 10}
level: high
`

// TestFloodDoesNotHideBruteForce reproduces the flood evasion: six failed
// logins from the attacker, then 110,000 failures from distinct addresses
// in about three seconds (more groups than the correlation keeps), then six
// more from the attacker. The attacker's ten failures must still alert, and
// the flood must be reported, naming the networks it came from.
func TestFloodDoesNotHideBruteForce(t *testing.T) {
	const flood = 110_000
	cases := []struct {
		name     string
		attacker string
		flooder  func(i int) string
		// networks the pressure report may name (the first when exact)
		network netip.Prefix
		exact   bool
	}{
		{"ipv4 distinct addresses", "203.0.113.5",
			func(i int) string {
				return netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)}).String()
			},
			netip.MustParsePrefix("198.18.0.0/15"), false},
		{"ipv6 one /64", "2001:db8:bad:1::5",
			func(i int) string {
				a := netip.MustParseAddr("2001:db8:bad:1::").As16()
				a[10], a[11], a[12], a[13], a[14], a[15] = 0xfe, byte(i>>24), byte(i>>16), byte(i>>8), byte(i), 1
				return netip.AddrFrom16(a).String()
			},
			netip.MustParsePrefix("2001:db8:bad:1::/64"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rules, errs := Resolve(parseDocs(t, bruteForceRule, "mr_bf.yml"), func(ref string) bool { return ref == "sshd_failed_login" })
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			wall := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
			e := NewEngine(rules, Options{Now: func() time.Time { return wall }}) // the default bound, 100,000 groups
			t0 := wall.Add(-time.Minute)
			var hits []Hit
			ev := &event.Event{Host: "bastion"}
			fail := func(id, ip string, at time.Time) {
				ev.ID, ev.Time = id, at
				ev.Fields = map[string]any{"source.ip": ip, "user.name": "root"}
				hits = append(hits, e.Observe("", "sshd_failed_login", ev)...)
			}
			for i := range 6 {
				fail(fmt.Sprint("a", i), tc.attacker, t0.Add(time.Duration(i)*time.Second))
			}
			for i := range flood { // 110,000 in 3 s
				fail(fmt.Sprint("f", i), tc.flooder(i), t0.Add(6*time.Second+time.Duration(i)*3*time.Second/flood))
			}
			if len(hits) != 0 {
				t.Fatalf("the flood raised %d hits", len(hits))
			}
			for i := 6; i < 12; i++ {
				fail(fmt.Sprint("a", i), tc.attacker, t0.Add(time.Duration(4+i)*time.Second))
			}
			if len(hits) != 1 || hits[0].Group["source.ip"] != tc.attacker || hits[0].Count != 10 || hits[0].EventIDs[0] != "a0" {
				t.Fatalf("want one brute-force hit for %s counting a0..a9, got:\n%s", tc.attacker, showHits(t0, hits))
			}

			// The flood is reported once per interval, with the networks
			// that forced the evictions.
			const evicted = flood + 1 - 100_000 // the attacker's group took a place
			ps := e.Pressure(wall)
			if len(ps) != 1 {
				t.Fatalf("%d pressure reports, want 1", len(ps))
			}
			p := ps[0]
			if p.Rule.Name != "sshd_brute_force" || p.Evicted != evicted || p.MaxEvictedEntries != 1 || p.Groups != 100_000 || p.Max != 100_000 ||
				!p.Since.Equal(wall) || len(p.Networks) == 0 {
				t.Fatalf("pressure report %+v", p)
			}
			if st := e.Stats(); st.Evicted != evicted || st.Groups != 100_000 {
				t.Errorf("stats: evicted %d groups %d", st.Evicted, st.Groups)
			}
			total := int64(0)
			for _, n := range p.Networks {
				pfx, err := netip.ParsePrefix(n.Network)
				if err != nil || !tc.network.Overlaps(pfx) || pfx.Bits() != map[bool]int{true: 24, false: 64}[pfx.Addr().Is4()] {
					t.Errorf("network %q is not a /24 or /64 of the flood %s", n.Network, tc.network)
				}
				total += n.Groups
			}
			if tc.exact && (p.Networks[0] != NetworkCount{tc.network.String(), evicted}) {
				t.Errorf("networks %+v, want %s with %d new groups", p.Networks, tc.network, evicted)
			}
			if !tc.exact && (len(p.Networks) != 5 || p.Networks[0].Groups != 256) {
				t.Errorf("networks %+v, want the five /24s with the most new groups (256 each)", p.Networks)
			}
			if again := e.Pressure(wall.Add(time.Second)); len(again) != 0 {
				t.Errorf("a second report with nothing evicted since: %+v", again)
			}
		})
	}
}

// TestPressureReportInterval: evictions keep being counted between
// reports, but a correlation reports at most once per interval.
func TestPressureReportInterval(t *testing.T) {
	rules, errs := Resolve(parseDocs(t, bruteForceRule, "mr_bf.yml"), func(ref string) bool { return ref == "sshd_failed_login" })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	wall := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	e := NewEngine(rules, Options{MaxGroupsPerRule: 10, PressureInterval: time.Minute, Now: func() time.Time { return wall }})
	n := 0
	send := func(k int) {
		for range k {
			n++
			e.Observe("", "sshd_failed_login", &event.Event{Time: wall, Fields: map[string]any{"source.ip": fmt.Sprintf("user-%d", n)}})
		}
	}
	steps := []struct {
		send    int
		after   time.Duration
		evicted int64 // reported; 0 for no report
	}{
		{send: 10, after: 0, evicted: 0},               // full, nothing evicted
		{send: 3, after: time.Second, evicted: 3},      // first report at once
		{send: 4, after: 30 * time.Second, evicted: 0}, // too soon
		{send: 1, after: 61 * time.Second, evicted: 5}, // the 4 held back and 1 more
		{send: 0, after: 200 * time.Second, evicted: 0},
	}
	for i, s := range steps {
		send(s.send)
		ps := e.Pressure(wall.Add(s.after))
		switch {
		case s.evicted == 0 && len(ps) != 0:
			t.Errorf("step %d: unexpected report %+v", i, ps)
		case s.evicted != 0 && (len(ps) != 1 || ps[0].Evicted != s.evicted || len(ps[0].Networks) != 0):
			t.Errorf("step %d: reports %+v, want one of %d evictions naming no network (group-by values are not addresses)", i, ps, s.evicted)
		}
	}
}
