package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/event"
)

// Pipeline is the Sink every source writes to: it stores batches on the
// events stream and returns once JetStream has acknowledged them.
type Pipeline struct {
	js         jetstream.JetStream
	maxPayload int
	metrics    *Metrics
}

// NewPipeline publishes to js. maxPayload bounds one bus message; larger
// batches are split.
func NewPipeline(js jetstream.JetStream, maxPayload int, m *Metrics) *Pipeline {
	return &Pipeline{js: js, maxPayload: maxPayload, metrics: m}
}

// SourceKind is the part of a source name before ":" ("file:/x" → "file").
func SourceKind(source string) string {
	k, _, _ := strings.Cut(source, ":")
	if k == "" {
		return "unknown"
	}
	return k
}

// Submit implements Sink.
func (p *Pipeline) Submit(ctx context.Context, batch []event.Event, dedupKey string) error {
	if len(batch) == 0 {
		return nil
	}
	start := time.Now()
	kind := SourceKind(batch[0].Source)
	subject := bus.EventsSubject + "." + kind
	chunks, err := Encode(batch, p.maxPayload)
	if err != nil {
		return err
	}
	futures := make([]jetstream.PubAckFuture, 0, len(chunks))
	for i, c := range chunks {
		msg := &nats.Msg{Subject: subject, Data: c, Header: nats.Header{}}
		if dedupKey != "" {
			msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s#%d", dedupKey, i))
		}
		f, err := p.js.PublishMsgAsync(msg)
		if err != nil {
			return bus.Classify(err)
		}
		futures = append(futures, f)
	}
	var firstErr error
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if firstErr == nil {
				firstErr = bus.Classify(err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if firstErr != nil {
		return firstErr
	}
	if p.metrics != nil {
		p.metrics.StoreSeconds.Observe(time.Since(start).Seconds())
	}
	return nil
}

// Encode turns a batch into bus messages of at most maxPayload bytes each,
// in the event wire format. A single event larger than maxPayload is an
// error: sources enforce a smaller event limit before they get here.
func Encode(batch []event.Event, maxPayload int) ([][]byte, error) {
	var chunks [][]byte
	msg := event.NewMessage(64 << 10)
	for i := range batch {
		mark := len(msg)
		msg = event.AppendWire(msg, &batch[i])
		if len(msg) <= maxPayload {
			continue
		}
		if mark == 1 {
			return nil, fmt.Errorf("event %d is %d bytes encoded, over the bus limit of %d", i, len(msg)-1, maxPayload)
		}
		// Move the event that did not fit into a fresh message.
		next := append(event.NewMessage(64<<10), msg[mark:]...)
		chunks = append(chunks, msg[:mark])
		msg = next
		if len(msg) > maxPayload {
			return nil, fmt.Errorf("event %d is %d bytes encoded, over the bus limit of %d", i, len(msg)-1, maxPayload)
		}
	}
	if len(msg) > 1 {
		chunks = append(chunks, msg)
	}
	return chunks, nil
}
