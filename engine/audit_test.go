package engine

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

// Every run start, connector call and cancel is queued for the audit log
// in the transaction that makes it, and reaches the sink once; a failing
// sink keeps them queued for the next try.
func TestAuditOutbox(t *testing.T) {
	rcv := newReceiver(t)
	reg, _ := newReg(t, rcv)
	var mu sync.Mutex
	var got []AuditRecord
	failing := true
	o := testOpts()
	o.AuditSink = func(_ context.Context, recs []AuditRecord) error {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return errors.New("audit log unavailable")
		}
		got = append(got, recs...)
		return nil
	}
	e := openT(t, dbPath(t), reg, o)
	defer e.Close()
	ctx := context.Background()
	id, err := e.StartFrom(ctx, simplePB(), 1, map[string]any{"ip": "10.0.0.1"}, "inc-1",
		Origin{Actor: "trigger", Trigger: "incident", Incident: "inc-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Start(ctx, simplePB(), 1, map[string]any{"ip": "10.0.0.1"}, "inc-1"); !errors.Is(err, ErrDuplicateRun) {
		t.Fatalf("second start: %v", err)
	}
	runUntil(t, e, id, 5*time.Second)
	if err := e.FlushAudit(ctx); err == nil {
		t.Fatal("FlushAudit with a failing sink reported success")
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	if err := e.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.FlushAudit(ctx); err != nil { // nothing left: no repeats
		t.Fatal(err)
	}
	type row struct{ actor, action, target string }
	var rows []row
	for _, r := range got {
		rows = append(rows, row{r.Actor, r.Action, r.Target})
	}
	want := []row{
		{"trigger", "run.start", "run:" + id},
		{"run:" + id, "connector.call", "t.set"},
		{"run:" + id, "connector.call", "t.post"},
	}
	if len(rows) != len(want) {
		t.Fatalf("audit records %v, want %v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Fatalf("record %d: %v, want %v", i, rows[i], want[i])
		}
	}
	var start map[string]any
	if err := json.Unmarshal(got[0].Detail, &start); err != nil {
		t.Fatal(err)
	}
	if start["trigger"] != "incident" || start["incident"] != "inc-1" || start["playbook"] != "playbook--simple" {
		t.Fatalf("run.start detail %v", start)
	}
	var call map[string]any
	if err := json.Unmarshal(got[2].Detail, &call); err != nil {
		t.Fatal(err)
	}
	if call["outcome"] != "ok" || call["run"] != id {
		t.Fatalf("connector.call detail %v", call)
	}
}
