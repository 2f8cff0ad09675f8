package respond

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/recovery"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/playbook"
	"github.com/riposte-soar/riposte/playbook/expr"
	"github.com/riposte-soar/riposte/rulestore"
)

// Service starts playbook runs: by hand, and when an incident event
// matches a playbook's trigger.
type Service struct {
	Lib    *Library
	Engine *engine.Engine
	Log    *slog.Logger
	// Assets looks up asset tags and criticality for trigger conditions.
	Assets func(e alarm.Entity) *alarm.Asset
	// Alert reads an alert, for alert triggers.
	Alert func(ctx context.Context, id string) (*alarm.Alert, error)
	// Ledger holds the undos of what playbooks did; Registry runs them;
	// Note writes recovery steps on the incident's timeline.
	Ledger   *Ledger
	Registry *connector.Registry
	Note     func(ctx context.Context, incident, actor, kind, text string, detail map[string]any) error
	// AfterRecover runs once the undos are done: it lifts what the
	// incident holds by other means (decisions made by people or OpenC2
	// producers, which left no undo).
	AfterRecover func(ctx context.Context, incident, actor string) error
	// ClaimSlot, when set, claims a schedule's time slot for the cluster
	// before the playbook starts; false means another node (or this node's
	// previous life) already started that slot; an error, that it could
	// not tell (tried again on the next tick).
	ClaimSlot func(ctx context.Context, playbook, slot string) (bool, error)
	// Changed, when set, is called after a playbook change made through
	// this service is stored and armed: in a cluster it tells the other
	// nodes to reload, since they share the store but not the triggers.
	Changed func()

	mu      sync.Mutex
	enabled atomic.Pointer[[]armed]
}

// armed is an enabled playbook's current version, parsed once.
type armed struct {
	pb      *playbook.Playbook
	version int
	cond    *expr.Program
}

// Reload re-reads the enabled playbooks; call it after any change.
func (s *Service) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := s.Lib.Store.Active(ctx)
	if err != nil {
		return err
	}
	var out []armed
	for _, v := range rows {
		pb, errs := playbook.ParseYAML([]byte(v.Body))
		if pb == nil || playbook.HasErrors(errs) {
			s.Log.Error("stored playbook does not parse; it will not trigger", "playbook", v.RuleID, "version", v.Version)
			continue
		}
		a := armed{pb: pb, version: v.Version}
		if t := pb.Trigger; t != nil && t.Incident != nil && t.Incident.Condition != "" {
			if a.cond, err = expr.Compile(t.Incident.Condition, []string{"__incident__"}); err != nil {
				s.Log.Error("playbook trigger condition does not compile", "playbook", pb.ID, "err", err)
				continue
			}
		}
		out = append(out, a)
	}
	s.enabled.Store(&out)
	return nil
}

// reloadChanged re-arms after a change and announces it.
func (s *Service) reloadChanged(ctx context.Context) error {
	if err := s.Reload(ctx); err != nil {
		return err
	}
	if s.Changed != nil {
		s.Changed()
	}
	return nil
}

// Put stores a new version and re-arms triggers.
func (s *Service) Put(ctx context.Context, data []byte, author, reason string) (rulestore.Version, error) {
	v, err := s.Lib.Put(ctx, data, author, reason)
	if err != nil {
		return v, err
	}
	return v, s.reloadChanged(ctx)
}

// SetEnabled enables or disables a playbook's triggers.
func (s *Service) SetEnabled(ctx context.Context, id string, on bool, author, reason string) error {
	if err := s.Lib.Store.SetEnabled(ctx, id, on, author, reason); err != nil {
		return err
	}
	return s.reloadChanged(ctx)
}

// Rollback makes an earlier version current again.
func (s *Service) Rollback(ctx context.Context, id string, to int, author, reason string) (rulestore.Version, error) {
	v, err := s.Lib.Store.Rollback(ctx, id, to, author, reason)
	if err != nil {
		return v, err
	}
	return v, s.reloadChanged(ctx)
}

