package alarm

import (
	"context"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/storetest"
)

// The alarm store's tests (incidents, alerts, timelines, assets,
// silences, restarts) hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestNewAttackerAfterContainment, TestFollowUpIncidentSurvivesRestart, TestNewcomersJoinTheOpenFollowUp,
		TestPriorityOverrideSticks, TestIntrusionBecomesOneIncidentWithRisingPriority, TestRepeatsAreDeduplicated,
		TestSilenceAndInhibitionHoldButKeep, TestSLABreachEscalatesOnce, TestCaseWorkIsAuditedAndTimed,
		TestAssetCriticalityRaisesPriority, TestRestartNeitherLosesNorDuplicates, TestResponseSeriesPerDay,
		TestRuleStatsAndAlertGroups)
}

// Rule statistics and an incident's alerts grouped by rule count repeats
// as hits, from the alerts' JSON documents, in either database.
func TestRuleStatsAndAlertGroups(t *testing.T) {
	s, _ := newService(t, nil, DefaultConfig())
	ctx := context.Background()
	for i := range 5 {
		apply(t, s, mk("brute", "high", t0.Add(time.Duration(i)*time.Second), nil, "web-1", "", "203.0.113.7"))
	}
	apply(t, s, mk("scan", "medium", t0.Add(10*time.Second), nil, "web-1", "", "203.0.113.7"))
	stats, err := s.Store().RuleStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b := stats["brute"]; b.Alerts != 1 || b.Hits != 5 || b.Judged != 0 {
		t.Fatalf("brute stats %+v: want 1 alert, 5 hits, none judged", b)
	}
	q := queue(t, s)
	if len(q) != 1 {
		t.Fatalf("queue %+v: want one incident", q)
	}
	gs, err := s.Store().AlertGroups(ctx, q[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[0].RuleID != "scan" || gs[1].RuleID != "brute" || gs[1].Hits != 5 || gs[1].RuleTitle != "rule brute" || gs[1].Level != "high" {
		t.Fatalf("alert groups %+v", gs)
	}
}
