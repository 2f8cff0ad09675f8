package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// streamAlert is what GET /api/v1/alerts/stream returns per alert.
type streamAlert struct {
	Kind string `json:"kind"`
	Rule struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"rule"`
	Correlation *struct {
		GroupBy map[string]string `json:"group_by"`
		Count   int64             `json:"count"`
	} `json:"correlation"`
}

func (n *node) streamAlerts(t *testing.T) []streamAlert {
	t.Helper()
	resp, body, err := n.do("GET", "/api/v1/alerts/stream?limit=1000", n.token, nil, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("alerts stream: %v %s", err, body)
	}
	var res struct{ Alerts []streamAlert }
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	return res.Alerts
}

// metric reads one sample of /metrics by its full name and labels.
func (n *node) metric(t *testing.T, sample string) (float64, bool) {
	t.Helper()
	resp, body, err := n.do("GET", "/metrics", n.token, nil, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("metrics: %v %s", err, body)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	return v, err == nil
}

// sendSyslogLines sends sshd lines over one TCP connection, buffered.
func sendSyslogLines(t *testing.T, addr string, lines []string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := bufio.NewWriter(c)
	for _, l := range lines {
		msg := "<38>" + time.Now().UTC().Format("Jan _2 15:04:05") + " web-1 sshd[4242]: " + l
		fmt.Fprintf(w, "%d %s", len(msg), msg)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestCorrelationFloodDoesNotHideBruteForce: six failed SSH logins from an
// attacker, then failures from more distinct addresses than a correlation
// keeps, then six more from the attacker. The flood once evicted the
// attacker's count silently and the brute force raised nothing. Now the
// brute force alerts, the flood raises its own alert naming the network it
// came from, and /metrics shows the evictions. The state bound is set to
// 1,000 groups so that a flood of 2,000 lines proves it.
func TestCorrelationFloodDoesNotHideBruteForce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	const maxGroups, flood = 1000, 2000
	for _, tc := range []struct {
		name, attacker, network string
		flooder                 func(i int) string
	}{
		{"ipv4 addresses", "203.0.113.66", "198.18.",
			func(i int) string { return fmt.Sprintf("198.18.%d.%d", i/250, i%250+1) }},
		{"ipv6 one /64", "2001:db8:bad:1::5", "2001:db8:bad:1::/64",
			func(i int) string { return fmt.Sprintf("2001:db8:bad:1::fe:%x", i+1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, fmt.Sprintf("detect:\n  correlation:\n    max_groups: %d\n", maxGroups))
			n.start()
			c := newCanaries(t, n)
			for i := range 3 {
				if !c.send("before", i) {
					t.Fatal("canary before the attack not acknowledged")
				}
			}
			w := watchNode(n)
			stop := make(chan struct{})
			var cwg sync.WaitGroup
			cwg.Add(1)
			go func() { defer cwg.Done(); c.during(stop, 200*time.Millisecond) }()
			start := time.Now()

			fails := func(from int) []string {
				var l []string
				for i := from; i < from+6; i++ {
					l = append(l, fmt.Sprintf("Failed password for invalid user oracle from %s port %d ssh2", tc.attacker, 40000+i))
				}
				return l
			}
			// Each step is stored before the next is sent, so detection
			// sees them in this order.
			sendSyslogLines(t, n.syslog, fails(0))
			waitFor(t, "the attacker's first failures", 30*time.Second, func() bool { return len(n.events("oracle")) == 6 })
			var lines []string
			for i := range flood {
				lines = append(lines, fmt.Sprintf("Failed password for floodvictim from %s port %d ssh2", tc.flooder(i), 1024+i))
			}
			sendSyslogLines(t, n.syslog, lines)
			waitFor(t, "the flood", 60*time.Second, func() bool { return len(n.events("floodvictim")) == flood })
			sendSyslogLines(t, n.syslog, fails(6))

			var alerts, bf, pressure []streamAlert
			read := func() {
				alerts = n.streamAlerts(t)
				bf, pressure = nil, nil
				for _, a := range alerts {
					switch {
					case a.Rule.Title == "SSH brute force from one address":
						bf = append(bf, a)
					case strings.HasPrefix(a.Rule.Title, "Correlation state under pressure, possible flood evasion: SSH brute force from one address"):
						pressure = append(pressure, a)
					}
				}
			}
			waitFor(t, "the alert on the flood", 30*time.Second, func() bool { read(); return len(pressure) > 0 })
			waitFor(t, "the brute-force alert", 15*time.Second, func() bool { read(); return len(bf) > 0 })
			close(stop)
			cwg.Wait()
			took := time.Since(start)

			if len(bf) != 1 || bf[0].Correlation == nil || bf[0].Correlation.GroupBy["source.ip"] != tc.attacker || bf[0].Correlation.Count != 10 {
				t.Errorf("brute-force alerts %+v: want one for %s counting 10 failures", bf, tc.attacker)
			}
			p := pressure[0]
			if p.Correlation == nil || p.Correlation.Count < flood-maxGroups || !strings.Contains(p.Correlation.GroupBy["networks"], tc.network) ||
				p.Correlation.GroupBy["evicted_max_entries"] != "1" {
				t.Errorf("pressure alert %+v: want at least %d evictions, only of single-failure groups, from %s", p, flood-maxGroups, tc.network)
			}
			const bfKey = `correlation="641fe131-66f0-4058-9033-a72ae94cd73e"`
			if v, ok := n.metric(t, "riposte_correlation_evictions_total{"+bfKey+"}"); !ok || v < flood-maxGroups {
				t.Errorf("riposte_correlation_evictions_total = %v (found %v), want at least %d", v, ok, flood-maxGroups)
			}
			if v, ok := n.metric(t, "riposte_correlation_groups{"+bfKey+"}"); !ok || v != maxGroups {
				t.Errorf("riposte_correlation_groups = %v (found %v), want %d", v, ok, maxGroups)
			}

			n.expectReadyWithin(t, 10*time.Second)
			for i := range 3 {
				if !c.send("after", i) {
					t.Errorf("canary %d after the attack not acknowledged", i)
				}
			}
			peak := w.end()
			t.Logf("flood of %d in %v; peak RSS %d MB; /readyz failed %d samples; %d alerts on the stream",
				flood, took.Round(time.Millisecond), peak>>20, len(w.notReady), len(alerts))
			const bound = 400 << 20
			if peak > bound {
				t.Errorf("peak RSS %d MB over the bound of %d MB", peak>>20, bound>>20)
			}
			if len(w.notReady) > 0 {
				t.Errorf("/readyz failed %d times during the flood", len(w.notReady))
			}
			c.verify(t, 30*time.Second)
			n.stopWithin(t, 10*time.Second)
		})
	}
}
