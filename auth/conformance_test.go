package auth

import (
	"testing"

	"github.com/riposte-soar/riposte/internal/storetest"
)

// The token, user and session stores' tests hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestExpiredTokenRefused, TestTokenChangesAudited,
		TestSessionLifecycle, TestCSRF, TestSessionExpiry, TestSessionTouch, TestUserChangesReachSessions,
		TestStartSessionRefusesDisabled, TestOldSessionsPruned, TestAuthenticate, TestAuthenticateUpgradesHash,
		TestAddRefuses, TestChangesToUnknownUser, TestPasswordChange, TestExternal, TestUserChangesAudited)
}
