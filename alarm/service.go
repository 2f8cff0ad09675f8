package alarm

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/store"
)

// Notifier tells people about incident events (new, escalated,
// sla_breach, contained, resolved, needs_approval).
type Notifier interface {
	Notify(eventName string, inc *Incident, text string)
}

// Service is the alarm stage: it owns the engine, and every change to
// alarm state, from the stream or from a person, goes through it.
type Service struct {
	mu       sync.Mutex
	cfg      Config
	eng      *Engine
	store    *Store
	db       *store.DB
	inv      *Inventory
	notifier Notifier
	log      *slog.Logger
	seenAt   map[string]time.Time
	// epoch counts memory rebuilds; a batch prepared in an older epoch is
	// never written.
	epoch uint64
	// AfterCommit, when set, is called with each committed batch: the
	// alert-to-incident latency metric and the load bench hang here.
	AfterCommit func(batch []alert.Alert, at time.Time)
}

// NewService loads assets and silences and rebuilds the open state.
func NewService(ctx context.Context, cfg Config, db *store.DB, n Notifier, log *slog.Logger) (*Service, error) {
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, store: NewStore(db), db: db, notifier: n, log: log, seenAt: map[string]time.Time{}}
	assets, err := s.store.Assets(ctx, true)
	if err != nil {
		return nil, err
	}
	s.inv = NewInventory(assets)
	s.eng = NewEngine(cfg, s.inv.Criticality)
	if err := s.restore(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) restore(ctx context.Context) error {
	// Windows run on alert time, so look back from the newest alert stored,
	// not from the wall clock (a replay of old data restores the same way).
	latest, err := s.store.LatestAlert(ctx)
	if err != nil {
		return err
	}
	since := latest.Add(-max(s.cfg.DedupWindow, s.cfg.GroupWindow))
	incs, alerts, err := s.store.LoadOpen(ctx, since)
	if err != nil {
		return fmt.Errorf("alarm state: %w", err)
	}
	s.eng = NewEngine(s.cfg, s.inv.Criticality)
	s.eng.Restore(incs, alerts)
	sil, err := s.store.Silences(ctx, false)
	if err != nil {
		return err
	}
	s.eng.SetSilences(sil)
	return nil
}

// Store gives read access for the API.
func (s *Service) Store() *Store { return s.store }

// Inventory is the asset index.
func (s *Service) Inventory() *Inventory { return s.inv }

// ApplyBatch places a batch of stream alerts and stores the result in one
// transaction; alerts already applied (a redelivery after a crash) are
// skipped. On a failed commit the memory is rebuilt from the store, so the
// two never disagree.
func (s *Service) ApplyBatch(ctx context.Context, alerts []alert.Alert, now time.Time) error {
	p, err := s.prepare(ctx, alerts, now)
	if err != nil {
		return err
	}
	return s.commit(ctx, p)
}

// prepared is a batch applied to memory and encoded, waiting to be written.
type prepared struct {
	alerts  []alert.Alert
	rows    *batchRows
	notices []notice
	epoch   uint64
}

type notice struct {
	event string
	inc   Incident // a copy: the incident keeps changing
	text  string
}

// prepare applies a batch to memory and encodes what changed. It holds the
// engine; writing does not, so the next batch can be prepared meanwhile.
func (s *Service) prepare(ctx context.Context, alerts []alert.Alert, now time.Time) (*prepared, error) {
	ids := make([]string, len(alerts))
	for i := range alerts {
		ids[i] = alerts[i].ID
	}
	done, err := s.store.Applied(ctx, ids)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := newChanges()
	for i := range alerts {
		if done[alerts[i].ID] || alerts[i].ID == "" {
			continue
		}
		done[alerts[i].ID] = true
		s.eng.Apply(alerts[i], now, ch)
	}
	// Discovery writes each host or user at most once a minute: last-seen
	// times need no more precision, and the batch stays small.
	for k, en := range ch.Seen {
		if a := s.inv.Lookup(en); (a != nil && !a.Discovered) || now.Sub(s.seenAt[k]) < time.Minute {
			delete(ch.Seen, k)
		} else {
			s.seenAt[k] = now
		}
	}
	rows, err := ch.rows(now)
	if err != nil {
		return nil, err
	}
	p := &prepared{alerts: alerts, rows: rows, epoch: s.epoch}
	for _, n := range ch.Notices {
		if inc := ch.Incidents[n.IncidentID]; inc != nil {
			p.notices = append(p.notices, notice{n.Event, *inc, n.Text})
		}
	}
	return p, nil
}

