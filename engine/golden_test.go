package engine

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/playbook"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.json")

func childPB() *playbook.Playbook {
	return vars(newPB("playbook--child", "start--c",
		start("start--c", "action--c"),
		act("action--c", "end--c", "set", map[string]any{"name": "__out__", "value": "from child with __in__:value"}, "__out__"),
		end("end--c"),
	), "__in__", "string", nil, "__out__", "string", "")
}

func goldenCases() map[string]func() *playbook.Playbook {
	return map[string]func() *playbook.Playbook{
		"if":       simplePB,
		"while":    whilePB,
		"parallel": parallelPB,
		"approval": approvalPB,
		"switch": func() *playbook.Playbook {
			return vars(newPB("playbook--switch", "start--1",
				start("start--1", "switch-condition--s"),
				&playbook.Step{ID: "switch-condition--s", Type: playbook.StepSwitchCondition, Switch: "__sev__",
					Cases: map[string]string{"high": "action--high", "default": "action--low"}, OnCompletion: "end--1"},
				act("action--high", "end--h", "set", map[string]any{"name": "__r__", "value": "paged"}, "__r__"),
				act("action--low", "end--l", "set", map[string]any{"name": "__r__", "value": "ticket"}, "__r__"),
				end("end--h"), end("end--l"), end("end--1"),
			), "__sev__", "string", "high", "__r__", "string", "")
		},
		"playbook-action": func() *playbook.Playbook {
			return vars(newPB("playbook--parent", "start--1",
				start("start--1", "playbook-action--x"),
				&playbook.Step{ID: "playbook-action--x", Type: playbook.StepPlaybookAction, PlaybookID: "playbook--child",
					InArgs: []string{"__in__"}, OutArgs: []string{"__out__"}, OnCompletion: "end--1"},
				end("end--1"),
			), "__in__", "string", "parent value", "__out__", "string", "")
		},
		"delay-retry": func() *playbook.Playbook {
			pb := newPB("playbook--retry", "start--1",
				start("start--1", "action--flaky"),
				act("action--flaky", "end--1", "flaky", map[string]any{"times": 2}),
				end("end--1"))
			s := pb.Steps["action--flaky"]
			s.Delay = time.Second
			s.Retry = &playbook.RetryPolicy{MaxAttempts: 3, Initial: time.Second, Multiplier: 2}
			return pb
		},
		"on-failure": func() *playbook.Playbook {
			pb := newPB("playbook--onfail", "start--1",
				start("start--1", "action--f"),
				act("action--f", "", "fail", map[string]any{"class": "permanent"}),
				act("action--handle", "end--1", "set", map[string]any{"name": "__why__", "value": "__riposte_failure__:value"}),
				end("end--1"))
			pb.Steps["action--f"].OnSuccess, pb.Steps["action--f"].OnFailure = "end--1", "action--handle"
			return pb
		},
		"workflow-exception": func() *playbook.Playbook {
			pb := newPB("playbook--exc", "start--1",
				start("start--1", "action--f"),
				act("action--f", "end--1", "fail", map[string]any{"class": "transient"}),
				act("action--exc", "", "ipost", map[string]any{"msg": "alert the SOC"}),
				end("end--1"))
			pb.WorkflowException = "action--exc"
			return pb
		},
		"parallel-fail-fast": func() *playbook.Playbook {
			pb := parallelPB()
			pb.ID = "playbook--parfail"
			pb.Steps["action--a"] = act("action--a", "end--a", "fail", map[string]any{"class": "permanent"})
			pb.Steps["action--b"] = act("action--b", "end--b", "set", map[string]any{"name": "x", "value": 1})
			pb.Steps["parallel--p"].OnCompletion, pb.Steps["parallel--p"].OnFailure = "", "end--1"
			pb.Steps["parallel--p"].OnSuccess = "action--after"
			return pb
		},
	}
}

func TestGoldenDryRun(t *testing.T) {
	reg, _ := newReg(t, nil)
	e := openT(t, dbPath(t), reg, testOpts())
	defer e.Close()
	ctx := context.Background()
	if err := e.Register(ctx, childPB(), 1); err != nil {
		t.Fatal(err)
	}
	e.plans["playbook--child@1"] = childPB()
	for name, mk := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			tr, err := e.DryRun(ctx, mk(), map[string]any{"ip": "192.0.2.1", "host": "web-1"})
			if err != nil {
				t.Fatal(err)
			}
			got := append(tr.JSON(), '\n')
			file := filepath.Join("testdata", "golden", name+".json")
			if *update {
				os.MkdirAll(filepath.Dir(file), 0o755)
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("trace differs from %s:\n%s", file, got)
			}
		})
	}
}

// A step timeout is a durable timer: ACTION_TIMEOUT routes to on_failure;
// the late result of the abandoned call is journalled, not applied.
func TestTimeoutRoutesOnFailure(t *testing.T) {
	reg, conn := newReg(t, nil)
	conn.block = make(chan struct{})
	defer close(conn.block)
	e := openT(t, dbPath(t), reg, testOpts())
	defer e.Close()
	pb := newPB("playbook--timeout", "start--1",
		start("start--1", "action--slow"),
		act("action--slow", "", "slow", map[string]any{}),
		act("action--handle", "end--1", "set", map[string]any{"name": "__r__", "value": "__riposte_failure__:value"}, "__r__"),
		end("end--1"))
	pb = vars(pb, "__r__", "dictionary", nil)
	pb.Variables["__r__"].External = false
	pb.Steps["action--slow"].Timeout = 50 * time.Millisecond
	pb.Steps["action--slow"].OnSuccess, pb.Steps["action--slow"].OnFailure = "end--1", "action--handle"
	id, err := e.Start(context.Background(), pb, 1, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	v := runUntil(t, e, id, 5*time.Second)
	checkFold(t, v)
	r, _ := v.Snapshot.Vars["__r__"].(map[string]any)
	if v.Snapshot.Status != StatusSucceeded || r["reason"] != ReasonTimeout {
		t.Fatalf("%s %v", v.Snapshot.Status, v.Snapshot.Vars)
	}
}
