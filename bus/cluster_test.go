package bus_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/internal/jscluster"
)

// A node pointed at a three-server cluster by a list of URLs replicates
// what it creates three times, and keeps publishing when the server it
// was connected to goes away.
func TestExternalClusterReplicates(t *testing.T) {
	c := jscluster.Start(t, 3)
	b, err := bus.Start(bus.Config{URL: c.URL()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Replicas != 3 || b.Embedded() {
		t.Fatalf("replicas %d embedded %v, want 3 on a cluster", b.Replicas, b.Embedded())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := b.EnsureEvents(ctx, bus.StreamLimits{MaxBytes: 1 << 20, MaxAge: time.Hour, Dedup: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "keep", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	if st.CachedInfo().Config.Replicas != 3 {
		t.Fatalf("events stream has %d replicas", st.CachedInfo().Config.Replicas)
	}
	kv, err := b.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := kv.Status(ctx); s.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
		t.Fatal("bucket not replicated three times")
	}
	// Stop the server the node is connected to: it reconnects to another
	// and the stream (R3) still takes messages.
	url := b.Conn.ConnectedUrl()
	for i := range c.Servers {
		if c.ServerURL(i) == url {
			c.Stop(i)
		}
	}
	for i := 0; ; i++ {
		_, err := b.JS.Publish(ctx, "events.test", []byte("x"))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no publish after losing server %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b.Conn.ConnectedUrl() == url {
		t.Fatal("still connected to the stopped server")
	}
	// An explicit replication is taken as given.
	b1, err := bus.Start(bus.Config{URL: c.URL(), Replicas: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b1.Close()
	if b1.Replicas != 1 {
		t.Fatalf("replicas %d, want 1 as configured", b1.Replicas)
	}
}
