package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func sendSyslogTCP(t *testing.T, addr string, lines ...string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, l := range lines {
		msg := "<38>" + time.Now().UTC().Format("Jan _2 15:04:05") + " web-1 sshd[4242]: " + l
		fmt.Fprintf(c, "%d %s", len(msg), msg)
	}
}

type incident struct {
	ID         string   `json:"id"`
	Title      string   `json:"title"`
	Priority   string   `json:"priority"`
	Status     string   `json:"status"`
	AlertCount int      `json:"alert_count"`
	Rules      []string `json:"rules"`
}

func (n *node) incidents(t *testing.T) []incident {
	t.Helper()
	resp, body, err := n.do("GET", "/api/v1/incidents", n.token, nil, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("incidents: %v %s", err, body)
	}
	var res struct{ Incidents []incident }
	json.Unmarshal(body, &res)
	return res.Incidents
}

// TestBruteForceBecomesAP1Incident drives the default rules end to end:
// sshd lines over syslog, Sigma rules, correlations, alerts, one incident,
// and a signed webhook notification to a receiver started here.
func TestBruteForceBecomesAP1Incident(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	secret := "hook-secret-for-test"
	var mu sync.Mutex
	var deliveries []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(r.Header.Get("X-Riposte-Timestamp") + "." + string(body)))
		if r.Header.Get("X-Riposte-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m map[string]any
		json.Unmarshal(body, &m)
		mu.Lock()
		deliveries = append(deliveries, m)
		mu.Unlock()
	}))
	defer hook.Close()
	t.Setenv("E2E_HOOK_SECRET", secret)
	n := newNode(t, fmt.Sprintf(`notify:
  channels:
    - name: hook
      type: webhook
      webhook:
        url: %s
        secret_env: E2E_HOOK_SECRET
      group: {window: 100ms, max: 10}
  routes:
    - name: all
      channels: [hook]
`, hook.URL))
	n.start()
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
	in := incs[0]
	if len(incs) != 1 || in.Title != "SSH login succeeded after brute force" || in.AlertCount < 3 {
		t.Fatalf("incidents %+v: want one P1 incident for the intrusion with brute force, spraying and login-after alerts", incs)
	}
	// The show command gives the whole case.
	out, errs, code := run("incident", "show", in.ID, "--server", "http://"+n.http, "--token", n.token, "--output", "json")
	if code != 0 || !strings.Contains(out, "203.0.113.99") || !strings.Contains(out, `"kind": "alert"`) {
		t.Fatalf("incident show: exit %d %s %s", code, out, errs)
	}
	waitFor(t, "a signed webhook delivery", 15*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(deliveries) > 0
	})
	mu.Lock()
	first := fmt.Sprint(deliveries[0])
	mu.Unlock()
	if !strings.Contains(first, in.ID) {
		t.Fatalf("delivery does not name the incident: %s", first)
	}
	// Case work from the CLI, visible in the timeline and the audit log.
	for _, args := range [][]string{{"assign", in.ID, "alice"}, {"status", in.ID, "contained"}, {"comment", in.ID, "blocked at the edge"}} {
		if _, errs, code := run(append(append([]string{"incident"}, args...), "--server", "http://"+n.http, "--token", n.token)...); code != 0 {
			t.Fatalf("incident %v: %s", args, errs)
		}
	}
	out, _, _ = run("incident", "show", in.ID, "--server", "http://"+n.http, "--token", n.token)
	for _, want := range []string{"contained", "alice", "blocked at the edge", "notified hook"} {
		if !strings.Contains(out, want) {
			t.Errorf("incident show lacks %q:\n%s", want, out)
		}
	}
}

