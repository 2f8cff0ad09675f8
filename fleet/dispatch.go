package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/openc2"
)

// ErrOffline is returned when an agent did not answer in time.
var ErrOffline = errors.New("agent did not answer")

// Start subscribes to the agents' results and heartbeats, pushes every
// decision change to the agents it applies to, and compares each agent's
// decisions with the held set at every heartbeat. It returns when the
// subscriptions are in place; the work goes on until ctx ends.
func (f *Fleet) Start(ctx context.Context, nc *nats.Conn) error {
	f.conn = nc
	rs, err := nc.Subscribe("riposte.agent.*.result", f.onResult)
	if err != nil {
		return err
	}
	hs, err := nc.Subscribe("riposte.agent.*.hb", f.onHeartbeat)
	if err != nil {
		rs.Unsubscribe()
		return err
	}
	for _, s := range []*nats.Subscription{rs, hs} {
		_ = s.SetPendingLimits(1<<16, 256<<20)
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	if f.o.Decisions != nil {
		f.o.Decisions.Watch(f.onDecision)
	}
	go func() {
		<-ctx.Done()
		rs.Unsubscribe()
		hs.Unsubscribe()
	}()
	go f.syncLoop(ctx)
	return nil
}

func agentOfSubject(subj string) string {
	p := strings.Split(subj, ".")
	if len(p) != 4 {
		return ""
	}
	return p[2]
}

func (f *Fleet) onResult(m *nats.Msg) {
	id := agentOfSubject(m.Subject)
	a, ok := f.agent(id)
	if !ok {
		return
	}
	var r protocol.Result
	if err := json.Unmarshal(m.Data, &r); err != nil {
		f.log.Warn("agent result unreadable", "agent", id, "err", err)
		return
	}
	if err := protocol.VerifyResult(a.PublicKey, r, id); err != nil {
		f.log.Warn("agent result refused", "agent", id, "host", a.Hostname, "err", err)
		return
	}
	f.wmu.Lock()
	w, ok := f.wait[id+"/"+r.CommandID]
	delete(f.wait, id+"/"+r.CommandID)
	f.wmu.Unlock()
	if ok {
		w.ch <- r
		if !w.quiet {
			return
		}
	}
	if rsp, err := openc2.DecodeResponse(openc2.ComponentRiposte, r.Response); err == nil && rsp.Status >= 300 && rsp.Status != 404 {
		f.log.Warn("agent refused a command", "agent", id, "host", a.Hostname, "command", r.CommandID, "status", rsp.Status, "text", rsp.StatusText)
	}
}

// publish signs cmd for one agent and sends it; the returned channel
// receives the agent's verified result.
func (f *Fleet) publish(a *Agent, commandID string, cmd json.RawMessage, quiet bool) (<-chan protocol.Result, func(), error) {
	if f.conn == nil {
		return nil, nil, errors.New("fleet not started")
	}
	subj, err := protocol.SubjectFor(a.ID)
	if err != nil {
		return nil, nil, err
	}
	env := protocol.Sign(f.o.Key, protocol.NewEnvelope(a.ID, commandID, cmd, time.Now(), f.o.CommandTTL))
	b, err := json.Marshal(env)
	if err != nil {
		return nil, nil, err
	}
	ch := make(chan protocol.Result, 1)
	key := a.ID + "/" + commandID
	f.wmu.Lock()
	f.wait[key] = waiter{ch: ch, at: time.Now(), quiet: quiet}
	if cc, ok := collectCtx(cmd); ok {
		f.ctxs[key] = cc
	}
	f.wmu.Unlock()
	cancel := func() {
		f.wmu.Lock()
		if f.wait[key].ch == ch {
			delete(f.wait, key)
		}
		f.wmu.Unlock()
	}
	if err := f.conn.Publish(subj.Command, b); err != nil {
		cancel()
		return nil, nil, err
	}
	return ch, cancel, nil
}

// Send signs cmd for the agent and waits for its verified result until ctx
// ends (ErrOffline then: the command may or may not have been applied).
// commandID must be stable across retries of one logical command: agents
// answer a repeated id from their record instead of acting twice.
//
// by says who asks and for which incident: it is written into the
// command's x-riposte arguments over whatever the command carried, since
// the agent records it with evidence and the server keeps custody by it.
func (f *Fleet) Send(ctx context.Context, agentID, commandID string, cmd json.RawMessage, by Requester) (protocol.Result, *openc2.Response, error) {
	a, ok := f.agent(agentID)
	if !ok {
		return protocol.Result{}, nil, fmt.Errorf("agent %s is not enrolled or was revoked", agentID)
	}
	cmd, err := stamp(cmd, by)
	if err != nil {
		return protocol.Result{}, nil, err
	}
	ch, cancel, err := f.publish(a, commandID, cmd, false)
	if err != nil {
		return protocol.Result{}, nil, err
	}
	defer cancel()
	defer f.doneCollecting(a.ID, commandID)
	select {
	case r := <-ch:
		rsp, err := openc2.DecodeResponse(openc2.ComponentRiposte, r.Response)
		return r, rsp, err
	case <-ctx.Done():
		return protocol.Result{}, nil, fmt.Errorf("%w: %s (%s) within the deadline", ErrOffline, a.Hostname, a.ID)
	}
}

// Requester is who asks for a command, and for which incident.
type Requester struct {
	Actor    string
	Incident string
}

// stamp writes the requester into the command's x-riposte arguments.
func stamp(cmd json.RawMessage, by Requester) (json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(cmd, &m); err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	args, _ := m["args"].(map[string]any)
	if args == nil {
		args = map[string]any{}
	}
	x, _ := args["x-riposte"].(map[string]any)
	if x == nil {
		x = map[string]any{}
	}
	delete(x, "incident")
	x["requested_by"] = by.Actor
	if by.Incident != "" {
		x["incident"] = by.Incident
	}
	args["x-riposte"] = x
	m["args"] = args
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := openc2.ValidateCommand(b); err != nil {
		return nil, err
	}
	return b, nil
}

// pushes remembers the latest command sent for each decision change, so
// a caller (the agent connector) can wait for its verified results.
type push struct {
	agent string
	ch    <-chan protocol.Result
}

func (f *Fleet) onDecision(d decision.Decision) {
	now := time.Now()
	active := d.Active(now)
	var others []decision.Decision
	if !active {
		// Other decisions on the same target may still hold on some
		// hosts: there the agent gets the remaining one (it replaces the
		// lifted rule in place) instead of a delete that would open a gap.
		if ds, err := f.o.Decisions.List(context.Background(), false, now); err == nil {
			for _, o := range ds {
				if o.Kind == d.Kind && o.Target == d.Target && o.ID != d.ID {
					others = append(others, o)
				}
			}
		}
	}
	var ps []push
	for _, a := range f.List() {
		if a.Revoked || !a.Enforces(d) {
			continue
		}
		var still []decision.Decision
		for _, o := range others {
			if a.Enforces(o) {
				still = append(still, o)
			}
		}
		if len(still) > 0 {
			ch, err := f.pushDecision(&a, longest(still), true)
			if err == nil {
				ps = append(ps, push{agent: a.ID, ch: ch})
			}
			continue
		}
		ch, err := f.pushDecision(&a, d, active)
		if err != nil {
			f.log.Error("decision not sent to agent", "decision", d.ID, "agent", a.ID, "host", a.Hostname, "err", err)
			continue
		}
		ps = append(ps, push{agent: a.ID, ch: ch})
	}
	f.wmu.Lock()
	if f.pushes == nil {
		f.pushes = map[string]pushRec{}
	}
	f.pushes[fmt.Sprintf("%s/%t", d.ID, active)] = pushRec{at: time.Now(), ps: ps}
	f.wmu.Unlock()
}

type pushRec struct {
	at time.Time
	ps []push
}

func (f *Fleet) pushDecision(a *Agent, d decision.Decision, active bool) (<-chan protocol.Result, error) {
	cmd, err := DecisionCommand(d, active, f.o.ServerAddresses)
	if err != nil {
		return nil, err
	}
	op := "del"
	if active {
		op = "add"
	}
	ch, _, err := f.publish(a, fmt.Sprintf("rule-%d-%s-%s", d.Rule, op, protocol.NewNonce()[:12]), cmd, true)
	return ch, err
}

// Outcome is one agent's answer about one decision.
type Outcome struct {
	Agent    string `json:"agent"`
	Hostname string `json:"hostname"`
	Status   int    `json:"status"`
	Text     string `json:"text,omitempty"`
	Verified bool   `json:"verified"`
}

// Await waits until every agent the decision change was sent to answered,
// or ctx ends; agents that did not answer are reported with status 0
// (their next heartbeat brings them in line).
func (f *Fleet) Await(ctx context.Context, d decision.Decision, active bool) []Outcome {
	f.wmu.Lock()
	rec := f.pushes[fmt.Sprintf("%s/%t", d.ID, active)]
	f.wmu.Unlock()
	var out []Outcome
	for _, p := range rec.ps {
		o := Outcome{Agent: p.agent}
		if a, ok := f.agent(p.agent); ok {
			o.Hostname = a.Hostname
		}
		select {
		case r := <-p.ch:
			if rsp, err := openc2.DecodeResponse(openc2.ComponentRiposte, r.Response); err == nil {
				o.Status, o.Text = rsp.Status, rsp.StatusText
				var x struct {
					Verified bool `json:"verified"`
				}
				if raw, ok := rsp.Results["x-riposte"]; ok {
					_ = json.Unmarshal(raw, &x)
				}
				o.Verified = rsp.Status == 200 && x.Verified
			}
		case <-ctx.Done():
			o.Text = "no answer within the deadline"
		}
		out = append(out, o)
	}
	return out
}

func (f *Fleet) onHeartbeat(m *nats.Msg) {
	id := agentOfSubject(m.Subject)
	a, ok := f.agent(id)
	if !ok {
		return
	}
	// A heartbeat makes the server compare and send: at most one per
	// agent per minHeartbeatGap is taken, so a compromised agent cannot
	// flood the comparison of the others.
	f.mu.Lock()
	if cur := f.agents[id]; cur != nil {
		if time.Since(cur.hbAt) < minHeartbeatGap {
			f.mu.Unlock()
			return
		}
		cur.hbAt = time.Now()
	}
	f.mu.Unlock()
	var h protocol.Heartbeat
	if err := json.Unmarshal(m.Data, &h); err != nil {
		return
	}
	if err := protocol.VerifyHeartbeat(a.PublicKey, h, id); err != nil {
		f.log.Warn("agent heartbeat refused", "agent", id, "err", err)
		return
	}
	inv := Inventory{Addresses: h.Addresses, OS: h.OS, Version: h.Version, Rules: h.Rules, Contained: h.Contained,
		Mode: h.Mode, Segments: h.Segments, Quarantined: h.Quarantined}
	now := time.Now().UTC()
	f.mu.Lock()
	cur := f.agents[id]
	persist := cur.LastSeen.IsZero() || now.Sub(cur.LastSeen) > 30*time.Second || !slices.Equal(cur.Addresses, inv.Addresses) || cur.Version != inv.Version ||
		cur.Mode != inv.Mode || !slices.Equal(cur.Segments, inv.Segments)
	cur.LastSeen, cur.Inventory = now, inv
	snapshot := *cur
	f.mu.Unlock()
	if persist {
		b, _ := json.Marshal(inv)
		if _, err := f.o.DB.W.Exec(`UPDATE agents SET last_seen = ?, inventory = ? WHERE id = ?`, now.UnixNano(), string(b), id); err != nil && !errors.Is(err, sql.ErrConnDone) {
			f.log.Warn("agent heartbeat not recorded", "agent", id, "err", err)
		}
	}
	if f.o.OnHeartbeat != nil {
		f.o.OnHeartbeat(snapshot)
	}
	f.queueSync(id)
}

// minHeartbeatGap is the shortest interval between two heartbeats of one
// agent that the server acts on.
const minHeartbeatGap = 200 * time.Millisecond

// queueSync asks the sync loop to compare an agent; pending agents are a
// set, so every agent waiting is compared once, none is dropped.
func (f *Fleet) queueSync(id string) {
	f.wmu.Lock()
	f.pending[id] = true
	f.wmu.Unlock()
	select {
	case f.sync <- struct{}{}:
	default:
	}
}

// waiter is a command awaiting its result. Decision pushes are "quiet":
// nobody may be waiting, so a failure is also logged.
type waiter struct {
	ch    chan protocol.Result
	at    time.Time
	quiet bool
}

// sweep forgets commands whose agents never answered.
func (f *Fleet) sweep(now time.Time) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	for k, w := range f.wait {
		if now.Sub(w.at) > f.o.CommandTTL {
			delete(f.wait, k)
		}
	}
	for k, p := range f.pushes {
		if now.Sub(p.at) > f.o.CommandTTL {
			delete(f.pushes, k)
		}
	}
	for k, c := range f.ctxs {
		if now.Sub(c.at) > f.o.CommandTTL+time.Hour {
			delete(f.ctxs, k)
		}
	}
}

