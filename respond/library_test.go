package respond

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/all"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/notify"
	"github.com/riposte-soar/riposte/playbook"
)

// noServices stands in for the incident and notify services: a dry run
// only simulates, so they are never asked to act.
type noServices struct{}

func (noServices) Update(context.Context, string, alarm.Change, string) (*alarm.Incident, error) {
	return nil, errors.New("dry run: nothing acts")
}
func (noServices) Notify(notify.Message) {}

// agentSpec declares the host agent's operations as the starter playbooks
// use them. The agent connector itself is the response issue's work; this
// declaration lets the playbooks be dry-run end to end meanwhile: its
// Simulate says what would be sent, its Execute refuses.
type agentSpec struct{}

func (agentSpec) Spec() connector.Spec {
	s := func(t string, req bool) connector.ArgSpec { return connector.ArgSpec{Type: t, Required: req} }
	return connector.Spec{Name: "agent", Operations: map[string]connector.Operation{
		"deny_ip":          {Args: map[string]connector.ArgSpec{"host": s("string", true), "ip": s("string", true), "direction": s("string", false), "duration": s("string", false)}, Idempotent: true},
		"contain_host":     {Args: map[string]connector.ArgSpec{"host": s("string", true), "allow": s("strings", false)}, Idempotent: true},
		"kill_process":     {Args: map[string]connector.ArgSpec{"host": s("string", true), "pid": s("int", false), "name": s("string", false), "path": s("string", false)}},
		"quarantine_file":  {Args: map[string]connector.ArgSpec{"host": s("string", true), "path": s("string", true), "sha256": s("string", false)}},
		"collect_evidence": {Args: map[string]connector.ArgSpec{"host": s("string", true), "kind": s("string", true), "path": s("string", false), "max_bytes": s("int", false)}},
		"run_remediation":  {Args: map[string]connector.ArgSpec{"host": s("string", true), "action": s("string", true), "args": s("map", false)}},
	}}
}

func (a agentSpec) Simulate(_ context.Context, c connector.Call) (connector.Result, error) {
	op, ok := a.Spec().Operations[c.Operation]
	if !ok {
		return connector.Result{}, connector.Errorf(connector.Permanent, "no operation %s", c.Operation)
	}
	if err := connector.CheckArgs(op, c.Args); err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	keys := make([]string, 0, len(c.Args))
	for k := range c.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, c.Args[k])
	}
	cmd := "agent " + c.Operation + b.String()
	return connector.Result{Summary: "would send " + cmd, Commands: []string{cmd}}, nil
}

func (agentSpec) Execute(context.Context, connector.Call) (connector.Result, error) {
	return connector.Result{}, connector.Errorf(connector.Permanent, "the agent connector is not part of this build")
}

func registry(t *testing.T) *connector.Registry {
	t.Helper()
	reg := connector.NewRegistry()
	if err := all.Register(reg, all.Deps{Incidents: noServices{}, Notifier: noServices{}}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(agentSpec{}); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestStarterLibraryDryRuns runs every shipped playbook end to end with
// every connector simulated, and checks what each would have sent.
func TestStarterLibraryDryRuns(t *testing.T) {
	inputs := map[string]map[string]any{
		"ssh-brute-force.yaml": {"__incident__": map[string]any{"id": "01INC", "criticality": 5}, "__src_ip__": "203.0.113.7", "__host__": "web-1"},
		"malware-on-host.yaml": {"__incident__": map[string]any{"id": "01INC"}, "__host__": "ws-9", "__file_path__": "C:\\\\Users\\\\x\\\\evil.exe",
			"__file_sha256__": strings.Repeat("a", 64)},
		"phishing-reported.yaml": {"__message_id__": "<m1@example.org>", "__sender_domain__": "evil.example.net", "__urls__": map[string]any{"list": []any{"https://evil.example.net/x"}}, "__reporter__": "bob@example.org",
			"__incident__": map[string]any{"id": "01INC"}},
		"suspicious-process.yaml": {"__incident__": map[string]any{"id": "01INC"}, "__host__": "ws-3", "__pid__": 4242, "__process_name__": "mimikatz.exe", "__level__": "critical"},
		"outbound-indicator.yaml": {"__alert__": map[string]any{"id": "01AL"}, "__incident__": map[string]any{"id": "01INC"}, "__host__": "ws-5", "__dst_ip__": "198.51.100.66"},
	}
	want := map[string][]string{
		"ssh-brute-force.yaml":    {"agent deny_ip", "ip=203.0.113.7", "agent contain_host"},
		"malware-on-host.yaml":    {"agent contain_host", "agent quarantine_file"},
		"phishing-reported.yaml":  {"POST https://mail-gw.example.internal/api/v1/blocklist"},
		"suspicious-process.yaml": {"agent collect_evidence"},
		"outbound-indicator.yaml": {"agent deny_ip", "ip=198.51.100.66"},
	}
	reg := registry(t)
	eng, err := engine.Open(filepath.Join(t.TempDir(), "engine.db"), reg, engine.Options{Sync: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	files, _ := fs.Glob(playbook.Library, "*.yaml")
	if len(files) != 5 {
		files, _ = fs.Glob(playbook.Library, "library/*.yaml")
	}
	if len(files) != 5 {
		t.Fatalf("%d starter playbooks, want 5", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, _ := fs.ReadFile(playbook.Library, f)
			p, errs := Check(data, false, nil, reg)
			if p == nil || playbook.HasErrors(errs) {
				t.Fatalf("does not check clean against the connectors: %v", errs)
			}
			tr, err := eng.DryRun(context.Background(), p, inputs[name])
			if err != nil {
				t.Fatal(err)
			}
			if tr.Outcome != "succeeded" {
				t.Fatalf("dry run %s: %s", tr.Outcome, tr.Error)
			}
			var sent []string
			var walk func(tr *engine.Trace)
			walk = func(tr *engine.Trace) {
				for _, s := range tr.Steps {
					sent = append(sent, s.Sent...)
					if s.Child != nil {
						walk(s.Child)
					}
				}
			}
			walk(&tr)
			all := strings.Join(sent, "\n")
			for _, w := range want[name] {
				if !strings.Contains(all, w) {
					t.Errorf("the trace does not send %q:\n%s", w, all)
				}
			}
		})
	}
}
