package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/playbook"
)

// crashAfter runs e until cond holds (polled) or a hook fired, then
// abandons it: the context is cancelled without draining and the store is
// closed, like a killed process (committed transactions are all that
// survives).
func crashAfter(t *testing.T, e *Engine, crashed <-chan struct{}, cond func(*RunView) bool, id string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	deadline := time.After(5 * time.Second)
loop:
	for {
		select {
		case <-crashed:
			break loop
		case <-deadline:
			t.Fatal("crash point never reached")
		case <-time.After(2 * time.Millisecond):
			if cond != nil {
				v, err := e.GetRun(context.Background(), id)
				if err == nil && cond(v) {
					break loop
				}
			}
		}
	}
	cancel()
	<-done
	e.Close()
}

func hookAt(point string, match func(Claim) bool) (func(string, Claim) error, <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func(p string, c Claim) error {
		if p == point && (match == nil || match(c)) {
			fired := false
			once.Do(func() { close(ch); fired = true })
			if fired {
				return errAbandon
			}
			return errAbandon // every later one too: the process is "dead"
		}
		return nil
	}, ch
}

func assertAppliedOnce(t *testing.T, rcv *receiver, wantKeys int) {
	t.Helper()
	sends, applied := rcv.counts()
	if len(applied) != wantKeys {
		t.Fatalf("want %d keys applied, got %v (sends %v)", wantKeys, applied, sends)
	}
	for k, n := range applied {
		if n != 1 {
			t.Fatalf("key %s applied %d times (sends %v)", k, n, sends)
		}
	}
}

func crashOpts() Options {
	o := testOpts()
	o.Workers = 1
	return o
}

func TestCrashBeforeClaim(t *testing.T) {
	rcv := newReceiver(t)
	reg, _ := newReg(t, rcv)
	path := dbPath(t)
	e := openT(t, path, reg, crashOpts())
	id, err := e.Start(context.Background(), simplePB(), 1, map[string]any{"ip": "10.0.0.9"}, "")
	if err != nil {
		t.Fatal(err)
	}
	e.Close() // "crash": nothing was claimed
	e = openT(t, path, reg, crashOpts())
	defer e.Close()
	v := runUntil(t, e, id, 5*time.Second)
	checkFold(t, v)
	if v.Snapshot.Status != StatusSucceeded {
		t.Fatal(v.Snapshot.Status, v.Snapshot.Error)
	}
	assertAppliedOnce(t, rcv, 1)
}

func postPB(op string) *playbook.Playbook {
	return newPB("playbook--post-"+op, "start--1",
		start("start--1", "action--p"),
		act("action--p", "end--1", op, map[string]any{"msg": "contain"}),
		end("end--1"))
}

