package zeek

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
	b, err := os.ReadFile("testdata/notice.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(b), []byte("\n"))
}

func TestSample(t *testing.T) {
	lines := sample(t)
	cases := []struct {
		name       string
		line       int
		rule, src  string
		dest       []string
		err        string
		wantSecond int64
	}{
		{name: "port scan", line: 0, rule: "zeek:Scan::Port_Scan", src: "203.0.113.7", dest: []string{"10.0.0.5"}, wantSecond: 1795680842},
		{name: "password guessing without dst: the connection's responder", line: 1, rule: "zeek:SSH::Password_Guessing", src: "203.0.113.7",
			dest: []string{"10.0.0.5"}, wantSecond: 1795681011},
		{name: "conn.log is an event", line: 2, err: "only notice.log records are alerts, send the other logs to POST /api/v1/events"},
		{name: "ISO time, named log", line: -1, rule: "zeek:Weird::Activity", src: "192.0.2.9", wantSecond: 1795675200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line := []byte(`{"ts":"2026-11-26T06:40:00Z","_path":"notice","note":"Weird::Activity","src":"192.0.2.9"}`)
			if c.line >= 0 {
				line = lines[c.line]
			}
			as, err := Alerts(line, now)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
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
			if a.Rule.ID != c.rule || !slices.Equal(a.Entities.SourceIPs, []string{c.src}) || !slices.Equal(a.Entities.DestIPs, c.dest) ||
				a.Time.Unix() != c.wantSecond {
				t.Fatalf("got %+v", a)
			}
		})
	}
}

func TestStableID(t *testing.T) {
	l := sample(t)[0]
	a, _ := Alerts(l, now)
	b, _ := Alerts(l, now.Add(time.Minute))
	if a[0].ID != b[0].ID {
		t.Fatal("a resent notice has a new id")
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
