package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/ingest"
)

// ConsumerName is the durable JetStream consumer the store reads through.
const ConsumerName = "eventstore"

// EnsureConsumer creates the store's durable consumer. It must exist before
// any source publishes: the stream keeps messages only for consumers that
// exist (interest retention).
func EnsureConsumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	return js.CreateOrUpdateConsumer(ctx, bus.EventsStream, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       2 * time.Minute,
		MaxAckPending: 20000,
		FilterSubject: bus.EventsSubject + ".>",
	})
}

// Consume writes events from the stream into the store until ctx ends. Each
// fetched group of messages is inserted in one transaction and acknowledged
// only after it commits; a crash in between redelivers it, and Insert skips
// the IDs it already has.
func (s *Store) Consume(ctx context.Context, cons jetstream.Consumer, stored func(n int), log *slog.Logger) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		batch, err := cons.Fetch(512, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("event store fetch failed", "err", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		var msgs []jetstream.Msg
		var evs []event.Event
		for m := range batch.Messages() {
			msgs = append(msgs, m)
			dec, err := ingest.Decode(m.Data())
			if err != nil {
				// A message this version cannot read stays in the stream for
				// a person to look at instead of being dropped.
				log.Error("event store: undecodable message left unacknowledged", "subject", m.Subject(), "err", err)
				_ = m.Term()
				msgs = msgs[:len(msgs)-1]
				continue
			}
			evs = append(evs, dec...)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, jetstream.ErrNoMessages) {
			log.Debug("event store fetch ended", "err", err)
		}
		if len(msgs) == 0 {
			continue
		}
		for {
			n, err := s.Insert(context.WithoutCancel(ctx), evs)
			if err == nil {
				if stored != nil {
					stored(n)
				}
				break
			}
			log.Error("event store insert failed, retrying", "events", len(evs), "err", err)
			select {
			case <-ctx.Done():
				return fmt.Errorf("event store stopped with %d events not yet written (they stay on the stream): %w", len(evs), err)
			case <-time.After(time.Second):
			}
		}
		for _, m := range msgs {
			_ = m.Ack()
		}
	}
}
