package oidc

import (
	"testing"

	"github.com/riposte-soar/riposte/internal/storetest"
)

// Sign-in through a provider (users created and updated in the control
// database) holds on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestSignInThroughProvider, TestRoleClaimAndDefault)
}