// Crash after the connector call, before its result is committed; the
// operation is idempotent at the target (key dedup): after restart the
// lease expires, the same key is re-sent, the target applies it once.
func TestCrashAfterDispatchIdempotent(t *testing.T) {
	rcv := newReceiver(t)
	reg, _ := newReg(t, rcv)
	path := dbPath(t)
	o := crashOpts()
	hook, crashed := hookAt("dispatched", nil)
	o.Hook = hook
	e := openT(t, path, reg, o)
	id, err := e.Start(context.Background(), postPB("ipost"), 1, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	crashAfter(t, e, crashed, nil, id)
	if s, _ := rcv.counts(); len(s) != 1 {
		t.Fatalf("call before crash: %v", s)
	}
	e = openT(t, path, reg, crashOpts())
	defer e.Close()
	v := runUntil(t, e, id, 5*time.Second)
	checkFold(t, v)
	if v.Snapshot.Status != StatusSucceeded {
		t.Fatal(v.Snapshot.Status, v.Snapshot.Error)
	}
	assertAppliedOnce(t, rcv, 1)
	sends, _ := rcv.counts()
	for _, n := range sends {
		if n != 2 {
			t.Fatalf("expected a re-send with the same key, sends %v", sends)
		}
	}
}

// Same crash with a non-idempotent operation: never re-sent; the run asks
// a person whether it happened, the answer after restart completes it.
func TestCrashAfterDispatchUnknownOutcome(t *testing.T) {
	rcv := newReceiver(t)
	reg, _ := newReg(t, rcv)
	path := dbPath(t)
	o := crashOpts()
	hook, crashed := hookAt("dispatched", nil)
	o.Hook = hook
	e := openT(t, path, reg, o)
	id, _ := e.Start(context.Background(), postPB("post"), 1, nil, "")
	crashAfter(t, e, crashed, nil, id)

	e = openT(t, path, reg, crashOpts())
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	var q Inquiry
	for i := 0; ; i++ {
		qs, _ := e.Inquiries(ctx, InquiryFilter{State: "open", RunID: id})
		if len(qs) == 1 {
			q = qs[0]
			break
		}
		if i > 2000 {
			v, _ := e.GetRun(ctx, id)
			t.Fatalf("no unknown-outcome inquiry: %+v %+v", v.Snapshot, v.Journal[len(v.Journal)-1])
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	<-done
	if q.Kind != "unknown_outcome" {
		t.Fatalf("inquiry %+v", q)
	}
	if err := e.Answer(context.Background(), q.ID, true, "seen on the firewall", "alice", nil); err != nil {
		t.Fatal(err)
	}
	v := runUntil(t, e, id, 5*time.Second)
	checkFold(t, v)
	if v.Snapshot.Status != StatusSucceeded {
		t.Fatal(v.Snapshot.Status, v.Snapshot.Error)
	}
	sends, _ := rcv.counts()
	for _, n := range sends {
		if n != 1 {
			t.Fatalf("non-idempotent command re-sent: %v", sends)
		}
	}
	assertAppliedOnce(t, rcv, 1)
}

func parallelPB() *playbook.Playbook {
	return newPB("playbook--par", "start--1",
		start("start--1", "parallel--p"),
		&playbook.Step{ID: "parallel--p", Type: playbook.StepParallel, NextSteps: []string{"action--a", "action--b"}, OnCompletion: "action--after"},
		act("action--a", "end--a", "ipost", map[string]any{"msg": "a"}),
		act("action--b", "end--b", "slow", map[string]any{}),
		end("end--a"), end("end--b"),
		act("action--after", "end--1", "ipost", map[string]any{"msg": "after"}),
		end("end--1"))
}

func TestCrashDuringParallelJoin(t *testing.T) {
	rcv := newReceiver(t)
	reg, conn := newReg(t, rcv)
	conn.block = make(chan struct{})
	path := dbPath(t)
	o := crashOpts()
	o.Workers = 2
	e := openT(t, path, reg, o)
	id, _ := e.Start(context.Background(), parallelPB(), 1, nil, "")
	// Crash when branch a has joined and branch b is in flight.
	crashAfter(t, e, nil, func(v *RunView) bool {
		p := v.Snapshot.Insts["/parallel--p"]
		return p != nil && p.Joined == 1
	}, id)
	close(conn.block)
	e, v := openT(t, path, reg, crashOpts()), (*RunView)(nil)
	defer e.Close()
	v = runUntil(t, e, id, 5*time.Second)
	checkFold(t, v)
	if v.Snapshot.Status != StatusSucceeded {
		t.Fatal(v.Snapshot.Status, v.Snapshot.Error)
	}
	assertAppliedOnce(t, rcv, 2)
	joins := 0
	for _, ev := range v.Journal {
		if ev.Type == EvBranchJoined {
			joins++
		}
	}
	if joins != 2 {
		t.Fatalf("joins %d", joins)
	}
}

func whilePB() *playbook.Playbook {
	return vars(newPB("playbook--while", "start--1",
		start("start--1", "while-condition--w"),
		&playbook.Step{ID: "while-condition--w", Type: playbook.StepWhileCondition, Condition: "__i__:value < 3", OnTrue: "action--inc", OnCompletion: "end--1"},
		act("action--inc", "action--note", "inc", map[string]any{"name": "__i__", "value": "__i__:value"}, "__i__"),
		act("action--note", "end--body", "ipost", map[string]any{"msg": "iteration __i__:value"}),
		end("end--body"), end("end--1"),
	), "__i__", "integer", "0")
}

func TestCrashInsideWhile(t *testing.T) {
	rcv := newReceiver(t)
	reg, _ := newReg(t, rcv)
	path := dbPath(t)
	o := crashOpts()
	hook, crashed := hookAt("dispatched", func(c Claim) bool { return strings.Contains(c.Inst, "#2/action--note") })
	o.Hook = hook
	e := openT(t, path, reg, o)
	id, _ := e.Start(context.Background(), whilePB(), 1, nil, "")
	crashAfter(t, e, crashed, nil, id)
	e = openT(t, path, reg, crashOpts())
	defer e.Close()
	v := runUntil(t, e, id, 5*time.Second)
	checkFold(t, v)
	if v.Snapshot.Status != StatusSucceeded || v.Snapshot.Vars["__i__"] != "3" {
		t.Fatal(v.Snapshot.Status, v.Snapshot.Error, v.Snapshot.Vars)
	}
	assertAppliedOnce(t, rcv, 3)
}

func approvalPB() *playbook.Playbook {
	s := act("action--ask", "", "", nil)
	s.Commands = []*playbook.Command{{Type: playbook.CmdManual, Command: "Isolate __host__:value?"}}
	s.Approval = &playbook.Approval{Roles: []string{"responder"}}
	s.OnCompletion, s.OnSuccess, s.OnFailure = "", "action--isolate", "end--no"
	return vars(newPB("playbook--approve", "start--1",
		start("start--1", "action--ask"), s,
		act("action--isolate", "end--1", "ipost", map[string]any{"msg": "isolate __host__:value"}),
		end("end--1"), end("end--no"),
	), "__host__", "string", nil)
}

func TestCrashWithApprovalPending(t *testing.T) {
	rcv := newReceiver(t)
	reg, _ := newReg(t, rcv)
	path := dbPath(t)
	e := openT(t, path, reg, crashOpts())
	id, _ := e.Start(context.Background(), approvalPB(), 1, map[string]any{"host": "web-1"}, "")
	crashAfter(t, e, nil, func(v *RunView) bool { return v.Snapshot.Status == StatusWaiting }, id)

	e = openT(t, path, reg, crashOpts())
	defer e.Close()
	qs, err := e.Inquiries(context.Background(), InquiryFilter{State: "open"})
	if err != nil || len(qs) != 1 || qs[0].Question != "Isolate web-1?" {
		t.Fatalf("inquiries %+v %v", qs, err)
	}
	if err := e.Answer(context.Background(), qs[0].ID, true, "", "mallory", []string{"viewer"}); err != ErrNotAssignee {
		t.Fatalf("non-assignee: %v", err)
	}
	if err := e.Answer(context.Background(), qs[0].ID, true, "go", "bob", []string{"responder"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Answer(context.Background(), qs[0].ID, true, "go", "carol", []string{"responder"}); err != ErrInquiryClosed {
		t.Fatalf("second answer: %v", err)
	}
	v := runUntil(t, e, id, 5*time.Second)
	checkFold(t, v)
	if v.Snapshot.Status != StatusSucceeded {
		t.Fatal(v.Snapshot.Status, v.Snapshot.Error)
	}
	assertAppliedOnce(t, rcv, 1)
}

func TestTimerDueWhileDown(t *testing.T) {
	rcv := newReceiver(t)
	reg, _ := newReg(t, rcv)
	path := dbPath(t)
	pb := postPB("ipost")
	pb.Steps["action--p"].Delay = 200 * time.Millisecond
	e := openT(t, path, reg, crashOpts())
	id, _ := e.Start(context.Background(), pb, 1, nil, "")
	e.Close()
	time.Sleep(250 * time.Millisecond) // the delay falls due while "down"
	e = openT(t, path, reg, crashOpts())
	defer e.Close()
	v := runUntil(t, e, id, 5*time.Second)
	checkFold(t, v)
	if v.Snapshot.Status != StatusSucceeded {
		t.Fatal(v.Snapshot.Status, v.Snapshot.Error)
	}
	fired := 0
	for _, ev := range v.Journal {
		if ev.Type == EvTimerFired {
			fired++
		}
	}
	if fired != 1 {
		t.Fatalf("timer fired %d times", fired)
	}
	assertAppliedOnce(t, rcv, 1)
}

// A result carrying a stale fence is refused (journalled as CommandLate).
func TestStaleFenceRefused(t *testing.T) {
	reg, _ := newReg(t, nil)
	e := openT(t, dbPath(t), reg, crashOpts())
	defer e.Close()
	ctx := context.Background()
	id, _ := e.Start(ctx, postPB("set"), 1, nil, "")
	var first, second []Claim
	now := time.Now()
	e.st.Update(ctx, func(tx Tx) error { first, _ = tx.Claim("w1", now, time.Millisecond, 1); return nil })
	e.st.Update(ctx, func(tx Tx) error { second, _ = tx.Claim("w2", now.Add(time.Second), time.Minute, 1); return nil })
	if len(first) != 1 || len(second) != 1 || second[0].Fence != first[0].Fence+1 {
		t.Fatalf("claims %+v %+v", first, second)
	}
	if err := e.execute(ctx, first[0]); err != nil {
		t.Fatal(err)
	}
	v, _ := e.GetRun(ctx, id)
	if last := v.Journal[len(v.Journal)-1]; last.Type != EvCommandLate {
		t.Fatalf("stale result applied: %s", last.Type)
	}
	if err := e.execute(ctx, second[0]); err != nil {
		t.Fatal(err)
	}
	v, _ = e.GetRun(ctx, id)
	checkFold(t, v)
	if v.Snapshot.Status != StatusSucceeded {
		t.Fatal(v.Snapshot.Status)
	}
}

// TestLongCallKeepsItsLease: a connector call four times longer than the
// task lease keeps its task (the lease is renewed while it runs), so no
// other worker claims it and calls again.
func TestLongCallKeepsItsLease(t *testing.T) {
	reg, conn := newReg(t, nil)
	conn.block = make(chan struct{})
	o := testOpts() // 300 ms lease, two workers
	e := openT(t, dbPath(t), reg, o)
	defer e.Close()
	id, err := e.Start(context.Background(), postPB("slow"), 1, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(4*o.Lease, func() { close(conn.block) })
	v := runUntil(t, e, id, 10*time.Second)
	if v.Snapshot.Status != StatusSucceeded {
		t.Fatalf("run %s", v.Snapshot.Status)
	}
	if n := conn.slows.Load(); n != 1 {
		t.Fatalf("the long call was made %d times, want once", n)
	}
}
