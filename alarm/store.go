package alarm

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/store"
)

// Store persists alarm state in the control database.
type Store struct{ db *store.DB }

// NewStore wraps the control database.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// ErrNotFound is returned for an unknown incident, alert or silence.
var ErrNotFound = errors.New("not found")

// ErrMerged is returned for a change to an incident merged into another.
var ErrMerged = errors.New("was merged")

// Applied returns which of the stream alert ids were already applied, so a
// batch redelivered after a crash does not count its alerts twice.
func (s *Store) Applied(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		q := "SELECT id FROM alert_sources WHERE id IN (?" + strings.Repeat(",?", n-1) + ")"
		args := make([]any, n)
		for i := range args {
			args[i] = ids[i]
		}
		// The reader pool: the writer may be busy committing the previous
		// batch, and only committed ids matter here.
		rows, err := s.db.R.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = true
		}
		rows.Close()
		ids = ids[n:]
	}
	return out, nil
}

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Commit writes a batch's changes in one transaction.
func (s *Store) Commit(ctx context.Context, ch *Changes, now time.Time) error {
	rows, err := ch.rows(now)
	if err != nil {
		return err
	}
	return s.write(ctx, rows)
}

// batchRows is a batch's changes encoded for the database. Encoding happens
// while the engine is locked (the alerts and incidents keep changing after),
// writing may then overlap with the next batch.
type batchRows struct {
	sources, alerts, incidents, entities, timeline, seen [][]any
}

func (ch *Changes) rows(now time.Time) (*batchRows, error) {
	r := &batchRows{}
	for _, id := range ch.Sources {
		r.sources = append(r.sources, []any{id})
	}
	for _, a := range ch.Alerts {
		doc, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		r.alerts = append(r.alerts, []any{a.ID, a.Fingerprint, a.IncidentID, a.RuleID, ns(a.FirstSeen), ns(a.LastSeen), a.SuppressedBy, string(doc)})
	}
	for _, inc := range ch.Incidents {
		row, err := incidentRow(inc)
		if err != nil {
			return nil, err
		}
		r.incidents = append(r.incidents, row)
	}
	for id, ents := range ch.Entities {
		for _, e := range ents {
			r.entities = append(r.entities, []any{e.Kind, strings.ToLower(e.Value), id})
		}
	}
	for _, t := range ch.Timeline {
		d := []byte("{}")
		if t.Detail != nil {
			d, _ = json.Marshal(t.Detail)
		}
		r.timeline = append(r.timeline, []any{t.IncidentID, ns(t.At), t.Actor, t.Kind, t.Text, string(d)})
	}
	for _, e := range ch.Seen {
		if e.Kind != "host" && e.Kind != "user" {
			continue
		}
		doc, _ := json.Marshal(Asset{Kind: e.Kind, Name: e.Value, Discovered: true, FirstSeen: now, LastSeen: now})
		r.seen = append(r.seen, []any{e.Kind, strings.ToLower(e.Value), ns(now), ns(now), string(doc)})
	}
	return r, nil
}

func (s *Store) write(ctx context.Context, r *batchRows) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error { return writeTx(ctx, tx, r) })
}

