package natsauth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/internal/natscluster"
	"github.com/riposte-soar/riposte/natsauth"
)

// trusting starts a three-node cluster that trusts keys, as `riposte nats
// config` tells an operator to configure it.
func trusting(t *testing.T, k *natsauth.Keys) *natscluster.Cluster {
	t.Helper()
	return natscluster.Start(t, 3, func(_ int, dir string) string {
		conf, err := k.ServerConfig(filepath.Join(dir, "jwt"))
		if err != nil {
			t.Fatal(err)
		}
		return conf
	})
}

func TestKeysAreMadeOnceAndKeptPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k1, err := natsauth.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{natsauth.OperatorFile, natsauth.SystemFile, natsauth.AccountFile, natsauth.SigningFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	k2, err := natsauth.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k1.AccountPublicKey() != k2.AccountPublicKey() {
		t.Fatal("a second start made another account")
	}
	// Half a directory is refused rather than completed with a new operator.
	os.Remove(filepath.Join(dir, natsauth.OperatorFile))
	if _, err := natsauth.LoadOrCreate(dir); err == nil {
		t.Fatal("a directory without its operator key was accepted")
	}
}

type agentKey struct {
	id   string
	kp   nkeys.KeyPair
	pub  string
	seed string
	jwt  string
}

func newAgent(t *testing.T, k *natsauth.Keys) agentKey {
	t.Helper()
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	id := protocol.NewAgentID()
	j, err := k.AgentJWT(id, pub)
	if err != nil {
		t.Fatal(err)
	}
	return agentKey{id: id, kp: kp, pub: pub, seed: string(seed), jwt: j}
}