// commit writes a prepared batch. A batch prepared before a failed commit
// is stale (memory was rebuilt since): it is refused, and its messages,
// left unacknowledged, come back.
func (s *Service) commit(ctx context.Context, p *prepared) error {
	s.mu.Lock()
	stale := p.epoch != s.epoch
	s.mu.Unlock()
	if stale {
		return errStale
	}
	if err := s.store.write(ctx, p.rows); err != nil {
		s.mu.Lock()
		s.epoch++
		if rerr := s.restore(context.WithoutCancel(ctx)); rerr != nil {
			s.log.Error("alarm state could not be rebuilt after a failed commit", "err", rerr)
		}
		s.mu.Unlock()
		return err
	}
	for _, n := range p.notices {
		s.notify(n.event, &n.inc, n.text)
	}
	if s.AfterCommit != nil {
		s.AfterCommit(p.alerts, time.Now())
	}
	return nil
}

var errStale = errors.New("batch prepared before a failed commit: it will be delivered again")

func (s *Service) notify(ev string, inc *Incident, text string) {
	if s.notifier != nil && inc != nil {
		s.notifier.Notify(ev, inc, text)
	}
}

// Tick runs the SLA clocks: a clock that ran out is recorded on the
// incident and escalated to the next tier, once per clock.
func (s *Service) Tick(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eng.Expire(now)
	ch := newChanges()
	type breach struct {
		inc  *Incident
		text string
	}
	var breaches []breach
	for _, inc := range s.eng.incidents {
		check := func(name string, done *time.Time, due time.Time) {
			if done != nil || due.IsZero() || now.Before(due) || slices.Contains(inc.Breaches, name) {
				return
			}
			inc.Breaches = append(inc.Breaches, name)
			inc.Escalation++
			inc.UpdatedAt = now
			text := fmt.Sprintf("SLA breach: %s due %s (%s overdue) for %s; escalated to tier %d",
				name, due.Format(time.RFC3339), now.Sub(due).Round(time.Second), inc.Priority, inc.Escalation+1)
			ch.Incidents[inc.ID] = inc
			ch.Timeline = append(ch.Timeline, TimelineEntry{IncidentID: inc.ID, At: now, Actor: "sla", Kind: "sla", Text: text,
				Detail: map[string]any{"clock": name, "due": due, "tier": inc.Escalation + 1}})
			breaches = append(breaches, breach{inc, text})
		}
		check("acknowledge", inc.AckedAt, inc.AckDue)
		check("contain", inc.ContainedAt, inc.ContainDue)
		check("resolve", inc.ResolvedAt, inc.ResolveDue)
	}
	if len(ch.Incidents) == 0 {
		return nil
	}
	if err := s.store.Commit(ctx, ch, now); err != nil {
		return err
	}
	for _, b := range breaches {
		s.notify("escalated", b.inc, b.text)
	}
	return nil
}

// Change is a person's (or a playbook's) change to an incident.
type Change struct {
	Status   *Status
	Assignee *string
	Comment  string
	Verdict  *Verdict
	AddTags  []string
	DelTags  []string
	// Priority and Severity override detection's rating (see Override);
	// ClearOverride hands the rating back to detection. Each needs a
	// Reason.
	Priority      *string
	Severity      *int
	ClearOverride bool
	Reason        string
}