// StartInput is what a run starts with.
type StartInput struct {
	Vars     map[string]any
	Incident *alarm.Incident
	// Again starts even when this playbook already ran for the incident.
	Again bool
	// DedupKey, when set, replaces the incident as what makes a start
	// unique (a schedule slot, a webhook delivery).
	DedupKey string
	// Actor and Trigger say who or what starts the run, for its audit
	// entry ("token:…" and "manual" for a person; automated starts fill
	// them in themselves).
	Actor   string
	Trigger string
	alert   *alarm.Alert
	detail  map[string]any
}

// Start starts the current version of a playbook.
func (s *Service) Start(ctx context.Context, id string, in StartInput) (string, error) {
	_, cur, err := s.Lib.Store.Get(ctx, id)
	if err != nil {
		return "", err
	}
	pb, err := s.Lib.Version(ctx, id, cur.Version)
	if err != nil {
		return "", err
	}
	return s.start(ctx, pb, cur.Version, in)
}

func (s *Service) start(ctx context.Context, pb *playbook.Playbook, version int, in StartInput) (string, error) {
	vars, dedup := startVars(pb, in)
	o := engine.Origin{Actor: in.Actor, Trigger: in.Trigger, Detail: in.detail}
	if in.Incident != nil {
		o.Incident = in.Incident.ID
	}
	if in.alert != nil {
		o.Detail = map[string]any{"alert": in.alert.ID}
	}
	if o.Trigger == "" {
		o.Trigger = "manual"
	}
	if o.Actor == "" {
		o.Actor = "trigger:" + o.Trigger
	}
	return s.Engine.StartFrom(ctx, pb, version, vars, dedup, o)
}

// startVars is what a run of pb starts with for in: the incident and alert
// as documents, the trigger's bindings, the caller's variables; and the
// key that makes the start unique.
func startVars(pb *playbook.Playbook, in StartInput) (map[string]any, string) {
	vars := map[string]any{}
	dedup := in.DedupKey
	if in.Incident != nil {
		doc := incidentDoc(in.Incident)
		vars["__incident__"] = doc
		alert := firstAlert(doc)
		if in.alert != nil {
			alert = alertDoc(in.alert)
			vars["__alert__"] = alert
		}
		if pb.Trigger != nil {
			for name, path := range pb.Trigger.Bind {
				if v, ok := lookup(map[string]any{"incident": doc, "alert": alert}, path); ok {
					vars[varName(name)] = v
				}
			}
		}
		if !in.Again && dedup == "" {
			// An alert trigger answers each alert (every attacker of a
			// grouped incident gets blocked); an incident trigger runs
			// once per incident.
			dedup = "incident:" + in.Incident.ID
			if in.alert != nil {
				dedup = "alert:" + in.alert.ID
			}
		}
	}
	for k, v := range in.Vars {
		vars[varName(k)] = v
	}
	return vars, dedup
}

// DryRun simulates pb (every connector's Simulate, a virtual clock, a
// throwaway store; see engine.DryRun) with the variables a real start for
// in would get, so a person sees what it would do for that incident before
// saving it.
func (s *Service) DryRun(ctx context.Context, pb *playbook.Playbook, in StartInput) (engine.Trace, error) {
	vars, _ := startVars(pb, in)
	return s.Engine.DryRun(ctx, pb, vars)
}

func varName(n string) string {
	if strings.HasPrefix(n, "__") && strings.HasSuffix(n, "__") {
		return n
	}
	return "__" + n + "__"
}