// syncLoop compares each agent that sent a heartbeat with the decisions
// held for its host, and sends what is missing or no longer decided.
func (f *Fleet) syncLoop(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			f.sweep(now)
		case <-f.sync:
			f.wmu.Lock()
			ids := make([]string, 0, len(f.pending))
			for id := range f.pending {
				ids = append(ids, id)
			}
			clear(f.pending)
			f.wmu.Unlock()
			for _, id := range ids {
				if err := f.syncAgent(ctx, id); err != nil && ctx.Err() == nil {
					f.log.Warn("agent sync", "agent", id, "err", err)
				}
			}
		}
	}
}

// maxDeletesPerSync bounds what one heartbeat can make the server send: a
// compromised agent reporting thousands of invented rule numbers gets a
// bounded answer.
const maxDeletesPerSync = 256

func (f *Fleet) syncAgent(ctx context.Context, id string) error {
	if f.o.Decisions == nil {
		return nil
	}
	a, ok := f.agent(id)
	if !ok {
		return nil
	}
	now := time.Now()
	all, err := f.o.Decisions.List(ctx, false, now)
	if err != nil {
		return err
	}
	var want []decision.Decision
	for _, d := range all {
		if a.Enforces(d) {
			want = append(want, d)
		}
	}
	has := map[int64]bool{}
	for _, r := range a.Rules {
		has[r] = true
	}
	// An agent holds one rule per address: decisions on the same target
	// (a global ban and a host-scoped one, bans of two incidents) are
	// enforced by whichever of their rules it holds.
	groups := map[string][]decision.Decision{}
	covered := map[int64]bool{}
	var contains []decision.Decision
	// Segment quarantines, like denies, are held one per target.
	segGroups := map[string][]decision.Decision{}
	segCovered := map[int64]bool{}
	for _, d := range want {
		switch d.Kind {
		case decision.ContainHost:
			contains = append(contains, d)
		case decision.ContainSegment:
			segCovered[d.Rule] = true
			if !d.Expires.IsZero() && d.Expires.Sub(now) < time.Second {
				continue
			}
			segGroups[d.Target] = append(segGroups[d.Target], d)
		case decision.DenyIP:
			covered[d.Rule] = true
			// Within a second of expiry either side may hold it.
			if !d.Expires.IsZero() && d.Expires.Sub(now) < time.Second {
				continue
			}
			groups[d.Target] = append(groups[d.Target], d)
		}
	}
	for _, g := range groups {
		held := false
		for _, d := range g {
			held = held || has[d.Rule]
		}
		if !held {
			if _, err := f.pushDecision(a, longest(g), true); err != nil {
				return err
			}
		}
	}
	deletes := 0
	for r := range has {
		if covered[r] {
			continue
		}
		if deletes++; deletes > maxDeletesPerSync {
			break
		}
		if _, err := f.pushDecision(a, decision.Decision{ID: fmt.Sprint("rule-", r), Kind: decision.DenyIP, Rule: r}, false); err != nil {
			return err
		}
	}
	for _, g := range segGroups {
		held := false
		for _, d := range g {
			held = held || slices.Contains(a.Quarantined, d.Rule)
		}
		if !held {
			if _, err := f.pushDecision(a, longest(g), true); err != nil {
				return err
			}
		}
	}
	for _, r := range a.Quarantined {
		if segCovered[r] {
			continue
		}
		if deletes++; deletes > maxDeletesPerSync {
			break
		}
		if _, err := f.pushDecision(a, decision.Decision{ID: fmt.Sprint("rule-", r), Kind: decision.ContainSegment, Rule: r}, false); err != nil {
			return err
		}
	}
	held := false
	for _, d := range contains {
		held = held || a.Contained == d.Rule
	}
	switch {
	case len(contains) > 0 && !held:
		_, err = f.pushDecision(a, longest(contains), true)
	case len(contains) == 0 && a.Contained != 0:
		_, err = f.pushDecision(a, decision.Decision{ID: fmt.Sprint("rule-", a.Contained), Kind: decision.ContainHost, Target: a.Hostname, Rule: a.Contained}, false)
	}
	return err
}

// longest is the decision of a group that holds longest (zero expiry:
// until reverted).
func longest(g []decision.Decision) decision.Decision {
	best := g[0]
	for _, d := range g[1:] {
		if best.Expires.IsZero() {
			break
		}
		if d.Expires.IsZero() || d.Expires.After(best.Expires) {
			best = d
		}
	}
	return best
}
