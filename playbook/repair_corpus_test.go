package playbook_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/all"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/internal/corpus"
	"github.com/riposte-soar/riposte/playbook"
	"github.com/riposte-soar/riposte/respond"
)

// sharedCorpus is ../shared/corpus/cacao/sub beside the project root.
// Under CI=true a missing corpus fails the test; elsewhere the test skips
// and says what is missing.
func sharedCorpus(t *testing.T, sub string) string {
	t.Helper()
	return corpus.Dir(t, "cacao/"+sub)
}

// repairOutcomes is what --repair does with each SOARCA playbook: repaired
// into one that validates and dry-runs (sending what sent lists), or
// refused with this reason (by the repair, or by validating what it wrote).
// The registry is the offline one: the http connector with its default
// policy, no ssh connector (it needs known_hosts and an allowlist).
var repairOutcomes = map[string]struct {
	repairs []string // texts that must appear among the repairs
	refused string   // "" = repaired, runs in a dry run
	sent    []string // texts that must appear among the dry run's calls
}{
	"examples/fin-playbook.json": {
		repairs: []string{`$.agent_definitions["soarca-fin-pong-f896bb3b-bb37-429e-8ece-2d4286cf326d"]: renamed "net-address--f896bb3b-bb37-429e-8ece-2d4286cf326d"`},
		refused: `modified 2023-11-01T15:33:31.072Z is earlier than created`,
	},
	// "GET get HTTP1.1" to the http-api target httpbin.org (port 80 by
	// default): the http connector's request.
	"examples/http-playbook.json": {sent: []string{`"method":"GET"`, `"url":"http://httpbin.org/get"`}},
	// The draft openc2 command: POSTed to the target with its decoded
	// OpenC2 message as the body, typed as OpenC2.
	"examples/openc2-playbook.json":     {sent: []string{`"method":"POST"`, `"url":"http://httpbin.org/post"`, `application/openc2+json;version=1.0`, `\"action\": \"deny\"`}},
	"examples/powershell-playbook.json": {refused: `no connector for command type "powershell": powershell commands need a Windows remote (WinRM) connector`},
	"examples/ssh-playbook.json":        {refused: `no connector for command type "ssh": ssh commands run on the ssh connector, which is not configured`},
	"examples/manual-playbook.json": {
		repairs: []string{
			`$.agent_definitions["soarca-manual-capability--7b0e98db-fa93-42aa-8511-e871c65131b1"]: renamed "soarca-manual--7b0e98db-fa93-42aa-8511-e871c65131b1"`,
			`$.workflow["action--eb9372d4-d524-49fc-bf24-be26ea084779"].agent: renamed "soarca-manual--7b0e98db-fa93-42aa-8511-e871c65131b1"`,
		},
	},
	"test/playbooks/changed-playbook.json": {refused: `$.workflow: a CACAO 1.x workflow list`},
	"test/playbooks/infinite_playbook.json": {
		repairs: []string{`$.workflow_start: was action step "action--a76dbc32-b739-427b-ae13-4ec703d5797e"; a start step`},
		refused: `cycle without exit`,
	},
	"test/playbooks/invalid_playbook.json": {refused: `the key says "http-api" but the type is "invalid"`},
	// SOARCA's test playbooks write absolute URLs whose "__x__" parts are
	// not variable references (no ":value"): they are sent as written.
	"test/playbooks/invalid_email_playbook.json": {
		repairs: []string{`$.workflow["end--40131926-89e9-44df-a018-5f92f2df7914"]: added: the end step $.workflow_exception references was missing`},
		sent:    []string{`"url":"http://__imc_address__/by/__cve__"`, `"url":"http://__bia_address__/analysisreport/__coa_list__"`},
	},
	"test/playbooks/missing_step_playbook.json": {
		repairs: []string{
			`$.workflow["end--6b23c237-ade8-4d00-9aa1-75999738d558"]: added`,
			`$.workflow["end--6b23c237-ade8-4d00-9aa1-75999738d557"]: removed: no step leads to this end step`,
		},
		sent: []string{`"url":"http://__coagenerator_address__/coa/__assetuuid__"`},
	},
	"test/playbooks/playbook.json": {
		repairs: []string{`$.workflow_start: was action step`},
		sent:    []string{`"url":"http://__imc_address__/by/__cve__"`},
	},
}

