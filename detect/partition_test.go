package detect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/cluster"
	"github.com/riposte-soar/riposte/detect"
	"github.com/riposte-soar/riposte/detect/correlate"
	"github.com/riposte-soar/riposte/detect/intel"
	"github.com/riposte-soar/riposte/detect/rules"
	"github.com/riposte-soar/riposte/detect/sigma"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/internal/jscluster"
)

const partitions = 16

// clusterNode is one node's detection: its engine routing matches, and
// the partitions it owns.
type clusterNode struct {
	b      *bus.Bus
	rt     *cluster.Runtime
	engine *detect.Engine
	router *detect.Router
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func defaultRuleset(t *testing.T) *detect.Ruleset {
	t.Helper()
	var srcs []detect.Source
	err := fs.WalkDir(rules.Default, "default", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(rules.Default, p)
		srcs = append(srcs, detect.Source{Name: p, Body: body})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rs, errs := detect.Build(srcs, sigma.DefaultMapping())
	if len(errs) > 0 {
		t.Fatalf("default rules: %v", errs)
	}
	return rs
}

func startNode(t *testing.T, c *jscluster.Cluster, name string) *clusterNode {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", name)
	}
	b, err := bus.Start(bus.Config{URL: c.URL()}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &clusterNode{b: b, cancel: cancel}
	t.Cleanup(func() { cancel(); n.wg.Wait(); b.Close() })
	if n.rt, err = cluster.Start(ctx, b, cluster.Options{Node: name, TTL: 2 * time.Second, Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.EnsureAlerts(ctx, time.Hour, 64<<20); err != nil {
		t.Fatal(err)
	}
	state, err := detect.EnsureMatches(ctx, b.JS, partitions, b.Replicas)
	if err != nil {
		t.Fatal(err)
	}
	n.engine = detect.NewEngine(defaultRuleset(t), intel.NewIndex(intel.Config{}), correlate.Options{})
	n.router = &detect.Router{JS: b.JS, Partitions: partitions}
	n.engine.SetRouter(n.router)
	pt := &detect.Partition{Engine: n.engine, JS: b.JS, State: state, N: partitions, Log: log}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.rt.Run(ctx) }()
	for p := 0; p < partitions; p++ {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			job := cluster.PartitionJob(p)
			n.rt.Partition(ctx, p, func(ctx context.Context, fence uint64) {
				held := func() bool { f, ok := n.rt.Elector.Held(job); return ok && f == fence && ctx.Err() == nil }
				if err := pt.Run(ctx, p, held); err != nil && ctx.Err() == nil {
					t.Errorf("partition %d: %v", p, err)
				}
			})
		}()
	}
	return n
}

// detectOn runs one event through a node's detection, as detect.Run does
// with a batch: process, then send the matches before acknowledging.
func (n *clusterNode) detectOn(t *testing.T, ev *event.Event) {
	t.Helper()
	n.engine.Process(ev, time.Now(), func(alert.Alert) {})
	if err := n.router.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func failedLogin(i int, ip string, at time.Time) *event.Event {
	return &event.Event{ID: fmt.Sprintf("01JEVENT%018d", i), Time: at, Received: at, Host: "bastion",
		LogSource: event.LogSource{Product: "linux", Service: "sshd"},
		Fields:    map[string]any{"event.action": "ssh_login", "event.outcome": "failure", "source.ip": ip, "user.name": fmt.Sprintf("user%d", i)}}
}

// correlationAlerts reads the correlation alerts stored so far.
func correlationAlerts(t *testing.T, js jetstream.JetStream, rule string) []alert.Alert {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, bus.AlertsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(ctx)
	var out []alert.Alert
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		var as []alert.Alert
		if json.Unmarshal(m.Data, &as) != nil {
			continue
		}
		for _, a := range as {
			if a.Kind == alert.KindCorrelation && (rule == "" || a.Rule.ID == rule) {
				out = append(out, a)
			}
		}
	}
	return out
}

// A brute force whose lines reach three nodes, none of which sees more
// than four of them, is counted once and fully: one alert with the whole
// count, also when the node owning the attacker's partition dies in the
// middle (the next owner continues from the stored state).
func TestCorrelationAcrossNodes(t *testing.T) {
	c := jscluster.Start(t, 3)
	var nodes []*clusterNode
	for _, name := range []string{"a", "b", "c"} {
		nodes = append(nodes, startNode(t, c, name))
	}
	// Every partition owned before the attack starts.
	waitOwned := func(want int) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			n, least := 0, want
			for _, nd := range nodes {
				n += len(nd.rt.Elector.HeldJobs())
				least = min(least, len(nd.rt.Elector.HeldJobs()))
			}
			if n == want && least >= want/len(nodes) {
				return // every node has its share
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d partitions owned", n, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitOwned(partitions)
	const attacker, other = "203.0.113.7", "198.51.100.9"
	p := detect.PartitionOf([]byte(fmt.Sprintf("[%q]", attacker)), partitions)
	owner := -1
	for i, nd := range nodes {
		if _, ok := nd.rt.Elector.Held(cluster.PartitionJob(p)); ok {
			owner = i
		}
	}
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	// Five failures, round-robin over the three nodes; four from another
	// address (below every threshold).
	for i := 0; i < 5; i++ {
		nodes[i%3].detectOn(t, failedLogin(i, attacker, t0.Add(time.Duration(i)*time.Second)))
		if i < 4 {
			nodes[(i+1)%3].detectOn(t, failedLogin(100+i, other, t0.Add(time.Duration(i)*time.Second)))
		}
	}
	// The owner has counted them (its consumer has nothing pending) ...
	js := nodes[(owner+1)%3].b.JS
	deadline := time.Now().Add(10 * time.Second)
	for {
		cons, err := js.Consumer(context.Background(), detect.MatchesStream, detect.MatchConsumer(p))
		if err != nil {
			t.Fatal(err)
		}
		ci, err := cons.Info(context.Background())
		if err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition %d not consumed: %+v", p, ci)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// ... and dies; the rest arrive through the two others.
	nodes[owner].cancel()
	nodes[owner].b.Close()
	survivors := []*clusterNode{}
	for i, nd := range nodes {
		if i != owner {
			survivors = append(survivors, nd)
		}
	}
	for i := 5; i < 10; i++ {
		survivors[i%2].detectOn(t, failedLogin(i, attacker, t0.Add(time.Duration(i)*time.Second)))
	}
	deadline = time.Now().Add(20 * time.Second)
	var got []alert.Alert
	for {
		got = correlationAlerts(t, survivors[0].b.JS, "")
		var bf []alert.Alert
		for _, a := range got {
			if a.Correlation != nil && a.Correlation.GroupBy["source.ip"] == attacker && a.Correlation.Count >= 10 {
				bf = append(bf, a)
			}
		}
		if len(bf) > 0 {
			time.Sleep(2 * time.Second) // would a second one come?
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no brute-force alert after the owner of partition %d died; alerts: %+v", p, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	got = correlationAlerts(t, survivors[0].b.JS, "")
	// The same events through one node's detection raise the same alerts.
	alone := detect.NewEngine(defaultRuleset(t), intel.NewIndex(intel.Config{}), correlate.Options{})
	want := map[string]int{}
	for i := 0; i < 10; i++ {
		for _, ev := range []*event.Event{failedLogin(i, attacker, t0.Add(time.Duration(i)*time.Second)), failedLogin(100+i, other, t0.Add(time.Duration(i)*time.Second))} {
			if ev.Fields["source.ip"] == other && i >= 4 {
				continue
			}
			alone.Process(ev, time.Now(), func(a alert.Alert) {
				if a.Kind == alert.KindCorrelation {
					want[fmt.Sprintf("%s count %d", a.Rule.ID, a.Correlation.Count)]++
				}
			})
		}
	}
	have := map[string]int{}
	for _, a := range got {
		have[fmt.Sprintf("%s count %d", a.Rule.ID, a.Correlation.Count)]++
	}
	if fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("three nodes raised %v, one node raises %v", have, want)
	}
	byRule := map[string][]alert.Alert{}
	for _, a := range got {
		byRule[a.Rule.ID] = append(byRule[a.Rule.ID], a)
		if a.Correlation.GroupBy["source.ip"] == other {
			t.Errorf("alert %s for %s, which failed only 4 times", a.Rule.ID, other)
		}
	}
	for rule, as := range byRule {
		t.Logf("%s: %d alert(s), count %d", rule, len(as), as[0].Correlation.Count)
	}
	found := false
	for _, as := range byRule {
		for _, a := range as {
			if a.Correlation.Count == 10 && a.Correlation.Type == "event_count" && len(a.EventIDs) > 0 {
				found = true
				if len(as) != 1 {
					t.Errorf("%s fired %d times", a.Rule.ID, len(as))
				}
			}
		}
	}
	if !found {
		t.Fatalf("no event_count alert with the full count of 10: %+v", byRule)
	}
}
