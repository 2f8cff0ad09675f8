// Package store opens Riposte's databases and applies their migrations:
// SQLite files, the embedded default, or schemas of one PostgreSQL database
// (cluster mode, OpenSchema with a postgres:// URL). Every stateful package
// (auth, audit, eventstore, the alarm and engine stores) receives a *DB from
// here; none opens files or connections itself.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"runtime"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// DB is one SQLite file opened twice: a single writer connection, because
// SQLite admits one writer at a time and queueing in Go is cheaper than
// SQLITE_BUSY retries, and a pool of readers that WAL lets run beside it.
//
// On PostgreSQL (openPostgres) W and R are two pools of one schema, and
// Dialect says which database the SQL runs on, for the few statements that
// differ.
type DB struct {
	W    *sql.DB
	R    *sql.DB
	Path string
	// Dialect is SQLite or Postgres.
	Dialect Dialect
	// lockKey is the advisory lock PostgreSQL write transactions take
	// (see Begin); zero on SQLite.
	lockKey int64
	// schema is the PostgreSQL schema; every node names it alike, so
	// locks are keyed by it.
	schema string
}

// Migration is one schema step. Steps run in order, each in its own
// transaction, and PRAGMA user_version records how many have run.
type Migration string

// Open opens (creating if needed) the database at path and brings its schema
// up to date. sync selects SQLite's synchronous mode: "full" fsyncs every
// commit, "normal" fsyncs at checkpoints (safe against a process crash,
// which is what a SIGKILL is, but not against power loss).
func Open(path, sync string, migrations []Migration) (*DB, error) {
	if sync == "" {
		sync = "full"
	}
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous("+sync+")")
	q.Add("_pragma", "foreign_keys(1)")
	// A 64 MiB page cache keeps the hot indexes in memory; the default 2 MiB
	// turns every batch into hundreds of page reads through the kernel.
	q.Add("_pragma", "cache_size(-65536)")
	q.Add("_pragma", "temp_store(memory)")
	q.Add("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := migrate(w, migrations); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout(10000)")
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(max(4, runtime.NumCPU()))
	return &DB{W: w, R: r, Path: path}, nil
}

// ownerOnly creates the database file readable by its owner alone, and
// takes group and other access away from an existing one and its WAL and
// shared-memory files: these files hold tokens' hashes, the audit log and
// every event, and must not depend on the data directory's mode to stay
// private. SQLite creates the -wal and -shm files with the database file's
// mode, so creating that one 0600 covers them.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", p, err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, st.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("%s is readable by others (mode %v) and could not be restricted: %w", p, st.Mode().Perm(), err)
			}
		}
	}
	return nil
}

func migrate(db *sql.DB, ms []Migration) error {
	var have int
	if err := db.QueryRow("PRAGMA user_version").Scan(&have); err != nil {
		return err
	}
	if have > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d): use a newer riposte", have, len(ms))
	}
	for i := have; i < len(ms); i++ {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(string(ms[i])); err != nil {
			tx.Rollback()
			return fmt.Errorf("step %d: %w", i+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Synchronous reports the synchronous mode in effect on the writer
// connection (off, normal, full or extra): what every commit of this
// database actually does, whatever was asked for.
func (d *DB) Synchronous(ctx context.Context) (string, error) {
	if d.Dialect == Postgres {
		return d.pgSynchronous(ctx)
	}
	var n int
	if err := d.W.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&n); err != nil {
		return "", fmt.Errorf("%s: PRAGMA synchronous: %w", d.Path, err)
	}
	switch n {
	case 0:
		return "off", nil
	case 1:
		return "normal", nil
	case 2:
		return "full", nil
	case 3:
		return "extra", nil
	}
	return "", fmt.Errorf("%s: PRAGMA synchronous is %d, not a known mode", d.Path, n)
}

// Close closes both handles.
func (d *DB) Close() error {
	err1 := d.R.Close()
	err2 := d.W.Close()
	if err1 != nil {
		return err1
	}
	return err2
}

// Tx runs fn in a write transaction and commits it when fn returns nil.
func (d *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Begin starts a write transaction. On SQLite the single writer connection
// makes write transactions run one at a time. On PostgreSQL they take the
// database's transaction-level advisory lock, so they also run one at a
// time, across every node: the stores were written for that (read the
// audit chain's head, then append; number a decision max(rule)+1), and
// keeping it makes each of them correct under READ COMMITTED without
// re-deriving every read-modify-write. Work that scales out (task leases,
// event inserts) uses its own transactions without the lock.
func (d *DB) Begin(ctx context.Context) (*sql.Tx, error) {
	tx, err := d.W.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if d.lockKey != 0 {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, d.lockKey); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}
