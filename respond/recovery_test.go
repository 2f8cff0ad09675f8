package respond

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

// firewall is a connector whose block records an unblock as its undo, and
// which counts what it was asked to do.
type firewall struct {
	mu    sync.Mutex
	calls []string
}

func (f *firewall) Spec() connector.Spec { return connector.Spec{Name: "fw"} }

func (f *firewall) Simulate(context.Context, connector.Call) (connector.Result, error) {
	return connector.Result{}, nil
}

func (f *firewall) Execute(_ context.Context, c connector.Call) (connector.Result, error) {
	ip, _ := c.Args["ip"].(string)
	f.mu.Lock()
	f.calls = append(f.calls, c.Operation+" "+ip)
	f.mu.Unlock()
	if c.Operation == "block" {
		return connector.Result{Summary: "blocked " + ip, Undo: &connector.Undo{Connector: "fw", Operation: "unblock",
			Args: map[string]any{"ip": ip}, Summary: "unblock " + ip}}, nil
	}
	return connector.Result{Summary: "unblocked " + ip}, nil
}

func (f *firewall) made() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// block records n blocks for incident inc through the ledger's wrapper.
func block(t *testing.T, l *Ledger, fw *firewall, inc string, n int) *connector.Registry {
	t.Helper()
	reg := connector.NewRegistry()
	if err := reg.Register(fw); err != nil {
		t.Fatal(err)
	}
	rec, err := l.Recording(reg)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := rec.Get("fw")
	for i := range n {
		if _, err := c.Execute(context.Background(), connector.Call{Operation: "block", Incident: inc, RunID: "r1",
			StepID: fmt.Sprintf("s%d", i), Args: map[string]any{"ip": fmt.Sprintf("10.0.0.%d", i+1)}}); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// Recovery undoes an incident's actions newest first, once: a second
// recovery has nothing left to do, and another incident's actions stay.
func TestRecoveryUndoesInReverseOnce(t *testing.T) {
	db := storetest.Control(t)
	l := NewLedger(db)
	fw := &firewall{}
	reg := block(t, l, fw, "inc-1", 3)
	block(t, l, fw, "inc-2", 1)
	var notes []string
	steps, err := l.Recover(context.Background(), reg, "inc-1", "alice", func(text string, _ map[string]any) { notes = append(notes, text) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"block 10.0.0.1", "block 10.0.0.2", "block 10.0.0.3", "block 10.0.0.1", "unblock 10.0.0.3", "unblock 10.0.0.2", "unblock 10.0.0.1"}
	if got := fw.made(); !slices.Equal(got, want) {
		t.Fatalf("calls %v\nwant  %v", got, want)
	}
	if len(steps) != 3 || len(notes) != 3 || !steps[0].OK {
		t.Fatalf("steps %+v notes %v", steps, notes)
	}
	again, err := l.Recover(context.Background(), reg, "inc-1", "alice", nil)
	if err != nil || len(again) != 0 {
		t.Fatalf("second recovery did %+v, %v; want nothing", again, err)
	}
	es, err := l.Entries(context.Background(), "inc-2")
	if err != nil || len(es) != 1 || es[0].DoneAt != nil {
		t.Fatalf("inc-2's entries %+v, %v; want its one block still to undo", es, err)
	}
}

// Nodes sharing the database that recover one incident at the same time
// undo each action once between them.
func TestRecoveriesOfSeveralNodesUndoOnce(t *testing.T) {
	target := storetest.Target(t)
	fw := &firewall{}
	var ledgers []*Ledger
	for range 3 {
		ledgers = append(ledgers, NewLedger(storetest.OpenAt(t, target, store.ControlSchema)))
	}
	reg := block(t, ledgers[0], fw, "inc-1", 4)
	var wg sync.WaitGroup
	for _, l := range ledgers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Recover(context.Background(), reg, "inc-1", "system", nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	n := 0
	for _, c := range fw.made() {
		if c[:7] == "unblock" {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("%d unblocks for 4 blocks: %v", n, fw.made())
	}
}

// The recovery ledger's tests hold on SQLite and on PostgreSQL.
func TestRecoveryConformance(t *testing.T) {
	storetest.Suite(t, TestRecoveryUndoesInReverseOnce, TestRecoveriesOfSeveralNodesUndoOnce, TestPutRefusesMissingSecret)
}
