package e2e

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestOpenC2Endpoint commands the victim's agent through POST /openc2 over
// HTTPS as an outside producer would: containment becomes a decision
// enforced and verified by the agent, other commands reach the agent as
// they are, and invalid commands are refused with the reason. The agent
// enrolls over HTTPS and talks to the bus over TLS, trusting only the
// test CA.
func TestOpenC2Endpoint(t *testing.T) {
	l := newLab(t, "victim")
	pki := newPKI(t, l.server)
	n := newNodeTLS(t, l.server, pki, "")
	n.start()
	t.Setenv("SSL_CERT_FILE", pki.ca) // the CLI trusts the test CA
	srv := []string{"--server", n.url(), "--token", n.token}
	dir := t.TempDir()
	agent := enrollVictim(t, l, n, dir, "--ca", pki.ca, "--heartbeat", "1s")
	if !strings.Contains(agent.log.String(), "server=tls://") {
		t.Fatalf("the agent does not use TLS to the bus:\n%s", agent.log)
	}
	k := openKernel(t, l, "victim")
	post := func(body string) (int, map[string]any) {
		t.Helper()
		resp, b, err := n.do("POST", "/openc2", n.token, bytes.NewReader([]byte(body)), map[string]string{"Content-Type": "application/openc2+json"})
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}

	code, rsp := post(`{"action":"deny","target":{"ipv4_net":"192.0.2.66"},"args":{"duration":600000,"comment":"from the SIEM"},"actuator":{"slpf":{"hostname":"victim"}}}`)
	if code != 200 || rsp["status"] != 200.0 {
		t.Fatalf("deny: %d %v", code, rsp)
	}
	rule := rsp["results"].(map[string]any)["slpf"].(map[string]any)["rule_number"]
	if !k.denies(netip.MustParsePrefix("192.0.2.66/32")) {
		t.Fatal("deny through /openc2 is not in the victim's nftables")
	}
	out, _, _ := run(append([]string{"decision", "list", "--output", "json"}, srv...)...)
	if !strings.Contains(out, `"reason": "from the SIEM"`) || !strings.Contains(out, `"host": "victim"`) {
		t.Fatalf("the command did not become a decision: %s", out)
	}

	// In the HTTPS transfer envelope, answered in kind.
	code, rsp = post(`{"headers":{"request_id":"r-1","from":"siem"},"body":{"openc2":{"request":{"action":"delete","target":{"slpf:rule_number":` +
		jsonNum(rule) + `},"actuator":{"slpf":{"hostname":"victim"}}}}}}`)
	body, _ := rsp["body"].(map[string]any)
	if code != 200 || body == nil || rsp["headers"].(map[string]any)["request_id"] != "r-1" {
		t.Fatalf("wrapped delete: %d %v", code, rsp)
	}
	waitFor(t, "the rule to leave the kernel", 5*time.Second, func() bool { return !k.denies(netip.MustParsePrefix("192.0.2.66/32")) })

	// Not containment: forwarded to the agent, which answers.
	code, rsp = post(`{"action":"query","target":{"features":["versions","profiles"]},"actuator":{"er":{"hostname":"victim"}}}`)
	res, _ := rsp["results"].(map[string]any)
	if code != 200 || rsp["status"] != 200.0 || res == nil || !strings.Contains(jsonStr(res["profiles"]), "slpf") {
		t.Fatalf("query features: %d %v", code, rsp)
	}

	// Invalid commands are refused with the reason, and nothing is decided.
	for _, bad := range []string{
		`{"action":"deny","target":{"ipv4_net":"10.0.0.300"},"actuator":{"slpf":{"hostname":"victim"}}}`,
		`{"action":"explode","target":{"ipv4_net":"10.0.0.3"}}`,
		`{"action":"deny","target":{"ipv4_net":"10.0.0.3","ipv6_net":"::1"}}`,
		`not json`,
	} {
		code, rsp := post(bad)
		if code != 400 || rsp["status"] != 400.0 || rsp["status_text"] == "" {
			t.Errorf("%s: %d %v", bad, code, rsp)
		}
	}
	// Rules that are not decisions are not taken: the agent would drop
	// them, or they could take a rule number a decision needs.
	if code, rsp := post(`{"action":"allow","target":{"ipv4_net":"0.0.0.0/0"},"args":{"slpf":{"insert_rule":99}},"actuator":{"slpf":{"hostname":"victim"}}}`); code != 501 || rsp["status"] != 501.0 {
		t.Errorf("raw allow: %d %v", code, rsp)
	}
	if code, _ := post(`{"action":"query","target":{"features":[]},"actuator":{"er":{"hostname":"nohost"}}}`); code != 404 {
		t.Errorf("command for a host without agent: %d", code)
	}
	// Only responders may command agents.
	viewer := createToken(t, n, "viewer")
	resp, _, _ := n.do("POST", "/openc2", viewer, bytes.NewReader([]byte(`{"action":"query","target":{"features":[]}}`)), nil)
	if resp.StatusCode != 403 {
		t.Errorf("viewer: %d", resp.StatusCode)
	}
	// The agent's host is an asset carrying the agent.
	out, _, _ = run(append([]string{"asset", "list", "--discovered", "--output", "json"}, srv...)...)
	if !strings.Contains(out, `"agent"`) || !strings.Contains(out, "victim") {
		t.Errorf("the agent's host is not an asset: %s", out)
	}
}

func jsonNum(v any) string { b, _ := json.Marshal(v); return string(b) }

func jsonStr(v any) string { b, _ := json.Marshal(v); return string(b) }
