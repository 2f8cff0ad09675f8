package respond

import (
	"testing"
	"time"
)

func TestCron(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04 Mon", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		expr string
		when string
		want bool
	}{
		{"* * * * *", "2026-11-26 10:07 Thu", true},
		{"*/15 * * * *", "2026-11-26 10:30 Thu", true},
		{"*/15 * * * *", "2026-11-26 10:31 Thu", false},
		{"0 9-17 * * 1-5", "2026-11-26 12:00 Thu", true},
		{"0 9-17 * * 1-5", "2026-11-29 12:00 Sun", false},
		{"30 2 1 * *", "2026-12-01 02:30 Tue", true},
		{"0 0 * * 7", "2026-11-29 00:00 Sun", true},
		{"0 0 13 * 5", "2026-11-13 00:00 Fri", true},
		{"0 0 13 * 5", "2026-11-20 00:00 Fri", true},
		{"0 0 13 * 5", "2026-11-19 00:00 Thu", false},
		{"5,10 * * * *", "2026-11-26 10:10 Thu", true},
	}
	for _, c := range cases {
		cr, err := parseCron(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := cr.match(at(c.when)); got != c.want {
			t.Errorf("%q at %s = %v, want %v", c.expr, c.when, got, c.want)
		}
	}
	for _, bad := range []string{"* * * *", "60 * * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"} {
		if _, err := parseCron(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
