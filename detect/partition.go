package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/detect/correlate"
	"github.com/riposte-soar/riposte/detect/sigma"
	"github.com/riposte-soar/riposte/event"
)

// In a cluster, detection runs on every node (the events are split among
// them by the shared consumer), but a correlation must see every match of
// a group to count it once and fully. So a node does not count the matches
// correlations reference itself: it sends each to the partition of its
// group key (MatchesStream, one subject per partition), and the one node
// that owns a partition at a time counts that partition's groups, keeps
// their state in a replicated bucket, and hands them over with it.
const (
	MatchesStream  = "CORRELATE"
	MatchesSubject = "correlate"
	// StateBucket holds the correlation state of every partition.
	StateBucket = "riposte_correlation"
)

// Match is one base-rule match sent to the partition that counts it: the
// rule and what the correlations read of the event.
type Match struct {
	Rule     string         `json:"rule"`
	Name     string         `json:"name,omitempty"`
	Event    string         `json:"event"`
	Time     time.Time      `json:"time"`
	Received time.Time      `json:"received,omitzero"`
	Host     string         `json:"host,omitempty"`
	Fields   map[string]any `json:"fields,omitempty"`
}

// PartitionOf is the partition of a group key among n. Only the group-by
// values enter the hash, not the correlation: a chained correlation that
// groups by the same values as its inner ones is counted where they are.
func PartitionOf(groupKey []byte, n int) int {
	h := fnv.New32a()
	h.Write(groupKey)
	return int(h.Sum32() % uint32(n))
}

// MatchConsumer is the durable consumer of partition p, the same on every
// node: whoever owns the partition reads it.
func MatchConsumer(p int) string { return fmt.Sprintf("correlate-p%03d", p) }

// EnsureMatches creates the matches stream, its partition consumers and
// the state bucket.
func EnsureMatches(ctx context.Context, js jetstream.JetStream, partitions, replicas int) (jetstream.KeyValue, error) {
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     MatchesStream,
		Subjects: []string{MatchesSubject + ".>"},
		// A match leaves once its partition's owner counted it.
		Retention: jetstream.WorkQueuePolicy,
		Storage:   jetstream.FileStorage,
		MaxAge:    24 * time.Hour,
		// An event processed again after a crash sends its matches again:
		// the stream drops them by id instead of counting them twice.
		Duplicates: 10 * time.Minute,
		Replicas:   replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("matches stream: %w", err)
	}
	for p := 0; p < partitions; p++ {
		if _, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable: MatchConsumer(p), AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
			MaxAckPending: 8192, FilterSubject: fmt.Sprintf("%s.%d", MatchesSubject, p), Replicas: replicas,
		}); err != nil {
			return nil, fmt.Errorf("matches consumer %d: %w", p, err)
		}
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: StateBucket, History: 1,
		Storage: jetstream.FileStorage, Replicas: replicas, Description: "riposte correlation state by partition"})
	if err != nil {
		return nil, fmt.Errorf("correlation state bucket: %w", err)
	}
	return kv, nil
}

// Router sends matches to their partitions; detection flushes it before
// acknowledging the events that raised them.
type Router struct {
	JS         jetstream.JetStream
	Partitions int
	pending    []*nats.Msg
}

// SetRouter makes the engine send matches that correlations count to r
// instead of counting them itself.
func (e *Engine) SetRouter(r *Router) { e.router = r }

