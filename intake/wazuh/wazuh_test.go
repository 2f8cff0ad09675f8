package wazuh

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/intake/raise"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func sample(t testing.TB) [][]byte {
	b, err := os.ReadFile("testdata/alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(b), []byte("\n"))
}

func TestSample(t *testing.T) {
	lines := sample(t)
	cases := []struct {
		name, rule, level string
		line              int
		src, users        []string
		tags              []string
	}{
		{name: "brute force, level 10", line: 0, rule: "wazuh:5712", level: "medium", src: []string{"203.0.113.7"}, users: []string{"oracle"},
			tags: []string{"attack.t1110", "attack.credential_access", "group.authentication_failures"}},
		{name: "login, level 3", line: 1, rule: "wazuh:5715", level: "low", src: []string{"203.0.113.7"}, users: []string{"deploy"},
			tags: []string{"attack.t1078", "attack.initial_access"}},
		{name: "integrity, level 7, no address", line: 2, rule: "wazuh:550", level: "medium", tags: []string{"attack.t1565.001", "attack.impact"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as, err := Alerts(lines[c.line], now)
			if err != nil || len(as) != 1 {
				t.Fatalf("%d alerts, %v", len(as), err)
			}
			if err := raise.Check(as); err != nil {
				t.Fatal(err)
			}
			a := as[0]
			if a.Rule.ID != c.rule || a.Rule.Level != c.level || !slices.Equal(a.Entities.SourceIPs, c.src) ||
				!slices.Equal(a.Entities.Users, c.users) || !slices.Equal(a.Entities.Hosts, []string{"web-1"}) {
				t.Fatalf("got %+v", a)
			}
			for _, tag := range c.tags {
				if !slices.Contains(a.Rule.Tags, tag) {
					t.Errorf("tags %v lack %s", a.Rule.Tags, tag)
				}
			}
		})
	}
}

func TestLevels(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"0", "informational", ""}, {"2", "informational", ""}, {"3", "low", ""}, {"6", "low", ""}, {"7", "medium", ""},
		{"11", "medium", ""}, {"12", "high", ""}, {"14", "high", ""}, {"15", "critical", ""},
		{"16", "", "not a Wazuh level from 0 to 15"}, {"-1", "", "not a Wazuh level"}, {`"high"`, "", "high"},
	} {
		as, err := Alerts([]byte(`{"id":"1.2","rule":{"id":"1","level":`+c.in+`},"agent":{"name":"h"}}`), now)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("level %s: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || as[0].Rule.Level != c.want {
			t.Errorf("level %s: %v %v, want %s", c.in, as, err, c.want)
		}
	}
}

func TestStableID(t *testing.T) {
	l := sample(t)[0]
	a, _ := Alerts(l, now)
	b, _ := Alerts(l, now.Add(time.Minute))
	other, _ := Alerts(bytes.Replace(l, []byte("1795682111.1184236"), []byte("1795682111.1184999"), 1), now)
	if a[0].ID != b[0].ID || other[0].ID == a[0].ID {
		t.Fatalf("ids %s %s %s: a resend must keep its id, another alert must not share it", a[0].ID, b[0].ID, other[0].ID)
	}
}

func FuzzAlerts(f *testing.F) {
	for _, l := range sample(f) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if as, err := Alerts(b, now); err == nil {
			if err := raise.Check(as); err != nil {
				t.Fatal(err)
			}
		}
	})
}
