package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/internal/natscluster"
	"github.com/riposte-soar/riposte/internal/pgtest"
)

// clusterLab is a whole cluster of real processes: three nats-server
// nodes, the machine's PostgreSQL (a database of the test's own) and
// riposte serve nodes, each with its own ports, data directory and
// cluster.node name, sharing the secret store's key and the agent
// signing key as docs/cluster.md asks.
type clusterLab struct {
	t     *testing.T
	nats  *natscluster.Cluster
	db    string
	nodes []*node
	names []string
}

// clusterTTL is the lease TTL of the lab: short, so failovers are quick.
const clusterTTL = 2 * time.Second

func newClusterLab(t *testing.T, n int, extraYAML string) *clusterLab {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a NATS cluster, PostgreSQL databases and three riposte serve processes")
	}
	l := &clusterLab{t: t, db: pgtest.URL(t), nats: natscluster.Start(t, 3, nil)}
	var key [32]byte
	for i := range key {
		key[i] = byte(i*7 + 3)
	}
	t.Setenv("RIPOSTE_SECRET_KEY", base64.StdEncoding.EncodeToString(key[:]))
	for i := range n {
		dir := t.TempDir()
		ports := freePorts(t, 2)
		name := fmt.Sprintf("riposte-%d", i+1)
		nd := &node{t: t, data: filepath.Join(dir, "data"), http: ports[0], syslog: ports[1],
			config: filepath.Join(dir, "riposte.yaml")}
		cfg := fmt.Sprintf(`data: %s
log:
  level: info
http:
  listen: %s
database:
  url: %s
nats:
  url: %s
  replicas: 3
cluster:
  node: %s
  lease_ttl: %s
  partitions: 8
respond:
  lease: 2s
  http:
    allow_private: true
ingest:
  syslog:
    listen: %s
%s`, nd.data, nd.http, l.db, l.nats.URLs(), name, clusterTTL, nd.syslog, extraYAML)
		if err := os.WriteFile(nd.config, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.stop(syscall.SIGKILL) })
		l.nodes = append(l.nodes, nd)
		l.names = append(l.names, name)
	}
	// The first node initializes the database and makes the admin token
	// and the agent signing key; the others get them as an operator would
	// hand them out.
	first := l.nodes[0]
	first.start()
	sign, err := os.ReadFile(filepath.Join(first.data, "agent-signing.key"))
	if err != nil {
		t.Fatalf("the first node made no agent signing key: %v", err)
	}
	for _, nd := range l.nodes[1:] {
		if err := os.MkdirAll(nd.data, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(nd.data, "agent-signing.key"), sign, 0o600); err != nil {
			t.Fatal(err)
		}
		nd.token = first.token
		nd.start()
	}
	l.waitMembers(len(l.nodes), 30*time.Second)
	return l
}

// byName is the node called name.
func (l *clusterLab) byName(name string) *node {
	for i, n := range l.names {
		if n == name {
			return l.nodes[i]
		}
	}
	l.t.Fatalf("no node %q", name)
	return nil
}

func (l *clusterLab) nameOf(nd *node) string {
	for i, n := range l.nodes {
		if n == nd {
			return l.names[i]
		}
	}
	return ""
}

// live are the nodes not stopped.
func (l *clusterLab) live() []*node {
	var out []*node
	for _, n := range l.nodes {
		if !n.stopped && n.cmd != nil && !n.gone() {
			out = append(out, n)
		}
	}
	return out
}

// kill SIGKILLs a riposte node and returns when it is gone.
func (l *clusterLab) kill(nd *node) time.Time {
	l.t.Helper()
	at := time.Now()
	nd.stop(syscall.SIGKILL)
	return at
}

// clusterStatus is GET /api/v1/cluster.
type clusterStatus struct {
	Node  string `json:"node"`
	Mode  string `json:"mode"`
	Nodes []struct {
		Name string   `json:"name"`
		Jobs []string `json:"jobs"`
	} `json:"nodes"`
	Leaders []struct {
		Job   string `json:"job"`
		Node  string `json:"node"`
		Fence uint64 `json:"fence"`
	} `json:"leaders"`
	Partitions []struct {
		Partition int    `json:"partition"`
		Owner     string `json:"owner"`
	} `json:"partitions"`
	NATS struct {
		OK bool `json:"ok"`
	} `json:"nats"`
	Database struct {
		OK bool `json:"ok"`
	} `json:"database"`
}

