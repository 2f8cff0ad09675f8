package eventstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/event"
)

// ConsumerName is the durable JetStream consumer the store reads through.
const ConsumerName = "eventstore"

// EnsureConsumer creates the store's durable consumer. It must exist before
// any source publishes: the stream keeps messages only for consumers that
// exist (interest retention).
func EnsureConsumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	return js.CreateOrUpdateConsumer(ctx, bus.EventsStream, jetstream.ConsumerConfig{
		Durable:   ConsumerName,
		AckPolicy: jetstream.AckExplicitPolicy,
		// A short AckWait matters after a crash: messages delivered but not
		// acknowledged before it are redelivered only once it passes.
		// Batches are small enough to be written well within it.
		AckWait:       15 * time.Second,
		MaxAckPending: 4096,
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
		// 32 messages of up to a thousand events each: one transaction
		// that takes well under AckWait even on a busy machine.
		batch, err := bus.Fetch(cons, 32, bus.FetchBytes, 100*time.Millisecond)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("event store fetch failed", "err", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		var msgs []jetstream.Msg
		var evs []event.Wire
		for _, m := range batch {
			msgs = append(msgs, m)
			dec, err := event.DecodeMessage(m.Data())
			if err != nil {
				// Redelivery cannot help a message this version cannot
				// read: terminate it and say which one it was.
				meta, _ := m.Metadata()
				var seq uint64
				if meta != nil {
					seq = meta.Sequence.Stream
				}
				log.Error("event store: undecodable message skipped", "subject", m.Subject(), "stream_seq", seq, "err", err)
				_ = m.Term()
				msgs = msgs[:len(msgs)-1]
				continue
			}
			evs = append(evs, dec...)
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
