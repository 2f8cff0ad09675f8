package bouncer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/store"
)

// KeepPulls is how many pull-log lines each bouncer keeps: enough to see
// what a bouncer received over a busy day, bounded so a bouncer pulling
// every ten seconds for a year does not grow the database.
const KeepPulls = 2000

// keyPrefix marks a bouncer key so it is told apart from an API token in a
// log or a paste.
const keyPrefix = "rpb_"

// ErrNotFound is returned for an unknown bouncer name.
var ErrNotFound = errors.New("no such bouncer")

// ErrUnknownKey is returned for a key no bouncer holds.
var ErrUnknownKey = errors.New("unknown bouncer key")

// Bouncer is one registered CrowdSec bouncer (never its key).
type Bouncer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	// LastPull is when it last asked for decisions (nil: never).
	LastPull *time.Time `json:"last_pull,omitempty"`
	// LastAddr and UserAgent say where from and which bouncer software.
	LastAddr  string `json:"last_addr,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// Holds lists the Riposte decision IDs it was last sent as in force:
	// what it enforces now, if it applied what it was sent.
	Holds []string `json:"holds"`
}

// Pull is one line of a bouncer's pull log: a decision it was sent.
type Pull struct {
	Bouncer string    `json:"bouncer"`
	At      time.Time `json:"at"`
	// Action is "new" (sent to enforce), "deleted" (sent to lift) or
	// "answered" (matched a live query, GET /v1/decisions).
	Action   string `json:"action"`
	Decision string `json:"decision"`
	Value    string `json:"value"`
}

// Store keeps bouncers, their keys' hashes and what each was sent, in the
// control database.
type Store struct {
	db *store.DB
	// keep is how many pull-log lines a bouncer keeps (KeepPulls).
	keep int
}

// NewStore wraps the control database.
func NewStore(db *store.DB) *Store { return &Store{db: db, keep: KeepPulls} }

// hash is plain SHA-256: keys carry 160 random bits, so there is nothing
// for a slow hash to protect, and every pull looks one up.
func hash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// Add registers a bouncer and returns its key, which is shown once; by is
// the actor in the audit log.
func (s *Store) Add(ctx context.Context, name, by string) (string, Bouncer, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 128 || strings.ContainsAny(name, "/\\\x00\n\r\t") {
		return "", Bouncer{}, fmt.Errorf("bouncer name %q: want 1-128 characters, no slashes or control characters", name)
	}
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Bouncer{}, err
	}
	key := keyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	now := time.Now().UTC()
	bo := Bouncer{ID: event.NewID(now), Name: name, CreatedAt: now, CreatedBy: by, Holds: []string{}}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM bouncers WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("a bouncer named %q exists: delete it first or pick another name", name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bouncers (id, name, hash, created_at, created_by) VALUES (?,?,?,?,?)`,
			bo.ID, name, hash(key), now.UnixNano(), by); err != nil {
			return err
		}
		d, _ := json.Marshal(map[string]string{"name": name})
		return audit.AppendTx(ctx, tx, by, "bouncer.add", "bouncer:"+bo.ID, d)
	})
	if err != nil {
		return "", Bouncer{}, err
	}
	return key, bo, nil
}

// Delete removes a bouncer by name: its key stops working at once. Its
// pull log goes with it; the audit entry stays.
func (s *Store) Delete(ctx context.Context, name, by string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		var id string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM bouncers WHERE name = ?`, name).Scan(&id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("bouncer %q: %w", name, ErrNotFound)
			}
			return err
		}
		for _, q := range []string{`DELETE FROM bouncers WHERE id = ?`, `DELETE FROM bouncer_held WHERE bouncer_id = ?`,
			`DELETE FROM bouncer_pulls WHERE bouncer_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		d, _ := json.Marshal(map[string]string{"name": name})
		return audit.AppendTx(ctx, tx, by, "bouncer.delete", "bouncer:"+id, d)
	})
}

// Authenticate returns the bouncer holding key.
func (s *Store) Authenticate(ctx context.Context, key string) (Bouncer, error) {
	if !strings.HasPrefix(key, keyPrefix) {
		return Bouncer{}, ErrUnknownKey
	}
	var b Bouncer
	var created int64
	err := s.db.R.QueryRowContext(ctx, `SELECT id, name, created_at, created_by FROM bouncers WHERE hash = ?`, hash(key)).
		Scan(&b.ID, &b.Name, &created, &b.CreatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return Bouncer{}, ErrUnknownKey
	}
	b.CreatedAt = time.Unix(0, created).UTC()
	return b, err
}

// List returns every bouncer, by name, with what each holds.
func (s *Store) List(ctx context.Context) ([]Bouncer, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, name, created_at, created_by, last_pull, last_addr, user_agent FROM bouncers ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var out []Bouncer
	for rows.Next() {
		var b Bouncer
		var created, last int64
		if err := rows.Scan(&b.ID, &b.Name, &created, &b.CreatedBy, &last, &b.LastAddr, &b.UserAgent); err != nil {
			rows.Close()
			return nil, err
		}
		b.CreatedAt = time.Unix(0, created).UTC()
		if last != 0 {
			t := time.Unix(0, last).UTC()
			b.LastPull = &t
		}
		b.Holds = []string{}
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		held, err := s.held(ctx, s.db.R, out[i].ID)
		if err != nil {
			return nil, err
		}
		for _, h := range held {
			out[i].Holds = append(out[i].Holds, h.decision)
		}
	}
	return out, nil
}

