package e2e

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// The cluster e2e tests of issue 13: real nats-server, PostgreSQL and
// riposte serve processes (cluster_harness_test.go), SIGKILLed as a
// machine's death would, checked through each node's API as a user would.

// alertSummary is what a user sees of an incident's alerts: per rule, how
// many distinct alerts, how many hits and how many events they name.
type alertSummary map[string]string

// incidentAlerts summarizes the alerts of incident id as nd shows them.
func incidentAlerts(t *testing.T, nd *node, id string) alertSummary {
	t.Helper()
	var m struct {
		Alerts []struct {
			RuleTitle string   `json:"rule_title"`
			Count     int      `json:"count"`
			EventIDs  []string `json:"event_ids"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(apiGet(t, nd, "/api/v1/incidents/"+id), &m); err != nil {
		t.Fatal(err)
	}
	out := alertSummary{}
	for _, a := range m.Alerts {
		seen := map[string]bool{}
		for _, e := range a.EventIDs {
			seen[e] = true
		}
		out[a.RuleTitle] += fmt.Sprintf("[hits %d, events %d]", a.Count, len(seen))
	}
	return out
}

func (s alertSummary) String() string {
	var ks []string
	for k, v := range s {
		ks = append(ks, k+" "+v)
	}
	sort.Strings(ks)
	return strings.Join(ks, "; ")
}

// settled waits until f gives the same answer twice, 3s apart (late
// duplicates would show up meanwhile), and returns it.
func settled(t *testing.T, what string, d time.Duration, f func() string) string {
	t.Helper()
	var last string
	waitFor(t, what, d, func() bool {
		cur := f()
		if cur != "" && cur == last {
			return true
		}
		last = cur
		time.Sleep(3 * time.Second)
		return false
	})
	return last
}

// TestClusterBruteForceOnce: the lines of one SSH brute force are sent
// round-robin to the three nodes' syslog inputs. Every node shows the same
// single incident with the alerts a single node makes of the same lines,
// and the blocking playbook makes exactly one decision.
func TestClusterBruteForceOnce(t *testing.T) {
	l := newClusterLab(t, 3, "")
	const attacker = "203.0.113.50"
	lines := sshFailures(attacker, 0, 12)

	// What one node makes of these lines: the reference.
	single := newNode(t, "")
	single.start()
	sendSyslogTCP(t, single.syslog, lines...)
	want := settled(t, "the single node's incident", 30*time.Second, func() string {
		incs := single.incidents(t)
		if len(incs) != 1 {
			return ""
		}
		return fmt.Sprintf("%s: %v", incs[0].Title, incidentAlerts(t, single, incs[0].ID))
	})
	single.stop(9)

	first := l.nodes[0]
	// The playbook goes in through a node that does not run the alarm
	// stage: the holder must arm it all the same.
	var importer *node
	for _, nd := range l.nodes {
		if l.nameOf(nd) != l.leader("alarm") {
			importer = nd
		}
	}
	pb := writeFile(t, t.TempDir(), "block.yaml", fmt.Sprintf(blockPlaybook, "1h"))
	if out, errs, code := run("playbook", "import", pb, "--reason", "e2e", "--server", importer.url(), "--token", importer.token); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	sendRoundRobin(t, l.nodes, lines)
	got := settled(t, "one incident on the cluster", 40*time.Second, func() string {
		var views []string
		for _, nd := range l.nodes {
			incs := nd.incidents(t)
			if len(incs) != 1 {
				return fmt.Sprintf("%s sees %d incidents", l.nameOf(nd), len(incs))
			}
			views = append(views, fmt.Sprintf("%s: %v", incs[0].Title, incidentAlerts(t, nd, incs[0].ID)))
		}
		for _, v := range views[1:] {
			if v != views[0] {
				return fmt.Sprintf("the nodes disagree: %q", views)
			}
		}
		return views[0]
	})
	if got != want {
		t.Fatalf("the cluster made of the brute force:\n  %s\na single node:\n  %s\n%s", got, want, l.logs())
	}
	t.Logf("one incident, as a single node makes it: %s", got)
	for _, nd := range l.nodes {
		if incs := nd.incidents(t); len(incs) != 1 {
			t.Fatalf("%s shows %d incidents, want 1: %+v", l.nameOf(nd), len(incs), incs)
		}
	}
	// The events behind the alerts are all stored, once.
	if evs := first.events(attacker); len(evs) != len(lines) {
		t.Fatalf("%d events from %s stored, want %d", len(evs), attacker, len(lines))
	}

	waitFor(t, "the playbook's block", 20*time.Second, func() bool { return activeDecisions(t, first, attacker) > 0 })
	time.Sleep(2 * clusterTTL)
	for _, nd := range l.nodes {
		if c := activeDecisions(t, nd, attacker); c != 1 {
			t.Fatalf("%s: %d decisions block %s, want exactly 1\n%s", l.nameOf(nd), c, attacker, l.logs())
		}
	}
	runs := runsOf(t, first, "playbook--7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
	if len(runs) != 1 {
		t.Fatalf("%d runs of the blocking playbook, want 1: %v", len(runs), runs)
	}
}
