package alarm

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/event"
)

// Config tunes dedup, grouping and suppression.
type Config struct {
	Policy Policy
	// DedupWindow: a repeat of an alert (same fingerprint) within it updates
	// the alert instead of creating another.
	DedupWindow time.Duration
	// GroupWindow: an alert joins an open incident that shares an entity
	// and had activity within it.
	GroupWindow time.Duration
	// FingerprintKinds are the entity kinds that, with the rule, make an
	// alert's fingerprint.
	FingerprintKinds []string
	// GroupKinds are the entity kinds that join alerts into one incident.
	GroupKinds []string
	// IgnoreEntities ("user:system", "host:localhost") never join alerts:
	// values shared by everything would glue unrelated alerts together.
	IgnoreEntities []string
	// Inhibit rules hold an alert while an alert of a source level about
	// the same entity is open: the small signal adds nothing to the big one.
	Inhibit []InhibitRule
	// MaxEventIDs bounds the event ids kept per alert.
	MaxEventIDs int
	// MaxSilence is the longest a silence may hold alerts (0: no bound):
	// a forgotten or hostile silence must not blind the SOC for good.
	MaxSilence time.Duration
	// NewIncidentAfter: once an incident reaches this status (contained or
	// recovered), an alert from a source address the incident does not
	// know starts a new incident that follows it, so a second intrusion
	// does not hide inside a case people consider handled. "" never.
	NewIncidentAfter Status
}

// DefaultConfig is what a new installation uses.
func DefaultConfig() Config {
	return Config{
		Policy:           DefaultPolicy(),
		DedupWindow:      time.Hour,
		GroupWindow:      2 * time.Hour,
		FingerprintKinds: []string{"host", "user", "ip"},
		GroupKinds:       []string{"host", "user", "ip", "hash"},
		IgnoreEntities:   []string{"user:system", "user:-", "user:local service", "user:network service", "ip:127.0.0.1", "ip:::1", "host:localhost"},
		Inhibit: []InhibitRule{{SourceLevels: []string{"critical"}, TargetLevels: []string{"informational", "low"},
			Equal: []string{"host"}}},
		MaxEventIDs:      100,
		MaxSilence:       30 * 24 * time.Hour,
		NewIncidentAfter: StatusContained,
	}
}

// Criticality looks up the criticality of entities (from the asset
// inventory); ok is false for an entity Riposte does not know.
type Criticality func(e Entity) (crit int, ok bool)

// Changes is what applying a batch of alerts changed; the store writes it in
// one transaction.
type Changes struct {
	Alerts    map[string]*Alert
	NewAlerts map[string]bool
	Incidents map[string]*Incident
	New       map[string]bool // incidents created in this batch
	Entities  map[string][]Entity
	Timeline  []TimelineEntry
	Sources   []string // stream alert ids applied
	// Notices are incident events for the notifier: "new", "escalated".
	Notices []Notice
	// Seen are entities seen in alerts, for asset discovery.
	Seen map[string]Entity
}

// Notice is an incident event worth telling people about.
type Notice struct {
	Event      string
	IncidentID string
	Text       string
}

func newChanges() *Changes {
	return &Changes{Alerts: map[string]*Alert{}, NewAlerts: map[string]bool{}, Incidents: map[string]*Incident{},
		New: map[string]bool{}, Entities: map[string][]Entity{}, Seen: map[string]Entity{}}
}

// Engine holds the open alerts and incidents in memory, indexed for
// placement without queries. It is not safe for concurrent use: one stage
// goroutine owns it, and the API changes incidents through the stage.
type Engine struct {
	cfg      Config
	crit     Criticality
	ignore   map[string]bool
	silences []*Silence

	byFP       map[string]*Alert    // open alerts by fingerprint
	incidents  map[string]*Incident // open incidents
	byEntity   map[string]string    // entity key -> most recently active open incident
	lastActive map[string]time.Time // incident -> last alert time
	inhibitors map[string]*Alert    // entity key -> highest-severity open alert about it
}