func offlineRegistry(t *testing.T) *connector.Registry {
	reg := connector.NewRegistry()
	if err := all.Register(reg, all.Deps{}); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestRepairSOARCACorpus runs the repair over every file of SOARCA's
// examples and test playbooks: each is repaired into a playbook that
// validates and succeeds in a dry run, or refused with a reason.
func TestRepairSOARCACorpus(t *testing.T) {
	dir := sharedCorpus(t, "soarca")
	reg := offlineRegistry(t)
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		t.Run(rel, func(t *testing.T) {
			want, ok := repairOutcomes[rel]
			if !ok {
				t.Fatalf("no expected outcome for %s in repairOutcomes", rel)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out, reps, err := playbook.RepairCACAO(data)
			for _, r := range reps {
				t.Logf("repair: %s", r)
			}
			var reasons, calls []string
			var refused *playbook.RepairRefusedError
			switch {
			case errors.As(err, &refused):
				for _, r := range refused.Reasons {
					reasons = append(reasons, r.String())
				}
			case err != nil:
				t.Fatal(err)
			default:
				p, errs := respond.Check(out, false, nil, reg)
				for _, e := range playbook.Errors(errs) {
					reasons = append(reasons, e.Error())
				}
				if p != nil && len(reasons) == 0 {
					reasons, calls = dryRun(t, reg, p)
				}
			}
			for _, w := range want.repairs {
				found := false
				for _, r := range reps {
					found = found || strings.Contains(r.String(), w)
				}
				if !found {
					t.Errorf("want a repair containing %q", w)
				}
			}
			if want.refused == "" {
				if len(reasons) > 0 {
					t.Errorf("want repaired into a playbook that dry-runs, got:\n%s", strings.Join(reasons, "\n"))
				}
				all := strings.Join(calls, "\n")
				for _, w := range want.sent {
					if !strings.Contains(all, w) {
						t.Errorf("want the dry run to send %s, it sent:\n%s", w, all)
					}
				}
				return
			}
			for _, r := range reasons {
				if strings.Contains(r, want.refused) {
					return
				}
			}
			t.Errorf("want refused with a reason containing %q, got: %v", want.refused, reasons)
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for f := range repairOutcomes {
		if !seen[f] {
			t.Errorf("%s is listed but not in the corpus at %s", f, dir)
		}
	}
}

// dryRun runs p with every connector simulated; it returns why the run did
// not succeed, or nothing, and the calls its steps made.
func dryRun(t *testing.T, reg *connector.Registry, p *playbook.Playbook) (reasons, calls []string) {
	t.Helper()
	eng, err := engine.Open(filepath.Join(t.TempDir(), "engine.db"), reg, engine.Options{Sync: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	tr, err := eng.DryRun(context.Background(), p, map[string]any{})
	if err != nil {
		return []string{"dry run: " + err.Error()}, nil
	}
	for _, s := range tr.Steps {
		calls = append(calls, s.Commands...)
	}
	if tr.Outcome != "succeeded" {
		return []string{"dry run ended " + tr.Outcome + ": " + tr.Error}, calls
	}
	return nil, calls
}

// TestRepairKeepsOASISExamples: the OASIS examples that load are not
// changed at all by the repair (they follow the specification).
func TestRepairKeepsOASISExamples(t *testing.T) {
	dir := sharedCorpus(t, "oasis-examples")
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		p, errs := playbook.ParseCACAO(data, playbook.Lenient(nil))
		if p == nil || p.ID == "" || playbook.HasErrors(errs) {
			return nil // not a playbook, or one that does not load (layout example)
		}
		n++
		out, reps, rerr := playbook.RepairCACAO(data)
		if rerr != nil || len(reps) != 0 || string(out) != string(data) {
			t.Errorf("%s: repair changed a valid playbook: err=%v repairs=%v", path, rerr, reps)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Errorf("only %d OASIS example playbooks loaded from %s; want basic-example-1, spec-3.1-example and locky-bart", n, dir)
	}
}
