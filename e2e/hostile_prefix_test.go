package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const blockAttackerPlaybook = `id: playbook--8c1f2e3d-4b5a-4c6d-9e7f-0a1b2c3d4e5f
name: Block the attacker
modified: 2026-11-26T00:00:00Z
description: Blocks an incident's source address for a day, as a playbook bound to an alert field would.
trigger:
  incident:
    entity_types: [ip]
  bind:
    src_ip: alert.entities.source_ips[0]
inputs:
  incident: {type: dictionary, description: The incident}
  src_ip: {type: string, description: The attacking address}
start: block
steps:
  block:
    connector: agent.block_ip
    args:
      address: __src_ip__:value
      ttl: 24h
      reason: source of the incident
    next: done
  done: end
`

const blockGivenPlaybook = `id: playbook--9d2e3f4a-5b6c-4d7e-8f9a-1b2c3d4e5f6a
name: Block the given address
modified: 2026-11-26T00:00:00Z
description: Blocks whatever it is given.
inputs:
  address: {type: string, description: The address to block}
start: block
steps:
  block:
    connector: agent.block_ip
    args:
      address: __address__:value
      ttl: 24h
      reason: told to
    next: done
  done: end
`

// TestHostilePrefix: an address field of "0.0.0.0/0" must not block the
// Internet (issue 10, finding 7). Through ingest it becomes no entity, so
// a playbook bound to the incident's source address does not run (while
// a real address in the same kind of event is blocked); a playbook given
// it fails its step with the reason and records nothing; the API and
// /openc2 refuse wide networks and special addresses; an admin may force
// one, audited; a responder may not.
func TestHostilePrefix(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	dir := t.TempDir()
	for i, body := range []string{blockAttackerPlaybook, blockGivenPlaybook} {
		f := filepath.Join(dir, "pb"+string(rune('a'+i))+".yaml")
		os.WriteFile(f, []byte(body), 0o644)
		if out, errs, code := run(append([]string{"playbook", "import", f, "--reason", "e2e"}, srv...)...); code != 0 {
			t.Fatalf("import: %s %s", out, errs)
		}
	}
	post := func(path, token, body string, hdr map[string]string) (int, string) {
		t.Helper()
		resp, b, err := n.do("POST", path, token, bytes.NewReader([]byte(body)), hdr)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	winEvent := func(computer, user, ip string) string {
		b, _ := json.Marshal(map[string]any{"Event": map[string]any{
			"System":    map[string]any{"EventID": 4720, "Channel": "Security", "Computer": computer},
			"EventData": map[string]any{"TargetUserName": user, "SubjectUserName": user + "-admin", "IpAddress": ip}}})
		return string(b)
	}

	// Through ingest: the hostile events first, then a real address.
	for _, ev := range []string{winEvent("dc-hostile", "mallory", "0.0.0.0/0"), winEvent("dc-hostile6", "eve", "::/0"),
		winEvent("dc-control", "trent", "203.0.113.80")} {
		if code, b := post("/api/v1/events", n.token, ev, nil); code != 200 && code != 202 {
			t.Fatalf("ingest: %d %s", code, b)
		}
	}
	type decisionOut struct {
		Target string `json:"target"`
		Forced bool   `json:"forced"`
	}
	decisions := func() []decisionOut {
		out, _, _ := run(append([]string{"decision", "list", "--all", "--output", "json"}, srv...)...)
		var ds []decisionOut
		json.Unmarshal([]byte(out), &ds)
		return ds
	}
	waitFor(t, "the real address to be blocked", 30*time.Second, func() bool {
		for _, d := range decisions() {
			if d.Target == "203.0.113.80/32" {
				return true
			}
		}
		return false
	})
	time.Sleep(time.Second) // the hostile incidents' runs, if any, have had their chance
	if ds := decisions(); len(ds) != 1 {
		t.Errorf("decisions from ingest: %+v; want 203.0.113.80/32 only", ds)
	}
	resp, body, err := n.do("GET", "/api/v1/incidents?status=new", n.token, nil, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("incidents: %v %s", err, body)
	}
	var incs struct {
		Incidents []struct {
			ID       string `json:"id"`
			Entities []struct{ Kind, Value string }
		}
	}
	json.Unmarshal(body, &incs)
	hostileSeen := 0
	for _, in := range incs.Incidents {
		hostile := false
		for _, e := range in.Entities {
			hostile = hostile || e.Kind == "host" && strings.HasPrefix(e.Value, "dc-hostile")
		}
		if !hostile {
			continue
		}
		hostileSeen++
		for _, e := range in.Entities {
			if e.Kind == "ip" {
				t.Errorf("incident %s has address entity %q from an IpAddress field of a network", in.ID, e.Value)
			}
		}
	}
	if hostileSeen == 0 {
		t.Fatalf("no incident from the hostile events: %s", body)
	}

	// A playbook handed the networks: the step fails with the reason.
	for _, target := range []string{"0.0.0.0/0", "::/0"} {
		in := filepath.Join(dir, "input.json")
		os.WriteFile(in, []byte(`{"address":"`+target+`"}`), 0o644)
		out, errs, code := run(append([]string{"playbook", "run", "playbook--9d2e3f4a-5b6c-4d7e-8f9a-1b2c3d4e5f6a", "--input", in}, srv...)...)
		if code != 0 {
			t.Fatalf("playbook run: %s %s", out, errs)
		}
		runID := strings.TrimSpace(out)
		waitFor(t, "the run to end", 20*time.Second, func() bool { return runOutcome(t, srv, runID) == "failed" })
		tr, _, _ := run(append([]string{"run", "show", runID}, srv...)...)
		if !strings.Contains(tr, "refusing to deny "+target) || !strings.Contains(tr, "wider than the IPv") {
			t.Errorf("the run's failure does not say why:\n%s", tr)
		}
	}

	// The API: 422 naming the limit, for every path a person can take.
	for _, target := range []string{"0.0.0.0/0", "::/0", "10.0.0.0/8", "2001:db8::/32", "127.0.0.1", "::1", "169.254.169.254", "fe80::1", "224.0.0.251", "0.0.0.0"} {
		code, b := post("/api/v1/decisions", n.token, `{"kind":"deny_ip","target":"`+target+`","reason":"log said so"}`, nil)
		if code != 422 || !strings.Contains(b, "refusing to deny") {
			t.Errorf("POST /api/v1/decisions %s: %d %s", target, code, b)
		}
	}
	if _, errs, code := run(append([]string{"decision", "add", "--target", "0.0.0.0/0", "--reason", "x"}, srv...)...); code != 1 || !strings.Contains(errs, "wider than the IPv4 limit of /24") {
		t.Errorf("decision add 0.0.0.0/0: exit %d %s", code, errs)
	}
	// /openc2, as an outside producer would send it.
	for _, cmd := range []string{
		`{"action":"deny","target":{"ipv4_net":"0.0.0.0/0"},"args":{"duration":86400000},"actuator":{"slpf":{}}}`,
		`{"action":"deny","target":{"ipv6_net":"::/0"},"actuator":{"slpf":{}}}`,
		`{"action":"deny","target":{"ipv4_net":"127.0.0.1"},"actuator":{"slpf":{}}}`,
	} {
		code, b := post("/openc2", n.token, cmd, map[string]string{"Content-Type": "application/openc2+json"})
		if code != 400 || !strings.Contains(b, "refusing to deny") {
			t.Errorf("/openc2 %s: %d %s", cmd, code, b)
		}
	}

	// Forcing is an admin's call, with a reason, and audited.
	responder, errs, code := run("token", "create", "--data", n.data, "--role", "responder", "--name", "r")
	if code != 0 {
		t.Fatal(errs)
	}
	force := `{"kind":"deny_ip","target":"198.51.100.0/22","reason":"botnet range, ticket 42","force":true}`
	if code, b := post("/api/v1/decisions", strings.TrimSpace(responder), force, nil); code != 403 {
		t.Errorf("a responder forced a decision: %d %s", code, b)
	}
	if code, b := post("/api/v1/decisions", n.token, force, nil); code != 201 {
		t.Fatalf("an admin's forced decision: %d %s", code, b)
	}
	resp, body, err = n.do("GET", "/api/v1/audit?limit=1000", n.token, nil, nil)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `\"forced\":true`) && !strings.Contains(string(body), `"forced":true`) {
		t.Errorf("the forced decision is not audited as forced: %v %s", err, body)
	}

	ds := decisions()
	if len(ds) != 2 {
		t.Fatalf("decisions recorded: %+v; want the real address and the forced network only", ds)
	}
	for _, d := range ds {
		if d.Target != "203.0.113.80/32" && !(d.Target == "198.51.100.0/22" && d.Forced) {
			t.Errorf("recorded %+v", d)
		}
	}
}
