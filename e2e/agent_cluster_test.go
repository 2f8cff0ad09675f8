package e2e

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte-soar/riposte/internal/natscluster"
)

// TestAgentOnNATSCluster runs the real binary against a three-node NATS
// cluster configured with `riposte nats config`: `riposte serve` with
// nats.operator_keys, and `riposte agent` in a network namespace enrolled
// over HTTP. The agent's decisions hold while the NATS node it is
// connected to is SIGKILLed; it reconnects to another node and takes new
// decisions there; `riposte agent revoke` makes every node refuse it.
func TestAgentOnNATSCluster(t *testing.T) {
	l := newLab(t, "victim")
	keys := filepath.Join(t.TempDir(), "nats-keys")
	c := natscluster.StartOn(t, l.server, 3, func(_ int, dir string) string {
		out, errs, code := run("nats", "config", "--keys", keys, "--resolver-dir", filepath.Join(dir, "jwt"))
		if code != 0 {
			t.Fatalf("riposte nats config: exit %d: %s", code, errs)
		}
		return out
	})
	t.Setenv("RIPOSTE_NATS_URL", c.URLs())
	t.Setenv("RIPOSTE_NATS_OPERATOR_KEYS", keys)
	n := newNodeOn(t, l.server, "")
	n.start()
	srv := []string{"--server", n.url(), "--token", n.token}
	dir := t.TempDir()
	agent := enrollVictim(t, l, n, dir, "--heartbeat", "500ms")
	var id struct {
		AgentID string `json:"agent_id"`
		NATSURL string `json:"nats_url"`
		Seed    string `json:"nats_seed"`
		JWT     string `json:"nats_jwt"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "agent", "identity.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &id); err != nil || id.JWT == "" || id.Seed == "" || id.NATSURL != c.URLs() {
		t.Fatalf("the agent's identity has no NATS user JWT, or not the cluster's servers: %s (%v)", b, err)
	}
	k := openKernel(t, l, "victim")
	deny := func(ip string) {
		t.Helper()
		if _, errs, code := run(append([]string{"decision", "add", "--target", ip, "--reason", "cluster test"}, srv...)...); code != 0 {
			t.Fatalf("decision add %s: %s", ip, errs)
		}
		waitFor(t, "the agent to deny "+ip, 15*time.Second, func() bool { return k.denies(netip.MustParsePrefix(ip + "/32")) })
	}
	deny("203.0.113.9")

	agentNode := func() *natscluster.Node {
		for _, nd := range c.Nodes {
			if nd.Running() && nd.HasClient("riposte-agent victim") {
				return nd
			}
		}
		return nil
	}
	first := agentNode()
	if first == nil {
		t.Fatalf("the agent is on no node of the cluster; its log:\n%s", agent.log)
	}
	killed := time.Now()
	first.Kill()
	if !k.denies(netip.MustParsePrefix("203.0.113.9/32")) {
		t.Fatal("the decision went with the NATS node")
	}
	waitFor(t, "the agent to reconnect to another node", 20*time.Second, func() bool { return agentNode() != nil })
	t.Logf("agent reconnected from %s to %s %v after the SIGKILL", first.Name, agentNode().Name, time.Since(killed).Round(time.Millisecond))
	deny("203.0.113.10")
	if !k.denies(netip.MustParsePrefix("203.0.113.9/32")) {
		t.Fatal("the decision made before the failover is gone")
	}

	first.Restart(t)
	c.WaitRoutes(t, 30*time.Second)
	out, errs, code := run(append([]string{"agent", "revoke", id.AgentID}, srv...)...)
	if code != 0 {
		t.Fatalf("agent revoke: exit %d %q %q", code, out, errs)
	}
	waitFor(t, "the revoked agent to be cut off", 10*time.Second, func() bool { return agentNode() == nil })
	for _, nd := range c.Nodes {
		nc, err := nats.Connect(nd.URL, nats.UserJWTAndSeed(id.JWT, id.Seed), nats.NoReconnect(), nats.IgnoreDiscoveredServers())
		if err == nil {
			nc.Close()
			t.Fatalf("%s admitted the revoked agent", nd.Name)
		}
		if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Fatalf("%s: %v", nd.Name, err)
		}
	}
	if !k.denies(netip.MustParsePrefix("203.0.113.10/32")) {
		t.Fatal("the revoked agent dropped its decisions")
	}
}
