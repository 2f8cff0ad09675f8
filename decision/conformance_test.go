package decision

import (
	"testing"

	"github.com/riposte-soar/riposte/internal/storetest"
)

// The decision store's tests hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestRepeatOffendersGetLongerBans, TestActiveExpiryRevertAndAudit, TestBadDecisionsAreRefused,
		TestReBanSupersedesAndKeepsTheLaterExpiry, TestExpiryIsRecordedOnceEvenAfterDowntime,
		TestOtherIncidentsBansStayAndRetriesMakeNoSecondDecision, TestFindFiltersAndPages, TestLimits, TestForced)
}
