package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/riposte-soar/riposte/internal/browsertest"
	"github.com/riposte-soar/riposte/internal/oidctest"
)

// value runs one browser action that returns a value, within the step
// timeout, and fails the test if it fails.
func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browsertest.StepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// signIn signs in to the console as admin and waits for the queue.
func signIn(t *testing.T, ctx context.Context, n *node) {
	t.Helper()
	browsertest.Do(t, ctx,
		chromedp.Navigate(n.url()+"/login"),
		chromedp.SendKeys(chromedp.CSS(`#name`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`#password`), consolePassword(t, n)),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`table.queue`)),
	)
}

// consolePassword is the first user's password, written on first start.
func consolePassword(t *testing.T, n *node) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.data, "admin.password"))
	if err != nil {
		t.Fatalf("the first start wrote no console password: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// TestConsoleQueueInBrowser: a person signs in, keeps the queue open, and
// a brute force sent over syslog appears without a reload; a user name
// carrying script and markup from the attacker's log line shows as text
// and runs nothing.
func TestConsoleQueueInBrowser(t *testing.T) {
	n := newNode(t, "")
	n.start()
	ctx := browsertest.New(t)
	browsertest.Do(t, ctx,
		chromedp.Navigate(n.url()+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
	)
	loc := value(t, ctx, chromedp.Location())
	if !strings.Contains(loc, "/login") {
		t.Fatalf("opening the console without a session shows %s, want the sign-in page", loc)
	}
	browsertest.AssertAxe(t, ctx, "sign-in")
	browsertest.Screenshot(t, ctx, "sign-in")

	browsertest.Do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`#name`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`#password`), consolePassword(t, n)),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`table.queue`)),
		// A marker that a reload would wipe.
		chromedp.Evaluate[chromedp.Void](`window.__noReload = true`),
	)
	browsertest.AssertAxe(t, ctx, "queue (empty)")

	hostile := `<script>alert(1)</script>`
	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, fmt.Sprintf("Failed password for invalid user %s%d from 203.0.113.77 port %d ssh2", hostile, i, 40000+i))
	}
	sendSyslogTCP(t, n.syslog, lines...)
	var rows int
	deadline := time.Now().Add(45 * time.Second)
	for rows == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no incident row appeared in the open queue within 45s\nserver log:\n%s", tail(n.log.String(), 30))
		}
		time.Sleep(250 * time.Millisecond)
		rows = value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("tr[data-incident]").length`))
	}
	kept := value(t, ctx, chromedp.Evaluate[bool](`window.__noReload === true`))
	text := value(t, ctx, chromedp.Text(chromedp.CSS(`table.queue`)))
	if !kept {
		t.Error("the queue reloaded the page to show the new incident; it should update in place")
	}
	if !strings.Contains(text, "203.0.113.77") {
		t.Errorf("the new row does not name the attacker's address: %q", text)
	}
	browsertest.AssertNoDialogs(t, ctx)
	browsertest.AssertNoErrors(t, ctx)
	browsertest.AssertAxe(t, ctx, "queue")
	browsertest.Screenshot(t, ctx, "queue")

	// With the keyboard alone: Tab to "Assign to me", Enter.
	id := value(t, ctx, chromedp.Evaluate[string](`document.querySelector("tr[data-incident]").dataset.incident`))
	tabTo(t, ctx, `document.activeElement.textContent.trim() === "Assign to me"`)
	browsertest.Do(t, ctx, chromedp.KeyEvent("\r"))
	waitAPI(t, n, "the incident assigned with the keyboard", func(inc map[string]any) bool { return inc["assignee"] == "admin" }, id)
}

// tabTo presses Tab until the focused element satisfies cond (a
// JavaScript expression), as someone without a mouse would.
func tabTo(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if value(t, ctx, chromedp.Evaluate[bool](cond)) {
			return
		}
		browsertest.Do(t, ctx, chromedp.KeyEvent("\t"))
	}
	t.Fatalf("200 presses of Tab never reached the element (%s)", cond)
}

// approveThenBlock asks a responder, then blocks the attacker on every
// agent: the containment playbook the console flow approves.
const approveThenBlock = `id: playbook--5b0a7c8e-1f2d-4e3a-9b4c-6d7e8f9a0b1c
name: Block the intruder after approval
modified: 2026-12-07T00:00:00Z
description: Asks a responder, then blocks the attacking address everywhere.
trigger:
  incident:
    priorities: [P1]
    entity_types: [ip]
  bind:
    src_ip: alert.entities.source_ips[0]
