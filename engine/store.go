package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/store"
)

// Store is what the engine needs from a database. The SQLite
// implementation is below; the PostgreSQL one (pgStore) implements the same
// interfaces with the same SQL but for a run row read FOR UPDATE and
// claims that SKIP LOCKED rows another node is leasing.
type Store interface {
	// Update runs fn in one write transaction; fn's writes commit together
	// or not at all (group commit may put several fns in one database
	// transaction, each isolated by a savepoint).
	Update(ctx context.Context, fn func(Tx) error) error
	Reader
	Close() error
}

// Reader is the read side (a separate pool; never blocks the writer).
type Reader interface {
	LoadRun(ctx context.Context, id string) (*RunView, error)
	ListRuns(ctx context.Context, f RunFilter) ([]RunInfo, error)
	ListInquiries(ctx context.Context, f InquiryFilter) ([]Inquiry, error)
	NextDue(ctx context.Context) (time.Time, bool, error)
	// PendingAudit returns up to n queued audit entries after id, oldest
	// first.
	PendingAudit(ctx context.Context, after int64, n int) ([]AuditRecord, error)
	// Changed is the time (Unix ns) any run last moved, 0 for none: the
	// console's live stream watches it.
	Changed(ctx context.Context) (int64, error)
}

// Tx is one write transaction.
type Tx interface {
	PutPlan(id string, version int, body []byte) error
	Plan(id string, version int) ([]byte, error)
	LatestPlan(id string) (int, []byte, error)
	RunByKey(key string) (string, bool, error)
	Snapshot(runID string) (*Snapshot, error)
	// Append writes journal rows, the projections of the events (tasks,
	// timers, inquiries, effects) and the run row with its new snapshot.
	Append(snap *Snapshot, events []Event, raw [][]byte, newRun bool) error
	// GuardTask marks a leased task done if fence is current.
	GuardTask(taskID string, fence int64) (bool, error)
	// ExtendLease moves a leased task's lease to until if fence is still
	// current; false means the task is no longer this lease's.
	ExtendLease(taskID string, fence int64, until time.Time) (bool, error)
	// GuardTimer marks a pending timer fired; false if it already fired
	// or was cancelled.
	GuardTimer(timerID string, now time.Time) (bool, error)
	Claim(owner string, now time.Time, lease time.Duration, n int) ([]Claim, error)
	RecordEffect(key, outcome string, result []byte, now time.Time) error
	DueTimers(now time.Time, n int) ([]TimerRow, error)
	// Audit queues an audit entry in the same transaction as the change
	// it records (an outbox: the engine's database is not the audit
	// log's, and SQLite cannot commit two WAL files atomically).
	Audit(r AuditRecord) error
	// DropAudit forgets queued entries up to id once the audit log holds
	// them.
	DropAudit(upTo int64) error
}

// AuditRecord is an audit entry waiting in the engine's outbox: the very
// entry the audit log imports, so nothing converts between the two.
type AuditRecord = audit.Imported

// Claim is a leased task handed to a worker.
type Claim struct {
	TaskID, RunID, Inst, IdemKey string
	Cmd, Attempt                 int
	Fence                        int64
	Call                         CallSpec
	EffectState                  string // "" | dispatched | sending | done
	EffectOutcome                string
	EffectResult                 []byte
}

// TimerRow is a due timer.
type TimerRow struct {
	ID, RunID, Inst, Kind string
	Due                   time.Time
}

// RunView is a run with its journal.
type RunView struct {
	Snapshot *Snapshot
	Journal  []Event
}

