// Package retryafter reads the Retry-After header (RFC 9110 §10.2.3), for
// every client in Riposte that honours it: notification channels,
// connectors and TAXII feeds.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Max caps a wait: a receiver cannot hold a sender back for more than a day.
const Max = 24 * time.Hour

// Parse reads a Retry-After value, delay-seconds or an HTTP-date, relative
// to now. ok is false when the value is empty or unreadable (a negative
// number, a malformed date), so the caller uses its own backoff; an
// HTTP-date in the past means "now" (0, true).
func Parse(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		if n > uint64(Max/time.Second) {
			return Max, true
		}
		return time.Duration(n) * time.Second, true
	}
	if strings.HasPrefix(v, "+") || strings.HasPrefix(v, "-") {
		return 0, false
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), Max), true
}
