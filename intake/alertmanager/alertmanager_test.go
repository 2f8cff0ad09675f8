package alertmanager

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

func sample(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/webhook.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The sample holds one firing and one resolved alert: only the firing one
// is raised.
func TestSample(t *testing.T) {
	as, err := Alerts(sample(t), now)
	if err != nil || len(as) != 1 {
		t.Fatalf("%d alerts, %v; want the firing one only", len(as), err)
	}
	if err := raise.Check(as); err != nil {
		t.Fatal(err)
	}
	a := as[0]
	if a.Rule.ID != "alertmanager:NodeExporterDown" || a.Rule.Level != "critical" || a.Rule.Title != "Node exporter on 10.0.0.5:9100 is down" ||
		!slices.Equal(a.Entities.Hosts, []string{"10.0.0.5"}) || !a.Time.Equal(time.Date(2026, 11, 26, 9, 31, 0, 0, time.UTC)) {
		t.Fatalf("got %+v", a)
	}
}

func TestPayloads(t *testing.T) {
	cases := []struct {
		name, doc string
		n         int
		level     string
		err       string
	}{
		{name: "all resolved", doc: `{"version":"4","receiver":"r","alerts":[{"status":"resolved","labels":{"alertname":"A"}}]}`},
		{name: "severity warning", doc: `{"receiver":"r","alerts":[{"status":"firing","labels":{"alertname":"A","severity":"warning"}}]}`, n: 1, level: "medium"},
		{name: "no severity", doc: `{"receiver":"r","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}`, n: 1, level: "medium"},
		{name: "version 3", doc: `{"version":"3","receiver":"r","alerts":[]}`, err: `version "3" is not supported`},
		{name: "no alertname", doc: `{"receiver":"r","alerts":[{"status":"firing","labels":{}}]}`, err: "has no alertname"},
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
			if err != nil || len(as) != c.n {
				t.Fatalf("%d alerts, %v", len(as), err)
			}
			if c.n > 0 && as[0].Rule.Level != c.level {
				t.Fatalf("level %s, want %s", as[0].Rule.Level, c.level)
			}
		})
	}
}

// Alertmanager repeats a firing alert every repeat_interval: the same
// fingerprint and startsAt are the same alert; a new firing is another.
func TestStableID(t *testing.T) {
	a, _ := Alerts(sample(t), now)
	b, _ := Alerts(sample(t), now.Add(4*time.Hour))
	c, _ := Alerts(bytes.Replace(sample(t), []byte("2026-11-26T09:31:00.000Z"), []byte("2026-11-26T11:00:00.000Z"), 1), now.Add(2*time.Hour))
	if a[0].ID != b[0].ID || c[0].ID == a[0].ID {
		t.Fatalf("ids %s %s %s", a[0].ID, b[0].ID, c[0].ID)
	}
}

func FuzzAlerts(f *testing.F) {
	f.Add(sample(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		if as, err := Alerts(b, now); err == nil {
			if err := raise.Check(as); err != nil {
				t.Fatal(err)
			}
		}
	})
}
