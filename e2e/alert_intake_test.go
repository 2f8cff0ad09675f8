package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestExternalAlertsJoinOneIncident posts a Suricata alert and a Wazuh
// alert about the same attacking address to the real binary: they become
// one incident rated from both, and the same batch sent again (a shipper
// retrying) adds nothing.
func TestExternalAlertsJoinOneIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	n.start()
	tok, _, code := run("token", "create", "--data", n.data, "--role", "ingest", "--name", "sensors")
	if code != 0 {
		t.Fatalf("token create: %d", code)
	}
	ingest := strings.TrimSpace(tok)
	at := time.Now().UTC().Add(-time.Minute)
	suricata := `{"timestamp":"` + at.Format("2006-01-02T15:04:05.000000-0700") + `","flow_id":1805461738637437,"event_type":"alert","src_ip":"203.0.113.7","src_port":51422,"dest_ip":"10.0.0.5","dest_port":22,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2210054,"rev":1,"signature":"ET EXPLOIT SSH exploit attempt","category":"Attempted Administrator Privilege Gain","severity":1,"metadata":{"mitre_tactic_name":["Initial_Access"],"mitre_technique_id":["T1190"]}},"host":"sensor-1"}`
	wazuh := `{"timestamp":"` + at.Add(time.Second).Format("2006-01-02T15:04:05.000-0700") + `","rule":{"level":10,"description":"sshd: brute force trying to get access to the system. Non existent user.","id":"5712","mitre":{"id":["T1110"],"tactic":["Credential Access"]},"groups":["sshd","authentication_failures"]},"agent":{"id":"001","name":"web-1","ip":"10.0.0.5"},"manager":{"name":"wazuh-manager"},"id":"1795682111.1184236","decoder":{"name":"sshd"},"data":{"srcip":"203.0.113.7","dstuser":"oracle"},"location":"/var/log/auth.log"}`
	flow := `{"timestamp":"` + at.Format("2006-01-02T15:04:05.000000-0700") + `","flow_id":1805461738637437,"event_type":"flow","src_ip":"203.0.113.7","dest_ip":"10.0.0.5","proto":"TCP"}`
	batch := suricata + "\n" + wazuh + "\n" + flow + "\n"

	post := func(body, query string) map[string]any {
		t.Helper()
		resp, b, err := n.do("POST", "/api/v1/alerts"+query, ingest, strings.NewReader(body), nil)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("POST /api/v1/alerts: %v %d %s", err, resp.StatusCode, b)
		}
		var res map[string]any
		json.Unmarshal(b, &res)
		return res
	}
	res := post(batch, "")
	if res["accepted"] != 2.0 || res["rejected"] != 1.0 || !strings.Contains(string(mustJSON(res["errors"])), `"line":3`) ||
		!strings.Contains(string(mustJSON(res["errors"])), "POST /api/v1/events") {
		t.Fatalf("answer %v: want 2 accepted and line 3 (a flow record) refused with a pointer to the events API", res)
	}

	var inc incident
	waitFor(t, "one incident holding both alerts", 20*time.Second, func() bool {
		incs := n.incidents(t)
		if len(incs) == 1 && incs[0].AlertCount == 2 {
			inc = incs[0]
			return true
		}
		return false
	})
	// Suricata's severity 1 is high, initial access urges the most: P2
	// on an asset of default criticality.
	if inc.Priority != "P2" || !slices.Contains(inc.Rules, "suricata:2210054") || !slices.Contains(inc.Rules, "wazuh:5712") {
		t.Fatalf("incident %+v: want P2 holding suricata:2210054 and wazuh:5712", inc)
	}

	// The same batch again, then a new alert: once the new one is in the
	// incident, the resend was read before it and must have added nothing.
	post(batch, "")
	post(`{"id":"edr-1","title":"Reverse shell from sshd","level":"high","source_ip":"203.0.113.7","host":"web-1"}`, "?format=generic")
	waitFor(t, "the third alert", 20*time.Second, func() bool {
		incs := n.incidents(t)
		return len(incs) == 1 && incs[0].AlertCount == 3
	})
	d := n.incident(t, inc.ID)
	if !d.Incident.names("203.0.113.7") || !d.Incident.names("web-1") {
		t.Fatalf("incident entities %+v lack the attacker or the host", d.Incident.Entities)
	}
	var detail struct {
		Alerts []struct {
			RuleID string `json:"rule_id"`
			Count  int    `json:"count"`
		} `json:"alerts"`
	}
	_, b, _ := n.do("GET", "/api/v1/incidents/"+inc.ID, n.token, nil, nil)
	json.Unmarshal(b, &detail)
	for _, a := range detail.Alerts {
		if a.Count != 1 {
			t.Errorf("alert %s counted %d times: the resend was applied again", a.RuleID, a.Count)
		}
	}
	if len(detail.Alerts) != 3 {
		t.Fatalf("%d alerts in the incident, want 3: %s", len(detail.Alerts), b)
	}

	// A format that does not exist is refused before the body is read.
	resp, _, _ := n.do("POST", "/api/v1/alerts?format=nope", ingest, strings.NewReader(wazuh), nil)
	if resp.StatusCode != 400 {
		t.Errorf("unknown format answered %d, want 400", resp.StatusCode)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
