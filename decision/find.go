package decision

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// States a Filter can select.
const (
	StateActive   = "active"   // in force
	StateReverted = "reverted" // ended by a person or a playbook
	StateExpired  = "expired"  // ran out
)

// Filter selects decisions for a paged list (the console's); zero fields do
// not constrain.
type Filter struct {
	Kind string
	// Target matches decisions whose target contains it (part of an
	// address, a host name).
	Target   string
	Incident string
	// State is StateActive, StateReverted or StateExpired.
	State         string
	Limit, Offset int
}

// Find returns one page of the decisions f selects, newest first, and how
// many it selects in all. The filter runs in the database: the list of a
// busy year holds tens of thousands.
func (s *Store) Find(ctx context.Context, f Filter, now time.Time) ([]Decision, int, error) {
	var where []string
	var args []any
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, f.Kind)
	}
	if f.Target != "" {
		where = append(where, `target `+s.db.ILike()+` ? ESCAPE '\'`)
		args = append(args, "%"+strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(f.Target)+"%")
	}
	if f.Incident != "" {
		where = append(where, s.db.JSONText("doc", "incident")+" = ?")
		args = append(args, f.Incident)
	}
	switch f.State {
	case "":
	case StateActive:
		where = append(where, "reverted_at = 0 AND (expires_at = 0 OR expires_at > ?)")
		args = append(args, ns(now))
	case StateReverted:
		where = append(where, "reverted_at <> 0")
	case StateExpired:
		where = append(where, "reverted_at = 0 AND expires_at <> 0 AND expires_at <= ?")
		args = append(args, ns(now))
	default:
		return nil, 0, fmt.Errorf("state %q is not one of active, reverted, expired", f.State)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.R.QueryRowContext(ctx, `SELECT count(*) FROM decisions`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT doc FROM decisions`+cond+` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
		append(args, f.Limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []Decision
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, 0, err
		}
		var d Decision
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	return out, total, rows.Err()
}
