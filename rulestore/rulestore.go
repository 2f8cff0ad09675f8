// Package rulestore keeps detection rules in the control database with every
// version: who changed a rule, when, why, and what changed. Detection loads
// the current version of every enabled rule from here, and rollback is a new
// version that restores an old body, so history only grows.
package rulestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/store"
)

// Rule is a rule's current state.
type Rule struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Kind    string `json:"kind"` // sigma or correlation
	Current int    `json:"current_version"`
	Enabled bool   `json:"enabled"`
}

// Version is one immutable version of a rule.
type Version struct {
	RuleID    string    `json:"rule_id"`
	Version   int       `json:"version"`
	Title     string    `json:"title"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	Reason    string    `json:"reason"`
	Body      string    `json:"body"`
}

// ErrNotFound is returned for an unknown rule or version.
var ErrNotFound = errors.New("not found")

// ErrUnchanged is returned when a new version would equal the current one.
var ErrUnchanged = errors.New("the rule is unchanged")

// Store is a versioned document store: detection rules, and playbooks,
// which need the same history, rollback and audit.
type Store struct {
	db *store.DB
	// heads and versions name the two tables; noun prefixes audit actions
	// ("rule.update", "playbook.rollback").
	heads, versions, noun string
}

// New wraps the control database's rule tables.
func New(db *store.DB) *Store {
	return &Store{db: db, heads: "rules", versions: "rule_versions", noun: "rule"}
}

// NewPlaybooks wraps the control database's playbook tables.
func NewPlaybooks(db *store.DB) *Store {
	return &Store{db: db, heads: "playbooks", versions: "playbook_versions", noun: "playbook"}
}

// q names the store's tables in a statement written for the rule tables.
func (s *Store) q(stmt string) string {
	return strings.NewReplacer("rule_versions", s.versions, "rules", s.heads).Replace(stmt)
}

// Put stores body as the next version of rule id (creating the rule, enabled,
// when it is new) and audits the change in the same transaction.
func (s *Store) Put(ctx context.Context, id, title, kind, body, author, reason string) (Version, error) {
	if id == "" {
		return Version{}, errors.New("rule id must not be empty")
	}
	var v Version
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := s.current(ctx, tx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		next := 1
		action := "create"
		if err == nil {
			if cur.Body == body {
				return ErrUnchanged
			}
			next = cur.Version + 1
			action = "update"
		}
		v = Version{RuleID: id, Version: next, Title: title, Author: author, CreatedAt: time.Now().UTC(), Reason: reason, Body: body}
		if err := s.insert(ctx, tx, v, kind); err != nil {
			return err
		}
		detail := map[string]any{"version": next, "title": title, "reason": reason}
		if next > 1 {
			detail["diff"] = Diff(cur.Body, body)
		}
		return s.appendAudit(ctx, tx, author, action, id, detail)
	})
	return v, err
}

func (s *Store) insert(ctx context.Context, tx *sql.Tx, v Version, kind string) error {
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO rule_versions (rule_id, version, body, title, author, created_at, reason)
		VALUES (?,?,?,?,?,?,?)`), v.RuleID, v.Version, v.Body, v.Title, v.Author, v.CreatedAt.UnixNano(), v.Reason); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO rules (rule_id, current, enabled, kind) VALUES (?,?,1,?)
		ON CONFLICT (rule_id) DO UPDATE SET current = excluded.current, kind = excluded.kind`), v.RuleID, v.Version, kind)
	return err
}

func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, actor, action, target string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	return audit.AppendTx(ctx, tx, actor, s.noun+"."+action, s.noun+":"+target, b)
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func (s *Store) current(ctx context.Context, q querier, id string) (Version, error) {
	return scanVersion(q.QueryRowContext(ctx, s.q(`SELECT v.rule_id, v.version, v.title, v.author, v.created_at, v.reason, v.body
		FROM rules r JOIN rule_versions v ON v.rule_id = r.rule_id AND v.version = r.current WHERE r.rule_id = ?`), id))
}

func scanVersion(row interface{ Scan(...any) error }) (Version, error) {
	var v Version
	var at int64
	if err := row.Scan(&v.RuleID, &v.Version, &v.Title, &v.Author, &at, &v.Reason, &v.Body); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return v, ErrNotFound
		}
		return v, err
	}
	v.CreatedAt = time.Unix(0, at).UTC()
	return v, nil
}

// SetEnabled enables or disables a rule.
func (s *Store) SetEnabled(ctx context.Context, id string, enabled bool, author, reason string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE rules SET enabled = ? WHERE rule_id = ?`), enabled, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("rule %s: %w", id, ErrNotFound)
		}
		action := "disable"
		if enabled {
			action = "enable"
		}
		return s.appendAudit(ctx, tx, author, action, id, map[string]string{"reason": reason})
	})
}

