package alarm

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

type recorder struct {
	mu     sync.Mutex
	sent   []string
	alerts int // "alert" events: one per new alert, for playbook triggers
}

func (r *recorder) Notify(ev string, inc *Incident, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev == "alert" {
		r.alerts++
		return
	}
	r.sent = append(r.sent, ev+" "+inc.ID+" "+inc.Priority+" "+text)
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.sent {
		out = append(out, strings.SplitN(s, " ", 2)[0])
	}
	return out
}

func newService(t *testing.T, db *store.DB, cfg Config) (*Service, *recorder) {
	t.Helper()
	if db == nil {
		var err error
		db, err = store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
	}
	rec := &recorder{}
	s, err := NewService(context.Background(), cfg, db, rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s, rec
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func mk(rule, level string, at time.Time, tags []string, host, user, ip string) alert.Alert {
	a := alert.Alert{ID: event.NewID(at), Kind: alert.KindSigma, Rule: alert.Rule{ID: rule, Title: "rule " + rule, Level: level, Tags: tags},
		Time: at, Detected: at, FirstEventTime: at.Add(-time.Second), EventIDs: []string{event.NewID(at)}}
	if host != "" {
		a.Entities.Hosts = []string{host}
	}
	if user != "" {
		a.Entities.Users = []string{user}
	}
	if ip != "" {
		a.Entities.SourceIPs = []string{ip}
	}
	return a
}

func apply(t *testing.T, s *Service, as ...alert.Alert) {
	t.Helper()
	if err := s.ApplyBatch(context.Background(), as, as[len(as)-1].Detected); err != nil {
		t.Fatal(err)
	}
}

func queue(t *testing.T, s *Service) []*Incident {
	t.Helper()
	incs, err := s.Store().List(context.Background(), Filter{Statuses: []Status{StatusNew, StatusTriaged, StatusContained, StatusEradicated, StatusRecovered}})
	if err != nil {
		t.Fatal(err)
	}
	return incs
}

// One intrusion is one incident: a brute force, a successful login from the
// same address, then a new service on the host.
func TestIntrusionBecomesOneIncidentWithRisingPriority(t *testing.T) {
	s, rec := newService(t, nil, DefaultConfig())
	apply(t, s, mk("other", "low", t0, []string{"attack.discovery"}, "db-9", "", ""))
	apply(t, s, mk("brute", "high", t0.Add(time.Minute), []string{"attack.credential_access", "attack.t1110"}, "", "", "203.0.113.7"))
	apply(t, s, mk("login-after-brute", "critical", t0.Add(5*time.Minute), []string{"attack.initial_access"}, "web-1", "root", "203.0.113.7"))
	apply(t, s, mk("new-service", "medium", t0.Add(9*time.Minute), []string{"attack.persistence"}, "web-1", "root", ""))
	q := queue(t, s)
	if len(q) != 2 {
		t.Fatalf("%d incidents, want 2 (the intrusion and the unrelated one)", len(q))
	}
	in := q[0]
	if in.AlertCount != 3 || in.Priority != "P1" || in.Severity != 4 || in.Urgency != 3 {
		t.Fatalf("intrusion incident %+v: want 3 alerts, P1, severity 4, urgency 3", in)
	}
	if q[1].Priority != "P4" {
		t.Fatalf("unrelated discovery alert is %s, want P4 and last in the queue", q[1].Priority)
	}
	if in.Title != "rule login-after-brute" {
		t.Errorf("title %q: want the most severe rule", in.Title)
	}
	if rec.alerts != 4 {
		t.Errorf("%d alert events, want one per new alert (4)", rec.alerts)
	}
	want := []string{"new", "new", "escalated"}
	if got := rec.events(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("notifications %v, want %v", got, want)
	}
	tl, _ := s.Store().Timeline(context.Background(), in.ID)
	var kinds []string
	for _, e := range tl {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "alert,alert,priority,alert" {
		t.Fatalf("timeline %v", kinds)
	}
}

func TestRepeatsAreDeduplicated(t *testing.T) {
	s, rec := newService(t, nil, DefaultConfig())
	var batch []alert.Alert
	for i := 0; i < 50; i++ {
		batch = append(batch, mk("brute", "high", t0.Add(time.Duration(i)*time.Second), nil, "web-1", "", "203.0.113.7"))
	}
	apply(t, s, batch...)
	// Outside the dedup window the same alert is new again.
	apply(t, s, mk("brute", "high", t0.Add(2*time.Hour), nil, "web-1", "", "203.0.113.7"))
	q := queue(t, s)
	if len(q) != 1 || q[0].AlertCount != 2 || q[0].HitCount != 51 {
		t.Fatalf("queue %+v: want one incident with 2 alerts and 51 hits", q)
	}
	alerts, _ := s.Store().Alerts(context.Background(), q[0].ID)
	if alerts[0].Count != 50 || len(alerts[0].EventIDs) != 50 || !alerts[0].LastSeen.Equal(t0.Add(49*time.Second)) {
		t.Fatalf("first alert count %d, %d event ids, last seen %v", alerts[0].Count, len(alerts[0].EventIDs), alerts[0].LastSeen)
	}
	if len(rec.events()) != 1 {
		t.Fatalf("a storm of repeats sent %d notifications", len(rec.events()))
	}
}

func TestSilenceAndInhibitionHoldButKeep(t *testing.T) {
	s, rec := newService(t, nil, DefaultConfig())
	ctx := context.Background()
	sil, err := s.AddSilence(ctx, &Silence{Matchers: []*Matcher{{Field: "host", Op: "=~", Value: "build-.*"}},
		StartsAt: t0, EndsAt: t0.Add(time.Hour), Reason: "maintenance window"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddSilence(ctx, &Silence{Matchers: []*Matcher{{Field: "colour", Op: "=", Value: "x"}}, StartsAt: t0, EndsAt: t0.Add(time.Hour), Reason: "x"}, "a"); err == nil {
		t.Fatal("silence with an unknown field accepted")
	}
	apply(t, s, mk("scan", "high", t0.Add(time.Minute), nil, "build-3", "", ""))
	apply(t, s, mk("scan", "high", t0.Add(2*time.Hour), nil, "build-4", "", "")) // after the window
	apply(t, s, mk("ransom", "critical", t0.Add(2*time.Hour), nil, "web-1", "", ""))
	apply(t, s, mk("noise", "low", t0.Add(2*time.Hour+time.Minute), nil, "web-1", "", ""))
	q := queue(t, s)
	if len(q) != 2 {
		t.Fatalf("%d incidents: the silenced alert must not open one", len(q))
	}
	held, _ := s.Store().Suppressed(ctx, 10)
	if len(held) != 2 {
		t.Fatalf("%d held alerts, want the silenced and the inhibited one", len(held))
	}
	counts, _ := s.Store().SuppressedCount(ctx)
	if counts["silence:"+sil.ID] != 1 || counts["inhibited"] != 1 {
		t.Fatalf("held counts %v", counts)
	}
	sils, _ := s.Store().Silences(ctx, true)
	if len(sils) != 1 || sils[0].Held != 1 {
		t.Fatalf("silences %+v", sils)
	}
	for _, e := range rec.events() {
		if e != "new" {
			t.Fatalf("unexpected notification %s", e)
		}
	}
}

func TestSLABreachEscalatesOnce(t *testing.T) {
	s, rec := newService(t, nil, DefaultConfig())
	ctx := context.Background()
	apply(t, s, mk("ransom", "critical", t0, []string{"attack.impact"}, "web-1", "", ""))
	in := queue(t, s)[0]
	if in.Priority != "P1" {
		t.Fatalf("priority %s", in.Priority)
	}
	created := in.CreatedAt
	if err := s.Tick(ctx, created.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(rec.events()) != 1 {
		t.Fatal("escalated before the SLA ran out")
	}
	s.Tick(ctx, created.Add(16*time.Minute))
	s.Tick(ctx, created.Add(17*time.Minute))
	got, _ := s.Store().Get(ctx, in.ID)
	if got.Escalation != 1 || len(got.Breaches) != 1 || got.Breaches[0] != "acknowledge" {
		t.Fatalf("after ack breach: escalation %d breaches %v", got.Escalation, got.Breaches)
	}
	if ev := rec.events(); len(ev) != 2 || ev[1] != "escalated" {
		t.Fatalf("notifications %v", ev)
	}
	// Acknowledged incidents stop the ack clock; containment still runs.
	st := StatusTriaged
	if _, err := s.Update(ctx, in.ID, Change{Status: &st}, "bob"); err != nil {
		t.Fatal(err)
	}
	s.Tick(ctx, created.Add(61*time.Minute))
	got, _ = s.Store().Get(ctx, in.ID)
	if got.Escalation != 2 || got.Breaches[1] != "contain" {
		t.Fatalf("after contain breach: %+v", got.Breaches)
	}
}

func TestCaseWorkIsAuditedAndTimed(t *testing.T) {
	s, rec := newService(t, nil, DefaultConfig())
	ctx := context.Background()
	apply(t, s, mk("a", "high", t0, nil, "web-1", "", ""))
	apply(t, s, mk("b", "medium", t0.Add(time.Minute), nil, "db-1", "", ""))
	apply(t, s, mk("c", "medium", t0.Add(2*time.Minute), nil, "db-1", "", "198.51.100.9"))
	q := queue(t, s)
	if len(q) != 2 {
		t.Fatalf("%d incidents", len(q))
	}
	web, db := q[0], q[1]
	who := "carol"
	if _, err := s.Update(ctx, web.ID, Change{Assignee: &who, Comment: "looking", AddTags: []string{"vip"}}, "bob"); err != nil {
		t.Fatal(err)
	}
	merged, err := s.Merge(ctx, web.ID, []string{db.ID}, "bob", "same attacker")
	if err != nil {
		t.Fatal(err)
	}
	if merged.AlertCount != 3 || len(merged.Entities) != 3 {
		t.Fatalf("merged incident %+v", merged)
	}
	if _, err := s.Merge(ctx, web.ID, []string{db.ID}, "bob", "again"); err == nil {
		t.Fatal("merging an already merged incident accepted")
	}
	alerts, _ := s.Store().Alerts(ctx, web.ID)
	split, err := s.Split(ctx, web.ID, []string{alerts[0].ID}, "bob", "unrelated")
	if err != nil {
		t.Fatal(err)
	}
	if split.AlertCount != 1 {
		t.Fatalf("split incident %+v", split)
	}
	for _, st := range []Status{StatusContained, StatusRecovered, StatusClosed} {
		st := st
		if _, err := s.Update(ctx, web.ID, Change{Status: &st}, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	v := VerdictTruePositive
	s.Update(ctx, web.ID, Change{Verdict: &v}, "bob")
	got, _ := s.Store().Get(ctx, web.ID)
	if got.AckedAt == nil || got.ContainedAt == nil || got.ResolvedAt == nil || got.ClosedAt == nil || got.Verdict != v {
		t.Fatalf("clocks not set: %+v", got)
	}
	if !strings.Contains(strings.Join(rec.events(), ","), "contained") || !strings.Contains(strings.Join(rec.events(), ","), "resolved") {
		t.Fatalf("notifications %v", rec.events())
	}
	entries, _ := audit.New(s.db).List(ctx, 0, 100)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"incident.update", "incident.merge", "incident.split"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}
	if _, brk, _ := audit.New(s.db).Verify(ctx); brk != nil {
		t.Fatal(brk)
	}
}

func TestAssetCriticalityRaisesPriority(t *testing.T) {
	db, err := store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	assets, err := ImportCSV(strings.NewReader("kind,name,criticality,owner,tags,addresses\nhost,dc-1,5,ad-team,dc;prod,10.0.0.10\nsegment,servers,4,,,10.0.0.0/24\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := NewStore(db).PutAssets(context.Background(), assets, "test"); err != nil {
		t.Fatal(err)
	}
	s, _ := newService(t, db, DefaultConfig())
	apply(t, s, mk("x", "high", t0, []string{"attack.execution"}, "DC-1.corp.example", "", ""))
	apply(t, s, mk("x", "high", t0, []string{"attack.execution"}, "laptop-7", "", ""))
	apply(t, s, mk("y", "high", t0, []string{"attack.execution"}, "", "", "10.0.0.77"))
	q := queue(t, s)
	prios := map[string]string{}
	for _, in := range q {
		prios[in.Entities[0].Value] = fmt.Sprintf("%s/%d", in.Priority, in.Criticality)
	}
	if prios["DC-1.corp.example"] != "P2/5" || prios["laptop-7"] != "P3/3" || prios["10.0.0.77"] != "P2/4" {
		t.Fatalf("priorities %v", prios)
	}
	all, _ := s.Store().Assets(context.Background(), true)
	var discovered []string
	for _, a := range all {
		if a.Discovered {
			discovered = append(discovered, a.Name)
		}
	}
	if strings.Join(discovered, ",") != "laptop-7" {
		t.Fatalf("discovered %v, want laptop-7 (dc-1 is known; ips are not hosts)", discovered)
	}
}

// Restart safety: the same alerts delivered again after a restart change
// nothing, and new alerts join the incidents opened before it.
func TestRestartNeitherLosesNorDuplicates(t *testing.T) {
	db, err := store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s1, _ := newService(t, db, DefaultConfig())
	batch := []alert.Alert{
		mk("a", "high", t0, nil, "web-1", "", "203.0.113.7"),
		mk("a", "high", t0.Add(time.Second), nil, "web-1", "", "203.0.113.7"),
		mk("b", "medium", t0.Add(2*time.Second), nil, "web-1", "", ""),
	}
	apply(t, s1, batch...)
	s2, _ := newService(t, db, DefaultConfig())
	apply(t, s2, batch...) // redelivered after a crash before the ack
	apply(t, s2, mk("c", "low", t0.Add(time.Minute), nil, "", "", "203.0.113.7"))
	apply(t, s2, mk("a", "high", t0.Add(2*time.Minute), nil, "web-1", "", "203.0.113.7"))
	q := queue(t, s2)
	if len(q) != 1 || q[0].AlertCount != 3 || q[0].HitCount != 5 {
		t.Fatalf("after restart: %d incidents, first %+v; want one with 3 alerts and 5 hits", len(q), q[0])
	}
}
