package alarm

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/event"
)

// AddSilence validates and stores a silence, audits it and makes it active.
func (s *Service) AddSilence(ctx context.Context, sil *Silence, actor string) (*Silence, error) {
	if err := sil.Validate(); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	if max := s.cfg.MaxSilence; max > 0 {
		if d := sil.EndsAt.Sub(later(sil.StartsAt, now)); d > max {
			return nil, fmt.Errorf("a silence may hold alerts for at most %s (alarm.silences.max_duration); this one would for %s: end it sooner",
				max, d.Round(time.Minute))
		}
	}
	sil.ID, sil.Author, sil.CreatedAt = event.NewID(now), actor, now
	doc, _ := json.Marshal(sil)
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO silences (id, ends_at, doc) VALUES (?,?,?)`, sil.ID, ns(sil.EndsAt), string(doc)); err != nil {
		tx.Rollback()
		return nil, err
	}
	if err := silenceAudit(ctx, tx, actor, "silence.create", sil.ID, sil); err != nil {
		tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	s.eng.SetSilences(append(s.eng.silences, sil))
	return sil, nil
}

// ExpireSilence ends a silence now.
func (s *Service) ExpireSilence(ctx context.Context, id, actor string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	var doc string
	if err := s.db.W.QueryRowContext(ctx, `SELECT doc FROM silences WHERE id = ?`, id).Scan(&doc); err != nil {
		return fmt.Errorf("silence %s: %w", id, ErrNotFound)
	}
	var sil Silence
	if err := json.Unmarshal([]byte(doc), &sil); err != nil {
		return err
	}
	if !sil.EndsAt.After(now) {
		return fmt.Errorf("silence %s already ended at %s", id, sil.EndsAt.Format(time.RFC3339))
	}
	sil.EndsAt = now
	b, _ := json.Marshal(&sil)
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE silences SET ends_at = ?, doc = ? WHERE id = ?`, ns(now), string(b), id); err != nil {
		tx.Rollback()
		return err
	}
	if err := silenceAudit(ctx, tx, actor, "silence.expire", id, nil); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	var keep []*Silence
	for _, x := range s.eng.silences {
		if x.ID != id {
			keep = append(keep, x)
		}
	}
	s.eng.SetSilences(keep)
	return nil
}

// Silences lists silences; ended ones too when all is true. Held counts
// how many alerts each has held.
func (s *Store) Silences(ctx context.Context, all bool) ([]*Silence, error) {
	q := `SELECT doc FROM silences`
	args := []any{}
	if !all {
		q += ` WHERE ends_at > ?`
		args = append(args, time.Now().UnixNano())
	}
	rows, err := s.db.R.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Silence
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var sil Silence
		if err := json.Unmarshal([]byte(doc), &sil); err != nil {
			return nil, err
		}
		// Validate compiles the regexes; it passed when the silence was stored.
		_ = sil.Validate()
		out = append(out, &sil)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	counts, err := s.SuppressedCount(ctx)
	if err == nil {
		for _, sil := range out {
			sil.Held = counts["silence:"+sil.ID]
		}
	}
	return out, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// silenceAudit names the silence as the target (auditTx names incidents).
func silenceAudit(ctx context.Context, tx *sql.Tx, actor, action, id string, detail any) error {
	b := []byte("{}")
	if detail != nil {
		var err error
		if b, err = json.Marshal(detail); err != nil {
			return err
		}
	}
	return audit.AppendTx(ctx, tx, actor, action, "silence:"+id, b)
}
