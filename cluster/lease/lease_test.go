package lease_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/cluster/lease"
	"github.com/riposte-soar/riposte/internal/jscluster"
)

const ttl = 2 * time.Second

// node is one elector with a connection of its own, to one server of the
// cluster.
type node struct {
	nc *nats.Conn
	el *lease.Elector
}

func newNode(t *testing.T, c *jscluster.Cluster, i int, name string) *node {
	t.Helper()
	nc, err := nats.Connect(c.ServerURL(i % len(c.Servers)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := lease.Bucket(ctx, js, "leases", ttl, 3)
	if err != nil {
		t.Fatal(err)
	}
	return &node{nc: nc, el: lease.New(kv, name, ttl)}
}

// Three nodes campaign for one job: one runs it at a time; when the holder
// dies (its connection cut: no renewal, no release), another takes over
// within the TTL and a third of it, with a larger fence; a holder that
// stops cleanly hands over at once.
func TestOneHolderFailoverFencing(t *testing.T) {
	c := jscluster.Start(t, 3)
	var running atomic.Int32
	var overlap atomic.Bool
	type tenure struct {
		node  string
		fence uint64
		start time.Time
	}
	starts := make(chan tenure, 10)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); wg.Wait() }()
	nodes := map[string]*node{}
	cancels := map[string]context.CancelFunc{}
	for i, name := range []string{"a", "b", "c"} {
		n := newNode(t, c, i, name)
		nodes[name] = n
		nctx, ncancel := context.WithCancel(ctx)
		cancels[name] = ncancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.el.Run(nctx, "alarm", nil, func(ctx context.Context, fence uint64) {
				if running.Add(1) > 1 {
					overlap.Store(true)
				}
				starts <- tenure{name, fence, time.Now()}
				<-ctx.Done()
				running.Add(-1)
			})
		}()
	}
	next := func(after time.Duration) tenure {
		t.Helper()
		select {
		case tn := <-starts:
			return tn
		case <-time.After(after):
			t.Fatalf("no holder within %s", after)
		}
		return tenure{}
	}
	first := next(10 * time.Second)
	// Nobody else starts while the holder renews.
	select {
	case tn := <-starts:
		t.Fatalf("%s started while %s held the lease", tn.node, first.node)
	case <-time.After(3 * ttl):
	}
	// The holder dies: its connection goes, it can neither renew nor
	// release.
	died := time.Now()
	nodes[first.node].nc.Close()
	second := next(3 * ttl)
	failover := second.start.Sub(died)
	t.Logf("failover after the holder died: %s (ttl %s)", failover.Round(time.Millisecond), ttl)
	if second.node == first.node || failover > ttl+ttl/3+500*time.Millisecond {
		t.Fatalf("second holder %s after %s", second.node, failover)
	}
	if second.fence <= first.fence {
		t.Fatalf("fence did not grow: %d then %d", first.fence, second.fence)
	}
	// A clean stop hands over at once.
	stopped := time.Now()
	cancels[second.node]()
	third := next(3 * ttl)
	handover := third.start.Sub(stopped)
	t.Logf("handover after a clean stop: %s", handover.Round(time.Millisecond))
	if third.node == first.node || third.node == second.node || handover > ttl/3+500*time.Millisecond {
		t.Fatalf("third holder %s after %s", third.node, handover)
	}
	if third.fence <= second.fence {
		t.Fatalf("fence did not grow: %d then %d", second.fence, third.fence)
	}
	if overlap.Load() {
		t.Fatal("two holders ran the job at once")
	}
	hs, err := lease.Holders(context.Background(), mustKV(t, nodes[third.node]))
	if err != nil || len(hs) != 1 || hs[0].Node != third.node || hs[0].Fence != third.fence {
		t.Fatalf("holders %+v, %v; want %s with fence %d", hs, err, third.node, third.fence)
	}
}

func mustKV(t *testing.T, n *node) jetstream.KeyValue {
	js, _ := jetstream.New(n.nc)
	kv, err := js.KeyValue(context.Background(), "leases")
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// A node that stops wanting a job (a preferred node joined) releases it,
// and one that wants it takes it.
func TestWantMovesTheJob(t *testing.T) {
	c := jscluster.Start(t, 3)
	a, b := newNode(t, c, 0, "a"), newNode(t, c, 1, "b")
	var preferB atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	holder := make(chan string, 4)
	for _, n := range []*node{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := n.el.Node()
			n.el.Run(ctx, "schedules", func() bool { return preferB.Load() == (name == "b") }, func(ctx context.Context, _ uint64) {
				holder <- name
				<-ctx.Done()
			})
		}()
	}
	if h := <-holder; h != "a" {
		t.Fatalf("holder %s, want a", h)
	}
	preferB.Store(true)
	select {
	case h := <-holder:
		if h != "b" {
			t.Fatalf("holder %s, want b", h)
		}
	case <-time.After(3 * ttl):
		t.Fatal("the job did not move to b")
	}
	if _, ok := a.el.Held("schedules"); ok {
		t.Fatal("a still holds the job")
	}
}

// Without a bucket (one node, embedded bus) the job runs at once.
func TestAlone(t *testing.T) {
	el := lease.New(nil, "solo", 0)
	ran := false
	el.Run(context.Background(), "alarm", nil, func(ctx context.Context, fence uint64) {
		_, held := el.Held("alarm")
		ran = held && fence == 1
	})
	if !ran {
		t.Fatal("job did not run as its holder")
	}
}
