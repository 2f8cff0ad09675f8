package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/receiver"
	"github.com/riposte-soar/riposte/notify/webhook"
)

const secretPlaybook = `id: playbook--7a1c3e5f-2b4d-4c6e-8f90-a1b2c3d4e5f6
name: Call an API with a stored credential
modified: 2026-12-01T00:00:00Z
description: One http call whose Authorization header comes from the secret store.
inputs:
  url: {type: string, description: the API}
start: call
steps:
  call:
    connector: http.request
    args: {method: POST, url: __url__:value/block, body: {ip: 203.0.113.7}}
    next: done
  done: end
`

const secretHookPlaybook = `id: playbook--8b2d4f60-3c5e-4d7f-9a01-b2c3d4e5f607
name: Signed report
modified: 2026-12-01T00:00:00Z
description: Started by a signed webhook.
trigger:
  webhook:
    name: signed-report
    secret_ref: secret://hooks/report
start: done
steps:
  done: end
`

// TestSecretNeverLeaks stores a credential, has a playbook send it to a
// real HTTP receiver through the http connector, rotates it through the
// API, and then looks for both values everywhere a person or a file could
// see them: the run's trace, the audit log, the secret listing, the
// server's log and the bytes of every file in the data directory. The
// receiver got each value; nothing else holds one. A webhook trigger's
// secret_ref: secret://NAME is enforced, and the server refuses to start
// with a missing reference or the wrong key.
func TestSecretNeverLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	const first, second = "Bearer first-7c1f0b9e2d", "Bearer second-4a8d6e3c1b"
	rcv := receiver.NewHTTP(t)
	// An API that echoes the credential it got in its answer must not put
	// it in the trace either.
	rcv.Header.Set("X-Echo", "you sent "+first)
	host := strings.TrimPrefix(rcv.URL, "http://")
	host = host[:strings.LastIndex(host, ":")]
	n := newNode(t, fmt.Sprintf(`respond:
  http:
    allow_private: true
connectors:
  http:
    hosts: [%s]
    headers:
      Authorization: secret://vendor/api
`, host))

	// serve refuses a reference to a secret that does not exist, naming
	// both; so does config check.
	if _, errs, code := run("config", "check", n.config); code == 0 || !strings.Contains(errs, "connectors.http.headers.Authorization") || !strings.Contains(errs, "secret://vendor/api") {
		t.Fatalf("config check with a missing secret: exit %d, %s", code, errs)
	}
	out, err := exec.Command(binary, "serve", "--config", n.config).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "secret://vendor/api does not exist") {
		t.Fatalf("serve with a missing secret: %v\n%s", err, out)
	}

	// Set on the data directory, the value on stdin.
	set := func(name, value string, args ...string) {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"secret", "set", name}, args...)...)
		cmd.Stdin = strings.NewReader(value + "\n")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("secret set %s: %v %s", name, err, b)
		}
	}
	set("vendor/api", first, "--data", n.data)
	set("hooks/report", "hook-key-5e2a9c", "--data", n.data)
	if _, errs, code := run("config", "check", n.config); code != 0 {
		t.Fatalf("config check once the secret exists: %s", errs)
	}
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	dir := t.TempDir()
	for name, body := range map[string]string{"call.yaml": secretPlaybook, "hook.yaml": secretHookPlaybook} {
		f := filepath.Join(dir, name)
		os.WriteFile(f, []byte(body), 0o644)
		if _, errs, code := run(append([]string{"playbook", "import", f}, srv...)...); code != 0 {
			t.Fatalf("import %s: %s", name, errs)
		}
	}
	in := filepath.Join(dir, "in.json")
	os.WriteFile(in, []byte(fmt.Sprintf(`{"url": %q}`, rcv.URL)), 0o644)
	var traces []string
	runOnce := func() {
		t.Helper()
		id, errs, code := run(append([]string{"playbook", "run", "playbook--7a1c3e5f-2b4d-4c6e-8f90-a1b2c3d4e5f6", "--input", in}, srv...)...)
		if code != 0 {
			t.Fatalf("playbook run: %s", errs)
		}
		var tr struct {
			Status string `json:"outcome"`
		}
		var o string
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			o, _, _ = run(append([]string{"run", "show", strings.TrimSpace(id), "--output", "json"}, srv...)...)
			if json.Unmarshal([]byte(o), &tr) == nil && (tr.Status == "succeeded" || tr.Status == "failed") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if tr.Status != "succeeded" {
			t.Fatalf("run %s: %s", tr.Status, o)
		}
		text, _, _ := run(append([]string{"run", "show", strings.TrimSpace(id)}, srv...)...)
		traces = append(traces, o, text)
	}
	runOnce()

	// Rotate through the API (the value on stdin again); the next call
	// sends the new value without a restart.
	set("vendor/api", second, srv...)
	rcv.Header.Set("X-Echo", "you sent "+second)
	runOnce()
	reqs := rcv.Requests()
	if len(reqs) != 2 || reqs[0].Header.Get("Authorization") != first || reqs[1].Header.Get("Authorization") != second {
		var got []string
		for _, r := range reqs {
			got = append(got, r.Header.Get("Authorization"))
		}
		t.Fatalf("receiver got Authorization %q, want %q then %q", got, first, second)
	}

	// The webhook trigger is signed with the stored secret: unsigned and
	// wrongly signed calls are refused, a signed one starts its run.
	ingest := createToken(t, n, "ingest")
	post := func(sig string) int {
		req, _ := http.NewRequest("POST", "http://"+n.http+"/api/v1/hooks/signed-report", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+ingest)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set("X-Riposte-Timestamp", ts)
		if sig == "good" {
			sig = webhook.Sign([]byte("hook-key-5e2a9c"), ts, []byte(`{}`))
		}
		req.Header.Set("X-Riposte-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post(""); c != 401 {
		t.Fatalf("unsigned call to a secret_ref webhook: %d, want 401", c)
	}
	if c := post("good"); c != 202 {
		t.Fatalf("signed call: %d, want 202", c)
	}
	// Deleted: the trigger fails closed instead of accepting unsigned calls.
	if _, errs, code := run(append([]string{"secret", "delete", "hooks/report"}, srv...)...); code != 0 {
		t.Fatalf("secret delete: %s", errs)
	}
	if c := post(""); c != 503 {
		t.Fatalf("unsigned call after its secret was deleted: %d, want 503", c)
	}

	// Everything a person sees: traces, audit log, secret listing.
	listed, _, _ := run(append([]string{"secret", "list", "--output", "json"}, srv...)...)
	if !strings.Contains(listed, `"vendor/api"`) {
		t.Fatalf("secret list: %s", listed)
	}
	auditOut, _, _ := run(append([]string{"audit", "list", "--output", "json"}, srv...)...)
	for _, action := range []string{"secret.create", "secret.rotate", "secret.delete"} {
		if !strings.Contains(auditOut, action) {
			t.Errorf("audit log lacks %s", action)
		}
	}
	_, apiList, _ := n.do("GET", "/api/v1/secrets", n.token, nil, nil)
	_, apiAudit, _ := n.do("GET", "/api/v1/audit?limit=1000", n.token, nil, nil)
	seen := map[string][]byte{"run traces": []byte(strings.Join(traces, "\n")), "secret list": []byte(listed),
		"audit list": []byte(auditOut), "GET /api/v1/secrets": apiList, "GET /api/v1/audit": apiAudit}
	n.stop(syscall.SIGTERM)
	seen["server log"] = n.log.Bytes()
	// Every file of the data directory, the engine's journal first among
	// them; riposte.db holds the values sealed.
	filepath.Walk(n.data, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			seen[p] = b
		}
		return nil
	})
	if _, ok := seen[filepath.Join(n.data, "engine.db")]; !ok {
		t.Fatal("no engine.db to search")
	}
	for where, b := range seen {
		for _, v := range []string{"first-7c1f0b9e2d", "second-4a8d6e3c1b", "hook-key-5e2a9c"} {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds the secret value %s", where, v)
			}
		}
	}

	// The wrong key: serve stops, naming the secret it cannot decrypt.
	cmd := exec.Command(binary, "serve", "--config", n.config)
	cmd.Env = append(os.Environ(), "RIPOSTE_SECRET_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "secret vendor/api cannot be decrypted") {
		t.Fatalf("serve with the wrong key: %v\n%s", err, out)
	}
}
