package cluster_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/cluster"
	"github.com/riposte-soar/riposte/internal/jscluster"
)

const ttl = 2 * time.Second

type testNode struct {
	b      *bus.Bus
	rt     *cluster.Runtime
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// join starts a node's runtime against the cluster, on a bus of its own.
func join(t *testing.T, c *jscluster.Cluster, name string) *testNode {
	t.Helper()
	b, err := bus.Start(bus.Config{URL: c.URL()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithCancel(context.Background())
	rt, err := cluster.Start(ctx, b, cluster.Options{Node: name, Version: "test", TTL: ttl, Partitions: 16})
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{b: b, rt: rt, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(n.done); rt.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-n.done })
	return n
}

// die makes a node vanish as a crash would: its connections close, it
// neither renews nor releases anything.
func (n *testNode) die() { n.b.Close() }

// A schedule ticking on three nodes fires once per slot, also when the
// node running it dies in the middle of the run.
func TestScheduleOncePerSlot(t *testing.T) {
	c := jscluster.Start(t, 3)
	var mu sync.Mutex
	fired := map[string][]string{} // slot -> nodes
	nodes := map[string]*testNode{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); wg.Wait() }()
	const slotLen = 500 * time.Millisecond
	for _, name := range []string{"a", "b", "c"} {
		n := join(t, c, name)
		nodes[name] = n
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.rt.Singleton(ctx, cluster.JobSchedules, func(ctx context.Context, _ uint64) {
				tk := time.NewTicker(50 * time.Millisecond)
				defer tk.Stop()
				last := ""
				for {
					select {
					case <-ctx.Done():
						return
					case now := <-tk.C:
						slot := now.Truncate(slotLen).Format(time.RFC3339Nano)
						if slot == last {
							continue
						}
						ok, err := n.rt.ClaimSlot(ctx, "pb-1", slot)
						if err != nil || !ok {
							continue
						}
						last = slot
						mu.Lock()
						fired[slot] = append(fired[slot], name)
						mu.Unlock()
					}
				}
			})
		}()
	}
	time.Sleep(3 * time.Second)
	// The holder dies; another node carries on.
	holder := ""
	for name, n := range nodes {
		if _, ok := n.rt.Elector.Held(cluster.JobSchedules); ok {
			holder = name
		}
	}
	if holder == "" {
		t.Fatal("nobody holds the schedules job")
	}
	nodes[holder].die()
	time.Sleep(3 * ttl)
	mu.Lock()
	defer mu.Unlock()
	after := 0
	for slot, by := range fired {
		if len(by) > 1 {
			t.Errorf("slot %s fired on %v", slot, by)
		}
		if by[0] != holder {
			after++
		}
	}
	t.Logf("%d slots fired, %d of them after %s died", len(fired), after, holder)
	if after < 4 {
		t.Fatalf("only %d slots fired after the holder died", after)
	}
}

// Jobs spread over the live nodes by preference, and every job has one
// holder; when a node leaves, its jobs move to the others.
func TestJobsSpreadAndMove(t *testing.T) {
	c := jscluster.Start(t, 3)
	var nodes []*testNode
	for _, name := range []string{"a", "b", "c"} {
		nodes = append(nodes, join(t, c, name))
	}
	time.Sleep(ttl) // every node sees the others
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for _, n := range nodes {
		nctx, ncancel := context.WithCancel(ctx)
		context.AfterFunc(n.ctx, ncancel)
		for p := 0; p < 16; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.rt.Partition(nctx, p, func(ctx context.Context, _ uint64) { <-ctx.Done() })
			}()
		}
	}
	held := func() map[string]int {
		per := map[string]int{}
		for _, n := range nodes {
			for range n.rt.Elector.HeldJobs() {
				per[n.rt.Node()]++
			}
		}
		return per
	}
	waitAll := func(want int) map[string]int {
		deadline := time.Now().Add(4 * ttl)
		for {
			per := held()
			total := 0
			for _, v := range per {
				total += v
			}
			if total == want {
				return per
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d jobs held: %v", total, want, per)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	per := waitAll(16)
	t.Logf("jobs per node: %v", per)
	for name, k := range per {
		if k < 5 || k > 6 {
			t.Fatalf("%s owns %d partitions, want 5 or 6: %v", name, k, per)
		}
	}
	hs, err := nodes[0].rt.Leaders(context.Background())
	if err != nil || len(hs) != 16 {
		t.Fatalf("leaders %d, %v", len(hs), err)
	}
	// c stops cleanly: its jobs move to a and b.
	start := time.Now()
	nodes[2].cancel()
	nodes = nodes[:2]
	per = waitAll(16)
	t.Logf("after c left, in %s: %v", time.Since(start).Round(time.Millisecond), per)
	if per["a"] != 8 || per["b"] != 8 {
		t.Fatalf("after c left: %v, want 8 each", per)
	}
	ns, err := nodes[0].rt.Nodes(context.Background())
	if err != nil || len(ns) != 2 {
		t.Fatalf("nodes %+v, %v", ns, err)
	}
}
