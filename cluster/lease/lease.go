// Package lease elects one holder per job among the nodes of a cluster,
// on a replicated NATS KV bucket: work that must run once per cluster
// (the alarm stage, schedules, a correlation partition) runs on the node
// holding its job's lease, and moves when that node stops.
//
// A lease is one key of a bucket whose entries expire (bucket TTL, on the
// servers' clock): the holder rewrites it every TTL/3 with the revision it
// last wrote as compare-and-swap; a holder that stops renewing loses the key
// TTL after its last write, and another node creates it again. The revision
// of the write that took the lease is the fencing number: it only grows, so
// work handed a stale fence can be refused where it matters.
//
// The holder stops its work TTL after it *sent* its last successful
// renewal, which is no later than the key's expiry on the server: two
// holders never run at once as long as clocks run at the same rate.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket creates (or updates) the lease bucket for leases of ttl. A bucket
// holds leases of one TTL: its entries expire TTL after their last write.
func Bucket(ctx context.Context, js jetstream.JetStream, name string, ttl time.Duration, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: name, History: 1, TTL: ttl, Storage: jetstream.FileStorage, Replicas: replicas,
		Description: "riposte job leases",
	})
	if err != nil {
		return nil, fmt.Errorf("lease bucket %s: %w", name, err)
	}
	return kv, nil
}

// Record is what a lease key holds.
type Record struct {
	Node string `json:"node"`
	// Fence is the revision that took the lease (0 in the first write,
	// whose revision it is).
	Fence uint64 `json:"fence,omitempty"`
	// Since is when the holder took it.
	Since time.Time `json:"since"`
}

// Holder is a job's lease as read from the bucket.
type Holder struct {
	Job   string    `json:"job"`
	Node  string    `json:"node"`
	Fence uint64    `json:"fence"`
	Since time.Time `json:"since"`
	// Renewed is the time of the last renewal.
	Renewed time.Time `json:"renewed"`
}

// Holders lists the leases held now.
func Holders(ctx context.Context, kv jetstream.KeyValue) ([]Holder, error) {
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []Holder
	for k := range lister.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue // expired or released in between
		}
		var r Record
		if json.Unmarshal(e.Value(), &r) != nil {
			continue
		}
		if r.Fence == 0 {
			r.Fence = e.Revision()
		}
		out = append(out, Holder{Job: k, Node: r.Node, Fence: r.Fence, Since: r.Since, Renewed: e.Created()})
	}
	return out, nil
}

// Elector campaigns for jobs on behalf of one node.
type Elector struct {
	kv   jetstream.KeyValue
	node string
	ttl  time.Duration

	mu   sync.Mutex
	held map[string]uint64
	// OnChange, when set before the first Run, is told when this node
	// takes or loses a job (for metrics and logs).
	OnChange func(job string, held bool, fence uint64)
}

// New returns an elector of node on kv, whose leases last ttl (the
// bucket's TTL). With a nil kv the node is alone: every job is its own at
// once, with fence 1, at no cost.
func New(kv jetstream.KeyValue, node string, ttl time.Duration) *Elector {
	return &Elector{kv: kv, node: node, ttl: ttl, held: map[string]uint64{}}
}

// Node is the name the elector campaigns under.
func (e *Elector) Node() string { return e.node }

// Held reports whether this node holds job's lease, and its fence.
func (e *Elector) Held(job string) (uint64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.held[job]
	return f, ok
}

// HeldJobs lists the jobs this node holds.
func (e *Elector) HeldJobs() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]uint64, len(e.held))
	for k, v := range e.held {
		out[k] = v
	}
	return out
}

func (e *Elector) set(job string, fence uint64, held bool) {
	e.mu.Lock()
	if held {
		e.held[job] = fence
	} else {
		delete(e.held, job)
	}
	e.mu.Unlock()
	if e.OnChange != nil {
		e.OnChange(job, held, fence)
	}
}

// Run campaigns for job until ctx ends. While this node holds the lease,
// work runs with a context that ends when the lease is lost (or ctx ends)
// and the lease's fence; Run waits for work to return before campaigning
// again, and releases the lease at once when work returns or ctx ends, so
// another node takes over without waiting for the TTL.
//
// want, when not nil, says whether this node should hold the job now
// (balancing: the preferred node among the live ones): without it the node
// does not campaign, and a holder that stops wanting the job releases it.
func (e *Elector) Run(ctx context.Context, job string, want func() bool, work func(ctx context.Context, fence uint64)) {
	if e.kv == nil {
		e.set(job, 1, true)
		work(ctx, 1)
		e.set(job, 0, false)
		return
	}
	poll := e.ttl / 3
	for ctx.Err() == nil {
		if want == nil || want() {
			if rev, since, ok := e.acquire(ctx, job); ok {
				e.hold(ctx, job, rev, since, want, work)
				continue
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
}

// acquire takes job's lease if it is free (or left by this node's previous
// life, under the same name).
func (e *Elector) acquire(ctx context.Context, job string) (uint64, time.Time, bool) {
	since := time.Now().UTC()
	val, _ := json.Marshal(Record{Node: e.node, Since: since})
	cur, err := e.kv.Get(ctx, job)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rev, err := e.kv.Create(ctx, job, val)
		return rev, since, err == nil
	case err != nil:
		return 0, since, false
	}
	var r Record
	if json.Unmarshal(cur.Value(), &r) != nil || r.Node != e.node {
		return 0, since, false
	}
	rev, err := e.kv.Update(ctx, job, val, cur.Revision())
	return rev, since, err == nil
}

// hold renews the lease every TTL/3 and runs work until the lease is lost,
// ctx ends, work returns or want turns false.
func (e *Elector) hold(ctx context.Context, job string, fence uint64, since time.Time, want func() bool, work func(context.Context, uint64)) {
	// The key was written no earlier than this, so it expires no earlier
	// than this plus the TTL: the work stops before anyone else can start.
	sent := time.Now()
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	e.set(job, fence, true)
	go func() {
		defer close(done)
		work(wctx, fence)
	}()
	rev := fence
	val, _ := json.Marshal(Record{Node: e.node, Fence: fence, Since: since})
	t := time.NewTicker(e.ttl / 3)
	defer t.Stop()
	release := true
loop:
	for {
		deadline := time.Until(sent.Add(e.ttl - e.ttl/10))
		select {
		case <-ctx.Done():
			break loop
		case <-done:
			break loop
		case <-time.After(deadline):
			release = false // expired: someone else may hold it already
			break loop
		case <-t.C:
		}
		if want != nil && !want() {
			break loop
		}
		start := time.Now()
		rctx, rcancel := context.WithTimeout(ctx, e.ttl/3)
		r, err := e.kv.Update(rctx, job, val, rev)
		rcancel()
		switch {
		case err == nil:
			rev, sent = r, start
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
			release = false // taken over or expired
			break loop
		}
		// Other errors (the bus is away): keep working until the deadline.
	}
	cancel()
	<-done
	e.set(job, 0, false)
	if release {
		// Only if still ours: a delete conditional on the last revision.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), e.ttl/3)
		_ = e.kv.Delete(dctx, job, jetstream.LastRevision(rev))
		dcancel()
	}
}
