package alarm

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A silence longer than the configured cap is refused with an error naming
// the cap and its key; one within it is accepted and audited as a silence.
func TestSilenceMaxDuration(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSilence = 24 * time.Hour
	s, _ := newService(t, nil, cfg)
	ctx := context.Background()
	now := time.Now().UTC()
	m := []*Matcher{{Field: "host", Op: "=", Value: "web-1"}}
	for _, c := range []struct {
		name       string
		start, end time.Time
		err        string
	}{
		{"within the cap", now, now.Add(23 * time.Hour), ""},
		{"beyond the cap", now, now.Add(25 * time.Hour), "at most 24h0m0s (alarm.silences.max_duration)"},
		{"a year", now, now.AddDate(1, 0, 0), "alarm.silences.max_duration"},
		{"started long ago, ends within the cap", now.AddDate(0, -1, 0), now.Add(time.Hour), ""},
		{"starts later, lasts a day", now.Add(48 * time.Hour), now.Add(71 * time.Hour), ""},
	} {
		sil, err := s.AddSilence(ctx, &Silence{Matchers: m, StartsAt: c.start, EndsAt: c.end, Reason: "maintenance"}, "token:a (ann)")
		if c.err == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: silence %v, error %v; want an error saying %q", c.name, sil, err, c.err)
		}
	}
	var target string
	if err := s.db.R.QueryRowContext(ctx, `SELECT target FROM audit WHERE action = 'silence.create' LIMIT 1`).Scan(&target); err != nil || !strings.HasPrefix(target, "silence:") {
		t.Fatalf("silence audit target %q, %v", target, err)
	}
}
