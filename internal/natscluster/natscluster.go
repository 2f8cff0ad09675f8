// Package natscluster starts, for a test, a real NATS cluster: nats-server
// processes built from the nats-server module Riposte already depends on
// (the same version as its embedded bus), clustered on loopback ports, each
// with JetStream. Being processes, a node can be killed with SIGKILL and
// started again on its own data, as a machine that dies would.
package natscluster

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/testenv"
)

// Cluster is a running NATS cluster.
type Cluster struct {
	Nodes []*Node
}

// Node is one nats-server process.
type Node struct {
	Name string
	// URL is the node's client URL (nats://127.0.0.1:port).
	URL  string
	Dir  string
	conf string
	port int
	mon  int
	cmd  *exec.Cmd
	done chan struct{}
	t    testing.TB
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds nats-server from the module in go.mod, once per test
// process, into the user's cache directory (one file per module version,
// so runs do not pile up binaries), and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { binPath, buildErr = build() })
	testenv.Need(t, buildErr == nil, "%v", buildErr)
	return binPath
}

func build() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command, to build nats-server: %w", err)
	}
	version := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/nats-io/nats-server/v2" {
				version = d.Version
			}
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "riposte-test")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "nats-server-"+version)
	// Built again each time (go build answers from its cache when nothing
	// changed), into a file of its own then renamed: test processes of
	// several packages may build at once.
	tmp, err := os.CreateTemp(dir, ".nats-server-*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if out, err := exec.Command(goBin, "build", "-o", tmp.Name(), "github.com/nats-io/nats-server/v2").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build nats-server: %v: %s", err, out)
	}
	return path, os.Rename(tmp.Name(), path)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs an n-node cluster on loopback; extra, if not nil, returns
// configuration added to node i's file (dir is that node's own directory,
// for resolver stores). Every node stops with the test.
func Start(t testing.TB, n int, extra func(i int, dir string) string) *Cluster {
	t.Helper()
	return StartOn(t, "127.0.0.1", n, extra)
}

// StartOn is Start with the nodes listening on host (an address other
// network namespaces reach).
func StartOn(t testing.TB, host string, n int, extra func(i int, dir string) string) *Cluster {
	t.Helper()
	bin := Binary(t)
	root := t.TempDir()
	c := &Cluster{}
	routes := make([]int, n)
	for i := range routes {
		routes[i] = freePort(t)
	}
	for i := range n {
		nd := &Node{Name: fmt.Sprintf("n%d", i+1), Dir: filepath.Join(root, fmt.Sprintf("n%d", i+1)), port: freePort(t), mon: freePort(t), t: t}
		nd.URL = fmt.Sprintf("nats://%s:%d", host, nd.port)
		if err := os.MkdirAll(nd.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		var rs []string
		for j, p := range routes {
			if j != i {
				rs = append(rs, fmt.Sprintf("nats-route://%s:%d", host, p))
			}
		}
		conf := fmt.Sprintf(`server_name: %s
listen: %s:%d
http: 127.0.0.1:%d
jetstream { store_dir: %q }
cluster {
  name: riposte-test
  listen: %s:%d
  routes: [%s]
}
`, nd.Name, host, nd.port, nd.mon, filepath.Join(nd.Dir, "js"), host, routes[i], strings.Join(rs, ", "))
		if extra != nil {
			conf += extra(i, nd.Dir) + "\n"
		}
		nd.conf = filepath.Join(nd.Dir, "nats.conf")
		if err := os.WriteFile(nd.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, nd)
	}
	for _, nd := range c.Nodes {
		nd.start(bin)
		t.Cleanup(nd.Kill)
	}
	c.WaitRoutes(t, 30*time.Second)
	for _, nd := range c.Nodes {
		nd.waitHealthy()
	}
	return c
}

// URLs is every node's client URL, comma-separated (as nats.Connect and
// Riposte's nats.url take them).
func (c *Cluster) URLs() string {
	var s []string
	for _, nd := range c.Nodes {
		s = append(s, nd.URL)
	}
	return strings.Join(s, ",")
}

// Node returns the node whose client URL is url (as nats.Conn.ConnectedUrl
// gives it), or nil.
func (c *Cluster) Node(url string) *Node {
	for _, nd := range c.Nodes {
		if nd.URL == url {
			return nd
		}
	}
	return nil
}

func (nd *Node) start(bin string) {
	t := nd.t
	logf, err := os.OpenFile(filepath.Join(nd.Dir, "nats.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	nd.cmd = exec.Command(bin, "-c", nd.conf)
	nd.cmd.Stdout, nd.cmd.Stderr = logf, logf
	if err := nd.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nd.done = make(chan struct{})
	go func() { nd.cmd.Wait(); logf.Close(); close(nd.done) }()
	nd.wait("varz")
}

// waitHealthy waits until the node's JetStream is ready, which takes a
// quorum of the cluster.
func (nd *Node) waitHealthy() { nd.wait("healthz") }

func (nd *Node) wait(endpoint string) {
	t := nd.t
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/%s", nd.mon, endpoint))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-nd.done:
			t.Fatalf("nats-server %s exited: %s", nd.Name, nd.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server %s: no answer from /%s after 30s: %s", nd.Name, endpoint, nd.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log is the end of the node's log, for failure messages.
func (nd *Node) Log() string {
	b, _ := os.ReadFile(filepath.Join(nd.Dir, "nats.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Running reports whether the process is alive.
func (nd *Node) Running() bool {
	if nd.cmd == nil {
		return false
	}
	select {
	case <-nd.done:
		return false
	default:
		return true
	}
}

// Kill ends the process with SIGKILL, as a machine's death would: no
// goodbye to clients or routes, nothing flushed.
func (nd *Node) Kill() {
	if !nd.Running() {
		return
	}
	_ = nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.done
}

// Restart starts a killed node again on its own configuration and data.
func (nd *Node) Restart(t testing.TB) {
	t.Helper()
	nd.Kill()
	nd.start(Binary(t))
	nd.waitHealthy()
}

// Routes is how many routes the node has to other nodes.
func (nd *Node) Routes() int {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/routez", nd.mon))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var r struct {
		Routes []struct {
			Name string `json:"remote_name"`
		} `json:"routes"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil {
		return -1
	}
	// Pooled routes give several connections per peer: count peers.
	peers := map[string]bool{}
	for _, rt := range r.Routes {
		peers[rt.Name] = true
	}
	return len(peers)
}

// HasClient reports whether a client of that name (nats.Name) is
// connected to the node.
func (nd *Node) HasClient(name string) bool {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/connz?limit=100000", nd.mon))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var r struct {
		Conns []struct {
			Name string `json:"name"`
		} `json:"connections"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil {
		return false
	}
	for _, c := range r.Conns {
		if c.Name == name {
			return true
		}
	}
	return false
}

// WaitRoutes waits until every running node is routed to every other
// running node.
func (c *Cluster) WaitRoutes(t testing.TB, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		running := 0
		for _, nd := range c.Nodes {
			if nd.Running() {
				running++
			}
		}
		ok := true
		for _, nd := range c.Nodes {
			if nd.Running() && nd.Routes() < running-1 {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var logs []string
			for _, nd := range c.Nodes {
				logs = append(logs, nd.Name+": "+nd.Log())
			}
			t.Fatalf("the NATS cluster did not form in %v:\n%s", d, strings.Join(logs, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
