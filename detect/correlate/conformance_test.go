package correlate

import (
	"testing"

	"github.com/riposte-soar/riposte/internal/storetest"
)

// The state store's tests, restarts in the middle of windows included,
// hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestStoreRows, TestLoadDeletesStale, TestCases)
}

func TestStateSchemasAgree(t *testing.T) {
	// Group keys hold NULs, which PostgreSQL's text refuses.
	storetest.SchemasAgree(t, Schema, "correlation_state.grp")
}
