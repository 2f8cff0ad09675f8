package fleet_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/internal/agenttest"
	"github.com/riposte-soar/riposte/internal/natscluster"
)

// agentNode is the node of the cluster the agent of host "victim" is
// connected to, or nil.
func agentNode(c *natscluster.Cluster) *natscluster.Node {
	for _, nd := range c.Nodes {
		if nd.Running() && nd.HasClient("riposte-agent victim") {
			return nd
		}
	}
	return nil
}

func waitDenies(t *testing.T, l *agenttest.Lab, prefix string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !agenttest.Denies(l.Kernel, prefix) {
		if time.Since(start) > d {
			t.Fatalf("the agent did not enforce the deny of %s within %v", prefix, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// TestAgentOnANATSClusterSurvivesANodeAndIsRevokedEverywhere runs a real
// agent (its firewall in a network namespace) enrolled with a user JWT on
// a three-node NATS cluster that trusts Riposte: it enforces decisions,
// keeps enforcing when the NATS node it is connected to is SIGKILLed,
// reconnects to another node and receives new commands there; revoked,
// it is refused by every node.
func TestAgentOnANATSClusterSurvivesANodeAndIsRevokedEverywhere(t *testing.T) {
	e := agenttest.NewClusterEnv(t)
	// An agent that sends no NATS key (an old version) is refused before
	// its token is spent: upgraded, it enrolls with the same token.
	secret, _, err := e.Fleet.CreateToken(context.Background(), time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	if _, err := e.Fleet.Enroll(context.Background(), fleet.EnrollRequest{Token: secret, PublicKey: pub, Hostname: "old"}, time.Now()); !errors.Is(err, fleet.ErrEnroll) || !strings.Contains(err.Error(), "nats_public_key") {
		t.Fatalf("enrollment without a NATS key: %v", err)
	}
	nk, _ := nkeys.CreateUser()
	nkPub, _ := nk.PublicKey()
	if r, err := e.Fleet.Enroll(context.Background(), fleet.EnrollRequest{Token: secret, PublicKey: pub, Hostname: "old", NATSKey: nkPub}, time.Now()); err != nil || r.NATSJWT == "" {
		t.Fatalf("the same token with a NATS key: %v", err)
	}
	l := agenttest.SetupOn(t, e)
	if l.ID.NATSJWT == "" {
		t.Fatal("the agent enrolled without a NATS user JWT")
	}
	ctx := context.Background()
	if _, err := e.Decisions.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: "198.51.100.7", Owner: "test", Reason: "before"}, time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitDenies(t, l, "198.51.100.7/32", 10*time.Second)

	first := agentNode(e.Cluster)
	if first == nil {
		t.Fatal("the agent is connected to no node of the cluster")
	}
	killed := time.Now()
	first.Kill()
	// While it has no server, the agent keeps its decisions in the kernel,
	// and puts them back if they are removed.
	agenttest.Flush(t, l.NS)
	waitDenies(t, l, "198.51.100.7/32", 5*time.Second)

	var second *natscluster.Node
	for second == nil {
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("the agent did not reconnect to another node within 20s of %s's death", first.Name)
		}
		time.Sleep(20 * time.Millisecond)
		second = agentNode(e.Cluster)
	}
	t.Logf("agent reconnected from %s to %s %v after the SIGKILL", first.Name, second.Name, time.Since(killed).Round(time.Millisecond))
	agenttest.WaitAgent(t, e, l.ID.AgentID)
	d, err := e.Decisions.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: "198.51.100.8", Owner: "test", Reason: "after"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	took := waitDenies(t, l, "198.51.100.8/32", 10*time.Second)
	t.Logf("a decision made after the failover was enforced in %v", took.Round(time.Millisecond))
	if !agenttest.Denies(l.Kernel, "198.51.100.7/32") {
		t.Fatal("the decision made before the failover is gone")
	}
	// The revert reaches it too: commands flow both ways on the new node.
	if _, err := e.Decisions.Revert(ctx, d.ID, "test", "done", time.Now()); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); agenttest.Denies(l.Kernel, "198.51.100.8/32"); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the revert did not reach the agent on its new node")
		}
	}

	// The dead node comes back; then the agent is revoked: its session
	// ends and every node refuses its credential.
	first.Restart(t)
	e.Cluster.WaitRoutes(t, 30*time.Second)
	revoked := time.Now()
	if err := e.Fleet.Revoke(ctx, l.ID.AgentID, "test"); err != nil {
		t.Fatal(err)
	}
	for agentNode(e.Cluster) != nil {
		if time.Since(revoked) > 10*time.Second {
			t.Fatal("the revoked agent is still connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("revoked agent disconnected %v after the revocation", time.Since(revoked).Round(time.Millisecond))
	for _, nd := range e.Cluster.Nodes {
		nc, err := nats.Connect(nd.URL, nats.UserJWTAndSeed(l.ID.NATSJWT, l.ID.NATSSeed), nats.NoReconnect(), nats.IgnoreDiscoveredServers())
		if err == nil {
			nc.Close()
			t.Fatalf("%s admitted the revoked agent", nd.Name)
		}
		if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Fatalf("%s: %v", nd.Name, err)
		}
	}
	// Revoked, it still holds what it enforced: revocation cuts the
	// server off, it does not open the host.
	if !agenttest.Denies(l.Kernel, "198.51.100.7/32") {
		t.Fatal("the revoked agent dropped its decisions")
	}
	// Revoking again pushes the revocations again (nothing to confirm
	// twice in embedded mode, where this is an error).
	if err := e.Fleet.Revoke(ctx, l.ID.AgentID, "test"); err != nil {
		t.Fatalf("second revocation on a cluster: %v", err)
	}
	if len(e.Fleet.Revocations()) != 1 {
		t.Fatalf("revocations: %v", e.Fleet.Revocations())
	}
}
