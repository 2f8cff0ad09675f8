package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/testenv"
)

// startProcess runs a bouncer until the test ends.
func startProcess(t *testing.T, name string, args ...string) *syncBuffer {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s said:\n%s", name, tail(out.String(), 30))
		}
	})
	return out
}

// TestCrowdSecBouncersEnforceRiposteDecisions runs the real CrowdSec
// bouncers from Debian against Riposte's API: the firewall bouncer
// (nftables) in the victim's namespace drops the attacker a Riposte
// decision names and lets it back when the decision is reverted; the
// custom bouncer calls a script with the same add and delete. Riposte
// shows which bouncer pulled the decision.
func TestCrowdSecBouncersEnforceRiposteDecisions(t *testing.T) {
	l := newLab(t, "attacker", "victim", "benign")
	fw := testenv.Command(t, "crowdsec-firewall-bouncer", "crowdsec-firewall-bouncer")
	custom := testenv.Command(t, "crowdsec-custom-bouncer", "crowdsec-custom-bouncer")
	testenv.Command(t, "nft", "nftables")
	n := newNodeOn(t, l.server, "")
	n.start()
	dir := t.TempDir()
	key := func(name string) string {
		out, errs, code := run("bouncer", "add", name, "--data", n.data)
		if code != 0 || !strings.HasPrefix(out, "rpb_") {
			t.Fatalf("bouncer add %s: %d %s %s", name, code, out, errs)
		}
		return strings.TrimSpace(out)
	}
	api := n.url() + "/"

	// The firewall bouncer, nftables mode, in the victim's namespace,
	// pulling every second.
	fwConf := writeFile(t, dir, "firewall.yaml", fmt.Sprintf(`mode: nftables
pid_dir: %s
update_frequency: 1s
daemonize: false
log_mode: stdout
log_level: debug
api_url: %s
api_key: %s
disable_ipv6: true
deny_action: DROP
deny_log: false
supported_decisions_types:
  - ban
nftables:
  ipv4:
    enabled: true
    set-only: false
    table: crowdsec
    chain: crowdsec-chain
  ipv6:
    enabled: false
    set-only: false
    table: crowdsec6
    chain: crowdsec6-chain
prometheus:
  enabled: false
`, dir, api, key("victim-firewall")))
	startProcess(t, "crowdsec-firewall-bouncer", "ip", "netns", "exec", l.hosts["victim"].ns, fw, "-c", fwConf)

	// The custom bouncer calls a script with add/del, the address and
	// the duration; the script writes them down.
	record := filepath.Join(dir, "custom.log")
	script := writeFile(t, dir, "record.sh", "#!/bin/sh\necho \"$1 $2 $3\" >> "+record+"\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	customConf := writeFile(t, dir, "custom.yaml", fmt.Sprintf(`bin_path: %s
feed_via_stdin: false
total_retries: 0
scenarios_containing: []
scenarios_not_containing: []
origins: []
piddir: %s
update_frequency: 1s
cache_retention_duration: 10s
daemonize: false
log_mode: stdout
log_level: debug
api_url: %s
api_key: %s
prometheus:
  enabled: false
`, script, dir, api, key("custom-script")))
	startProcess(t, "crowdsec-custom-bouncer", custom, "-c", customConf)

	type bouncerView struct {
		Name     string     `json:"name"`
		LastPull *time.Time `json:"last_pull"`
		Holds    []string   `json:"holds"`
	}
	bouncers := func() map[string]bouncerView {
		resp, b, err := n.do("GET", "/api/v1/bouncers", n.token, nil, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("bouncers: %v %s", err, b)
		}
		var out struct{ Bouncers []bouncerView }
		json.Unmarshal(b, &out)
		m := map[string]bouncerView{}
		for _, b := range out.Bouncers {
			m[b.Name] = b
		}
		return m
	}
	waitFor(t, "both bouncers' first pull", 20*time.Second, func() bool {
		bs := bouncers()
		return bs["victim-firewall"].LastPull != nil && bs["custom-script"].LastPull != nil
	})

	victim := l.hosts["victim"].addr
	service := net.JoinHostPort(victim, "8081")
	l.serveTCP(t, "victim", service)
	attacker := l.hosts["attacker"].addr
	for _, h := range []string{"attacker", "benign"} {
		if err := l.dial(h, "", service, time.Second); err != nil {
			t.Fatalf("%s before any decision: %v", h, err)
		}
	}

	// A Riposte decision: the attacker's connections fail within seconds.
	start := time.Now()
	resp, b, err := n.do("POST", "/api/v1/decisions", n.token,
		strings.NewReader(`{"kind":"deny_ip","target":"`+attacker+`","ttl":"1h","reason":"e2e: bouncers enforce this"}`), nil)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("add decision: %v %d %s", err, resp.StatusCode, b)
	}
	var d struct{ ID string }
	json.Unmarshal(b, &d)
	waitFor(t, "the firewall bouncer to drop the attacker", 10*time.Second, func() bool {
		return l.dial("attacker", "", service, 300*time.Millisecond) != nil
	})
	t.Logf("decision to enforcement by the firewall bouncer: %v", time.Since(start).Round(10*time.Millisecond))
	if err := l.dial("benign", "", service, time.Second); err != nil {
		t.Fatalf("the benign host is blocked too: %v", err)
	}
	if out, err := exec.Command("ip", "netns", "exec", l.hosts["victim"].ns, "nft", "list", "table", "ip", "crowdsec").CombinedOutput(); err != nil || !strings.Contains(string(out), attacker) {
		t.Fatalf("the victim's nftables set does not hold %s: %v\n%s", attacker, err, out)
	}
	waitFor(t, "the custom bouncer's script to be called with add", 10*time.Second, func() bool {
		b, _ := os.ReadFile(record)
		return strings.Contains(string(b), "add "+attacker+" ")
	})

	// Riposte shows who pulled it: the API, the CLI, the console.
	bs := bouncers()
	for _, name := range []string{"victim-firewall", "custom-script"} {
		if len(bs[name].Holds) != 1 || bs[name].Holds[0] != d.ID {
			t.Errorf("%s holds %v, want [%s]", name, bs[name].Holds, d.ID)
		}
	}
	resp, b, _ = n.do("GET", "/api/v1/bouncers/victim-firewall/pulls", n.token, nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"action":"new","decision":"`+d.ID+`","value":"`+attacker+`"`) {
		t.Errorf("pull log: %d %s", resp.StatusCode, b)
	}
	out, errs, code := run("bouncer", "list", "--data", n.data)
	if code != 0 || !strings.Contains(out, "victim-firewall") || !strings.Contains(out, "1 decisions") || !strings.Contains(out, "crowdsec-firewall-bouncer") {
		t.Errorf("bouncer list: %d %s %s", code, out, errs)
	}

	// Reverted: the attacker connects again, and the script is called
	// with del.
	start = time.Now()
	resp, b, _ = n.do("POST", "/api/v1/decisions/"+d.ID+"/revert", n.token, strings.NewReader(`{"reason":"e2e: lift it"}`), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("revert: %d %s", resp.StatusCode, b)
	}
	waitFor(t, "the firewall bouncer to let the attacker back", 10*time.Second, func() bool {
		return l.dial("attacker", "", service, 300*time.Millisecond) == nil
	})
	t.Logf("revert to lifted by the firewall bouncer: %v", time.Since(start).Round(10*time.Millisecond))
	waitFor(t, "the custom bouncer's script to be called with del", 10*time.Second, func() bool {
		b, _ := os.ReadFile(record)
		return strings.Contains(string(b), "del "+attacker+" ")
	})
	if bs := bouncers(); len(bs["victim-firewall"].Holds) != 0 {
		t.Errorf("after the revert the firewall bouncer holds %v", bs["victim-firewall"].Holds)
	}

	// A deleted bouncer's key stops working: the bouncer says so.
	if out, errs, code := run("bouncer", "delete", "custom-script", "--data", n.data); code != 0 {
		t.Fatalf("bouncer delete: %s %s", out, errs)
	}
	resp, b, _ = n.do("GET", "/api/v1/audit?limit=1000", n.token, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("audit: %d %s", resp.StatusCode, b)
	}
	for _, want := range []string{`"action":"bouncer.add"`, `"action":"bouncer.delete"`, `custom-script`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the audit log lacks %s", want)
		}
	}
}
