// Package agenttest starts, in process, what agent tests need: a server's
// agent side (control database, decisions, fleet, embedded bus that
// authenticates agents) and agents whose firewall lives in a network
// namespace of their own.
package agenttest

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/nats-io/nkeys"
	"github.com/vishvananda/netns"

	"github.com/riposte-soar/riposte/agent"
	"github.com/riposte-soar/riposte/agent/firewall"
	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/internal/natscluster"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/internal/testenv"
	"github.com/riposte-soar/riposte/natsauth"
	"github.com/riposte-soar/riposte/store"
)

// env is a server's agent side in process: control database, decisions,
// the fleet, and an embedded bus that authenticates through the fleet.
type Env struct {
	t         *testing.T
	Dir       string
	DB        *store.DB
	Decisions *decision.Store
	Fleet     *fleet.Fleet
	Bus       *bus.Bus
	Key       ed25519.PrivateKey
	// Cluster and Authority are set by NewClusterEnv: the bus is then a
	// NATS cluster that trusts Authority, and agents get user JWTs.
	Cluster   *natscluster.Cluster
	Authority *natsauth.Authority
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// NewEnv starts the server side; everything stops with the test.
func NewEnv(t *testing.T) *Env {
	t.Helper()
	e := &Env{t: t, Dir: t.TempDir()}
	var err error
	if e.DB, err = store.OpenSchema(storetest.TargetIn(t, e.Dir, "r.db"), "normal", store.ControlSchema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.DB.Close() })
	e.Decisions = decision.New(e.DB, decision.DefaultSchedule)
	e.Key = protocol.GenerateKey()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if e.Fleet, err = fleet.New(ctx, fleet.Options{DB: e.DB, Decisions: e.Decisions, Key: e.Key, EvidenceDir: filepath.Join(e.Dir, "evidence")}); err != nil {
		t.Fatal(err)
	}
	if e.Bus, err = bus.Start(bus.Config{Listen: freeAddr(t), StoreDir: filepath.Join(e.Dir, "nats"), User: "riposte", Password: "node-secret",
		Auth: e.Fleet.Authenticator("riposte", "node-secret")}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Bus.Close)
	e.Fleet.SetDisconnect(e.Bus.Disconnect)
	if err := e.Fleet.Start(ctx, e.Bus.Conn); err != nil {
		t.Fatal(err)
	}
	return e
}

