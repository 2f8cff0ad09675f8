package respond

import (
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/all"
	"github.com/riposte-soar/riposte/playbook"
)

// A CACAO command type no connector runs is a validation error, not a run
// that fails every time with "no connector operation ssh.ssh".
func TestCheckRefusesCommandTypesNoConnectorRuns(t *testing.T) {
	reg := connector.NewRegistry()
	if err := all.Register(reg, all.Deps{}); err != nil {
		t.Fatal(err)
	}
	doc := func(cmd string) []byte {
		return []byte(`{"type":"playbook","spec_version":"cacao-2.0","id":"playbook--77777777-7777-4777-8777-777777777777",
"name":"t","description":"d","created_by":"identity--5abe695c-7bd5-4c31-8824-2528696cdbf1",
"created":"2025-01-01T00:00:00.000Z","modified":"2025-01-01T00:00:00.000Z",
"workflow_start":"start--11111111-1111-4111-8111-111111111111","workflow":{
"start--11111111-1111-4111-8111-111111111111":{"type":"start","on_completion":"action--33333333-3333-4333-8333-333333333331"},
"action--33333333-3333-4333-8333-333333333331":{"type":"action","agent":"individual--55555555-5555-4555-8555-555555555555",
 "commands":[` + cmd + `],"on_completion":"end--44444444-4444-4444-8444-444444444444"},
"end--44444444-4444-4444-8444-444444444444":{"type":"end"}},
"agent_definitions":{"individual--55555555-5555-4555-8555-555555555555":{"type":"individual","name":"x"}}}`)
	}
	for _, c := range []struct{ cmd, want string }{
		// ssh binds to the ssh connector, left out without its config.
		{`{"type":"ssh","command":"ls"}`, `no connector for command type "ssh": ssh commands run on the ssh connector, which is not configured (connectors.ssh in riposte.yaml)`},
		// http-api and openc2-http bind to the http connector.
		{`{"type":"http-api","command":"GET / HTTP/1.1"}`, ``},
		{`{"type":"openc2-http","command":"POST /openc2 HTTP/1.1","content_b64":"e30="}`, ``},
		{`{"type":"powershell","command":"pwd"}`, `no connector for command type "powershell": powershell commands need a Windows remote (WinRM) connector`},
		{`{"type":"ftp","command":"get x"}`, `no connector for command type "ftp"`},
		{`{"type":"manual","command":"look"}`, ``},
		{`{"type":"riposte-connector","connector":"wait","operation":"sleep","args":{"duration":"1s"}}`, ``},
	} {
		_, errs := Check(doc(c.cmd), false, nil, reg)
		got := ""
		for _, e := range playbook.Errors(errs) {
			got += e.Error() + "\n"
		}
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: want %q, got %q", c.cmd, c.want, got)
		}
	}
}
