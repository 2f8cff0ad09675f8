package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// auditPlaybook answers every SSH brute-force alert with an outbound call:
// an automated run with an effect, as the finding's 1,905 runs were.
const auditPlaybook = `id: playbook--a0d1e2f3-0a1b-4c2d-8e3f-4a5b6c7d8e9f
name: Report brute force
modified: 2026-11-26T00:00:00Z
description: Tells a receiver about each brute-force source.
trigger:
  alert:
    rules: [641fe131-66f0-4058-9033-a72ae94cd73e]  # sshd_brute_force
  bind:
    src_ip: alert.entities.source_ips[0]
inputs:
  src_ip: {type: string, description: The attacking address}
start: report
steps:
  report:
    connector: http.request
    args: {method: PUT, url: "%s/report/__src_ip__:value"}
    next: done
  done: end
`

type auditEntry struct {
	Seq    int64           `json:"seq"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Detail json.RawMessage `json:"detail"`
}

func (n *node) audit(t *testing.T) []auditEntry {
	t.Helper()
	var all []auditEntry
	for after := int64(0); ; {
		_, body, err := n.do("GET", fmt.Sprintf("/api/v1/audit?after=%d&limit=1000", after), n.token, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var page struct{ Entries []auditEntry }
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("audit: %v: %s", err, body)
		}
		all = append(all, page.Entries...)
		if len(page.Entries) < 1000 {
			return all
		}
		after = page.Entries[len(page.Entries)-1].Seq
	}
}

// killedAtCrashPoint checks that the node ended by its own SIGKILL.
func (n *node) killedAtCrashPoint(t *testing.T) {
	t.Helper()
	ws, ok := n.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the node did not die at the crash point (%v); log:\n%s", n.cmd.ProcessState, n.log)
	}
}

func (n *node) auditIntact(t *testing.T) {
	t.Helper()
	_, body, err := n.do("GET", "/api/v1/audit/verify", n.token, nil, nil)
	if err != nil || !bytes.Contains(body, []byte(`"intact":true`)) {
		t.Fatalf("audit chain: %s %v", body, err)
	}
}

// TestAuditAutomatedRunsSurviveACrash lets brute forces from several
// addresses start runs by alert trigger, each making an outbound call, and
// kills the server (crash point audit.import) as their audit entries move
// into the hash chain. After the restart every run start and every call is
// in the audit log exactly once, and the chain verifies.
func TestAuditAutomatedRunsSurviveACrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	rcv := &counter{keys: map[string]int{}, path: map[string]int{}}
	hs := httptest.NewServer(rcv)
	defer hs.Close()
	n := newNode(t, "respond:\n  http:\n    allow_private: true\n")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	file := filepath.Join(t.TempDir(), "report.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(auditPlaybook, hs.URL)), 0o644)
	if out, errs, code := run(append([]string{"playbook", "import", file, "--reason", "e2e"}, srv...)...); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	n.stop(syscall.SIGTERM)

	os.Setenv("RIPOSTE_TEST_CRASH_AT", "audit.import")
	n.start()
	os.Unsetenv("RIPOSTE_TEST_CRASH_AT")
	const attackers = 8
	var lines []string
	for a := 0; a < attackers; a++ {
		for i := 0; i < 12; i++ {
			lines = append(lines, fmt.Sprintf("Failed password for invalid user u%d from 198.51.100.%d port %d ssh2", i, 10+a, 40000+i))
		}
	}
	sendSyslogTCP(t, n.syslog, lines...)
	n.waitGone(60 * time.Second) // it kills itself committing the first entries it forwards
	n.killedAtCrashPoint(t)
	n.start()

	waitFor(t, "a call per attacker", 60*time.Second, func() bool {
		_, p := rcv.snapshot()
		return len(p) == attackers
	})
	var runs []struct{ ID, Status string }
	waitFor(t, "every run to finish", 30*time.Second, func() bool {
		out, _, _ := run(append([]string{"run", "list", "--output", "json"}, srv...)...)
		json.Unmarshal([]byte(out), &runs)
		for _, r := range runs {
			if r.Status != "succeeded" {
				return false
			}
		}
		return len(runs) == attackers
	})
	var entries []auditEntry
	waitFor(t, "an audit entry for each run start and call", 10*time.Second, func() bool {
		entries = n.audit(t)
		starts, calls := 0, 0
		for _, e := range entries {
			starts += map[bool]int{true: 1}[e.Action == "run.start"]
			calls += map[bool]int{true: 1}[e.Action == "connector.call"]
		}
		return starts >= attackers && calls >= attackers
	})
	started, called := map[string]int{}, map[string]int{}
	for _, e := range entries {
		switch e.Action {
		case "run.start":
			if e.Actor != "trigger:alert" || !bytes.Contains(e.Detail, []byte(`"trigger":"alert"`)) {
				t.Errorf("run start entry %+v: want actor trigger:alert", e)
			}
			started[strings.TrimPrefix(e.Target, "run:")]++
		case "connector.call":
			if e.Target != "http.request" || !bytes.Contains(e.Detail, []byte(`"outcome":"ok"`)) {
				t.Errorf("call entry %+v", e)
			}
			called[strings.TrimPrefix(e.Actor, "run:")]++
		}
	}
	for _, r := range runs {
		if started[r.ID] != 1 || called[r.ID] != 1 {
			t.Errorf("run %s: %d start entries and %d call entries, want one each", r.ID, started[r.ID], called[r.ID])
		}
	}
	if len(started) != attackers {
		t.Errorf("%d runs audited as started, want %d", len(started), attackers)
	}
	t.Logf("%d runs, %d audit entries", len(runs), len(entries))
	n.auditIntact(t)
}

// TestAuditCommitsWithTheChange kills the server inside the transaction of
// a token's creation, after the token row and before its audit entry
// (crash point audit.append): after the restart neither exists. Without
// the crash both do. Recovering an incident that does not exist is 404 and
// audits nothing; an expired token is refused with its reason.
func TestAuditCommitsWithTheChange(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	n.start()
	n.stop(syscall.SIGTERM)
	os.Setenv("RIPOSTE_TEST_CRASH_AT", "audit.append")
	n.start()
	os.Unsetenv("RIPOSTE_TEST_CRASH_AT")
	before := len(n.audit(t))
	n.do("POST", "/api/v1/tokens", n.token, strings.NewReader(`{"name":"crash-probe","role":"viewer"}`), nil)
	n.waitGone(20 * time.Second)
	n.killedAtCrashPoint(t)
	n.start()
	_, body, _ := n.do("GET", "/api/v1/tokens", n.token, nil, nil)
	if bytes.Contains(body, []byte("crash-probe")) {
		t.Fatalf("the token survived a crash before its audit entry: %s", body)
	}
	if got := len(n.audit(t)); got != before {
		t.Fatalf("audit entries %d after the crash, want %d", got, before)
	}

	resp, body, err := n.do("POST", "/api/v1/tokens", n.token, strings.NewReader(`{"name":"short","role":"viewer","expires":"2s"}`), nil)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create token: %v %s", err, body)
	}
	var created struct {
		Token  struct{ ID string }
		Secret string
	}
	json.Unmarshal(body, &created)
	es := n.audit(t)
	if last := es[len(es)-1]; last.Action != "token.create" || last.Target != "token:"+created.Token.ID {
		t.Fatalf("last audit entry %+v, want the token's creation", last)
	}
	if resp, _, _ := n.do("GET", "/api/v1/whoami", created.Secret, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("fresh token: %d", resp.StatusCode)
	}
	time.Sleep(2100 * time.Millisecond)
	resp, body, _ = n.do("GET", "/api/v1/whoami", created.Secret, nil, nil)
	if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(body, []byte("token_expired")) {
		t.Fatalf("expired token: %d %s", resp.StatusCode, body)
	}
	out, _, _ := run("token", "list", "--data", n.data)
	if !strings.Contains(out, "(expired)") {
		t.Fatalf("token list does not show the expiry:\n%s", out)
	}

	before = len(n.audit(t))
	resp, body, _ = n.do("POST", "/api/v1/incidents/01NOSUCHINCIDENT0000000000/recover", n.token, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("recovering an unknown incident: %d %s", resp.StatusCode, body)
	}
	if got := len(n.audit(t)); got != before {
		t.Fatalf("recovering an unknown incident added %d audit entries", got-before)
	}
	n.auditIntact(t)
}

// TestConfigCheckRejectsWhatServeRejects runs `config check` and `serve` on
// files that serve refuses at start: check must refuse each of them too.
func TestConfigCheckRejectsWhatServeRejects(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	for _, c := range []struct{ name, yaml string }{
		{"header credentials for the http connector", "connectors:\n  http:\n    headers_env:\n      Authorization: E2E_NO_SUCH_VAR\n"},
		{"unknown connector key", "connectors:\n  webhook:\n    url: https://example.org/hook\n    colour: red\n"},
		{"agent remediation with a relative program", "connectors:\n  agent:\n    remediations:\n      fix: [fix.sh]\n"},
		{"notify channel of an unknown type", "notify:\n  channels:\n    - name: x\n      type: carrier-pigeon\n"},
		{"silences without a maximum", "alarm:\n  silences:\n    max_duration: 0s\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newNode(t, c.yaml)
			if out, errs, code := run("config", "check", n.config); code == 0 {
				t.Errorf("config check accepted it: %s %s", out, errs)
			}
			cmd := exec.Command(binary, "serve", "--config", n.config)
			var log bytes.Buffer
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatalf("serve exited 0:\n%s", log.String())
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("serve started with it (the case does not show a difference):\n%s", log.String())
			}
		})
	}
}
