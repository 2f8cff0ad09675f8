package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// hostileText retitles the window, rings the bell, clears the screen (issue
// 10, finding 6), then sends an 8-bit CSI (C1) and a right-to-left
// override that would show what follows reversed.
const hostileText = "\x1b]0;pwned\a\x1b[2J\u009b31m\u202e"

// terminalSafe fails when out holds anything a terminal acts on: a
// control character other than newline and tab, DEL, a C1 control, a
// bidi or other format character, or bytes that are not UTF-8.
func terminalSafe(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: output is not UTF-8: %q", what, out)
		return
	}
	for i, r := range out {
		bad := r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r <= 0x9f ||
			r == 0x061c || r == 0x200e || r == 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
		if bad {
			t.Errorf("%s: raw %U at byte %d:\n%q", what, r, i, out)
			return
		}
	}
}

// holdsExact reports whether a decoded JSON value holds s as a whole
// string somewhere, or as a substring of one when part is true.
func holdsExact(v any, s string, part bool) bool {
	switch x := v.(type) {
	case string:
		return x == s || part && strings.Contains(x, s)
	case []any:
		for _, e := range x {
			if holdsExact(e, s, part) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if holdsExact(e, s, part) {
				return true
			}
		}
	}
	return false
}

// TestHostileTerminal puts escape sequences where attackers and careless
// producers can put them (a Windows user and computer name, a syslog
// host name, a token name, a rule's title and reason, a playbook's name
// and question, a decision's reason), then runs every list and show
// command of the real binary: text output carries them visibly escaped,
// JSON output carries them exactly.
func TestHostileTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	dir := t.TempDir()
	user, computer, host := "evil"+hostileText, "dc1"+hostileText, "web"+hostileText

	// A token named by someone careless, on the data directory.
	if _, errs, code := run("token", "create", "--data", n.data, "--role", "viewer", "--name", "shipper"+hostileText); code != 0 {
		t.Fatalf("token create: %s", errs)
	}
	// A rule whose title and reason carry it; it fires on the event below,
	// so the incident's title does too.
	rule := filepath.Join(dir, "rule.yml")
	os.WriteFile(rule, []byte(`title: "Account made \e]0;pwned\a\e[2J\u009b31m\u202e"
id: 6a3c1e0f-7d2b-4f5e-9a8c-1b2d3e4f5a6b
status: test
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4720
  condition: selection
level: high
`), 0o644)
	if out, errs, code := run(append([]string{"rules", "add", rule, "--reason", "because" + hostileText}, srv...)...); code != 0 {
		t.Fatalf("rules add: %s %s", out, errs)
	}
	// A Windows event: user and computer names are the sender's to choose.
	ev, _ := json.Marshal(map[string]any{"Event": map[string]any{
		"System":    map[string]any{"EventID": 4720, "Channel": "Security", "Computer": computer},
		"EventData": map[string]any{"TargetUserName": user, "SubjectUserName": "admin", "IpAddress": "203.0.113.44"}}})
	if resp, b, err := n.do("POST", "/api/v1/events", n.token, bytes.NewReader(ev), nil); err != nil || resp.StatusCode != 200 && resp.StatusCode != 202 {
		t.Fatalf("ingest: %v %s", err, b)
	}
	// A syslog sender names its own host: a brute force from it.
	c, err := net.Dial("tcp", n.syslog)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		msg := fmt.Sprintf("<38>%s %s sshd[4242]: Failed password for invalid user u%d from 203.0.113.45 port %d ssh2",
			time.Now().UTC().Format("Jan _2 15:04:05"), host, i, 40000+i)
		fmt.Fprintf(c, "%d %s", len(msg), msg)
	}
	c.Close()
	// A playbook whose name and question carry it, started by hand so an
	// approval waits.
	pb := filepath.Join(dir, "pb.yaml")
	os.WriteFile(pb, []byte(`id: playbook--7e4d2c1b-0a9f-4e8d-b7c6-5a4b3c2d1e0f
name: "Ask \e]0;pwned\a\e[2J\u009b31m\u202e"
modified: 2026-11-26T00:00:00Z
description: Asks a hostile question.
start: ask
steps:
  ask:
    approve:
      question: "Go \e]0;pwned\a\e[2J\u009b31m\u202e?"
      roles: [responder]
    timeout: 1h
    on_success: done
    on_failure: done
  done: end
`), 0o644)
	if out, errs, code := run(append([]string{"playbook", "import", pb, "--reason", "e2e"}, srv...)...); code != 0 {
		t.Fatalf("playbook import: %s %s", out, errs)
	}
	if out, errs, code := run(append([]string{"playbook", "run", "playbook--7e4d2c1b-0a9f-4e8d-b7c6-5a4b3c2d1e0f"}, srv...)...); code != 0 {
		t.Fatalf("playbook run: %s %s", out, errs)
	}
	// A decision whose reason carries it.
	if out, errs, code := run(append([]string{"decision", "add", "--target", "203.0.113.46", "--reason", "ban" + hostileText}, srv...)...); code != 0 {
		t.Fatalf("decision add: %s %s", out, errs)
	}

	var incID string
	waitFor(t, "incidents from the event and the brute force", 30*time.Second, func() bool {
		out, _, _ := run(append([]string{"incident", "list", "--output", "json"}, srv...)...)
		var incs []map[string]any
		json.Unmarshal([]byte(out), &incs)
		for _, in := range incs {
			if holdsExact(in["title"], "Account made "+hostileText, false) {
				incID, _ = in["id"].(string)
			}
		}
		return incID != "" && len(incs) >= 2
	})
	waitFor(t, "the approval", 10*time.Second, func() bool {
		out, _, _ := run(append([]string{"approval", "list", "--output", "json"}, srv...)...)
		return strings.Contains(out, "pwned")
	})

	// Every command that prints server or data-directory text, and what
	// its JSON must hold exactly.
	type cmd struct {
		args   []string
		exact  []string // whole values
		inside []string // parts of values (titles, texts built around them)
	}
	onServer := func(exact, inside []string, args ...string) cmd { return cmd{append(args, srv...), exact, inside} }
	cmds := []cmd{
		onServer(nil, []string{"Account made " + hostileText}, "incident", "list"),
		onServer([]string{user, computer}, []string{"Account made " + hostileText}, "incident", "show", incID),
		onServer([]string{computer, host}, nil, "asset", "list", "--discovered"),
		onServer(nil, []string{"ban" + hostileText}, "decision", "list"),
		onServer(nil, []string{"Account made " + hostileText}, "rules", "list"),
		onServer(nil, []string{"because" + hostileText}, "rules", "history", "6a3c1e0f-7d2b-4f5e-9a8c-1b2d3e4f5a6b"),
		onServer(nil, []string{"Account made " + hostileText}, "rules", "show", "6a3c1e0f-7d2b-4f5e-9a8c-1b2d3e4f5a6b"),
		onServer(nil, []string{"Ask " + hostileText}, "playbook", "list"),
		onServer(nil, []string{"Go " + hostileText + "?"}, "approval", "list", "--state", "all"),
		onServer(nil, nil, "run", "list"),
		onServer(nil, nil, "evidence", "list"),
		onServer(nil, nil, "agent", "list"),
		{[]string{"token", "list", "--data", n.data}, []string{"shipper" + hostileText}, nil},
	}
	for _, c := range cmds {
		name := strings.Join(c.args[:2], " ")
		out, errs, code := run(c.args...)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", name, code, errs)
			continue
		}
		terminalSafe(t, name, out)
		terminalSafe(t, name+" (stderr)", errs)
		if len(c.exact)+len(c.inside) > 0 && !strings.Contains(out, `\x1b]0;pwned\a\x1b[2J\u009b31m\u202e`) {
			t.Errorf("%s: the value is not shown escaped:\n%s", name, out)
		}
		jout, errs, code := run(append(c.args, "--output", "json")...)
		if code != 0 {
			t.Errorf("%s --output json: exit %d: %s", name, code, errs)
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(jout), &v); err != nil {
			t.Errorf("%s --output json: %v\n%s", name, err, jout)
			continue
		}
		for _, s := range c.exact {
			if !holdsExact(v, s, false) {
				t.Errorf("%s --output json does not hold %q exactly:\n%s", name, s, jout)
			}
		}
		for _, s := range c.inside {
			if !holdsExact(v, s, true) {
				t.Errorf("%s --output json does not hold %q:\n%s", name, s, jout)
			}
		}
		terminalSafe(t, name+" --output json", jout) // escaped the JSON way
	}
	// Errors that echo what the server was sent.
	_, errs, code := run(append([]string{"incident", "show", "nope" + hostileText}, srv...)...)
	if code == 0 {
		t.Fatal("showing a missing incident succeeded")
	}
	terminalSafe(t, "incident show (error)", errs)
	_, errs, _ = run("token", "revoke", "--data", n.data, "nope"+hostileText)
	terminalSafe(t, "token revoke (error)", errs)
	if !strings.Contains(errs, `\x1b`) {
		t.Errorf("token revoke: the error does not show the escape: %q", errs)
	}
}
