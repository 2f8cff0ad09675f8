package alarm

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

const (
	first  = "203.0.113.7"
	second = "198.51.100.9"
)

// A second attacker on a host whose incident people contained is a second
// intrusion: with new_incident_after at or below the incident's status it
// opens a new incident that follows the first, and the first attacker's
// alerts keep joining the first incident either way.
func TestNewAttackerAfterContainment(t *testing.T) {
	brute := []string{"attack.credential_access", "attack.t1110"}
	cases := []struct {
		name   string
		after  Status // the configuration
		status Status // what people set on the first incident
		split  bool   // the second attacker gets its own incident
	}{
		{"contained: contained incident", StatusContained, StatusContained, true},
		{"contained: eradicated incident", StatusContained, StatusEradicated, true},
		{"contained: recovered incident", StatusContained, StatusRecovered, true},
		{"contained: triaged incident joins", StatusContained, StatusTriaged, false},
		{"resolved: contained incident joins", StatusRecovered, StatusContained, false},
		{"resolved: recovered incident", StatusRecovered, StatusRecovered, true},
		{"never: contained incident joins", "", StatusContained, false},
		{"never: recovered incident joins", "", StatusRecovered, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := DefaultConfig()
			cfg.NewIncidentAfter = tc.after
			s, rec := newService(t, nil, cfg)
			apply(t, s, mk("brute", "high", t0, brute, "web-1", "root", first))
			inc1 := queue(t, s)[0]
			st := tc.status
			if _, err := s.Update(ctx, inc1.ID, Change{Status: &st}, "bob"); err != nil {
				t.Fatal(err)
			}
			apply(t, s, mk("brute", "high", t0.Add(10*time.Minute), brute, "web-1", "root", second))
			// The first attacker goes on: the same alert again (a repeat)
			// and a new one.
			apply(t, s, mk("brute", "high", t0.Add(11*time.Minute), brute, "web-1", "root", first))
			apply(t, s, mk("login", "critical", t0.Add(12*time.Minute), nil, "web-1", "root", first))

			q := queue(t, s)
			got1, err := s.Store().Get(ctx, inc1.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n, hits := got1.AlertCount, got1.HitCount; tc.split && (n != 2 || hits != 3) || !tc.split && (n != 3 || hits != 4) {
				t.Errorf("first incident has %d alerts and %d hits, want the first attacker's 2 alerts and 3 hits (and the second's if it joined)", n, hits)
			}
			if got1.Status != tc.status {
				t.Errorf("first incident is %s: an alert changed the status people set (%s)", got1.Status, tc.status)
			}
			// Activity on a contained incident is on its timeline, once per
			// alert (the repeat, the new alert, and the second attacker's
			// when it joined), and escalated to people.
			want := 0
			if tc.status.rank() >= StatusContained.rank() {
				want = 2
				if !tc.split {
					want = 3
				}
				if !slices.ContainsFunc(rec.sent, func(x string) bool { return strings.HasPrefix(x, "escalated "+inc1.ID) }) {
					t.Errorf("no escalation of the first incident: %v", rec.sent)
				}
			}
			if n := countText(t, s, inc1.ID, "after containment"); n != want {
				t.Errorf("%d timeline lines about activity after containment, want %d: %v", n, want, timelineTexts(t, s, inc1.ID))
			}
			if !tc.split {
				if len(q) != 1 {
					t.Fatalf("%d incidents, want the second attacker in the first one", len(q))
				}
				if !slices.ContainsFunc(got1.Entities, func(e Entity) bool { return e.Value == second }) {
					t.Fatalf("first incident's entities %v lack the second attacker", got1.Entities)
				}
				if got1.FollowedBy != nil {
					t.Fatalf("first incident followed by %v, want nothing", got1.FollowedBy)
				}
				return
			}
			if len(q) != 2 {
				t.Fatalf("%d incidents, want the first and one for the second attacker", len(q))
			}
			var inc2 *Incident
			for _, in := range q {
				if in.ID != inc1.ID {
					inc2 = in
				}
			}
			if inc2.Follows != inc1.ID || !slices.Equal(got1.FollowedBy, []string{inc2.ID}) {
				t.Fatalf("link: second follows %q, first followed by %v; want %s and [%s]", inc2.Follows, got1.FollowedBy, inc1.ID, inc2.ID)
			}
			if inc2.AlertCount != 1 || inc2.Status != StatusNew || slices.ContainsFunc(got1.Entities, func(e Entity) bool { return e.Value == second }) {
				t.Fatalf("second incident %+v, first's entities %v: the second attacker must be only in the second", inc2, got1.Entities)
			}
			if countText(t, s, inc2.ID, "follows incident "+inc1.ID) != 1 || countText(t, s, inc1.ID, "started incident "+inc2.ID) != 1 {
				t.Fatalf("timelines lack the link: first %v, second %v", timelineTexts(t, s, inc1.ID), timelineTexts(t, s, inc2.ID))
			}
			if !slices.Contains(rec.sent, "new "+inc2.ID+" "+inc2.Priority+" ") {
				t.Errorf("no notification of the new incident: %v", rec.sent)
			}
		})
	}
}

