package detect

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/event"
)

// ConsumerName is detection's durable consumer on the events stream.
const ConsumerName = "detect"

// EnsureConsumer creates detection's durable consumer; like every consumer
// of the events stream it must exist before sources publish.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	return js.CreateOrUpdateConsumer(ctx, bus.EventsStream, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       15 * time.Second,
		MaxAckPending: 4096,
		FilterSubject: bus.EventsSubject + ".>",
	})
}

// Publisher sends alerts to the alerts stream, many to a message: the
// stream fsyncs each message, so one per alert would cap detection at the
// disk's sync rate. Alert ids are derived from what raised them, so a batch
// raised again after a crash carries the same ids and the alarm stage
// applies each alert once.
type Publisher struct{ JS jetstream.JetStream }

// dedupKey names "this alert for this input": rule and first event, or
// correlation and window.
func dedupKey(a *alert.Alert) string {
	switch {
	case a.Correlation != nil:
		// The window's end alone is not enough: event times are often whole
		// seconds (syslog), and a group that fires again within the same
		// second would get the first hit's id and be dropped as a
		// redelivery. The window's first event tells the two apart, and is
		// the same when a batch is processed again after a crash.
		first := ""
		if len(a.EventIDs) > 0 {
			first = a.EventIDs[0]
		}
		return fmt.Sprintf("%s|%s|%d|%s", a.Rule.ID, a.Fingerprint, a.Correlation.WindowEnd.UnixNano(), first)
	case a.Indicator != nil && len(a.EventIDs) > 0:
		return a.Rule.ID + "|" + a.Indicator.Field + "|" + a.EventIDs[0]
	case len(a.EventIDs) > 0:
		return a.Rule.ID + "|" + a.EventIDs[0]
	}
	return a.Rule.ID + "|" + a.Detected.String()
}

// AlertID derives an alert's ULID from its dedup key: the time part is the
// alert's event time, the rest a hash of the key.
func AlertID(a *alert.Alert) string {
	t := a.Time
	if t.IsZero() {
		t = a.Detected
	}
	return StableID(t, dedupKey(a))
}

// StableID is the ULID of an alert raised at t for key: the same key and
// time give the same id, so a resend is applied once by the alarm stage.
// Alerts from other detectors use it with the source's own ids as key.
func StableID(t time.Time, key string) string {
	h := sha256.Sum256([]byte(key))
	var id ulid.ULID
	_ = id.SetTime(ulid.Timestamp(t))
	_ = id.SetEntropy(h[:10])
	return id.String()
}

// maxAlertsPerMessage keeps alert messages well under the bus payload limit.
const maxAlertsPerMessage = 500

// Publish stores alerts and waits for every acknowledgement.
func (p Publisher) Publish(ctx context.Context, alerts []alert.Alert) error {
	var futs []jetstream.PubAckFuture
	for lo := 0; lo < len(alerts); lo += maxAlertsPerMessage {
		chunk := alerts[lo:min(lo+maxAlertsPerMessage, len(alerts))]
		for i := range chunk {
			if chunk[i].ID == "" {
				chunk[i].ID = AlertID(&chunk[i])
			}
		}
		b, err := json.Marshal(chunk)
		if err != nil {
			return err
		}
		f, err := p.JS.PublishMsgAsync(&nats.Msg{Subject: bus.AlertsSubject + "." + string(chunk[0].Kind), Data: b})
		if err != nil {
			return err
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Run consumes events until ctx ends. A message is acknowledged only after
// the alerts it raised are stored, so a crash never loses a detection.
//
// beforeAck, when set, runs after a batch's alerts are stored and before its
// events are acknowledged: the node saves correlation state there, so a
// crash either redelivers the events to the state saved before them, or
// finds them counted in the state saved after them. In a cluster it also
// sends the batch's matches to their correlation partitions; when it fails
// the events stay unacknowledged and come again.
func Run(ctx context.Context, cons jetstream.Consumer, e *Engine, pub Publisher, beforeAck func() error, log *slog.Logger) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var pending []alert.Alert
	emit := func(a alert.Alert) { pending = append(pending, a) }
	flush := func() bool {
		for len(pending) > 0 {
			err := pub.Publish(context.WithoutCancel(ctx), pending)
			if err == nil {
				pending = pending[:0]
				return true
			}
			log.Warn("alerts not stored, retrying", "alerts", len(pending), "err", err)
			select {
			case <-ctx.Done():
				return false
			case <-time.After(500 * time.Millisecond):
			}
		}
		return true
	}
	for ctx.Err() == nil {
		select {
		case <-tick.C:
			e.Tick(time.Now(), emit)
			if !flush() {
				return nil
			}
		default:
		}
		batch, err := bus.Fetch(cons, 32, bus.FetchBytes, 200*time.Millisecond)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("detect fetch failed", "err", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		var msgs []jetstream.Msg
		for _, m := range batch {
			ws, err := event.DecodeMessage(m.Data())
			if err != nil {
				log.Error("detect: undecodable event message skipped", "err", err)
				_ = m.Term()
				continue
			}
			now := time.Now()
			for i := range ws {
				ev, err := ws[i].Event()
				if err != nil {
					log.Warn("detect: event skipped", "id", ws[i].ID, "err", err)
					continue
				}
				e.Process(&ev, now, emit)
			}
			msgs = append(msgs, m)
		}
		if !flush() {
			return nil
		}
		if beforeAck != nil && len(msgs) > 0 {
			if err := beforeAck(); err != nil {
				log.Warn("detect: batch not acknowledged, it will come again", "events_messages", len(msgs), "err", err)
				continue
			}
		}
		for _, m := range msgs {
			_ = m.Ack()
		}
	}
	return nil
}
