package syslogin

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

// testBus is a real embedded NATS JetStream with the events stream, read
// back directly, and the real Pipeline writing to it.
type testBus struct {
	b    *bus.Bus
	pipe *ingest.Pipeline
	reg  *prometheus.Registry
	m    *ingest.Metrics
	// stream is read directly; next is the next sequence stored() reads.
	stream jetstream.Stream
	next   uint64
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startBus starts a bus whose events stream holds at most streamMax bytes
// (0: 64 MiB).
func startBus(t *testing.T, streamMax int64) *testBus {
	t.Helper()
	if streamMax == 0 {
		streamMax = 64 << 20
	}
	// Port -1 is NATS's "random port"; 0 would mean its default, 4222.
	b, err := bus.Start(bus.Config{Listen: "127.0.0.1:-1", StoreDir: t.TempDir(), MaxPayload: 1 << 20}, discardLog())
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
	// the stream keeps every message for stored() to read.
	if _, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "test", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := ingest.NewMetrics(reg)
	return &testBus{b: b, pipe: ingest.NewPipeline(b.JS, 1<<20-4096, m), reg: reg, m: m, stream: st, next: 1}
}

// stored returns the events stored since the last call, read from the
// stream itself: once the bus has acknowledged a message (which is when a
// source answers its sender), the stream's state includes it.
func (tb *testBus) stored(t *testing.T) []event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := tb.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for ; tb.next <= info.State.LastSeq; tb.next++ {
		msg, err := tb.stream.GetMsg(ctx, tb.next)
		if err != nil {
			t.Fatalf("message %d: %v", tb.next, err)
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

// waitStored polls until n events were read back or the deadline passes.
func (tb *testBus) waitStored(t *testing.T, n int) []event.Event {
	t.Helper()
	var out []event.Event
	deadline := time.Now().Add(10 * time.Second)
	for {
		out = append(out, tb.stored(t)...)
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counter reads one counter of the registry (0 when absent).
func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
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
