package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/cluster"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/detect/intel"
	"github.com/riposte-soar/riposte/internal/jscluster"
)

// taxiiServer is a TAXII 2.1 collection (coll-1 under /api1) that records
// who polled it and from which added_after.
type taxiiServer struct {
	mu      sync.Mutex
	objects []taxiiObject
	polls   []taxiiPoll
}

type taxiiObject struct {
	added time.Time
	json  string
}

type taxiiPoll struct {
	at         time.Time
	node       string
	addedAfter string
}

// add publishes an indicator of ip, added to the collection at added.
func (s *taxiiServer) add(n int, ip string, added time.Time) {
	now := time.Now().UTC().Format(time.RFC3339)
	obj := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":%q,"modified":%q,"pattern":"[ipv4-addr:value = '%s']","pattern_type":"stix","valid_from":%q,"confidence":80}`,
		n, now, now, ip, now)
	s.mu.Lock()
	s.objects = append(s.objects, taxiiObject{added.UTC(), obj})
	s.mu.Unlock()
}

func (s *taxiiServer) log() []taxiiPoll {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.polls)
}

func (s *taxiiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path != "/api1/collections/coll-1/objects/" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	s.polls = append(s.polls, taxiiPoll{at: time.Now(), node: r.Header.Get("X-Test-Node"), addedAfter: q.Get("added_after")})
	var after time.Time
	if a := q.Get("added_after"); a != "" {
		t, err := time.Parse(time.RFC3339Nano, a)
		if err != nil {
			http.Error(w, "bad added_after", http.StatusBadRequest)
			return
		}
		after = t
	}
	var objs []string
	var last time.Time
	for _, o := range s.objects {
		if o.added.After(after) {
			objs = append(objs, o.json)
			last = o.added
		}
	}
	w.Header().Set("Content-Type", intel.TAXIIMediaType)
	if len(objs) > 0 {
		w.Header().Set("X-TAXII-Date-Added-Last", last.Format(time.RFC3339Nano))
	}
	fmt.Fprintf(w, `{"more":false,"objects":[%s]}`, strings.Join(objs, ","))
}

// nodeTransport tells the TAXII server which node polls.
type nodeTransport string

func (n nodeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Node", string(n))
	return http.DefaultTransport.RoundTrip(r)
}

const (
	feedTTL   = 2 * time.Second
	feedEvery = 400 * time.Millisecond
)

type feedNode struct {
	name string
	b    *bus.Bus
	rt   *cluster.Runtime
	ix   *intel.Index
}

