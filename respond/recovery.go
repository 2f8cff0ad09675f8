package respond

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/store"
)

// Ledger records, for each incident, every action a playbook took that can
// be undone (a block, an isolation, a quarantine, a disabled account, a
// changed configuration line), in the order taken, so that recovery can
// undo them all in reverse order.
type Ledger struct {
	db *store.DB
	mu sync.Mutex // one recovery per node at a time: no undo runs twice
}

// NewLedger keeps the ledger in the control database.
func NewLedger(db *store.DB) *Ledger { return &Ledger{db: db} }

// UndoEntry is one recorded undo.
type UndoEntry struct {
	ID        int64          `json:"id"`
	Incident  string         `json:"incident"`
	RunID     string         `json:"run_id"`
	StepID    string         `json:"step_id"`
	Connector string         `json:"connector"`
	Operation string         `json:"operation"`
	Args      map[string]any `json:"args"`
	Summary   string         `json:"summary"`
	CreatedAt time.Time      `json:"created_at"`
	DoneAt    *time.Time     `json:"done_at,omitempty"`
	Outcome   string         `json:"outcome,omitempty"`
}

func (l *Ledger) record(ctx context.Context, call connector.Call, u *connector.Undo) error {
	args, err := json.Marshal(u.Args)
	if err != nil {
		return err
	}
	return l.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO undo_ledger (incident, run_id, step_id, connector, operation, args, summary, created_at)
			VALUES (?,?,?,?,?,?,?,?)`, call.Incident, call.RunID, call.StepID, u.Connector, u.Operation, string(args), u.Summary, time.Now().UnixNano())
		return err
	})
}

// Entries lists an incident's undos, oldest first.
func (l *Ledger) Entries(ctx context.Context, incident string) ([]UndoEntry, error) {
	rows, err := l.db.R.QueryContext(ctx, `SELECT id, incident, run_id, step_id, connector, operation, args, summary, created_at, done_at, outcome
		FROM undo_ledger WHERE incident = ? ORDER BY id`, incident)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UndoEntry
	for rows.Next() {
		var e UndoEntry
		var args string
		var created, done int64
		if err := rows.Scan(&e.ID, &e.Incident, &e.RunID, &e.StepID, &e.Connector, &e.Operation, &args, &e.Summary, &created, &done, &e.Outcome); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(args), &e.Args)
		e.CreatedAt = time.Unix(0, created).UTC()
		if done > 0 {
			t := time.Unix(0, done).UTC()
			e.DoneAt = &t
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Recording wraps every connector of reg so that a successful call made
// for an incident records its undo in the ledger.
func (l *Ledger) Recording(reg *connector.Registry) (*connector.Registry, error) {
	out := connector.NewRegistry()
	for _, s := range reg.List() {
		c, _ := reg.Get(s.Name)
		if err := out.Register(&recording{Connector: c, l: l}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type recording struct {
	connector.Connector
	l *Ledger
}

func (r *recording) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	res, err := r.Connector.Execute(ctx, call)
	if err == nil && res.Undo != nil && call.Incident != "" {
		if lerr := r.l.record(context.WithoutCancel(ctx), call, res.Undo); lerr != nil {
			// The action took effect; failing the step would make the
			// engine retry it. Say so in the trace instead.
			res.Summary += fmt.Sprintf(" (its undo was not recorded: %v)", lerr)
		}
	}
	return res, err
}

// RecoveryStep is what one undo did.
type RecoveryStep struct {
	Entry   UndoEntry `json:"entry"`
	OK      bool      `json:"ok"`
	Summary string    `json:"summary"`
}

// Recover undoes, newest first, every action recorded for an incident that
// was not undone yet, and notes each on the incident's timeline. An undo
// that fails stays pending (a later recovery tries it again); the others
// still run.
func (l *Ledger) Recover(ctx context.Context, reg *connector.Registry, incident, actor string, note func(text string, detail map[string]any)) ([]RecoveryStep, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Other nodes of a cluster share the ledger: one recovers an
	// incident at a time, and the next sees what the first undid.
	unlock, err := l.db.Lock(ctx, "recovery/"+incident)
	if err != nil {
		return nil, err
	}
	defer unlock()
	es, err := l.Entries(ctx, incident)
	if err != nil {
		return nil, err
	}
	var out []RecoveryStep
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.DoneAt != nil {
			continue
		}
		st := RecoveryStep{Entry: e}
		c, ok := reg.Get(e.Connector)
		if !ok {
			st.Summary = "connector " + e.Connector + " is not configured on this node"
		} else {
			res, err := c.Execute(ctx, connector.Call{Operation: e.Operation, Args: e.Args, IdempotencyKey: fmt.Sprintf("undo-%d", e.ID),
				RunID: "recovery", StepID: fmt.Sprintf("undo-%d", e.ID), Incident: incident})
			if err != nil {
				st.Summary = fmt.Sprintf("%s failed: %v", e.Summary, err)
			} else {
				st.OK, st.Summary = true, e.Summary+": "+res.Summary
				if res.Summary == "" {
					st.Summary = e.Summary + ": done"
				}
			}
		}
		// The undo's result and its audit entry commit together; a failed
		// undo is audited too (it was sent and may have done something).
		detail, _ := json.Marshal(map[string]any{"undo": e.ID, "incident": incident, "run": e.RunID, "step": e.StepID,
			"args": e.Args, "ok": st.OK, "summary": st.Summary})
		err := l.db.Tx(ctx, func(tx *sql.Tx) error {
			if st.OK {
				if _, err := tx.ExecContext(ctx, `UPDATE undo_ledger SET done_at = ?, outcome = ? WHERE id = ?`, time.Now().UnixNano(), st.Summary, e.ID); err != nil {
					return err
				}
			}
			return audit.AppendTx(ctx, tx, actor, "recovery.undo", e.Connector+"."+e.Operation, detail)
		})
		if err != nil {
			return out, err
		}
		if note != nil {
			note("recovery: "+st.Summary, map[string]any{"undo": e.ID, "run_id": e.RunID, "step_id": e.StepID, "ok": st.OK, "by": actor})
		}
		out = append(out, st)
	}
	return out, nil
}
