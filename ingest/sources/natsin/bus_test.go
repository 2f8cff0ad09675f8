package natsin

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

// testBus is a real embedded NATS JetStream with the events stream, a
// consumer reading it back, and the real Pipeline writing to it.
type testBus struct {
	b    *bus.Bus
	pipe *ingest.Pipeline
	reg  *prometheus.Registry
	m    *ingest.Metrics
	cons jetstream.Consumer
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
	// Interest retention: the consumer must exist before anything is
	// published, or the stream keeps nothing.
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "test", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := ingest.NewMetrics(reg)
	return &testBus{b: b, pipe: ingest.NewPipeline(b.JS, 1<<20-4096, m), reg: reg, m: m, cons: cons}
}

// stored returns the events readable from the stream now, and acks them so
// the next call sees only newer ones.
func (tb *testBus) stored(t *testing.T) []event.Event {
	t.Helper()
	var out []event.Event
	for {
		batch, err := tb.cons.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			ws, err := event.DecodeMessage(msg.Data())
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
			if err := msg.Ack(); err != nil {
				t.Fatal(err)
			}
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return out
		}
	}
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