// NewEngine starts empty; Restore loads open state from the store.
func NewEngine(cfg Config, crit Criticality) *Engine {
	e := &Engine{cfg: cfg, crit: crit, ignore: map[string]bool{},
		byFP: map[string]*Alert{}, incidents: map[string]*Incident{}, byEntity: map[string]string{},
		lastActive: map[string]time.Time{}, inhibitors: map[string]*Alert{}}
	for _, k := range cfg.IgnoreEntities {
		e.ignore[strings.ToLower(k)] = true
	}
	if e.crit == nil {
		e.crit = func(Entity) (int, bool) { return 0, false }
	}
	return e
}

// SetSilences replaces the active silences.
func (e *Engine) SetSilences(s []*Silence) { e.silences = s }

// entities turns an alert's entities into the alarm's kinds.
func entitiesOf(a *alert.Alert) []Entity {
	var out []Entity
	add := func(kind string, vals []string) {
		for _, v := range vals {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, Entity{Kind: kind, Value: v})
			}
		}
	}
	add("host", a.Entities.Hosts)
	add("user", a.Entities.Users)
	// Alerts arrive over the bus: an address entity is one address
	// whoever produced it (detect already keeps only those).
	ips := func(vals []string) []string {
		var out []string
		for _, v := range vals {
			if a, ok := alert.Address(v); ok {
				out = append(out, a)
			}
		}
		return out
	}
	add("ip", ips(a.Entities.SourceIPs))
	add("ip", ips(a.Entities.DestIPs))
	add("hash", a.Entities.Hashes)
	add("domain", a.Entities.Domains)
	add("process", a.Entities.Processes)
	return out
}

func (e *Engine) fingerprint(a *alert.Alert, ents []Entity) string {
	if a.Fingerprint != "" {
		return a.Fingerprint
	}
	var parts []string
	for _, en := range ents {
		if slices.Contains(e.cfg.FingerprintKinds, en.Kind) {
			parts = append(parts, en.key())
		}
	}
	sort.Strings(parts)
	parts = slices.Compact(parts)
	return a.Rule.ID + "|" + strings.Join(parts, ",")
}

func severityOf(a *alert.Alert) int {
	if a.Kind == alert.KindIndicator && a.Indicator != nil {
		return max(Severity(a.Rule.Level), SeverityFromConfidence(a.Indicator.Confidence))
	}
	return Severity(a.Rule.Level)
}

// Apply places one alert. Repeats update their alert; held alerts are
// recorded; others join or open an incident.
func (e *Engine) Apply(in alert.Alert, now time.Time, ch *Changes) {
	ch.Sources = append(ch.Sources, in.ID)
	ents := entitiesOf(&in)
	for _, en := range ents {
		ch.Seen[en.key()] = en
	}
	fp := e.fingerprint(&in, ents)
	at := in.Detected
	if at.IsZero() {
		at = now
	}
	if old := e.byFP[fp]; old != nil && at.Sub(old.LastSeen) <= e.cfg.DedupWindow {
		old.Count++
		old.LastSeen = maxTime(old.LastSeen, at)
		old.EventIDs = appendCapped(old.EventIDs, in.EventIDs, e.cfg.MaxEventIDs)
		ch.Alerts[old.ID] = old
		if inc := e.incidents[old.IncidentID]; inc != nil {
			inc.HitCount++
			inc.UpdatedAt = now
			e.lastActive[inc.ID] = at
			ch.Incidents[inc.ID] = inc
			// Once per alert, not per repeat: a brute force that goes on
			// after containment is one line, not thousands.
			if inc.Status.rank() >= StatusContained.rank() && !old.AfterContainment {
				old.AfterContainment = true
				text := fmt.Sprintf("alert %q (%s) seen again while the incident is %s: the activity continues after containment",
					old.RuleTitle, old.Level, inc.Status)
				ch.Timeline = append(ch.Timeline, TimelineEntry{IncidentID: inc.ID, At: now, Actor: "detection", Kind: "alert",
					Text: text, Detail: map[string]any{"alert_id": old.ID, "rule_id": old.RuleID, "after_containment": true}})
				ch.Notices = append(ch.Notices, Notice{Event: "escalated", IncidentID: inc.ID, Text: text})
			}
		}
		return
	}
	a := &Alert{ID: event.NewID(at), Fingerprint: fp, Kind: string(in.Kind), RuleID: in.Rule.ID, RuleTitle: in.Rule.Title,
		Level: in.Rule.Level, Severity: severityOf(&in), Tags: in.Rule.Tags, Entities: ents, Count: 1,
		FirstSeen: at, LastSeen: at, FirstEventTime: in.FirstEventTime, EventIDs: appendCapped(nil, in.EventIDs, e.cfg.MaxEventIDs)}
	if in.Indicator != nil {
		a.Confidence = in.Indicator.Confidence
	}
	if a.FirstEventTime.IsZero() {
		a.FirstEventTime = in.Time
	}
	e.byFP[fp] = a
	ch.Alerts[a.ID] = a
	ch.NewAlerts[a.ID] = true

	if s := e.silenced(&in, ents, at); s != nil {
		a.SuppressedBy = "silence:" + s.ID
		return
	}
	groupKeys := e.groupKeys(ents)
	if inh := e.inhibitor(a, ents, at); inh != nil {
		a.SuppressedBy = "inhibited:" + inh.ID
		return
	}
	sources := e.sourceKeys(&in)
	inc, follows := e.findIncident(groupKeys, sources, at)
	if inc == nil {
		inc = &Incident{ID: event.NewID(at), Title: in.Rule.Title, Status: StatusNew, CreatedAt: now, FirstAlert: at,
			FirstEvent: a.FirstEventTime}
		e.incidents[inc.ID] = inc
		ch.New[inc.ID] = true
		if follows != nil {
			e.link(follows, inc, sources, now, ch)
		}
	}
	a.IncidentID = inc.ID
	e.join(inc, a, in.Kind, at, now, ch)
	for _, k := range groupKeys {
		e.byEntity[k] = inc.ID
	}
	e.noteInhibitor(a)
}

