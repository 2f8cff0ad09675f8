package server

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

// TestFirstRunOnceAcrossNodes: nodes of a cluster starting together on one
// database make one console user and one admin token between them, and all
// of them start (without the lock, the second "admin" was refused and its
// node stopped).
func TestFirstRunOnceAcrossNodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, target string) {
		const nodes = 4
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		var dbs []*store.DB
		for i := 0; i < nodes; i++ {
			// One handle per node, as separate processes would have.
			dbs = append(dbs, storetest.OpenAt(t, target, store.ControlSchema))
		}
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		for i := 0; i < nodes; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db := dbs[i]
				users := auth.NewUsers(db, auth.UserOptions{Hash: auth.HashParams{Memory: 1024, Time: 1, Threads: 1}})
				errs[i] = firstRun(context.Background(), t.TempDir(), db, users, auth.NewStore(db), audit.New(db), log)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("node %d did not start: %v", i, err)
			}
		}
		ctx := context.Background()
		list, err := auth.NewUsers(dbs[0], auth.UserOptions{}).List(ctx)
		if err != nil || len(list) != 1 || list[0].Name != "admin" {
			t.Fatalf("console users after %d nodes started: %+v (%v), want the one admin", nodes, list, err)
		}
		if n, err := auth.NewStore(dbs[0]).Count(ctx); err != nil || n != 1 {
			t.Fatalf("%d admin tokens (%v), want 1", n, err)
		}
	})
}
