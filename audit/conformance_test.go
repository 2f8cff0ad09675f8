package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/pgtest"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

// The audit log's tests hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestIntactChainVerifies, TestEmptyChainVerifies, TestTamperingIsDetected,
		TestAppendAfterVerifyContinuesChain, TestImportIsIdempotent, TestWritersOfSeveralNodesKeepOneChain)
}

// Several nodes appending at once (several handles on one database) make
// one chain: every entry present, in one order, verifying.
func TestWritersOfSeveralNodesKeepOneChain(t *testing.T) {
	target := storetest.Target(t)
	const nodes, each = 3, 15
	logs := make([]*Log, nodes)
	for i := range logs {
		logs[i] = New(storetest.OpenAt(t, target, store.ControlSchema))
	}
	var wg sync.WaitGroup
	errs := make(chan error, nodes*each)
	for i, l := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				errs <- l.Append(context.Background(), "cli", "token.create", fmt.Sprintf("n%d-%d", i, j), nil)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	n, brk, err := logs[0].Verify(context.Background())
	if err != nil || brk != nil || n != nodes*each {
		t.Fatalf("Verify = %d, %v, %v; want %d entries and no break", n, brk, err, nodes*each)
	}
}

// The chain's hashes do not depend on the database: the same entries give
// the same hashes in SQLite and in PostgreSQL, so a log moved from one to
// the other verifies.
func TestHashesAgreeAcrossDatabases(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	var es []Imported
	for i := range 5 {
		es = append(es, Imported{ID: int64(i + 1), At: at.Add(time.Duration(i) * time.Second), Actor: "playbook:r1",
			Action: "decision.add", Target: fmt.Sprintf("decision:%d", i), Detail: []byte(`{"target":"203.0.113.7/32","é":"ü"}`)})
	}
	var got [][]string
	for _, target := range []string{filepath.Join(t.TempDir(), "r.db"), pgtest.URL(t)} {
		l := New(storetest.OpenAt(t, target, store.ControlSchema))
		if err := l.Import(context.Background(), "engine", es); err != nil {
			t.Fatal(err)
		}
		list, err := l.List(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var hs []string
		for _, e := range list {
			hs = append(hs, e.Hash)
		}
		got = append(got, hs)
	}
	if len(got[0]) != len(es) || !slices.Equal(got[0], got[1]) {
		t.Fatalf("hashes differ:\nsqlite   %v\npostgres %v", got[0], got[1])
	}
}

// BenchmarkAppend measures one audited change, committed (set
// RIPOSTE_TEST_STORE=postgres for PostgreSQL).
func BenchmarkAppend(b *testing.B) {
	l := New(storetest.Control(b))
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := l.Append(ctx, "cli", "token.create", fmt.Sprintf("t%d", i), nil); err != nil {
			b.Fatal(err)
		}
	}
}
