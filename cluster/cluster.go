// Package cluster is the runtime that lets several `riposte serve` nodes
// share one NATS JetStream cluster: each node heartbeats into a replicated
// bucket (the members), work that must run once per cluster runs under a
// lease (package lease) on the node the job prefers among the live ones
// (rendezvous hashing, so jobs and correlation partitions spread over the
// nodes and move as little as possible when one joins or leaves), and
// Status reports nodes, leaders, partitions and consumer lags.
//
// With the embedded bus a node is alone: every job is its own at once,
// nothing is written, and it behaves as a single node always did.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/cluster/lease"
)

// Bucket names.
const (
	NodesBucket  = "riposte_nodes"
	LeasesBucket = "riposte_leases"
	SlotsBucket  = "riposte_schedule_slots"
)

// Jobs that run once per cluster.
const (
	JobAlarm          = "alarm"
	JobSchedules      = "schedules"
	JobDecisionExpiry = "decision-expiry"
	JobRetention      = "retention"
)

// Options configure a node's runtime.
type Options struct {
	// Node is this node's name; Version and Address are shown to others.
	Node, Version, Address string
	// TTL is the lease TTL: a dead node's jobs move within about this.
	TTL time.Duration
	// Partitions is the number of correlation partitions.
	Partitions int
	Log        *slog.Logger
}

// NodeInfo is what a node publishes about itself.
type NodeInfo struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Address string    `json:"address,omitempty"`
	Started time.Time `json:"started"`
	// LastSeen is the time of its last heartbeat.
	LastSeen time.Time `json:"last_seen"`
	// Jobs are the jobs and partitions it holds, by its own account.
	Jobs []string `json:"jobs,omitempty"`
}

// Runtime is one node's part of the cluster.
type Runtime struct {
	opts    Options
	b       *bus.Bus
	Elector *lease.Elector
	nodes   jetstream.KeyValue // nil when alone
	leases  jetstream.KeyValue
	slots   jetstream.KeyValue
	started time.Time

	mu      sync.Mutex
	members []string // live nodes, sorted; always includes this one
	leader  *prometheus.GaugeVec
}

// Start joins the cluster of b (or stands alone on an embedded bus).
func Start(ctx context.Context, b *bus.Bus, opts Options) (*Runtime, error) {
	if opts.TTL <= 0 {
		opts.TTL = 5 * time.Second
	}
	if opts.Partitions <= 0 {
		opts.Partitions = 16
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{opts: opts, b: b, started: time.Now().UTC(), members: []string{opts.Node}}
	if b.Embedded() {
		r.Elector = lease.New(nil, opts.Node, opts.TTL)
		return r, nil
	}
	var err error
	if r.leases, err = lease.Bucket(ctx, b.JS, LeasesBucket, opts.TTL, b.Replicas); err != nil {
		return nil, err
	}
	if r.nodes, err = b.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: NodesBucket, History: 1, TTL: opts.TTL,
		Description: "riposte nodes: heartbeats"}); err != nil {
		return nil, err
	}
	if r.slots, err = b.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: SlotsBucket, History: 1,
		Description: "riposte schedules: the last slot started, per playbook"}); err != nil {
		return nil, err
	}
	r.Elector = lease.New(r.leases, opts.Node, opts.TTL)
	// A live node of the same name would share this one's leases. A
	// heartbeat left by this node's previous life (a crash) expires within
	// the TTL; one that is renewed meanwhile is another node's.
	if e, err := r.nodes.Get(ctx, opts.Node); err == nil {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(opts.TTL / 2):
		}
		if e2, err := r.nodes.Get(ctx, opts.Node); err == nil && e2.Revision() != e.Revision() {
			var ni NodeInfo
			_ = json.Unmarshal(e2.Value(), &ni)
			return nil, fmt.Errorf("cluster.node %q: another live node has that name (started %s): give each node its own name",
				opts.Node, ni.Started.Format(time.RFC3339))
		}
	}
	if err := r.heartbeat(ctx); err != nil {
		return nil, err
	}
	r.refresh(ctx)
	return r, nil
}

