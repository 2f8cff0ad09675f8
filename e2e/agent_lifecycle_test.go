package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/riposte-soar/riposte/internal/testenv"
)

// tablesIn lists the inet nftables tables of a lab host.
func tablesIn(t *testing.T, l *lab, host string) []string {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(l.hosts[host].h)))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range ts {
		names = append(names, tb.Name)
	}
	return names
}

// An agent started without root refuses before enrolling: the one-time
// token stays usable and the server lists no agent that never reports.
// Then, with root, `agent uninstall` deletes the agent's tables (decisions
// and isolation) and its state, refusing while the agent runs and while
// quarantined files are there without --purge.
func TestAgentPrivilegeAndUninstall(t *testing.T) {
	l := newLab(t, "victim")
	setpriv := testenv.Command(t, "setpriv", "util-linux, to run the agent as nobody")
	// nobody must be able to reach the binary.
	if err := os.Chmod(filepath.Dir(binary), 0o755); err != nil {
		t.Fatal(err)
	}
	n := newNodeOn(t, l.server, "")
	n.start()
	srv := []string{"--server", n.url(), "--token", n.token}
	tok, errs, code := run(append([]string{"agent", "token", "create"}, srv...)...)
	if code != 0 {
		t.Fatalf("agent token create: %s", errs)
	}
	tok = strings.TrimSpace(tok)
	// A data directory nobody may create, as with --data in a home
	// directory: only the privilege check stops the enrollment.
	dir, err := os.MkdirTemp("", "riposte-agent-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "agent")
	ns := l.hosts["victim"].ns

	out, errs, code := runCmd(exec.Command("ip", "netns", "exec", ns, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
		binary, "agent", "--server", n.url(), "--data", data, "--enroll-token", tok, "--hostname", "victim"))
	if code != 2 || !strings.Contains(errs, "the agent needs root") || !strings.Contains(errs, "no enrollment token was used") {
		t.Fatalf("agent as nobody: exit %d, stdout %q, stderr %q; want exit 2 and the privilege named", code, out, errs)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("the refused agent made %s (%v)", data, err)
	}
	if out, _, _ := run(append([]string{"agent", "list", "--output", "json"}, srv...)...); strings.Contains(out, "victim") {
		t.Fatalf("a ghost agent is listed after the refused start:\n%s", out)
	}

	// The same token still enrolls, as root.
	agent := startAgent(t, ns, "--server", n.url(), "--data", data, "--enroll-token", tok, "--hostname", "victim", "--heartbeat", "500ms")
	waitFor(t, "the agent to enroll with the unspent token", 20*time.Second, func() bool {
		out, _, _ := run(append([]string{"agent", "list", "--output", "json"}, srv...)...)
		return strings.Contains(out, `"hostname": "victim"`) && strings.Contains(out, `"last_seen"`)
	})
	if _, errs, code := run(append([]string{"decision", "add", "--target", "203.0.113.77", "--reason", "uninstall test"}, srv...)...); code != 0 {
		t.Fatalf("decision add: %s", errs)
	}
	if _, errs, code := run(append([]string{"decision", "add", "--kind", "contain_host", "--target", "victim", "--ttl", "until_reverted", "--reason", "uninstall test"}, srv...)...); code != 0 {
		t.Fatalf("isolate: %s", errs)
	}
	waitFor(t, "the decision and isolation tables", 15*time.Second, func() bool {
		ts := tablesIn(t, l, "victim")
		return slices.Contains(ts, "riposte") && slices.Contains(ts, "riposte_iso")
	})

	uninstall := func(extra ...string) (string, string, int) {
		return runIn(ns, append([]string{"agent", "uninstall", "--data", data}, extra...)...)
	}
	if out, errs, code := uninstall(); code != 2 || !strings.Contains(errs, "an agent is running") {
		t.Fatalf("uninstall under a running agent: exit %d %q %q", code, out, errs)
	}
	agent.stop()

	// Something quarantined: its undo would be lost, so not without --purge.
	q := filepath.Join(data, "host", "quarantine", "0123")
	if err := os.MkdirAll(q, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := uninstall(); code != 1 || !strings.Contains(errs, filepath.Join(data, "host", "quarantine")) || !strings.Contains(errs, "--purge") {
		t.Fatalf("uninstall with quarantined files: exit %d %q %q; want exit 1 naming the quarantine", code, out, errs)
	}
	if ts := tablesIn(t, l, "victim"); len(ts) < 2 {
		t.Fatalf("the refused uninstall changed the tables: %v", ts)
	}

	out, errs, code = uninstall("--purge")
	if code != 0 || !strings.Contains(out, "deleted nftables tables riposte, riposte_iso") || !strings.Contains(out, "removed "+data) || !strings.Contains(out, "riposte agent revoke ") {
		t.Fatalf("uninstall --purge: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	for _, tb := range tablesIn(t, l, "victim") {
		if strings.HasPrefix(tb, "riposte") {
			t.Errorf("table %s is still in the kernel after uninstall", tb)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v)", data, err)
	}
	// A second run has nothing left to do and says so without failing.
	if out, errs, code := uninstall(); code != 0 || strings.Contains(out, "removed") {
		t.Errorf("second uninstall: exit %d %q %q", code, out, errs)
	}
	// A mistyped --data is not deleted.
	other := t.TempDir()
	writeFile(t, other, "precious.txt", "keep me")
	if _, errs, code := runIn(ns, "agent", "uninstall", "--data", other); code != 2 || !strings.Contains(errs, "not an agent data directory") {
		t.Errorf("uninstall of a foreign directory: exit %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(other, "precious.txt")); err != nil {
		t.Errorf("a foreign directory lost its file: %v", err)
	}
}
