package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
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

// TestClusterNodeLoss SIGKILLs the riposte node that owns the correlation
// partition of a brute force half-way through it, while that node is
// acknowledging an HTTP ingest burst. Every event it acknowledged is
// stored once (counted through another node); the second half of the
// brute force, sent to the survivors, completes the count the first half
// began: one incident, one brute-force alert over ten events. The times
// from the kill to each of its leases being held elsewhere are logged.
func TestClusterNodeLoss(t *testing.T) {
	l := newClusterLab(t, 3, "")
	const attacker = "203.0.113.61"
	sendRoundRobin(t, l.nodes, sshFailures(attacker, 0, 6))
	p := -1
	waitFor(t, "the brute force's partition state", 20*time.Second, func() bool {
		p = l.statePartition(attacker)
		return p >= 0
	})
	owners := l.owners()
	victim := l.byName(owners[p])
	jobs := l.jobsOf(owners[p])
	t.Logf("partition %d of %s is owned by %s, which holds %v", p, attacker, owners[p], jobs)

	stop := make(chan struct{})
	acked := make(chan []string)
	go func() { acked <- ingestBurst(victim, "burst", stop) }()
	time.Sleep(1500 * time.Millisecond)
	killed := l.kill(victim)
	close(stop)
	ack := <-acked
	if len(ack) == 0 {
		t.Fatalf("%s acknowledged nothing before the kill", owners[p])
	}
	survivors := l.live()

	l.failover(owners[p], jobs, killed)

	sendRoundRobin(t, survivors, sshFailures(attacker, 6, 6))
	got := settled(t, "the brute force's incident", 40*time.Second, func() string {
		incs := survivors[0].incidents(t)
		if len(incs) != 1 {
			return fmt.Sprintf("%d incidents", len(incs))
		}
		return fmt.Sprintf("%s: %v", incs[0].Title, incidentAlerts(t, survivors[0], incs[0].ID))
	})
	if !strings.Contains(got, "SSH brute force from one address [hits 1, events 10]") || strings.Contains(got, "incidents") {
		t.Fatalf("after the partition owner's death the brute force gave %s; want one incident with one brute-force alert over 10 events\n%s", got, l.logs())
	}
	t.Logf("correlation across the kill: %s", got)

	var stored map[string]int
	waitFor(t, "every acknowledged event stored", 30*time.Second, func() bool {
		stored = storedSeqs(survivors[len(survivors)-1])
		for _, s := range ack {
			if stored[s] == 0 {
				return false
			}
		}
		return true
	})
	for s, c := range stored {
		if c != 1 {
			t.Errorf("event %s stored %d times", s, c)
		}
	}
	t.Logf("%d events acknowledged by %s before its SIGKILL, all stored once (%d stored in all)", len(ack), owners[p], len(stored))
}

