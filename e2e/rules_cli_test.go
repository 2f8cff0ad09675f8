package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/corpus"
)

// TestRulesTestPrintsOneLinePerHit runs `riposte rules test` on a SigmaHQ
// regression case: the rule named by the case fires on its event, each hit
// is one JSON line, and unreadable input is exit 2.
func TestRulesTestPrintsOneLinePerHit(t *testing.T) {
	sigma := corpus.Dir(t, "sigma")
	dir := corpus.Dir(t, "sigma/regression_data/rules/windows/process_creation/proc_creation_win_amsi_registry_tampering")
	rule := filepath.Join(sigma, "rules/windows/process_creation/proc_creation_win_amsi_registry_tampering.yml")
	events := filepath.Join(dir, "7dbbcac2-57a0-45ac-b306-ff30a8bd2981.json")
	out, errs, code := run("rules", "test", "--rules", rule, "--events", events)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1:\n%s", len(lines), out)
	}
	var hit struct {
		RuleID string `json:"rule_id"`
		Title  string `json:"title"`
		Event  *int   `json:"event"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &hit); err != nil || hit.RuleID != "7dbbcac2-57a0-45ac-b306-ff30a8bd2981" || hit.Event == nil || *hit.Event != 0 || hit.Title == "" {
		t.Fatalf("hit line %q: want rule 7dbbcac2-... on event 0", lines[0])
	}
	// No hit is still a successful run.
	other := filepath.Join(t.TempDir(), "benign.json")
	os.WriteFile(other, []byte(`{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"pc"},"EventData":{"Image":"C:\\Windows\\notepad.exe","CommandLine":"notepad.exe"}}}`), 0o644)
	if out, errs, code := run("rules", "test", "--rules", rule, "--events", other); code != 0 || out != "" {
		t.Fatalf("no hit: exit %d out %q %s", code, out, errs)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"Event": {`), 0o644)
	if _, errs, code := run("rules", "test", "--rules", rule, "--events", bad); code != 2 || !strings.Contains(errs, "bad.json") {
		t.Fatalf("unreadable events: exit %d %s", code, errs)
	}
	if _, errs, code := run("rules", "test", "--rules", rule, "--events", filepath.Join(t.TempDir(), "absent.json")); code != 2 || errs == "" {
		t.Fatalf("missing events file: exit %d %s", code, errs)
	}
	if out, _, code := run("rules", "lint", filepath.Join(sigma, "rules/windows/process_creation")); code != 0 || !strings.Contains(out, "") {
		t.Fatalf("lint of SigmaHQ process_creation rules: exit %d", code)
	}
}

// TestBacktestComparesCandidateWithCurrent stores events, then replays them
// through a changed rule: the hits it would add and remove are listed.
func TestBacktestComparesCandidateWithCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	rule := `title: Curl in a command line
id: 0e0e7f1c-5d6a-4a59-8b4c-3f2e58a2f0a1
logsource:
  product: linux
detection:
  sel:
    message|contains: %s
  condition: sel
level: medium
`
	cur := filepath.Join(t.TempDir(), "cur.yml")
	os.WriteFile(cur, []byte(fmt.Sprintf(rule, "'wget http'")), 0o644)
	if _, errs, code := run(append([]string{"rules", "add", cur}, srv...)...); code != 0 {
		t.Fatalf("add: %s", errs)
	}
	from := time.Now().UTC().Add(-time.Minute)
	sendSyslogTCP(t, n.syslog, "user ran curl http://a.example/x", "user ran curl https://b.example/y", "user ran wget http://c.example/z")
	waitFor(t, "events stored", 20*time.Second, func() bool { return len(n.events("user ran")) == 3 })
	cand := filepath.Join(t.TempDir(), "cand.yml")
	os.WriteFile(cand, []byte(fmt.Sprintf(rule, "'curl https'")), 0o644)
	out, errs, code := run(append([]string{"rules", "backtest", "--rule", cand, "--from", from.Format(time.RFC3339),
		"--to", time.Now().UTC().Add(time.Minute).Format(time.RFC3339), "--output", "json"}, srv...)...)
	if code != 0 {
		t.Fatalf("backtest: exit %d %s", code, errs)
	}
	var rep struct {
		Events    int `json:"events"`
		Current   int `json:"current_hits"`
		Candidate int `json:"candidate_hits"`
		Added     []struct {
			EventID string `json:"event_id"`
		} `json:"added"`
		Removed []struct {
			EventID string `json:"event_id"`
		} `json:"removed"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("backtest output: %v\n%s", err, out)
	}
	if rep.Events < 3 || rep.Current != 1 || rep.Candidate != 1 || len(rep.Added) != 1 || len(rep.Removed) != 1 || rep.Added[0].EventID == rep.Removed[0].EventID {
		t.Fatalf("backtest report %+v: want the https curl added and the wget removed", rep)
	}
}
