package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type incidentDoc struct {
	ID         string   `json:"id"`
	Status     string   `json:"status"`
	AlertCount int      `json:"alert_count"`
	HitCount   int      `json:"hit_count"`
	Follows    string   `json:"follows"`
	FollowedBy []string `json:"followed_by"`
	Entities   []struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	} `json:"entities"`
}

func (d incidentDoc) names(v string) bool {
	return slices.ContainsFunc(d.Entities, func(e struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	}) bool {
		return e.Value == v
	})
}

type incidentDetail struct {
	Incident incidentDoc `json:"incident"`
	Timeline []struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	} `json:"timeline"`
}

func (n *node) incident(t *testing.T, id string) incidentDetail {
	t.Helper()
	resp, body, err := n.do("GET", "/api/v1/incidents/"+id, n.token, nil, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("incident %s: %v %s", id, err, body)
	}
	var d incidentDetail
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatalf("incident %s: %v", id, err)
	}
	return d
}

func (d incidentDetail) timelineHas(sub string) bool {
	return slices.ContainsFunc(d.Timeline, func(e struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	}) bool {
		return strings.Contains(e.Text, sub)
	})
}

func bruteForce(from, userPrefix string, port int) []string {
	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, fmt.Sprintf("Failed password for invalid user %s%d from %s port %d ssh2", userPrefix, i, from, port+i))
	}
	return lines
}

// A second attacker's brute force on a host whose incident was contained
// opens a new incident that follows the first, through the real binary;
// the first attacker's further failures still land in the first.
func TestNewAttackerAfterContainmentOpensLinkedIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	const first, second = "203.0.113.99", "198.51.100.23"
	n := newNode(t, "")
	n.start()
	cli := func(args ...string) string {
		t.Helper()
		out, errs, code := run(append(args, "--server", "http://"+n.http, "--token", n.token)...)
		if code != 0 {
			t.Fatalf("riposte %v: exit %d: %s", args, code, errs)
		}
		return out
	}

	sendSyslogTCP(t, n.syslog, bruteForce(first, "u", 40000)...)
	var inc1 string
	waitFor(t, "an incident for the first brute force", 30*time.Second, func() bool {
		incs := n.incidents(t)
		if len(incs) == 1 {
			inc1 = incs[0].ID
		}
		return inc1 != ""
	})
	cli("incident", "status", inc1, "contained")

	sendSyslogTCP(t, n.syslog, bruteForce(second, "v", 41000)...)
	var inc2 string
	waitFor(t, "a second incident for the second attacker", 30*time.Second, func() bool {
		for _, in := range n.incidents(t) {
			if in.ID != inc1 {
				inc2 = in.ID
			}
		}
		return inc2 != ""
	})
	d2 := n.incident(t, inc2)
	d1 := n.incident(t, inc1)
	if d2.Incident.Follows != inc1 || !slices.Contains(d1.Incident.FollowedBy, inc2) {
		t.Fatalf("second incident follows %q, first followed by %v: want a link between %s and %s",
			d2.Incident.Follows, d1.Incident.FollowedBy, inc1, inc2)
	}
	if !d2.Incident.names(second) || d2.Incident.names(first) || d1.Incident.names(second) {
		t.Fatalf("entities: first %+v, second %+v; want each attacker in its own incident", d1.Incident.Entities, d2.Incident.Entities)
	}
	if d1.Incident.Status != "contained" || !d1.timelineHas("started incident "+inc2) || !d2.timelineHas("follows incident "+inc1) {
		t.Fatalf("first %s with timeline %+v, second's timeline %+v: want the link on both", d1.Incident.Status, d1.Timeline, d2.Timeline)
	}
	hits1 := d1.Incident.HitCount

	// The first attacker goes on: its failures join the contained incident
	// (the timeline says the activity continues), not the follow-up.
	// Syslog stamps whole seconds, and a correlation hit's alert id comes
	// from its rule, group and window end: a burst within the second of the
	// first hit would carry its id and be taken for a redelivery.
	time.Sleep(1100 * time.Millisecond)
	sendSyslogTCP(t, n.syslog, bruteForce(first, "w", 42000)...)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		d1 = n.incident(t, inc1)
		if d1.timelineHas("after containment") && d1.Incident.HitCount > hits1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first attacker's new failures did not reach the first incident (%d hits before): %+v\nincidents %+v",
				hits1, d1, n.incidents(t))
		}
	}
	// Let the correlations of that burst land before counting.
	time.Sleep(2 * time.Second)
	if incs := n.incidents(t); len(incs) != 2 {
		t.Fatalf("%d incidents after the first attacker went on, want 2: %+v", len(incs), incs)
	}
	if d2 = n.incident(t, inc2); d2.Incident.names(first) {
		t.Fatalf("the follow-up incident took the first attacker: %+v", d2.Incident.Entities)
	}
	if d1 = n.incident(t, inc1); d1.Incident.Status != "contained" {
		t.Fatalf("first incident is %s: alerts changed the status people set", d1.Incident.Status)
	}

	out := cli("incident", "show", inc2)
	if !strings.Contains(out, "follows: "+inc1) {
		t.Errorf("incident show %s does not say whom it follows:\n%s", inc2, out)
	}
	out = cli("incident", "show", inc1)
	if !strings.Contains(out, "followed by: "+inc2) || !strings.Contains(out, "started incident "+inc2) {
		t.Errorf("incident show %s does not name its follow-up:\n%s", inc1, out)
	}
}