// OnIncident starts every enabled playbook whose trigger matches an
// incident event: "new" and "escalated" incidents for incident triggers,
// "alert" (a new alert joined the incident; text is its id) for alert
// triggers. A playbook runs once per incident, or once per alert for an
// alert trigger (the engine refuses the same start key twice), unless
// started by hand with "again".
func (s *Service) OnIncident(ctx context.Context, event string, inc *alarm.Incident, text string) {
	list := s.enabled.Load()
	if list == nil {
		return
	}
	var al *alarm.Alert
	if event == "alert" {
		// One event per new alert: read the alert only when some playbook
		// has an alert trigger.
		wanted := false
		for _, a := range *list {
			wanted = wanted || (a.pb.Trigger != nil && a.pb.Trigger.Alert != nil)
		}
		if !wanted || s.Alert == nil {
			return
		}
		a, err := s.Alert(ctx, text)
		if err != nil {
			s.Log.Warn("alert trigger: alert not found", "alert", text, "err", err)
			return
		}
		al = a
	}
	for _, a := range *list {
		t := a.pb.Trigger
		if t == nil {
			continue
		}
		var ok bool
		switch event {
		case "new", "escalated":
			ok = t.Incident != nil && s.matches(t.Incident, a.cond, inc)
		case "alert":
			ok = t.Alert != nil && al != nil && s.matches(t.Alert, nil, alertView(al, inc))
		}
		if !ok {
			continue
		}
		trigger := "incident"
		if event == "alert" {
			trigger = "alert"
		}
		id, err := s.start(ctx, a.pb, a.version, StartInput{Incident: inc, alert: al, Trigger: trigger})
		switch {
		case errors.Is(err, engine.ErrDuplicateRun):
		case err != nil:
			s.Log.Error("playbook not started", "playbook", a.pb.ID, "incident", inc.ID, "err", err)
		default:
			s.Log.Info("playbook started", "playbook", a.pb.Name, "run", id, "incident", inc.ID, "by", event)
		}
	}
}

// alertView lets the trigger conditions read an alert as they read an
// incident: its rule, tags, entities, and the incident's priority and
// criticality.
func alertView(a *alarm.Alert, inc *alarm.Incident) *alarm.Incident {
	v := &alarm.Incident{ID: inc.ID, Priority: inc.Priority, Criticality: inc.Criticality, Rules: []string{a.RuleID},
		Entities: a.Entities, Severity: a.Severity}
	for _, t := range a.Tags {
		if strings.HasPrefix(strings.ToLower(t), "attack.") {
			v.Tags = append(v.Tags, strings.ToLower(t))
			name := strings.TrimPrefix(strings.ToLower(t), "attack.")
			if len(name) > 0 && !(name[0] == 't' && len(name) > 1 && name[1] >= '0' && name[1] <= '9') {
				v.Tactics = append(v.Tactics, name)
			}
		} else {
			v.Tags = append(v.Tags, t)
		}
	}
	return v
}

// matches applies a trigger's conditions: every list that is set must
// share a value with the incident.
func (s *Service) matches(m *playbook.EventMatch, cond *expr.Program, inc *alarm.Incident) bool {
	anyOf := func(want, have []string) bool {
		if len(want) == 0 {
			return true
		}
		for _, w := range want {
			for _, h := range have {
				if strings.EqualFold(strings.ReplaceAll(w, "-", "_"), strings.ReplaceAll(h, "-", "_")) {
					return true
				}
			}
		}
		return false
	}
	var kinds, assetTags []string
	crit := inc.Criticality
	for _, e := range inc.Entities {
		if !slices.Contains(kinds, e.Kind) {
			kinds = append(kinds, e.Kind)
		}
		if s.Assets != nil {
			if a := s.Assets(e); a != nil && !a.Discovered {
				assetTags = append(assetTags, a.Tags...)
				crit = max(crit, a.Criticality)
			}
		}
	}
	tags := append([]string{}, inc.Tags...)
	for _, t := range inc.Tactics {
		tags = append(tags, "attack."+t)
	}
	switch {
	case !anyOf(m.Rules, inc.Rules), !anyOf(m.Tactics, inc.Tactics), !anyOf(m.Priorities, []string{inc.Priority}),
		!anyOf(m.EntityTypes, kinds), !anyOf(m.AssetTags, assetTags):
		return false
	case len(m.Tags) > 0 && !anyOf(m.Tags, tags):
		return false
	case m.MinCriticality > 0 && crit < m.MinCriticality:
		return false
	}
	if cond != nil {
		ok, err := cond.EvalBool(map[string]any{"__incident__": incidentDoc(inc)})
		return err == nil && ok
	}
	return true
}

