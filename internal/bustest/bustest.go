// Package bustest runs a real embedded NATS JetStream with the events
// stream and the real ingest Pipeline for the ingest sources' tests, and
// reads back what they stored.
package bustest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/ingest"
)

// Bus is a real embedded NATS JetStream with the events stream, read
// back directly, and the real Pipeline writing to it.
type Bus struct {
	B    *bus.Bus
	Pipe *ingest.Pipeline
	Reg  *prometheus.Registry
	M    *ingest.Metrics
	// stream is read directly; next is the next sequence Stored reads.
	Stream jetstream.Stream
	Next   uint64
}

func DiscardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Start starts a bus whose events stream holds at most streamMax bytes
// (0: 64 MiB).
func Start(t testing.TB, streamMax int64) *Bus {
	t.Helper()
	if streamMax == 0 {
		streamMax = 64 << 20
	}
	// Port -1 is NATS's "random port"; 0 would mean its default, 4222.
	b, err := bus.Start(bus.Config{Listen: "127.0.0.1:-1", StoreDir: t.TempDir(), MaxPayload: 1 << 20}, DiscardLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := b.EnsureEvents(ctx, bus.StreamLimits{MaxBytes: streamMax, MaxAge: time.Hour, Dedup: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Interest retention: a consumer must exist before anything is
	// published, or the stream keeps nothing. It never acknowledges, so
	// the stream keeps every message for Stored to read.
	if _, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "test", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := ingest.NewMetrics(reg)
	return &Bus{B: b, Pipe: ingest.NewPipeline(b.JS, 1<<20-4096, m), Reg: reg, M: m, Stream: st, Next: 1}
}

// Stored returns the events stored since the last call, read from the
// stream itself: once the bus has acknowledged a message (which is when a
// source answers its sender), the stream's state includes it.
func (tb *Bus) Stored(t testing.TB) []event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := tb.Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for ; tb.Next <= info.State.LastSeq; tb.Next++ {
		msg, err := tb.Stream.GetMsg(ctx, tb.Next)
		if err != nil {
			t.Fatalf("message %d: %v", tb.Next, err)
		}
		ws, err := event.DecodeMessage(msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ws {
			ev, err := ws[i].Event()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		}
	}
	return out
}

// WaitStored polls until n events were read back or the deadline passes.
func (tb *Bus) WaitStored(t testing.TB, n int) []event.Event {
	t.Helper()
	var out []event.Event
	deadline := time.Now().Add(10 * time.Second)
	for {
		out = append(out, tb.Stored(t)...)
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Counter reads one counter of the registry (0 when absent).
func Counter(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
