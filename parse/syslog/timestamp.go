package syslog

import (
	"strings"
	"time"
)

// Timestamps are parsed by hand rather than with time.Parse: the layouts are
// fixed, hand parsing neither allocates nor builds error values for the
// frequent "is this a timestamp?" probes, and it lets validation be exact
// (time.Date would silently turn Feb 30 into Mar 2).

func digits2(s string, i int) (int, bool) {
	if !isDigit(s[i]) || !isDigit(s[i+1]) {
		return 0, false
	}
	return int(s[i]-'0')*10 + int(s[i+1]-'0'), true
}

func digits4(s string, i int) (int, bool) {
	hi, ok1 := digits2(s, i)
	lo, ok2 := digits2(s, i+2)
	return hi*100 + lo, ok1 && ok2
}

// looksLikeISODate reports whether s starts with "YYYY-MM-DD".
func looksLikeISODate(s string) bool {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	_, ok1 := digits4(s, 0)
	_, ok2 := digits2(s, 5)
	_, ok3 := digits2(s, 8)
	return ok1 && ok2 && ok3
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func validDateTime(year, month, day, hour, minute, sec int) bool {
	return month >= 1 && month <= 12 && day >= 1 && day <= daysIn(month, year) &&
		hour < 24 && minute < 60 && sec < 60
}

// parseRFC3339 parses a whole RFC 3339 timestamp such as
// "2003-08-24T05:14:15.000003-07:00". RFC 5424 allows at most 6 fractional
// digits but senders emit nanoseconds, so up to 9 are taken. A missing zone
// is accepted only when loc is non-nil (rsyslog's 3164 output may omit it)
// and then means loc. Leap seconds are rejected as RFC 5424 forbids them.
func parseRFC3339(s string, loc *time.Location) (time.Time, bool) {
	if len(s) < 19 || !looksLikeISODate(s) || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, _ := digits4(s, 0)
	month, _ := digits2(s, 5)
	day, _ := digits2(s, 8)
	hour, ok1 := digits2(s, 11)
	minute, ok2 := digits2(s, 14)
	sec, ok3 := digits2(s, 17)
	if !ok1 || !ok2 || !ok3 || !validDateTime(year, month, day, hour, minute, sec) {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && isDigit(s[i]) && i-start < 9 {
			nsec = nsec*10 + int(s[i]-'0')
			i++
		}
		n := i - start
		if n == 0 {
			return time.Time{}, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
	}
	switch {
	case i == len(s):
		if loc == nil {
			return time.Time{}, false
		}
	case s[i] == 'Z' || s[i] == 'z':
		loc = time.UTC
		i++
	case s[i] == '+' || s[i] == '-':
		if len(s)-i != 6 || s[i+3] != ':' {
			return time.Time{}, false
		}
		oh, ok1 := digits2(s, i+1)
		om, ok2 := digits2(s, i+4)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		off := oh*3600 + om*60
		if s[i] == '-' {
			off = -off
		}
		if off == 0 {
			loc = time.UTC // "-00:00" is RFC 3339's "offset unknown"; UTC is the best reading
		} else {
			// Unnamed whole-hour zones are cached by the time package, so
			// the common case does not allocate.
			loc = time.FixedZone("", off)
		}
		i += 6
	default:
		return time.Time{}, false
	}
	if i != len(s) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), true
}

const monthNames = "janfebmaraprmayjunjulaugsepoctnovdec"

// monthOf returns the month (1-12) named by the first three bytes of s, in
// any case since some senders upper-case it, or 0.
func monthOf(s string) int {
	if len(s) < 3 {
		return 0
	}
	a, b, c := s[0]|0x20, s[1]|0x20, s[2]|0x20
	for m := 0; m < 12; m++ {
		if monthNames[3*m] == a && monthNames[3*m+1] == b && monthNames[3*m+2] == c {
			return m + 1
		}
	}
	return 0
}

// parse3164Time recognizes a timestamp at the start of a BSD message:
// "Mmm dd hh:mm:ss" (day padded with a space or a zero, or not at all), the
// same with ".fraction" or a year before the time as network gear sends, or
// an RFC 3339 timestamp as rsyslog sends. ok reports that a timestamp-shaped
// token was consumed (n bytes); t is zero when its values are impossible.
func parse3164Time(s string, now time.Time) (t time.Time, n int, ok bool) {
	if looksLikeISODate(s) {
		n = strings.IndexByte(s, ' ')
		if n < 0 {
			n = len(s)
		}
		if now.IsZero() {
			now = time.Now()
		}
		t, _ = parseRFC3339(s[:n], now.Location())
		return t, n, true
	}
	month := monthOf(s)
	if month == 0 || len(s) < 4 || s[3] != ' ' {
		return time.Time{}, 0, false
	}
	i := 4
	if i < len(s) && s[i] == ' ' {
		i++
	}
	day := 0
	for j := 0; j < 2 && i < len(s) && isDigit(s[i]); j++ {
		day = day*10 + int(s[i]-'0')
		i++
	}
	if i == 4 || i >= len(s) || s[i] != ' ' || !isDigit(s[i-1]) {
		return time.Time{}, 0, false
	}
	i++
	year := -1
	if len(s)-i >= 5 && s[i+4] == ' ' {
		if y, ok := digits4(s, i); ok {
			year = y
			i += 5
		}
	}
	if len(s)-i < 8 || s[i+2] != ':' || s[i+5] != ':' {
		return time.Time{}, 0, false
	}
	hour, ok1 := digits2(s, i)
	minute, ok2 := digits2(s, i+3)
	sec, ok3 := digits2(s, i+6)
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, 0, false
	}
	i += 8
	nsec := 0
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		i++
		nd := 0
		for i < len(s) && isDigit(s[i]) {
			if nd < 9 {
				nsec = nsec*10 + int(s[i]-'0')
				nd++
			}
			i++
		}
		for ; nd < 9; nd++ {
			nsec *= 10
		}
	}
	if i < len(s) && s[i] != ' ' {
		return time.Time{}, 0, false
	}
	if now.IsZero() {
		now = time.Now()
	}
	if year < 0 {
		// No year on the wire: assume the current one unless that puts the
		// message in the future, which happens to December lines read in
		// January. A day of slack absorbs clock skew and time zones.
		year = now.Year()
		c := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, now.Location())
		if c.Sub(now) > 24*time.Hour {
			year--
		}
	}
	if !validDateTime(year, month, day, hour, minute, sec) {
		return time.Time{}, i, true
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, now.Location()), i, true
}
