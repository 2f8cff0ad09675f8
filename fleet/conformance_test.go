package fleet_test

import (
	"testing"

	"github.com/riposte-soar/riposte/internal/storetest"
)

// The fleet store's enrollment (one-time tokens, agents, revocation) holds
// on SQLite and on PostgreSQL. The firewall tests take minutes each and
// run on PostgreSQL with RIPOSTE_TEST_STORE=postgres.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestEnrollmentTokensAreOneTime)
}
