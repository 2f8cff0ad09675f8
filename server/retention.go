package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/eventstore"
)

type retentionMetrics struct {
	pruned, pinsExpired, short prometheus.Counter
	pinnedBytes                prometheus.Gauge
}

func newRetentionMetrics(reg prometheus.Registerer) *retentionMetrics {
	m := &retentionMetrics{
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "riposte_eventstore_events_pruned_total", Help: "Events removed by retention."}),
		pinsExpired: prometheus.NewCounter(prometheus.CounterOpts{Name: "riposte_eventstore_pins_expired_total",
			Help: "Pins on alert evidence dropped: past retention.pinned_share (oldest first) or retention.max_age."}),
		short: prometheus.NewCounter(prometheus.CounterOpts{Name: "riposte_eventstore_retention_over_bytes_total",
			Help: "Retention runs that left the event store above retention.max_bytes because every event left is pinned evidence."}),
		pinnedBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "riposte_eventstore_pinned_bytes",
			Help: "Estimated bytes of events kept from size-based pruning as alert evidence."}),
	}
	reg.MustRegister(m.pruned, m.pinsExpired, m.short, m.pinnedBytes)
	return m
}

// setupPins gives the event store its consumer on the alerts stream, on a
// connection of its own; the alerts stream must exist (setupDetect).
func setupPins(ctx context.Context, b *bus.Bus) (jetstream.Consumer, error) {
	_, js, err := b.Connect("eventstore-pins")
	if err != nil {
		return nil, err
	}
	cons, err := eventstore.EnsurePinConsumer(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("event store consumer on alerts: %w", err)
	}
	return cons, nil
}

func retention(ctx context.Context, s *eventstore.Store, rc config.Retention, m *retentionMetrics, log *slog.Logger) {
	r := eventstore.Retention{MaxAge: rc.MaxAge.D(), MaxBytes: int64(rc.MaxBytes), PinnedShare: rc.PinnedShare}
	if r.MaxAge <= 0 && r.MaxBytes <= 0 {
		return
	}
	every := rc.Interval.D()
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := s.Prune(ctx, r, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Warn("retention", "err", err)
		}
		m.pruned.Add(float64(res.Events))
		m.pinsExpired.Add(float64(res.PinsExpired))
		if r.MaxBytes > 0 {
			m.pinnedBytes.Set(float64(res.PinnedBytes))
		}
		if res.PinsExpired > 0 {
			log.Warn("retention: pins on alert evidence expired; those events can now be pruned",
				"pins", res.PinsExpired, "pinned_bytes", res.PinnedBytes, "pinned_share", r.PinnedShare)
		}
		if res.OverBytes > 0 {
			m.short.Inc()
			log.Warn("retention: event store stays above retention.max_bytes: what is left is alert evidence",
				"over_bytes", res.OverBytes, "max_bytes", r.MaxBytes, "pinned_bytes", res.PinnedBytes)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// watchAlerts makes visible what the alerts stream's limits could do under
// a flood: the stream discards its oldest messages when full (it keeps
// history, limits retention), so alerts the alarm stage has not read yet
// can go. It exports the alarm consumer's backlog and counts, and logs,
// alerts that left the stream before the alarm stage received them.
func watchAlerts(ctx context.Context, js jetstream.JetStream, alarmCons jetstream.Consumer, reg prometheus.Registerer, every time.Duration, log *slog.Logger) {
	pending := prometheus.NewGauge(prometheus.GaugeOpts{Name: "riposte_alerts_alarm_pending",
		Help: "Alert messages on the alerts stream the alarm stage has not yet processed."})
	lost := prometheus.NewCounter(prometheus.CounterOpts{Name: "riposte_alerts_discarded_unprocessed_total",
		Help: "Alert messages the alerts stream discarded (full or too old) before the alarm stage received them."})
	reg.MustRegister(pending, lost)
	var lostThrough uint64
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := js.Stream(ctx, bus.AlertsStream)
		if err != nil {
			continue
		}
		si, err := st.Info(ctx)
		if err != nil {
			continue
		}
		ci, err := alarmCons.Info(ctx)
		if err != nil {
			continue
		}
		pending.Set(float64(ci.NumPending + uint64(ci.NumAckPending)))
		// Everything below the stream's first sequence is gone; what of
		// it the consumer had not been delivered was never processed.
		seen := max(ci.Delivered.Stream, lostThrough)
		if first := si.State.FirstSeq; first > seen+1 {
			n := first - 1 - seen
			lost.Add(float64(n))
			lostThrough = first - 1
			log.Error("alerts stream discarded alerts the alarm stage had not received: they raise no incident",
				"alerts_messages", n, "stream_bytes", si.State.Bytes, "stream_max_bytes", si.Config.MaxBytes)
		}
	}
}