// scheduleSlots counts, from the audit log as nd shows it, the runs of
// the scheduled playbook started per slot, and gives each slot's start.
func scheduleSlots(t *testing.T, nd *node) map[string]int {
	t.Helper()
	var m struct {
		Entries []struct {
			Action string         `json:"action"`
			Detail map[string]any `json:"detail"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(apiGet(t, nd, "/api/v1/audit?limit=1000"), &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range m.Entries {
		if s, ok := e.Detail["slot"].(string); ok {
			out[s]++
		}
	}
	return out
}

// TestClusterScheduleOncePerSlot: a playbook scheduled every 2 s on three
// nodes starts once per slot, also across the SIGKILL of the node holding
// the schedules lease; the slots the failover skips are counted and the
// time to the first slot started by the new holder is logged.
func TestClusterScheduleOncePerSlot(t *testing.T) {
	l := newClusterLab(t, 3, "")
	first := l.nodes[0]
	pb := writeFile(t, t.TempDir(), "schedule.yaml", schedulePlaybook)
	if out, errs, code := run("playbook", "import", pb, "--reason", "e2e", "--server", first.url(), "--token", first.token); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	waitFor(t, "three slots started", 20*time.Second, func() bool { return len(scheduleSlots(t, first)) >= 3 })
	leader := l.leader("schedules")
	if leader == "" {
		t.Fatal("no node holds the schedules lease")
	}
	jobs := l.jobsOf(leader)
	before := len(scheduleSlots(t, first))
	killed := l.kill(l.byName(leader))
	l.failover(leader, jobs, killed)
	survivor := l.live()[0]
	var resumed time.Duration
	waitFor(t, "a slot started after the kill", 20*time.Second, func() bool {
		if len(scheduleSlots(t, survivor)) > before {
			resumed = time.Since(killed)
			return true
		}
		return false
	})
	time.Sleep(6 * time.Second)
	slots := scheduleSlots(t, survivor)
	var keys []string
	for s, c := range slots {
		keys = append(keys, s)
		if c != 1 {
			t.Errorf("slot %s started %d times, want once", s, c)
		}
	}
	sort.Strings(keys)
	// Slots are every 2 s from the first to the last: the missing ones
	// are those no node started (the holder's death).
	a, _ := time.Parse(time.RFC3339, strings.TrimPrefix(keys[0], "every:"))
	b, _ := time.Parse(time.RFC3339, strings.TrimPrefix(keys[len(keys)-1], "every:"))
	span := int(b.Sub(a)/(2*time.Second)) + 1
	t.Logf("schedule: %d slots started once each over %d slots; %d skipped while the holder %s was dead; new slot started %v after its SIGKILL",
		len(slots), span, span-len(slots), leader, resumed.Round(10*time.Millisecond))
	if span-len(slots) > 3 {
		t.Errorf("%d slots of 2 s skipped across the failover, want at most 3 (lease TTL %v)", span-len(slots), clusterTTL)
	}
	// Runs as the API lists them agree with the audit log.
	if runs := runsOf(t, survivor, "playbook--8b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e"); len(runs) != len(slots) {
		t.Errorf("%d runs listed for %d slots started", len(runs), len(slots))
	}
}

const slowBlockPlaybook = `id: playbook--1d2e3f40-5a6b-4c7d-8e9f-a0b1c2d3e4f5
name: Slow lookup then block
modified: 2026-12-07T00:00:00Z
description: A slow lookup, then a block on every agent.
inputs:
  url: {type: string, description: the lookup service}
  src_ip: {type: string, description: the address to block}
start: lookup
steps:
  lookup:
    connector: http.request
    args: {method: GET, url: __url__:value/lookup}
    next: block
  block:
    connector: agent.block_ip
    args:
      address: __src_ip__:value
      ttl: 1h
      reason: cluster run failover
    next: done
  done: end
`

// TestClusterRunFailover SIGKILLs the node executing a playbook run's
// slow step (the lookup service finds it from its connection). Another
// node takes the run over when the task's lease runs out; since the
// lookup may have taken effect, it asks a person instead of calling again
// (as one node does after a crash); the person answers through a third
// node, and the run blocks the address once. The lookup was called once.
// Then the node holding the alarm stage is killed and a brute force sent
// to the survivor still becomes one incident. The times are logged.
func TestClusterRunFailover(t *testing.T) {
	l := newClusterLab(t, 3, "")
	type call struct {
		key  string
		from *node
		at   time.Time
	}
	calls := make(chan call, 10)
	var hung atomic.Bool
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := call{key: r.Header.Get("Idempotency-Key"), from: l.peerNode(r.RemoteAddr), at: time.Now()}
		calls <- c
		if c.from != nil && hung.CompareAndSwap(false, true) {
			<-r.Context().Done() // the first call hangs until its caller dies
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"verdict":"malicious"}`))
	}))
	defer hs.Close()
	first := l.nodes[0]
	srv := []string{"--server", first.url(), "--token", first.token}
	dir := t.TempDir()
	pb := writeFile(t, dir, "slow.yaml", slowBlockPlaybook)
	if out, errs, code := run(append([]string{"playbook", "import", pb, "--reason", "e2e"}, srv...)...); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	const target = "198.51.100.77"
	in := writeFile(t, dir, "in.json", fmt.Sprintf(`{"url": %q, "src_ip": %q}`, hs.URL, target))
	if out, errs, code := run(append([]string{"playbook", "run", "playbook--1d2e3f40-5a6b-4c7d-8e9f-a0b1c2d3e4f5", "--input", in}, srv...)...); code != 0 {
		t.Fatalf("playbook run: %s %s", out, errs)
	}
	var c1 call
	select {
	case c1 = <-calls:
	case <-time.After(20 * time.Second):
		t.Fatalf("the lookup was never called\n%s", l.logs())
	}
	if c1.from == nil {
		t.Fatalf("the lookup's caller is none of the nodes")
	}
	holder := l.nameOf(c1.from)
	killed := l.kill(c1.from)
	survivor := l.live()[0]
	var ask map[string]any
	waitFor(t, "the question about the interrupted lookup", 30*time.Second, func() bool {
		for _, a := range apiList(t, survivor, "/api/v1/approvals", "approvals") {
			ask = a
			return true
		}
		return false
	})
	t.Logf("failover: run step interrupted by the SIGKILL of %s asked about %v later on a survivor (respond.lease 2s): %v",
		holder, time.Since(killed).Round(10*time.Millisecond), ask["question"])
	if ask["kind"] != "unknown_outcome" {
		t.Fatalf("question %v: want an unknown_outcome question", ask)
	}
	// The lookup service got the call: it happened.
	if res, body, err := survivor.do("POST", fmt.Sprintf("/api/v1/approvals/%v/approve", ask["id"]), survivor.token,
		strings.NewReader(`{"comment":"the lookup service got it"}`), map[string]string{"Content-Type": "application/json"}); err != nil || res.StatusCode >= 300 {
		t.Fatalf("approve: %v %s", err, body)
	}
	waitFor(t, "the run to succeed", 30*time.Second, func() bool {
		runs := runsOf(t, survivor, "playbook--1d2e3f40-5a6b-4c7d-8e9f-a0b1c2d3e4f5")
		return len(runs) == 1 && runs[0]["status"] == "succeeded"
	})
	time.Sleep(clusterTTL)
	for _, nd := range l.live() {
		if c := activeDecisions(t, nd, target); c != 1 {
			t.Fatalf("%s: %d decisions block %s, want exactly 1", l.nameOf(nd), c, target)
		}
	}
	if n := len(calls); n != 0 {
		t.Errorf("the lookup was called %d more times after the kill: its idempotency key %s was sent again", n, c1.key)
	}

	// The alarm stage's holder dies (if it was not the node just killed):
	// a brute force sent to the survivors is made an incident all the same.
	if leader := l.leader("alarm"); leader != "" && l.byName(leader) != c1.from {
		jobs := l.jobsOf(leader)
		killed := l.kill(l.byName(leader))
		sendRoundRobin(t, l.live(), sshFailures("203.0.113.62", 0, 12))
		waitFor(t, "an incident after the alarm holder's death", 30*time.Second, func() bool { return len(l.live()[0].incidents(t)) > 0 })
		t.Logf("failover: alarm holder %s SIGKILLed; a brute force sent at once became an incident %v later", leader, time.Since(killed).Round(10*time.Millisecond))
		l.failover(leader, jobs, killed)
		time.Sleep(3 * time.Second)
		if incs := l.live()[0].incidents(t); len(incs) != 1 {
			t.Fatalf("%d incidents after the alarm failover, want 1: %+v", len(incs), incs)
		}
	}
}

