package playbook

import (
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// Step and definition ids used by the repair cases.
const (
	rpStart  = "start--11111111-1111-4111-8111-111111111111"
	rpPar    = "parallel--22222222-2222-4222-8222-222222222222"
	rpIf     = "if-condition--22222222-2222-4222-8222-222222222223"
	rpA      = "action--33333333-3333-4333-8333-333333333331"
	rpB      = "action--33333333-3333-4333-8333-333333333332"
	rpC      = "action--33333333-3333-4333-8333-333333333333"
	rpD      = "action--33333333-3333-4333-8333-333333333334"
	rpEnd    = "end--44444444-4444-4444-8444-444444444444"
	rpPerson = "individual--55555555-5555-4555-8555-555555555555"
	rpOther  = "individual--55555555-5555-4555-8555-555555555556"
	rpLinux  = "linux--66666666-6666-4666-8666-666666666666"
	rpHTTP   = "http-api--66666666-6666-4666-8666-666666666666"
)

// rpDoc builds a CACAO playbook around a workflow (JSON object text) and
// extra top-level members.
func rpDoc(start, workflow, extra string) string {
	doc := `{"type":"playbook","spec_version":"cacao-2.0","id":"playbook--77777777-7777-4777-8777-777777777777",
"name":"repair case","description":"a playbook to repair","created_by":"identity--5abe695c-7bd5-4c31-8824-2528696cdbf1",
"created":"2025-01-01T00:00:00.000Z","modified":"2025-01-01T00:00:00.000Z",
"workflow_start":"` + start + `","workflow":` + workflow
	if extra != "" {
		doc += "," + extra
	}
	return doc + "}"
}

// rpManual is an action asking the person for something, then going on.
func rpManual(next string) string {
	return `{"type":"action","name":"ask","agent":"` + rpPerson + `","commands":[{"type":"manual","command":"check it"}],"on_completion":"` + next + `"}`
}

const rpPeople = `"agent_definitions":{"` + rpPerson + `":{"type":"individual","name":"on-call"}}`

func TestRepairCACAO(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		// want: each text must appear in some repair (or, with refused,
		// in some reason).
		want    []string
		refused bool
	}{
		{
			name: "workflow starts at an action: a start step is inserted",
			doc:  rpDoc(rpA, `{"`+rpA+`":`+rpManual(rpEnd)+`,"`+rpEnd+`":{"type":"end"}}`, rpPeople),
			want: []string{`$.workflow_start: was action step "` + rpA + `"; a start step "start--`},
		},
		{
			name: "workflow starts at a parallel step whose branches run into the step after it",
			doc: rpDoc(rpPar, `{"`+rpPar+`":{"type":"parallel","next_steps":["`+rpA+`","`+rpB+`"]},
"`+rpA+`":`+rpManual(rpC)+`,"`+rpB+`":`+rpManual(rpC)+`,"`+rpC+`":`+rpManual(rpEnd)+`,"`+rpEnd+`":{"type":"end"}}`, rpPeople),
			want: []string{
				`$.workflow_start: was parallel step`,
				`$.workflow["` + rpPar + `"].on_completion: set to "` + rpC + `"`,
				`$.workflow["` + rpA + `"].on_completion: ran into "` + rpC + `", the step after the parallel block; the branch now ends at its own end step`,
				`$.workflow["` + rpB + `"].on_completion: ran into "` + rpC + `"`,
			},
		},
		{
			name: "parallel with a next step whose branches also run into it",
			doc: rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpPar+`"},
"`+rpPar+`":{"type":"parallel","next_steps":["`+rpA+`","`+rpB+`"],"on_completion":"`+rpC+`"},
"`+rpA+`":`+rpManual(rpC)+`,"`+rpB+`":`+rpManual(rpC)+`,"`+rpC+`":`+rpManual(rpEnd)+`,"`+rpEnd+`":{"type":"end"}}`, rpPeople),
			want: []string{`$.workflow["` + rpA + `"].on_completion: ran into`, `$.workflow["` + rpB + `"].on_completion: ran into`},
		},
		{
			name: "parallel branches share the playbook's end step",
			doc: rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpPar+`"},
"`+rpPar+`":{"type":"parallel","next_steps":["`+rpA+`","`+rpB+`"]},
"`+rpA+`":`+rpManual(rpEnd)+`,"`+rpB+`":`+rpManual(rpEnd)+`,"`+rpEnd+`":{"type":"end"}}`, rpPeople),
			want: []string{`$.workflow["` + rpPar + `"].on_completion: set to "` + rpEnd + `"`, `the branch now ends at its own end step`},
		},
		{
			name: "if-condition written as a goto",
			doc: rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpIf+`"},
"`+rpIf+`":{"type":"if-condition","condition":"__x__:value = 'a'","on_true":"`+rpA+`","on_false":"`+rpB+`"},
"`+rpA+`":`+rpManual(rpC)+`,"`+rpB+`":`+rpManual(rpC)+`,"`+rpC+`":`+rpManual(rpEnd)+`,"`+rpEnd+`":{"type":"end"}}`,
				rpPeople+`,"playbook_variables":{"__x__":{"type":"string","value":"a"}}`),
			want: []string{`$.workflow["` + rpIf + `"].on_completion: set to "` + rpC + `"`, `the step after the if-condition block`},
		},
		{
			name: "SOARCA docs: action without agent, linux-- key on an http-api target",
			doc: rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpA+`"},
"`+rpA+`":{"type":"action","commands":[{"type":"http-api","command":"GET /get HTTP/1.1"}],"targets":["`+rpLinux+`"],"on_completion":"`+rpEnd+`"},
"`+rpEnd+`":{"type":"end"}}`,
				`"target_definitions":{"`+rpLinux+`":{"type":"http-api","name":"httpbin","address":{"dname":["httpbin.org"]}}}`),
			want: []string{
				`$.target_definitions["` + rpLinux + `"]: renamed "` + rpHTTP + `": the key prefix must be the type (http-api)`,
				`$.workflow["` + rpA + `"].targets[0]: renamed "` + rpHTTP + `"`,
				`$.agent_definitions["` + rpHTTP + `"]: copied from target_definitions`,
				`$.workflow["` + rpA + `"].agent: bound to the only http-api target "` + rpHTTP + `"`,
			},
		},
		{
			name: "manual action without agent and one person",
			doc: rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpA+`"},
"`+rpA+`":{"type":"action","commands":[{"type":"manual","command":"look"}],"on_completion":"`+rpEnd+`"},"`+rpEnd+`":{"type":"end"}}`, rpPeople),
			want: []string{`$.workflow["` + rpA + `"].agent: bound to the only individual agent "` + rpPerson + `"`},
		},
		{
			name: "step key prefix is not the type",
			doc: rpDoc("step--88888888-8888-4888-8888-888888888888", `{"step--88888888-8888-4888-8888-888888888888":{"type":"start","on_completion":"`+rpA+`"},
"`+rpA+`":`+rpManual(rpEnd)+`,"`+rpEnd+`":{"type":"end"}}`, rpPeople),
			want: []string{`$.workflow["step--88888888-8888-4888-8888-888888888888"]: renamed "start--88888888-8888-4888-8888-888888888888"`},
		},
		{
			name: "a reference to a missing end step, and the end it meant",
			doc: rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpA+`"},
"`+rpA+`":`+rpManual("end--44444444-4444-4444-8444-444444444445")+`,"`+rpEnd+`":{"type":"end"}}`, rpPeople),
			want: []string{
				`$.workflow["end--44444444-4444-4444-8444-444444444445"]: added: the end step $.workflow["` + rpA + `"].on_completion references was missing`,
				`$.workflow["` + rpEnd + `"]: removed: no step leads to this end step`,
			},
		},
		// Refusals.
		{
			name: "two fitting agents",
			doc: rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpA+`"},
"`+rpA+`":{"type":"action","commands":[{"type":"manual","command":"look"}],"on_completion":"`+rpEnd+`"},"`+rpEnd+`":{"type":"end"}}`,
				`"agent_definitions":{"`+rpPerson+`":{"type":"individual","name":"a"},"`+rpOther+`":{"type":"individual","name":"b"}}`),
			want:    []string{`$.workflow["` + rpA + `"].agent: missing, and 2 agents fit (` + rpPerson + `, ` + rpOther + `)`},
			refused: true,
		},
		{
			name:    "no agent fits an unknown command type",
			doc:     rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpA+`"},"`+rpA+`":{"type":"action","commands":[{"type":"pong"}],"on_completion":"`+rpEnd+`"},"`+rpEnd+`":{"type":"end"}}`, rpPeople),
			want:    []string{`.agent: missing, and no agent type is known to fit its commands`},
			refused: true,
		},
		{
			name:    "CACAO 1.x workflow list",
			doc:     rpDoc(rpA, `[{"step_uuid":"`+rpA+`","type":"action"}]`, ""),
			want:    []string{`$.workflow: a CACAO 1.x workflow list`},
			refused: true,
		},
		{
			name:    "a reference to a missing action",
			doc:     rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpA+`"},"`+rpEnd+`":{"type":"end"}}`, ""),
			want:    []string{`$.workflow["` + rpStart + `"].on_completion: references missing step "` + rpA + `", which is not an end step`},
			refused: true,
		},
		{
			name: "the key names a CACAO type, the object an unknown one",
			doc: rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpA+`"},"`+rpA+`":{"type":"action","agent":"`+rpHTTP+`","commands":[{"type":"http-api","command":"GET / HTTP/1.1"}],"on_completion":"`+rpEnd+`"},"`+rpEnd+`":{"type":"end"}}`,
				`"agent_definitions":{"`+rpHTTP+`":{"type":"invalid","name":"fw"}}`),
			want:    []string{`the key says "http-api" but the type is "invalid"`},
			refused: true,
		},
		{
			name:    "workflow_start is an action although a start step exists",
			doc:     rpDoc(rpA, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpA+`"},"`+rpA+`":`+rpManual(rpEnd)+`,"`+rpEnd+`":{"type":"end"}}`, rpPeople),
			want:    []string{`$.workflow_start: names action step "` + rpA + `" while the workflow has start step(s) ` + rpStart},
			refused: true,
		},
		{
			name: "goto branches that join at two steps",
			doc: rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"`+rpPar+`"},
