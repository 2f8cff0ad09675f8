package detect

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/bus"
)

// StreamAlert is an alert with its position on the alerts stream.
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
	batch, err := cons.Fetch(int(want), jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		return nil, err
	}
	var out []StreamAlert
	for m := range batch.Messages() {
		var a StreamAlert
		if err := json.Unmarshal(m.Data(), &a.Alert); err != nil {
			continue
		}
		if md, err := m.Metadata(); err == nil {
			a.Seq = md.Sequence.Stream
		}
		out = append(out, a)
	}
	return out, batch.Error()
}
