package detect

import (
	"testing"
	"time"

	"github.com/riposte-soar/riposte/alert"
)

// TestCorrelationAlertIDs: two firings of one group whose windows end in the
// same second (syslog times are whole seconds) are two alerts; the same
// firing seen again after a crash is the same alert.
func TestCorrelationAlertIDs(t *testing.T) {
	end := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	hit := func(first string) *alert.Alert {
		return &alert.Alert{Rule: alert.Rule{ID: "ssh-brute-force"}, Fingerprint: "fp-203.0.113.7", Time: end,
			EventIDs:    []string{first, first + "-2"},
			Correlation: &alert.Correlation{Type: "event_count", WindowStart: end.Add(-time.Minute), WindowEnd: end, Count: 10}}
	}
	a, again, next := hit("01EVENTA"), hit("01EVENTA"), hit("01EVENTK")
	if AlertID(a) != AlertID(again) {
		t.Error("the same firing got two ids: a redelivery would become a second alert")
	}
	if AlertID(a) == AlertID(next) {
		t.Error("a second firing in the same second got the first one's id: it would be dropped as a redelivery")
	}
}
