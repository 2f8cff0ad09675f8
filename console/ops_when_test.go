package console

import (
	"testing"
	"time"
)

func TestOpsWhen(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"", time.Time{}, false},
		{"2026-11-26T10:00:00Z", time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), false},
		{"2026-11-26T10:00:00.5+01:00", time.Date(2026, 11, 26, 9, 0, 0, 5e8, time.UTC), false},
		{"15m", now.Add(-15 * time.Minute), false},
		{" 1h ", now.Add(-time.Hour), false},
		{"7d", now.AddDate(0, 0, -7), false},
		{"1d12h", now.Add(-36 * time.Hour), false},
		{"0s", time.Time{}, true},
		{"-1h", time.Time{}, true},
		{"d", time.Time{}, true},
		{"xd", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	} {
		got, err := opsWhen(c.in, now)
		if (err != nil) != c.bad || !got.Equal(c.want) {
			t.Errorf("opsWhen(%q) = %v, %v; want %v (error: %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

func FuzzOpsWhen(f *testing.F) {
	for _, s := range []string{"", "1h", "7d", "1d12h", "2026-11-26T10:00:00Z", "-5d", "99999999999d", "1d-1h"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := opsWhen(s, now)
		if err != nil || got.IsZero() {
			return
		}
		if _, perr := time.Parse(time.RFC3339Nano, s); perr != nil && !got.Before(now) {
			t.Fatalf("the span %q is not back from now: %v", s, got)
		}
	})
}
