// Package jscluster starts a real NATS JetStream cluster inside the test
// process (internal/natscluster runs nats-server processes, for tests that
// kill one):
// several nats-server instances from the module the project depends on,
// on loopback ports, joined by cluster routes, so the cluster runtime is
// tested against RAFT-replicated streams and buckets, not a stand-in.
package jscluster

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is a running NATS cluster.
type Cluster struct {
	Servers []*server.Server
	opts    []*server.Options
}

// Start starts n servers and waits until JetStream has a meta leader.
// They stop when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	var routes []string
	for i := 0; i < n; i++ {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i]))
	}
	c := &Cluster{}
	for i := 0; i < n; i++ {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       ports[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Cluster: server.ClusterOpts{
				Name: "riposte-test",
				Host: "127.0.0.1",
				Port: ports[n+i],
			},
			Routes:             server.RoutesFromStr(strings.Join(routes, ",")),
			JetStreamMaxMemory: 64 << 20,
			JetStreamMaxStore:  1 << 30,
		}
		c.opts = append(c.opts, o)
		c.Servers = append(c.Servers, nil)
		c.start(t, i)
	}
	t.Cleanup(func() {
		for _, s := range c.Servers {
			if s != nil {
				s.Shutdown()
				s.WaitForShutdown()
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for _, s := range c.Servers {
			if !s.JetStreamIsClustered() || !s.JetStreamIsCurrent() {
				ok = false
			}
		}
		if ok && c.metaLeader() {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("nats cluster: no JetStream meta leader within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) start(t testing.TB, i int) {
	t.Helper()
	s, err := server.NewServer(c.opts[i])
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats server %d did not start", i+1)
	}
	c.Servers[i] = s
}

func (c *Cluster) metaLeader() bool {
	for _, s := range c.Servers {
		if s != nil && s.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

// URL is every server's client URL, comma-separated, as nats.go and
// nats.url take them.
func (c *Cluster) URL() string {
	var us []string
	for _, o := range c.opts {
		us = append(us, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(us, ",")
}

// ServerURL is one server's client URL.
func (c *Cluster) ServerURL(i int) string { return fmt.Sprintf("nats://127.0.0.1:%d", c.opts[i].Port) }

// Stop shuts server i down (its store stays for Restart).
func (c *Cluster) Stop(i int) {
	if s := c.Servers[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.Servers[i] = nil
	}
}

// Restart starts server i again on its ports and store.
func (c *Cluster) Restart(t testing.TB, i int) { c.start(t, i) }

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