// The link and the grouping it implies survive a restart: memory is
// rebuilt from the database, and each attacker's alerts still find their
// own incident.
func TestFollowUpIncidentSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s1, _ := newService(t, db, DefaultConfig())
	apply(t, s1, mk("brute", "high", t0, nil, "web-1", "", first))
	inc1 := queue(t, s1)[0].ID
	st := StatusContained
	if _, err := s1.Update(ctx, inc1, Change{Status: &st}, "bob"); err != nil {
		t.Fatal(err)
	}
	apply(t, s1, mk("brute", "high", t0.Add(time.Minute), nil, "web-1", "", second))

	s2, _ := newService(t, db, DefaultConfig())
	apply(t, s2, mk("login", "critical", t0.Add(2*time.Minute), nil, "web-1", "", first))
	apply(t, s2, mk("sudo", "medium", t0.Add(3*time.Minute), nil, "web-1", "", second))
	apply(t, s2, mk("scan", "medium", t0.Add(4*time.Minute), nil, "web-1", "", "192.0.2.44"))
	q := queue(t, s2)
	if len(q) != 2 {
		t.Fatalf("%d incidents after restart, want 2", len(q))
	}
	by := map[string]*Incident{}
	for _, in := range q {
		by[in.ID] = in
	}
	one := by[inc1]
	var two *Incident
	for id, in := range by {
		if id != inc1 {
			two = in
		}
	}
	if one == nil || two == nil || two.Follows != inc1 || !slices.Equal(one.FollowedBy, []string{two.ID}) {
		t.Fatalf("after restart: first %+v, second %+v; want the second to follow the first", one, two)
	}
	// The first attacker's new alert joins the contained incident even
	// though the follow-up is newer; a third attacker joins the follow-up,
	// which nobody contained yet.
	if one.AlertCount != 2 || two.AlertCount != 3 {
		t.Fatalf("first has %d alerts (want 2: the first attacker's), second %d (want 3: the second attacker's and the third's)",
			one.AlertCount, two.AlertCount)
	}
}

func timelineTexts(t *testing.T, s *Service, id string) []string {
	t.Helper()
	tl, err := s.Store().Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range tl {
		out = append(out, e.Kind+": "+e.Text)
	}
	return out
}

func countText(t *testing.T, s *Service, id, sub string) int {
	n := 0
	for _, x := range timelineTexts(t, s, id) {
		if strings.Contains(x, sub) {
			n++
		}
	}
	return n
}

// A contained host hit from many addresses gets one new incident per
// containment, not one per address: newcomers join the open follow-up,
// even after the first attacker's activity took the host back to the
// first incident, and once the follow-up is contained too the next
// newcomer's incident follows it.
func TestNewcomersJoinTheOpenFollowUp(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t, nil, DefaultConfig())
	contain := func(id string) {
		t.Helper()
		st := StatusContained
		if _, err := s.Update(ctx, id, Change{Status: &st}, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	incOf := func(ip string) *Incident {
		t.Helper()
		for _, in := range queue(t, s) {
			if slices.ContainsFunc(in.Entities, func(e Entity) bool { return e.Value == ip }) {
				return in
			}
		}
		t.Fatalf("no incident names %s", ip)
		return nil
	}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	apply(t, s, mk("brute", "high", at(0), nil, "web-1", "", first))
	inc1 := incOf(first).ID
	contain(inc1)
	apply(t, s, mk("brute", "high", at(1), nil, "web-1", "", second))
	inc2 := incOf(second).ID
	apply(t, s, mk("login", "high", at(2), nil, "web-1", "", first))
	apply(t, s, mk("brute", "high", at(3), nil, "web-1", "", "192.0.2.44"))
	if got := incOf("192.0.2.44").ID; got != inc2 {
		t.Fatalf("third attacker in %s, want the open follow-up %s", got, inc2)
	}
	contain(inc2)
	apply(t, s, mk("brute", "high", at(4), nil, "web-1", "", "192.0.2.45"))
	inc3 := incOf("192.0.2.45")
	if inc3.ID == inc2 || inc3.Follows != inc2 {
		t.Fatalf("fourth attacker in %s following %q, want a new incident following the contained follow-up %s", inc3.ID, inc3.Follows, inc2)
	}
	if n := len(queue(t, s)); n != 3 {
		t.Fatalf("%d incidents, want 3: one per containment", n)
	}
}