func (e *Engine) noteInhibitor(a *Alert) {
	for _, en := range a.Entities {
		k := en.key()
		if cur := e.inhibitors[k]; cur == nil || a.Severity >= cur.Severity {
			e.inhibitors[k] = a
		}
	}
}

// InhibitRule: while an open alert with a level in SourceLevels concerns an
// entity of a kind in Equal, new alerts with a level in TargetLevels about
// that entity are held.
type InhibitRule struct {
	SourceLevels []string `json:"source_levels" yaml:"source_levels"`
	TargetLevels []string `json:"target_levels" yaml:"target_levels"`
	Equal        []string `json:"equal" yaml:"equal"`
}

func (e *Engine) inhibitor(a *Alert, ents []Entity, at time.Time) *Alert {
	for _, r := range e.cfg.Inhibit {
		if !slices.Contains(r.TargetLevels, strings.ToLower(a.Level)) {
			continue
		}
		for _, en := range ents {
			if !slices.Contains(r.Equal, en.Kind) {
				continue
			}
			inh := e.inhibitors[en.key()]
			if inh == nil || !slices.Contains(r.SourceLevels, strings.ToLower(inh.Level)) || at.Sub(inh.LastSeen) > e.cfg.GroupWindow {
				continue
			}
			if inc := e.incidents[inh.IncidentID]; inc != nil && inc.Open() {
				return inh
			}
		}
	}
	return nil
}

