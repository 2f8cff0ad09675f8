// Package eventstore keeps normalized events in their own SQLite file, or
// in day partitions of a PostgreSQL table (partitions.go), so people and
// playbooks can look back at a time window (investigation, evidence
// collection). It consumes the events stream written by ingest and applies
// retention by age and size.
package eventstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/store"
)

var migrations = []store.Migration{
	`CREATE TABLE events (
		id        TEXT PRIMARY KEY,
		time      INTEGER NOT NULL,
		received  INTEGER NOT NULL,
		host      TEXT NOT NULL,
		source    TEXT NOT NULL,
		product   TEXT NOT NULL,
		service   TEXT NOT NULL,
		category  TEXT NOT NULL,
		fields    TEXT NOT NULL,
		raw       BLOB NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX events_time ON events (time, id);
	CREATE INDEX events_host_time ON events (host, time, id);`,
	// Pins keep the evidence behind alerts out of size-based pruning (see
	// pins.go). One row per event: the latest alert that referenced it.
	`CREATE TABLE pins (
		event_id TEXT PRIMARY KEY,
		alert_id TEXT NOT NULL,
		pinned   INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX pins_pinned ON pins (pinned, event_id);`,
}

// Schema is the event database in both dialects (schema "events" on
// PostgreSQL).
var Schema = store.Schema{Name: "events", SQLite: migrations, Postgres: pgMigrations}

// Store is the event store.
type Store struct {
	db *store.DB
	pg bool
	// parts are the day partitions known to exist (PostgreSQL).
	parts partitions
}

// Open opens or creates the event database at path, or schema "events" of
// the PostgreSQL database a postgres:// URL names.
func Open(path, sync string) (*Store, error) {
	db, err := store.OpenSchema(path, sync, Schema)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, pg: db.Dialect == store.Postgres}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Synchronous reports the SQLite synchronous mode the store commits with
// (database.sync).
func (s *Store) Synchronous(ctx context.Context) (string, error) { return s.db.Synchronous(ctx) }