// Rollback makes version "to" current again, as a new version.
func (s *Store) Rollback(ctx context.Context, id string, to int, author, reason string) (Version, error) {
	var v Version
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		old, err := scanVersion(tx.QueryRowContext(ctx, s.q(`SELECT rule_id, version, title, author, created_at, reason, body
			FROM rule_versions WHERE rule_id = ? AND version = ?`), id, to))
		if err != nil {
			return fmt.Errorf("rule %s version %d: %w", id, to, err)
		}
		cur, err := s.current(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.Body == old.Body {
			return ErrUnchanged
		}
		var kind string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT kind FROM rules WHERE rule_id = ?`), id).Scan(&kind); err != nil {
			return err
		}
		if reason == "" {
			reason = fmt.Sprintf("rollback to version %d", to)
		}
		v = Version{RuleID: id, Version: cur.Version + 1, Title: old.Title, Author: author, CreatedAt: time.Now().UTC(), Reason: reason, Body: old.Body}
		if err := s.insert(ctx, tx, v, kind); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, author, "rollback", id, map[string]any{"version": v.Version, "restores": to,
			"reason": reason, "diff": Diff(cur.Body, old.Body)})
	})
	return v, err
}

// List returns every rule, ordered by id.
func (s *Store) List(ctx context.Context) ([]Rule, error) {
	rows, err := s.db.R.QueryContext(ctx, s.q(`SELECT r.rule_id, v.title, r.kind, r.current, r.enabled
		FROM rules r JOIN rule_versions v ON v.rule_id = r.rule_id AND v.version = r.current ORDER BY r.rule_id`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var r Rule
		if err := rows.Scan(&r.ID, &r.Title, &r.Kind, &r.Current, &r.Enabled); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Get returns a rule and its current version.
func (s *Store) Get(ctx context.Context, id string) (Rule, Version, error) {
	var r Rule
	err := s.db.R.QueryRowContext(ctx, s.q(`SELECT rule_id, kind, current, enabled FROM rules WHERE rule_id = ?`), id).
		Scan(&r.ID, &r.Kind, &r.Current, &r.Enabled)
	if errors.Is(err, sql.ErrNoRows) {
		return r, Version{}, fmt.Errorf("rule %s: %w", id, ErrNotFound)
	} else if err != nil {
		return r, Version{}, err
	}
	v, err := s.current(ctx, s.db.R, id)
	r.Title = v.Title
	return r, v, err
}

// History returns every version of a rule, oldest first.
func (s *Store) History(ctx context.Context, id string) ([]Version, error) {
	rows, err := s.db.R.QueryContext(ctx, s.q(`SELECT rule_id, version, title, author, created_at, reason, body
		FROM rule_versions WHERE rule_id = ? ORDER BY version`), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("rule %s: %w", id, ErrNotFound)
	}
	return out, nil
}

// Active returns the current version of every enabled rule.
func (s *Store) Active(ctx context.Context) ([]Version, error) {
	rows, err := s.db.R.QueryContext(ctx, s.q(`SELECT v.rule_id, v.version, v.title, v.author, v.created_at, v.reason, v.body
		FROM rules r JOIN rule_versions v ON v.rule_id = r.rule_id AND v.version = r.current
		WHERE r.enabled = 1 ORDER BY r.rule_id`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Count returns the number of rules.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	err := s.db.R.QueryRowContext(ctx, s.q(`SELECT count(*) FROM rules`)).Scan(&n)
	return n, err
}

// Head is a rule (or playbook) with its current version.
type Head struct {
	Rule
	Version Version
}

// Heads returns every rule with its current version (enabled or not), in
// one query: list pages show what each body declares (level, tags,
// triggers) without a read per row.
func (s *Store) Heads(ctx context.Context) ([]Head, error) {
	rows, err := s.db.R.QueryContext(ctx, s.q(`SELECT r.kind, r.current, r.enabled, v.rule_id, v.version, v.title, v.author, v.created_at, v.reason, v.body
		FROM rules r JOIN rule_versions v ON v.rule_id = r.rule_id AND v.version = r.current ORDER BY r.rule_id`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Head
	for rows.Next() {
		var h Head
		var at int64
		if err := rows.Scan(&h.Kind, &h.Current, &h.Enabled, &h.Version.RuleID, &h.Version.Version, &h.Version.Title,
			&h.Version.Author, &at, &h.Version.Reason, &h.Version.Body); err != nil {
			return nil, err
		}
		h.ID, h.Title = h.Version.RuleID, h.Version.Title
		h.Version.CreatedAt = time.Unix(0, at).UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}