inputs:
  incident: {type: dictionary, description: The incident}
  src_ip: {type: string, description: The attacking address}
start: ask
steps:
  ask:
    approve:
      question: Block the attacking address everywhere?
      roles: [responder]
    timeout: 1h
    on_success: block
    on_failure: declined
  block:
    connector: agent.block_ip
    args:
      address: __src_ip__:value
      ttl: 1h
      reason: SSH intrusion
    next: done
  declined: end
  done: end
`

// TestConsoleIncidentFlow is an analyst's day in the browser, each step
// checked on the server through the API: an intrusion arrives, they open
// it, take it, approve the containment playbook's question, watch the run
// finish and the block appear, revert the block, comment and close it with
// a verdict.
func TestConsoleIncidentFlow(t *testing.T) {
	n := newNode(t, "")
	n.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", tail(n.log.String(), 60))
		}
	})
	pb := writeFile(t, t.TempDir(), "approve-block.yaml", approveThenBlock)
	if out, errs, code := run("playbook", "import", pb, "--reason", "e2e", "--server", n.url(), "--token", n.token); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	ctx := browsertest.New(t)
	signIn(t, ctx, n)

	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, fmt.Sprintf("Failed password for invalid user u%d from 203.0.113.88 port %d ssh2", i, 41000+i))
	}
	sendSyslogTCP(t, n.syslog, lines...)
	time.Sleep(300 * time.Millisecond)
	sendSyslogTCP(t, n.syslog, "Accepted password for root from 203.0.113.88 port 42000 ssh2")

	waitBrowser(t, ctx, "the P1 intrusion in the open queue", 45*time.Second,
		`Array.from(document.querySelectorAll("tr[data-incident]")).some(r => r.textContent.includes("P1"))`)
	id := value(t, ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("tr[data-incident]")).find(r => r.textContent.includes("P1")).dataset.incident`))
	browsertest.Do(t, ctx,
		chromedp.Click(chromedp.CSS(`tr[data-incident="`+id+`"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`#wb`)),
	)

	// Take it.
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS(`form[action$="/assign"] button[name="me"]`)))
	waitAPI(t, n, "the incident assigned to admin", func(inc map[string]any) bool { return inc["assignee"] == "admin" }, id)

	// Answer the playbook's question.
	waitBrowser(t, ctx, "the playbook's approval on the incident page", 30*time.Second, `document.querySelector("form.wb-answer") !== null`)
	browsertest.AssertAxe(t, ctx, "incident (waiting for approval)")
	browsertest.Screenshot(t, ctx, "incident-approval")
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS(`form.wb-answer button.primary`)))

	// The run finishes (its graph's nodes all done) and the block is a
	// decision in force.
	waitBrowser(t, ctx, "the run graph done and the decision in force", 30*time.Second,
		`document.querySelector(".run-status.run-succeeded, .run-status.run-completed, .run-status.run-done") !== null && document.querySelector("form[action*='/decisions/'][action$='/revert']") !== null`)
	failed := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".g-node.g-failed").length`))
	if failed != 0 {
		t.Errorf("%d step(s) of the run failed", failed)
	}
	decisions := apiList(t, n, "/api/v1/decisions", "decisions")
	active := 0
	for _, d := range decisions {
		if d["target"] == "203.0.113.88/32" || d["target"] == "203.0.113.88" {
			if d["reverted_at"] == nil {
				active++
			}
		}
	}
	if active != 1 {
		t.Fatalf("after approval, %d active decisions block the attacker, want 1: %v", active, decisions)
	}
	browsertest.Screenshot(t, ctx, "incident-contained")

	// Revert the block (the page asks first; the person says yes).
	browsertest.Do(t, ctx,
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.SendKeys(chromedp.CSS(`form[action$="/revert"] input[name="reason"]`), "false alarm: our pentest"),
		chromedp.Click(chromedp.CSS(`form[action$="/revert"] button`)),
	)
	waitFor(t, "the decision reverted", 20*time.Second, func() bool {
		for _, d := range apiList(t, n, "/api/v1/decisions", "decisions") {
			if strings.HasPrefix(fmt.Sprint(d["target"]), "203.0.113.88") && d["reverted_at"] == nil {
				return false
			}
		}
		return true
	})

	// Comment, then close with a verdict.
	browsertest.Do(t, ctx,
		chromedp.WaitVisible(chromedp.CSS(`#wb-comment-text`)),
		chromedp.SendKeys(chromedp.CSS(`#wb-comment-text`), "Pentest by @admin, agreed with the owner."),
		chromedp.Click(chromedp.CSS(`form[action$="/comment"] button`)),
	)
	waitFor(t, "the comment on the timeline", 20*time.Second, func() bool {
		return strings.Contains(string(apiGet(t, n, "/api/v1/incidents/"+id)), "Pentest by @admin")
	})
	// The verdict form is the one with the verdict list (the header's
	// transition buttons post to the same route).
	browsertest.Do(t, ctx,
		chromedp.WaitVisible(chromedp.CSS(`select[name="verdict"]`)),
		chromedp.SetValue(chromedp.CSS(`select[name="verdict"]`), "benign"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('select[name="verdict"]').form.querySelector('button[type="submit"]').click()`),
	)
	waitAPI(t, n, "the incident closed as benign", func(inc map[string]any) bool {
		return inc["status"] == "closed" && inc["verdict"] == "benign"
	}, id)
	body := string(apiGet(t, n, "/api/v1/audit?limit=1000"))
	for _, action := range []string{"incident.", "user:admin"} {
		if !strings.Contains(body, action) {
			t.Errorf("the audit log has no %q entry: changes made in the console must be audited with the person's name", action)
		}
	}
	browsertest.AssertNoDialogs(t, ctx)
	browsertest.AssertNoErrors(t, ctx)
	browsertest.AssertAxe(t, ctx, "incident (closed)")
	browsertest.Screenshot(t, ctx, "incident-closed")
}

// waitBrowser polls a JavaScript condition in the page until it is true.
func waitBrowser(t *testing.T, ctx context.Context, what string, d time.Duration, cond string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !value(t, ctx, chromedp.Evaluate[bool](cond)) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; the page is at %s", d, what, value(t, ctx, chromedp.Location()))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func apiGet(t *testing.T, n *node, path string) []byte {
	t.Helper()
	res, body, err := n.do("GET", path, n.token, nil, nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v %s", path, err, res, body)
	}
	return body
}

func apiList(t *testing.T, n *node, path, key string) []map[string]any {
	t.Helper()
	var m map[string][]map[string]any
	if err := json.Unmarshal(apiGet(t, n, path), &m); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return m[key]
}

// waitAPI polls an incident through the API until cond holds.
func waitAPI(t *testing.T, n *node, what string, cond func(map[string]any) bool, id string) {
	t.Helper()
	waitFor(t, what, 20*time.Second, func() bool {
		var m struct {
			Incident map[string]any `json:"incident"`
		}
		if err := json.Unmarshal(apiGet(t, n, "/api/v1/incidents/"+id), &m); err != nil {
			return false
		}
		return cond(m.Incident)
	})
}

// TestConsolePagesInBrowser opens every page of the console as an admin:
// each passes axe with no serious or critical violation, opens no dialog,
// reports no error, and is saved as a screenshot. An event whose fields
// carry script and markup is shown on the events page as the literal text.
func TestConsolePagesInBrowser(t *testing.T) {
	n := newNode(t, "")
	n.start()
	hostile := `<script>alert(1)</script> "><img src=x onerror=alert(2)>`
	ev, _ := json.Marshal(map[string]any{"@timestamp": time.Now().UTC().Format(time.RFC3339), "host": map[string]any{"name": "web-x"},
		"message": hostile, "user": map[string]any{"name": hostile}})
	if res, body, err := n.do("POST", "/api/v1/events", n.token, strings.NewReader(string(ev)), nil); err != nil || res.StatusCode != 202 {
		t.Fatalf("send event: %v %v %s", err, res, body)
	}
	pb := writeFile(t, t.TempDir(), "approve-block.yaml", approveThenBlock)
	if out, errs, code := run("playbook", "import", pb, "--reason", "e2e", "--server", n.url(), "--token", n.token); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	ctx := browsertest.New(t)
	signIn(t, ctx, n)
	// Keyboard alone: the first Tab reaches the skip link, which moves on
	// to the page's content.
	browsertest.Do(t, ctx, chromedp.KeyEvent("\t"))
	if got := value(t, ctx, chromedp.Evaluate[string](`document.activeElement.className + ":" + document.activeElement.textContent`)); got != "skip:Skip to content" {
		t.Errorf("the first Tab focuses %q, want the skip link", got)
	}
	pages := []struct{ name, path, ready string }{
		{"approvals", "/approvals", "main h1"},
		{"playbooks", "/playbooks", "main h1"},
		{"playbook", "/playbooks/playbook--5b0a7c8e-1f2d-4e3a-9b4c-6d7e8f9a0b1c", "main svg"},
		{"playbook-new", "/playbooks/new", "main textarea"},
		{"rules", "/rules", "main table"},
		{"agents", "/agents", "main h1"},
		{"decisions", "/decisions", "main h1"},
		{"events", "/events?q=web-x", "main h1"},
		{"metrics", "/insights", "main svg"},
		{"silences", "/silences", "main h1"},
		{"assets", "/assets-inventory", "main h1"},
	}
	for _, p := range pages {
		browsertest.Do(t, ctx,
			chromedp.Navigate(n.url()+p.path),
			chromedp.WaitVisible(chromedp.CSS(p.ready)),
		)
		browsertest.AssertAxe(t, ctx, p.name)
		browsertest.Screenshot(t, ctx, "page-"+p.name)
	}
	browsertest.Do(t, ctx, chromedp.Navigate(n.url()+"/events?q=web-x"), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	text := value(t, ctx, chromedp.Text(chromedp.CSS(`main`)))
	if !strings.Contains(text, `<script>alert(1)</script>`) || !strings.Contains(text, `"><img src=x onerror=alert(2)>`) {
		t.Errorf("the events page does not show the event's hostile text literally:\n%s", text)
	}
	if n := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("main script, main img[src=x]").length`)); n != 0 {
		t.Errorf("the event's markup became %d element(s) in the page", n)
	}
	browsertest.AssertNoDialogs(t, ctx)
	browsertest.AssertNoErrors(t, ctx)
}

// TestConsoleSingleSignOnInBrowser signs in through a real OpenID provider
// in Chromium: the provider's redirect back is a cross-site navigation, on
// which a browser does not send a SameSite=Strict cookie; the console's
// same-site hop after the callback is what lets the new session work, and
// only a real browser shows that it does.
func TestConsoleSingleSignOnInBrowser(t *testing.T) {
	idp := oidctest.Start(t)
	n := newNode(t, "")
	callback := n.url() + "/login/oidc/callback"
	idp.AddClient("riposte", "riposte-client-secret", callback)
	idp.AddUser(oidctest.User{Subject: "sub-alice", Password: "alice-at-idp", Username: "alice", Email: "alice@example.com",
		Claims: map[string]any{"groups": []string{"soc-responders"}}})
	cfg, err := os.ReadFile(n.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, fmt.Sprintf(`console:
  oidc:
    issuer: %s
    client_id: riposte
    client_secret: riposte-client-secret
    redirect_url: %s
    scopes: [profile, email, groups]
    role_claim: groups
    roles:
      - {value: soc-responders, role: responder}
`, idp.Issuer, callback)...)
	if err := os.WriteFile(n.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	n.start()
	ctx := browsertest.New(t)
	browsertest.Do(t, ctx,
		chromedp.Navigate(n.url()+"/?priority=P1"),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/login/oidc"]`)),
		chromedp.Click(chromedp.CSS(`a[href^="/login/oidc"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "alice-at-idp"),
		chromedp.Click(chromedp.CSS(`button:not([name])`)),
		chromedp.WaitVisible(chromedp.CSS(`table.queue`)),
	)
	who := value(t, ctx, chromedp.Text(chromedp.CSS(`form.who span`)))
	if !strings.Contains(who, "alice") || !strings.Contains(who, "responder") {
		t.Errorf("signed in as %q, want alice (responder, from the groups claim)", who)
	}
	if loc := value(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/?priority=P1") {
		t.Errorf("after single sign-on the browser is at %s, want the page it first asked for", loc)
	}
	browsertest.AssertNoDialogs(t, ctx)
	browsertest.AssertNoErrors(t, ctx)
}
