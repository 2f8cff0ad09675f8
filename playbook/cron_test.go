package playbook

import (
	"testing"
	"time"
)

// ParseCron never panics (the library does on "CRON_TZ=UTC" alone), and
// whatever it accepts fires at some time.
func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"* * * * *", "0 5-3 * * *", "/5 * * * *", "1,,2 * * * *", "CRON_TZ=UTC", "TZ=Europe/Berlin @daily",
		"0 0 30 2 *", "0 0 * * 5-7", "@every 1m", "*/7 1-5/2 L * ?", "0 0 * * 7-7", "CRON_TZ= 1 * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := ParseCron(expr)
		if err != nil {
			return
		}
		if s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
			t.Errorf("%q accepted but never fires", expr)
		}
	})
}
