package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/playbook"
)

func simplePB() *playbook.Playbook {
	return vars(newPB("playbook--simple", "start--1",
		start("start--1", "action--set"),
		act("action--set", "if-condition--c", "set", map[string]any{"name": "__n__", "value": "7"}, "__n__"),
		&playbook.Step{ID: "if-condition--c", Type: playbook.StepIfCondition, Condition: "__n__:value > 5",
			OnTrue: "action--post", OnFalse: "end--else", OnCompletion: "end--1"},
		act("action--post", "end--then", "post", map[string]any{"msg": "n is __n__:value for __ip__:value"}),
		end("end--then"), end("end--else"), end("end--1"),
	), "__n__", "integer", "0", "__ip__", "ipv4-addr", nil)
}

func TestSimpleRun(t *testing.T) {
	rcv := newReceiver(t)
	reg, _ := newReg(t, rcv)
	e := openT(t, dbPath(t), reg, testOpts())
	defer e.Close()
	ctx := context.Background()
	id, err := e.Start(ctx, simplePB(), 1, map[string]any{"ip": "10.0.0.1"}, "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	if id2, err := e.Start(ctx, simplePB(), 1, map[string]any{"ip": "10.0.0.1"}, "inc-1"); !errors.Is(err, ErrDuplicateRun) || id2 != id {
		t.Fatalf("dedup: %v %v", id2, err)
	}
	v := runUntil(t, e, id, 5*time.Second)
	checkFold(t, v)
	if v.Snapshot.Status != StatusSucceeded {
		t.Fatalf("status %s: %s", v.Snapshot.Status, v.Snapshot.Error)
	}
	if v.Snapshot.Vars["__n__"] != "7" {
		t.Fatalf("vars %v", v.Snapshot.Vars)
	}
	sends, _ := rcv.counts()
	if len(sends) != 1 {
		t.Fatalf("sends %v", sends)
	}
	tr, _ := e.Trace(ctx, id)
	t.Logf("%s", tr.JSON())
}
