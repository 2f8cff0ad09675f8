package auth

import (
	"testing"

	"github.com/riposte-soar/riposte/internal/storetest"
)

// The token store's tests hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestExpiredTokenRefused, TestTokenChangesAudited)
}
