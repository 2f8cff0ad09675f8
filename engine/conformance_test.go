package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/storetest"
)

// The engine's tests, crashes and restarts included, hold on SQLite and on
// PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestAuditOutbox, TestCrashBeforeClaim, TestCrashAfterDispatchIdempotent,
		TestCrashAfterDispatchUnknownOutcome, TestCrashDuringParallelJoin, TestCrashInsideWhile,
		TestCrashWithApprovalPending, TestTimerDueWhileDown, TestStaleFenceRefused, TestSimpleRun,
		TestTimeoutRoutesOnFailure, TestPolicyHoldsAnActionForAPerson, TestApprovalFormFillsOutArgs,
		TestClaimsOfSeveralNodesNeverOverlap, TestExpiredLeaseMovesWithANewFence)
}

func TestEngineSchemasAgree(t *testing.T) {
	// start_key holds a NUL, which PostgreSQL's text refuses.
	storetest.SchemasAgree(t, Schema, "runs.start_key")
}

// seedTasks writes one run with n ready tasks, due at due.
func seedTasks(t *testing.T, s Store, n int, due time.Time) {
	t.Helper()
	now := due.Add(-time.Second)
	snap := &Snapshot{RunID: "run-1", PlaybookID: "pb", Version: 1, Status: StatusRunning, Seq: int64(n), Created: now, Updated: now}
	var evs []Event
	var raw [][]byte
	for i := range n {
		evs = append(evs, Event{Seq: int64(i + 1), Type: EvTaskScheduled, At: now, Inst: fmt.Sprintf("a%d", i), Step: "a",
			TaskID: fmt.Sprintf("task-%03d", i), Cmd: 1, Attempt: 1, Due: due.UnixNano(), IdemKey: fmt.Sprintf("key-%03d", i),
			Call: &CallSpec{Connector: "c", Operation: "op"}})
		raw = append(raw, []byte(`{}`))
	}
	if err := s.Update(context.Background(), func(tx Tx) error { return tx.Append(snap, evs, raw, true) }); err != nil {
		t.Fatal(err)
	}
}

// Workers of several nodes claiming the same tasks at once: every task is
// leased exactly once while its lease lasts, and each lease carries a fence.
func TestClaimsOfSeveralNodesNeverOverlap(t *testing.T) {
	target := storetest.Target(t)
	const nodes, workers, tasks = 2, 3, 60
	stores := make([]Store, nodes)
	for i := range stores {
		s, err := OpenStore(target, "normal")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	seedTasks(t, stores[0], tasks, now)
	var mu sync.Mutex
	held := map[string][]string{}
	var wg sync.WaitGroup
	errs := make(chan error, nodes*workers)
	for n, s := range stores {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("node%d/w%d", n, w)
				for {
					var got []Claim
					err := s.Update(context.Background(), func(tx Tx) error {
						var err error
						got, err = tx.Claim(owner, now, time.Hour, 4)
						return err
					})
					if err != nil {
						errs <- err
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, c := range got {
						held[c.TaskID] = append(held[c.TaskID], fmt.Sprintf("%s fence %d", owner, c.Fence))
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(held) != tasks {
		t.Errorf("%d tasks leased, want all %d", len(held), tasks)
	}
	for id, by := range held {
		if len(by) != 1 {
			t.Errorf("%s leased %d times within its lease: %v", id, len(by), by)
		}
	}
}

// A lease that runs out moves to another node with a higher fence; the
// first holder's late result is refused and the new holder's accepted.
func TestExpiredLeaseMovesWithANewFence(t *testing.T) {
	target := storetest.Target(t)
	a, err := OpenStore(target, "normal")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenStore(target, "normal")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	seedTasks(t, a, 1, now)
	claim := func(s Store, owner string, at time.Time) []Claim {
		t.Helper()
		var got []Claim
		if err := s.Update(context.Background(), func(tx Tx) error {
			var err error
			got, err = tx.Claim(owner, at, time.Minute, 10)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	guard := func(s Store, c Claim) bool {
		t.Helper()
		var ok bool
		if err := s.Update(context.Background(), func(tx Tx) error {
			var err error
			ok, err = tx.GuardTask(c.TaskID, c.Fence)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	first := claim(a, "a", now)
	if len(first) != 1 {
		t.Fatalf("first claim got %d tasks, want 1", len(first))
	}
	if again := claim(b, "b", now.Add(30*time.Second)); len(again) != 0 {
		t.Fatalf("node b leased %v while a's lease runs", again)
	}
	second := claim(b, "b", now.Add(2*time.Minute))
	if len(second) != 1 || second[0].Fence <= first[0].Fence {
		t.Fatalf("after expiry b got %+v, want the task with a fence above %d", second, first[0].Fence)
	}
	if second[0].EffectState != "sending" {
		t.Errorf("b sees effect state %q, want sending (a may have sent it)", second[0].EffectState)
	}
	if guard(a, first[0]) {
		t.Fatal("a's stale fence was accepted")
	}
	if !guard(b, second[0]) {
		t.Fatal("b's current fence was refused")
	}
}