// connectErrs connects to one server (no reconnection elsewhere) and sends
// asynchronous errors (permission violations) to the returned channel.
func connectErrs(url string, opt nats.Option) (*nats.Conn, chan error, error) {
	errs := make(chan error, 16)
	nc, err := nats.Connect(url, opt, nats.NoReconnect(), nats.IgnoreDiscoveredServers(), nats.Timeout(3*time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	return nc, errs, err
}

func TestAgentCredentialsOnEveryNodeAndRevocationEverywhere(t *testing.T) {
	k, err := natsauth.LoadOrCreate(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	c := trusting(t, k)
	auth := natsauth.New(k, c.URLs(), nil)
	t.Cleanup(auth.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	servers, err := auth.Servers(ctx)
	if err != nil || len(servers) != 3 {
		t.Fatalf("servers: %v %v", servers, err)
	}

	// A node's own credential: every permission, and JetStream replicated
	// across the three servers in the RIPOSTE account.
	nodeCreds, err := k.NodeCreds("riposte-test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	node, err := nats.Connect(c.Nodes[0].URL, nats.UserJWTAndSeed(nodeCreds.JWT, nodeCreds.Seed))
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	js, _ := jetstream.New(node)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3}); err != nil {
		t.Fatalf("an R3 stream in the RIPOSTE account: %v", err)
	}

	a, b := newAgent(t, k), newAgent(t, k)
	sa, _ := protocol.SubjectFor(a.id)
	sb, _ := protocol.SubjectFor(b.id)
	results, _ := node.SubscribeSync("riposte.agent.*.result")
	stolen, _ := node.SubscribeSync("events.>")
	node.Flush()

	// Agent a connects to each node in turn; what it may do is the same
	// on each.
	for _, nd := range c.Nodes {
		nc, errs, err := connectErrs(nd.URL, nats.UserJWTAndSeed(a.jwt, a.seed))
		if err != nil {
			t.Fatalf("agent on %s: %v", nd.Name, err)
		}
		denied := func(what string, f func() error) {
			t.Helper()
			if err := f(); err != nil {
				return
			}
			nc.Flush()
			select {
			case err := <-errs:
				if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(strings.ToLower(err.Error()), "permission") {
					t.Fatalf("%s on %s: %v", what, nd.Name, err)
				}
			case <-time.After(2 * time.Second):
				t.Fatalf("%s was allowed on %s", what, nd.Name)
			}
		}
		denied("subscribing to b's commands", func() error { _, err := nc.SubscribeSync(sb.Command); return err })
		denied("subscribing to everything", func() error { _, err := nc.SubscribeSync(">"); return err })
		denied("publishing b's results", func() error { return nc.Publish(sb.Result, []byte("forged")) })
		denied("publishing events", func() error { return nc.Publish("events.syslog", []byte("forged")) })
		denied("publishing its own commands", func() error { return nc.Publish(sa.Command, []byte("forged")) })
		denied("using JetStream", func() error { return nc.Publish("$JS.API.STREAM.LIST", nil) })

		cmds, err := nc.SubscribeSync(sa.Command)
		if err != nil {
			t.Fatal(err)
		}
		nc.Flush()
		// The subscription reaches n1 through the route a moment later:
		// until then a command published there goes to no one.
		got := false
		for start := time.Now(); !got && time.Since(start) < 5*time.Second; {
			if err := node.Publish(sa.Command, []byte("cmd via n1")); err != nil {
				t.Fatal(err)
			}
			m, err := cmds.NextMsg(100 * time.Millisecond)
			got = err == nil && string(m.Data) == "cmd via n1"
		}
		if !got {
			t.Fatalf("agent on %s did not receive its command", nd.Name)
		}
		if err := nc.Publish(sa.Result, []byte("result from "+nd.Name)); err != nil {
			t.Fatal(err)
		}
		nc.Flush()
		if m, err := results.NextMsg(5 * time.Second); err != nil || m.Subject != sa.Result || string(m.Data) != "result from "+nd.Name {
			t.Fatalf("result from %s: %v %v", nd.Name, m, err)
		}
		nc.Close()
	}
	if m, err := stolen.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("a forged event reached the events subjects: %q", m.Data)
	}
	if m, err := results.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("a forged result arrived: %s %q", m.Subject, m.Data)
	}

	// The JWT without its seed (a copy of the JWT alone) is not enough,
	// nor is it with another key's seed.
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	if nc, _, err := connectErrs(c.Nodes[1].URL, nats.UserJWTAndSeed(a.jwt, string(otherSeed))); err == nil {
		nc.Close()
		t.Fatal("agent a's JWT connected with another key's seed")
	}

	// Revocation: a and b hold a session on every node; revoking a ends
	// a's sessions on every node and refuses its next ones, and leaves b.
	var aConns, bConns []*nats.Conn
	for _, nd := range c.Nodes {
		na, _, err := connectErrs(nd.URL, nats.UserJWTAndSeed(a.jwt, a.seed))
		if err != nil {
			t.Fatal(err)
		}
		defer na.Close()
		nb, _, err := connectErrs(nd.URL, nats.UserJWTAndSeed(b.jwt, b.seed))
		if err != nil {
			t.Fatal(err)
		}
		defer nb.Close()
		aConns, bConns = append(aConns, na), append(bConns, nb)
	}
	start := time.Now()
	ok, err := auth.Push(ctx, map[string]int64{a.pub: time.Now().Unix()})
	if err != nil || len(ok) != 3 {
		t.Fatalf("push: confirmed by %v: %v", ok, err)
	}
	for i, na := range aConns {
		for !na.IsClosed() && time.Since(start) < 5*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		if !na.IsClosed() {
			t.Fatalf("a's session on %s stayed open after its revocation", c.Nodes[i].Name)
		}
	}
	t.Logf("revocation pushed and every session of the agent closed in %v", time.Since(start))
	for i, nb := range bConns {
		if !nb.IsConnected() {
			t.Fatalf("b's session on %s closed with a's revocation", c.Nodes[i].Name)
		}
	}
	for _, nd := range c.Nodes {
		nc, _, err := connectErrs(nd.URL, nats.UserJWTAndSeed(a.jwt, a.seed))
		if err == nil {
			nc.Close()
			t.Fatalf("the revoked agent connected to %s", nd.Name)
		}
		if !strings.Contains(strings.ToLower(err.Error()), "authorization") && !strings.Contains(strings.ToLower(err.Error()), "revoked") {
			t.Fatalf("the revoked agent on %s: %v", nd.Name, err)
		}
	}
	if pushed, err := auth.Sync(ctx, map[string]int64{a.pub: time.Now().Unix() - 1}); err != nil || pushed {
		t.Fatalf("sync of an account every server holds: pushed %v, %v", pushed, err)
	}

	// A server that is down at a revocation restarts with the account it
	// had: Sync (run every few seconds by each Riposte node) finds it
	// stale and pushes again. (The full resolver would also fetch it from
	// the other servers at its next sync interval.)
	n3 := c.Nodes[2]
	n3.Kill()
	revoked := map[string]int64{a.pub: time.Now().Unix(), b.pub: time.Now().Unix()}
	if ok, err := auth.Push(ctx, revoked); err != nil || len(ok) != 2 {
		t.Fatalf("push with n3 down: %v %v", ok, err)
	}
	for !bConns[0].IsClosed() && time.Since(start) < 10*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	if !bConns[0].IsClosed() {
		t.Fatal("b's session on n1 stayed open after its revocation")
	}
	n3.Restart(t)
	c.WaitRoutes(t, 30*time.Second)
	if pushed, err := auth.Sync(ctx, revoked); err != nil || !pushed {
		t.Fatalf("sync with n3 stale: pushed %v, %v", pushed, err)
	}
	for _, nd := range c.Nodes {
		if nc, _, err := connectErrs(nd.URL, nats.UserJWTAndSeed(b.jwt, b.seed)); err == nil {
			nc.Close()
			t.Fatalf("the revoked agent b connected to %s", nd.Name)
		}
	}
	if pushed, err := auth.Sync(ctx, revoked); err != nil || pushed {
		t.Fatalf("sync after n3 caught up: pushed %v, %v", pushed, err)
	}
}
