package secret

import (
	"testing"

	"github.com/riposte-soar/riposte/internal/storetest"
)

// The secret store's tests hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestRoundTripRotationAndDelete, TestValuesNeverLeaveInTheClear, TestWrongKeyAndMovedValues, TestNames)
}
