package alarm

import (
	"context"
	"time"
)

// RuleStats is what the alarm store knows of one detection rule: how much
// it fired and how people judged the incidents its alerts joined.
type RuleStats struct {
	RuleID string
	Alerts int64 // distinct (deduplicated) alerts
	Hits   int64 // alerts including repeats
	// Judged counts the alerts whose incident has a verdict; of them,
	// FalsePositives were judged false positive and Benign benign.
	Judged         int64
	FalsePositives int64
	Benign         int64
	LastSeen       time.Time
}

// FPRate is the share of judged alerts whose incident was a false
// positive, and false when none was judged.
func (s RuleStats) FPRate() (float64, bool) {
	if s.Judged == 0 {
		return 0, false
	}
	return float64(s.FalsePositives) / float64(s.Judged), true
}

// RuleStats returns the statistics of every rule that raised an alert,
// keyed by rule id, in one query over the alerts joined with their
// incidents' verdicts (held alerts count as hits, not as judged).
func (s *Store) RuleStats(ctx context.Context) (map[string]RuleStats, error) {
	verdict := s.db.JSONText("i.doc", "verdict")
	rows, err := s.db.R.QueryContext(ctx, `SELECT a.rule_id, count(*),
		coalesce(sum(`+s.db.Greatest(`coalesce(`+s.db.JSONInt("a.doc", "count")+`, 1)`, "1")+`), 0),
		coalesce(sum(CASE WHEN `+verdict+` IN ('true_positive', 'false_positive', 'benign') THEN 1 ELSE 0 END), 0),
		coalesce(sum(CASE WHEN `+verdict+` = 'false_positive' THEN 1 ELSE 0 END), 0),
		coalesce(sum(CASE WHEN `+verdict+` = 'benign' THEN 1 ELSE 0 END), 0),
		max(a.last_seen)
		FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id
		GROUP BY a.rule_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]RuleStats{}
	for rows.Next() {
		var r RuleStats
		var last int64
		if err := rows.Scan(&r.RuleID, &r.Alerts, &r.Hits, &r.Judged, &r.FalsePositives, &r.Benign, &last); err != nil {
			return nil, err
		}
		r.LastSeen = time.Unix(0, last).UTC()
		out[r.RuleID] = r
	}
	return out, rows.Err()
}
