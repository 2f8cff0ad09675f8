// Package detect is the detection stage: it reads events from the events
// stream, runs them through the Sigma matcher, the correlation engine and the
// threat-intel index, and publishes every hit as an alert.Alert on the alerts
// stream, which the alarm stage consumes.
package detect

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/detect/correlate"
	"github.com/riposte-soar/riposte/detect/intel"
	"github.com/riposte-soar/riposte/detect/sigma"
	"github.com/riposte-soar/riposte/event"
)

// Source is one rule document to load: its stored id and version (0 for
// files that are not in the rule store) and its YAML.
type Source struct {
	RuleID  string
	Version int
	Name    string // file name or "rule:<id>", for error messages
	Body    []byte
}

// LoadError says why a rule did not load.
type LoadError struct {
	Source string `json:"source"`
	Line   int    `json:"line,omitempty"`
	Reason string `json:"reason"`
}

func (e LoadError) Error() string {
	if e.Source == "" {
		return e.Reason
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, e.Reason)
	}
	return e.Source + ": " + e.Reason
}

// Ruleset is one compiled generation of rules; the engine swaps whole
// generations so a reload never pauses matching.
type Ruleset struct {
	Matcher      *sigma.Matcher
	Rules        []*sigma.Rule
	Correlations []*correlate.Rule
	versions     map[string]int
}

// Build parses and compiles rule documents. Documents that fail are
// reported and left out; the rest load.
func Build(srcs []Source, m *sigma.Mapping) (*Ruleset, []LoadError) {
	rs := &Ruleset{versions: map[string]int{}}
	var errs []LoadError
	var raw []sigma.RawDoc
	for _, s := range srcs {
		col, lerrs := sigma.Parse(s.Body, s.Name)
		for _, e := range lerrs {
			errs = append(errs, LoadError{Source: e.File, Line: e.Line, Reason: e.Reason})
		}
		for _, r := range col.Rules {
			rs.versions[r.ID] = s.Version
		}
		rs.Rules = append(rs.Rules, col.Rules...)
		raw = append(raw, col.Correlations...)
	}
	matcher, cerrs := sigma.Compile(rs.Rules, m)
	for _, e := range cerrs {
		errs = append(errs, LoadError{Source: e.File, Line: e.Line, Reason: e.Reason})
	}
	rs.Matcher = matcher
	known := map[string]bool{}
	for _, r := range rs.Rules {
		known[r.ID] = true
		if r.Name != "" {
			known[r.Name] = true
		}
	}
	var corrs []*correlate.Rule
	for _, d := range raw {
		c, err := correlate.Parse(d.Doc, d.File, d.Line)
		if err != nil {
			errs = append(errs, LoadError{Reason: err.Error()}) // it names file and line itself
			continue
		}
		corrs = append(corrs, c)
	}
	resolved, rerrs := correlate.Resolve(corrs, func(ref string) bool { return known[ref] })
	for _, e := range rerrs {
		errs = append(errs, LoadError{Reason: e.Error()})
	}
	rs.Correlations = resolved
	for _, c := range resolved {
		for _, s := range srcs {
			if s.RuleID == c.ID {
				rs.versions[c.ID] = s.Version
			}
		}
	}
	return rs, errs
}

// Engine runs a Ruleset, the correlation state and the indicator index.
type Engine struct {
	set   atomic.Pointer[Ruleset]
	mu    sync.Mutex // the correlation engine is not safe for concurrent use
	corr  *correlate.Engine
	intel *intel.Index
	// router, in a cluster, takes the matches correlations count to the
	// node owning their partition (partition.go).
	router *Router

	matched, alerts atomic.Int64
}

// NewEngine starts with a ruleset and an indicator index (either may be
// empty but not nil).
func NewEngine(rs *Ruleset, ix *intel.Index, opts correlate.Options) *Engine {
	e := &Engine{corr: correlate.NewEngine(rs.Correlations, opts), intel: ix}
	e.set.Store(rs)
	return e
}

// Swap installs a new ruleset. Correlation state of correlations whose
// definition did not change carries over.
func (e *Engine) Swap(rs *Ruleset) {
	e.mu.Lock()
	e.corr.Reload(rs.Correlations)
	e.mu.Unlock()
	e.set.Store(rs)
}

// Ruleset returns the ruleset in use.
func (e *Engine) Ruleset() *Ruleset { return e.set.Load() }

// Correlations gives locked access to the correlation engine (for saving
// and restoring its state).
func (e *Engine) Correlations(fn func(*correlate.Engine)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn(e.corr)
}

// Process evaluates one event and calls emit for every alert it raises.
func (e *Engine) Process(ev *event.Event, now time.Time, emit func(alert.Alert)) {
	rs := e.set.Load()
	var ents *alert.Entities
	entities := func() alert.Entities {
		if ents == nil {
			x := Entities(ev)
			ents = &x
		}
		return *ents
	}
	rs.Matcher.Match(ev, func(r *sigma.Rule) {
		e.matched.Add(1)
		if e.router != nil {
			if !e.route(r, ev) {
				emit(e.sigmaAlert(rs, r, ev, now, entities()))
			}
			return
		}
		e.mu.Lock()
		hits := e.corr.Observe(r.ID, r.Name, ev)
		suppressed := e.corr.Suppressed(r.ID, r.Name)
		e.mu.Unlock()
		if !suppressed {
			emit(e.sigmaAlert(rs, r, ev, now, entities()))
		}
		for _, h := range hits {
			if !h.Suppressed { // consumed by an outer correlation with generate: false
				emit(e.correlationAlert(rs, h, now))
			}
		}
	})
	if e.intel != nil {
		e.intel.Match(ev, now, func(h intel.Hit) {
			a := intel.ToAlert(h, ev)
			a.Detected = now
			a.Entities = entities()
			e.count(&a)
			emit(a)
		})
	}
}

