package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// longActor is a token name as people write them; the tables must stay
// aligned around it.
const longActor = "soc analyst on call via the runbook laptop of the night shift"

// TestCLICommandsForTheAPI drives, against one running server, every
// command that used to be API-only: incident priority and undo-list,
// audit list, silence add|list|expire, alert held, metrics response,
// events search, playbook library list|import, enable, disable, history,
// rollback, and the readable traces of playbook run --dry-run and run
// show. Each is checked for what a person reads, its --output json and
// its exit codes; every timestamp printed is RFC 3339 with its zone.
func TestCLICommandsForTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	// The starter playbooks notify the on-call team: a channel must exist.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	n := newNode(t, fmt.Sprintf(`notify:
  channels:
    - name: hook
      type: webhook
      webhook: {url: %s}
  routes:
    - name: all
      channels: [hook]
`, hook.URL))
	n.start()
	tok, errs, code := run("token", "create", "--data", n.data, "--role", "admin", "--name", longActor)
	if code != 0 {
		t.Fatalf("token create: %s", errs)
	}
	srv := []string{"--server", n.url(), "--token", strings.TrimSpace(tok)}
	var printed []string
	cli := func(t *testing.T, want int, args ...string) string {
		t.Helper()
		out, errs, code := run(append(args, srv...)...)
		if code != want {
			t.Fatalf("riposte %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errs)
		}
		printed = append(printed, out, errs)
		return out + errs
	}
	contains := func(t *testing.T, what, out string, subs ...string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				t.Errorf("%s: no %q in:\n%s", what, s, out)
			}
		}
	}

	// An incident to work on.
	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, fmt.Sprintf("Failed password for invalid user u%d from 203.0.113.99 port %d ssh2", i, 40000+i))
	}
	sendSyslogTCP(t, n.syslog, lines...)
	time.Sleep(300 * time.Millisecond)
	sendSyslogTCP(t, n.syslog, "Accepted password for root from 203.0.113.99 port 41000 ssh2")
	var incs []incident
	waitFor(t, "a P1 incident", 30*time.Second, func() bool {
		incs = n.incidents(t)
		return len(incs) > 0 && incs[0].Priority == "P1"
	})
	id := incs[0].ID

	t.Run("incident priority", func(t *testing.T) {
		contains(t, "set", cli(t, 0, "incident", "priority", id, "P3", "--reason", "test box, no data"), id+"  P3  severity 4")
		contains(t, "severity", cli(t, 0, "incident", "priority", id, "--severity", "2", "--reason", "no admin rights"), "P3  severity 2")
		out := cli(t, 0, "incident", "show", id)
		contains(t, "show", out, "rated by hand: priority P3, severity 2, by token:", longActor, "rated P3 severity 4 by hand (was P1 severity 4): test box, no data")
		// The timeline's columns line up whatever the actor's length.
		aligned(t, "incident show's timeline", out, "TIMELINE", []string{"alert", "priority"})
		var shown struct {
			Incident struct {
				Priority string
				Severity int
				Override struct{ Priority, By, Reason string }
			}
		}
		json.Unmarshal([]byte(cli(t, 0, "incident", "show", id, "--output", "json")), &shown)
		if o := shown.Incident; o.Priority != "P3" || o.Severity != 2 || o.Override.Priority != "P3" || !strings.Contains(o.Override.By, longActor) || o.Override.Reason != "no admin rights" {
			t.Errorf("incident show --output json: %+v", o)
		}
		contains(t, "unknown priority", cli(t, 1, "incident", "priority", id, "P9", "--reason", "x"), "want one of P1, P2, P3, P4")
		contains(t, "no reason", cli(t, 2, "incident", "priority", id, "P2"), "--reason is required")
		contains(t, "nothing to set", cli(t, 2, "incident", "priority", id, "--reason", "x"), "give a priority")
		contains(t, "unknown incident", cli(t, 1, "incident", "priority", "01NOPE", "P2", "--reason", "x"), "not found")
		contains(t, "clear", cli(t, 0, "incident", "priority", id, "--clear", "--reason", "back to the matrix"), id+"  P1  severity 4")
		// Audited in the change's transaction: the entry is there, with the reason.
		out = cli(t, 0, "audit", "list", "--limit", "1000")
		contains(t, "audit list", out, "incident.update", "incident:"+id, "test box, no data", "back to the matrix", longActor)
		aligned(t, "audit list", out, "SEQ", []string{"token.create", "incident.update"})
		var entries []struct{ Action, Actor string }
		json.Unmarshal([]byte(cli(t, 0, "audit", "list", "--output", "json", "--limit", "1000")), &entries)
		if len(entries) < 5 || entries[len(entries)-1].Action != "incident.update" {
			t.Errorf("audit list --output json: %+v", entries)
		}
	})

	t.Run("silences and held alerts", func(t *testing.T) {
		out := cli(t, 0, "silence", "add", "--match", "ip=198.51.100.50", "--duration", "1h", "--reason", "pentest")
		silID := strings.TrimSuffix(strings.Fields(out)[0], ":")
		contains(t, "add", out, "holding ip=198.51.100.50 from ")
		contains(t, "list", cli(t, 0, "silence", "list"), silID, "ip=198.51.100.50", "pentest", longActor)
		contains(t, "bad matcher", cli(t, 2, "silence", "add", "--match", "ip", "--reason", "x"), "want FIELD=VALUE")
		contains(t, "no reason", cli(t, 2, "silence", "add", "--match", "ip=198.51.100.50"), "--reason is required")
		var burst []string
		for i := 0; i < 12; i++ {
			burst = append(burst, fmt.Sprintf("Failed password for invalid user v%d from 198.51.100.50 port %d ssh2", i, 42000+i))
		}
		sendSyslogTCP(t, n.syslog, burst...)
		waitFor(t, "a held alert", 20*time.Second, func() bool {
			o, _, _ := run(append([]string{"alert", "held"}, srv...)...)
			return strings.Contains(o, "silence:"+silID)
		})
		contains(t, "held", cli(t, 0, "alert", "held"), "ip=198.51.100.50", "held in all: silence:"+silID)
		var held struct {
			Alerts []struct {
				SuppressedBy string `json:"suppressed_by"`
			}
			Counts map[string]int
		}
		json.Unmarshal([]byte(cli(t, 0, "alert", "held", "--output", "json")), &held)
		if len(held.Alerts) == 0 || held.Alerts[0].SuppressedBy != "silence:"+silID || held.Counts["silence:"+silID] == 0 {
			t.Errorf("alert held --output json: %+v", held)
		}
		contains(t, "expire", cli(t, 0, "silence", "expire", silID), "expired "+silID)
		contains(t, "expire unknown", cli(t, 1, "silence", "expire", "01NOPE"), "not found")
		if out := cli(t, 0, "silence", "list"); strings.Contains(out, silID) {
			t.Errorf("an expired silence is listed as active:\n%s", out)
		}
		contains(t, "list --all", cli(t, 0, "silence", "list", "--all"), silID)
	})

	t.Run("metrics and events", func(t *testing.T) {
		contains(t, "metrics", cli(t, 0, "metrics", "response", "--from", "1h"), "incidents created from ", ": 1, 1 open", "time to detect", "by priority: P1 1")
		var m struct {
			Incidents  int
			ByPriority map[string]int `json:"by_priority"`
		}
		json.Unmarshal([]byte(cli(t, 0, "metrics", "response", "--output", "json")), &m)
		if m.Incidents != 1 || m.ByPriority["P1"] != 1 {
			t.Errorf("metrics response --output json: %+v", m)
		}
		contains(t, "bad --from", cli(t, 2, "metrics", "response", "--from", "last tuesday"), "RFC 3339")
		out := cli(t, 0, "events", "search", "203.0.113.99", "--from", "1h", "--limit", "5")
		contains(t, "events", out, "TIME", "Failed password for invalid user u0 from 203.0.113.99", "more: add --cursor ")
		cursor := strings.Fields(out[strings.Index(out, "--cursor "):])[1]
		contains(t, "next page", cli(t, 0, "events", "search", "203.0.113.99", "--limit", "5", "--cursor", cursor), "u5 from")
		if out := cli(t, 0, "events", "search", "203.0.113.99", "--from", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); strings.Contains(out, "Failed") {
			t.Errorf("events from the future:\n%s", out)
		}
		var page struct {
			Events []struct{ Host string }
		}
		json.Unmarshal([]byte(cli(t, 0, "events", "search", "Accepted password", "--output", "json")), &page)
		if len(page.Events) != 1 {
			t.Errorf("events search --output json: %+v", page)
		}
		if out := cli(t, 0, "events", "search", "--host", "no-such-host"); strings.Contains(out, "Failed") {
			t.Errorf("--host ignored:\n%s", out)
		}
		contains(t, "bad --to", cli(t, 2, "events", "search", "--to", "soon"), "--to")
	})

	t.Run("playbook library and versions", func(t *testing.T) {
		const pb = "playbook--f55e394e-4e7b-4506-b0ed-08c221d73c24"
		// The library is in the binary: listing it needs no server.
		out, errs, code := run("playbook", "library", "list")
		if code != 0 {
			t.Fatalf("library list: exit %d: %s", code, errs)
		}
		printed = append(printed, out)
		contains(t, "library list", out, "ssh-brute-force", pb, "SSH brute force", "alert,manual")
		contains(t, "import", cli(t, 0, "playbook", "library", "import", "ssh-brute-force"), "ssh-brute-force: "+pb+" version 1 stored")
		contains(t, "import again", cli(t, 0, "playbook", "library", "import", "ssh-brute-force"), "already current, unchanged")
		contains(t, "unknown name", cli(t, 1, "playbook", "library", "import", "ssh-brute-forse"), `no starter playbook "ssh-brute-forse": there are `, "ssh-brute-force")
		contains(t, "nothing named", cli(t, 2, "playbook", "library", "import"), "--all")
		// A second version, then back to the first.
		body, err := os.ReadFile(filepath.Join("..", "playbook", "library", "ssh-brute-force.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		v2 := filepath.Join(t.TempDir(), "v2.yaml")
		os.WriteFile(v2, []byte(strings.Replace(string(body), "name: SSH brute force", "name: SSH brute force (edited)", 1)), 0o644)
		cli(t, 0, "playbook", "import", v2, "--reason", "renamed")
		out = cli(t, 0, "playbook", "history", pb)
		contains(t, "history", out, "imported from the starter library", "renamed", longActor)
		aligned(t, "playbook history", out, "VERSION", []string{"imported", "renamed"})
		contains(t, "rollback", cli(t, 0, "playbook", "rollback", pb, "--to", "1", "--reason", "the old name"), pb+" version 3 restores version 1")
		contains(t, "rollback to nothing", cli(t, 1, "playbook", "rollback", pb, "--to", "9"), "not found")
		contains(t, "rollback without --to", cli(t, 2, "playbook", "rollback", pb), "--to VERSION is required")
		contains(t, "disable", cli(t, 0, "playbook", "disable", pb), pb+" disabled")
		var pbs []struct {
			ID      string
			Enabled bool
			Title   string
		}
		json.Unmarshal([]byte(cli(t, 0, "playbook", "list", "--output", "json")), &pbs)
		if len(pbs) != 1 || pbs[0].Enabled || pbs[0].Title != "SSH brute force" {
			t.Errorf("after disable and rollback: %+v", pbs)
		}
		contains(t, "enable", cli(t, 0, "playbook", "enable", pb), pb+" enabled")
		contains(t, "enable unknown", cli(t, 1, "playbook", "enable", "playbook--nope"), "not found")

		// A run for the incident: its trace, read as people and as JSON.
		runID := strings.TrimSpace(cli(t, 0, "playbook", "run", pb, "--incident", id, "--again"))
		waitFor(t, "the run to end", 20*time.Second, func() bool {
			o, _, _ := run(append([]string{"run", "show", runID, "--output", "json"}, srv...)...)
			return strings.Contains(o, `"outcome": "succeeded"`)
		})
		out = cli(t, 0, "run", "show", runID)
		contains(t, "run show", out, pb+": succeeded", " 1. start [start] succeeded in ", "block_source_ip [action] succeeded in ",
			"result:  ok: block 203.0.113.99/32", "outputs: ", "decision=", "tag_incident [action]", "done [end] succeeded")
		var tr struct {
			Outcome string
			Steps   []struct {
				Name    string
				Entered string `json:"entered_at"`
				Ended   string `json:"ended_at"`
				Outputs map[string]any
			}
		}
		json.Unmarshal([]byte(cli(t, 0, "run", "show", runID, "--output", "json")), &tr)
		if tr.Outcome != "succeeded" || len(tr.Steps) < 3 || tr.Steps[1].Name != "block_source_ip" || tr.Steps[1].Ended == "" || tr.Steps[1].Outputs["decision"] == nil {
			t.Errorf("run show --output json: %+v", tr)
		}
		contains(t, "run list", cli(t, 0, "run", "list"), runID, "succeeded")
		// The block is what recovery would undo.
		out = cli(t, 0, "incident", "undo-list", id)
		contains(t, "undo-list", out, "agent.unblock_ip", "pending", "unblock 203.0.113.99/32", runID)
		var undo []struct{ Operation string }
		json.Unmarshal([]byte(cli(t, 0, "incident", "undo-list", id, "--output", "json")), &undo)
		if len(undo) != 1 || undo[0].Operation != "unblock_ip" {
			t.Errorf("undo-list --output json: %+v", undo)
		}
	})

	t.Run("dry run trace", func(t *testing.T) {
		in := filepath.Join("..", "examples", "dry-run-input.json")
		pbf := filepath.Join("..", "examples", "contain-ssh-intrusion.yaml")
		out := cli(t, 0, "playbook", "run", pbf, "--dry-run", "--input", in)
		contains(t, "dry run", out, "Contain an SSH intrusion (playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c5d): succeeded, 5 steps",
			" 2. note [action] succeeded in 0s", "sent:    incident.update", "asked:   approval: Mark the incident contained?", "answer:  approved by dry-run", " 5. done [end] succeeded")
		var tr struct {
			Outcome string
			Steps   []struct{ Name string }
		}
		if err := json.Unmarshal([]byte(cli(t, 0, "playbook", "run", pbf, "--dry-run", "--input", in, "--output", "json")), &tr); err != nil || tr.Outcome != "succeeded" || tr.Steps[1].Name != "note" {
			t.Errorf("--output json: %+v %v", tr, err)
		}
		cli(t, 2, "playbook", "run", pbf, "--dry-run", "--output", "yaml")
	})

	// Every point in time printed above is RFC 3339 with its zone.
	when := regexp.MustCompile(`\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?`)
	rfc := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)
	seen := 0
	for _, p := range printed {
		for _, m := range when.FindAllString(p, -1) {
			seen++
			if !rfc.MatchString(m) {
				t.Errorf("time %q is not RFC 3339 with a zone, in:\n%s", m, p)
			}
		}
	}
	if seen < 20 {
		t.Errorf("only %d timestamps printed; the check above saw too little", seen)
	}
}

// aligned checks that, in the table of out that starts with the line
// holding header, the last column starts at the same place on the header
// and on every row holding one of marks: a long cell (an actor) widens its
// column instead of pushing the next ones.
func aligned(t *testing.T, what, out, header string, marks []string) {
	t.Helper()
	ls := strings.Split(out, "\n")
	start := -1
	for i, l := range ls {
		if strings.Contains(l, header) {
			start = i
			break
		}
	}
	if start < 0 {
		t.Errorf("%s: no %q in:\n%s", what, header, out)
		return
	}
	// The column of the first cell after the actor: the third
	// two-space gap of each row.
	col := func(l string) int {
		gaps := regexp.MustCompile(`\S  +`).FindAllStringIndex(l, -1)
		if len(gaps) < 3 {
			return -1
		}
		return gaps[2][1]
	}
	want := -1
	for _, l := range ls[start+1:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		hit := false
		for _, m := range marks {
			hit = hit || strings.Contains(l, m)
		}
		if !hit {
			continue
		}
		if want < 0 {
			want = col(l)
		}
		if c := col(l); c != want || c < 0 {
			t.Errorf("%s: columns out of line (%d, want %d):\n%s", what, c, want, strings.Join(ls[start:], "\n"))
			return
		}
	}
}
