package main

import (
	"time"
)

// One rule for time in everything printed for people: a point in time is
// RFC 3339 with its zone (stamp), so it can be pasted into --from, a
// query or another tool and means the same thing in any time zone; a
// span is a Go duration rounded to the second (span, age). TestTimeFormat
// keeps other layouts out of the commands.

// stamp is t in RFC 3339 with its zone, "-" for no time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// span is d rounded for people: whole seconds from a second up,
// milliseconds below.
func span(d time.Duration) string {
	if d >= time.Second || d <= -time.Second {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}

// age is how long ago t was, rounded to the second.
func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String()
}
