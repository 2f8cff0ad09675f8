package engine

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/connector"
	httpc "github.com/riposte-soar/riposte/connector/http"
	sshc "github.com/riposte-soar/riposte/connector/ssh"
	"github.com/riposte-soar/riposte/playbook"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// cacaoBindPB is a CACAO playbook as another executor writes it: an ssh
// command and an http-api command, no connector named, variables from the
// event.
const cacaoBindPB = `{"type":"playbook","spec_version":"cacao-2.0","id":"playbook--61616161-6161-4161-8161-616161616161",
"name":"contain","description":"d","created_by":"identity--5abe695c-7bd5-4c31-8824-2528696cdbf1",
"created":"2025-01-01T00:00:00.000Z","modified":"2025-01-01T00:00:00.000Z",
"playbook_variables":{"__path__":{"type":"string","external":true},"__ip__":{"type":"string","external":true}},
"workflow_start":"start--11111111-1111-4111-8111-111111111111","workflow":{
"start--11111111-1111-4111-8111-111111111111":{"type":"start","on_completion":"action--33333333-3333-4333-8333-333333333331"},
"action--33333333-3333-4333-8333-333333333331":{"type":"action","name":"mark host","agent":"individual--55555555-5555-4555-8555-555555555555",
 "targets":["ssh--66666666-6666-4666-8666-666666666666"],
 "commands":[{"type":"ssh","command":"touch __path__:value"}],"on_completion":"action--33333333-3333-4333-8333-333333333332"},
"action--33333333-3333-4333-8333-333333333332":{"type":"action","name":"block","agent":"individual--55555555-5555-4555-8555-555555555555",
 "targets":["http-api--77777777-7777-4777-8777-777777777777"],
 "commands":[{"type":"http-api","command":"POST /block/__ip__:value HTTP/1.1","headers":{"Content-Type":["application/json"]},"content":"{\"ip\":\"__ip__:value\"}"}],
 "on_completion":"end--44444444-4444-4444-8444-444444444444"},
"end--44444444-4444-4444-8444-444444444444":{"type":"end"}},
"agent_definitions":{"individual--55555555-5555-4555-8555-555555555555":{"type":"individual","name":"x"}},
"target_definitions":{
 "ssh--66666666-6666-4666-8666-666666666666":{"type":"ssh","name":"web","address":{"ipv4":["192.0.2.20"]}},
 "http-api--77777777-7777-4777-8777-777777777777":{"type":"http-api","name":"fw","address":{"ipv4":["FWADDR"]}}}}`

// bindRegistry has the real http connector and an ssh connector whose
// allowlist has one command, touch of a file under /tmp.
func bindRegistry(t *testing.T) *connector.Registry {
	t.Helper()
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	block, err := xssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	_, hostKey, _ := ed25519.GenerateKey(rand.Reader)
	hk, _ := xssh.NewSignerFromKey(hostKey)
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(knownhosts.Line([]string{"192.0.2.20"}, hk.PublicKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sshc.New(sshc.Config{KnownHosts: kh, User: "riposte", KeyFile: keyFile, Commands: map[string]sshc.Command{
		"touch": {Argv: []string{"touch", "{path}"}, Params: map[string]sshc.Param{"path": {Pattern: `/tmp/[a-z0-9._-]+`}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpc.New(httpc.Config{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := connector.NewRegistry()
	for _, c := range []connector.Connector{s, h} {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// A CACAO playbook of ssh and http-api commands dry-runs on the ssh and
// http connectors: the ssh command becomes an allowlisted argv, the
// http-api command a request to the target; hostile values are refused by
// the allowlist's pattern or escaped, and the http connector's address
// policy still refuses the metadata address.
func TestDryRunBindsCACAOCommandTypes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fw      string
		input   map[string]any
		outcome string
		sent    []string // in the trace's sent lines
		err     string   // in the trace's error or a step's message
	}{
		{name: "allowed", fw: "192.0.2.30", input: map[string]any{"__path__": "/tmp/marker", "__ip__": "198.51.100.9"}, outcome: "succeeded",
			sent: []string{`'touch' '/tmp/marker'`, `POST http://192.0.2.30/block/198.51.100.9`}},
		{name: "a hostile path is not in the allowlist", fw: "192.0.2.30", input: map[string]any{"__path__": "/tmp/x; reboot", "__ip__": "198.51.100.9"}, outcome: "failed",
			err: "matches no allowlisted command"},
		{name: "a hostile ip is escaped into one path segment", fw: "192.0.2.30", input: map[string]any{"__path__": "/tmp/m", "__ip__": "../admin?all=1"}, outcome: "succeeded",
			sent: []string{`POST http://192.0.2.30/block/..%2Fadmin%3Fall=1`}},
		{name: "the metadata address stays refused", fw: "169.254.169.254", input: map[string]any{"__path__": "/tmp/m", "__ip__": "198.51.100.9"}, outcome: "failed",
			err: "169.254.169.254"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(cacaoBindPB, "FWADDR", tc.fw, 1)
			pb, errs := playbook.ParseCACAO([]byte(doc), playbook.Lenient(nil))
			if pb == nil || playbook.HasErrors(errs) {
				t.Fatalf("parse: %v", playbook.Errors(errs))
			}
			reg := bindRegistry(t)
			e := openT(t, dbPath(t), reg, testOpts())
			defer e.Close()
			tr, err := e.DryRun(context.Background(), pb, tc.input)
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			all = append(all, tr.Error)
			for _, s := range tr.Steps {
				all = append(all, s.Sent...)
				all = append(all, s.Message, s.Reason)
				all = append(all, s.Results...)
			}
			text := strings.Join(all, "\n")
			if tr.Outcome != tc.outcome {
				t.Fatalf("outcome %s, want %s:\n%s", tr.Outcome, tc.outcome, text)
			}
			for _, w := range tc.sent {
				if !strings.Contains(text, w) {
					t.Errorf("want %q sent, got:\n%s", w, text)
				}
			}
			if tc.err != "" && !strings.Contains(text, tc.err) {
				t.Errorf("want %q in the failure, got:\n%s", tc.err, text)
			}
		})
	}
}