// Alone reports whether this node runs without a cluster.
func (r *Runtime) Alone() bool { return r.nodes == nil }

// Node is this node's name.
func (r *Runtime) Node() string { return r.opts.Node }

// Partitions is the number of correlation partitions.
func (r *Runtime) Partitions() int { return r.opts.Partitions }

// RegisterMetrics exports leadership per job (riposte_cluster_leader).
func (r *Runtime) RegisterMetrics(reg prometheus.Registerer) {
	r.leader = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "riposte_cluster_leader",
		Help: "1 when this node holds the job's lease (runs it for the cluster), else 0."}, []string{"job"})
	reg.MustRegister(r.leader, lagCollector{r})
	r.Elector.OnChange = func(job string, held bool, fence uint64) {
		v := 0.0
		if held {
			v = 1
		}
		r.leader.WithLabelValues(job).Set(v)
		if !r.Alone() {
			r.opts.Log.Info("cluster lease", "job", job, "held", held, "fence", fence)
		}
	}
}

// Run heartbeats and follows the membership until ctx ends, then leaves
// (deletes its heartbeat, so its preferred jobs move at once).
func (r *Runtime) Run(ctx context.Context) {
	if r.Alone() {
		return
	}
	t := time.NewTicker(r.opts.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = r.nodes.Delete(dctx, r.opts.Node)
			cancel()
			return
		case <-t.C:
		}
		if err := r.heartbeat(ctx); err != nil && ctx.Err() == nil {
			r.opts.Log.Warn("cluster heartbeat", "err", err)
		}
		r.refresh(ctx)
	}
}

func (r *Runtime) heartbeat(ctx context.Context) error {
	jobs := make([]string, 0)
	for j := range r.Elector.HeldJobs() {
		jobs = append(jobs, j)
	}
	sort.Strings(jobs)
	val, _ := json.Marshal(NodeInfo{Name: r.opts.Node, Version: r.opts.Version, Address: r.opts.Address,
		Started: r.started, Jobs: jobs})
	hctx, cancel := context.WithTimeout(ctx, r.opts.TTL/3)
	defer cancel()
	_, err := r.nodes.Put(hctx, r.opts.Node, val)
	return err
}

func (r *Runtime) refresh(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, r.opts.TTL/3)
	defer cancel()
	names := []string{r.opts.Node}
	l, err := r.nodes.ListKeys(lctx)
	if err != nil {
		return // keep the last view
	}
	for k := range l.Keys() {
		if k != r.opts.Node {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	r.mu.Lock()
	r.members = names
	r.mu.Unlock()
}

// Members are the live nodes as this node sees them.
func (r *Runtime) Members() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.members)
}

// Preferred is the live node that should run job: the highest rendezvous
// hash of (node, job).
func (r *Runtime) Preferred(job string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	best, bestH := "", uint64(0)
	for _, n := range r.members {
		h := fnv.New64a()
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write([]byte(job))
		if v := mix(h.Sum64()); best == "" || v > bestH {
			best, bestH = n, v
		}
	}
	return best
}

// mix spreads FNV's output (its high bits vary little for similar keys).
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// Singleton runs work on one node of the cluster at a time until ctx
// ends: on this node while it holds job's lease (see lease.Elector.Run).
// Alone, work simply runs.
func (r *Runtime) Singleton(ctx context.Context, job string, work func(ctx context.Context, fence uint64)) {
	r.Elector.Run(ctx, job, func() bool { return r.Preferred(job) == r.opts.Node }, work)
}

// PartitionJob is the lease name of correlation partition p.
func PartitionJob(p int) string { return fmt.Sprintf("correlate.p%03d", p) }

// PreferredPartition is the live node that should own partition p: the
// partitions are dealt round the sorted members, so each node owns its
// share (rendezvous hashing of 16 partitions over 3 nodes gave 8, 6 and 2).
func (r *Runtime) PreferredPartition(p int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.members[p%len(r.members)]
}

