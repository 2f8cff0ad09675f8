package correlate

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/riposte-soar/riposte/store"
)

// Persistence has two layers.
//
// The engine exports and imports state as records keyed by (correlation
// key, group key), each carrying the correlation's definition fingerprint
// and the group's state as JSON: Checkpoint/Commit hand out what changed
// since the last committed checkpoint, Restore takes records back. The key
// is what a later multi-node deployment partitions on.
//
// Store keeps those records in a SQLite file of its own (store.Open with
// Migrations) and is what the caller normally uses: Load once at start,
// Save periodically and on shutdown. A save writes only the groups that
// changed, deletes the ones evicted or expired, and drops all rows of a
// correlation removed or changed by Reload, in one transaction.

// GroupState is the persisted state of one group.
type GroupState struct {
	Rule  string // Rule.Key()
	Def   string // Rule.Fingerprint() of the definition the state was built under
	Group string // group key
	Data  []byte // JSON (groupJSON)
}

// GroupRef names one group.
type GroupRef struct{ Rule, Group string }

// Checkpoint is what changed since the last committed checkpoint. Apply, in
// order: when Full, delete every record (the engine was not restored from
// them, and Upserts then holds every group); delete the records of the
// correlations in DropRules; delete Deletes; upsert Upserts. Then call
// Engine.Commit.
type Checkpoint struct {
	Full      bool
	DropRules []string
	Deletes   []GroupRef
	Upserts   []GroupState

	dropSeq map[string]uint64
	delSeq  []uint64
	ups     []*group
	vers    []uint64
}

// Empty reports whether the checkpoint has nothing to write.
func (cp *Checkpoint) Empty() bool {
	return !cp.Full && len(cp.DropRules)+len(cp.Deletes)+len(cp.Upserts) == 0
}

type groupJSON struct {
	Vals  []string    `json:"vals"`
	HWM   int64       `json:"hwm"`
	Wall  int64       `json:"wall"`
	Reset int64       `json:"reset"`
	Ents  []entryJSON `json:"ents,omitempty"`
}

type entryJSON struct {
	T    int64    `json:"t"`
	M    uint64   `json:"m"`
	N    float64  `json:"n,omitempty"`
	F    int64    `json:"f"`
	ID   string   `json:"id,omitempty"`
	V    string   `json:"v,omitempty"`
	H    string   `json:"h,omitempty"`
	More []string `json:"more,omitempty"`
}

// Checkpoint returns the state changed since the last committed checkpoint.
// From the first call on, the engine also records deleted groups for it.
func (e *Engine) Checkpoint() *Checkpoint {
	e.mu.Lock()
	defer e.mu.Unlock()
	cp := &Checkpoint{Full: !e.synced, dropSeq: map[string]uint64{}}
	e.startTracking()
	for k, seq := range e.dropped {
		cp.DropRules = append(cp.DropRules, k)
		cp.dropSeq[k] = seq
	}
	sort.Strings(cp.DropRules)
	for _, c := range e.corrs {
		for _, k := range sortedKeys(c.deleted) {
			cp.Deletes = append(cp.Deletes, GroupRef{c.key, k})
			cp.delSeq = append(cp.delSeq, c.deleted[k])
		}
		c.each(func(g *group) {
			if g.ver <= g.saved {
				return
			}
			cp.Upserts = append(cp.Upserts, GroupState{Rule: c.key, Def: c.fp, Group: g.key, Data: g.marshal()})
			cp.ups = append(cp.ups, g)
			cp.vers = append(cp.vers, g.ver)
		})
	}
	return cp
}

func (e *Engine) startTracking() {
	if !e.track {
		e.track = true
		e.dropped = map[string]uint64{}
	}
}

// Commit records that cp was written: what changed after it was taken
// stays pending for the next checkpoint.
func (e *Engine) Commit(cp *Checkpoint) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cp.Full {
		e.synced = true
	}
	for k, seq := range cp.dropSeq {
		if e.dropped[k] == seq {
			delete(e.dropped, k)
		}
	}
	byKey := map[string]*corr{}
	for _, c := range e.corrs {
		byKey[c.key] = c
	}
	for i, d := range cp.Deletes {
		if c := byKey[d.Rule]; c != nil && c.deleted[d.Group] == cp.delSeq[i] {
			delete(c.deleted, d.Group)
		}
	}
	for i, g := range cp.ups {
		g.saved = max(g.saved, cp.vers[i])
	}
}

