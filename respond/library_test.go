package respond

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/all"
	"github.com/riposte-soar/riposte/connector/dnssink"
	"github.com/riposte-soar/riposte/connector/ldap"
	"github.com/riposte-soar/riposte/connector/thehive"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/notify"
	"github.com/riposte-soar/riposte/openc2"
	"github.com/riposte-soar/riposte/playbook"
)

// noServices stands in for the incident and notify services: a dry run
// only simulates, so they are never asked to act.
type noServices struct{}

func (noServices) Update(context.Context, string, alarm.Change, string) (*alarm.Incident, error) {
	return nil, errors.New("dry run: nothing acts")
}
func (noServices) Notify(notify.Message) {}

// offline stands in for the fleet and the decision store: the real agent
// connector declares its operations and simulates without them, and
// refuses to act.
type offline struct{}

func (offline) ByHost(string) (fleet.Agent, bool) { return fleet.Agent{}, false }
func (offline) Send(context.Context, string, string, json.RawMessage, fleet.Requester) (protocol.Result, *openc2.Response, error) {
	return protocol.Result{}, nil, errors.New("dry run: nothing acts")
}
func (offline) Await(context.Context, decision.Decision, bool) []fleet.Outcome { return nil }
func (offline) Add(context.Context, decision.Decision, time.Duration, time.Time) (decision.Decision, error) {
	return decision.Decision{}, errors.New("dry run: nothing acts")
}
func (offline) Revert(context.Context, string, string, string, time.Time) (decision.Decision, error) {
	return decision.Decision{}, errors.New("dry run: nothing acts")
}
func (offline) List(context.Context, bool, time.Time) ([]decision.Decision, error) { return nil, nil }

func registry(t *testing.T) *connector.Registry {
	t.Helper()
	reg := connector.NewRegistry()
	// The sinkhole, directory and ticket connectors the global block
	// starter uses, configured; a dry run reaches none of them.
	secrets := func(context.Context, string) (string, error) { return "", errors.New("dry run: no secret is read") }
	deps := all.Deps{Incidents: noServices{}, Notifier: noServices{}, Agents: offline{}, Decisions: offline{},
		DNSSink: &dnssink.Config{Resolver: "127.0.0.1:53", Sinkhole: "192.0.2.53", Secrets: secrets},
		LDAP: &ldap.Config{URL: "ldap://127.0.0.1:389", Flavour: ldap.OpenLDAP, BindDN: "cn=riposte,dc=example,dc=test", BindPassword: "secret://ldap",
			UsersBase: "ou=people,dc=example,dc=test", GroupsBase: "ou=groups,dc=example,dc=test", Secrets: secrets},
		TheHive: &thehive.Config{APIKey: "secret://thehive"}}
	deps.TheHive.URL = "https://thehive.example.internal"
	deps.TheHive.Secrets = secrets
	if err := all.Register(reg, deps); err != nil {
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
		"global-block.yaml":       {"__incident__": map[string]any{"id": "01INC"}, "__src_ip__": "203.0.113.9", "__domain__": "c2.evil.example", "__user__": "alice"},
	}
	want := map[string][]string{
		"ssh-brute-force.yaml":    {`{"action":"deny"`, `"ipv4_net":"203.0.113.7/32"`, `{"action":"contain"`},
		"malware-on-host.yaml":    {`{"action":"contain"`, `{"action":"contain","args"`, `"x-riposte:processes"`},
		"phishing-reported.yaml":  {"POST https://mail-gw.example.internal/api/v1/blocklist"},
		"suspicious-process.yaml": {`"x-riposte:processes"`, `{"action":"stop"`, `"pid":4242`},
		"outbound-indicator.yaml": {`{"action":"deny"`, `"ipv4_net":"198.51.100.66/32"`},
		"global-block.yaml":       {`{"action":"deny"`, `"ipv4_net":"203.0.113.9/32"`, "local_zone c2.evil.example. redirect", "pwdAccountLockedTime", "(uid=alice)"},
	}
	reg := registry(t)
	eng, err := engine.Open(filepath.Join(t.TempDir(), "engine.db"), reg, engine.Options{Sync: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	files, _ := fs.Glob(playbook.Library, "*.yaml")
	if len(files) != 6 {
		files, _ = fs.Glob(playbook.Library, "library/*.yaml")
	}
	if len(files) != 6 {
		t.Fatalf("%d starter playbooks, want 6", len(files))
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