// Tick closes correlation windows that ended by now, and raises an alert
// for each correlation that had to evict state since its last such alert.
func (e *Engine) Tick(now time.Time, emit func(alert.Alert)) {
	rs := e.set.Load()
	e.mu.Lock()
	hits := e.corr.Tick(now)
	press := e.corr.Pressure(now)
	e.mu.Unlock()
	for _, h := range hits {
		if !h.Suppressed {
			emit(e.correlationAlert(rs, h, now))
		}
	}
	for _, p := range press {
		emit(e.pressureAlert(p, now))
	}
}

// PressureRuleID is the rule id of the alert raised when a correlation's
// state is full and groups are evicted. A flood of distinct group keys (one
// failed login from each of many addresses) is how an attacker would push
// their own evidence out of memory, so the flood itself is reported.
const PressureRuleID = "riposte-correlation-state-pressure"

func (e *Engine) pressureAlert(p correlate.Pressure, now time.Time) alert.Alert {
	nets := make([]string, len(p.Networks))
	for i, n := range p.Networks {
		nets[i] = fmt.Sprintf("%s (%d)", n.Network, n.Groups)
	}
	ctx := map[string]string{
		"correlation":         p.Rule.Key(),
		"evicted_max_entries": strconv.Itoa(p.MaxEvictedEntries),
		"groups":              fmt.Sprintf("%d of %d", p.Groups, p.Max),
	}
	if len(nets) > 0 {
		ctx["networks"] = strings.Join(nets, ", ")
	}
	a := alert.Alert{
		Kind: alert.KindCorrelation,
		Rule: alert.Rule{ID: PressureRuleID, Level: "high", Tags: []string{"attack.defense_evasion", "attack.t1562"},
			Title: "Correlation state under pressure, possible flood evasion: " + p.Rule.Title},
		Time:           p.Until,
		Detected:       now,
		Correlation:    &alert.Correlation{Type: p.Rule.Type, GroupBy: ctx, WindowStart: p.Since, WindowEnd: p.Until, Count: p.Evicted},
		FirstEventTime: p.Since,
		// One alert per correlation: repeated reports during a long flood
		// count on it instead of opening incidents.
		Fingerprint: PressureRuleID + "|" + p.Rule.Key(),
	}
	e.count(&a)
	return a
}

func (e *Engine) count(*alert.Alert) { e.alerts.Add(1) }

// Counts reports rule matches and alerts raised since start.
func (e *Engine) Counts() (matched, alerts int64) { return e.matched.Load(), e.alerts.Load() }

func (e *Engine) sigmaAlert(rs *Ruleset, r *sigma.Rule, ev *event.Event, now time.Time, ents alert.Entities) alert.Alert {
	t := ev.Time
	if t.IsZero() {
		t = ev.Received
	}
	a := alert.Alert{
		Kind:           alert.KindSigma,
		Rule:           alert.Rule{ID: r.ID, Title: r.Title, Level: r.Level, Tags: r.Tags, Version: rs.versions[r.ID]},
		Time:           t,
		Detected:       now,
		EventIDs:       []string{ev.ID},
		Entities:       ents,
		Host:           ev.Host,
		FirstEventTime: t,
	}
	e.count(&a)
	return a
}

func (e *Engine) correlationAlert(rs *Ruleset, h correlate.Hit, now time.Time) alert.Alert {
	// The group values are what the correlation is about: read entities
	// from them as if they were an event's fields.
	grp := &event.Event{Host: h.Host, Fields: make(map[string]any, len(h.Group))}
	keys := make([]string, 0, len(h.Group))
	for k, v := range h.Group {
		grp.Fields[k] = v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	a := alert.Alert{
		Kind:     alert.KindCorrelation,
		Rule:     alert.Rule{ID: h.Rule.Key(), Title: h.Rule.Title, Level: h.Rule.Level, Tags: h.Rule.Tags, Version: rs.versions[h.Rule.ID]},
		Time:     h.WindowEnd,
		Detected: now,
		EventIDs: h.EventIDs,
		Entities: Entities(grp),
		Host:     h.Host,
		Correlation: &alert.Correlation{Type: h.Rule.Type, GroupBy: h.Group, WindowStart: h.WindowStart,
			WindowEnd: h.WindowEnd, Count: h.Count},
		FirstEventTime: h.FirstEventTime,
	}
	if a.Rule.Level == "" {
		a.Rule.Level = "medium"
	}
	var gk []string
	for _, k := range keys {
		gk = append(gk, k+"="+h.Group[k])
	}
	a.Fingerprint = h.Rule.Key() + "|" + strings.Join(gk, ",")
	e.count(&a)
	return a
}
