package e2e

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/pgtest"
)

// A node given database.url keeps everything durable in PostgreSQL: it
// becomes ready, stores what it ingests there and none of it in SQLite
// files, and finds it again after a restart.
func TestServeOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	u := pgtest.URL(t)
	n := newNode(t, fmt.Sprintf("database:\n  url: %s\n", u))
	n.start()
	var lines []string
	for i := range 5 {
		lines = append(lines, fmt.Sprintf("Failed password for invalid user pg%d from 203.0.113.9 port 22 ssh2", i))
	}
	sendSyslogTCP(t, n.syslog, lines...)
	waitFor(t, "5 events stored", 20*time.Second, func() bool { return len(n.events("invalid user pg")) == 5 })

	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(table string) int {
		t.Helper()
		var c int
		if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&c); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		return c
	}
	if c := count("events.events"); c != 5 {
		t.Errorf("events.events holds %d rows, want the 5 sent", c)
	}
	if c := count("control.tokens"); c < 1 {
		t.Errorf("control.tokens holds no token: the first start's admin token is not in PostgreSQL")
	}
	if c := count("control.audit"); c < 1 {
		t.Errorf("control.audit is empty: the first start is audited")
	}
	for _, schema := range []string{"control", "engine", "events", "correlation"} {
		if c := count(schema + ".schema_migrations"); c < 1 {
			t.Errorf("schema %s has no migration recorded", schema)
		}
	}
	for _, f := range []string{"riposte.db", "events.db", "engine.db", "correlation.db"} {
		if _, err := os.Stat(filepath.Join(n.data, f)); err == nil {
			t.Errorf("%s exists in the data directory: a database stayed on SQLite", f)
		}
	}

	n.stop(syscall.SIGTERM)
	n.start()
	if got := len(n.events("invalid user pg")); got != 5 {
		t.Fatalf("after a restart the node finds %d of the 5 events", got)
	}
}

// --db takes a PostgreSQL URL and refuses anything else before starting.
func TestServeDBFlagIsChecked(t *testing.T) {
	_, errs, code := run("serve", "--data", t.TempDir(), "--db", "mysql://x@localhost/db")
	if code != 2 || !strings.Contains(errs, "database.url") {
		t.Fatalf("serve --db mysql://… = exit %d, %q; want exit 2 naming database.url", code, errs)
	}
}
