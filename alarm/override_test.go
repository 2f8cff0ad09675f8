package alarm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

// A person's rating of an incident stays theirs: a more severe alert that
// joins later does not raise it back, a restart keeps it, the change is
// audited with its reason and on the timeline, and clearing it hands the
// rating back to detection.
func TestPriorityOverrideSticks(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, rec := newService(t, db, DefaultConfig())
	apply(t, s, mk("brute", "high", t0, []string{"attack.credential_access"}, "web-1", "", "203.0.113.7"))
	in := queue(t, s)[0]
	if in.Priority == "P4" {
		t.Fatalf("setup: the incident is already %s", in.Priority)
	}
	p4, sev := "P4", 1
	got, err := s.Update(ctx, in.ID, Change{Priority: &p4, Severity: &sev, Reason: "test box"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.Priority != "P4" || got.Severity != 1 || got.Override == nil || got.Override.By != "alice" || got.AckedAt == nil {
		t.Fatalf("after the override: %+v", got)
	}
	// A critical alert joins; detection would make this P1.
	apply(t, s, mk("login-after-brute", "critical", t0.Add(time.Minute), []string{"attack.initial_access"}, "web-1", "root", "203.0.113.7"))
	in = queue(t, s)[0]
	if in.Priority != "P4" || in.Severity != 1 || in.AlertCount != 2 {
		t.Fatalf("a joining alert overruled the person: %s severity %d, %d alerts", in.Priority, in.Severity, in.AlertCount)
	}
	if strings.Contains(strings.Join(rec.events(), ","), "escalated") {
		t.Errorf("an overridden incident was escalated: %v", rec.events())
	}
	// After a restart the engine reloads the incident with its override.
	s2, _ := newService(t, db, DefaultConfig())
	apply(t, s2, mk("new-service", "high", t0.Add(2*time.Minute), []string{"attack.persistence"}, "web-1", "root", ""))
	if in = queue(t, s2)[0]; in.Priority != "P4" {
		t.Fatalf("after a restart: %s", in.Priority)
	}
	for _, c := range []Change{
		{Priority: &p4},                       // no reason
		{Priority: strPtr("P7"), Reason: "x"}, // no such priority
		{Severity: intPtr(5), Reason: "x"},    // out of range
		{Priority: &p4, ClearOverride: true, Reason: "x"},
	} {
		if _, err := s2.Update(ctx, in.ID, c, "alice"); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	back, err := s2.Update(ctx, in.ID, Change{ClearOverride: true, Reason: "not a test box after all"}, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if back.Priority != "P1" || back.Severity != 4 || back.Override != nil {
		t.Fatalf("cleared: %s severity %d override %+v, want P1 severity 4 from the alerts", back.Priority, back.Severity, back.Override)
	}
	tl, _ := s2.Store().Timeline(ctx, in.ID)
	var texts []string
	for _, e := range tl {
		if e.Kind == "priority" {
			texts = append(texts, e.Actor+": "+e.Text)
		}
	}
	want := []string{"alice: rated P4 severity 1 by hand", "bob: rating handed back to detection: P1 severity 4 (was P4 severity 1): not a test box after all"}
	if len(texts) != 2 || !strings.HasPrefix(texts[0], want[0]) || texts[1] != want[1] {
		t.Errorf("timeline %q, want %q", texts, want)
	}
	entries, _ := audit.New(db).List(ctx, 0, 1000)
	var reasons []string
	for _, e := range entries {
		if e.Action == "incident.update" {
			reasons = append(reasons, e.Actor+" "+string(e.Detail))
		}
	}
	if all := strings.Join(reasons, "\n"); !strings.Contains(all, "alice") || !strings.Contains(all, "test box") || !strings.Contains(all, "not a test box after all") {
		t.Errorf("audit entries:\n%s", all)
	}
}

func strPtr(s string) *string { return &s }
func intPtr(n int) *int       { return &n }
