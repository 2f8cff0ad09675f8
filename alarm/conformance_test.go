package alarm

import (
	"testing"

	"github.com/riposte-soar/riposte/internal/storetest"
)

// The alarm store's tests (incidents, alerts, timelines, assets,
// silences, restarts) hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestNewAttackerAfterContainment, TestFollowUpIncidentSurvivesRestart, TestNewcomersJoinTheOpenFollowUp,
		TestPriorityOverrideSticks, TestIntrusionBecomesOneIncidentWithRisingPriority, TestRepeatsAreDeduplicated,
		TestSilenceAndInhibitionHoldButKeep, TestSLABreachEscalatesOnce, TestCaseWorkIsAuditedAndTimed,
		TestAssetCriticalityRaisesPriority, TestRestartNeitherLosesNorDuplicates)
}
