package detect

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/bus"
)

// StreamAlert is an alert with the stream position of its message (several
// alerts share a message).
type StreamAlert struct {
	Seq uint64 `json:"seq"`
	alert.Alert
}

// AlertReader reads the alerts stream, for people and tests that want to
// see what detection raised before the alarm stage groups it.
type AlertReader struct{ JS jetstream.JetStream }

// After returns up to limit alerts after stream sequence seq, oldest first.
func (r AlertReader) After(ctx context.Context, seq uint64, limit int) ([]StreamAlert, error) {
	st, err := r.JS.Stream(ctx, bus.AlertsStream)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.State.Msgs == 0 || seq >= info.State.LastSeq {
		return nil, nil
	}
	start := max(seq+1, info.State.FirstSeq)
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start,
	})
	if err != nil {
		return nil, err
	}
	want := min(uint64(limit), info.State.LastSeq-start+1)
	// Bounded in bytes too: an unbounded fetch of many large messages on
	// the node's shared connection would get it cut off as a slow consumer.
	batch, err := cons.Fetch(int(want), jetstream.FetchMaxBytes(bus.FetchBytes), jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		return nil, err
	}
	var out []StreamAlert
	for m := range batch.Messages() {
		as, err := alert.DecodeMessage(m.Data())
		if err != nil {
			continue
		}
		var seq uint64
		if md, err := m.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
		for _, a := range as {
			out = append(out, StreamAlert{Seq: seq, Alert: a})
		}
	}
	return out, batch.Error()
}