// status asks nd for the cluster's state; ok is false when nd does not
// answer (it may be the one killed).
func (l *clusterLab) status(nd *node) (clusterStatus, bool) {
	var st clusterStatus
	resp, body, err := nd.do("GET", "/api/v1/cluster", nd.token, nil, nil)
	if err != nil || resp.StatusCode != 200 {
		return st, false
	}
	if err := json.Unmarshal(body, &st); err != nil {
		l.t.Fatalf("GET /api/v1/cluster: %v: %s", err, body)
	}
	return st, true
}

// anyLive is a live node to ask.
func (l *clusterLab) anyLive() *node {
	l.t.Helper()
	lv := l.live()
	if len(lv) == 0 {
		l.t.Fatal("no riposte node is alive")
	}
	return lv[0]
}

// leader is the node holding job's lease (alarm, schedules) as a live
// node reports it, or "".
func (l *clusterLab) leader(job string) string {
	st, ok := l.status(l.anyLive())
	if !ok {
		return ""
	}
	for _, h := range st.Leaders {
		if h.Job == job {
			return h.Node
		}
	}
	return ""
}

// owners maps each correlation partition to its owner ("" for none).
func (l *clusterLab) owners() map[int]string {
	st, _ := l.status(l.anyLive())
	out := map[int]string{}
	for _, p := range st.Partitions {
		out[p.Partition] = p.Owner
	}
	return out
}

func (l *clusterLab) waitMembers(n int, d time.Duration) {
	l.t.Helper()
	waitFor(l.t, fmt.Sprintf("%d nodes in the cluster, each holding its share", n), d, func() bool {
		st, ok := l.status(l.anyLive())
		if !ok || st.Mode != "cluster" || len(st.Nodes) != n {
			return false
		}
		// Partitions are dealt round the sorted members: wait until the
		// layout has settled, so that what a test kills is what it meant.
		names := append([]string(nil), l.names[:n]...)
		sort.Strings(names)
		for _, p := range st.Partitions {
			if p.Owner != names[p.Partition%n] {
				return false
			}
		}
		for _, nd := range st.Nodes {
			if len(nd.Jobs) == 0 {
				return false
			}
		}
		return len(st.Leaders) > 0
	})
}

// logs is the end of every node's log, for failure messages.
func (l *clusterLab) logs() string {
	var b strings.Builder
	for i, nd := range l.nodes {
		if nd.log != nil {
			fmt.Fprintf(&b, "--- %s:\n%s\n", l.names[i], tail(nd.log.String(), 40))
		}
	}
	return b.String()
}

// streamLeader is the NATS server leading a JetStream stream's RAFT group.
func (l *clusterLab) streamLeader(stream string) (*natscluster.Node, error) {
	nc, err := nats.Connect(l.nats.URLs(), nats.Timeout(2*time.Second))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return nil, fmt.Errorf("stream %s has no leader", stream)
	}
	for _, nd := range l.nats.Nodes {
		if nd.Name == info.Cluster.Leader {
			return nd, nil
		}
	}
	return nil, fmt.Errorf("stream %s: leader %q is no node of the lab", stream, info.Cluster.Leader)
}

// postEvents sends one HTTP ingest batch of NDJSON documents, each with
// its seq, and reports whether the node acknowledged all of them.
func postEvents(nd *node, seqs []string) bool {
	var b strings.Builder
	for _, s := range seqs {
		fmt.Fprintf(&b, `{"seq":%q,"host":{"name":"web-1"},"message":"cluster burst"}`+"\n", s)
	}
	req, err := http.NewRequest("POST", nd.url()+"/api/v1/events", strings.NewReader(b.String()))
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+nd.token)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var res struct {
		Accepted int `json:"accepted"`
	}
	if resp.StatusCode != 202 || json.NewDecoder(resp.Body).Decode(&res) != nil {
		return false
	}
	return res.Accepted == len(seqs)
}

// sshFailures are n failed SSH logins from src, numbered from first.
func sshFailures(src string, first, n int) []string {
	var out []string
	for i := first; i < first+n; i++ {
		out = append(out, fmt.Sprintf("Failed password for invalid user c%d from %s port %d ssh2", i, src, 40000+i))
	}
	return out
}

// sendRoundRobin sends each line to the next node's syslog input over
// TCP, one connection per line, so that the lines are spread whatever
// each node buffers.
func sendRoundRobin(t *testing.T, nodes []*node, lines []string) {
	t.Helper()
	for i, line := range lines {
		sendSyslogTCP(t, nodes[i%len(nodes)].syslog, line)
	}
}

