package rulestore

import (
	"testing"

	"github.com/riposte-soar/riposte/internal/storetest"
)

// The rule and playbook stores' tests hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestVersionsRollbackAndAudit, TestPlaybookStoreKeepsItsOwnHistory)
}