// incidentDoc is the incident as playbooks see it: its JSON, as a map.
func incidentDoc(inc *alarm.Incident) map[string]any {
	b, _ := json.Marshal(inc)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	ents := map[string][]any{}
	for _, e := range inc.Entities {
		ents[e.Kind] = append(ents[e.Kind], e.Value)
	}
	byKind := map[string]any{}
	for k, v := range ents {
		byKind[k] = v
	}
	m["entities_by_kind"] = byKind
	return m
}

// firstAlert gives bindings written against an alert ("alert.host",
// "alert.entities.source_ips[0]") the incident's entities in alert form.
func firstAlert(doc map[string]any) map[string]any {
	byKind, _ := doc["entities_by_kind"].(map[string]any)
	first := func(k string) any {
		if l, ok := byKind[k].([]any); ok && len(l) > 0 {
			return l[0]
		}
		return nil
	}
	return map[string]any{
		"host": first("host"),
		"entities": map[string]any{"hosts": byKind["host"], "users": byKind["user"], "source_ips": byKind["ip"],
			"hashes": byKind["hash"], "domains": byKind["domain"], "processes": byKind["process"]},
	}
}

// alertDoc is an alert as playbooks see it, entities listed by kind the
// way detection's alerts carry them.
func alertDoc(a *alarm.Alert) map[string]any {
	b, _ := json.Marshal(a)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	lists := map[string][]any{}
	for _, e := range a.Entities {
		lists[e.Kind] = append(lists[e.Kind], e.Value)
	}
	m["entities"] = map[string]any{"hosts": lists["host"], "users": lists["user"], "source_ips": lists["ip"],
		"hashes": lists["hash"], "domains": lists["domain"], "processes": lists["process"]}
	if h := lists["host"]; len(h) > 0 {
		m["host"] = h[0]
	}
	return m
}

var pathPart = regexp.MustCompile(`^([A-Za-z0-9_\-]+)(?:\[(\d+)\])?$`)

// lookup reads a dotted path with list indexes from nested maps.
func lookup(root map[string]any, path string) (any, bool) {
	var cur any = root
	for _, part := range strings.Split(path, ".") {
		m := pathPart.FindStringSubmatch(part)
		if m == nil {
			return nil, false
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[m[1]]; !ok {
			return nil, false
		}
		if m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			l, ok := cur.([]any)
			if !ok || i >= len(l) {
				return nil, false
			}
			cur = l[i]
		}
	}
	return cur, cur != nil
}

// String names a run start for logs.
func (in StartInput) String() string {
	if in.Incident != nil {
		return fmt.Sprintf("incident %s", in.Incident.ID)
	}
	return "manual"
}

// Recover undoes, newest first, what playbooks did for an incident.
func (s *Service) Recover(ctx context.Context, incident, actor string) ([]recovery.Step, error) {
	if s.Ledger == nil || s.Registry == nil {
		return nil, errors.New("recovery is not configured")
	}
	steps, err := s.Ledger.Recover(ctx, s.Registry, incident, actor, func(text string, detail map[string]any) {
		if s.Note != nil {
			if err := s.Note(ctx, incident, actor, "recovery", text, detail); err != nil {
				s.Log.Warn("recovery step not noted", "incident", incident, "err", err)
			}
		}
	})
	out := make([]recovery.Step, len(steps))
	for i, st := range steps {
		out[i] = recovery.Step{OK: st.OK, Summary: st.Summary}
	}
	if err == nil && s.AfterRecover != nil {
		err = s.AfterRecover(ctx, incident, actor)
	}
	return out, err
}