// Insert stores events; an event whose ID is already stored is skipped, so a
// batch redelivered after a crash is stored once.
func (s *Store) Insert(ctx context.Context, evs []event.Wire) (int, error) {
	// Multi-row statements: SQLite's cost is per statement far more than
	// per row, and events arrive in thousands.
	const perStmt = 100
	ph := "(?,?,?,?,?,?,?,?,?,?)"
	n := 0
	if s.pg {
		if err := s.ensurePartitions(ctx, evs); err != nil {
			return 0, err
		}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		args := make([]any, 0, perStmt*10)
		for lo := 0; lo < len(evs); lo += perStmt {
			chunk := evs[lo:min(lo+perStmt, len(evs))]
			args = args[:0]
			for i := range chunk {
				e := &chunk[i]
				t := e.Time
				if t.IsZero() {
					t = e.Received
				}
				raw := e.Raw
				if raw == nil {
					raw = []byte{} // the column is NOT NULL; an empty event is still an event
				}
				args = append(args, e.ID, t.UnixNano(), e.Received.UnixNano(), e.Host, e.Source,
					e.Product, e.Service, e.Category, string(e.FieldsJSON), raw)
			}
			q := `INSERT INTO events (id, time, received, host, source, product, service, category, fields, raw) VALUES ` +
				ph + strings.Repeat(","+ph, len(chunk)-1) + ` ON CONFLICT DO NOTHING`
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// Query selects events. Zero values mean "no constraint".
type Query struct {
	Host string
	From time.Time // inclusive, on event time
	To   time.Time // exclusive
	// Text matches events whose raw bytes or fields contain it, ignoring
	// ASCII case.
	Text string
	// ID keeps only the event with this ID (an alert's evidence links to
	// its events this way).
	ID string
	// After is the paging cursor: the last event of the previous page.
	After string
	Limit int
}

// Cursor is an opaque page position: event time and ID of the last event.
func cursor(e *event.Event) string {
	t := e.Time
	if t.IsZero() {
		t = e.Received
	}
	return fmt.Sprintf("%d.%s", t.UnixNano(), e.ID)
}

// Find returns events ordered by event time, then ID, and the cursor for the
// next page ("" when this was the last).
func (s *Store) Find(ctx context.Context, q Query) ([]event.Event, string, error) {
	if q.Limit <= 0 || q.Limit > 10000 {
		q.Limit = 1000
	}
	var where []string
	var args []any
	if q.ID != "" {
		where = append(where, "id = ?")
		args = append(args, q.ID)
	}
	if q.Host != "" {
		where = append(where, "host = ?")
		args = append(args, q.Host)
	}
	if !q.From.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		where = append(where, "time < ?")
		args = append(args, q.To.UnixNano())
	}
	if q.Text != "" {
		// LIKE with an escape so %, _ in the user's text are literal.
		pat := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q.Text) + "%"
		if s.pg {
			// ILIKE ignores case as SQLite's LIKE does; the raw bytes are
			// searched as escape-encoded text, where a backslash is doubled.
			rawPat := "%" + strings.NewReplacer(`\`, `\\\\`, `%`, `\%`, `_`, `\_`).Replace(q.Text) + "%"
			where = append(where, `(encode(raw, 'escape') ILIKE ? ESCAPE '\' OR fields ILIKE ? ESCAPE '\')`)
			args = append(args, rawPat, pat)
		} else {
			where = append(where, `(CAST(raw AS TEXT) LIKE ? ESCAPE '\' OR fields LIKE ? ESCAPE '\')`)
			args = append(args, pat, pat)
		}
	}
	if q.After != "" {
		ts, id, ok := strings.Cut(q.After, ".")
		var t int64
		if _, err := fmt.Sscan(ts, &t); !ok || err != nil {
			return nil, "", fmt.Errorf("invalid cursor %q", q.After)
		}
		where = append(where, "(time > ? OR (time = ? AND id > ?))")
		args = append(args, t, t, id)
	}
	sqlq := `SELECT id, time, received, host, source, product, service, category, fields, raw FROM events`
	if len(where) > 0 {
		sqlq += " WHERE " + strings.Join(where, " AND ")
	}
	sqlq += " ORDER BY time, id LIMIT ?"
	args = append(args, q.Limit+1)
	rows, err := s.db.R.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		var e event.Event
		var t, r int64
		var f string
		if err := rows.Scan(&e.ID, &t, &r, &e.Host, &e.Source, &e.LogSource.Product, &e.LogSource.Service,
			&e.LogSource.Category, &f, &e.Raw); err != nil {
			return nil, "", err
		}
		e.Time, e.Received = time.Unix(0, t).UTC(), time.Unix(0, r).UTC()
		if e.Fields, err = event.DecodeFieldsJSON([]byte(f)); err != nil {
			return nil, "", fmt.Errorf("event %s: stored fields unreadable: %w", e.ID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > q.Limit {
		out = out[:q.Limit]
		next = cursor(&out[len(out)-1])
	}
	return out, next, nil
}

// Count returns the number of stored events.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.R.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n)
	return n, err
}

// usedBytes counts pages in use; freed pages are reused by later inserts, so
// they do not count against the bound.
//
// PostgreSQL's files shrink only when VACUUM FULL rewrites them, and it
// does not say which of their pages are free; there the bytes are those
// the live rows take on disk (pgLiveBytes).
func (s *Store) usedBytes(ctx context.Context) (int64, error) {
	if s.pg {
		var n int64
		err := s.db.R.QueryRowContext(ctx, pgLiveBytes).Scan(&n)
		return n, err
	}
	var pages, free, size int64
	if err := s.db.W.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return 0, err
	}
	if err := s.db.W.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
		return 0, err
	}
	if err := s.db.W.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
		return 0, err
	}
	return (pages - free) * size, nil
}

// pgLiveBytes is the size on disk of the live rows of events and pins:
// each heap tuple as stored (pg_column_size of the row, headers included)
// with its line pointer, and an entry in each index (8-byte header, 4-byte
// line pointer, the key). It scans both tables; retention runs seldom.
const pgLiveBytes = `SELECT
	(SELECT coalesce(sum(pg_column_size(e.*) + 4 + 3*12 + 3*(octet_length(e.id) + 1 + 8) + octet_length(e.host) + 1), 0) FROM events e) +
	(SELECT coalesce(sum(pg_column_size(p.*) + 4 + 2*12 + 2*(octet_length(p.event_id) + 1) + 8), 0) FROM pins p)`