// peerPID finds which of the nodes' processes owns the client side of a
// loopback TCP connection whose remote address (as a server sees it) is
// addr: the socket's inode from /proc/net/tcp, then the process holding
// it among the nodes' file descriptors.
func (l *clusterLab) peerNode(addr string) *node {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	p, _ := strconv.Atoi(port)
	want := fmt.Sprintf(":%04X", p)
	inode := ""
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) > 9 && strings.HasSuffix(fs[1], want) {
				inode = fs[9]
			}
		}
		fh.Close()
	}
	if inode == "" {
		return nil
	}
	for _, nd := range l.live() {
		fds := fmt.Sprintf("/proc/%d/fd", nd.cmd.Process.Pid)
		ents, _ := os.ReadDir(fds)
		for _, e := range ents {
			if target, _ := os.Readlink(filepath.Join(fds, e.Name())); target == "socket:["+inode+"]" {
				return nd
			}
		}
	}
	return nil
}

// runsOf lists a playbook's runs through nd's API.
func runsOf(t *testing.T, nd *node, playbook string) []map[string]any {
	t.Helper()
	return apiList(t, nd, "/api/v1/runs?playbook="+playbook, "runs")
}

// activeDecisions counts the decisions in force on target through nd.
func activeDecisions(t *testing.T, nd *node, target string) int {
	t.Helper()
	c := 0
	for _, d := range apiList(t, nd, "/api/v1/decisions", "decisions") {
		tg := fmt.Sprint(d["target"])
		if (tg == target || tg == target+"/32") && d["reverted_at"] == nil {
			c++
		}
	}
	return c
}

// js connects the test itself to the lab's NATS cluster.
func (l *clusterLab) js() (*nats.Conn, jetstream.JetStream) {
	l.t.Helper()
	nc, err := nats.Connect(l.nats.URLs(), nats.Timeout(2*time.Second))
	if err != nil {
		l.t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		l.t.Fatal(err)
	}
	return nc, js
}

// statePartition is the correlation partition whose saved state counts a
// group naming value (an attacker's address), or -1: read from the
// replicated state bucket, whose keys start with the partition.
func (l *clusterLab) statePartition(value string) int {
	nc, js := l.js()
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, "riposte_correlation")
	if err != nil {
		return -1
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return -1
	}
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil || !strings.Contains(string(e.Value()), value) {
			continue
		}
		if p, err := strconv.Atoi(strings.TrimPrefix(strings.SplitN(k, ".", 2)[0], "p")); err == nil {
			return p
		}
	}
	return -1
}

// ingestBurst posts batches of events to nd's HTTP ingest until stop is closed
// or a post fails, and returns the seqs the node acknowledged.
func ingestBurst(nd *node, prefix string, stop <-chan struct{}) []string {
	var acked []string
	for b := 0; ; b++ {
		select {
		case <-stop:
			return acked
		default:
		}
		var seqs []string
		for i := range 50 {
			seqs = append(seqs, fmt.Sprintf("%s-%d-%d", prefix, b, i))
		}
		if !postEvents(nd, seqs) {
			return acked
		}
		acked = append(acked, seqs...)
	}
}

// storedSeqs counts, through nd's API, the stored events of each seq.
func storedSeqs(nd *node) map[string]int {
	c := map[string]int{}
	for _, e := range nd.events("") {
		if s, ok := e.Fields["seq"].(string); ok {
			c[s]++
		}
	}
	return c
}

// jobsOf are the leases node holds, by its own account.
func (l *clusterLab) jobsOf(name string) []string {
	st, _ := l.status(l.anyLive())
	for _, n := range st.Nodes {
		if n.Name == name {
			return n.Jobs
		}
	}
	return nil
}

// failover waits until every job (lease) of the killed node is held by a
// live node, logs how long each took from the kill, and returns the
// longest.
func (l *clusterLab) failover(victim string, jobs []string, killed time.Time) time.Duration {
	t := l.t
	t.Helper()
	pending := map[string]bool{}
	for _, j := range jobs {
		pending[j] = true
	}
	var worst time.Duration
	waitFor(t, "the killed node's leases held by survivors", 30*time.Second, func() bool {
		st, ok := l.status(l.anyLive())
		if !ok {
			return false
		}
		held := map[string]string{}
		for _, h := range st.Leaders {
			held[h.Job] = h.Node
		}
		for _, pt := range st.Partitions {
			held[fmt.Sprintf("correlate.p%03d", pt.Partition)] = pt.Owner
		}
		for j := range pending {
			if o := held[j]; o != "" && o != victim {
				d := time.Since(killed)
				t.Logf("failover: %s moved from %s to %s %v after the SIGKILL", j, victim, o, d.Round(10*time.Millisecond))
				worst = max(worst, d)
				delete(pending, j)
			}
		}
		return len(pending) == 0
	})
	t.Logf("failover: every lease of %s held elsewhere within %v (lease TTL %v)", victim, worst.Round(10*time.Millisecond), clusterTTL)
	return worst
}