"`+rpPar+`":{"type":"parallel","next_steps":["`+rpA+`","`+rpB+`"]},
"`+rpA+`":{"type":"action","agent":"`+rpPerson+`","commands":[{"type":"manual","command":"a"}],"on_success":"`+rpC+`","on_failure":"`+rpD+`"},
"`+rpB+`":{"type":"action","agent":"`+rpPerson+`","commands":[{"type":"manual","command":"b"}],"on_success":"`+rpC+`","on_failure":"`+rpD+`"},
"`+rpC+`":`+rpManual(rpEnd)+`,"`+rpD+`":`+rpManual(rpEnd)+`,"`+rpEnd+`":{"type":"end"}}`, rpPeople),
			want:    []string{`its branches join at several steps (` + rpC + `, ` + rpD + `)`},
			refused: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, reps, err := RepairCACAO([]byte(c.doc))
			var refused *RepairRefusedError
			if c.refused {
				if !errors.As(err, &refused) {
					t.Fatalf("want a refusal, got err=%v, repairs=%v", err, reps)
				}
				if string(out) != c.doc {
					t.Errorf("a refusal must return the document unchanged")
				}
				wantIn(t, refused.Reasons, c.want)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v (repairs so far: %v)", err, reps)
			}
			wantIn(t, reps, c.want)
			p, errs := ParseCACAO(out, Lenient(nil))
			errs = append(errs, Lint(p, builtinConnectors)...)
			for _, e := range Errors(errs) {
				t.Errorf("the repaired playbook does not validate: %v\n%s", e, out)
			}
			// Repairing is idempotent: the result has nothing left to fix.
			again, reps2, err := RepairCACAO(out)
			if err != nil || len(reps2) != 0 || string(again) != string(out) {
				t.Errorf("repairing the repaired playbook changed it again: %v %v", reps2, err)
			}
		})
	}
}

func wantIn(t *testing.T, got []Repair, want []string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, r := range got {
			if strings.Contains(r.String(), w) {
				found = true
			}
		}
		if !found {
			t.Errorf("want a line containing\n    %s\ngot:", w)
			for _, r := range got {
				t.Logf("    %s", r)
			}
		}
	}
}

// TestRepairKeepsValidPlaybooks: a playbook with nothing to repair comes
// back byte for byte, whatever its formatting: our YAML, the CACAO export
// of every starter playbook, and the fixtures Riposte keeps.
func TestRepairKeepsValidPlaybooks(t *testing.T) {
	docs := map[string][]byte{}
	names, err := fs.Glob(Library, "library/*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no starter playbooks: %v", err)
	}
	for _, name := range names {
		body, err := fs.ReadFile(Library, name)
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = body
		p, errs := ParseYAML(body)
		if HasErrors(errs) {
			t.Fatalf("%s: %v", name, Errors(errs))
		}
		cacao, err := p.CACAO()
		if err != nil {
			t.Fatal(err)
		}
		docs[name+" (CACAO)"] = cacao
		var v any
		json.Unmarshal(cacao, &v)
		compact, _ := json.Marshal(v)
		docs[name+" (CACAO, compact)"] = compact
	}
	for name, body := range docs {
		out, reps, err := RepairCACAO(body)
		if err != nil || len(reps) != 0 || string(out) != string(body) {
			t.Errorf("%s: repair changed a valid playbook: err=%v repairs=%v", name, err, reps)
		}
	}
}

func FuzzRepairCACAO(f *testing.F) {
	f.Add([]byte(rpDoc(rpA, `{"`+rpA+`":`+rpManual(rpEnd)+`,"`+rpEnd+`":{"type":"end"}}`, rpPeople)))
	f.Add([]byte(`{"workflow":{"parallel--22222222-2222-4222-8222-222222222222":{"type":"parallel","next_steps":["a","a"]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, reps, err := RepairCACAO(data)
		if err != nil || len(reps) == 0 {
			if string(out) != string(data) {
				t.Fatalf("unchanged input must come back as is")
			}
			return
		}
		// What it writes is JSON that repairs to itself.
		if !json.Valid(out) {
			t.Fatalf("repair wrote invalid JSON: %s", out)
		}
	})
}
