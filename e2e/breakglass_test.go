package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBreakGlassReleasesACutOffHost: a host is isolated and its agent
// cannot reach the server; a responder gets a one-time release token from
// the server, and root on the host lifts the isolation with it, through
// the running agent or directly when the agent is down; a replayed token
// is refused, and the isolation stays lifted when the agent reconnects.
func TestBreakGlassReleasesACutOffHost(t *testing.T) {
	l := newLab(t, "victim", "client")
	n := newNodeOn(t, l.server, "")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	dir := t.TempDir()
	agent := enrollVictim(t, l, n, dir, "--heartbeat", "500ms")
	l.serveTCP(t, "victim", l.hosts["victim"].addr+":8082")
	web := l.hosts["victim"].addr + ":8082"
	reachable := func() bool { return l.dial("client", "", web, 300*time.Millisecond) == nil }
	release := func(token string) (string, int) {
		out, errs, code := runIn(l.hosts["victim"].ns, "agent", "release", token, "--data", dir+"/agent")
		return out + errs, code
	}
	isolate := func() {
		t.Helper()
		if out, errs, code := run(append([]string{"decision", "add", "--kind", "contain_host", "--target", "victim", "--ttl", "until_reverted", "--reason", "beacon"}, srv...)...); code != 0 {
			t.Fatalf("isolate: %s %s", out, errs)
		}
		waitFor(t, "isolation", 10*time.Second, func() bool { return !reachable() })
	}
	breakglass := func() string {
		t.Helper()
		out, errs, code := run(append([]string{"agent", "breakglass", "victim", "--reason", "server down, host needed", "--ttl", "1h"}, srv...)...)
		if code != 0 {
			t.Fatalf("breakglass: %s %s", out, errs)
		}
		return strings.TrimSpace(out)
	}

	// Offline: the agent is down, the host stays isolated by the kernel.
	isolate()
	agent.stop()
	t1 := breakglass()
	if reachable() {
		t.Fatal("isolation went away with the agent")
	}
	if out, code := release(t1); code != 0 || !strings.Contains(out, "not running") {
		t.Fatalf("offline release: %d %s", code, out)
	}
	if !reachable() {
		t.Fatal("still isolated after the offline release")
	}
	agent.start()
	time.Sleep(1500 * time.Millisecond) // start and a heartbeat
	if !reachable() {
		t.Fatal("the restarted agent restored a released isolation")
	}

	// Online: the agent runs but cannot reach the server.
	isolate()
	agent.stop()
	t2 := breakglass()
	n.stop(syscall.SIGTERM)
	agent.start()
	time.Sleep(time.Second)
	if reachable() {
		t.Fatal("the agent did not restore isolation without the server")
	}
	if out, code := release(t2); code != 0 || !strings.Contains(out, "running agent") {
		t.Fatalf("release through the agent: %d %s\nagent:\n%s", code, out, tail(agent.log.String(), 10))
	}
	if !reachable() {
		t.Fatal("still isolated after the release")
	}
	if out, code := release(t2); code == 0 {
		t.Fatalf("a replayed token was accepted: %s", out)
	}
	if out, code := release("bm90IGEgdG9rZW4"); code == 0 {
		t.Fatalf("garbage accepted: %s", out)
	}
	// The server comes back: its decisions say released, so it stays so.
	n.start()
	time.Sleep(2 * time.Second)
	if !reachable() {
		t.Fatal("isolation came back when the server returned")
	}
}