// ingestTimes posts batches to nd until stop, going on through failures,
// and returns the acknowledged seqs and when each batch was acknowledged.
func ingestTimes(nd *node, prefix string, stop <-chan struct{}) ([]string, []time.Time) {
	var acked []string
	var at []time.Time
	for b := 0; ; b++ {
		select {
		case <-stop:
			return acked, at
		default:
		}
		var seqs []string
		for i := range 20 {
			seqs = append(seqs, fmt.Sprintf("%s-%d-%d", prefix, b, i))
		}
		if postEvents(nd, seqs) {
			acked = append(acked, seqs...)
			at = append(at, time.Now())
		}
		// A steady trickle, not a flood: the pauses are what is measured,
		// and every event is then read back through the API.
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterNATSStreamLeaderLoss SIGKILLs the NATS server leading the
// EVENTS stream while the three riposte nodes acknowledge HTTP ingest:
// the stream elects another leader, every node goes on acknowledging, and
// every acknowledged event is stored once.
func TestClusterNATSStreamLeaderLoss(t *testing.T) {
	l := newClusterLab(t, 3, "")
	lead, err := l.streamLeader("EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	type result struct {
		acked []string
		at    []time.Time
	}
	results := make([]chan result, len(l.nodes))
	for i, nd := range l.nodes {
		results[i] = make(chan result, 1)
		go func() {
			a, at := ingestTimes(nd, l.names[i], stop)
			results[i] <- result{a, at}
		}()
	}
	time.Sleep(2 * time.Second)
	killed := time.Now()
	lead.Kill()
	var elected time.Duration
	var newLead string
	waitFor(t, "a new EVENTS leader", 30*time.Second, func() bool {
		nl, err := l.streamLeader("EVENTS")
		if err != nil || nl == lead {
			return false
		}
		elected, newLead = time.Since(killed), nl.Name
		return true
	})
	time.Sleep(5 * time.Second)
	close(stop)
	var all []string
	for i := range l.nodes {
		r := <-results[i]
		all = append(all, r.acked...)
		// The longest time without an acknowledgement around the kill,
		// and whether the node acknowledged again afterwards.
		var gap time.Duration
		after := 0
		for j := 1; j < len(r.at); j++ {
			if r.at[j].After(killed) && r.at[j-1].Before(killed.Add(10*time.Second)) {
				gap = max(gap, r.at[j].Sub(r.at[j-1]))
			}
			if r.at[j].After(killed.Add(elected)) {
				after++
			}
		}
		if after == 0 {
			t.Errorf("%s acknowledged nothing after the new leader's election", l.names[i])
		}
		t.Logf("%s: %d events acknowledged; longest pause in acknowledgements across the kill %v; %d batches acknowledged after the election",
			l.names[i], len(r.acked), gap.Round(10*time.Millisecond), after)
	}
	t.Logf("failover: EVENTS stream leader %s SIGKILLed, %s elected %v later", lead.Name, newLead, elected.Round(10*time.Millisecond))
	var stored map[string]int
	waitFor(t, "every acknowledged event stored", 60*time.Second, func() bool {
		stored = storedSeqs(l.nodes[0])
		for _, s := range all {
			if stored[s] == 0 {
				return false
			}
		}
		return true
	})
	for s, c := range stored {
		if c != 1 {
			t.Errorf("event %s stored %d times", s, c)
		}
	}
	t.Logf("%d events acknowledged across the stream leader's death, all stored once (%d stored)", len(all), len(stored))
}
