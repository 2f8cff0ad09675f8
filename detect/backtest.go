package detect

import (
	"context"
	"sort"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/detect/correlate"
	"github.com/riposte-soar/riposte/detect/intel"
	"github.com/riposte-soar/riposte/detect/sigma"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/rulestore"
)

// BacktestHit is one stored event a rule version matched.
type BacktestHit struct {
	EventID string    `json:"event_id"`
	Time    time.Time `json:"time"`
	Host    string    `json:"host,omitempty"`
}

// BacktestReport compares a candidate rule with its current version over
// stored events: the hits the change adds and removes.
type BacktestReport struct {
	RuleID    string        `json:"rule_id"`
	From      time.Time     `json:"from"`
	To        time.Time     `json:"to"`
	Events    int           `json:"events"`
	Current   int           `json:"current_hits"`
	Candidate int           `json:"candidate_hits"`
	Added     []BacktestHit `json:"added"`
	Removed   []BacktestHit `json:"removed"`
	IsNew     bool          `json:"new_rule"`
	// Truncated: the replay stopped at MaxEvents before the window's end.
	Truncated bool `json:"truncated,omitempty"`
}

// EventPage reads one page of stored events with event time in [from, to),
// after cursor ("" for the first page), ordered by time; next is "" on the
// last page. The event store and the REST API both provide one.
type EventPage func(ctx context.Context, from, to time.Time, cursor string) (evs []event.Event, next string, err error)

// Backtest replays stored events through the active ruleset twice, once
// as it is and once with the candidate in place of its rule's current
// version (or added, for a new rule), so correlations see the same
// neighbours they would in production.
type Backtest struct {
	Active    []rulestore.Version // the current version of every enabled rule
	Candidate []byte              // the edited rule's Sigma YAML
	Name      string              // the candidate's name in errors ("candidate", a file name)
	Mapping   *sigma.Mapping      // nil: the default field mapping
	From, To  time.Time
	Events    EventPage
	// MaxEvents bounds the replay (0: the whole window); the report says
	// when it stopped early.
	MaxEvents int
	// Progress, when set, is told the time and count of the latest event.
	Progress func(at time.Time, n int)
}

// Run replays the window. A candidate that does not load is a
// *ValidationError.
func (b Backtest) Run(ctx context.Context) (BacktestReport, error) {
	name := b.Name
	if name == "" {
		name = "candidate"
	}
	m := b.Mapping
	if m == nil {
		m = sigma.DefaultMapping()
	}
	info, errs := Inspect(b.Candidate, name)
	if len(errs) > 0 {
		return BacktestReport{}, &ValidationError{Errors: errs}
	}
	var cur, cand []Source
	isNew := true
	for _, v := range b.Active {
		s := Source{RuleID: v.RuleID, Version: v.Version, Name: "rule:" + v.RuleID, Body: []byte(v.Body)}
		cur = append(cur, s)
		if v.RuleID == info.ID {
			isNew = false
			continue
		}
		cand = append(cand, s)
	}
	cand = append(cand, Source{RuleID: info.ID, Name: name, Body: b.Candidate})
	curSet, _ := Build(cur, m)
	candSet, cerrs := Build(cand, m)
	var mine []LoadError
	for _, e := range cerrs {
		if e.Source == name {
			mine = append(mine, e)
		}
	}
	if len(mine) > 0 {
		return BacktestReport{}, &ValidationError{Errors: mine}
	}
	curEng := NewEngine(curSet, intel.NewIndex(intel.Config{}), correlate.Options{})
	candEng := NewEngine(candSet, intel.NewIndex(intel.Config{}), correlate.Options{})

	rep := BacktestReport{RuleID: info.ID, From: b.From, To: b.To, IsNew: isNew}
	curHits, candHits := map[string]BacktestHit{}, map[string]BacktestHit{}
	cursor := ""
	for {
		evs, next, err := b.Events(ctx, b.From, b.To, cursor)
		if err != nil {
			return rep, err
		}
		for i := range evs {
			ev := &evs[i]
			if b.MaxEvents > 0 && rep.Events >= b.MaxEvents {
				rep.Truncated = true
				break
			}
			rep.Events++
			record := func(into map[string]BacktestHit) func(alert.Alert) {
				return func(a alert.Alert) {
					if a.Rule.ID != info.ID {
						return
					}
					id := ev.ID
					if len(a.EventIDs) > 0 {
						id = a.EventIDs[len(a.EventIDs)-1]
					}
					into[id] = BacktestHit{EventID: id, Time: ev.Time, Host: ev.Host}
				}
			}
			curEng.Process(ev, ev.Time, record(curHits))
			candEng.Process(ev, ev.Time, record(candHits))
			if b.Progress != nil {
				b.Progress(ev.Time, rep.Events)
			}
		}
		if next == "" || rep.Truncated {
			break
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		cursor = next
	}
	rep.Current, rep.Candidate = len(curHits), len(candHits)
	for id, h := range candHits {
		if _, ok := curHits[id]; !ok {
			rep.Added = append(rep.Added, h)
		}
	}
	for id, h := range curHits {
		if _, ok := candHits[id]; !ok {
			rep.Removed = append(rep.Removed, h)
		}
	}
	for _, l := range [][]BacktestHit{rep.Added, rep.Removed} {
		sort.Slice(l, func(i, j int) bool {
			if !l[i].Time.Equal(l[j].Time) {
				return l[i].Time.Before(l[j].Time)
			}
			return l[i].EventID < l[j].EventID
		})
	}
	return rep, nil
}

// Backtest runs a candidate against the active ruleset and this
// manager's field mapping.
func (m *Manager) Backtest(ctx context.Context, body []byte, from, to time.Time, events EventPage, maxEvents int) (BacktestReport, error) {
	active, err := m.Store.Active(ctx)
	if err != nil {
		return BacktestReport{}, err
	}
	return Backtest{Active: active, Candidate: body, Mapping: m.Mapping, From: from, To: to, Events: events, MaxEvents: maxEvents}.Run(ctx)
}

// RuleSummary is a stored rule with what its current version declares.
type RuleSummary struct {
	rulestore.Rule
	Level string
	Tags  []string
}

// Summaries lists every stored rule with its level and tags, read from
// the current bodies in one query.
func (m *Manager) Summaries(ctx context.Context) ([]RuleSummary, error) {
	hs, err := m.Store.Heads(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]RuleSummary, len(hs))
	for i, h := range hs {
		out[i].Rule = h.Rule
		if info, errs := Inspect([]byte(h.Version.Body), "rule:"+h.ID); len(errs) == 0 {
			out[i].Level, out[i].Tags = info.Level, info.Tags
		}
	}
	return out, nil
}