// insertRows runs one multi-row INSERT per chunk of rows: SQLite's cost per
// statement, not per row, dominates batches of thousands of small rows.
func insertRows(ctx context.Context, tx *sql.Tx, head string, cols int, tail string, rows [][]any) error {
	const perStmt = 200
	ph := "(?" + strings.Repeat(",?", cols-1) + ")"
	for lo := 0; lo < len(rows); lo += perStmt {
		chunk := rows[lo:min(lo+perStmt, len(rows))]
		q := head + " VALUES " + ph + strings.Repeat(","+ph, len(chunk)-1) + " " + tail
		args := make([]any, 0, len(chunk)*cols)
		for _, r := range chunk {
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

func writeTx(ctx context.Context, tx *sql.Tx, r *batchRows) error {
	steps := []struct {
		head string
		cols int
		tail string
		rows [][]any
	}{
		{`INSERT INTO alert_sources (id)`, 1, "ON CONFLICT DO NOTHING", r.sources},
		{`INSERT INTO alerts (id, fingerprint, incident_id, rule_id, first_seen, last_seen, suppressed_by, doc)`, 8,
			`ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id, last_seen = excluded.last_seen,
			suppressed_by = excluded.suppressed_by, doc = excluded.doc`, r.alerts},
		{`INSERT INTO incidents (id, rev, status, prio, created_at, updated_at, assignee, doc)`, 8, upsertIncident, r.incidents},
		{`INSERT INTO incident_entities (kind, value, incident_id)`, 3, "ON CONFLICT DO NOTHING", r.entities},
		{`INSERT INTO timeline (incident_id, at, actor, kind, text, detail)`, 6, "", r.timeline},
	}
	for _, st := range steps {
		if err := insertRows(ctx, tx, st.head, st.cols, st.tail, st.rows); err != nil {
			return err
		}
	}
	// Discovered assets: a handful per batch (each is written at most once a
	// minute), so one statement each.
	for _, row := range r.seen {
		if _, err := tx.ExecContext(ctx, `INSERT INTO assets (kind, name, criticality, discovered, first_seen, last_seen, doc)
			VALUES (?,?,0,1,?,?,?) ON CONFLICT (kind, name) DO UPDATE SET last_seen = excluded.last_seen`, row...); err != nil {
			return err
		}
	}
	return nil
}

// upsertIncident keeps the newest revision: a batch encoded before a
// person's change may reach the database after it.
const upsertIncident = `ON CONFLICT (id) DO UPDATE SET rev = excluded.rev, status = excluded.status, prio = excluded.prio,
	updated_at = excluded.updated_at, assignee = excluded.assignee, doc = excluded.doc WHERE excluded.rev > incidents.rev`

// incidentRow encodes an incident for writing, as its next revision. The
// caller holds the engine, so revisions follow the order of changes.
func incidentRow(inc *Incident) ([]any, error) {
	inc.Rev++
	doc, err := json.Marshal(inc)
	if err != nil {
		return nil, err
	}
	return []any{inc.ID, inc.Rev, string(inc.Status), prioRank(inc.Priority), ns(inc.CreatedAt), ns(inc.UpdatedAt), inc.Assignee, string(doc)}, nil
}

func putIncident(ctx context.Context, tx *sql.Tx, inc *Incident) error {
	row, err := incidentRow(inc)
	if err != nil {
		return err
	}
	return insertRows(ctx, tx, `INSERT INTO incidents (id, rev, status, prio, created_at, updated_at, assignee, doc)`, 8, upsertIncident, [][]any{row})
}

func addTimeline(ctx context.Context, tx *sql.Tx, entries []TimelineEntry) error {
	ch := Changes{Timeline: entries}
	r, err := ch.rows(time.Time{})
	if err != nil {
		return err
	}
	return insertRows(ctx, tx, `INSERT INTO timeline (incident_id, at, actor, kind, text, detail)`, 6, "", r.timeline)
}

// LatestAlert returns the last-seen time of the newest alert.
func (s *Store) LatestAlert(ctx context.Context) (time.Time, error) {
	var n sql.NullInt64
	if err := s.db.R.QueryRowContext(ctx, `SELECT max(last_seen) FROM alerts`).Scan(&n); err != nil {
		return time.Time{}, err
	}
	if !n.Valid {
		return time.Now(), nil
	}
	return time.Unix(0, n.Int64).UTC(), nil
}

// LoadOpen reads the open incidents and the alerts seen since "since", to
// rebuild the engine's memory after a restart.
func (s *Store) LoadOpen(ctx context.Context, since time.Time) ([]*Incident, []*Alert, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT doc FROM incidents WHERE status != 'closed'`)
	if err != nil {
		return nil, nil, err
	}
	var incs []*Incident
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			rows.Close()
			return nil, nil, err
		}
		var inc Incident
		if err := json.Unmarshal([]byte(doc), &inc); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if inc.MergedInto == "" {
			incs = append(incs, &inc)
		}
	}
	rows.Close()
	alerts, err := s.alerts(ctx, `SELECT doc, incident_id FROM alerts WHERE last_seen >= ? ORDER BY last_seen`, ns(since))
	return incs, alerts, err
}

// Filter selects incidents for the queue.
type Filter struct {
	Statuses []Status
	Priority string
	Assignee string
	// Tag keeps incidents carrying that tag; Text those whose title,
	// entities, rules or tags contain it (case-insensitive for ASCII).
	Tag    string
	Text   string
	Limit  int
	Offset int
}

// List returns incidents ordered as the queue: priority, then age (oldest first).
func (s *Store) List(ctx context.Context, f Filter) ([]*Incident, error) {
	where, args := f.where()
	q := "SELECT doc FROM incidents" + where
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q += " ORDER BY prio, created_at, id LIMIT ? OFFSET ?"
	args = append(args, f.Limit, f.Offset)
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Incident
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var inc Incident
		if err := json.Unmarshal([]byte(doc), &inc); err != nil {
			return nil, err
		}
		if f.Tag != "" && !slices.Contains(inc.Tags, f.Tag) {
			// The SQL match on the document is a superset (the quoted tag
			// may also be an entity's value); the tag list decides.
			continue
		}
		out = append(out, &inc)
	}
	return out, rows.Err()
}

// Count is how many incidents the filter matches (for "n of m" in the
// queue); with a tag filter it counts the SQL superset.
func (s *Store) Count(ctx context.Context, f Filter) (int, error) {
	where, args := f.where()
	var n int
	err := s.db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM incidents"+where, args...).Scan(&n)
	return n, err
}

func (f Filter) where() (string, []any) {
	var where []string
	var args []any
	if len(f.Statuses) > 0 {
		ph := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			ph[i] = "?"
			args = append(args, string(st))
		}
		where = append(where, "status IN ("+strings.Join(ph, ",")+")")
	}
	if f.Priority != "" {
		where = append(where, "prio = ?")
		args = append(args, prioRank(f.Priority))
	}
	if f.Assignee != "" {
		where = append(where, "assignee = ?")
		args = append(args, f.Assignee)
	}
	if f.Tag != "" {
		tag, _ := json.Marshal(f.Tag)
		where = append(where, `doc LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscape(string(tag))+"%")
	}
	if f.Text != "" {
		where = append(where, `lower(doc) LIKE ? ESCAPE '\'`)
		// The document is JSON: match the text as JSON would spell it.
		t, _ := json.Marshal(strings.ToLower(f.Text))
		args = append(args, "%"+likeEscape(string(t[1:len(t)-1]))+"%")
	}
	if len(where) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// likeEscape makes s match itself in a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// Get returns one incident.
func (s *Store) Get(ctx context.Context, id string) (*Incident, error) {
	var doc string
	err := s.db.R.QueryRowContext(ctx, `SELECT doc FROM incidents WHERE id = ?`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("incident %s: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	var inc Incident
	return &inc, json.Unmarshal([]byte(doc), &inc)
}

// Alerts returns an incident's alerts, oldest first.
func (s *Store) Alerts(ctx context.Context, incidentID string) ([]*Alert, error) {
	return s.alerts(ctx, `SELECT doc, incident_id FROM alerts WHERE incident_id = ? ORDER BY first_seen`, incidentID)
}

// Alert returns one alert.
func (s *Store) Alert(ctx context.Context, id string) (*Alert, error) {
	as, err := s.alerts(ctx, `SELECT doc, incident_id FROM alerts WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("alert %s: %w", id, ErrNotFound)
	}
	return as[0], nil
}

// Suppressed returns held alerts (silenced or inhibited), newest first.
func (s *Store) Suppressed(ctx context.Context, limit int) ([]*Alert, error) {
	return s.alerts(ctx, `SELECT doc, incident_id FROM alerts WHERE suppressed_by != '' ORDER BY last_seen DESC LIMIT ?`, limit)
}

func (s *Store) alerts(ctx context.Context, q string, args ...any) ([]*Alert, error) {
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Alert
	for rows.Next() {
		var doc, inc string
		if err := rows.Scan(&doc, &inc); err != nil {
			return nil, err
		}
		var a Alert
		if err := json.Unmarshal([]byte(doc), &a); err != nil {
			return nil, err
		}
		a.IncidentID = inc // merges and splits move alerts by this column
		out = append(out, &a)
	}
	return out, rows.Err()
}

// Timeline returns an incident's history, oldest first.
func (s *Store) Timeline(ctx context.Context, incidentID string) ([]TimelineEntry, error) {
	return s.timeline(ctx, `SELECT seq, incident_id, at, actor, kind, text, detail FROM timeline
		WHERE incident_id = ? ORDER BY seq`, incidentID)
}

func (s *Store) timeline(ctx context.Context, q string, args ...any) ([]TimelineEntry, error) {
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TimelineEntry
	for rows.Next() {
		var t TimelineEntry
		var at int64
		var detail string
		if err := rows.Scan(&t.Seq, &t.IncidentID, &at, &t.Actor, &t.Kind, &t.Text, &detail); err != nil {
			return nil, err
		}
		t.At = time.Unix(0, at).UTC()
		if detail != "{}" {
			_ = json.Unmarshal([]byte(detail), &t.Detail)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// SuppressedCount counts held alerts by what held them ("silence:<id>" or "inhibited").
func (s *Store) SuppressedCount(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT CASE WHEN suppressed_by LIKE 'inhibited:%' THEN 'inhibited' ELSE suppressed_by END,
		count(*) FROM alerts WHERE suppressed_by != '' GROUP BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// Version changes whenever an incident's story moves (a timeline entry, a
// new or repeated alert): the console's live stream polls it once a second,
// so it is two index probes, whatever the number of incidents.
func (s *Store) Version(ctx context.Context) (string, error) {
	var seq, seen sql.NullInt64
	err := s.db.R.QueryRowContext(ctx, `SELECT (SELECT MAX(seq) FROM timeline), (SELECT MAX(last_seen) FROM alerts)`).Scan(&seq, &seen)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d-%d", seq.Int64, seen.Int64), nil
}
