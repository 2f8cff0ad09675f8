package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// TestGatewayEndToEnd: an agent in gateway mode on a router between the
// lab network (attacker, benign client, SOC workstation, the server) and
// a segment of two hosts. One block at the gateway stops the attacker
// reaching both hosts while the benign client still can; a segment
// quarantine cuts both hosts off except from the SOC; a quarantine of one
// host by address leaves its neighbour reachable. Each is repaired after
// `nft flush ruleset` on the router and lifted when reverted.
func TestGatewayEndToEnd(t *testing.T) {
	l := newLab(t, "attacker", "benign", "soc", "router")
	router := l.hosts["router"]
	base := strings.TrimSuffix(l.server, ".0.1")
	segment := base + ".1.0/24"
	gwInner := base + ".1.1"
	sh(t, "ip", "netns", "exec", router.ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	sh(t, "ip", "-n", router.ns, "link", "add", "seg0", "type", "bridge")
	sh(t, "ip", "-n", router.ns, "addr", "add", gwInner+"/24", "dev", "seg0")
	sh(t, "ip", "-n", router.ns, "link", "set", "seg0", "up")
	for i, name := range []string{"h1", "h2"} {
		h := &labHost{ns: fmt.Sprintf("rp%s-%s", l.id, name), addr: fmt.Sprintf("%s.1.%d", base, i+2)}
		sh(t, "ip", "netns", "add", h.ns)
		hd, err := netns.GetFromName(h.ns)
		if err != nil {
			t.Fatal(err)
		}
		h.h = hd
		l.hosts[name] = h // l.close deletes it
		outer, inner := fmt.Sprintf("rp%sg%d", l.id, i), "eth0"
		sh(t, "ip", "link", "add", outer, "netns", router.ns, "type", "veth", "peer", "name", inner, "netns", h.ns)
		sh(t, "ip", "-n", router.ns, "link", "set", outer, "master", "seg0", "up")
		sh(t, "ip", "-n", h.ns, "addr", "add", h.addr+"/24", "dev", inner)
		sh(t, "ip", "-n", h.ns, "link", "set", inner, "up")
		sh(t, "ip", "-n", h.ns, "link", "set", "lo", "up")
		sh(t, "ip", "-n", h.ns, "route", "add", "default", "via", gwInner)
	}
	for _, name := range []string{"attacker", "benign", "soc"} {
		sh(t, "ip", "-n", l.hosts[name].ns, "route", "add", segment, "via", router.addr)
	}
	soc := l.hosts["soc"].addr
	n := newNodeOn(t, l.server, fmt.Sprintf("agents:\n  permitted: [%s]\n", soc))
	n.start()
	srv := []string{"--server", n.url(), "--token", n.token}
	dir := t.TempDir()
	tok, errs, code := run(append([]string{"agent", "token", "create"}, srv...)...)
	if code != 0 {
		t.Fatalf("agent token: %s", errs)
	}
	agent := startAgent(t, router.ns, "--server", n.url(), "--data", dir+"/agent", "--enroll-token", strings.TrimSpace(tok),
		"--hostname", "router", "--mode", "gateway", "--segment", segment, "--heartbeat", "1s", "--reconcile", "500ms")
	waitFor(t, "the gateway to report", 20*time.Second, func() bool {
		out, _, _ := run(append([]string{"agent", "list"}, srv...)...)
		return strings.Contains(out, "gateway "+segment)
	})
	k := openKernel(t, l, "router")

	hosts := map[string]string{}
	for _, name := range []string{"h1", "h2"} {
		hosts[name] = net.JoinHostPort(l.hosts[name].addr, "8080")
		l.serveTCP(t, name, hosts[name])
	}
	// reach is whether a client gets through within the timeout; a
	// connection expected to succeed gets a few tries (fresh links
	// resolve their neighbours first).
	reach := func(client, name string) bool {
		for i := 0; i < 3; i++ {
			if l.dial(client, "", hosts[name], 700*time.Millisecond) == nil {
				return true
			}
		}
		return false
	}
	expect := func(what string, want map[string]bool) {
		t.Helper()
		for _, client := range []string{"attacker", "benign", "soc"} {
			for _, h := range []string{"h1", "h2"} {
				w, ok := want[client+">"+h]
				if !ok {
					w = true
				}
				waitFor(t, fmt.Sprintf("%s: %s -> %s reachable=%v", what, client, h, w), 10*time.Second, func() bool { return reach(client, h) == w })
			}
		}
	}
	expect("before any decision", nil)
	add := func(args ...string) string {
		t.Helper()
		out, errs, code := run(append(append([]string{"decision", "add", "--ttl", "until_reverted", "--reason", "e2e gateway"}, args...), srv...)...)
		if code != 0 {
			t.Fatalf("decision add %v: %s %s", args, out, errs)
		}
		return strings.TrimSpace(strings.SplitN(out, ":", 2)[0])
	}
	revert := func(id string) {
		t.Helper()
		if out, errs, code := run(append([]string{"decision", "revert", id, "--reason", "recovered"}, srv...)...); code != 0 {
			t.Fatalf("revert %s: %s %s", id, out, errs)
		}
	}
	quarantined := func() []string {
		segs, _, err := k.fw.Quarantined()
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		var out []string
		for _, s := range segs {
			out = append(out, s.Net.String())
		}
		return out
	}

	// One block at the gateway protects both hosts behind it.
	attacker := netip.MustParsePrefix(l.hosts["attacker"].addr + "/32")
	block := add("--kind", "deny_ip", "--target", attacker.Addr().String())
	blocked := map[string]bool{"attacker>h1": false, "attacker>h2": false}
	expect("attacker blocked at the gateway", blocked)
	k.flush(t)
	if k.denies(attacker) {
		t.Fatal("the flush left the block in place")
	}
	waitFor(t, "the block to come back after a flush", 5*time.Second, func() bool { return k.denies(attacker) })
	expect("attacker blocked after the flush", blocked)
	revert(block)
	waitFor(t, "the block to be lifted", 10*time.Second, func() bool { return !k.denies(attacker) })
	expect("block reverted", nil)

	// The segment quarantined: only the SOC (and the server) reach it.
	quar := add("--kind", "contain_segment", "--target", segment)
	cut := map[string]bool{"attacker>h1": false, "attacker>h2": false, "benign>h1": false, "benign>h2": false}
	expect("segment quarantined", cut)
	waitFor(t, "the gateway to report the quarantine as enforced", 10*time.Second, func() bool {
		out, _, _ := run(append([]string{"decision", "list", "--output", "json"}, srv...)...)
		return strings.Contains(out, `"enforced_by": [`+"\n"+`      "router"`) || strings.Contains(out, `"enforced_by": ["router"]`)
	})
	// Outbound too: a quarantined host cannot reach the benign client,
	// but reaches the SOC.
	l.serveTCP(t, "benign", net.JoinHostPort(l.hosts["benign"].addr, "8081"))
	l.serveTCP(t, "soc", net.JoinHostPort(soc, "8081"))
	if err := l.dial("h1", "", net.JoinHostPort(l.hosts["benign"].addr, "8081"), 700*time.Millisecond); err == nil {
		t.Fatal("a quarantined host reaches outside the segment")
	}
	waitFor(t, "a quarantined host to reach the SOC", 5*time.Second, func() bool {
		return l.dial("h1", "", net.JoinHostPort(soc, "8081"), 700*time.Millisecond) == nil
	})
	k.flush(t)
	// The agent may repair the table before this line reads it: what
	// matters is that the quarantine is there again after the flush.
	if q := quarantined(); len(q) != 0 {
		t.Logf("the quarantine was back before it could be read after the flush: %v", q)
	}
	waitFor(t, "the quarantine to come back after a flush", 5*time.Second, func() bool {
		q := quarantined()
		return len(q) == 1 && q[0] == segment
	})
	expect("segment quarantined after the flush", cut)
	revert(quar)
	waitFor(t, "the quarantine to be lifted", 10*time.Second, func() bool { return len(quarantined()) == 0 })
	expect("quarantine reverted", nil)

	// One host by address: its neighbour stays reachable.
	one := add("--kind", "contain_segment", "--target", l.hosts["h2"].addr)
	expect("one host quarantined", map[string]bool{"attacker>h2": false, "benign>h2": false})
	revert(one)
	expect("host quarantine reverted", nil)

	// A segment no gateway declares reaches no agent: it is recorded,
	// and the router's firewall is left alone.
	other := add("--kind", "contain_segment", "--target", base+".200.0/24")
	time.Sleep(1500 * time.Millisecond)
	if q := quarantined(); len(q) != 0 {
		t.Fatalf("a segment behind no declared gateway was quarantined at the router: %v (agent log:\n%s)", q, tail(agent.log.String(), 20))
	}
	revert(other)
	if out, err := exec.Command("ip", "netns", "exec", router.ns, "cat", "/proc/sys/net/ipv4/ip_forward").Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("ip_forward on the router: %q %v", out, err)
	}
}