// sourceKeys are the entity keys of the alert's source addresses: who acts
// on the host. Users are not among them: in the alerts that matter here
// (authentication) the user is the account attacked, which a second
// intruder may well guess too.
func (e *Engine) sourceKeys(in *alert.Alert) []string {
	var keys []string
	for _, v := range in.Entities.SourceIPs {
		if a, ok := alert.Address(v); ok {
			k := Entity{Kind: "ip", Value: a}.key()
			if !e.ignore[k] && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// closedTo reports whether an incident has reached the status after which
// alerts from source addresses it does not know start a new incident.
func (e *Engine) closedTo(inc *Incident) bool {
	return e.cfg.NewIncidentAfter != "" && inc.Status.rank() >= e.cfg.NewIncidentAfter.rank()
}

// knows counts the source keys that are among an incident's entities, as
// the source or the target of an earlier alert: an address the incident
// already names is part of the intrusion it records.
func knows(inc *Incident, sources []string) int {
	n := 0
	for _, k := range sources {
		if slices.ContainsFunc(inc.Entities, func(x Entity) bool { return x.key() == k }) {
			n++
		}
	}
	return n
}

// link records that a new incident follows an earlier one about the same
// entities, on both incidents and both timelines.
func (e *Engine) link(prev, inc *Incident, sources []string, now time.Time, ch *Changes) {
	inc.Follows = prev.ID
	prev.FollowedBy = append(prev.FollowedBy, inc.ID)
	prev.UpdatedAt = now
	ch.Incidents[prev.ID] = prev
	var addrs []string
	for _, k := range sources {
		if knows(prev, []string{k}) == 0 {
			addrs = append(addrs, strings.TrimPrefix(k, "ip:"))
		}
	}
	who := strings.Join(addrs, ", ")
	ch.Timeline = append(ch.Timeline,
		TimelineEntry{IncidentID: inc.ID, At: now, Actor: "detection", Kind: "link",
			Text:   fmt.Sprintf("follows incident %s (%s): new attacker %s on the same entities", prev.ID, prev.Status, who),
			Detail: map[string]any{"follows": prev.ID, "attackers": addrs}},
		TimelineEntry{IncidentID: prev.ID, At: now, Actor: "detection", Kind: "link",
			Text:   fmt.Sprintf("new attacker %s started incident %s, which follows this one (%s)", who, inc.ID, prev.Status),
			Detail: map[string]any{"followed_by": inc.ID, "attackers": addrs}})
}

func (e *Engine) groupKeys(ents []Entity) []string {
	var keys []string
	for _, en := range ents {
		k := en.key()
		if slices.Contains(e.cfg.GroupKinds, en.Kind) && !e.ignore[k] && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// findIncident returns the open incident most recently active within the
// group window that shares an entity. With NewIncidentAfter set, an
// incident that knows one of the alert's source addresses comes first (the
// same attacker stays in its incident, even after a newer one took the
// host), and an incident closed to newcomers is passed over when the alert
// brings a source address it does not know, for its newest follow-up; when
// nothing takes the alert, follows is the incident to link a new one to.
func (e *Engine) findIncident(keys, sources []string, at time.Time) (best, follows *Incident) {
	var bestAt, followsAt time.Time
	bestKnows := false
	for _, k := range keys {
		id, ok := e.byEntity[k]
		if !ok {
			continue
		}
		inc, last := e.joinable(id, at)
		var end *Incident // the newest incident of the chain closed to the alert
		var endAt time.Time
		n := 0
		// A follow-up takes further newcomers, so a contained host hit from
		// many addresses gets one new incident per containment, not one per
		// address. Chains grow only as people contain, so a few hops do.
		for hops := 0; inc != nil; hops++ {
			if e.cfg.NewIncidentAfter != "" && len(sources) > 0 {
				n = knows(inc, sources)
			}
			if n == len(sources) || !e.closedTo(inc) {
				break
			}
			end, endAt = inc, last
			if len(inc.FollowedBy) == 0 || hops == 8 {
				inc = nil
				break
			}
			inc, last = e.joinable(inc.FollowedBy[len(inc.FollowedBy)-1], at)
		}
		if inc == nil {
			if end != nil && (follows == nil || endAt.After(followsAt)) {
				follows, followsAt = end, endAt
			}
			continue
		}
		known := n > 0
		if best == nil || (known && !bestKnows) || (known == bestKnows && last.After(bestAt)) {
			best, bestAt, bestKnows = inc, last, known
		}
	}
	if best != nil {
		follows = nil
	}
	return best, follows
}

// joinable returns an incident that is open and was active within the
// group window, with the time of its last activity.
func (e *Engine) joinable(id string, at time.Time) (*Incident, time.Time) {
	inc := e.incidents[id]
	if inc == nil || !inc.Open() {
		return nil, time.Time{}
	}
	last := e.lastActive[id]
	if at.Sub(last) > e.cfg.GroupWindow {
		return nil, time.Time{}
	}
	return inc, last
}

// join adds a new alert to an incident and re-rates the incident.
func (e *Engine) join(inc *Incident, a *Alert, kind alert.Kind, at, now time.Time, ch *Changes) {
	inc.AlertCount++
	inc.HitCount++
	inc.UpdatedAt = now
	if a.FirstEventTime.Before(inc.FirstEvent) || inc.FirstEvent.IsZero() {
		inc.FirstEvent = a.FirstEventTime
	}
	if !slices.Contains(inc.Rules, a.RuleID) {
		inc.Rules = append(inc.Rules, a.RuleID)
	}
	for _, t := range tactics(a.Tags) {
		if !slices.Contains(inc.Tactics, t) {
			inc.Tactics = append(inc.Tactics, t)
		}
	}
	var added []Entity
	for _, en := range a.Entities {
		if !slices.ContainsFunc(inc.Entities, func(x Entity) bool { return x.key() == en.key() }) {
			inc.Entities = append(inc.Entities, en)
			added = append(added, en)
		}
	}
	if len(added) > 0 {
		ch.Entities[inc.ID] = append(ch.Entities[inc.ID], added...)
	}
	e.lastActive[inc.ID] = at
	oldPrio := inc.Priority
	sev := max(inc.Severity, a.Severity)
	if a.Severity > inc.Severity || inc.Title == "" {
		inc.Title = a.RuleTitle
	}
	inc.Severity = sev
	inc.Urgency = max(inc.Urgency, e.cfg.Policy.Urgency(a.Tags, string(kind)))
	inc.Criticality = e.criticality(inc)
	inc.Priority = e.cfg.Policy.Priority(inc.Severity, inc.Urgency, inc.Criticality)
	applyOverride(inc, e.cfg.Policy)
	if oldPrio == "" {
		e.setSLA(inc, inc.CreatedAt)
	}
	ch.Incidents[inc.ID] = inc
	text := fmt.Sprintf("alert %q (%s) joined", a.RuleTitle, a.Level)
	detail := map[string]any{"alert_id": a.ID, "rule_id": a.RuleID, "entities": a.Entities}
	// Status is people's call, so an incident is not reopened; but
	// activity after containment means the containment did not hold, and
	// the timeline and an escalation say so.
	after := inc.Status.rank() >= StatusContained.rank()
	if after {
		a.AfterContainment = true
		text = fmt.Sprintf("alert %q (%s) joined while the incident is %s: the activity continues after containment", a.RuleTitle, a.Level, inc.Status)
		detail["after_containment"] = true
	}
	ch.Timeline = append(ch.Timeline, TimelineEntry{IncidentID: inc.ID, At: now, Actor: "detection", Kind: "alert",
		Text: text, Detail: detail})
	// Every new alert of an incident is an event too: playbooks can be
	// triggered by alerts (the notifier ignores this one).
	ch.Notices = append(ch.Notices, Notice{Event: "alert", IncidentID: inc.ID, Text: a.ID})
	switch {
	case ch.New[inc.ID]:
		ch.Notices = append(ch.Notices, Notice{Event: "new", IncidentID: inc.ID})
	case prioRank(inc.Priority) < prioRank(oldPrio):
		e.setSLA(inc, inc.CreatedAt)
		ch.Timeline = append(ch.Timeline, TimelineEntry{IncidentID: inc.ID, At: now, Actor: "detection", Kind: "priority",
			Text: fmt.Sprintf("priority raised from %s to %s", oldPrio, inc.Priority)})
		ch.Notices = append(ch.Notices, Notice{Event: "escalated", IncidentID: inc.ID,
			Text: fmt.Sprintf("priority raised from %s to %s by %q", oldPrio, inc.Priority, a.RuleTitle)})
	case after:
		ch.Notices = append(ch.Notices, Notice{Event: "escalated", IncidentID: inc.ID, Text: text})
	}
}

func (e *Engine) criticality(inc *Incident) int {
	best := 0
	known := false
	for _, en := range inc.Entities {
		if c, ok := e.crit(en); ok {
			known = true
			best = max(best, c)
		}
	}
	if !known {
		return e.cfg.Policy.DefaultCriticality
	}
	return best
}

func (e *Engine) setSLA(inc *Incident, from time.Time) {
	s := e.cfg.Policy.SLA[inc.Priority]
	inc.AckDue, inc.ContainDue, inc.ResolveDue = from.Add(s.Acknowledge), from.Add(s.Contain), from.Add(s.Resolve)
}

func appendCapped(dst, src []string, n int) []string {
	for _, s := range src {
		if len(dst) >= n {
			break
		}
		if !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Expire forgets alerts and incidents that can no longer be joined, so
// memory stays bounded by the windows, not by history.
func (e *Engine) Expire(now time.Time) {
	for fp, a := range e.byFP {
		if now.Sub(a.LastSeen) > max(e.cfg.DedupWindow, e.cfg.GroupWindow) {
			delete(e.byFP, fp)
		}
	}
	for k, a := range e.inhibitors {
		if now.Sub(a.LastSeen) > e.cfg.GroupWindow {
			delete(e.inhibitors, k)
		}
	}
	for k, id := range e.byEntity {
		if inc := e.incidents[id]; inc == nil || !inc.Open() || now.Sub(e.lastActive[id]) > e.cfg.GroupWindow {
			delete(e.byEntity, k)
		}
	}
}

// Restore rebuilds memory from what the store holds after a restart.
func (e *Engine) Restore(incs []*Incident, alerts []*Alert) {
	for _, inc := range incs {
		e.incidents[inc.ID] = inc
		e.lastActive[inc.ID] = inc.UpdatedAt
		for _, k := range e.groupKeys(inc.Entities) {
			if cur, ok := e.byEntity[k]; !ok || e.lastActive[cur].Before(inc.UpdatedAt) {
				e.byEntity[k] = inc.ID
			}
		}
	}
	for _, a := range alerts {
		e.byFP[a.Fingerprint] = a
		if a.IncidentID == "" || a.SuppressedBy != "" {
			continue
		}
		inc := e.incidents[a.IncidentID]
		if inc == nil {
			continue
		}
		if a.LastSeen.After(e.lastActive[inc.ID]) {
			e.lastActive[inc.ID] = a.LastSeen
		}
		for _, k := range e.groupKeys(a.Entities) {
			e.byEntity[k] = inc.ID
		}
		e.noteInhibitor(a)
	}
}

// Incident returns an open incident held in memory.
func (e *Engine) Incident(id string) *Incident { return e.incidents[id] }

// track puts an incident (back) into memory, e.g. when a person reopens it.
func (e *Engine) track(inc *Incident, now time.Time) {
	if inc.Open() {
		e.incidents[inc.ID] = inc
		if e.lastActive[inc.ID].IsZero() {
			e.lastActive[inc.ID] = now
		}
		return
	}
	delete(e.incidents, inc.ID)
	delete(e.lastActive, inc.ID)
}

// rerate recomputes an incident's figures from its alerts (after a merge or
// split moved alerts between incidents).
func (e *Engine) rerate(inc *Incident, alerts []*Alert) {
	inc.AlertCount, inc.HitCount, inc.Severity, inc.Urgency = 0, 0, 0, 0
	inc.Rules, inc.Tactics, inc.Entities = nil, nil, nil
	seen := map[string]bool{}
	for _, a := range alerts {
		inc.AlertCount++
		inc.HitCount += a.Count
		inc.Severity = max(inc.Severity, a.Severity)
		inc.Urgency = max(inc.Urgency, e.cfg.Policy.Urgency(a.Tags, a.Kind))
		if !slices.Contains(inc.Rules, a.RuleID) {
			inc.Rules = append(inc.Rules, a.RuleID)
		}
		for _, t := range tactics(a.Tags) {
			if !slices.Contains(inc.Tactics, t) {
				inc.Tactics = append(inc.Tactics, t)
			}
		}
		for _, en := range a.Entities {
			if !seen[en.key()] {
				seen[en.key()] = true
				inc.Entities = append(inc.Entities, en)
			}
		}
		if inc.FirstEvent.IsZero() || (!a.FirstEventTime.IsZero() && a.FirstEventTime.Before(inc.FirstEvent)) {
			inc.FirstEvent = a.FirstEventTime
		}
		if inc.FirstAlert.IsZero() || a.FirstSeen.Before(inc.FirstAlert) {
			inc.FirstAlert = a.FirstSeen
		}
	}
	inc.Severity = max(inc.Severity, 1)
	inc.Urgency = max(inc.Urgency, 1)
	inc.Criticality = e.criticality(inc)
	inc.Priority = e.cfg.Policy.Priority(inc.Severity, inc.Urgency, inc.Criticality)
	applyOverride(inc, e.cfg.Policy)
	e.setSLA(inc, inc.CreatedAt)
	for _, a := range alerts {
		for _, k := range e.groupKeys(a.Entities) {
			if inc.Open() {
				e.byEntity[k] = inc.ID
			}
		}
	}
}