// TestRuleLifecycleAndCorrelationStateSurviveRestart manages a rule through
// the CLI (add, hot reload, disable, rollback) and shows that correlation
// counts carry across a restart.
func TestRuleLifecycleAndCorrelationStateSurviveRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	rule := filepath.Join(t.TempDir(), "canary.yml")
	body := `title: Canary string seen
id: 5b0d7a52-0b3c-4a51-9d0c-2f5f8f0e7a11
status: experimental
logsource:
  product: linux
detection:
  sel:
    message|contains: canary-%s
  condition: sel
level: high
`
	os.WriteFile(rule, []byte(fmt.Sprintf(body, "one")), 0o644)
	if out, errs, code := run(append([]string{"rules", "add", rule, "--reason", "first"}, srv...)...); code != 0 || !strings.Contains(out, "version 1") {
		t.Fatalf("rules add: %d %s %s", code, out, errs)
	}
	alertsFor := func(marker string) int {
		resp, b, err := n.do("GET", "/api/v1/alerts/stream?limit=1000", n.token, nil, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("alerts: %v", err)
		}
		return strings.Count(string(b), marker)
	}
	// The rule's logsource is linux: syslog lines carry it.
	sendLine := func(s string) { sendSyslogTCP(t, n.syslog, "session note "+s) }
	sendLine("canary-one")
	waitFor(t, "the new rule to fire without a restart", 20*time.Second, func() bool { return alertsFor("Canary string seen") == 1 })

	os.WriteFile(rule, []byte(fmt.Sprintf(body, "two")), 0o644)
	if _, errs, code := run(append([]string{"rules", "update", rule, "--reason", "new canary"}, srv...)...); code != 0 {
		t.Fatalf("rules update: %s", errs)
	}
	if _, errs, code := run(append([]string{"rules", "add", rule}, srv...)...); code != 1 || !strings.Contains(errs, "unchanged") {
		t.Fatalf("storing the same version again: exit %d %s", code, errs)
	}
	sendLine("canary-one")
	sendLine("canary-two")
	waitFor(t, "version 2 to fire on the new canary only", 20*time.Second, func() bool { return alertsFor("Canary string seen") == 2 })
	if _, errs, code := run(append([]string{"rules", "disable", "5b0d7a52-0b3c-4a51-9d0c-2f5f8f0e7a11", "--reason", "noisy"}, srv...)...); code != 0 {
		t.Fatalf("disable: %s", errs)
	}
	sendLine("canary-two")
	if out, _, code := run(append([]string{"rules", "rollback", "5b0d7a52-0b3c-4a51-9d0c-2f5f8f0e7a11", "--to", "1"}, srv...)...); code != 0 || !strings.Contains(out, "version 3") {
		t.Fatalf("rollback: %s", out)
	}
	if _, errs, code := run(append([]string{"rules", "enable", "5b0d7a52-0b3c-4a51-9d0c-2f5f8f0e7a11"}, srv...)...); code != 0 {
		t.Fatalf("enable: %s", errs)
	}
	sendLine("canary-one")
	waitFor(t, "the rolled-back version to fire", 20*time.Second, func() bool { return alertsFor("Canary string seen") == 3 })
	out, _, _ := run(append([]string{"rules", "history", "5b0d7a52-0b3c-4a51-9d0c-2f5f8f0e7a11"}, srv...)...)
	for _, want := range []string{"first", "new canary", "rollback to version 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s", want, out)
		}
	}
	badRule := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(badRule, []byte("title: x\nid: 11111111-2222-3333-4444-555555555555\nlogsource: {product: linux}\ndetection:\n  sel:\n    a|contians: b\n  condition: sel\n"), 0o644)
	if _, errs, code := run(append([]string{"rules", "add", badRule}, srv...)...); code != 1 || !strings.Contains(errs, "contians") {
		t.Fatalf("a rule with a bad modifier: exit %d %s", code, errs)
	}

	// Correlation state across a restart: 6 failures before, 6 after, one
	// brute-force alert (threshold 10 in 5 minutes).
	fails := func(from int) []string {
		var l []string
		for i := from; i < from+6; i++ {
			l = append(l, fmt.Sprintf("Failed password for root from 198.51.100.77 port %d ssh2", 30000+i))
		}
		return l
	}
	sendSyslogTCP(t, n.syslog, fails(0)...)
	waitFor(t, "the failures to be processed", 20*time.Second, func() bool { return len(n.events("198.51.100.77")) == 6 })
	time.Sleep(time.Second)
	n.stop(syscall.SIGTERM)
	n.start()
	sendSyslogTCP(t, n.syslog, fails(6)...)
	waitFor(t, "brute force after the restart", 30*time.Second, func() bool { return alertsFor("SSH brute force from one address") == 1 })
}

