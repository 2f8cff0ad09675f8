package cluster

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riposte-soar/riposte/cluster/lease"
)

// Status is the cluster as one node sees it (GET /api/v1/cluster).
type Status struct {
	// Node is the node that answered; Mode is "single" (embedded bus) or
	// "cluster".
	Node string `json:"node"`
	Mode string `json:"mode"`
	// Nodes are the live nodes (those whose heartbeat has not expired).
	Nodes []NodeInfo `json:"nodes"`
	// Leaders hold the jobs that run once per cluster.
	Leaders []lease.Holder `json:"leaders"`
	// Partitions are the correlation partitions and who owns each (an
	// empty owner: none at the moment, for instance during a handover).
	Partitions []PartitionOwner `json:"partitions"`
	// Consumers are the durable consumers and their backlogs.
	Consumers []ConsumerLag `json:"consumers"`
	NATS      Health        `json:"nats"`
	Database  Health        `json:"database"`
}

// PartitionOwner is one correlation partition.
type PartitionOwner struct {
	Partition int    `json:"partition"`
	Owner     string `json:"owner"`
	Fence     uint64 `json:"fence,omitempty"`
}

// Health is one dependency's state.
type Health struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Server is the NATS server the node is connected to, Cluster its
	// cluster's name, Replicas the replication the node creates with.
	Server   string `json:"server,omitempty"`
	Cluster  string `json:"cluster,omitempty"`
	Replicas int    `json:"replicas,omitempty"`
}

// Streams whose consumers Status and the metrics report.
var Streams = []string{"EVENTS", "ALERTS", "CORRELATE"}

// Status gathers the cluster's state; db checks the database.
func (r *Runtime) Status(ctx context.Context, db func(context.Context) error) Status {
	st := Status{Node: r.opts.Node, Mode: "cluster", Nodes: []NodeInfo{}, Leaders: []lease.Holder{}, Partitions: []PartitionOwner{}}
	if r.Alone() {
		st.Mode = "single"
	}
	st.NATS = r.natsHealth(ctx)
	if err := db(ctx); err != nil {
		st.Database.Error = err.Error()
	} else {
		st.Database.OK = true
	}
	if ns, err := r.Nodes(ctx); err == nil {
		st.Nodes = ns
	}
	if hs, err := r.Leaders(ctx); err == nil {
		for _, h := range hs {
			if strings.HasPrefix(h.Job, "correlate.p") {
				continue
			}
			st.Leaders = append(st.Leaders, h)
		}
		if !r.Alone() {
			owners := map[string]lease.Holder{}
			for _, h := range hs {
				owners[h.Job] = h
			}
			for p := 0; p < r.opts.Partitions; p++ {
				h := owners[PartitionJob(p)]
				st.Partitions = append(st.Partitions, PartitionOwner{Partition: p, Owner: h.Node, Fence: h.Fence})
			}
		}
	}
	if ls, err := Lags(ctx, r.b.JS, Streams...); err == nil {
		st.Consumers = ls
	} else {
		st.Consumers = ls
		if st.NATS.OK {
			st.NATS.OK, st.NATS.Error = false, err.Error()
		}
	}
	if st.Consumers == nil {
		st.Consumers = []ConsumerLag{}
	}
	return st
}

func (r *Runtime) natsHealth(ctx context.Context) Health {
	h := Health{Server: r.b.Conn.ConnectedUrlRedacted(), Cluster: r.b.Conn.ConnectedClusterName(), Replicas: r.b.Replicas}
	if err := r.Ready(ctx); err != nil {
		h.Error = err.Error()
		return h
	}
	h.OK = true
	return h
}

// Ready reports whether the node's bus answers: connected, and JetStream
// responding (in a cluster: a meta leader elected, so streams can be used).
func (r *Runtime) Ready(ctx context.Context) error {
	if !r.b.Connected() {
		return errNotConnected
	}
	if r.Alone() {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := r.b.JS.AccountInfo(actx); err != nil {
		return err
	}
	return nil
}

type statusError string

func (e statusError) Error() string { return string(e) }

const errNotConnected = statusError("not connected to the bus")

// lagCollector exports each consumer's backlog at scrape time.
type lagCollector struct{ r *Runtime }

var (
	pendingDesc = prometheus.NewDesc("riposte_consumer_pending",
		"Messages a durable consumer has not yet been delivered (JetStream num_pending).", []string{"stream", "consumer"}, nil)
	ackPendingDesc = prometheus.NewDesc("riposte_consumer_ack_pending",
		"Messages delivered to a durable consumer and not yet acknowledged.", []string{"stream", "consumer"}, nil)
)

func (c lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- pendingDesc; ch <- ackPendingDesc }

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ls, _ := Lags(ctx, c.r.b.JS, Streams...)
	for _, l := range ls {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(l.Pending), l.Stream, l.Consumer)
		ch <- prometheus.MustNewConstMetric(ackPendingDesc, prometheus.GaugeValue, float64(l.AckPending), l.Stream, l.Consumer)
	}
}
