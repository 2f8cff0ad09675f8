package eventstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/store"
)

// On PostgreSQL events live in a table partitioned by day of event time
// (UTC), so that retention by age drops whole partitions instead of
// deleting rows one by one and leaving their space to VACUUM. The primary
// key includes the partition key, as PostgreSQL requires; an event's time
// never changes, so (id, time) still stores a redelivered event once.
//
// Days are created as events arrive, for event times from partitionPast
// before now to partitionAhead after it. Events outside that span (a
// forged timestamp, a source with a wrong clock) go to events_default: an
// attacker choosing timestamps must not make the store create a table per
// day of the calendar. A day created later takes its events out of the
// default partition (ensureDay).
var pgMigrations = []store.Migration{
	`CREATE TABLE events (
		id        TEXT COLLATE "C" NOT NULL,
		time      BIGINT NOT NULL,
		received  BIGINT NOT NULL,
		host      TEXT NOT NULL,
		source    TEXT NOT NULL,
		product   TEXT NOT NULL,
		service   TEXT NOT NULL,
		category  TEXT NOT NULL,
		fields    TEXT NOT NULL,
		raw       BYTEA NOT NULL,
		PRIMARY KEY (id, time)
	) PARTITION BY RANGE (time);
	CREATE INDEX events_time ON events (time, id);
	CREATE INDEX events_host_time ON events (host, time, id);
	CREATE TABLE events_default PARTITION OF events DEFAULT;
	CREATE TABLE pins (
		event_id TEXT COLLATE "C" PRIMARY KEY,
		alert_id TEXT NOT NULL,
		pinned   BIGINT NOT NULL
	);
	CREATE INDEX pins_pinned ON pins (pinned, event_id);`,
}

const (
	partitionPast  = 400 * 24 * time.Hour
	partitionAhead = 2 * 24 * time.Hour
	day            = int64(24 * time.Hour)
	partPrefix     = "events_p"
)

// partitionLock serializes partition changes across nodes.
const partitionLock = "events.partitions"

// partitions remembers the days known to exist, so inserts check the
// catalog only for a day not seen before.
type partitions struct {
	mu   sync.Mutex
	days map[int64]bool
}

func (p *partitions) known(d int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.days[d]
}

func (p *partitions) set(d int64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.days == nil {
		p.days = map[int64]bool{}
	}
	if ok {
		p.days[d] = true
	} else {
		delete(p.days, d)
	}
}

func partName(d int64) string {
	return partPrefix + time.Unix(0, d*day).UTC().Format("20060102")
}

// tx is a write transaction. On PostgreSQL it does without store.DB's
// lock: inserts and pins of several nodes are idempotent upserts and run
// side by side.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if !s.pg {
		return s.db.Tx(ctx, fn)
	}
	tx, err := s.db.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ensurePartitions creates the day partitions evs fall in.
func (s *Store) ensurePartitions(ctx context.Context, evs []event.Wire) error {
	now := time.Now()
	lo, hi := now.Add(-partitionPast).UnixNano(), now.Add(partitionAhead).UnixNano()
	for i := range evs {
		t := evs[i].Time
		if t.IsZero() {
			t = evs[i].Received
		}
		ns := t.UnixNano()
		if ns < lo || ns >= hi {
			continue
		}
		if d := ns / day; !s.parts.known(d) {
			if err := s.ensureDay(ctx, d); err != nil {
				return fmt.Errorf("partition %s: %w", partName(d), err)
			}
			s.parts.set(d, true)
		}
	}
	return nil
}

// ensureDay creates day d's partition unless it exists, moving into it the
// events of that day the default partition holds (PostgreSQL refuses to
// attach a range the default partition has rows of).
func (s *Store) ensureDay(ctx context.Context, d int64) error {
	unlock, err := s.db.Lock(ctx, partitionLock)
	if err != nil {
		return err
	}
	defer unlock()
	name := partName(d)
	var exists bool
	if err := s.db.W.QueryRowContext(ctx, `SELECT to_regclass(?) IS NOT NULL`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	from, to := d*day, (d+1)*day
	tx, err := s.db.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{
		`CREATE TABLE ` + name + ` (LIKE events INCLUDING DEFAULTS)`,
		fmt.Sprintf(`WITH moved AS (DELETE FROM events_default WHERE time >= %d AND time < %d RETURNING *)
			INSERT INTO %s SELECT * FROM moved`, from, to, name),
		fmt.Sprintf(`ALTER TABLE events ATTACH PARTITION %s FOR VALUES FROM (%d) TO (%d)`, name, from, to),
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// dropPartitions drops the day partitions wholly before cut and returns
// how many events they held.
func (s *Store) dropPartitions(ctx context.Context, cut int64) (int64, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass AND c.relname LIKE 'events\_p%' ORDER BY c.relname`)
	if err != nil {
		return 0, err
	}
	var old []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, err
		}
		t, err := time.Parse("20060102", strings.TrimPrefix(name, partPrefix))
		if err != nil {
			continue // not one of ours
		}
		if t.Add(24*time.Hour).UnixNano() <= cut {
			old = append(old, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var n int64
	for _, name := range old {
		unlock, err := s.db.Lock(ctx, partitionLock)
		if err != nil {
			return n, err
		}
		k, err := s.dropPartition(ctx, name)
		unlock()
		if err != nil {
			return n, fmt.Errorf("drop partition %s: %w", name, err)
		}
		n += k
		if t, err := time.Parse("20060102", strings.TrimPrefix(name, partPrefix)); err == nil {
			s.parts.set(t.UnixNano()/day, false)
		}
	}
	return n, nil
}

// dropPartition counts a partition's events and drops it, with no insert
// in between.
func (s *Store) dropPartition(ctx context.Context, name string) (int64, error) {
	tx, err := s.db.W.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var k int64
	if _, err := tx.ExecContext(ctx, `LOCK TABLE `+name+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		return 0, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+name).Scan(&k); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE `+name); err != nil {
		return 0, err
	}
	return k, tx.Commit()
}

// latestPins keeps one pin per event, the newest: one statement may not
// update a row twice on PostgreSQL, and the newest pin is the one that
// would win anyway.
func latestPins(pins []Pin) []Pin {
	seen := make(map[string]int, len(pins))
	out := pins[:0:0]
	for _, p := range pins {
		if i, ok := seen[p.EventID]; ok {
			if p.At.After(out[i].At) {
				out[i] = p
			}
			continue
		}
		seen[p.EventID] = len(out)
		out = append(out, p)
	}
	return out
}