func (e *Engine) route(r *sigma.Rule, ev *event.Event) (suppressed bool) {
	e.mu.Lock()
	keys := e.corr.GroupKeys(r.ID, r.Name, ev)
	var fields []string
	if len(keys) > 0 {
		fields = e.corr.Fields(r.ID, r.Name)
	}
	suppressed = e.corr.Suppressed(r.ID, r.Name)
	e.mu.Unlock()
	if len(keys) == 0 {
		return suppressed
	}
	m := Match{Rule: r.ID, Name: r.Name, Event: ev.ID, Time: ev.Time, Received: ev.Received, Host: ev.Host,
		Fields: make(map[string]any, len(fields))}
	for _, f := range fields {
		if v, ok := ev.Fields[f]; ok {
			m.Fields[f] = v
		}
	}
	data, _ := json.Marshal(m)
	var sent uint64 // partitions already sent to (up to 64 distinct per match is plenty)
	for _, k := range keys {
		p := PartitionOf([]byte(k.Group), e.router.Partitions)
		if p < 64 && sent&(1<<p) != 0 {
			continue
		}
		if p < 64 {
			sent |= 1 << p
		}
		msg := &nats.Msg{Subject: MatchesSubject + "." + strconv.Itoa(p), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, ev.ID+"|"+r.ID+"|"+strconv.Itoa(p))
		e.router.pending = append(e.router.pending, msg)
	}
	return suppressed
}

