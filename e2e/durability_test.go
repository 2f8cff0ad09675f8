package e2e

import (
	"regexp"
	"syscall"
	"testing"
)

// database.sync tunes the event store only: a node configured with
// "normal" still fsyncs every commit of the databases holding decisions,
// approvals, runs and the audit chain, and says so at start with the mode
// SQLite reports for each connection.
func TestDatabaseSyncModesInEffect(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "database:\n  sync: normal\n")
	n.start()
	n.stop(syscall.SIGTERM)
	log := n.log.String()
	for file, want := range map[string]string{
		"riposte.db":     "full",
		"engine.db":      "full",
		"events.db":      "normal",
		"correlation.db": "normal",
	} {
		re := regexp.MustCompile(`msg=database file=` + regexp.QuoteMeta(file) + ` synchronous=(\w+)`)
		m := re.FindStringSubmatch(log)
		if m == nil {
			t.Errorf("no database line for %s in the log:\n%s", file, tail(log, 40))
			continue
		}
		if m[1] != want {
			t.Errorf("%s commits with synchronous=%s, want %s", file, m[1], want)
		}
	}
}
