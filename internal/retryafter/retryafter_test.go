package retryafter

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"3", 3 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Thu, 01 Jan 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Thursday, 01-Jan-26 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Thu Jan  1 12:00:10 2026", 10 * time.Second, true},    // asctime
		{"Thu, 01 Jan 2026 11:00:00 GMT", 0, true},
		{"Fri, 01 Jan 2027 12:00:00 GMT", Max, true},
		{"999999999", Max, true},
		{"99999999999999999999999", 0, false},
	}
	for _, c := range cases {
		if got, ok := Parse(c.in, now); got != c.want || ok != c.ok {
			t.Errorf("%q: %v %v, want %v %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "Thu, 01 Jan 2026 12:00:30 GMT", "18446744073709551615"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := Parse(v, now)
		if d < 0 || d > Max || (!ok && d != 0) {
			t.Errorf("%q: %v %v", v, d, ok)
		}
	})
}
