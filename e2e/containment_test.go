package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

const blockPlaybook = `id: playbook--7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f
name: Block SSH brute force
modified: 2026-11-26T00:00:00Z
description: Blocks the source of an SSH brute force on every agent.
trigger:
  alert:
    rules: [641fe131-66f0-4058-9033-a72ae94cd73e]  # sshd_brute_force
  bind:
    src_ip: alert.entities.source_ips[0]
inputs:
  src_ip: {type: string, description: The attacking address}
start: block
steps:
  block:
    connector: agent.block_ip
    args:
      address: __src_ip__:value
      ttl: %s
      reason: SSH brute force
    next: done
  done: end
`

// TestContainmentEndToEnd is the whole loop in network namespaces: an
// attacker fails logins against a service on the victim, whose log lines
// reach Riposte by syslog; the brute-force rule fires, the playbook blocks
// the attacker through the victim's agent, the attacker's new connections
// fail while a benign client's succeed; the block survives a flushed
// ruleset and restarts of the agent and the server, then expires. It also
// measures, over 50 attackers, the time from the log line to the nftables
// rule.
func TestContainmentEndToEnd(t *testing.T) {
	l := newLab(t, "attacker", "victim", "benign")
	const ttl = 30 * time.Second
	n := newNodeOn(t, l.server, "")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	dir := t.TempDir()
	pb := writeFile(t, dir, "block.yaml", fmt.Sprintf(blockPlaybook, ttl))
	if out, errs, code := run(append([]string{"playbook", "import", pb, "--reason", "e2e"}, srv...)...); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	agent := enrollVictim(t, l, n, dir, "--heartbeat", "1s", "--reconcile", "500ms")

	victim := l.hosts["victim"].addr
	service := net.JoinHostPort(victim, "2222")
	svc := startLoginService(t, l, "victim", service, n.syslog)
	k := openKernel(t, l, "victim")
	attacker := l.hosts["attacker"].addr
	attackerNet := netip.MustParsePrefix(attacker + "/32")
	if err := l.dial("benign", "", service, time.Second); err != nil {
		t.Fatalf("benign client before any block: %v", err)
	}

	// The attack: ten failed logins within the rule's five minutes.
	for i := 0; i < 10; i++ {
		if err := l.dial("attacker", "", service, time.Second); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for !k.denies(attackerNet) {
		if time.Now().After(deadline) {
			t.Fatalf("the attacker was not blocked in the victim's nftables within 20s\nserver:\n%s\nagent:\n%s", tail(n.log.String(), 30), tail(agent.log.String(), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := l.dial("attacker", "", service, 500*time.Millisecond); err == nil {
		t.Fatal("the attacker still connects after the block")
	}
	if err := l.dial("benign", "", service, time.Second); err != nil {
		t.Fatalf("the benign client is blocked too: %v", err)
	}
	out, _, _ := run(append([]string{"decision", "list", "--output", "json"}, srv...)...)
	var ds []map[string]any
	json.Unmarshal([]byte(out), &ds)
	if len(ds) != 1 || ds[0]["target"] != attacker+"/32" || ds[0]["reason"] != "SSH brute force" {
		t.Fatalf("decisions: %s", out)
	}

	// The decision list shows which agents report enforcing it.
	waitFor(t, "the victim's agent to report the rule", 10*time.Second, func() bool {
		out, _, _ := run(append([]string{"decision", "list", "--output", "json"}, srv...)...)
		var ds []struct {
			EnforcedBy []string `json:"enforced_by"`
		}
		json.Unmarshal([]byte(out), &ds)
		return len(ds) == 1 && len(ds[0].EnforcedBy) == 1 && ds[0].EnforcedBy[0] == "victim"
	})

	// Someone flushes the ruleset: the agent puts the block back.
	k.flush(t)
	if k.denies(attackerNet) {
		t.Fatal("flush did not remove the table")
	}
	waitFor(t, "the block to come back after a flush", 5*time.Second, func() bool { return k.denies(attackerNet) })

	// The agent restarts: the block is there before and after.
	agent.stop()
	if !k.denies(attackerNet) {
		t.Fatal("the block went away with the agent")
	}
	agent.start()
	k.flush(t)
	waitFor(t, "the restarted agent to restore the block", 10*time.Second, func() bool { return k.denies(attackerNet) })

	// The server restarts: the agent keeps enforcing, reconnects, and is
	// brought in line with the decisions again.
	n.stop(syscall.SIGTERM)
	k.flush(t)
	waitFor(t, "the block to come back while the server is down", 5*time.Second, func() bool { return k.denies(attackerNet) })
	n.start()
	svc.reconnect(t)
	if err := l.dial("attacker", "", service, 500*time.Millisecond); err == nil {
		t.Fatal("the attacker connects after the server restart")
	}

	// The block expires: the attacker connects again.
	start := time.Now()
	waitFor(t, "the block to expire", ttl+15*time.Second, func() bool {
		return l.dial("attacker", "", service, 300*time.Millisecond) == nil
	})
	t.Logf("block lifted %v after the checks began (ttl %v)", time.Since(start).Round(time.Second), ttl)
	if k.denies(attackerNet) {
		t.Fatal("the attacker connects but the rule is still listed")
	}

	// Latency: 50 more attackers, one after the other, each from its own
	// address; from the tenth log line written to the deny in nftables.
	const trials = 50
	var addrs []string
	base := strings.TrimSuffix(attacker, "2")
	for i := 0; i < trials; i++ {
		addrs = append(addrs, fmt.Sprintf("%s%d", base, 100+i))
	}
	l.addAddrs("attacker", addrs)
	var lat []time.Duration
	for _, src := range addrs {
		p := netip.MustParsePrefix(src + "/32")
		for i := 0; i < 9; i++ {
			if err := l.dial("attacker", src, service, time.Second); err != nil {
				t.Fatalf("%s attempt %d: %v", src, i, err)
			}
		}
		time.Sleep(150 * time.Millisecond) // the first nine are processed; the tenth is measured alone
		if err := l.dial("attacker", src, service, time.Second); err != nil {
			t.Fatalf("%s attempt 10: %v", src, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !k.denies(p) {
			if time.Now().After(deadline) {
				t.Fatalf("%s was not blocked within 10s; server log:\n%s", src, tail(n.log.String(), 40))
			}
			time.Sleep(500 * time.Microsecond)
		}
		seen := time.Now()
		w := svc.written(src)
		if len(w) < 10 {
			t.Fatalf("%s: %d log lines", src, len(w))
		}
		lat = append(lat, seen.Sub(w[9]))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99 := lat[len(lat)/2], lat[(len(lat)*99+99)/100-1]
	t.Logf("log line written -> nftables rule present, %d trials: p50 %v, p99 %v, max %v", trials, p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), lat[len(lat)-1].Round(100*time.Microsecond))
	fmt.Printf("containment latency over %d trials: p50 %v p99 %v\n", trials, p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond))
	// Recovery undoes what the playbook did for the incident, newest
	// first: every trial attacker's block is lifted and the timeline
	// says so.
	incs := n.incidents(t)
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want the one for the victim", len(incs))
	}
	out, errs, code := run(append([]string{"incident", "recover", incs[0].ID}, srv...)...)
	if code != 0 {
		t.Fatalf("recover: %s %s", out, errs)
	}
	if got := strings.Count(out, "ok "); got < trials {
		t.Fatalf("recover undid %d actions, want at least %d:\n%s", got, trials, out)
	}
	for _, src := range addrs {
		if k.denies(netip.MustParsePrefix(src + "/32")) {
			t.Fatalf("%s is still denied after recovery", src)
		}
	}
	if err := l.dial("attacker", addrs[0], service, time.Second); err != nil {
		t.Fatalf("a recovered attacker address still cannot connect: %v", err)
	}
	show, _, _ := run(append([]string{"incident", "show", incs[0].ID}, srv...)...)
	if !strings.Contains(show, "recovery: unblock "+addrs[len(addrs)-1]) {
		t.Fatalf("the timeline does not record the recovery:\n%s", tail(show, 20))
	}
	out, _, _ = run(append([]string{"incident", "recover", incs[0].ID}, srv...)...)
	if !strings.Contains(out, "nothing to undo") {
		t.Fatalf("a second recovery did something:\n%s", out)
	}

	// The target is p99 under 100 ms; the test fails only far beyond it, so
	// a busy CI machine does not make it flaky while a broken fast path
	// (a poll, a batch timer) still fails it.
	if p99 > 2*time.Second {
		t.Errorf("p99 %v: containment is far slower than the 100 ms target", p99)
	}
}

func tail(s string, n int) string {
	ls := readLines(s)
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
