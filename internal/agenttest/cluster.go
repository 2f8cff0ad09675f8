package agenttest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/internal/natscluster"
	"github.com/riposte-soar/riposte/natsauth"
	"github.com/riposte-soar/riposte/store"
)

// NewClusterEnv starts the server side against a three-node NATS cluster
// (real nats-server processes) that trusts a Riposte authority, as a
// cluster configured with `riposte nats config` does: the node connects
// with a user JWT it signs, agents enroll for user JWTs, revocations are
// pushed to every server. Everything stops with the test.
func NewClusterEnv(t *testing.T) *Env {
	t.Helper()
	e := &Env{t: t, Dir: t.TempDir()}
	keys, err := natsauth.LoadOrCreate(filepath.Join(e.Dir, "nats-keys"))
	if err != nil {
		t.Fatal(err)
	}
	e.Cluster = natscluster.Start(t, 3, func(_ int, dir string) string {
		conf, err := keys.ServerConfig(filepath.Join(dir, "jwt"))
		if err != nil {
			t.Fatal(err)
		}
		return conf
	})
	e.Authority = natsauth.New(keys, e.Cluster.URLs(), nil)
	t.Cleanup(e.Authority.Close)
	if e.DB, err = store.Open(filepath.Join(e.Dir, "r.db"), "normal", store.Control); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.DB.Close() })
	e.Decisions = decision.New(e.DB, decision.DefaultSchedule)
	e.Key = protocol.GenerateKey()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if e.Fleet, err = fleet.New(ctx, fleet.Options{DB: e.DB, Decisions: e.Decisions, Key: e.Key, Issuer: e.Authority,
		EvidenceDir: filepath.Join(e.Dir, "evidence")}); err != nil {
		t.Fatal(err)
	}
	creds, err := keys.NodeCreds("riposte-test-node", 0)
	if err != nil {
		t.Fatal(err)
	}
	if e.Bus, err = bus.Start(bus.Config{URL: e.Cluster.URLs(), Options: []nats.Option{nats.UserJWTAndSeed(creds.JWT, creds.Seed)}},
		slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Bus.Close)
	if err := e.Fleet.Start(ctx, e.Bus.Conn); err != nil {
		t.Fatal(err)
	}
	return e
}