// startFeedNode starts one node's cluster runtime and TAXII feeds, on a
// bus of its own; it returns when startTAXIIFeeds did.
func startFeedNode(t *testing.T, c *jscluster.Cluster, name, taxiiURL string) *feedNode {
	t.Helper()
	b, err := bus.Start(bus.Config{URL: c.URL()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithCancel(context.Background())
	rt, err := cluster.Start(ctx, b, cluster.Options{Node: name, Version: "test", TTL: feedTTL, Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); rt.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	ix := intel.NewIndex(intel.Config{})
	cfg := config.Intel{Feeds: []config.Feed{
		{Name: "cti", Type: "taxii", URL: taxiiURL + "/api1", Collection: "coll-1", Refresh: config.Duration(feedEvery)},
	}}
	if err := startTAXIIFeedsWith(ctx, cfg, ix, b, rt, &http.Client{Transport: nodeTransport(name)}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return &feedNode{name: name, b: b, rt: rt, ix: ix}
}

func (n *feedNode) has(ips ...string) bool {
	for _, ip := range ips {
		if len(n.ix.Lookup(intel.KindIPv4, ip)) == 0 {
			return false
		}
	}
	return true
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pollers are the nodes that polled in [from, to), with their poll counts.
func pollers(polls []taxiiPoll, from, to time.Time) map[string]int {
	out := map[string]int{}
	for _, p := range polls {
		if !p.at.Before(from) && p.at.Before(to) {
			out[p.node]++
		}
	}
	return out
}

// settle waits until every node sees the others and the node they prefer
// for the feed holds its lease (the lease moves to a joining node it
// prefers, once).
func settle(t *testing.T, nodes map[string]*feedNode) {
	t.Helper()
	waitFor(t, 3*feedTTL, "the nodes agree on who polls the feed", func() bool {
		want := ""
		for _, n := range nodes {
			if len(n.rt.Members()) != len(nodes) {
				return false
			}
			p := n.rt.Preferred(FeedJob("cti"))
			if want != "" && p != want {
				return false
			}
			want = p
		}
		_, ok := nodes[want].rt.Elector.Held(FeedJob("cti"))
		return ok
	})
}

// steadyPoller watches the TAXII server for a while and returns the one
// node that polled in that time, failing when several did or when it
// polled more often than one client at the feed's interval would.
func steadyPoller(t *testing.T, srv *taxiiServer, window time.Duration) string {
	t.Helper()
	from := time.Now()
	time.Sleep(window)
	got := pollers(srv.log(), from, time.Now())
	if len(got) != 1 {
		t.Fatalf("in %s the TAXII server was polled by %v; want one node", window, got)
	}
	for n, count := range got {
		if max := int(window/feedEvery) + 2; count > max {
			t.Fatalf("%s polled %d times in %s; one client every %s polls at most %d", n, count, window, feedEvery, max)
		}
		return n
	}
	return ""
}

// In a cluster a TAXII feed is polled by one node, every node indexes its
// indicators, a dead poller's successor continues from its cursor, and a
// node that joins later has the indicators without polling.
func TestTAXIIFeedOncePerCluster(t *testing.T) {
	c := jscluster.Start(t, 3)
	srv := &taxiiServer{}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	srv.add(1, "198.51.100.1", base.Add(1*time.Second))
	srv.add(2, "198.51.100.2", base.Add(2*time.Second))
	hs := httptest.NewServer(srv)
	defer hs.Close()

	nodes := map[string]*feedNode{}
	for _, name := range []string{"a", "b", "c"} {
		nodes[name] = startFeedNode(t, c, name, hs.URL)
	}
	for _, n := range nodes {
		waitFor(t, 30*time.Second, n.name+" indexes the feed", func() bool { return n.has("198.51.100.1", "198.51.100.2") })
	}
	settle(t, nodes)
	holder := steadyPoller(t, srv, 8*feedEvery)
	if _, ok := nodes[holder].rt.Elector.Held(FeedJob("cti")); !ok {
		t.Fatalf("%s polls the feed without holding %s", holder, FeedJob("cti"))
	}
	stamp := func(d time.Duration) string { return base.Add(d).UTC().Format(time.RFC3339Nano) }
	if p := srv.log(); p[len(p)-1].addedAfter != stamp(2*time.Second) {
		t.Fatalf("holder polls with added_after %q, want the last object's %q", p[len(p)-1].addedAfter, stamp(2*time.Second))
	}

	// Published later: every node gets it from the one poll.
	srv.add(3, "198.51.100.3", base.Add(3*time.Second))
	for _, n := range nodes {
		waitFor(t, 15*time.Second, n.name+" indexes the new indicator", func() bool { return n.has("198.51.100.3") })
	}

	// The holder dies as in a crash: it neither renews nor releases.
	killed := time.Now()
	nodes[holder].b.Close()
	dead := holder
	delete(nodes, dead)
	var next taxiiPoll
	waitFor(t, 2*feedTTL, "another node polls after the holder died", func() bool {
		for _, p := range srv.log() {
			if p.at.After(killed) && p.node != dead {
				next = p
				return true
			}
		}
		return false
	})
	t.Logf("%s took over polling %s after %s died", next.node, next.at.Sub(killed).Round(time.Millisecond), dead)
	if next.addedAfter != stamp(3*time.Second) {
		t.Fatalf("the new holder's first poll has added_after %q, want %q carried over from %s", next.addedAfter, stamp(3*time.Second), dead)
	}
	for _, p := range srv.log() {
		if p.node == dead && !p.at.Before(next.at) {
			t.Fatalf("%s still polled at %s, after %s took over", dead, p.at.Format(time.RFC3339Nano), next.node)
		}
	}
	srv.add(4, "198.51.100.4", base.Add(4*time.Second))
	for _, n := range nodes {
		waitFor(t, 15*time.Second, n.name+" indexes what the new holder polled", func() bool { return n.has("198.51.100.4") })
	}
	settle(t, nodes)
	if got := steadyPoller(t, srv, 8*feedEvery); got != next.node {
		t.Fatalf("polled by %s, want %s", got, next.node)
	}

	// A node that joins now has every indicator when it starts, before it
	// has polled anything.
	d := startFeedNode(t, c, "d", hs.URL)
	if !d.has("198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4") {
		t.Fatalf("a joining node lacks indicators at start: %v", d.ix.Indicators())
	}
	if n := pollers(srv.log(), time.Time{}, time.Now())["d"]; n != 0 {
		t.Fatalf("the joining node polled %d times before it had the indicators", n)
	}
	nodes["d"] = d
	// It may take the feed over (it may be the preferred node now); still
	// one poller, and whoever it is continues the cursor.
	settle(t, nodes)
	steadyPoller(t, srv, 8*feedEvery)
	p := srv.log()
	if last := p[len(p)-1]; last.addedAfter != stamp(4*time.Second) {
		t.Fatalf("%s polls with added_after %q, want %q", last.node, last.addedAfter, stamp(4*time.Second))
	}
}

// Alone, a node polls its TAXII feeds itself, as before clusters.
func TestTAXIIFeedAlone(t *testing.T) {
	srv := &taxiiServer{}
	srv.add(1, "198.51.100.9", time.Now().Add(-time.Minute))
	hs := httptest.NewServer(srv)
	defer hs.Close()
	b, err := bus.Start(bus.Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := cluster.Start(ctx, b, cluster.Options{Node: "solo"})
	if err != nil {
		t.Fatal(err)
	}
	ix := intel.NewIndex(intel.Config{})
	cfg := config.Intel{Feeds: []config.Feed{{Name: "cti", Type: "taxii", URL: hs.URL + "/api1", Collection: "coll-1", Refresh: config.Duration(feedEvery)}}}
	if err := startTAXIIFeedsWith(ctx, cfg, ix, b, rt, &http.Client{Transport: nodeTransport("solo")}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the lone node indexes the feed", func() bool { return len(ix.Lookup(intel.KindIPv4, "198.51.100.9")) > 0 })
	if _, err := b.JS.ObjectStore(ctx, FeedsBucket); err == nil {
		t.Fatalf("a lone node created the %s bucket", FeedsBucket)
	}
}
