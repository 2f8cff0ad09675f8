package alarm

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/bus"
)

// ConsumerName is the alarm stage's durable consumer on the alerts stream.
const ConsumerName = "alarm"

// EnsureConsumer creates the alarm consumer. Alerts published before it
// existed are delivered too (the alerts stream keeps history).
func EnsureConsumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	return js.CreateOrUpdateConsumer(ctx, bus.AlertsStream, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       15 * time.Second,
		MaxAckPending: 20000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
}

// Run consumes alerts until ctx ends. Messages are acknowledged after their
// batch is committed; a crash in between redelivers them, and ApplyBatch
// skips the ones already applied, so no alert is lost or counted twice.
//
// Two steps overlap: while one batch is written to the database, the next
// is fetched, decoded and placed in memory.
func (s *Service) Run(ctx context.Context, cons jetstream.Consumer, tick time.Duration) {
	type job struct {
		p    *prepared
		msgs []jetstream.Msg
	}
	jobs := make(chan job, 1)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for j := range jobs {
			// A failed or stale batch stays unacknowledged: it is delivered
			// again and applied then.
			switch err := s.commit(context.WithoutCancel(ctx), j.p); {
			case err == nil:
				for _, m := range j.msgs {
					_ = m.Ack()
				}
			case !errors.Is(err, errStale):
				s.log.Error("alarm batch not stored; it will be delivered again", "alerts", len(j.p.alerts), "err", err)
			}
		}
	}()
	defer func() {
		close(jobs)
		<-writerDone
	}()
	t := time.NewTicker(tick)
	defer t.Stop()
	for ctx.Err() == nil {
		select {
		case <-t.C:
			if err := s.Tick(ctx, time.Now().UTC()); err != nil && ctx.Err() == nil {
				s.log.Warn("SLA tick", "err", err)
			}
		default:
		}
		batch, err := bus.Fetch(cons, 20, bus.FetchBytes, 100*time.Millisecond)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("alarm fetch failed", "err", err)
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		var msgs []jetstream.Msg
		var alerts []alert.Alert
		for _, m := range batch {
			as, err := alert.DecodeMessage(m.Data())
			if err != nil {
				s.log.Error("alarm: undecodable alert message skipped", "err", err)
				_ = m.Term()
				continue
			}
			msgs = append(msgs, m)
			alerts = append(alerts, as...)
		}
		if len(msgs) == 0 {
			continue
		}
		p, err := s.prepare(context.WithoutCancel(ctx), alerts, time.Now().UTC())
		if err != nil {
			s.log.Error("alarm batch not placed; it will be delivered again", "alerts", len(alerts), "err", err)
			continue
		}
		jobs <- job{p, msgs}
	}
}
