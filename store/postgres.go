package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Dialect is the SQL a DB speaks.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Schema is one database's migrations in both dialects. Name is the
// PostgreSQL schema its tables live in when every database shares one
// PostgreSQL database (cluster mode); on SQLite each database is a file of
// its own and Name is not used.
//
// Both lists are append only and versioned separately: SQLite counts its
// steps in PRAGMA user_version, PostgreSQL in the schema's
// schema_migrations table. They need not have the same number of steps
// (PostgreSQL starts from the schema SQLite reached in many), but after
// the last step of each the same tables and columns exist, which
// TestSchemasAgree checks.
type Schema struct {
	Name     string
	SQLite   []Migration
	Postgres []Migration
}

// IsURL reports whether target names a PostgreSQL database
// (postgres:// or postgresql://) rather than a SQLite file.
func IsURL(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// OpenSchema opens the database s describes at target: a SQLite file path
// (sync as in Open) or a postgres:// URL, in which case the tables live in
// schema s.Name of that database.
func OpenSchema(target, sync string, s Schema) (*DB, error) {
	if IsURL(target) {
		return openPostgres(target, s.Name, s.Postgres)
	}
	return Open(target, sync, s.SQLite)
}

// openPostgres connects to url with schema as the search path, creates the
// schema if needed and applies the migrations it lacks.
func openPostgres(url, schema string, ms []Migration) (*DB, error) {
	if schema == "" {
		return nil, fmt.Errorf("open %s: no PostgreSQL schema named for this database", redact(url))
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	where := fmt.Sprintf("postgres://%s@%s:%d/%s schema %s", cfg.User, cfg.Host, cfg.Port, cfg.Database, schema)
	cfg.RuntimeParams["search_path"] = schema
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "riposte"
	}
	// Two pools, as on SQLite: a write transaction waiting for the lock
	// (Begin) holds a connection, and a transaction that also reads
	// through R must not find the pool exhausted by such waiters. Each
	// node holds few connections per schema: PostgreSQL's default of 100
	// must serve every node of the cluster.
	conn := rebindConnector{stdlib.GetConnector(*cfg)}
	w, r := sql.OpenDB(conn), sql.OpenDB(conn)
	w.SetMaxOpenConns(4)
	r.SetMaxOpenConns(6)
	for _, p := range []*sql.DB{w, r} {
		p.SetMaxIdleConns(2)
		p.SetConnMaxIdleTime(5 * time.Minute)
	}
	fail := func(err error) (*DB, error) {
		w.Close()
		r.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.PingContext(ctx); err != nil {
		return fail(fmt.Errorf("open %s: %w", where, err))
	}
	key := lockKey(schema)
	if err := migratePG(ctx, w, schema, key, ms); err != nil {
		return fail(fmt.Errorf("migrate %s: %w", where, err))
	}
	return &DB{W: w, R: r, Path: where, Dialect: Postgres, lockKey: key, schema: schema}, nil
}

// lockKey is the advisory lock of a schema: its migrations and its write
// transactions (Begin) hold it.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("riposte/" + schema))
	k := int64(h.Sum64())
	if k == 0 {
		k = 1
	}
	return k
}

// migratePG applies the steps the schema lacks, each in its own
// transaction with its version row, under the schema's advisory lock so
// that nodes starting together migrate once.
func migratePG(ctx context.Context, db *sql.DB, schema string, key int64, ms []Migration) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, key); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(?)`, key)
	if _, err := conn.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	var have int
	if err := conn.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d): use a newer riposte", have, len(ms))
	}
	for i := have; i < len(ms); i++ {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(ms[i])); err != nil {
			tx.Rollback()
			return fmt.Errorf("step %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, i+1); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// pgSynchronous maps synchronous_commit onto Synchronous's words: "off"
// acknowledges commits before they reach disk; every other value waits
// for the local WAL flush (and maybe replicas), which is what "full" says.
func (d *DB) pgSynchronous(ctx context.Context) (string, error) {
	var v string
	if err := d.W.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
		return "", fmt.Errorf("%s: SHOW synchronous_commit: %w", d.Path, err)
	}
	if v == "off" {
		return "off", nil
	}
	return "full", nil
}

// redact drops a password from a URL for messages.
func redact(url string) string {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "the database url"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// JSONText is the SQL of the text of a top-level key of the JSON document
// in column col (NULL when absent), in d's dialect. PostgreSQL's form is the
// one its expression indexes are built on.
func (d *DB) JSONText(col, key string) string {
	if d.Dialect == Postgres {
		return "(" + col + "::jsonb->>'" + key + "')"
	}
	return "json_extract(" + col + ", '$." + key + "')"
}

// Lock holds the named lock of this database until unlock is called, so
// that work which must not run twice at once (recovering one incident)
// runs on one node at a time. On PostgreSQL it is a session advisory lock,
// held on a connection of the reader pool so that it never takes a
// connection a write transaction needs; it is released if the node dies,
// with its connection. On SQLite one process owns the file, and the lock is
// a mutex of that process (shared by every handle on the file).
func (d *DB) Lock(ctx context.Context, name string) (unlock func(), err error) {
	if d.Dialect != Postgres {
		v, _ := localLocks.LoadOrStore(d.Path+"\x00"+name, &sync.Mutex{})
		mu := v.(*sync.Mutex)
		mu.Lock()
		return mu.Unlock, nil
	}
	conn, err := d.R.Conn(ctx)
	if err != nil {
		return nil, err
	}
	key := lockKey(d.schema + "\x00" + name)
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, key); err != nil {
		conn.Close()
		return nil, err
	}
	return func() {
		conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(?)`, key)
		conn.Close()
	}, nil
}

// localLocks are the SQLite databases' Lock mutexes, by path and name.
var localLocks sync.Map

// JSONInt is JSONText for a key holding an integer, as an integer.
func (d *DB) JSONInt(col, key string) string {
	if d.Dialect == Postgres {
		return "((" + col + "::jsonb->>'" + key + "')::bigint)"
	}
	return "json_extract(" + col + ", '$." + key + "')"
}

// Greatest is the SQL of the larger of a and b (SQLite's scalar max).
func (d *DB) Greatest(a, b string) string {
	if d.Dialect == Postgres {
		return "GREATEST(" + a + ", " + b + ")"
	}
	return "max(" + a + ", " + b + ")"
}

// ILike is the operator of a LIKE that ignores ASCII case, as SQLite's
// LIKE does and PostgreSQL's ILIKE.
func (d *DB) ILike() string {
	if d.Dialect == Postgres {
		return "ILIKE"
	}
	return "LIKE"
}
