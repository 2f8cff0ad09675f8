package playbook

import (
	"strings"
	"testing"
	"time"
)

const yamlHead = `id: playbook--60db74b3-6572-4ab7-838e-2d6077042e72
name: t
modified: 2025-06-01T00:00:00Z
`

// Each broken YAML playbook is rejected with an error at the right line.
func TestParseYAMLErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		line int
		want string
	}{
		{"syntax", yamlHead + "steps:\n  a: [1, 2\n", 5, "YAML syntax"},
		{"not a mapping", "- a\n- b\n", 1, "must be a YAML mapping"},
		{"unknown step", yamlHead + "start: a\nsteps:\n  a: {connector: wait.sleep, next: nowhere}\n", 6, `references unknown step "nowhere"`},
		{"unknown kind", yamlHead + "start: a\nsteps:\n  a: {description: what am I}\n  b: end\n", 6, "cannot tell what kind of step"},
		{"bad duration", yamlHead + "start: a\nsteps:\n  a:\n    connector: wait.sleep\n    timeout: soon\n    next: b\n  b: end\n", 8, `"soon" is not a duration`},
		{"missing modified", "id: playbook--60db74b3-6572-4ab7-838e-2d6077042e72\nname: t\nstart: a\nsteps:\n  a: end\n", 1, "required: modified"},
		{"bad connector", yamlHead + "start: a\nsteps:\n  a: {connector: agent, next: b}\n  b: end\n", 6, "must be connector.operation"},
		{"duplicate key", yamlHead + "start: a\nsteps:\n  a: end\n  a: end\n", 7, "already defined"},
		{"anchors", yamlHead + "start: a\nsteps:\n  a: &x {connector: wait.sleep, next: b}\n  b: *x\n", 6, "anchors"},
		{"secret inline", yamlHead + "start: a\nsteps:\n  a: end\nauth:\n  user-auth--72841844-09e9-4b03-bae7-cfb12c701849: {type: user-auth, username: u, password: hunter2}\n", 8, "secrets do not belong in a playbook"},
		{"two forms", yamlHead + "start: a\nsteps:\n  a: {connector: wait.sleep, approve: {question: q}, next: b}\n  b: end\n", 6, "use one of connector, approve and commands"},
		{"approve without question", yamlHead + "start: a\nsteps:\n  a: {approve: {roles: [r]}, next: b}\n  b: end\n", 6, `"question" is missing`},
		{"bad tlp", yamlHead + "tlp: purple\nstart: a\nsteps:\n  a: end\n", 4, "tlp must be one of"},
		{"bad cron", yamlHead + "trigger: {schedule: {cron: '61 * * * *'}}\nstart: a\nsteps:\n  a: end\n", 4, `minute field "61"`},
		{"if without then", yamlHead + "vars: {x: integer}\nstart: a\nsteps:\n  a: {if: x > 1, next: b}\n  b: end\n", 7, "if steps need then"},
		{"no start", yamlHead + "steps:\n  a: end\n", 1, "no start"},
		{"bad variable", yamlHead + "vars: {x: [1]}\nstart: a\nsteps:\n  a: end\n", 4, "a variable is a type name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := ParseYAML([]byte(c.src))
			for _, e := range errs {
				if e.Severity == SeverityError && strings.Contains(e.Msg, c.want) {
					if e.Line != c.line {
						t.Errorf("error %q at line %d, want line %d", e.Error(), e.Line, c.line)
					}
					return
				}
			}
			t.Errorf("want an error containing %q at line %d, got %v", c.want, c.line, errs)
		})
	}
}

// The shorthands map onto the model as documented.
func TestYAMLShorthands(t *testing.T) {
	src := yamlHead + `inputs:
  host: string
vars:
  ok: {type: bool, value: true}
start: ask
steps:
  ask:
    approve: {question: 'Isolate __host__:value?', roles: [responder], quorum: 2}
    timeout: 4h
    on_success: isolate
    on_failure: done
  isolate:
    connector: agent.contain_host
    args: {host: __host__:value, allow: [10.0.0.1]}
    revert_after: 2h
    retry: {attempts: 3, initial: 1s, max: 30s, multiplier: 1.5, retry_on: [transport]}
    next: check
  check: {if: ok, then: yes, else: no, next: done}
  "yes": end
  "no": end
  done: end
`
	p, errs := ParseYAML([]byte(src))
	if HasErrors(errs) {
		t.Fatal(errs)
	}
	start := p.Steps[p.WorkflowStart]
	if start.Type != StepStart {
		t.Fatalf("start step: %+v", start)
	}
	ask := p.Steps[start.OnCompletion]
	if ask.Type != StepAction || ask.Name != "ask" || ask.Agent != ApproversAgentID || ask.Timeout != 4*time.Hour ||
		len(ask.Commands) != 1 || ask.Commands[0].Type != CmdManual || ask.Commands[0].Command != "Isolate __host__:value?" ||
		ask.Approval == nil || ask.Approval.Quorum != 2 {
		t.Fatalf("approve step: %+v", ask)
	}
	iso := p.Steps[ask.OnSuccess]
	c := iso.Commands[0]
	if c.Type != CmdRiposteConnector || c.Connector != "agent" || c.Operation != "contain_host" || iso.Agent != RiposteAgentID ||
		iso.RevertAfter != 2*time.Hour || iso.Retry.MaxAttempts != 3 || iso.Retry.Multiplier != 1.5 || iso.Retry.Max != 30*time.Second {
		t.Fatalf("connector step: %+v %+v", iso, c)
	}
	if p.Agents[RiposteAgentID] == nil || p.Agents[ApproversAgentID] == nil {
		t.Fatal("implicit agents not added")
	}
	if v := p.Variables["__host__"]; !v.External || v.Type != "string" {
		t.Fatalf("input: %+v", v)
	}
	if v := p.Variables["__ok__"]; v.Value != "true" {
		t.Fatalf("variable value %#v, want the string \"true\"", v.Value)
	}
	chk := p.Steps[iso.OnCompletion]
	if chk.Condition != "__ok__:value" {
		t.Fatalf("condition not canonical: %q", chk.Condition)
	}
	y, _ := p.YAML()
	if !strings.Contains(string(y), "if: ok\n") || !strings.Contains(string(y), "approve:") || !strings.Contains(string(y), "connector: agent.contain_host") {
		t.Fatalf("export lost the shorthands:\n%s", y)
	}
}

// Lint findings on a YAML playbook point at YAML lines and paths.
func TestLintYAMLPositions(t *testing.T) {
	src := yamlHead + `start: a
steps:
  a:
    connector: agent.nope
    next: b
  b: end
`
	p, errs := ParseYAML([]byte(src))
	if HasErrors(errs) {
		t.Fatal(errs)
	}
	for _, e := range Lint(p, builtinConnectors) {
		if strings.Contains(e.Msg, "unknown connector operation agent.nope") {
			if e.Line != 7 || e.Path != "$.steps.a.connector" {
				t.Fatalf("got %v", e)
			}
			return
		}
	}
	t.Fatal("unknown operation not reported")
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "2d": 48 * time.Hour, "1d2h": 26 * time.Hour, "250ms": 250 * time.Millisecond, "1h30m": 90 * time.Minute} {
		got, err := parseDuration(&node{kind: kString, s: in})
		if err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
		back, _ := parseDuration(&node{kind: kString, s: formatDuration(got)})
		if back != got {
			t.Errorf("%s: format %q does not read back", in, formatDuration(got))
		}
	}
}
