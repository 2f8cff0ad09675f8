package engine

import (
	"encoding/json"

	"context"
	"github.com/riposte-soar/riposte/playbook"
	"strings"
	"testing"
	"time"
)

// TestPolicyHoldsAnActionForAPerson: a policy asks a person before the
// command is first sent; approve sends it once, deny fails the step
// without sending anything.
func TestPolicyHoldsAnActionForAPerson(t *testing.T) {
	for _, approve := range []bool{true, false} {
		rcv := newReceiver(t)
		reg, _ := newReg(t, rcv)
		o := crashOpts()
		o.Policy = func(c CallSpec) (string, []string) {
			if c.Operation == "ipost" && strings.Contains(c.Text, "isolate") {
				return "Isolation of a criticality-5 asset needs a person: " + c.Text, []string{"responder"}
			}
			return "", nil
		}
		e := openT(t, dbPath(t), reg, o)
		pb := vars(newPB("playbook--policy", "start--1",
			start("start--1", "action--isolate"),
			act("action--isolate", "end--1", "ipost", map[string]any{"msg": "isolate __host__:value"}),
			end("end--1"),
		), "__host__", "string", nil)
		id, err := e.Start(context.Background(), pb, 1, map[string]any{"host": "dc-1"}, "")
		if err != nil {
			t.Fatal(err)
		}
		var qs []Inquiry
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.Run(ctx); close(done) }()
		deadline := time.Now().Add(5 * time.Second)
		for len(qs) == 0 && time.Now().Before(deadline) {
			qs, _ = e.Inquiries(context.Background(), InquiryFilter{State: "open"})
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		if len(qs) != 1 || qs[0].Kind != "policy" || !strings.Contains(qs[0].Question, "dc-1") {
			t.Fatalf("policy inquiry %+v", qs)
		}
		if sends, _ := rcv.counts(); len(sends) != 0 {
			t.Fatalf("sent before a person decided: %v", sends)
		}
		if err := e.Answer(context.Background(), qs[0].ID, approve, "", "bob", []string{"responder"}); err != nil {
			t.Fatal(err)
		}
		v := runUntil(t, e, id, 5*time.Second)
		checkFold(t, v)
		if approve {
			if v.Snapshot.Status != StatusSucceeded {
				t.Fatalf("approved: %s %s", v.Snapshot.Status, v.Snapshot.Error)
			}
			assertAppliedOnce(t, rcv, 1)
		} else {
			if v.Snapshot.Status == StatusSucceeded {
				t.Fatal("denied, yet the run succeeded")
			}
			if sends, _ := rcv.counts(); len(sends) != 0 {
				t.Fatalf("denied, yet sent: %v", sends)
			}
		}
		e.Close()
	}
}

// TestApprovalFormFillsOutArgs: the values a person gives with an
// approval become the step's out_args, which later steps use.
func TestApprovalFormFillsOutArgs(t *testing.T) {
	rcv := newReceiver(t)
	reg, _ := newReg(t, rcv)
	e := openT(t, dbPath(t), reg, crashOpts())
	defer e.Close()
	ask := act("action--ask", "", "", nil)
	ask.Commands = []*playbook.Command{{Type: playbook.CmdManual, Command: "Which VLAN?"}}
	ask.Approval = &playbook.Approval{Roles: []string{"responder"}}
	ask.OutArgs = []string{"__vlan__"}
	ask.OnCompletion = "action--use"
	pb := vars(newPB("playbook--form", "start--1",
		start("start--1", "action--ask"), ask,
		act("action--use", "end--1", "ipost", map[string]any{"msg": "move to vlan __vlan__:value"}),
		end("end--1"),
	), "__vlan__", "string", "")
	id, err := e.Start(context.Background(), pb, 1, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var qs []Inquiry
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); len(qs) == 0 && time.Now().Before(deadline); {
		qs, _ = e.Inquiries(context.Background(), InquiryFilter{State: "open"})
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if len(qs) != 1 || len(qs[0].Form) != 1 {
		t.Fatalf("inquiry %+v: want one with a one-field form", qs)
	}
	if err := e.AnswerForm(context.Background(), qs[0].ID, true, "", "bob", []string{"responder"}, map[string]any{"__vlan__": "quarantine-99"}); err != nil {
		t.Fatal(err)
	}
	v := runUntil(t, e, id, 5*time.Second)
	checkFold(t, v)
	if v.Snapshot.Status != StatusSucceeded {
		t.Fatalf("%s %s", v.Snapshot.Status, v.Snapshot.Error)
	}
	tr, err := e.Trace(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(tr)
	if !strings.Contains(string(b), "move to vlan quarantine-99") {
		t.Fatalf("the form value did not reach the next step: %s", b)
	}
	assertAppliedOnce(t, rcv, 1)
}
