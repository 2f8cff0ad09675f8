package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/riposte-soar/riposte/internal/pgtest"
)

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`},
		{`SELECT '?', "a?b", ? -- why?
			FROM t /* what? */ WHERE x = ?`, `SELECT '?', "a?b", $1 -- why?
			FROM t /* what? */ WHERE x = $2`},
		{`SELECT 'it''s ?' || ?`, `SELECT 'it''s ?' || $1`},
		{`DO $body$ SELECT '?' $body$; SELECT ?`, `DO $body$ SELECT '?' $body$; SELECT $1`},
		{`SELECT $$?$$, ?`, `SELECT $$?$$, $1`},
		{`SELECT 'open ?`, `SELECT 'open ?`},
	} {
		if got := Rebind(c.in); got != c.want {
			t.Errorf("Rebind(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// Rebinding only replaces placeholders: the text around them is kept and
// their count is the number of ? outside quotes.
func FuzzRebind(f *testing.F) {
	for _, s := range []string{`SELECT ?`, `'?'`, `"?" ? -- ?`, `$a$ ? $a$ ?`, `/* ? */ ?`, `$1 ?`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := Rebind(q)
		if !strings.Contains(q, "?") && got != q {
			t.Fatalf("changed a query without placeholders: %q → %q", q, got)
		}
		if strings.Count(got, "?") > strings.Count(q, "?") {
			t.Fatalf("added placeholders: %q → %q", q, got)
		}
		n := strings.Count(q, "?") - strings.Count(got, "?")
		if n > 0 && !strings.Contains(got, fmt.Sprintf("$%d", n)) {
			t.Fatalf("%d placeholders replaced but no $%d: %q → %q", n, n, q, got)
		}
	})
}

// Opening again applies nothing twice; a database migrated by a newer
// binary is refused rather than written with an older idea of its tables.
func TestMigrationsVersioned(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, target string) {
		s := Schema{Name: "m",
			SQLite:   []Migration{`CREATE TABLE t (v INTEGER NOT NULL)`, `INSERT INTO t VALUES (1)`},
			Postgres: []Migration{`CREATE TABLE t (v BIGINT NOT NULL)`, `INSERT INTO t VALUES (1)`},
		}
		for range 2 {
			db, err := OpenSchema(target, "normal", s)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := db.R.QueryRow(`SELECT count(*) FROM t WHERE v = ?`, 1).Scan(&n); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if n != 1 {
				t.Fatalf("after reopening, %d rows where the second step inserts one", n)
			}
		}
		older := Schema{Name: "m", SQLite: s.SQLite[:1], Postgres: s.Postgres[:1]}
		if db, err := OpenSchema(target, "normal", older); err == nil {
			db.Close()
			t.Fatal("a binary knowing 1 step opened a database at step 2")
		} else if !strings.Contains(err.Error(), "newer than this binary") {
			t.Fatalf("refused with %v, want the version named", err)
		}
	})
}

// Write transactions from several handles (several nodes, on PostgreSQL)
// that read a counter and write it back lose no increment: Tx runs them
// one at a time, as SQLite's single writer does. Bools are stored as 0/1 in
// both.
func TestTxSerializes(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, target string) {
		s := Schema{Name: "c",
			SQLite:   []Migration{`CREATE TABLE c (n INTEGER NOT NULL, flag INTEGER NOT NULL); INSERT INTO c VALUES (0, 0)`},
			Postgres: []Migration{`CREATE TABLE c (n BIGINT NOT NULL, flag BIGINT NOT NULL); INSERT INTO c VALUES (0, 0)`},
		}
		const handles, each = 3, 20
		dbs := make([]*DB, handles)
		for i := range dbs {
			db, err := OpenSchema(target, "normal", s)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			dbs[i] = db
		}
		var wg sync.WaitGroup
		errs := make(chan error, handles*each)
		for _, db := range dbs {
			for range each {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- db.Tx(context.Background(), func(tx *sql.Tx) error {
						var n int
						if err := tx.QueryRow(`SELECT n FROM c`).Scan(&n); err != nil {
							return err
						}
						_, err := tx.Exec(`UPDATE c SET n = ?, flag = ?`, n+1, true)
						return err
					})
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var n int
		var flag bool
		if err := dbs[0].R.QueryRow(`SELECT n, flag FROM c`).Scan(&n, &flag); err != nil {
			t.Fatal(err)
		}
		if n != handles*each || !flag {
			t.Fatalf("counter %d flag %v, want %d true", n, flag, handles*each)
		}
	})
}

// The PostgreSQL handle reports synchronous_commit in Synchronous's words
// and does not name the password of its URL.
func TestPostgresDescribesItself(t *testing.T) {
	u := pgtest.URL(t)
	db, err := OpenSchema(u, "", Schema{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Synchronous(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != "full" {
		t.Errorf("synchronous = %s on a default server, want full", got)
	}
	if db.Dialect != Postgres || !strings.Contains(db.Path, "schema x") {
		t.Errorf("dialect %v path %q", db.Dialect, db.Path)
	}
}
