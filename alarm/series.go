package alarm

import (
	"context"
	"encoding/json"
	"time"
)

// Day is one day of response figures: the incidents created that day (UTC)
// and how they were handled, computed as ResponseMetrics computes them for
// a whole window.
type Day struct {
	Date        time.Time `json:"date"` // midnight UTC
	Incidents   int       `json:"incidents"`
	Automated   int       `json:"automated"`
	SLABreaches int       `json:"sla_breaches"`
	MTTD        Stat      `json:"time_to_detect"`
	MTTA        Stat      `json:"time_to_acknowledge"`
	MTTC        Stat      `json:"time_to_contain"`
	MTTR        Stat      `json:"time_to_resolve"`
}

// ResponseSeries computes one Day per calendar day (UTC) of [from, to),
// days without incidents included, so a chart's x axis is plain time.
// Automated counts the incidents a playbook acted on: a timeline entry by
// the actor "playbook" or "playbook:<run>" (status, priority, tags, notes).
func (s *Store) ResponseSeries(ctx context.Context, from, to time.Time) ([]Day, error) {
	first := from.UTC().Truncate(24 * time.Hour)
	var days []Day
	for d := first; d.Before(to); d = d.Add(24 * time.Hour) {
		days = append(days, Day{Date: d})
	}
	if len(days) == 0 {
		return nil, nil
	}
	type acc struct{ ttd, tta, ttc, ttr []float64 }
	accs := make([]acc, len(days))
	rows, err := s.db.R.QueryContext(ctx, `SELECT doc, EXISTS (SELECT 1 FROM timeline t WHERE t.incident_id = incidents.id
		AND (t.actor = 'playbook' OR t.actor LIKE 'playbook:%')) FROM incidents WHERE created_at >= ? AND created_at < ?`, ns(from), ns(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var doc string
		var auto bool
		if err := rows.Scan(&doc, &auto); err != nil {
			return nil, err
		}
		var inc Incident
		if err := json.Unmarshal([]byte(doc), &inc); err != nil {
			return nil, err
		}
		if inc.MergedInto != "" {
			continue // counted in the incident it was merged into, as ResponseMetrics does
		}
		i := int(inc.CreatedAt.UTC().Sub(first) / (24 * time.Hour))
		if i < 0 || i >= len(days) {
			continue
		}
		day, a := &days[i], &accs[i]
		day.Incidents++
		if auto {
			day.Automated++
		}
		day.SLABreaches += len(inc.Breaches)
		d := inc.Durations()
		for _, p := range []struct {
			v   *float64
			dst *[]float64
		}{{d.Detect, &a.ttd}, {d.Acknowledge, &a.tta}, {d.Contain, &a.ttc}, {d.Resolve, &a.ttr}} {
			if p.v != nil {
				*p.dst = append(*p.dst, *p.v)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range days {
		a := &accs[i]
		days[i].MTTD, days[i].MTTA, days[i].MTTC, days[i].MTTR = summarize(a.ttd), summarize(a.tta), summarize(a.ttc), summarize(a.ttr)
	}
	return days, nil
}