// RunInfo is one row of ListRuns.
type RunInfo struct {
	ID         string    `json:"id"`
	PlaybookID string    `json:"playbook_id"`
	Version    int       `json:"version"`
	Status     string    `json:"status"`
	ParentRun  string    `json:"parent_run,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
}

// RunFilter selects runs; zero fields match all.
type RunFilter struct {
	Status     string
	PlaybookID string
	// Incident selects the runs started for one incident (its
	// __incident__ variable); child runs are reached through their parent.
	Incident string
	Limit    int
}

// Inquiry is a durable approval record.
type Inquiry struct {
	ID         string    `json:"id"`
	RunID      string    `json:"run_id"`
	Inst       string    `json:"inst"`
	Kind       string    `json:"kind"`
	Question   string    `json:"question"`
	Form       []string  `json:"form,omitempty"`
	Assignees  []string  `json:"assignees,omitempty"`
	Roles      []string  `json:"roles,omitempty"`
	Quorum     int       `json:"quorum"`
	Deadline   time.Time `json:"deadline"`
	State      string    `json:"state"` // open | answered | expired | cancelled
	Answer     string    `json:"answer,omitempty"`
	AnsweredBy string    `json:"answered_by,omitempty"`
	Comment    string    `json:"comment,omitempty"`
}

// InquiryFilter selects inquiries.
type InquiryFilter struct {
	State string // "" = all
	RunID string
}

var migrations = []store.Migration{`
CREATE TABLE plans (playbook_id TEXT NOT NULL, version INTEGER NOT NULL, body BLOB NOT NULL,
	PRIMARY KEY (playbook_id, version));
CREATE TABLE runs (run_id TEXT PRIMARY KEY, playbook_id TEXT NOT NULL, version INTEGER NOT NULL,
	status TEXT NOT NULL, parent_run TEXT, parent_inst TEXT, start_key TEXT UNIQUE, input BLOB,
	snapshot BLOB NOT NULL, seq INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX runs_status ON runs(status, updated_at);
CREATE TABLE journal (run_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, step TEXT,
	at INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
CREATE TABLE tasks (task_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, inst TEXT NOT NULL, step TEXT,
	attempt INTEGER NOT NULL, cmd INTEGER NOT NULL, kind TEXT NOT NULL, due_at INTEGER NOT NULL,
	state TEXT NOT NULL, lease_owner TEXT, lease_until INTEGER, fence INTEGER NOT NULL DEFAULT 0,
	idem_key TEXT NOT NULL, payload BLOB);
CREATE INDEX tasks_ready ON tasks(state, due_at);
CREATE INDEX tasks_lease ON tasks(state, lease_until);
CREATE TABLE timers (timer_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, inst TEXT NOT NULL,
	kind TEXT NOT NULL, due_at INTEGER NOT NULL, state TEXT NOT NULL, fired_at INTEGER);
CREATE INDEX timers_due ON timers(state, due_at);
CREATE TABLE inquiries (inquiry_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, inst TEXT NOT NULL,
	kind TEXT NOT NULL, question TEXT NOT NULL, form BLOB, assignees BLOB, roles BLOB,
	quorum INTEGER NOT NULL, deadline INTEGER NOT NULL, state TEXT NOT NULL, answer TEXT,
	answered_by TEXT, comment TEXT, created_at INTEGER NOT NULL, answered_at INTEGER);
CREATE INDEX inquiries_state ON inquiries(state, run_id);
CREATE TABLE effects (idem_key TEXT PRIMARY KEY, run_id TEXT NOT NULL, inst TEXT NOT NULL,
	state TEXT NOT NULL, sends INTEGER NOT NULL DEFAULT 0, outcome TEXT, result BLOB,
	updated_at INTEGER NOT NULL);
`, `
CREATE TABLE audit_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,
	action TEXT NOT NULL, target TEXT NOT NULL, detail BLOB NOT NULL);
`, `
ALTER TABLE runs ADD COLUMN incident TEXT;
UPDATE runs SET incident = COALESCE(json_extract(CAST(snapshot AS TEXT), '$.vars.__incident__.id'),
	CASE json_type(CAST(snapshot AS TEXT), '$.vars.__incident__') WHEN 'text' THEN json_extract(CAST(snapshot AS TEXT), '$.vars.__incident__') END);
CREATE INDEX runs_incident ON runs(incident, created_at) WHERE incident IS NOT NULL;
`, `
CREATE INDEX runs_updated ON runs(updated_at);
`}

// Schema is the engine database in both dialects (schema "engine" on
// PostgreSQL).
var Schema = store.Schema{Name: "engine", SQLite: migrations, Postgres: pgMigrations}

// pgMigrations reach the tables migrations do, in PostgreSQL's types.
var pgMigrations = []store.Migration{`
CREATE TABLE plans (playbook_id TEXT NOT NULL, version BIGINT NOT NULL, body BYTEA NOT NULL,
	PRIMARY KEY (playbook_id, version));
CREATE TABLE runs (run_id TEXT COLLATE "C" PRIMARY KEY, playbook_id TEXT NOT NULL, version BIGINT NOT NULL,
	status TEXT NOT NULL, parent_run TEXT, parent_inst TEXT, start_key BYTEA UNIQUE, input BYTEA,
	snapshot BYTEA NOT NULL, seq BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE INDEX runs_status ON runs(status, updated_at);
CREATE TABLE journal (run_id TEXT NOT NULL, seq BIGINT NOT NULL, type TEXT NOT NULL, step TEXT,
	at BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE tasks (task_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, inst TEXT NOT NULL, step TEXT,
	attempt BIGINT NOT NULL, cmd BIGINT NOT NULL, kind TEXT NOT NULL, due_at BIGINT NOT NULL,
	state TEXT NOT NULL, lease_owner TEXT, lease_until BIGINT, fence BIGINT NOT NULL DEFAULT 0,
	idem_key TEXT NOT NULL, payload BYTEA);
CREATE INDEX tasks_ready ON tasks(state, due_at);
CREATE INDEX tasks_lease ON tasks(state, lease_until);
CREATE TABLE timers (timer_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, inst TEXT NOT NULL,
	kind TEXT NOT NULL, due_at BIGINT NOT NULL, state TEXT NOT NULL, fired_at BIGINT);
CREATE INDEX timers_due ON timers(state, due_at);
CREATE TABLE inquiries (inquiry_id TEXT COLLATE "C" PRIMARY KEY, run_id TEXT NOT NULL, inst TEXT NOT NULL,
	kind TEXT NOT NULL, question TEXT NOT NULL, form BYTEA, assignees BYTEA, roles BYTEA,
	quorum BIGINT NOT NULL, deadline BIGINT NOT NULL, state TEXT NOT NULL, answer TEXT,
	answered_by TEXT, comment TEXT, created_at BIGINT NOT NULL, answered_at BIGINT);
CREATE INDEX inquiries_state ON inquiries(state, run_id);
CREATE TABLE effects (idem_key TEXT PRIMARY KEY, run_id TEXT NOT NULL, inst TEXT NOT NULL,
	state TEXT NOT NULL, sends BIGINT NOT NULL DEFAULT 0, outcome TEXT, result BYTEA,
	updated_at BIGINT NOT NULL);
CREATE TABLE audit_outbox (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL,
	action TEXT NOT NULL, target TEXT NOT NULL, detail BYTEA NOT NULL);
ALTER TABLE runs ADD COLUMN incident TEXT;
CREATE INDEX runs_incident ON runs(incident, created_at) WHERE incident IS NOT NULL;
CREATE INDEX runs_updated ON runs(updated_at);
`}

// sqliteStore is the SQLite Store: one writer goroutine with group
// commit, and the store package's reader pool.
type sqliteStore struct {
	db *store.DB
	// stmts are prepared once on the writer connection: parsing each
	// statement anew cost more than executing it.
	stmts map[string]*sql.Stmt
	reqs  chan *wreq
	quit  chan struct{}
	wg    sync.WaitGroup
}

type wreq struct {
	fn   func(Tx) error
	done chan error
}

// OpenSQLite opens (creating) the engine database at path. sync is
// SQLite's synchronous mode ("full" for production).
func OpenSQLite(path, sync string) (Store, error) {
	db, err := store.Open(path, sync, migrations)
	if err != nil {
		return nil, err
	}
	s := &sqliteStore{db: db, reqs: make(chan *wreq, 1024), quit: make(chan struct{})}
	if err := s.prepare(); err != nil {
		db.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.writer()
	return s, nil
}

func (s *sqliteStore) Close() error {
	close(s.quit)
	s.wg.Wait()
	for _, st := range s.stmts {
		st.Close()
	}
	return s.db.Close()
}

var errClosed = errors.New("engine store closed")

func (s *sqliteStore) Update(ctx context.Context, fn func(Tx) error) error {
	r := &wreq{fn: fn, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-s.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-s.quit:
		return errClosed
	}
}

const maxBatch = 128

func (s *sqliteStore) writer() {
	defer s.wg.Done()
	batch := make([]*wreq, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.quit:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		s.commit(batch)
	}
}

func (s *sqliteStore) commit(batch []*wreq) {
	fail := func(err error) {
		for _, r := range batch {
			r.done <- err
		}
	}
	tx, err := s.db.W.Begin()
	if err != nil {
		fail(err)
		return
	}
	errs := make([]error, len(batch))
	t := &sqliteTx{tx: tx, s: s}
	for i, r := range batch {
		if len(batch) > 1 {
			if _, err := tx.Exec("SAVEPOINT t"); err != nil {
				tx.Rollback()
				fail(err)
				return
			}
		}
		errs[i] = safeCall(r.fn, t)
		if len(batch) > 1 {
			if errs[i] != nil {
				if _, err := tx.Exec("ROLLBACK TO t"); err != nil {
					tx.Rollback()
					fail(err)
					return
				}
			}
			if _, err := tx.Exec("RELEASE t"); err != nil {
				tx.Rollback()
				fail(err)
				return
			}
		} else if errs[0] != nil {
			tx.Rollback()
			batch[0].done <- errs[0]
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return
	}
	for i, r := range batch {
		r.done <- errs[i]
	}
}

func safeCall(fn func(Tx) error, t Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("transition panicked: %v", p)
		}
	}()
	return fn(t)
}

// sqliteTx is the Tx of both stores; pg marks PostgreSQL's, where a few
// statements differ.
type sqliteTx struct {
	tx *sql.Tx
	s  *sqliteStore
	pg bool
}

// prepare readies the store's statements on the writer connection. It runs
// at open, before any transaction: the writer is the only connection, so
// preparing while a transaction holds it would wait forever.
func (s *sqliteStore) prepare() error {
	s.stmts = map[string]*sql.Stmt{}
	for _, q := range statements {
		st, err := s.db.W.Prepare(q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		s.stmts[q] = st
	}
	return nil
}

func (t *sqliteTx) exec(q string, args ...any) (sql.Result, error) {
	if st, ok := t.s.stmts[q]; ok {
		return t.tx.Stmt(st).Exec(args...)
	}
	return t.tx.Exec(q, args...)
}

func (t *sqliteTx) query(q string, args ...any) (*sql.Rows, error) {
	if st, ok := t.s.stmts[q]; ok {
		return t.tx.Stmt(st).Query(args...)
	}
	return t.tx.Query(q, args...)
}

func (t *sqliteTx) queryRow(q string, args ...any) *sql.Row {
	if st, ok := t.s.stmts[q]; ok {
		return t.tx.Stmt(st).QueryRow(args...)
	}
	return t.tx.QueryRow(q, args...)
}

func (t *sqliteTx) PutPlan(id string, version int, body []byte) error {
	_, err := t.exec(`INSERT INTO plans(playbook_id, version, body) VALUES (?,?,?) ON CONFLICT DO NOTHING`, id, version, body)
	return err
}

func (t *sqliteTx) Plan(id string, version int) ([]byte, error) {
	var b []byte
	err := t.queryRow(`SELECT body FROM plans WHERE playbook_id=? AND version=?`, id, version).Scan(&b)
	return b, err
}

func (t *sqliteTx) LatestPlan(id string) (int, []byte, error) {
	var v int
	var b []byte
	err := t.queryRow(`SELECT version, body FROM plans WHERE playbook_id=? ORDER BY version DESC LIMIT 1`, id).Scan(&v, &b)
	return v, b, err
}

func (t *sqliteTx) RunByKey(key string) (string, bool, error) {
	var id string
	err := t.queryRow(`SELECT run_id FROM runs WHERE start_key=?`, t.startKey(key)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return id, err == nil, err
}

// startKey is a run's start key as stored: bytes on PostgreSQL, whose
// text cannot hold the NUL that separates playbook and dedup key.
func (t *sqliteTx) startKey(k string) any {
	if t.pg {
		return []byte(k)
	}
	return k
}

func (t *sqliteTx) Snapshot(runID string) (*Snapshot, error) {
	q := `SELECT snapshot FROM runs WHERE run_id=?`
	if t.pg {
		// The transition that reads a run writes it: lock the row, so
		// that two nodes moving one run take turns instead of one failing
		// the version check in Append.
		q += ` FOR UPDATE`
	}
	var b []byte
	if err := t.queryRow(q, runID).Scan(&b); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	var s Snapshot
	return &s, json.Unmarshal(b, &s)
}

func ns(t time.Time) int64 { return t.UnixNano() }

func (t *sqliteTx) Append(s *Snapshot, events []Event, raw [][]byte, newRun bool) error {
	snap, err := json.Marshal(s)
	if err != nil {
		return err
	}
	now := ns(s.Updated)
	if newRun {
		var key any
		if s.DedupKey != "" {
			key = t.startKey(s.PlaybookID + "\x00" + s.DedupKey)
		}
		// The incident a run answers is kept in a column so the console
		// lists an incident's runs without reading every snapshot.
		var incident any
		if id := IncidentOf(s.Vars["__incident__"]); id != "" {
			incident = id
		}
		if _, err := t.exec(`INSERT INTO runs(run_id, playbook_id, version, status, parent_run, parent_inst, start_key, input, snapshot, seq, created_at, updated_at, incident)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`, s.RunID, s.PlaybookID, s.Version, s.Status, s.ParentRun, s.ParentInst, key, nil, snap, s.Seq, ns(s.Created), now, incident); err != nil {
			return err
		}
	} else {
		res, err := t.exec(`UPDATE runs SET status=?, snapshot=?, seq=?, updated_at=? WHERE run_id=? AND seq=?`,
			s.Status, snap, s.Seq, now, s.RunID, s.Seq-int64(len(events)))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("run %s: concurrent update (version check failed)", s.RunID)
		}
	}
	for i := range events {
		e := &events[i]
		if _, err := t.exec(`INSERT INTO journal(run_id, seq, type, step, at, data) VALUES (?,?,?,?,?,?)`,
			s.RunID, e.Seq, e.Type, e.Inst, ns(e.At), raw[i]); err != nil {
			return err
		}
		if err := t.project(s.RunID, e); err != nil {
			return err
		}
	}
	return nil
}

// project writes the rows implied by an event (the outbox).
func (t *sqliteTx) project(run string, e *Event) error {
	var err error
	at := ns(e.At)
	switch e.Type {
	case EvTaskScheduled:
		payload, _ := json.Marshal(e.Call)
		if _, err = t.exec(`INSERT INTO tasks(task_id, run_id, inst, step, attempt, cmd, kind, due_at, state, idem_key, payload)
			VALUES (?,?,?,?,?,?,'command',?,'ready',?,?)`, e.TaskID, run, e.Inst, e.Step, e.Attempt, e.Cmd, e.Due, e.IdemKey, payload); err != nil {
			return err
		}
		_, err = t.exec(`INSERT INTO effects(idem_key, run_id, inst, state, updated_at) VALUES (?,?,?,'dispatched',?) ON CONFLICT DO NOTHING`, e.IdemKey, run, e.Inst, at)
	case EvTaskCancelled:
		_, err = t.exec(`UPDATE tasks SET state='cancelled' WHERE task_id=? AND state IN ('ready','leased')`, e.TaskID)
	case EvTimerSet:
		_, err = t.exec(`INSERT INTO timers(timer_id, run_id, inst, kind, due_at, state) VALUES (?,?,?,?,?,'pending')`, e.TimerID, run, e.Inst, e.Kind, e.Due)
	case EvTimerCancelled:
		_, err = t.exec(`UPDATE timers SET state='cancelled' WHERE timer_id=? AND state='pending'`, e.TimerID)
	case EvInquiryOpened:
		q := e.Inquiry
		form, _ := json.Marshal(q.Form)
		as, _ := json.Marshal(q.Assignees)
		rs, _ := json.Marshal(q.Roles)
		_, err = t.exec(`INSERT INTO inquiries(inquiry_id, run_id, inst, kind, question, form, assignees, roles, quorum, deadline, state, created_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,'open',?)`, q.ID, run, e.Inst, q.Kind, q.Question, form, as, rs, q.Quorum, q.Deadline, at)
	case EvInquiryAnswered:
		ans := "denied"
		if e.Approve {
			ans = "approved"
		}
		_, err = t.exec(`UPDATE inquiries SET state='answered', answer=?, answered_by=?, comment=?, answered_at=? WHERE inquiry_id=? AND state='open'`, ans, e.Actor, e.Comment, at, e.Kind)
	case EvInquiryExpired:
		_, err = t.exec(`UPDATE inquiries SET state='expired', answered_at=? WHERE inquiry_id=? AND state='open'`, at, e.Kind)
	case EvInquiryCancelled:
		_, err = t.exec(`UPDATE inquiries SET state='cancelled', answered_at=? WHERE inquiry_id=? AND state='open'`, at, e.Kind)
	}
	return err
}

func (t *sqliteTx) GuardTask(taskID string, fence int64) (bool, error) {
	res, err := t.exec(`UPDATE tasks SET state='done' WHERE task_id=? AND fence=? AND state='leased'`, taskID, fence)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (t *sqliteTx) ExtendLease(taskID string, fence int64, until time.Time) (bool, error) {
	res, err := t.exec(`UPDATE tasks SET lease_until=? WHERE task_id=? AND fence=? AND state='leased'`, ns(until), taskID, fence)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (t *sqliteTx) GuardTimer(timerID string, now time.Time) (bool, error) {
	res, err := t.exec(`UPDATE timers SET state='fired', fired_at=? WHERE timer_id=? AND state='pending'`, ns(now), timerID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Claim leases up to n tasks that are ready and due, or whose lease
// expired, raising each one's fence; in the same transaction it marks the
// task's effect "sending" (so a crash from here on is an unknown outcome)
// and returns the effect as it was.
func (t *sqliteTx) Claim(owner string, now time.Time, lease time.Duration, n int) ([]Claim, error) {
	q := claimSQL
	if t.pg {
		q = claimPG
	}
	rows, err := t.query(q, owner, ns(now.Add(lease)), ns(now), n, ns(now), n)
	if err != nil {
		return nil, err
	}
	var out []Claim
	for rows.Next() {
		var c Claim
		var payload []byte
		if err := rows.Scan(&c.TaskID, &c.RunID, &c.Inst, &c.IdemKey, &c.Cmd, &c.Attempt, &c.Fence, &payload); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal(payload, &c.Call); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		c := &out[i]
		var outcome sql.NullString
		err := t.queryRow(`SELECT state, outcome, result FROM effects WHERE idem_key=?`, c.IdemKey).Scan(&c.EffectState, &outcome, &c.EffectResult)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		c.EffectOutcome = outcome.String
		if c.EffectState != "done" {
			if _, err := t.exec(`UPDATE effects SET state='sending', sends=sends+1, updated_at=? WHERE idem_key=?`, ns(now), c.IdemKey); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// RecordEffect stores a definitive result for an idempotency key; a key
// already done keeps its first result.
func (t *sqliteTx) RecordEffect(key, outcome string, result []byte, now time.Time) error {
	_, err := t.exec(`UPDATE effects SET state='done', outcome=?, result=?, updated_at=? WHERE idem_key=? AND state!='done'`, outcome, result, ns(now), key)
	return err
}

func (t *sqliteTx) DueTimers(now time.Time, n int) ([]TimerRow, error) {
	rows, err := t.query(`SELECT timer_id, run_id, inst, kind, due_at FROM timers WHERE state='pending' AND due_at<=? ORDER BY due_at LIMIT ?`, ns(now), n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TimerRow
	for rows.Next() {
		var r TimerRow
		var due int64
		if err := rows.Scan(&r.ID, &r.RunID, &r.Inst, &r.Kind, &due); err != nil {
			return nil, err
		}
		r.Due = time.Unix(0, due)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *sqliteTx) Audit(r AuditRecord) error {
	if r.Detail == nil {
		r.Detail = []byte("{}")
	}
	if t.pg {
		// Outbox ids must become visible in order: PendingAudit reads
		// after the last id taken, and an id committed after a higher one
		// would never be read. Transactions that queue audit entries take
		// turns (SQLite's single writer does this for free).
		if _, err := t.tx.Exec(`SELECT pg_advisory_xact_lock(?)`, outboxLock); err != nil {
			return err
		}
	}
	_, err := t.exec(`INSERT INTO audit_outbox(at, actor, action, target, detail) VALUES (?,?,?,?,?)`, ns(r.At), r.Actor, r.Action, r.Target, r.Detail)
	return err
}

func (t *sqliteTx) DropAudit(upTo int64) error {
	_, err := t.exec(`DELETE FROM audit_outbox WHERE id<=?`, upTo)
	return err
}

func (s *sqliteStore) PendingAudit(ctx context.Context, after int64, n int) ([]AuditRecord, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, at, actor, action, target, detail FROM audit_outbox WHERE id>? ORDER BY id LIMIT ?`, after, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var r AuditRecord
		var at int64
		if err := rows.Scan(&r.ID, &at, &r.Actor, &r.Action, &r.Target, &r.Detail); err != nil {
			return nil, err
		}
		r.At = time.Unix(0, at).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErrNotFound: no such run or inquiry.
var ErrNotFound = errors.New("not found")

func (s *sqliteStore) LoadRun(ctx context.Context, id string) (*RunView, error) {
	var b []byte
	if err := s.db.R.QueryRowContext(ctx, `SELECT snapshot FROM runs WHERE run_id=?`, id).Scan(&b); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	v := &RunView{Snapshot: &Snapshot{}}
	if err := json.Unmarshal(b, v.Snapshot); err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT data FROM journal WHERE run_id=? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var d []byte
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		var e Event
		if err := json.Unmarshal(d, &e); err != nil {
			return nil, err
		}
		v.Journal = append(v.Journal, e)
	}
	return v, rows.Err()
}

func (s *sqliteStore) Changed(ctx context.Context) (int64, error) {
	var at sql.NullInt64
	err := s.db.R.QueryRowContext(ctx, `SELECT MAX(updated_at) FROM runs`).Scan(&at)
	return at.Int64, err
}

func (s *sqliteStore) ListRuns(ctx context.Context, f RunFilter) ([]RunInfo, error) {
	q := `SELECT run_id, playbook_id, version, status, COALESCE(parent_run,''), created_at, updated_at FROM runs WHERE 1=1`
	var args []any
	if f.Status != "" {
		q += ` AND status=?`
		args = append(args, f.Status)
	}
	if f.PlaybookID != "" {
		q += ` AND playbook_id=?`
		args = append(args, f.PlaybookID)
	}
	if f.Incident != "" {
		q += ` AND incident=?`
		args = append(args, f.Incident)
	}
	q += ` ORDER BY created_at DESC, run_id`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RunInfo
	for rows.Next() {
		var r RunInfo
		var c, u int64
		if err := rows.Scan(&r.ID, &r.PlaybookID, &r.Version, &r.Status, &r.ParentRun, &c, &u); err != nil {
			return nil, err
		}
		r.Created, r.Updated = time.Unix(0, c).UTC(), time.Unix(0, u).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqliteStore) ListInquiries(ctx context.Context, f InquiryFilter) ([]Inquiry, error) {
	q := `SELECT inquiry_id, run_id, inst, kind, question, form, assignees, roles, quorum, deadline, state,
		COALESCE(answer,''), COALESCE(answered_by,''), COALESCE(comment,'') FROM inquiries WHERE 1=1`
	var args []any
	if f.State != "" {
		q += ` AND state=?`
		args = append(args, f.State)
	}
	if f.RunID != "" {
		q += ` AND run_id=?`
		args = append(args, f.RunID)
	}
	q += ` ORDER BY created_at, inquiry_id`
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Inquiry
	for rows.Next() {
		var r Inquiry
		var form, as, rs []byte
		var dl int64
		if err := rows.Scan(&r.ID, &r.RunID, &r.Inst, &r.Kind, &r.Question, &form, &as, &rs, &r.Quorum, &dl, &r.State, &r.Answer, &r.AnsweredBy, &r.Comment); err != nil {
			return nil, err
		}
		_ = json.Unmarshal(form, &r.Form)
		_ = json.Unmarshal(as, &r.Assignees)
		_ = json.Unmarshal(rs, &r.Roles)
		r.Deadline = time.Unix(0, dl).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// NextDue is the earliest pending timer or ready task due time.
func (s *sqliteStore) NextDue(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	err := s.db.R.QueryRowContext(ctx, `SELECT MIN(d) FROM (SELECT MIN(due_at) d FROM timers WHERE state='pending'
		UNION ALL SELECT MIN(due_at) FROM tasks WHERE state='ready' UNION ALL SELECT MIN(lease_until) FROM tasks WHERE state='leased') AS due`).Scan(&v)
	if err != nil || !v.Valid {
		return time.Time{}, false, err
	}
	return time.Unix(0, v.Int64), true, nil
}

var _ = strings.TrimSpace

// statements are the literal statements transactions run, prepared at open.
var statements = []string{
	`INSERT INTO plans(playbook_id, version, body) VALUES (?,?,?) ON CONFLICT DO NOTHING`,
	`SELECT body FROM plans WHERE playbook_id=? AND version=?`,
	`SELECT version, body FROM plans WHERE playbook_id=? ORDER BY version DESC LIMIT 1`,
	`SELECT run_id FROM runs WHERE start_key=?`,
	`SELECT snapshot FROM runs WHERE run_id=?`,
	`INSERT INTO runs(run_id, playbook_id, version, status, parent_run, parent_inst, start_key, input, snapshot, seq, created_at, updated_at, incident)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
	`UPDATE runs SET status=?, snapshot=?, seq=?, updated_at=? WHERE run_id=? AND seq=?`,
	`INSERT INTO journal(run_id, seq, type, step, at, data) VALUES (?,?,?,?,?,?)`,
	`INSERT INTO tasks(task_id, run_id, inst, step, attempt, cmd, kind, due_at, state, idem_key, payload)
			VALUES (?,?,?,?,?,?,'command',?,'ready',?,?)`,
	`INSERT INTO effects(idem_key, run_id, inst, state, updated_at) VALUES (?,?,?,'dispatched',?) ON CONFLICT DO NOTHING`,
	`UPDATE tasks SET state='cancelled' WHERE task_id=? AND state IN ('ready','leased')`,
	`INSERT INTO timers(timer_id, run_id, inst, kind, due_at, state) VALUES (?,?,?,?,?,'pending')`,
	`UPDATE timers SET state='cancelled' WHERE timer_id=? AND state='pending'`,
	`INSERT INTO inquiries(inquiry_id, run_id, inst, kind, question, form, assignees, roles, quorum, deadline, state, created_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,'open',?)`,
	`UPDATE inquiries SET state='answered', answer=?, answered_by=?, comment=?, answered_at=? WHERE inquiry_id=? AND state='open'`,
	`UPDATE inquiries SET state='expired', answered_at=? WHERE inquiry_id=? AND state='open'`,
	`UPDATE inquiries SET state='cancelled', answered_at=? WHERE inquiry_id=? AND state='open'`,
	`UPDATE tasks SET state='done' WHERE task_id=? AND fence=? AND state='leased'`,
	`UPDATE timers SET state='fired', fired_at=? WHERE timer_id=? AND state='pending'`,
	claimSQL,
	`SELECT state, outcome, result FROM effects WHERE idem_key=?`,
	`UPDATE effects SET state='sending', sends=sends+1, updated_at=? WHERE idem_key=?`,
	`UPDATE effects SET state='done', outcome=?, result=?, updated_at=? WHERE idem_key=? AND state!='done'`,
	`SELECT timer_id, run_id, inst, kind, due_at FROM timers WHERE state='pending' AND due_at<=? ORDER BY due_at LIMIT ?`,
	`INSERT INTO audit_outbox(at, actor, action, target, detail) VALUES (?,?,?,?,?)`,
	`DELETE FROM audit_outbox WHERE id<=?`,
}

// claimSQL leases due tasks and tasks whose lease ran out. SQLite's single
// writer makes it atomic.
const claimSQL = `UPDATE tasks SET state='leased', lease_owner=?, lease_until=?, fence=fence+1
		WHERE task_id IN (SELECT task_id FROM tasks WHERE state='ready' AND due_at<=? ORDER BY due_at LIMIT ?)
		   OR task_id IN (SELECT task_id FROM tasks WHERE state='leased' AND lease_until<=? ORDER BY lease_until LIMIT ?)
		RETURNING task_id, run_id, inst, idem_key, cmd, attempt, fence, payload`

// claimPG is claimSQL for PostgreSQL, where nodes claim concurrently: each
// skips the rows another is claiming (SKIP LOCKED) instead of waiting for
// them, and a row committed by another claim meanwhile is checked again
// against the conditions (READ COMMITTED re-reads a locked row), so a task
// is leased by one node at a time and every claim raises its fence.
const claimPG = `UPDATE tasks SET state='leased', lease_owner=?, lease_until=?, fence=fence+1
		WHERE task_id IN (SELECT task_id FROM tasks WHERE state='ready' AND due_at<=? ORDER BY due_at LIMIT ? FOR UPDATE SKIP LOCKED)
		   OR task_id IN (SELECT task_id FROM tasks WHERE state='leased' AND lease_until<=? ORDER BY lease_until LIMIT ? FOR UPDATE SKIP LOCKED)
		RETURNING task_id, run_id, inst, idem_key, cmd, attempt, fence, payload`

// outboxLock is the advisory lock of the audit outbox (Audit).
const outboxLock = 0x72706f7374650001

// OpenStore opens the engine database at target: a SQLite file (OpenSQLite) or,
// given a postgres:// URL, schema "engine" of that database (OpenPostgres).
func OpenStore(target, sync string) (Store, error) {
	if store.IsURL(target) {
		return OpenPostgres(target)
	}
	return OpenSQLite(target, sync)
}

// pgStore is the PostgreSQL Store. Unlike SQLite's it has no writer
// goroutine: every Update is a transaction of its own, running beside the
// others of this node and of other nodes; run rows (Snapshot) and task
// rows (Claim, GuardTask) are the units they lock.
type pgStore struct{ *sqliteStore }

// OpenPostgres opens the engine schema of the PostgreSQL database at url.
func OpenPostgres(url string) (Store, error) {
	db, err := store.OpenSchema(url, "", Schema)
	if err != nil {
		return nil, err
	}
	return pgStore{&sqliteStore{db: db}}, nil
}

func (s pgStore) Close() error { return s.db.Close() }

func (s pgStore) Update(ctx context.Context, fn func(Tx) error) error {
	// Not store.DB.Begin: its lock would make the nodes take turns, and
	// the engine's rows are locked one by one instead.
	tx, err := s.db.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := safeCall(fn, &sqliteTx{tx: tx, s: s.sqliteStore, pg: true}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