func (g *group) marshal() []byte {
	j := groupJSON{Vals: g.vals, HWM: g.hwm, Wall: g.wall, Reset: g.reset, Ents: make([]entryJSON, len(g.ents))}
	for i, en := range g.ents {
		j.Ents[i] = entryJSON{T: en.t, M: en.mask, N: en.num, F: en.first, ID: en.id, V: en.val, H: en.host, More: en.more}
	}
	b, _ := json.Marshal(j)
	return b
}

// Restore loads persisted groups into the engine, before it observes
// events (a group the engine already has keeps its live state). Records of
// correlations that are not installed, whose definition changed, or that do
// not decode are returned as stale, for the caller to delete.
func (e *Engine) Restore(states []GroupState) (restored int, stale []GroupRef) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.startTracking()
	e.synced = true
	byKey := map[string]*corr{}
	for _, c := range e.corrs {
		byKey[c.key] = c
	}
	type item struct {
		c *corr
		g *group
	}
	var items []item
	for _, s := range states {
		c := byKey[s.Rule]
		if c == nil || c.fp != s.Def {
			stale = append(stale, GroupRef{s.Rule, s.Group})
			continue
		}
		g, ok := c.unmarshal(s.Group, s.Data)
		if !ok {
			stale = append(stale, GroupRef{s.Rule, s.Group})
			continue
		}
		items = append(items, item{c, g})
	}
	// Oldest first, so that the recency order survives.
	sort.SliceStable(items, func(i, j int) bool { return items[i].g.wall < items[j].g.wall })
	wall := e.now().UnixNano()
	for _, it := range items {
		c, g := it.c, it.g
		if c.groups[g.key] != nil {
			continue
		}
		if len(c.groups) >= e.maxGroup {
			e.evict(c, g.vals, wall)
		}
		e.seq++
		g.ver, g.saved = e.seq, e.seq
		c.groups[g.key] = g
		g.level = levelOf(len(g.ents))
		c.pushFront(g)
		restored++
	}
	return restored, stale
}

// unmarshal decodes and checks one group's state.
func (c *corr) unmarshal(key string, data []byte) (*group, bool) {
	var j groupJSON
	if err := json.Unmarshal(data, &j); err != nil || len(j.Vals) != len(c.group) {
		return nil, false
	}
	b := []byte{'['}
	for i, v := range j.Vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, v)
	}
	if string(append(b, ']')) != key {
		return nil, false
	}
	g := &group{key: key, vals: j.Vals, hwm: j.HWM, wall: j.Wall, reset: j.Reset, started: true}
	valid := uint64(math.MaxUint64)
	if c.nrules < 64 {
		valid = 1<<c.nrules - 1
	}
	for _, x := range j.Ents {
		if x.M == 0 || x.M&^valid != 0 || math.IsNaN(x.N) || math.IsInf(x.N, 0) {
			continue
		}
		g.ents = append(g.ents, entry{t: x.T, mask: x.M, num: x.N, first: x.F, id: x.ID, val: x.V, host: x.H, more: x.More})
		g.hwm = max(g.hwm, x.T)
	}
	sort.SliceStable(g.ents, func(a, b int) bool { return g.ents[a].t < g.ents[b].t })
	if !c.closeMode {
		g.rebuild(c)
	}
	return g, true
}

// Migrations are the schema of the correlation state database.
var Migrations = []store.Migration{
	`CREATE TABLE correlation_state (
		rule    TEXT NOT NULL,
		grp     TEXT NOT NULL,
		def     TEXT NOT NULL,
		data    BLOB NOT NULL,
		updated INTEGER NOT NULL,
		PRIMARY KEY (rule, grp)
	) WITHOUT ROWID;`,
}

