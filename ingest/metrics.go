package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the ingest counters every source updates, exposed on /metrics.
type Metrics struct {
	Accepted     *prometheus.CounterVec // events stored, by source kind
	Rejected     *prometheus.CounterVec // events refused, by source kind and reason
	Bytes        *prometheus.CounterVec // bytes received, by source kind
	StoreSeconds prometheus.Histogram   // time from publish to JetStream acknowledgement
}

// NewMetrics registers the ingest metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riposte_ingest_events_accepted_total", Help: "Events stored on the event stream, by source.",
		}, []string{"source"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riposte_ingest_events_rejected_total", Help: "Events refused, by source and reason (malformed, too_large, too_slow, rate_limited, overloaded, store_failed).",
		}, []string{"source", "reason"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riposte_ingest_bytes_total", Help: "Bytes received by ingest sources.",
		}, []string{"source"}),
		StoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "riposte_ingest_store_seconds", Help: "Time from publishing a batch to its durable acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	reg.MustRegister(m.Accepted, m.Rejected, m.Bytes, m.StoreSeconds)
	return m
}
