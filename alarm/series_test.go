package alarm

import (
	"context"
	"testing"
	"time"
)

func TestResponseSeriesPerDay(t *testing.T) {
	s, _ := newService(t, nil, DefaultConfig())
	ctx := context.Background()
	day1, day3 := t0, t0.Add(48*time.Hour)
	apply(t, s, mk("r1", "high", day1, nil, "h1", "", ""))
	apply(t, s, mk("r2", "low", day3, nil, "h2", "", ""))
	apply(t, s, mk("r3", "low", day3.Add(time.Hour), nil, "h3", "", ""))
	incs := queue(t, s)
	if len(incs) != 3 {
		t.Fatalf("%d incidents, want 3", len(incs))
	}
	contained := StatusContained
	var byPlaybook string
	for _, inc := range incs {
		if inc.Rules[0] == "r2" {
			byPlaybook = inc.ID
			if _, err := s.Update(ctx, inc.ID, Change{Status: &contained}, "playbook:run-1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	from := t0.Truncate(24 * time.Hour)
	days, err := s.Store().ResponseSeries(ctx, from, from.Add(4*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ incidents, automated, detected, acked int }{{1, 0, 1, 0}, {0, 0, 0, 0}, {2, 1, 2, 1}, {0, 0, 0, 0}}
	if len(days) != len(want) {
		t.Fatalf("%d days, want %d", len(days), len(want))
	}
	for i, w := range want {
		d := days[i]
		if !d.Date.Equal(from.Add(time.Duration(i)*24*time.Hour)) || d.Incidents != w.incidents || d.Automated != w.automated ||
			d.MTTD.Count != w.detected || d.MTTA.Count != w.acked {
			t.Errorf("day %d: %+v, want %+v", i, d, w)
		}
		if w.detected > 0 && d.MTTD.Mean != 1 {
			t.Errorf("day %d: mean time to detect %v s, want 1 (events are 1 s before their alerts)", i, d.MTTD.Mean)
		}
	}
	// The window's totals are the same computation.
	m, err := s.Store().ResponseMetrics(ctx, from, from.Add(4*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if m.Incidents != 3 || m.MTTA.Count != 1 || days[2].MTTC.Count != 1 {
		t.Errorf("window: %d incidents, %d acknowledged; day 3 contained %d (incident %s)", m.Incidents, m.MTTA.Count, days[2].MTTC.Count, byPlaybook)
	}
}
