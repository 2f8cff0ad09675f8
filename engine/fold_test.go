package engine

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/playbook"
)

// genPB builds a random well-formed playbook: a chain of random blocks
// (actions that succeed, fail or are flaky, if, switch, while, parallel),
// nested up to depth 2, with random on_failure routes.
func genPB(r *rand.Rand, seed int64) *playbook.Playbook {
	pb := newPB(fmt.Sprintf("playbook--gen%d", seed), "start--0")
	n := 0
	id := func(t string) string { n++; return fmt.Sprintf("%s--%d", t, n) }
	add := func(s *playbook.Step) *playbook.Step { pb.Steps[s.ID] = s; return s }
	vars(pb, "__i__", "integer", "0", "__j__", "integer", "0", "__sev__", "string", "b")

	var chain func(depth, length int) (first string)
	block := func(depth int, next string) string {
		k := r.Intn(8)
		if depth >= 2 {
			k = r.Intn(3)
		}
		switch k {
		case 0, 1: // action ok
			return add(act(id("action"), next, "set", map[string]any{"name": "__sev__", "value": []string{"a", "b", "c"}[r.Intn(3)]}, "__sev__")).ID
		case 2: // failing or flaky action, maybe with on_failure / retry
			s := add(act(id("action"), "", "fail", map[string]any{"class": []string{"permanent", "transient"}[r.Intn(2)]}))
			if r.Intn(2) == 0 {
				s.Commands[0].Operation, s.Commands[0].Args = "flaky", map[string]any{"times": r.Intn(3)}
				s.Retry = &playbook.RetryPolicy{MaxAttempts: 1 + r.Intn(3), Initial: time.Second}
			}
			if r.Intn(3) > 0 {
				s.OnSuccess, s.OnFailure = next, next
			} else {
				s.OnCompletion = next
			}
			if r.Intn(4) == 0 {
				s.Delay = time.Duration(1+r.Intn(5)) * time.Second
			}
			return s.ID
		case 3: // if
			s := add(&playbook.Step{ID: id("if-condition"), Type: playbook.StepIfCondition, Condition: "__sev__:value = 'a'", OnCompletion: next})
			s.OnTrue = chain(depth+1, 1+r.Intn(2))
			if r.Intn(2) == 0 {
				s.OnFalse = chain(depth+1, 1)
			}
			return s.ID
		case 4: // switch
			s := add(&playbook.Step{ID: id("switch-condition"), Type: playbook.StepSwitchCondition, Switch: "__sev__", OnCompletion: next,
				Cases: map[string]string{"a": chain(depth+1, 1), "b": chain(depth+1, 1)}})
			if r.Intn(2) == 0 {
				s.Cases["default"] = chain(depth+1, 1)
			}
			return s.ID
		case 5: // while, counting __j__ up to a bound
			s := add(&playbook.Step{ID: id("while-condition"), Type: playbook.StepWhileCondition, OnCompletion: next,
				Condition: fmt.Sprintf("__j__:value < %d", 1+r.Intn(3)), MaxIterations: 1 + r.Intn(4)})
			body := add(act(id("action"), "", "inc", map[string]any{"name": "__j__", "value": "__j__:value"}, "__j__"))
			body.OnCompletion = s.ID // loop back form
			s.OnTrue = body.ID
			return s.ID
		default: // parallel
			s := add(&playbook.Step{ID: id("parallel"), Type: playbook.StepParallel, OnCompletion: next, WaitAll: r.Intn(2) == 0})
			for b := 0; b < 2+r.Intn(2); b++ {
				s.NextSteps = append(s.NextSteps, chain(depth+1, 1+r.Intn(2)))
			}
			return s.ID
		}
	}
	chain = func(depth, length int) string {
		next := add(end(id("end"))).ID
		for i := 0; i < length; i++ {
			next = block(depth, next)
		}
		return next
	}
	add(start("start--0", chain(0, 2+r.Intn(4))))
	return pb
}

// TestFoldProperty: for random runs, folding the journal gives the stored
// snapshot, after every run, including runs that fail, retry, loop and
// fork. Runs also end (no run stuck: invariant I1).
func TestFoldProperty(t *testing.T) {
	reg, _ := newReg(t, nil)
	clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	o := testOpts()
	o.Now, o.Sync = clk.Now, "off"
	e := openT(t, dbPath(t), reg, o)
	defer e.Close()
	ctx := context.Background()
	n := 40
	if testing.Short() {
		n = 10
	}
	statuses := map[string]int{}
	for seed := int64(1); seed <= int64(n); seed++ {
		pb := genPB(rand.New(rand.NewSource(seed)), seed)
		id, err := e.Start(ctx, pb, 1, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Drive(ctx, id, clk, "prop"); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		v, err := e.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		checkFold(t, v)
		// Prefix property: every prefix folds without panicking and the
		// sequence numbers are dense.
		for i, ev := range v.Journal {
			if ev.Seq != int64(i+1) {
				t.Fatalf("seed %d: seq %d at %d", seed, ev.Seq, i)
			}
		}
		statuses[v.Snapshot.Status]++
	}
	t.Logf("statuses: %v", statuses)
}
