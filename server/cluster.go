package server

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/cluster"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/detect"
	"github.com/riposte-soar/riposte/detect/correlate"
)

// startCluster joins the cluster of an external NATS, or stands alone on
// the embedded bus.
func startCluster(ctx context.Context, cfg config.Config, b *bus.Bus, reg prometheus.Registerer, version string, log *slog.Logger) (*cluster.Runtime, error) {
	node := cfg.Cluster.Node
	if node == "" {
		node, _ = os.Hostname()
		if node == "" {
			node = "riposte"
		}
	}
	address := cfg.PublicURL
	if address == "" {
		address = cfg.HTTP.Listen
	}
	rt, err := cluster.Start(ctx, b, cluster.Options{Node: node, Version: version, Address: address,
		TTL: cfg.Cluster.LeaseTTL.D(), Partitions: cfg.Cluster.Partitions, Log: log})
	if err != nil {
		return nil, err
	}
	rt.RegisterMetrics(reg)
	if !rt.Alone() {
		log.Info("cluster: joined", "node", node, "members", rt.Members(), "replicas", b.Replicas)
	}
	return rt, nil
}

// sharedStores reports whether the nodes share their databases. Work on
// the stores (decision expiry, retention) runs once per cluster only then;
// with a SQLite file per node, each node runs it on its own.
func sharedStores(cfg config.Config) bool { return cfg.Database.URL != "" }

// storeJob runs work once per cluster when the stores are shared, and on
// every node when each has its own.
func storeJob(ctx context.Context, cfg config.Config, rt *cluster.Runtime, job string, work func(ctx context.Context)) {
	if !sharedStores(cfg) || rt.Alone() {
		work(ctx)
		return
	}
	rt.Singleton(ctx, job, func(ctx context.Context, _ uint64) { work(ctx) })
}

// runAlarm runs the alarm stage on the node holding its lease; a node that
// takes it over first reloads what the previous holder committed.
func runAlarm(ctx context.Context, rt *cluster.Runtime, run func(ctx context.Context), reload func(ctx context.Context) error, log *slog.Logger) {
	rt.Singleton(ctx, cluster.JobAlarm, func(ctx context.Context, fence uint64) {
		if !rt.Alone() {
			if err := reload(ctx); err != nil {
				log.Error("alarm stage: state not reloaded on takeover", "err", err)
			}
			log.Info("alarm stage: running on this node", "fence", fence)
			start := time.Now()
			defer func() { log.Info("alarm stage: handed over", "held", time.Since(start).Round(time.Millisecond)) }()
		}
		run(ctx)
	})
}

// partitionCorrelations makes detection send the matches correlations
// count to their partitions, in a cluster, and returns what runs the
// partitions this node owns. Alone, correlations count in detection as
// they always did, and it returns nil.
func partitionCorrelations(ctx context.Context, cfg config.Config, d *detection, b *bus.Bus, rt *cluster.Runtime, log *slog.Logger) (func(ctx context.Context), error) {
	if rt.Alone() {
		return nil, nil
	}
	_, js, err := b.Connect("correlate")
	if err != nil {
		return nil, err
	}
	state, err := detect.EnsureMatches(ctx, js, rt.Partitions(), b.Replicas)
	if err != nil {
		return nil, err
	}
	d.router = &detect.Router{JS: d.js, Partitions: rt.Partitions()}
	d.engine.SetRouter(d.router)
	part := &detect.Partition{Engine: d.engine, Opts: correlate.Options{MaxGroupsPerRule: cfg.Detect.Correlation.MaxGroups},
		JS: js, State: state, N: rt.Partitions(), Log: log}
	return func(ctx context.Context) {
		done := make(chan struct{})
		for p := 0; p < rt.Partitions(); p++ {
			go func() {
				defer func() { done <- struct{}{} }()
				job := cluster.PartitionJob(p)
				rt.Partition(ctx, p, func(ctx context.Context, fence uint64) {
					held := func() bool { f, ok := rt.Elector.Held(job); return ok && f == fence && ctx.Err() == nil }
					if err := part.Run(ctx, p, held); err != nil && ctx.Err() == nil {
						log.Error("correlation partition stopped", "partition", p, "err", err)
						time.Sleep(time.Second)
					}
				})
			}()
		}
		for p := 0; p < rt.Partitions(); p++ {
			<-done
		}
	}, nil
}

// changedSubject carries, between the nodes of a cluster, that rules or
// playbooks were changed through one node's API: the others share the
// stores but keep compiled rules and armed triggers in memory.
const changedSubject = "riposte.cluster.changed"

// followChanges makes a change through this node reload on the others,
// and reloads this node on theirs. A node that misses a notice (cut off
// from NATS at that moment) catches up at its next change or restart.
func followChanges(ctx context.Context, b *bus.Bus, rt *cluster.Runtime, rules *detect.Manager, playbooks interface {
	Reload(context.Context) error
}, log *slog.Logger) (func(), func(), error) {
	if rt.Alone() {
		return nil, nil, nil
	}
	announce := func(what string) func() {
		return func() {
			m := nats.NewMsg(changedSubject)
			m.Header.Set("Node", rt.Node())
			m.Data = []byte(what)
			if err := b.Conn.PublishMsg(m); err != nil {
				log.Warn("cluster: change not announced to the other nodes", "what", what, "err", err)
			}
		}
	}
	_, err := b.Conn.Subscribe(changedSubject, func(m *nats.Msg) {
		if m.Header.Get("Node") == rt.Node() {
			return
		}
		var err error
		switch string(m.Data) {
		case "rules":
			err = rules.Reload(ctx)
		case "playbooks":
			err = playbooks.Reload(ctx)
		}
		if err != nil {
			log.Error("cluster: reload after another node's change", "what", string(m.Data), "err", err)
		}
	})
	return announce("rules"), announce("playbooks"), err
}
