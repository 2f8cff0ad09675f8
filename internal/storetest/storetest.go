// Package storetest opens the databases of store conformance tests: every
// store runs the same tests on SQLite and on PostgreSQL.
//
// Suite runs a package's store tests once per database, Each runs one
// test so. Target, TargetIn, Open and Control give the database a test
// uses: PostgreSQL inside the "postgres" half of Suite or Each, or
// everywhere when RIPOSTE_TEST_STORE=postgres (to run a package's whole
// suite against PostgreSQL: RIPOSTE_TEST_STORE=postgres go test ./alarm),
// SQLite otherwise.
package storetest

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/internal/pgtest"
	"github.com/riposte-soar/riposte/store"
)

// Postgres reports whether RIPOSTE_TEST_STORE asks for PostgreSQL.
func Postgres() bool { return os.Getenv("RIPOSTE_TEST_STORE") == "postgres" }

// onPostgres reports whether t runs PostgreSQL: RIPOSTE_TEST_STORE says so,
// or t is inside the "postgres" half of Suite or Each.
func onPostgres(t testing.TB) bool {
	return Postgres() || slices.Contains(strings.Split(t.Name(), "/"), "postgres")
}

// Target is a fresh database for t: a SQLite file path, or the URL of a
// fresh PostgreSQL database when t runs on PostgreSQL (onPostgres).
func Target(t testing.TB) string {
	t.Helper()
	if onPostgres(t) {
		return pgtest.URL(t)
	}
	return filepath.Join(t.TempDir(), "riposte.db")
}

// Open opens schema s in a fresh database (Target), closed when t ends.
func Open(t testing.TB, s store.Schema) *store.DB {
	t.Helper()
	return OpenAt(t, Target(t), s)
}

// Control opens a fresh control database.
func Control(t testing.TB) *store.DB { return Open(t, store.ControlSchema) }

// OpenAt opens schema s at target (reopening it is how a test restarts),
// closed when t ends.
func OpenAt(t testing.TB, target string, s store.Schema) *store.DB {
	t.Helper()
	db, err := store.OpenSchema(target, "normal", s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Each runs test on SQLite and on PostgreSQL (pgtest.Each): target is a
// fresh database of each; open it with OpenAt.
func Each(t *testing.T, test func(t *testing.T, target string)) {
	t.Helper()
	pgtest.Each(t, test)
}

// TargetIn is Target for tests that keep their database beside other
// files: the SQLite file is dir/name.
func TargetIn(t testing.TB, dir, name string) string {
	t.Helper()
	if onPostgres(t) {
		return pgtest.URL(t)
	}
	return filepath.Join(dir, name)
}

// Suite is a store's conformance suite: it runs each of tests, the
// package's own tests of the store, under "sqlite" and under "postgres";
// the databases they open through Target, TargetIn, Open or Control are of
// that kind. The same assertions thus hold for both implementations.
func Suite(t *testing.T, tests ...func(*testing.T)) {
	t.Helper()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			for _, test := range tests {
				name := runtime.FuncForPC(reflect.ValueOf(test).Pointer()).Name()
				name = name[strings.LastIndex(name, ".")+1:]
				t.Run(name, test)
			}
		})
	}
}

// describe lists a database's tables, columns (type family and
// nullability) and named indexes, in a form both dialects share.
func describe(t *testing.T, db *store.DB) []string {
	t.Helper()
	var q string
	if db.Dialect == store.Postgres {
		q = `SELECT table_name, column_name,
			CASE WHEN data_type IN ('bigint', 'integer') THEN 'int' WHEN data_type = 'bytea' THEN 'bytes' ELSE data_type END,
			is_nullable = 'NO'
			FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name != 'schema_migrations'
			UNION ALL
			SELECT tablename, indexname, 'index', false FROM pg_indexes
			WHERE schemaname = current_schema() AND indexname NOT IN (SELECT conname FROM pg_constraint)`
	} else {
		q = `SELECT m.name, p.name,
			CASE upper(p.type) WHEN 'INTEGER' THEN 'int' WHEN 'BLOB' THEN 'bytes' ELSE lower(p.type) END,
			p."notnull" OR p.pk > 0
			FROM sqlite_master m, pragma_table_info(m.name) p
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
			UNION ALL
			SELECT tbl_name, name, 'index', 0 FROM sqlite_master
			WHERE type = 'index' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`
	}
	rows, err := db.R.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var tbl, col, typ string
		var notNull bool
		if err := rows.Scan(&tbl, &col, &typ, &notNull); err != nil {
			t.Fatal(err)
		}
		s := tbl + "." + col + " " + typ
		if notNull {
			s += " not null"
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// SchemasAgree checks that s's SQLite and PostgreSQL migrations end at the
// same tables, columns (type family, nullability) and indexes, but for the
// "table.column" (or whole "table.") named in allow, which differ on
// purpose. Every package
// with a Schema calls it from a test, so a migration added to one list
// and not the other fails.
func SchemasAgree(t *testing.T, s store.Schema, allow ...string) {
	t.Helper()
	lite, err := store.OpenSchema(filepath.Join(t.TempDir(), "x.db"), "normal", s)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := store.OpenSchema(pgtest.URL(t), "normal", s)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	a, b := describe(t, lite), describe(t, pg)
	allowed := func(x string) bool {
		col := strings.Fields(x)[0]
		return slices.ContainsFunc(allow, func(a string) bool {
			return a == col || strings.HasSuffix(a, ".") && strings.HasPrefix(col, a)
		})
	}
	for _, x := range a {
		if !slices.Contains(b, x) && !allowed(x) {
			t.Errorf("schema %s: SQLite has %s, PostgreSQL does not", s.Name, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) && !allowed(x) {
			t.Errorf("schema %s: PostgreSQL has %s, SQLite does not", s.Name, x)
		}
	}
}