// enroll makes an agent identity the way `riposte agent` would after
// enrolling, in dir.
// Enroll enrolls an agent for host and writes its identity into dir, as
// `riposte agent` does after enrolling.
func (e *Env) Enroll(host, dir string) *agent.Identity {
	e.t.Helper()
	secret, _, err := e.Fleet.CreateToken(context.Background(), time.Hour, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	nk, _ := nkeys.CreateUser()
	nkPub, _ := nk.PublicKey()
	nkSeed, _ := nk.Seed()
	r, err := e.Fleet.Enroll(context.Background(), fleet.EnrollRequest{Token: secret, PublicKey: pub, Hostname: host, NATSKey: nkPub}, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	id := &agent.Identity{AgentID: r.AgentID, Key: priv, Credential: r.Credential, ServerKey: r.ServerKey, Server: "http://127.0.0.1:1",
		NATSURL: e.Bus.ClientURL, Hostname: host}
	if r.NATSJWT != "" {
		id.NATSJWT, id.NATSSeed = r.NATSJWT, string(nkSeed)
	}
	os.MkdirAll(dir, 0o700)
	b, _ := json.Marshal(id)
	if err := os.WriteFile(filepath.Join(dir, "identity.json"), b, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// NS is one network namespace for an agent under test.
type NS struct {
	Name string
	H    netns.NsHandle
}

// NewNS makes a network namespace, or skips the test when it cannot (fails
// it under CI).
func NewNS(t *testing.T) *NS {
	t.Helper()
	testenv.Root(t, "network namespaces and nftables")
	testenv.Command(t, "ip", "iproute2")
	name := fmt.Sprintf("rpfleet%d%d", os.Getpid()%10000, rand.IntN(1000))
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	testenv.Need(t, err == nil, "network namespaces (ip netns add: %v: %s)", err, out)
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); exec.Command("ip", "netns", "del", name).Run() })
	return &NS{Name: name, H: h}
}

// In runs fn on a thread inside the namespace.
func (l *NS) In(t *testing.T, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, _ := netns.Get()
	defer orig.Close()
	if err := netns.Set(l.H); err != nil {
		t.Fatal(err)
	}
	defer netns.Set(orig)
	fn()
}

// Agent is an agent whose firewall lives in a namespace.
type Agent struct {
	A      *agent.Agent
	cancel context.CancelFunc
	done   chan struct{}
}

// StartAgent opens the agent enrolled in dir with its firewall in l and
// runs it; configure, if given, adjusts its configuration first.
func StartAgent(t *testing.T, l *NS, dir string, configure ...func(*agent.Config)) *Agent {
	t.Helper()
	var a *agent.Agent
	var err error
	cfg := agent.Config{Data: dir, Heartbeat: 200 * time.Millisecond, Reconcile: 100 * time.Millisecond, Version: "test"}
	for _, f := range configure {
		f(&cfg)
	}
	l.In(t, func() { a, err = agent.Open(context.Background(), cfg, "", nil, testLog()) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Agent{A: a, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); a.Run(ctx) }()
	return r
}

// Stop ends the agent; its firewall rules stay in the kernel.
func (r *Agent) Stop() {
	r.cancel()
	<-r.done
	r.A.Close()
}

// WaitAgent waits for a heartbeat of the agent sent after this call: a
// heartbeat proves the agent is subscribed to its commands.
func WaitAgent(t *testing.T, e *Env, id string) {
	t.Helper()
	since := time.Now()
	deadline := since.Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, a := range e.Fleet.List() {
			if a.ID == id && a.LastSeen.After(since) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the agent did not send a heartbeat")
}

// Kernel opens the namespace's Riposte table for reading.
func Kernel(t *testing.T, l *NS) *firewall.Firewall {
	t.Helper()
	var fw *firewall.Firewall
	var err error
	l.In(t, func() { fw, err = firewall.Open("riposte") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fw.Close() })
	return fw
}

// Denies reports whether the kernel holds a deny of prefix p.
func Denies(fw *firewall.Firewall, p string) bool {
	st, _ := fw.State()
	for _, d := range st {
		if d.Action == "deny" && d.Net.String() == p {
			return true
		}
	}
	return false
}

// Flush removes every table of the namespace, as `nft flush ruleset` does.
func Flush(t *testing.T, l *NS) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(l.H)))
	if err != nil {
		t.Fatal(err)
	}
	c.FlushRuleset()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

// testLog shows the agent's log with -v when RIPOSTE_TEST_AGENT_LOG is set.
func testLog() *slog.Logger {
	if os.Getenv("RIPOSTE_TEST_AGENT_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// Lab is one enrolled agent running for host "victim" in its own
// namespace, with the server side around it.
type Lab struct {
	*Env
	NS     *NS
	Dir    string
	ID     *agent.Identity
	Agent  *Agent
	Kernel *firewall.Firewall
	cfg    []func(*agent.Config)
}

// Setup starts a Lab; configure adjusts the agent's configuration. The
// agent stops with the test.
func Setup(t *testing.T, configure ...func(*agent.Config)) *Lab {
	t.Helper()
	return SetupOn(t, NewEnv(t), configure...)
}

// SetupOn starts a Lab with the server side e (NewEnv or NewClusterEnv).
func SetupOn(t *testing.T, e *Env, configure ...func(*agent.Config)) *Lab {
	t.Helper()
	l := &Lab{Env: e, NS: NewNS(t), Dir: t.TempDir(), cfg: configure}
	l.ID = e.Enroll("victim", l.Dir)
	l.Agent = StartAgent(t, l.NS, l.Dir, configure...)
	t.Cleanup(func() { l.Agent.Stop() })
	WaitAgent(t, e, l.ID.AgentID)
	l.Kernel = Kernel(t, l.NS)
	return l
}

// Restart stops the agent and starts it again on the same data.
func (l *Lab) Restart(t *testing.T) {
	t.Helper()
	l.Agent.Stop()
	l.Agent = StartAgent(t, l.NS, l.Dir, l.cfg...)
}
