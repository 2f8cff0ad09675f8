package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestFloodCannotPruneBruteForceEvidence: an attacker brute-forces SSH, then
// floods the node with unrelated events, many times the event store's size
// bound, to push the brute force's events out of it. Size-based retention
// must take the flood's oldest events and keep the events the alerts were
// raised on.
func TestFloodCannotPruneBruteForceEvidence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	const maxBytes = 4 << 20
	n := newNode(t, fmt.Sprintf(`retention:
  max_bytes: %d
  pinned_share: 0.25
  interval: 1s
`, maxBytes))
	n.start()

	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, fmt.Sprintf("Failed password for invalid user u%d from 203.0.113.99 port %d ssh2", i, 40000+i))
	}
	sendSyslogTCP(t, n.syslog, lines...)
	// The evidence: every event an alert on 203.0.113.99 lists.
	evidence := map[string]bool{}
	waitFor(t, "a brute-force alert", 30*time.Second, func() bool {
		for _, a := range n.alertsWithEvents(t) {
			if strings.Contains(strings.ToLower(a.Rule.Title), "brute") {
				for _, id := range a.EventIDs {
					evidence[id] = true
				}
			}
		}
		return len(evidence) > 0
	})
	// Pins are written from the alerts stream; give them a moment before
	// the flood so the test is about pruning, not a race with pinning.
	waitFor(t, "the brute force stored", 10*time.Second, func() bool { return len(n.events("203.0.113.99")) == 12 })
	time.Sleep(time.Second)

	// About 16 MiB of unrelated events: four times the bound.
	const flood = 16000
	sendFlood(t, n.syslog, flood, 1000)
	newest := fmt.Sprintf("flood-%06d", flood-1)
	waitFor(t, "the newest flood event stored", 60*time.Second, func() bool { return len(n.events(newest)) == 1 })
	waitFor(t, "retention to prune the flood's oldest events", 30*time.Second, func() bool {
		return len(n.events("flood-000000")) == 0
	})

	kept := map[string]bool{}
	for _, e := range n.events("203.0.113.99") {
		kept[e.ID] = true
	}
	if m := missing(evidence, kept); m > 0 {
		t.Errorf("%d of the %d events the brute-force alerts list were pruned by the flood", m, len(evidence))
	}
	left := len(n.events("flood-0"))
	if left >= flood {
		t.Fatalf("%d flood events stored: retention pruned none", left)
	}
	t.Logf("after the flood: %d of %d evidence events, %d of %d flood events left", len(evidence)-missing(evidence, kept), len(evidence), left, flood)
	if v, ok := n.metric(t, "riposte_eventstore_pinned_bytes"); !ok || v <= 0 || v > maxBytes/4 {
		t.Errorf("riposte_eventstore_pinned_bytes = %v (present %v), want above 0 and within the pinned share", v, ok)
	}
	if v, _ := n.metric(t, "riposte_eventstore_events_pruned_total"); v == 0 {
		t.Error("riposte_eventstore_events_pruned_total is 0")
	}
	// The alerts stream's residual risk is visible: the alarm stage's
	// backlog is exported, and no alert left the stream unprocessed.
	if _, ok := n.metric(t, "riposte_alerts_alarm_pending"); !ok {
		t.Error("riposte_alerts_alarm_pending missing from /metrics")
	}
	if v, ok := n.metric(t, "riposte_alerts_discarded_unprocessed_total"); !ok || v != 0 {
		t.Errorf("riposte_alerts_discarded_unprocessed_total = %v (present %v), want 0", v, ok)
	}
	n.stopWithin(t, 10*time.Second)
}

func missing(want, have map[string]bool) int {
	n := 0
	for id := range want {
		if !have[id] {
			n++
		}
	}
	return n
}

type alertWithEvents struct {
	Rule struct {
		Title string `json:"title"`
	} `json:"rule"`
	EventIDs []string `json:"event_ids"`
}

func (n *node) alertsWithEvents(t *testing.T) []alertWithEvents {
	t.Helper()
	resp, body, err := n.do("GET", "/api/v1/alerts/stream?limit=1000", n.token, nil, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("alerts stream: %v %s", err, body)
	}
	var res struct{ Alerts []alertWithEvents }
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	return res.Alerts
}

// sendFlood sends count syslog events of about size bytes from another
// host and program, each marked flood-NNNNNN, over one TCP connection.
func sendFlood(t *testing.T, addr string, count, size int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := bufio.NewWriter(c)
	pad := strings.Repeat("x", size)
	for i := 0; i < count; i++ {
		msg := fmt.Sprintf("<14>%s batch-9 report[77]: flood-%06d %s", time.Now().UTC().Format("Jan _2 15:04:05"), i, pad)
		fmt.Fprintf(w, "%d %s", len(msg), msg)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}
