package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const containPlaybook = `id: playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c5d
name: Contain an SSH intrusion
modified: 2026-11-26T00:00:00Z
description: Comments on the incident, asks a responder, and marks it contained when approved.
trigger:
  incident:
    priorities: [P1]
    entity_types: [ip]
  bind:
    src_ip: alert.entities.source_ips[0]
inputs:
  incident: {type: dictionary, description: The incident}
  src_ip: {type: string, description: The attacking address}
start: note
steps:
  note:
    connector: incident.comment
    args:
      text: Playbook saw attacker __src_ip__:value
    next: ask
  ask:
    approve:
      question: Mark the incident contained?
      roles: [responder]
    timeout: 1h
    on_success: contain
    on_failure: declined
  contain:
    connector: incident.status
    args:
      status: contained
    next: done
  declined: end
  done: end
`

// TestPlaybookRunsOnIncidentAndWaitsForApprovalAcrossSIGKILL imports a
// playbook, lets a brute force trigger it, kills the server while the
// run waits for a person, restarts it, approves, and sees the run finish
// and change the incident.
func TestPlaybookRunsOnIncidentAndWaitsForApprovalAcrossSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	file := filepath.Join(t.TempDir(), "contain.yaml")
	os.WriteFile(file, []byte(containPlaybook), 0o644)
	if out, errs, code := run("playbook", "validate", file); code != 0 {
		t.Fatalf("validate: %s %s", out, errs)
	}
	if out, errs, code := run(append([]string{"playbook", "import", file, "--reason", "e2e"}, srv...)...); code != 0 || !strings.Contains(out, "version 1") {
		t.Fatalf("import: %s %s", out, errs)
	}
	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, fmt.Sprintf("Failed password for invalid user u%d from 203.0.113.77 port %d ssh2", i, 40000+i))
	}
	sendSyslogTCP(t, n.syslog, lines...)
	time.Sleep(300 * time.Millisecond)
	sendSyslogTCP(t, n.syslog, "Accepted password for root from 203.0.113.77 port 41000 ssh2")

	type approval struct {
		ID       string `json:"id"`
		RunID    string `json:"run_id"`
		Question string `json:"question"`
	}
	var open []approval
	waitFor(t, "the run to ask for approval", 30*time.Second, func() bool {
		out, _, code := run(append([]string{"approval", "list", "--output", "json"}, srv...)...)
		if code != 0 {
			return false
		}
		json.Unmarshal([]byte(out), &open)
		return len(open) == 1
	})
	if open[0].Question != "Mark the incident contained?" {
		t.Fatalf("approval %+v", open[0])
	}
	incs := n.incidents(t)
	if len(incs) != 1 {
		t.Fatalf("incidents %+v", incs)
	}
	out, _, _ := run(append([]string{"incident", "show", incs[0].ID}, srv...)...)
	if !strings.Contains(out, "Playbook saw attacker 203.0.113.77") {
		t.Fatalf("the playbook's comment is not on the incident:\n%s", out)
	}

	// The run waits for a person: no goroutine holds it, so a crash loses nothing.
	n.stop(syscall.SIGKILL)
	n.start()
	if _, errs, code := run(append([]string{"approval", "approve", open[0].ID, "--comment", "go ahead"}, srv...)...); code != 0 {
		t.Fatalf("approve after restart: %s", errs)
	}
	waitFor(t, "the run to finish", 30*time.Second, func() bool {
		return runOutcome(t, srv, open[0].RunID) == "succeeded"
	})
	waitFor(t, "the incident to be contained", 10*time.Second, func() bool {
		out, _, _ := run(append([]string{"incident", "show", incs[0].ID}, srv...)...)
		return strings.Contains(out, "contained")
	})
	// A second trigger for the same incident does not start the playbook again.
	out, _, _ = run(append([]string{"run", "list", "--output", "json"}, srv...)...)
	var runs []map[string]any
	json.Unmarshal([]byte(out), &runs)
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1: %s", len(runs), out)
	}
	if _, errs, code := run(append([]string{"approval", "approve", open[0].ID}, srv...)...); code == 0 {
		t.Fatalf("answering twice accepted: %s", errs)
	}
}