// Update applies a change, writes the incident, its timeline and the audit
// log in one transaction, and notifies on containment and resolution.
func (s *Service) Update(ctx context.Context, id string, c Change, actor string) (*Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	inc := s.eng.Incident(id)
	if inc == nil {
		var err error
		if inc, err = s.store.Get(ctx, id); err != nil {
			return nil, err
		}
	}
	if inc.MergedInto != "" {
		return nil, fmt.Errorf("incident %s: %w into %s: change that one", id, ErrMerged, inc.MergedInto)
	}
	before := *inc
	var tl []TimelineEntry
	var notices []Notice
	add := func(kind, text string, detail map[string]any) {
		tl = append(tl, TimelineEntry{IncidentID: id, At: now, Actor: actor, Kind: kind, Text: text, Detail: detail})
	}
	ack := func() {
		if inc.AckedAt == nil {
			inc.AckedAt = &now
		}
	}
	if c.Assignee != nil && *c.Assignee != inc.Assignee {
		add("assign", fmt.Sprintf("assigned to %q (was %q)", *c.Assignee, inc.Assignee), nil)
		inc.Assignee = *c.Assignee
		ack()
	}
	if c.Status != nil && *c.Status != inc.Status {
		add("status", fmt.Sprintf("status %s → %s", inc.Status, *c.Status), map[string]any{"from": inc.Status, "to": *c.Status})
		inc.Status = *c.Status
		r := inc.Status.rank()
		if r >= StatusTriaged.rank() {
			ack()
		}
		if r >= StatusContained.rank() && inc.ContainedAt == nil {
			inc.ContainedAt = &now
			notices = append(notices, Notice{Event: "contained", IncidentID: id})
		}
		if r >= StatusRecovered.rank() && inc.ResolvedAt == nil {
			inc.ResolvedAt = &now
			notices = append(notices, Notice{Event: "resolved", IncidentID: id})
		}
		if inc.Status == StatusClosed {
			inc.ClosedAt = &now
		} else {
			inc.ClosedAt = nil
		}
	}
	if c.Priority != nil || c.Severity != nil || c.ClearOverride {
		if err := s.rate(ctx, inc, c, actor, now, add); err != nil {
			*inc = before
			return nil, err
		}
		if len(tl) > 0 {
			ack()
		}
	}
	if c.Verdict != nil && *c.Verdict != inc.Verdict {
		add("verdict", fmt.Sprintf("verdict %s", *c.Verdict), nil)
		inc.Verdict = *c.Verdict
	}
	for _, t := range c.AddTags {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(inc.Tags, t) {
			inc.Tags = append(inc.Tags, t)
			add("tag", "tagged "+t, nil)
		}
	}
	for _, t := range c.DelTags {
		if i := slices.Index(inc.Tags, t); i >= 0 {
			inc.Tags = slices.Delete(inc.Tags, i, i+1)
			add("tag", "untagged "+t, nil)
		}
	}
	if c.Comment != "" {
		add("comment", c.Comment, nil)
	}
	if len(tl) == 0 {
		cp := *inc
		return &cp, nil
	}
	inc.UpdatedAt = now
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := putIncident(ctx, tx, inc); err != nil {
			return err
		}
		if err := addTimeline(ctx, tx, tl); err != nil {
			return err
		}
		return auditTx(ctx, tx, actor, "incident.update", id, map[string]any{"changes": tl})
	})
	if err != nil {
		*inc = before
		return nil, err
	}
	s.eng.track(inc, now)
	for _, n := range notices {
		s.notify(n.Event, inc, "")
	}
	// A copy: the engine keeps changing its own as alerts arrive.
	cp := *inc
	return &cp, nil
}

// rate sets or clears a person's override of an incident's rating, and
// puts what changed on the timeline (whose entry the caller audits with
// the change, in the same transaction).
func (s *Service) rate(ctx context.Context, inc *Incident, c Change, actor string, now time.Time, add func(kind, text string, detail map[string]any)) error {
	pol := s.eng.cfg.Policy
	if strings.TrimSpace(c.Reason) == "" {
		return fmt.Errorf("a reason is required to change an incident's priority or severity")
	}
	if c.ClearOverride && (c.Priority != nil || c.Severity != nil) {
		return fmt.Errorf("clear the override or set a rating, not both")
	}
	if c.Priority != nil {
		if _, ok := pol.SLA[*c.Priority]; !ok {
			names := make([]string, 0, len(pol.SLA))
			for k := range pol.SLA {
				names = append(names, k)
			}
			slices.Sort(names)
			return fmt.Errorf("priority %q: want one of %s", *c.Priority, strings.Join(names, ", "))
		}
	}
	if c.Severity != nil && (*c.Severity < 1 || *c.Severity > 4) {
		return fmt.Errorf("severity %d: want 1 (low) to 4 (critical)", *c.Severity)
	}
	oldP, oldS := inc.Priority, inc.Severity
	if c.ClearOverride {
		if inc.Override == nil {
			return nil
		}
		alerts, err := s.store.Alerts(ctx, inc.ID)
		if err != nil {
			return err
		}
		inc.Override = nil
		s.eng.rerate(inc, alerts)
		add("priority", fmt.Sprintf("rating handed back to detection: %s severity %d (was %s severity %d): %s", inc.Priority, inc.Severity, oldP, oldS, c.Reason),
			map[string]any{"from": oldP, "to": inc.Priority, "severity_from": oldS, "severity_to": inc.Severity, "override": "cleared", "reason": c.Reason})
		return nil
	}
	o := Override{By: actor, At: now, Reason: c.Reason}
	if inc.Override != nil {
		o.Priority, o.Severity = inc.Override.Priority, inc.Override.Severity
	}
	if c.Priority != nil {
		o.Priority = *c.Priority
	}
	if c.Severity != nil {
		o.Severity = *c.Severity
	}
	inc.Override = &o
	applyOverride(inc, pol)
	s.eng.setSLA(inc, inc.CreatedAt)
	add("priority", fmt.Sprintf("rated %s severity %d by hand (was %s severity %d): %s", inc.Priority, inc.Severity, oldP, oldS, c.Reason),
		map[string]any{"from": oldP, "to": inc.Priority, "severity_from": oldS, "severity_to": inc.Severity, "override": o})
	return nil
}