// TestIndicatorFeedRaisesAlertWithContext loads a CSV indicator list from
// the configuration and shows an event that talks to a listed address
// raising an alert that carries the indicator.
func TestIndicatorFeedRaisesAlertWithContext(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	list := filepath.Join(t.TempDir(), "c2.csv")
	os.WriteFile(list, []byte("# known command-and-control servers\n203.0.113.250\nevil.example.net\n"), 0o644)
	n := newNode(t, fmt.Sprintf(`detect:
  intel:
    feeds:
      - name: c2-list
        type: csv
        path: %s
        confidence: 85
`, list))
	n.start()
	body := `{"host":{"name":"ws-7"},"destination":{"ip":"203.0.113.250","port":443},"process":{"executable":"/tmp/x"}}
{"host":{"name":"ws-8"},"dns":{"question":{"name":"a.evil.example.net"}}}
{"host":{"name":"ws-9"},"destination":{"ip":"198.51.100.1"}}`
	resp, b, err := n.do("POST", "/api/v1/events", n.token, strings.NewReader(body), nil)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("post: %v %s", err, b)
	}
	var got []map[string]any
	waitFor(t, "indicator alerts", 20*time.Second, func() bool {
		_, b, _ := n.do("GET", "/api/v1/alerts/stream", n.token, nil, nil)
		var res struct{ Alerts []map[string]any }
		json.Unmarshal(b, &res)
		got = res.Alerts
		return len(got) >= 1
	})
	time.Sleep(time.Second)
	_, b, _ = n.do("GET", "/api/v1/alerts/stream", n.token, nil, nil)
	s := string(b)
	if !strings.Contains(s, `"kind":"indicator"`) || !strings.Contains(s, "203.0.113.250") || !strings.Contains(s, "c2-list") || strings.Contains(s, "198.51.100.1") {
		t.Fatalf("indicator alerts: %s", s)
	}
	if !strings.Contains(s, "destination.ip") {
		t.Errorf("the alert does not name the field that matched: %s", s)
	}
}

// TestCorrelationCountsSurviveSIGKILL: six failed logins before a SIGKILL
// and six after it make one brute-force alert (threshold ten): the counts
// of acknowledged events were saved with them.
func TestCorrelationCountsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	n.start()
	fails := func(from int) []string {
		var l []string
		for i := from; i < from+6; i++ {
			l = append(l, fmt.Sprintf("Failed password for root from 198.51.100.88 port %d ssh2", 31000+i))
		}
		return l
	}
	alerts := func() int {
		_, b, _ := n.do("GET", "/api/v1/alerts/stream?limit=1000", n.token, nil, nil)
		return strings.Count(string(b), "SSH brute force from one address")
	}
	sendSyslogTCP(t, n.syslog, fails(0)...)
	waitFor(t, "the failures to be stored", 20*time.Second, func() bool { return len(n.events("198.51.100.88")) == 6 })
	time.Sleep(time.Second) // detection acknowledges its batch (and saves the counts) after the store does
	n.stop(syscall.SIGKILL)
	n.start()
	sendSyslogTCP(t, n.syslog, fails(6)...)
	waitFor(t, "one brute-force alert after the crash", 30*time.Second, func() bool { return alerts() == 1 })
	time.Sleep(time.Second)
	if a := alerts(); a != 1 {
		t.Fatalf("%d brute-force alerts, want 1", a)
	}
}
