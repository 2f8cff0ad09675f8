package fleet_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte-soar/riposte/agent"
	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/internal/agenttest"
)

func TestEnrollmentTokensAreOneTime(t *testing.T) {
	e := agenttest.NewEnv(t)
	ctx := context.Background()
	secret, _, err := e.Fleet.CreateToken(ctx, time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	if _, err := e.Fleet.Enroll(ctx, fleet.EnrollRequest{Token: secret + "x", PublicKey: pub, Hostname: "h"}, time.Now()); !errors.Is(err, fleet.ErrEnroll) {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := e.Fleet.Enroll(ctx, fleet.EnrollRequest{Token: secret, PublicKey: pub, Hostname: "h"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Fleet.Enroll(ctx, fleet.EnrollRequest{Token: secret, PublicKey: pub, Hostname: "h2"}, time.Now()); !errors.Is(err, protocol.ErrTokenUsed) {
		t.Fatalf("second use: %v", err)
	}
	// A second agent for the same host is refused until the first is revoked.
	again, _, _ := e.Fleet.CreateToken(ctx, time.Hour, "test")
	if _, err := e.Fleet.Enroll(ctx, fleet.EnrollRequest{Token: again, PublicKey: pub, Hostname: "H"}, time.Now()); !errors.Is(err, fleet.ErrEnroll) {
		t.Fatalf("second agent for the host: %v", err)
	}
	old, _, _ := e.Fleet.CreateToken(ctx, time.Minute, "test")
	if _, err := e.Fleet.Enroll(ctx, fleet.EnrollRequest{Token: old, PublicKey: pub, Hostname: "h3"}, time.Now().Add(2*time.Minute)); !errors.Is(err, protocol.ErrTokenExpired) {
		t.Fatalf("expired: %v", err)
	}
}

// TestAgentsReachOnlyTheirOwnSubjects connects with two agents'
// credentials and checks what each may do on the bus.
func TestAgentsReachOnlyTheirOwnSubjects(t *testing.T) {
	e := agenttest.NewEnv(t)
	a := e.Enroll("a", t.TempDir())
	b := e.Enroll("b", t.TempDir())
	perr := make(chan error, 16)
	conn := func(id *agent.Identity, pass string) (*nats.Conn, error) {
		return nats.Connect(e.Bus.ClientURL, nats.UserInfo(fleet.AgentUser(id.AgentID), pass),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { perr <- err }))
	}
	if _, err := conn(a, "wrong"); err == nil {
		t.Fatal("a wrong credential connected")
	}
	if _, err := conn(a, b.Credential); err == nil {
		t.Fatal("agent a connected with b's credential")
	}
	nc, err := conn(a, a.Credential)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sa, _ := protocol.SubjectFor(a.AgentID)
	sb, _ := protocol.SubjectFor(b.AgentID)
	denied := func(what string, f func() error) {
		t.Helper()
		if err := f(); err != nil {
			return
		}
		nc.Flush()
		select {
		case err := <-perr:
			if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(strings.ToLower(err.Error()), "permission") {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s was allowed", what)
		}
	}
	denied("subscribing to b's commands", func() error { _, err := nc.SubscribeSync(sb.Command); return err })
	denied("subscribing to everything", func() error { _, err := nc.SubscribeSync(">"); return err })
	denied("publishing b's results", func() error { return nc.Publish(sb.Result, []byte("{}")) })
	denied("publishing events", func() error { return nc.Publish("events.x", []byte("{}")) })
	denied("publishing a's commands", func() error { return nc.Publish(sa.Command, []byte("{}")) })
	if _, err := nc.SubscribeSync(sa.Command); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(sa.Result, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	select {
	case err := <-perr:
		t.Fatalf("own subjects refused: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := e.Fleet.Revoke(context.Background(), a.AgentID, "test"); err != nil {
		t.Fatal(err)
	}
	// Its open session ends too, not only its next login.
	deadline := time.Now().Add(5 * time.Second)
	for nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if nc.IsConnected() {
		t.Fatal("the revoked agent's session stayed open")
	}
	if _, err := conn(a, a.Credential); err == nil {
		t.Fatal("a revoked agent connected")
	}
}

// send signs a command the way the fleet does, with any key.
func sendRaw(t *testing.T, e *agenttest.Env, key ed25519.PrivateKey, id *agent.Identity, cmdID string, cmd string) protocol.Result {
	t.Helper()
	sub, _ := protocol.SubjectFor(id.AgentID)
	env := protocol.Sign(key, protocol.NewEnvelope(id.AgentID, cmdID, json.RawMessage(cmd), time.Now(), time.Minute))
	return publishEnvelope(t, e, sub, env)
}

func publishEnvelope(t *testing.T, e *agenttest.Env, sub protocol.Subjects, env protocol.Envelope) protocol.Result {
	t.Helper()
	s, err := e.Bus.Conn.SubscribeSync(sub.Result)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unsubscribe()
	b, _ := json.Marshal(env)
	if err := e.Bus.Conn.Publish(sub.Command, b); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := s.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("no result for %s: %v", env.CommandID, err)
		}
		var r protocol.Result
		json.Unmarshal(m.Data, &r)
		if r.CommandID == env.CommandID {
			return r
		}
	}
}

func status(r protocol.Result) int {
	var s struct{ Status int }
	json.Unmarshal(r.Response, &s)
	return s.Status
}

// TestForgedAndReplayedCommandsAreRefused: a command signed by another
// key, or the same signed envelope twice, changes nothing on the host.
func TestForgedAndReplayedCommandsAreRefused(t *testing.T) {
	lab := agenttest.Setup(t)
	e, id, fw := lab.Env, lab.ID, lab.Kernel
	deny := `{"action":"deny","target":{"ipv4_net":"198.51.100.7"},"args":{"response_requested":"complete","slpf":{"insert_rule":9}},"actuator":{"slpf":{}}}`
	if r := sendRaw(t, e, protocol.GenerateKey(), id, "forged-1", deny); status(r) != 401 {
		t.Fatalf("forged command: status %d", status(r))
	}
	if agenttest.Denies(fw, "198.51.100.7/32") {
		t.Fatal("a forged command was applied")
	}
	sub, _ := protocol.SubjectFor(id.AgentID)
	env := protocol.Sign(e.Key, protocol.NewEnvelope(id.AgentID, "real-1", json.RawMessage(deny), time.Now(), time.Minute))
	if r := publishEnvelope(t, e, sub, env); status(r) != 200 {
		t.Fatalf("genuine command: %s", r.Response)
	}
	if !agenttest.Denies(fw, "198.51.100.7/32") {
		t.Fatal("genuine command not in the kernel")
	}
	del := `{"action":"delete","target":{"slpf:rule_number":9},"args":{"response_requested":"complete"},"actuator":{"slpf":{}}}`
	if r := sendRaw(t, e, e.Key, id, "real-2", del); status(r) != 200 {
		t.Fatalf("delete: %s", r.Response)
	}
	// The captured deny, replayed: refused, and the host stays unblocked.
	if r := publishEnvelope(t, e, sub, env); status(r) != 403 {
		t.Fatalf("replay: status %d %s", status(r), r.Response)
	}
	if agenttest.Denies(fw, "198.51.100.7/32") {
		t.Fatal("a replayed command was applied")
	}
	// Replays are remembered across an agent restart.
	lab.Restart(t)
	agenttest.WaitAgent(t, e, id.AgentID)
	if r := publishEnvelope(t, e, sub, env); status(r) != 403 {
		t.Fatalf("replay after restart: status %d", status(r))
	}
	// A command for another agent, signed by the server, is refused.
	other := protocol.Sign(e.Key, protocol.NewEnvelope("someoneelse", "x-1", json.RawMessage(deny), time.Now(), time.Minute))
	if r := publishEnvelope(t, e, sub, other); status(r) != 401 {
		t.Fatalf("command for another agent: %d", status(r))
	}
}

// TestFirewallFollowsDecisions runs thousands of random operations on the
// server's decisions and on the host (ban, re-ban, CIDR ban, manual
// revert, expiry, isolation, agent restart, ruleset flush) and checks after
// each that the host's nftables equals the active decision set.
func TestFirewallFollowsDecisions(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of operations")
	}
	lab := agenttest.Setup(t)
	e, l, fw := lab.Env, lab.NS, lab.Kernel
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	var pool []string
	for i := 0; i < 30; i++ {
		pool = append(pool, fmt.Sprintf("203.0.113.%d", 10+i))
	}
	cidrs := []string{"198.51.100.0/24", "198.51.100.64/26", "192.0.2.0/28", "2001:db8::/48", "2001:db8:1::7"}
	const ops = 2000
	counts := map[string]int{}
	const tol = 1500 * time.Millisecond
	const converge = 20 * time.Second
	for i := 0; i < ops; i++ {
		now := time.Now().UTC()
		active, err := e.Decisions.List(ctx, false, now)
		if err != nil {
			t.Fatal(err)
		}
		op := rng.IntN(100)
		var name string
		switch {
		case op < 35 || len(active) == 0:
			name = "ban"
			target := pool[rng.IntN(len(pool))]
			ttl := time.Duration(1+rng.IntN(6)) * time.Second
			if rng.IntN(5) == 0 {
				ttl = -1
			}
			if _, err := e.Decisions.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: target, Owner: "test", Reason: "drift"}, ttl, now); err != nil {
				t.Fatal(err)
			}
		case op < 50:
			name = "re-ban"
			d := active[rng.IntN(len(active))]
			if d.Kind != decision.DenyIP {
				continue
			}
			if _, err := e.Decisions.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: d.Target, Owner: "test", Reason: "again"}, time.Duration(2+rng.IntN(5))*time.Second, now); err != nil {
				t.Fatal(err)
			}
		case op < 60:
			name = "cidr-ban"
			if _, err := e.Decisions.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: cidrs[rng.IntN(len(cidrs))], Owner: "test", Reason: "net"}, time.Duration(1+rng.IntN(5))*time.Second, now); err != nil {
				t.Fatal(err)
			}
		case op < 78:
			name = "revert"
			d := active[rng.IntN(len(active))]
			if _, err := e.Decisions.Revert(ctx, d.ID, "test", "manual", now); err != nil {
				t.Fatal(err)
			}
		case op < 83:
			name = "expiry"
			time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		case op < 86:
			name = "isolate"
			if _, err := e.Decisions.Add(ctx, decision.Decision{Kind: decision.ContainHost, Target: "victim", Owner: "test", Reason: "iso"}, time.Duration(1+rng.IntN(4))*time.Second, now); err != nil {
				t.Fatal(err)
			}
		case op < 93:
			name = "flush"
			agenttest.Flush(t, l)
		default:
			name = "agent-restart"
			lab.Restart(t)
		}
		counts[name]++
		// Converged: every decision active beyond the tolerance is in the
		// kernel, and nothing is there that is not decided (decisions
		// within the tolerance of their expiry may be either way).
		var last string
		// Convergence normally takes milliseconds (heartbeats every 200 ms);
		// the wide bound is for CI, where other packages' tests write
		// hundreds of megabytes with fsync at the same time and a single
		// commit here or on the agent can stall for seconds.
		deadline := time.Now().Add(converge)
		for {
			now := time.Now().UTC()
			ds, _ := e.Decisions.ForHost(ctx, "victim", now.Add(-tol))
			must, may := map[string]bool{}, map[string]bool{}
			wantIso, mayIso := false, false
			for _, d := range ds {
				sure := d.Expires.IsZero() || d.Expires.After(now.Add(tol))
				if d.Kind == decision.ContainHost {
					wantIso = wantIso || (sure && d.Active(now))
					mayIso = true
					continue
				}
				may[d.Target] = true
				if sure && d.Active(now) {
					must[d.Target] = true
				}
			}
			st, err := fw.State()
			got := map[string]bool{}
			for _, k := range st {
				got[k.Net.String()] = true
			}
			iso, _ := fw.Contained()
			last = ""
			for p := range must {
				if !got[p] {
					last += " missing " + p
				}
			}
			for p := range got {
				if !may[p] {
					last += " extra " + p
				}
			}
			if wantIso && !iso || iso && !mayIso {
				last += fmt.Sprintf(" isolation %v", iso)
			}
			if err == nil && last == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("op %d (%s): the firewall does not equal the decisions after %v:%s (err %v)", i, name, converge, last, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("%d operations, firewall equal to the decisions after each: %v", ops, counts)
}

// TestOverlappingDecisionsSettle: a global ban and a host-scoped ban of the
// same address (two incidents) are one rule on the host. The agent settles
// on one of them instead of swapping rule numbers at every heartbeat, and
// lifting either one leaves the address blocked without a gap.
func TestOverlappingDecisionsSettle(t *testing.T) {
	lab := agenttest.Setup(t)
	e, id, fw := lab.Env, lab.ID, lab.Kernel
	ctx := context.Background()
	global, _ := e.Decisions.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: "203.0.113.77", Owner: "t", Reason: "a", Incident: "A"}, time.Hour, time.Now())
	scoped, _ := e.Decisions.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: "203.0.113.77", Host: "Victim", Owner: "t", Reason: "b", Incident: "B"}, 2*time.Hour, time.Now())
	time.Sleep(500 * time.Millisecond)
	seen := map[string]bool{}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		for _, a := range e.Fleet.List() {
			if a.ID == id.AgentID {
				seen[fmt.Sprint(a.Rules)] = true
			}
		}
		if !agenttest.Denies(fw, "203.0.113.77/32") {
			t.Fatal("the address went unblocked")
		}
	}
	if len(seen) != 1 {
		t.Fatalf("the agent kept changing rule numbers: %v", seen)
	}
	for _, d := range []decision.Decision{scoped, global} {
		if _, err := e.Decisions.Revert(ctx, d.ID, "t", "done", time.Now()); err != nil {
			t.Fatal(err)
		}
		if d.ID == global.ID {
			break
		}
		for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
			if !agenttest.Denies(fw, "203.0.113.77/32") {
				t.Fatal("lifting one of two bans opened a gap")
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for agenttest.Denies(fw, "203.0.113.77/32") {
		if time.Now().After(deadline) {
			t.Fatal("the address is still blocked after both bans were lifted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
