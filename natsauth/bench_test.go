package natsauth_test

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/natsauth"
	"github.com/riposte-soar/riposte/store"
)

// The cost of an agent's login, the one thing the two modes do
// differently on the hot path: the embedded bus's check of the agent's
// password (fleet.Authenticator), against a NATS server in operator mode
// checking the agent's user JWT and its signature of the server's nonce.
// Each iteration is one TCP connection made and closed.

func BenchmarkAgentLoginEmbeddedPassword(b *testing.B) {
	dir := b.TempDir()
	db, err := store.Open(filepath.Join(dir, "r.db"), "normal", store.Control)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	f, err := fleet.New(ctx, fleet.Options{DB: db, Decisions: decision.New(db, decision.DefaultSchedule), Key: protocol.GenerateKey()})
	if err != nil {
		b.Fatal(err)
	}
	bs, err := bus.Start(bus.Config{Listen: "127.0.0.1:-1", StoreDir: filepath.Join(dir, "nats"), User: "riposte", Password: "p",
		Auth: f.Authenticator("riposte", "p")}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	secret, _, _ := f.CreateToken(ctx, time.Hour, "bench")
	pub, _, _ := ed25519.GenerateKey(nil)
	r, err := f.Enroll(ctx, fleet.EnrollRequest{Token: secret, PublicKey: pub, Hostname: "h"}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		nc, err := nats.Connect(bs.ClientURL, nats.UserInfo(fleet.AgentUser(r.AgentID), r.Credential))
		if err != nil {
			b.Fatal(err)
		}
		nc.Close()
	}
}

func BenchmarkAgentLoginOperatorJWT(b *testing.B) {
	k, err := natsauth.LoadOrCreate(filepath.Join(b.TempDir(), "keys"))
	if err != nil {
		b.Fatal(err)
	}
	opJWT, _ := k.OperatorJWT()
	op, _ := jwt.DecodeOperatorClaims(opJWT)
	res := &server.MemAccResolver{}
	sys, _ := k.SystemAccountJWT()
	acc, _ := k.AccountJWT(map[string]int64{"UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4": 1})
	res.Store(k.SystemPublicKey(), sys)
	res.Store(k.AccountPublicKey(), acc)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		TrustedOperators: []*jwt.OperatorClaims{op}, SystemAccount: k.SystemPublicKey(), AccountResolver: res})
	if err != nil {
		b.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		b.Fatal("not ready")
	}
	defer s.Shutdown()
	u, _ := nkeys.CreateUser()
	upub, _ := u.PublicKey()
	seed, _ := u.Seed()
	j, err := k.AgentJWT(protocol.NewAgentID(), upub)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		nc, err := nats.Connect(s.ClientURL(), nats.UserJWTAndSeed(j, string(seed)))
		if err != nil {
			b.Fatal(err)
		}
		nc.Close()
	}
}