type heldEntry struct {
	decision string
	doc      Decision
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// held is what bouncer id was last sent, by value.
func (s *Store) held(ctx context.Context, q querier, id string) (map[string]heldEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT value, decision_id, doc FROM bouncer_held WHERE bouncer_id = ? ORDER BY value`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]heldEntry{}
	for rows.Next() {
		var v, d, doc string
		if err := rows.Scan(&v, &d, &doc); err != nil {
			return nil, err
		}
		e := heldEntry{decision: d}
		if err := json.Unmarshal([]byte(doc), &e.doc); err != nil {
			return nil, err
		}
		out[v] = e
	}
	return out, rows.Err()
}

// Sync answers one stream pull of bouncer b: want is what it should
// enforce now (one decision per value). On startup the bouncer starts
// from nothing, so everything is new; otherwise only the difference from
// what it was last sent. What it is sent becomes what it holds, and goes
// to its pull log, in one transaction.
func (s *Store) Sync(ctx context.Context, b Bouncer, startup bool, want []Decision, addr, agent string, now time.Time) (added, deleted []Decision, err error) {
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		added, deleted = nil, nil
		held := map[string]heldEntry{}
		if !startup {
			h, err := s.held(ctx, tx, b.ID)
			if err != nil {
				return err
			}
			held = h
		}
		wanted := map[string]bool{}
		for _, d := range want {
			wanted[d.Value] = true
			if h, ok := held[d.Value]; !ok || h.decision != d.UUID || dueAgain(h.doc, now) {
				added = append(added, d)
			}
		}
		for _, v := range slices.Sorted(maps.Keys(held)) {
			if !wanted[v] {
				deleted = append(deleted, held[v].doc)
			}
		}
		if startup {
			if _, err := tx.ExecContext(ctx, `DELETE FROM bouncer_held WHERE bouncer_id = ?`, b.ID); err != nil {
				return err
			}
		}
		for _, d := range deleted {
			if _, err := tx.ExecContext(ctx, `DELETE FROM bouncer_held WHERE bouncer_id = ? AND value = ?`, b.ID, d.Value); err != nil {
				return err
			}
			if err := logPull(ctx, tx, b.ID, now, "deleted", d); err != nil {
				return err
			}
		}
		for _, d := range added {
			doc, _ := json.Marshal(d)
			if _, err := tx.ExecContext(ctx, `DELETE FROM bouncer_held WHERE bouncer_id = ? AND value = ?`, b.ID, d.Value); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO bouncer_held (bouncer_id, value, decision_id, doc) VALUES (?,?,?,?)`,
				b.ID, d.Value, d.UUID, string(doc)); err != nil {
				return err
			}
			if err := logPull(ctx, tx, b.ID, now, "new", d); err != nil {
				return err
			}
		}
		return s.touch(ctx, tx, b.ID, addr, agent, now, len(added)+len(deleted) > 0)
	})
	return added, deleted, err
}

// Answered records a live query's matches (GET /v1/decisions).
func (s *Store) Answered(ctx context.Context, b Bouncer, ds []Decision, addr, agent string, now time.Time) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			if err := logPull(ctx, tx, b.ID, now, "answered", d); err != nil {
				return err
			}
		}
		return s.touch(ctx, tx, b.ID, addr, agent, now, len(ds) > 0)
	})
}

// touch records the pull and, when the log grew, trims it to KeepPulls.
func (s *Store) touch(ctx context.Context, tx *sql.Tx, id, addr, agent string, now time.Time, logged bool) error {
	if len(agent) > 200 {
		agent = agent[:200]
	}
	if _, err := tx.ExecContext(ctx, `UPDATE bouncers SET last_pull = ?, last_addr = ?, user_agent = ? WHERE id = ?`,
		now.UnixNano(), addr, agent, id); err != nil {
		return err
	}
	if !logged {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM bouncer_pulls WHERE bouncer_id = ? AND seq <= (
		SELECT seq FROM bouncer_pulls WHERE bouncer_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`, id, id, s.keep)
	return err
}

func logPull(ctx context.Context, tx *sql.Tx, id string, now time.Time, action string, d Decision) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO bouncer_pulls (bouncer_id, at, action, decision_id, value) VALUES (?,?,?,?,?)`,
		id, now.UnixNano(), action, d.UUID, d.Value)
	return err
}

// Pulls returns bouncer name's pull log, newest first, at most limit lines.
func (s *Store) Pulls(ctx context.Context, name string, limit int) ([]Pull, error) {
	if limit <= 0 || limit > KeepPulls {
		limit = KeepPulls
	}
	var id string
	if err := s.db.R.QueryRowContext(ctx, `SELECT id FROM bouncers WHERE name = ?`, name).Scan(&id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("bouncer %q: %w", name, ErrNotFound)
		}
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT at, action, decision_id, value FROM bouncer_pulls WHERE bouncer_id = ? ORDER BY seq DESC LIMIT ?`, id, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Pull{}
	for rows.Next() {
		p := Pull{Bouncer: name}
		var at int64
		if err := rows.Scan(&at, &p.Action, &p.Decision, &p.Value); err != nil {
			return nil, err
		}
		p.At = time.Unix(0, at).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// PulledBy returns, for each of the decision IDs, the names of the
// bouncers that were sent it to enforce (from their pull logs), by name.
func (s *Store) PulledBy(ctx context.Context, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT DISTINCT p.decision_id, b.name FROM bouncer_pulls p JOIN bouncers b ON b.id = p.bouncer_id
		WHERE p.action <> 'deleted' AND p.decision_id IN (?`+strings.Repeat(",?", len(ids)-1)+`) ORDER BY b.name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var d, n string
		if err := rows.Scan(&d, &n); err != nil {
			return nil, err
		}
		out[d] = append(out[d], n)
	}
	return out, rows.Err()
}