func auditTx(ctx context.Context, tx *sql.Tx, actor, action, id string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	return audit.AppendTx(ctx, tx, actor, action, "incident:"+id, b)
}

// Merge moves every alert of the sources into target; the sources close
// with merged_into set. One intrusion, one incident.
func (s *Service) Merge(ctx context.Context, target string, sources []string, actor, reason string) (*Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	tgt, err := s.load(ctx, target)
	if err != nil {
		return nil, err
	}
	if !tgt.Open() {
		return nil, fmt.Errorf("incident %s is closed: reopen it before merging into it", target)
	}
	var srcs []*Incident
	for _, id := range sources {
		if id == target {
			return nil, fmt.Errorf("cannot merge incident %s into itself", id)
		}
		inc, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		if inc.MergedInto != "" {
			return nil, fmt.Errorf("incident %s was already merged into %s", id, inc.MergedInto)
		}
		srcs = append(srcs, inc)
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, src := range srcs {
			if _, err := tx.ExecContext(ctx, `UPDATE alerts SET incident_id = ? WHERE incident_id = ?`, tgt.ID, src.ID); err != nil {
				return err
			}
			src.MergedInto, src.Status, src.UpdatedAt = tgt.ID, StatusClosed, now
			src.ClosedAt = &now
			if err := putIncident(ctx, tx, src); err != nil {
				return err
			}
			if err := addTimeline(ctx, tx, []TimelineEntry{
				{IncidentID: src.ID, At: now, Actor: actor, Kind: "merge", Text: "merged into " + tgt.ID + ": " + reason},
				{IncidentID: tgt.ID, At: now, Actor: actor, Kind: "merge", Text: "incident " + src.ID + " merged in: " + reason},
			}); err != nil {
				return err
			}
		}
		alerts, err := alertsTx(ctx, tx, tgt.ID)
		if err != nil {
			return err
		}
		oldPrio := tgt.Priority
		s.eng.rerate(tgt, alerts)
		if tgt.Priority != oldPrio {
			if err := addTimeline(ctx, tx, []TimelineEntry{{IncidentID: tgt.ID, At: now, Actor: actor, Kind: "priority",
				Text: fmt.Sprintf("priority %s → %s after merge", oldPrio, tgt.Priority)}}); err != nil {
				return err
			}
		}
		tgt.UpdatedAt = now
		if err := putIncident(ctx, tx, tgt); err != nil {
			return err
		}
		if err := entitiesTx(ctx, tx, tgt); err != nil {
			return err
		}
		return auditTx(ctx, tx, actor, "incident.merge", tgt.ID, map[string]any{"sources": sources, "reason": reason})
	})
	if err != nil {
		_ = s.restore(context.WithoutCancel(ctx))
		return nil, err
	}
	for _, src := range srcs {
		s.eng.track(src, now)
	}
	s.eng.track(tgt, now)
	s.refreshAlerts(ctx, tgt.ID)
	return tgt, nil
}

