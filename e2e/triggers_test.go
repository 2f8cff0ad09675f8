package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const hookPlaybook = `id: playbook--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
name: Reported by webhook
modified: 2026-11-26T00:00:00Z
description: Started by a signed webhook; keeps what it was sent.
trigger:
  webhook: {name: report, secret_ref: "env:E2E_REPORT_SECRET"}
inputs:
  sender: {type: string, description: who reported}
start: keep
steps:
  keep:
    connector: set.vars
    args: {values: {seen: __sender__:value}}
    next: done
  done: end
`

const schedulePlaybook = `id: playbook--8b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e
name: Every two seconds
modified: 2026-11-26T00:00:00Z
description: A scheduled playbook.
trigger:
  schedule: {every: 2s}
start: tick
steps:
  tick:
    connector: set.vars
    args: {values: {ticked: "yes"}}
    next: done
  done: end
`

// TestWebhookAndScheduleTriggers starts playbooks from a signed inbound
// webhook (a bad signature is refused) and from a schedule.
func TestWebhookAndScheduleTriggers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	secret := "report-secret"
	t.Setenv("E2E_REPORT_SECRET", secret)
	n := newNode(t, "")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	dir := t.TempDir()
	for name, body := range map[string]string{"hook.yaml": hookPlaybook, "every.yaml": schedulePlaybook} {
		f := filepath.Join(dir, name)
		os.WriteFile(f, []byte(body), 0o644)
		if _, errs, code := run(append([]string{"playbook", "import", f}, srv...)...); code != 0 {
			t.Fatalf("import %s: %s", name, errs)
		}
	}
	ingest := createToken(t, n, "ingest")
	post := func(body, sig string, ts int64) *http.Response {
		req, _ := http.NewRequest("POST", "http://"+n.http+"/api/v1/hooks/report", bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+ingest)
		req.Header.Set("X-Riposte-Timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("X-Riposte-Signature", sig)
		req.Header.Set("Idempotency-Key", "report-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	body := `{"sender":"bob@example.org"}`
	now := time.Now().Unix()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(fmt.Sprintf("%d.%s", now, body)))
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if resp := post(body, "sha256=00", now); resp.StatusCode != 401 {
		t.Fatalf("bad signature: %d, want 401", resp.StatusCode)
	}
	if resp := post(body, sig, now-3600); resp.StatusCode != 401 {
		t.Fatalf("stale timestamp: %d, want 401", resp.StatusCode)
	}
	if resp := post(body, sig, now); resp.StatusCode != 202 {
		t.Fatalf("signed webhook: %d, want 202", resp.StatusCode)
	}
	if resp := post(body, sig, now); resp.StatusCode != 202 {
		t.Fatalf("repeated delivery: %d", resp.StatusCode)
	}
	runsOf := func(pb string) []map[string]any {
		out, _, _ := run(append([]string{"run", "list", "--output", "json"}, srv...)...)
		var all, mine []map[string]any
		json.Unmarshal([]byte(out), &all)
		for _, r := range all {
			if r["playbook_id"] == pb {
				mine = append(mine, r)
			}
		}
		return mine
	}
	waitFor(t, "the webhook run to succeed", 20*time.Second, func() bool {
		rs := runsOf("playbook--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
		return len(rs) == 1 && rs[0]["status"] == "succeeded"
	})
	out, _, _ := run(append([]string{"run", "show", runsOf("playbook--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")[0]["id"].(string)}, srv...)...)
	if !strings.Contains(out, "bob@example.org") {
		t.Fatalf("the webhook body did not reach the run:\n%s", out)
	}
	waitFor(t, "two scheduled runs", 20*time.Second, func() bool {
		return len(runsOf("playbook--8b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e")) >= 2
	})
}
