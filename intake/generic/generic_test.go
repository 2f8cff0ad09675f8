package generic

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
	b, err := os.ReadFile("testdata/alerts.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(b), []byte("\n"))
}

func TestSample(t *testing.T) {
	lines := sample(t)
	a, err := Alerts(lines[0], now)
	if err != nil || raise.Check(a) != nil {
		t.Fatal(err, raise.Check(a))
	}
	if a[0].Rule.ID != "generic.edr:cred-dump-lsass" || a[0].Rule.Level != "critical" || !slices.Equal(a[0].Entities.SourceIPs, []string{"10.0.0.5"}) ||
		!slices.Equal(a[0].Entities.Users, []string{"deploy"}) || !slices.Equal(a[0].Entities.Hosts, []string{"web-1"}) ||
		!slices.Contains(a[0].Rule.Tags, "attack.t1003.001") {
		t.Fatalf("got %+v", a[0])
	}
	b, err := Alerts(lines[1], now)
	if err != nil || b[0].Rule.Level != "medium" || b[0].Rule.ID != "generic:Mailbox rule forwarding to an external address" || !b[0].Time.Equal(now) {
		t.Fatalf("got %+v, %v", b, err)
	}
}

func TestFields(t *testing.T) {
	cases := []struct{ name, doc, level, err string }{
		{name: "word level", doc: `{"title":"x","level":"warning"}`, level: "medium"},
		{name: "number level", doc: `{"title":"x","level":3}`, level: "high"},
		{name: "level out of range", doc: `{"title":"x","level":9}`, err: "is not informational, low, medium, high, critical or 1-4"},
		{name: "no title", doc: `{"level":"high"}`, err: "has no title"},
		{name: "prefix is no address", doc: `{"title":"x","source_ip":"0.0.0.0/0"}`, level: "medium"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as, err := Alerts([]byte(c.doc), now)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || as[0].Rule.Level != c.level || len(as[0].Entities.SourceIPs) != 0 {
				t.Fatalf("got %+v, %v", as, err)
			}
		})
	}
}

// Without an id the document's bytes name it: sent again, the same alert.
func TestStableID(t *testing.T) {
	l := sample(t)[1]
	a, _ := Alerts(l, now)
	b, _ := Alerts(l, now.Add(time.Hour))
	if a[0].ID != b[0].ID {
		t.Fatal("a resent document has a new id")
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