// Split moves the named alerts out of an incident into a new one.
func (s *Service) Split(ctx context.Context, id string, alertIDs []string, actor, reason string) (*Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	src, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(alertIDs) == 0 {
		return nil, fmt.Errorf("name the alerts to split off")
	}
	all, err := s.store.Alerts(ctx, id)
	if err != nil {
		return nil, err
	}
	var moved, kept []*Alert
	for _, a := range all {
		if slices.Contains(alertIDs, a.ID) {
			moved = append(moved, a)
		} else {
			kept = append(kept, a)
		}
	}
	if len(moved) != len(alertIDs) {
		return nil, fmt.Errorf("only %d of the %d alerts named belong to incident %s", len(moved), len(alertIDs), id)
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("splitting off every alert would leave incident %s empty", id)
	}
	nw := &Incident{ID: event.NewID(now), Status: StatusNew, CreatedAt: now, UpdatedAt: now, Title: moved[0].RuleTitle}
	for _, a := range moved {
		a.IncidentID = nw.ID
		if Severity(a.Level) >= Severity(nw.Title) {
			nw.Title = a.RuleTitle
		}
	}
	s.eng.rerate(nw, moved)
	s.eng.rerate(src, kept)
	src.UpdatedAt = now
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, a := range moved {
			if _, err := tx.ExecContext(ctx, `UPDATE alerts SET incident_id = ? WHERE id = ?`, nw.ID, a.ID); err != nil {
				return err
			}
		}
		for _, inc := range []*Incident{nw, src} {
			if err := putIncident(ctx, tx, inc); err != nil {
				return err
			}
			if err := entitiesTx(ctx, tx, inc); err != nil {
				return err
			}
		}
		if err := addTimeline(ctx, tx, []TimelineEntry{
			{IncidentID: src.ID, At: now, Actor: actor, Kind: "split", Text: fmt.Sprintf("%d alert(s) split off into %s: %s", len(moved), nw.ID, reason)},
			{IncidentID: nw.ID, At: now, Actor: actor, Kind: "split", Text: fmt.Sprintf("split off from %s: %s", src.ID, reason),
				Detail: map[string]any{"alerts": alertIDs}},
		}); err != nil {
			return err
		}
		return auditTx(ctx, tx, actor, "incident.split", src.ID, map[string]any{"new": nw.ID, "alerts": alertIDs, "reason": reason})
	})
	if err != nil {
		_ = s.restore(context.WithoutCancel(ctx))
		return nil, err
	}
	s.eng.track(src, now)
	s.eng.track(nw, now)
	s.refreshAlerts(ctx, src.ID)
	s.refreshAlerts(ctx, nw.ID)
	return nw, nil
}

// refreshAlerts points the in-memory alerts of an incident at it again after
// alerts moved, so repeats land in the right incident.
func (s *Service) refreshAlerts(ctx context.Context, incID string) {
	alerts, err := s.store.Alerts(ctx, incID)
	if err != nil {
		return
	}
	for _, a := range alerts {
		if cur := s.eng.byFP[a.Fingerprint]; cur != nil && cur.ID == a.ID {
			cur.IncidentID = incID
		}
	}
}

func (s *Service) load(ctx context.Context, id string) (*Incident, error) {
	if inc := s.eng.Incident(id); inc != nil {
		return inc, nil
	}
	return s.store.Get(ctx, id)
}

func alertsTx(ctx context.Context, tx *sql.Tx, incID string) ([]*Alert, error) {
	rows, err := tx.QueryContext(ctx, `SELECT doc FROM alerts WHERE incident_id = ? ORDER BY first_seen`, incID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Alert
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var a Alert
		if err := json.Unmarshal([]byte(doc), &a); err != nil {
			return nil, err
		}
		a.IncidentID = incID
		out = append(out, &a)
	}
	return out, rows.Err()
}

func entitiesTx(ctx context.Context, tx *sql.Tx, inc *Incident) error {
	for _, e := range inc.Entities {
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_entities (kind, value, incident_id) VALUES (?,?,?) ON CONFLICT DO NOTHING`,
			e.Kind, strings.ToLower(e.Value), inc.ID); err != nil {
			return err
		}
	}
	return nil
}

// PutAssets stores assets, audits the import and re-rates nothing
// retroactively: new criticality applies to alerts from now on.
func (s *Service) PutAssets(ctx context.Context, assets []*Asset, actor string) error {
	if err := s.store.PutAssets(ctx, assets, actor); err != nil {
		return err
	}
	all, err := s.store.Assets(ctx, true)
	if err != nil {
		return err
	}
	s.inv.Replace(all)
	return nil
}

// Note appends a line to an incident's timeline (a notification delivery,
// a playbook step) without changing the incident.
func (s *Service) Note(ctx context.Context, incidentID, actor, kind, text string, detail map[string]any) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		return addTimeline(ctx, tx, []TimelineEntry{{IncidentID: incidentID, At: time.Now().UTC(), Actor: actor,
			Kind: kind, Text: text, Detail: detail}})
	})
}