// Partition runs work while this node owns partition p (see Singleton).
func (r *Runtime) Partition(ctx context.Context, p int, work func(ctx context.Context, fence uint64)) {
	r.Elector.Run(ctx, PartitionJob(p), func() bool { return r.PreferredPartition(p) == r.opts.Node }, work)
}

// Nodes lists the live nodes.
func (r *Runtime) Nodes(ctx context.Context) ([]NodeInfo, error) {
	if r.Alone() {
		jobs := []string{}
		for j := range r.Elector.HeldJobs() {
			jobs = append(jobs, j)
		}
		sort.Strings(jobs)
		return []NodeInfo{{Name: r.opts.Node, Version: r.opts.Version, Address: r.opts.Address, Started: r.started,
			LastSeen: time.Now().UTC(), Jobs: jobs}}, nil
	}
	l, err := r.nodes.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []NodeInfo
	for k := range l.Keys() {
		e, err := r.nodes.Get(ctx, k)
		if err != nil {
			continue
		}
		var ni NodeInfo
		if json.Unmarshal(e.Value(), &ni) != nil {
			continue
		}
		ni.LastSeen = e.Created().UTC()
		out = append(out, ni)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Leaders lists who holds each job's lease.
func (r *Runtime) Leaders(ctx context.Context) ([]lease.Holder, error) {
	if r.Alone() {
		var out []lease.Holder
		for j, f := range r.Elector.HeldJobs() {
			out = append(out, lease.Holder{Job: j, Node: r.opts.Node, Fence: f, Since: r.started, Renewed: time.Now().UTC()})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Job < out[j].Job })
		return out, nil
	}
	hs, err := lease.Holders(ctx, r.leases)
	sort.Slice(hs, func(i, j int) bool { return hs[i].Job < hs[j].Job })
	return hs, err
}

// ConsumerLag is one durable consumer's backlog.
type ConsumerLag struct {
	Stream   string `json:"stream"`
	Consumer string `json:"consumer"`
	// Pending are messages not yet delivered; AckPending delivered and
	// not yet acknowledged.
	Pending    uint64 `json:"pending"`
	AckPending int    `json:"ack_pending"`
	// Replicas of the consumer's state.
	Replicas int `json:"replicas"`
}

// Lags reads the backlog of every consumer of the given streams.
func Lags(ctx context.Context, js jetstream.JetStream, streams ...string) ([]ConsumerLag, error) {
	var out []ConsumerLag
	var errs []error
	for _, name := range streams {
		st, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("stream %s: %w", name, err))
			continue
		}
		l := st.ListConsumers(ctx)
		for ci := range l.Info() {
			out = append(out, ConsumerLag{Stream: name, Consumer: ci.Name, Pending: ci.NumPending,
				AckPending: ci.NumAckPending, Replicas: ci.Config.Replicas})
		}
		if err := l.Err(); err != nil {
			errs = append(errs, fmt.Errorf("stream %s consumers: %w", name, err))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Stream != out[j].Stream {
			return out[i].Stream < out[j].Stream
		}
		return out[i].Consumer < out[j].Consumer
	})
	return out, errors.Join(errs...)
}

// ClaimSlot records that playbook's schedule slot is being started, once
// for the cluster: false when it was already (by a holder of the schedules
// job that died after starting it). Alone it always answers true: the
// engine's own dedup key covers a single node.
func (r *Runtime) ClaimSlot(ctx context.Context, playbook, slot string) (bool, error) {
	if r.Alone() {
		return true, nil
	}
	h := fnv.New64a()
	h.Write([]byte(playbook))
	key := fmt.Sprintf("pb_%016x", h.Sum64())
	cctx, cancel := context.WithTimeout(ctx, r.opts.TTL)
	defer cancel()
	e, err := r.slots.Get(cctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err = r.slots.Create(cctx, key, []byte(slot))
	case err != nil:
		return false, err
	case string(e.Value()) == slot:
		return false, nil
	default:
		_, err = r.slots.Update(cctx, key, []byte(slot), e.Revision())
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return false, nil // claimed by someone else meanwhile
	}
	return err == nil, err
}