// Flush publishes the pending matches and waits for the stream to store
// them all.
func (r *Router) Flush(ctx context.Context) error {
	if len(r.pending) == 0 {
		return nil
	}
	futs := make([]jetstream.PubAckFuture, 0, len(r.pending))
	for _, m := range r.pending {
		f, err := r.JS.PublishMsgAsync(m)
		if err != nil {
			return err
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.pending = r.pending[:0]
	return nil
}

// Partition counts the correlations of one partition on the node that
// owns it.
type Partition struct {
	// Engine gives the rules in force and builds the alerts.
	Engine *Engine
	Opts   correlate.Options
	JS     jetstream.JetStream
	State  jetstream.KeyValue
	// N is the number of partitions.
	N   int
	Log *slog.Logger
}

// stateKey is the bucket key of one group of partition p.
func stateKey(p int, rule, group string) string {
	return fmt.Sprintf("p%03d.%016x.%016x", p, fnv64(rule), fnv64(group))
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// Run counts partition p until ctx ends or held turns false (the lease is
// lost): it loads the partition's state, then for each batch of matches
// raises the correlation alerts, saves the state, and acknowledges.
func (pt *Partition) Run(ctx context.Context, p int, held func() bool) error {
	rs := pt.Engine.Ruleset()
	ce := correlate.NewEngine(rs.Correlations, pt.Opts)
	n, err := pt.load(ctx, p, ce)
	if err != nil {
		return err
	}
	pt.Log.Info("correlation partition taken", "partition", p, "groups", n)
	cons, err := pt.JS.Consumer(ctx, MatchesStream, MatchConsumer(p))
	if err != nil {
		return err
	}
	keep := func(k []byte) bool { return PartitionOf(k, pt.N) == p }
	pub := Publisher{JS: pt.JS}
	var alerts []alert.Alert
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// commit raises the alerts, saves the state and acknowledges msgs; on
	// failure nothing is acknowledged and the matches come again.
	commit := func(msgs []jetstream.Msg) bool {
		for len(alerts) > 0 {
			if err := pub.Publish(context.WithoutCancel(ctx), alerts); err != nil {
				pt.Log.Warn("correlation alerts not stored, retrying", "partition", p, "err", err)
				select {
				case <-ctx.Done():
					return false
				case <-time.After(500 * time.Millisecond):
				}
				continue
			}
			alerts = alerts[:0]
		}
		if !held() {
			return false // another node owns the partition now: its state wins
		}
		if err := pt.save(context.WithoutCancel(ctx), p, ce); err != nil {
			pt.Log.Warn("correlation state not saved", "partition", p, "err", err)
			return false
		}
		for _, m := range msgs {
			_ = m.Ack()
		}
		return true
	}
	// Every acknowledged match is in the saved state (commit), so a holder
	// that stops leaves nothing behind that the next one needs.
	for ctx.Err() == nil && held() {
		if cur := pt.Engine.Ruleset(); cur != rs {
			rs = cur
			ce.Reload(rs.Correlations)
		}
		select {
		case <-tick.C:
			now := time.Now()
			for _, h := range ce.Tick(now) {
				if !h.Suppressed {
					alerts = append(alerts, pt.Engine.correlationAlert(rs, h, now))
				}
			}
			for _, pr := range ce.Pressure(now) {
				alerts = append(alerts, pt.Engine.pressureAlert(pr, now))
			}
			if !commit(nil) {
				continue
			}
		default:
		}
		batch, err := bus.Fetch(cons, 256, bus.FetchBytes, 200*time.Millisecond)
		if err != nil {
			if ctx.Err() == nil {
				pt.Log.Warn("correlation partition fetch failed", "partition", p, "err", err)
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		if len(batch) == 0 {
			continue
		}
		now := time.Now()
		for _, m := range batch {
			var mt Match
			if err := json.Unmarshal(m.Data(), &mt); err != nil {
				pt.Log.Error("correlation: undecodable match skipped", "partition", p, "err", err)
				_ = m.Term()
				continue
			}
			ev := event.Event{ID: mt.Event, Time: mt.Time, Received: mt.Received, Host: mt.Host, Fields: mt.Fields}
			for _, h := range ce.ObserveKeys(mt.Rule, mt.Name, &ev, keep) {
				if !h.Suppressed {
					alerts = append(alerts, pt.Engine.correlationAlert(rs, h, now))
				}
			}
		}
		commit(batch)
	}
	return nil
}

// load restores partition p's saved groups into ce.
func (pt *Partition) load(ctx context.Context, p int, ce *correlate.Engine) (int, error) {
	w, err := pt.State.Watch(ctx, fmt.Sprintf("p%03d.>", p), jetstream.IgnoreDeletes())
	if err != nil {
		return 0, fmt.Errorf("correlation state of partition %d: %w", p, err)
	}
	defer w.Stop()
	var states []correlate.GroupState
	for e := range w.Updates() {
		if e == nil {
			break // all current values seen
		}
		var st correlate.GroupState
		if json.Unmarshal(e.Value(), &st) == nil {
			states = append(states, st)
		}
	}
	n, stale := ce.Restore(states)
	for _, s := range stale {
		_ = pt.State.Delete(ctx, stateKey(p, s.Rule, s.Group))
	}
	return n, nil
}

// save writes what changed in ce since the last save: one bucket message
// per group, published together and awaited together.
func (pt *Partition) save(ctx context.Context, p int, ce *correlate.Engine) error {
	cp := ce.Checkpoint()
	if cp.Empty() {
		return nil
	}
	var futs []jetstream.PubAckFuture
	del := func(key string) error {
		m := &nats.Msg{Subject: "$KV." + StateBucket + "." + key, Header: nats.Header{}}
		m.Header.Set("KV-Operation", "DEL")
		f, err := pt.JS.PublishMsgAsync(m)
		futs = append(futs, f)
		return err
	}
	if cp.Full || len(cp.DropRules) > 0 {
		filters := []string{fmt.Sprintf("p%03d.>", p)}
		if !cp.Full {
			filters = filters[:0]
			for _, r := range cp.DropRules {
				filters = append(filters, fmt.Sprintf("p%03d.%016x.*", p, fnv64(r)))
			}
		}
		l, err := pt.State.ListKeysFiltered(ctx, filters...)
		if err == nil {
			for k := range l.Keys() {
				if err := del(k); err != nil {
					return err
				}
			}
		} else if !errors.Is(err, jetstream.ErrNoKeysFound) {
			return err
		}
	}
	for _, d := range cp.Deletes {
		if err := del(stateKey(p, d.Rule, d.Group)); err != nil {
			return err
		}
	}
	for _, u := range cp.Upserts {
		data, _ := json.Marshal(u)
		f, err := pt.JS.PublishMsgAsync(&nats.Msg{Subject: "$KV." + StateBucket + "." + stateKey(p, u.Rule, u.Group), Data: data})
		if err != nil {
			return err
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ce.Commit(cp)
	return nil
}
