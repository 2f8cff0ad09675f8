package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/agent"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/internal/agenttest"
	"github.com/riposte-soar/riposte/openc2"
)

func send(t *testing.T, e *agenttest.Env, agentID, id, cmd string) *openc2.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, rsp, err := e.Fleet.Send(ctx, agentID, id, json.RawMessage(cmd), fleet.Requester{Actor: "test"})
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return rsp
}

// TestFeaturesListOnlyValidPairs: every pair the agent advertises is one a
// producer may send (the spec requires query features, and Riposte lints
// playbooks against it).
func TestFeaturesListOnlyValidPairs(t *testing.T) {
	lab := agenttest.Setup(t)
	e, id := lab.Env, lab.ID
	rsp := send(t, e, id.AgentID, "f1", `{"action":"query","target":{"features":["versions","profiles","pairs","rate_limit"]},"args":{"response_requested":"complete"}}`)
	if rsp.Status != 200 {
		t.Fatalf("%+v", rsp)
	}
	var pairs map[string][]string
	if err := json.Unmarshal(rsp.Results["pairs"], &pairs); err != nil || len(pairs) < 8 {
		t.Fatalf("pairs %s %v", rsp.Results["pairs"], err)
	}
	for action, targets := range pairs {
		for _, target := range targets {
			cmd := fmt.Sprintf(`{"action":%q,"target":{%q:%s}}`, action, target, sample(target))
			if err := openc2.ValidateCommand([]byte(cmd)); err != nil {
				t.Errorf("advertised pair %s %s is not valid OpenC2: %v", action, target, err)
			}
		}
	}
	if rsp := send(t, e, id.AgentID, "f2", `{"action":"query","target":{"features":[]}}`); rsp.Status != 200 {
		t.Fatalf("empty features (a heartbeat): %+v", rsp)
	}
}

func sample(target string) string {
	switch target {
	case "ipv4_net":
		return `"192.0.2.1"`
	case "ipv6_net":
		return `"2001:db8::1"`
	case "ipv4_connection":
		return `{"src_addr":"192.0.2.1"}`
	case "ipv6_connection":
		return `{"src_addr":"2001:db8::1"}`
	case "slpf:rule_number":
		return `1`
	case "features":
		return `[]`
	case "device":
		return `{"hostname":"victim"}`
	case "file":
		return `{"path":"/tmp/x"}`
	case "process":
		return `{"pid":42}`
	case "er:account":
		return `{"account_name":"bob"}`
	case "er:service":
		return `{"name":"nginx"}`
	}
	return `{"name":"x"}`
}

// TestIsolationHoldsAcrossFlushAndRestart isolates the host through a
// decision, flushes the ruleset and restarts the agent: the isolation comes
// back each time; a newer isolation superseding the first stays in place
// while the older one is lifted; reverting lifts it for good.
func TestIsolationHoldsAcrossFlushAndRestart(t *testing.T) {
	lab := agenttest.Setup(t)
	e, l, id, fw := lab.Env, lab.NS, lab.ID, lab.Kernel
	contained := func() bool { on, _ := fw.Contained(); return on }
	waitFor := func(what string, want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for contained() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: contained=%v", what, !want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ctx := context.Background()
	d1, err := e.Decisions.Add(ctx, decision.Decision{Kind: decision.ContainHost, Target: "victim", Owner: "test", Reason: "beacon"}, -1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	waitFor("isolation", true)
	agenttest.Flush(t, l)
	waitFor("isolation back after a flush", true)
	lab.Agent.Stop()
	agenttest.Flush(t, l)
	lab.Agent = agenttest.StartAgent(t, l, lab.Dir)
	waitFor("isolation back after a restart", true)
	agenttest.WaitAgent(t, e, id.AgentID)
	d2, err := e.Decisions.Add(ctx, decision.Decision{Kind: decision.ContainHost, Target: "victim", Owner: "test", Reason: "again"}, -1, time.Now())
	if err != nil || d2.Rule == d1.Rule {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the old rule's release has been answered
	if !contained() {
		t.Fatal("lifting the superseded isolation lifted the new one")
	}
	if _, err := e.Decisions.Revert(ctx, d2.ID, "test", "cleaned", time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor("release", false)
	agenttest.Flush(t, l)
	time.Sleep(500 * time.Millisecond)
	if contained() {
		t.Fatal("isolation came back after it was lifted")
	}
	// An isolation sent around the decisions is undone at the next
	// heartbeat: the host equals what Riposte decided.
	if rsp := send(t, e, id.AgentID, "raw-1", `{"action":"contain","target":{"device":{"hostname":"victim"}}}`); rsp.Status != 200 {
		t.Fatalf("raw contain: %+v", rsp)
	}
	waitFor("an undecided isolation to be lifted", false)
	if rsp := send(t, e, id.AgentID, "raw-2", `{"action":"contain","target":{"device":{"hostname":"db-1"}}}`); rsp.Status != 404 {
		t.Fatalf("another host's isolation: %+v", rsp)
	}
}

// TestFlushIsRepairedOnTheKernelEvent: with the periodic reconcile far
// away, a flushed ruleset comes back because the agent watches nftables.
func TestFlushIsRepairedOnTheKernelEvent(t *testing.T) {
	lab := agenttest.Setup(t, func(c *agent.Config) { c.Reconcile = time.Hour })
	e, l, fw := lab.Env, lab.NS, lab.Kernel
	if _, err := e.Decisions.Add(context.Background(), decision.Decision{Kind: decision.DenyIP, Target: "198.51.100.9", Owner: "t", Reason: "r"}, time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !agenttest.Denies(fw, "198.51.100.9/32") {
		if time.Now().After(deadline) {
			t.Fatal("not applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var took []time.Duration
	for i := 0; i < 5; i++ {
		agenttest.Flush(t, l)
		start := time.Now()
		for !agenttest.Denies(fw, "198.51.100.9/32") {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("flush %d not repaired without the periodic reconcile", i)
			}
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	t.Logf("flush to restored: %v", took)
}
