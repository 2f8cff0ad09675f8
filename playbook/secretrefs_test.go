package playbook

import (
	"os"
	"testing"
)

const secretRefsYAML = `id: playbook--8b2d4f60-3c5e-4d7f-9a01-b2c3d4e5f607
name: Signed report
modified: 2026-12-01T00:00:00Z
description: refs in the trigger and nested in arguments
trigger:
  webhook:
    name: signed-report
    secret_ref: secret://hooks/report
start: call
steps:
  call:
    connector: http.request
    args:
      method: POST
      url: https://api.example.org/x
      headers: {X-Key: "secret://vendor/key", X-Other: plain}
      body: {list: [one, "secret://vendor/nested"]}
    next: done
  done: end
`

func TestSecretRefs(t *testing.T) {
	cacao, err := os.ReadFile("testdata/golden/export/library-phishing-reported.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		doc  []byte
		want map[string]string // path → ref
	}{
		{"yaml trigger and nested args", []byte(secretRefsYAML), map[string]string{
			"$.trigger.webhook.secret_ref":       "secret://hooks/report",
			`$.steps.call.args.headers["X-Key"]`: "secret://vendor/key",
			"$.steps.call.args.body.list[1]":     "secret://vendor/nested",
		}},
		{"cacao trigger", cacao, map[string]string{
			`$.playbook_extensions["` + RiposteExtensionID + `"].trigger.webhook.secret_ref`: "secret://webhooks/phishing-report",
		}},
		{"no references", []byte(`id: playbook--8b2d4f60-3c5e-4d7f-9a01-b2c3d4e5f607
name: none
modified: 2026-12-01T00:00:00Z
trigger: {webhook: {name: x, secret_ref: "env:HOOK"}}
start: done
steps:
  done: end
`), map[string]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p *Playbook
			var errs []Error
			if c.doc[0] == '{' {
				p, errs = ParseCACAO(c.doc, Lenient(nil))
			} else {
				p, errs = ParseYAML(c.doc)
			}
			if HasErrors(errs) {
				t.Fatalf("parse: %v", errs)
			}
			got := map[string]string{}
			for _, r := range SecretRefs(p) {
				got[r.Path] = r.Ref
				if p.Source != nil && r.Line == 0 {
					t.Errorf("%s: no line", r.Path)
				}
			}
			if len(got) != len(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
			for path, ref := range c.want {
				if got[path] != ref {
					t.Errorf("%s: got %q, want %q (all: %v)", path, got[path], ref, got)
				}
			}
		})
	}
}
