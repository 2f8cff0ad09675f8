// Package natsin takes events from a NATS subject, for shippers that already
// publish there (Vector, Fluent Bit, Benthos). A message holds one JSON
// object, NDJSON, or a syslog line. A message sent as a request gets its
// answer only once its events are stored, so such a shipper knows exactly
// what Riposte holds; plain publishes are at-most-once, as NATS core is.
package natsin

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/ingest"
	"github.com/riposte-soar/riposte/normalize"
	"github.com/riposte-soar/riposte/parse/ndjson"
	"github.com/riposte-soar/riposte/parse/syslog"
)

// SampleConfig is the part of riposte.yaml this source reads.
//
//go:embed sample.conf
var SampleConfig string

// Config of one subscription.
type Config struct {
	Subject       string
	Queue         string // queue group, so several Riposte nodes share a subject
	MaxEventBytes int
	BatchMessages int           // messages per stored batch (default 256)
	FlushEvery    time.Duration // default 10ms
}

// Reply is the answer to a request.
type Reply struct {
	Accepted int      `json:"accepted"`
	Rejected int      `json:"rejected"`
	Errors   []string `json:"errors,omitempty"`
}

// Source is one running subscription.
type Source struct {
	cfg     Config
	sink    ingest.Sink
	metrics *ingest.Metrics
	log     *slog.Logger
	sub     *nats.Subscription
	msgs    chan *nats.Msg
}

const source = "nats"

// Subscribe starts receiving on nc. Run must be called to store.
func Subscribe(nc *nats.Conn, cfg Config, sink ingest.Sink, m *ingest.Metrics, log *slog.Logger) (*Source, error) {
	if cfg.BatchMessages <= 0 {
		cfg.BatchMessages = 256
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 10 * time.Millisecond
	}
	if cfg.MaxEventBytes <= 0 {
		cfg.MaxEventBytes = 256 << 10
	}
	s := &Source{cfg: cfg, sink: sink, metrics: m, log: log, msgs: make(chan *nats.Msg, 8192)}
	var err error
	if cfg.Queue != "" {
		s.sub, err = nc.ChanQueueSubscribe(cfg.Subject, cfg.Queue, s.msgs)
	} else {
		s.sub, err = nc.ChanSubscribe(cfg.Subject, s.msgs)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

type pending struct {
	msg   *nats.Msg
	reply Reply
	n     int // events of this message in the batch
}

// Run stores messages until ctx ends, then unsubscribes after draining
// what was already received.
func (s *Source) Run(ctx context.Context) {
	var batch []event.Event
	var waiting []pending
	t := time.NewTimer(time.Hour)
	t.Stop()
	flush := func() {
		if len(waiting) == 0 {
			return
		}
		err := s.sink.Submit(context.WithoutCancel(ctx), batch, "")
		for _, p := range waiting {
			if err != nil {
				p.reply.Rejected += p.n
				p.reply.Errors = append(p.reply.Errors, "not stored: "+err.Error())
				s.metrics.Rejected.WithLabelValues(source, "store_failed").Add(float64(p.n))
			} else {
				p.reply.Accepted += p.n
				s.metrics.Accepted.WithLabelValues(source).Add(float64(p.n))
			}
			if p.msg.Reply != "" {
				b, _ := json.Marshal(p.reply)
				_ = p.msg.Respond(b)
			}
		}
		batch, waiting = batch[:0], waiting[:0]
	}
	for {
		select {
		case <-ctx.Done():
			_ = s.sub.Unsubscribe()
			for {
				select {
				case m := <-s.msgs:
					batch, waiting = s.add(m, batch, waiting)
				default:
					flush()
					return
				}
			}
		case m := <-s.msgs:
			if len(waiting) == 0 {
				t.Reset(s.cfg.FlushEvery)
			}
			batch, waiting = s.add(m, batch, waiting)
			if len(waiting) >= s.cfg.BatchMessages {
				t.Stop()
				flush()
			}
		case <-t.C:
			flush()
		}
	}
}

func (s *Source) add(m *nats.Msg, batch []event.Event, waiting []pending) ([]event.Event, []pending) {
	s.metrics.Bytes.WithLabelValues(source).Add(float64(len(m.Data)))
	p := pending{msg: m}
	now := time.Now().UTC()
	data := bytes.TrimSpace(m.Data)
	if len(data) > 0 && (data[0] == '{' || data[0] == '[') {
		ndjson.Read(data, s.cfg.MaxEventBytes, func(it ndjson.Item) {
			if it.Err != nil {
				p.reply.Rejected++
				p.reply.Errors = append(p.reply.Errors, "line "+strconv.Itoa(it.Line)+": "+it.Err.Error())
				reason := "malformed"
				if errors.Is(it.Err, ndjson.ErrTooLarge) {
					reason = "too_large"
				}
				s.metrics.Rejected.WithLabelValues(source, reason).Inc()
				return
			}
			ev := event.Event{ID: event.NewID(now), Received: now, Source: source, Raw: bytes.Clone(it.Raw)}
			normalize.FromJSON(it.Obj, &ev)
			ev.Fields["nats.subject"] = m.Subject
			batch = append(batch, ev)
			p.n++
		})
	} else if len(data) > 0 {
		if len(data) > s.cfg.MaxEventBytes {
			p.reply.Rejected++
			p.reply.Errors = append(p.reply.Errors, "message over the event size limit")
			s.metrics.Rejected.WithLabelValues(source, "too_large").Inc()
		} else {
			ev := event.Event{ID: event.NewID(now), Received: now, Source: source, Raw: bytes.Clone(data)}
			if msg, err := syslog.Parse(data, now); err == nil {
				normalize.FromSyslog(msg, &ev)
			} else {
				normalize.FromLine(data, nil, &ev)
			}
			ev.Fields["nats.subject"] = m.Subject
			batch = append(batch, ev)
			p.n++
		}
	}
	return batch, append(waiting, p)
}