// Schema is the state database in both dialects (schema "correlation" on
// PostgreSQL, where the group key, which holds NULs, is bytes).
var Schema = store.Schema{Name: "correlation", SQLite: Migrations, Postgres: []store.Migration{
	`CREATE TABLE correlation_state (
		rule    TEXT NOT NULL,
		grp     BYTEA NOT NULL,
		def     TEXT NOT NULL,
		data    BYTEA NOT NULL,
		updated BIGINT NOT NULL,
		PRIMARY KEY (rule, grp)
	);`,
}}

// Store persists correlation state in SQLite or PostgreSQL.
type Store struct {
	db  *store.DB
	own bool
}

// OpenStore opens (creating if needed) the state database at path, or
// schema "correlation" of the PostgreSQL database a postgres:// URL names.
// SQLite uses synchronous=normal: a checkpoint survives a process crash; a
// power loss may lose the last few, which costs at most some partial
// windows.
func OpenStore(path string) (*Store, error) {
	db, err := store.OpenSchema(path, "normal", Schema)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, own: true}, nil
}

// Synchronous reports the SQLite synchronous mode the state commits with.
func (s *Store) Synchronous(ctx context.Context) (string, error) { return s.db.Synchronous(ctx) }

// grp is a group key as stored: bytes on PostgreSQL, whose text cannot
// hold the NULs that separate a key's fields.
func (s *Store) grp(g string) any {
	if s.db.Dialect == store.Postgres {
		return []byte(g)
	}
	return g
}

// NewStore uses a database already opened with Migrations.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// Close closes the database if OpenStore opened it.
func (s *Store) Close() error {
	if s.own {
		return s.db.Close()
	}
	return nil
}

// Save writes the engine's changes since the last save in one transaction.
// It returns the number of groups written.
func (s *Store) Save(ctx context.Context, e *Engine) (int, error) {
	cp := e.Checkpoint()
	if cp.Empty() {
		return 0, nil
	}
	now := time.Now().UnixNano()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if cp.Full {
			if _, err := tx.ExecContext(ctx, `DELETE FROM correlation_state`); err != nil {
				return err
			}
		}
		for _, k := range cp.DropRules {
			if _, err := tx.ExecContext(ctx, `DELETE FROM correlation_state WHERE rule = ?`, k); err != nil {
				return err
			}
		}
		if len(cp.Deletes) > 0 {
			del, err := tx.PrepareContext(ctx, `DELETE FROM correlation_state WHERE rule = ? AND grp = ?`)
			if err != nil {
				return err
			}
			defer del.Close()
			for _, d := range cp.Deletes {
				if _, err := del.ExecContext(ctx, d.Rule, s.grp(d.Group)); err != nil {
					return err
				}
			}
		}
		if len(cp.Upserts) > 0 {
			up, err := tx.PrepareContext(ctx, `INSERT INTO correlation_state (rule, grp, def, data, updated)
				VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (rule, grp) DO UPDATE SET def = excluded.def, data = excluded.data, updated = excluded.updated`)
			if err != nil {
				return err
			}
			defer up.Close()
			for _, u := range cp.Upserts {
				if _, err := up.ExecContext(ctx, u.Rule, s.grp(u.Group), u.Def, u.Data, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("save correlation state: %w", err)
	}
	e.Commit(cp)
	return len(cp.Upserts), nil
}

// Load restores the saved state into e (call before the first Observe) and
// deletes stale records. It returns the number of groups restored.
func (s *Store) Load(ctx context.Context, e *Engine) (int, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT rule, grp, def, data FROM correlation_state`)
	if err != nil {
		return 0, fmt.Errorf("load correlation state: %w", err)
	}
	var states []GroupState
	for rows.Next() {
		var st GroupState
		if err := rows.Scan(&st.Rule, &st.Group, &st.Def, &st.Data); err != nil {
			rows.Close()
			return 0, fmt.Errorf("load correlation state: %w", err)
		}
		states = append(states, st)
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("load correlation state: %w", err)
	}
	n, stale := e.Restore(states)
	if len(stale) == 0 {
		return n, nil
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, r := range stale {
			if _, err := tx.ExecContext(ctx, `DELETE FROM correlation_state WHERE rule = ? AND grp = ?`, r.Rule, s.grp(r.Group)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("delete stale correlation state: %w", err)
	}
	return n, nil
}
