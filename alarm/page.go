package alarm

import (
	"context"
	"time"
)

// The incident workbench shows an incident of thousands of alerts: these
// read one page of its alerts or timeline, and the alerts' summary by rule,
// without loading them all.

// AlertPage returns up to limit of an incident's alerts, most recently
// seen first, after skipping offset.
func (s *Store) AlertPage(ctx context.Context, incidentID string, limit, offset int) ([]*Alert, error) {
	return s.alerts(ctx, `SELECT doc, incident_id FROM alerts WHERE incident_id = ? ORDER BY last_seen DESC, id LIMIT ? OFFSET ?`,
		incidentID, limit, offset)
}

// AlertGroup is an incident's alerts of one rule.
type AlertGroup struct {
	RuleID    string    `json:"rule_id"`
	RuleTitle string    `json:"rule_title"`
	Level     string    `json:"level"`
	Alerts    int       `json:"alerts"`
	Hits      int64     `json:"hits"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// AlertGroups summarizes an incident's alerts by rule, the most recently
// seen rule first.
func (s *Store) AlertGroups(ctx context.Context, incidentID string) ([]AlertGroup, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT rule_id, MAX(`+s.db.JSONText("doc", "rule_title")+`), MAX(`+s.db.JSONText("doc", "level")+`),
		COUNT(*), SUM(`+s.db.JSONInt("doc", "count")+`), MIN(first_seen), MAX(last_seen)
		FROM alerts WHERE incident_id = ? GROUP BY rule_id ORDER BY MAX(last_seen) DESC`, incidentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AlertGroup
	for rows.Next() {
		var g AlertGroup
		var title, level *string
		var hits *int64
		var first, last int64
		if err := rows.Scan(&g.RuleID, &title, &level, &g.Alerts, &hits, &first, &last); err != nil {
			return nil, err
		}
		if title != nil {
			g.RuleTitle = *title
		}
		if level != nil {
			g.Level = *level
		}
		if hits != nil {
			g.Hits = *hits
		}
		g.FirstSeen, g.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out = append(out, g)
	}
	return out, rows.Err()
}

// TimelinePage returns up to limit of an incident's newest timeline
// entries, newest first, and how many entries it has in all.
func (s *Store) TimelinePage(ctx context.Context, incidentID string, limit int) ([]TimelineEntry, int, error) {
	var total int
	if err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM timeline WHERE incident_id = ?`, incidentID).Scan(&total); err != nil {
		return nil, 0, err
	}
	out, err := s.timeline(ctx, `SELECT seq, incident_id, at, actor, kind, text, detail FROM timeline
		WHERE incident_id = ? ORDER BY seq DESC LIMIT ?`, incidentID, limit)
	return out, total, err
}
