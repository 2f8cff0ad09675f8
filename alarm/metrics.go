package alarm

import (
	"context"
	"encoding/json"
	"sort"
	"time"
)

// Durations are an incident's response times in seconds; nil when the step
// has not happened.
type Durations struct {
	Detect      *float64 `json:"time_to_detect"`      // first event to first alert
	Acknowledge *float64 `json:"time_to_acknowledge"` // incident to first human step
	Contain     *float64 `json:"time_to_contain"`
	Resolve     *float64 `json:"time_to_resolve"`
}

func secs(from time.Time, to *time.Time) *float64 {
	if to == nil || from.IsZero() {
		return nil
	}
	v := to.Sub(from).Seconds()
	return &v
}

// Durations computes the incident's response times.
func (i *Incident) Durations() Durations {
	var d Durations
	if !i.FirstEvent.IsZero() && !i.FirstAlert.IsZero() {
		v := max(0, i.FirstAlert.Sub(i.FirstEvent).Seconds())
		d.Detect = &v
	}
	d.Acknowledge = secs(i.CreatedAt, i.AckedAt)
	d.Contain = secs(i.CreatedAt, i.ContainedAt)
	d.Resolve = secs(i.CreatedAt, i.ResolvedAt)
	return d
}

// Stat summarizes durations in seconds.
type Stat struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	Max   float64 `json:"max"`
}

func summarize(v []float64) Stat {
	if len(v) == 0 {
		return Stat{}
	}
	sort.Float64s(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	at := func(p float64) float64 { return v[min(len(v)-1, int(p*float64(len(v))))] }
	return Stat{Count: len(v), Mean: sum / float64(len(v)), P50: at(0.5), P90: at(0.9), Max: v[len(v)-1]}
}

// ResponseMetrics aggregates incidents created in a window.
type ResponseMetrics struct {
	From        time.Time        `json:"from"`
	To          time.Time        `json:"to"`
	Incidents   int              `json:"incidents"`
	Open        int              `json:"open"`
	ByPriority  map[string]int   `json:"by_priority"`
	ByStatus    map[string]int   `json:"by_status"`
	ByVerdict   map[string]int   `json:"by_verdict"`
	ByRule      map[string]int   `json:"by_rule"`
	SLABreaches int              `json:"sla_breaches"`
	MTTD        Stat             `json:"time_to_detect"`
	MTTA        Stat             `json:"time_to_acknowledge"`
	MTTC        Stat             `json:"time_to_contain"`
	MTTR        Stat             `json:"time_to_resolve"`
	Held        map[string]int64 `json:"held_alerts"`
}

// ResponseMetrics computes the figures for incidents created in [from, to).
func (s *Store) ResponseMetrics(ctx context.Context, from, to time.Time) (ResponseMetrics, error) {
	m := ResponseMetrics{From: from, To: to, ByPriority: map[string]int{}, ByStatus: map[string]int{},
		ByVerdict: map[string]int{}, ByRule: map[string]int{}}
	rows, err := s.db.R.QueryContext(ctx, `SELECT doc FROM incidents WHERE created_at >= ? AND created_at < ?`, ns(from), ns(to))
	if err != nil {
		return m, err
	}
	defer rows.Close()
	var ttd, tta, ttc, ttr []float64
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return m, err
		}
		var inc Incident
		if err := json.Unmarshal([]byte(doc), &inc); err != nil {
			return m, err
		}
		if inc.MergedInto != "" {
			continue // its alerts and clocks live on in the target
		}
		m.Incidents++
		if inc.Open() {
			m.Open++
		}
		m.ByPriority[inc.Priority]++
		m.ByStatus[string(inc.Status)]++
		v := string(inc.Verdict)
		if v == "" {
			v = "undecided"
		}
		m.ByVerdict[v]++
		for _, r := range inc.Rules {
			m.ByRule[r]++
		}
		m.SLABreaches += len(inc.Breaches)
		d := inc.Durations()
		for _, p := range []struct {
			v   *float64
			dst *[]float64
		}{{d.Detect, &ttd}, {d.Acknowledge, &tta}, {d.Contain, &ttc}, {d.Resolve, &ttr}} {
			if p.v != nil {
				*p.dst = append(*p.dst, *p.v)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return m, err
	}
	m.MTTD, m.MTTA, m.MTTC, m.MTTR = summarize(ttd), summarize(tta), summarize(ttc), summarize(ttr)
	m.Held, err = s.SuppressedCount(ctx)
	return m, err
}
