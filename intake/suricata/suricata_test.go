package suricata

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
	b, err := os.ReadFile("testdata/eve.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(b), []byte("\n"))
}

func TestSample(t *testing.T) {
	lines := sample(t)
	cases := []struct {
		name                   string
		line                   int
		rule, level, src, dest string
		tags                   []string
		err                    string
	}{
		{name: "scan, severity 2", line: 0, rule: "suricata:2001219", level: "medium", src: "203.0.113.7", dest: "10.0.0.5",
			tags: []string{"category.attempted_information_leak", "proto.tcp"}},
		{name: "C2 with ATT&CK metadata, severity 1", line: 1, rule: "suricata:2027865", level: "high", src: "10.0.0.5", dest: "198.51.100.23",
			tags: []string{"attack.t1071", "attack.command_and_control"}},
		{name: "flow is an event", line: 2, err: `event_type "flow" of this Suricata record is an event, not an alert: send it to POST /api/v1/events`},
		{name: "dns is an event", line: 3, err: `event_type "dns" of this Suricata record is an event`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as, err := Alerts(lines[c.line], now)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil || len(as) != 1 {
				t.Fatalf("%d alerts, %v", len(as), err)
			}
			if err := raise.Check(as); err != nil {
				t.Fatal(err)
			}
			a := as[0]
			if a.Rule.ID != c.rule || a.Rule.Level != c.level || !slices.Equal(a.Entities.SourceIPs, []string{c.src}) ||
				!slices.Equal(a.Entities.DestIPs, []string{c.dest}) || a.Host != "sensor-1" || len(a.Entities.Hosts) != 0 {
				t.Fatalf("got %+v", a)
			}
			for _, tag := range c.tags {
				if !slices.Contains(a.Rule.Tags, tag) {
					t.Errorf("tags %v lack %s", a.Rule.Tags, tag)
				}
			}
			if a.Time.Format(time.RFC3339) == now.Format(time.RFC3339) {
				t.Errorf("time %v is the arrival, not the record's timestamp", a.Time)
			}
		})
	}
}

// The same record sent twice (a shipper retrying) is the same alert; the
// same signature on another flow is another.
func TestStableID(t *testing.T) {
	line := sample(t)[1]
	a, _ := Alerts(line, now)
	b, _ := Alerts(line, now.Add(time.Hour))
	other, _ := Alerts(bytes.Replace(line, []byte("2190054463818051"), []byte("2190054463818052"), 1), now)
	if a[0].ID != b[0].ID {
		t.Fatalf("resend has id %s, first %s", b[0].ID, a[0].ID)
	}
	if other[0].ID == a[0].ID {
		t.Fatal("another flow got the same id")
	}
}

// Untrusted addresses never widen into prefixes or lists.
func TestAddressesOnly(t *testing.T) {
	for _, src := range []string{"0.0.0.0/0", "10.0.0.0/8", "10.0.0.1,10.0.0.2", "0.0.0.0", "::", "host.example"} {
		as, err := Alerts([]byte(`{"event_type":"alert","src_ip":"`+src+`","dest_ip":"::ffff:192.0.2.1","alert":{"signature_id":1,"severity":3}}`), now)
		if err != nil {
			t.Fatal(err)
		}
		if len(as[0].Entities.SourceIPs) != 0 || !slices.Equal(as[0].Entities.DestIPs, []string{"192.0.2.1"}) {
			t.Errorf("src_ip %q gave %+v", src, as[0].Entities)
		}
	}
}

func FuzzAlerts(f *testing.F) {
	for _, l := range sample(f) {
		f.Add(l)
	}
	f.Add([]byte(`{"event_type":"alert","alert":{"signature_id":"x","metadata":{"mitre_technique_id":[1]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		as, err := Alerts(b, now)
		if err == nil {
			if err := raise.Check(as); err != nil {
				t.Fatal(err)
			}
		}
	})
}
