// Package event defines the normalized Event that every ingest source produces
// and every later stage (detect, alert, respond) consumes.
package event

import (
	"crypto/rand"
	"encoding/json"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// LogSource says which Sigma logsource an event belongs to, so detection only
// offers an event to the rules written for it.
type LogSource struct {
	Product  string `json:"product,omitempty"`
	Service  string `json:"service,omitempty"`
	Category string `json:"category,omitempty"`
}

// Event is one normalized record.
type Event struct {
	// ID is a ULID: sortable by receive time and unique across nodes.
	ID string `json:"id"`
	// Time is when the event happened according to the event itself;
	// Received is when Riposte accepted it. Time falls back to Received.
	Time     time.Time `json:"time"`
	Received time.Time `json:"received"`
	// Host is the machine the event is about (Computer, hostname, syslog host).
	Host string `json:"host,omitempty"`
	// Source names the ingest source that accepted the event ("http", "syslog-udp", "file:/var/log/auth.log").
	Source    string    `json:"source"`
	LogSource LogSource `json:"logsource"`
	// Fields holds the flattened fields: nested objects become dotted keys.
	// Values are string, float64, int64, bool, nil or []any of those.
	Fields map[string]any `json:"fields"`
	// Raw is the exact bytes received for this event.
	Raw []byte `json:"-"`
}

type wireEvent struct {
	ID        string         `json:"id"`
	Time      time.Time      `json:"time"`
	Received  time.Time      `json:"received"`
	Host      string         `json:"host,omitempty"`
	Source    string         `json:"source"`
	LogSource LogSource      `json:"logsource"`
	Fields    map[string]any `json:"fields"`
	Raw       *string        `json:"raw,omitempty"`
	RawB64    []byte         `json:"raw_b64,omitempty"`
}

// MarshalJSON writes Raw as text when it is valid UTF-8 and as base64 in
// raw_b64 otherwise, so no byte of what was received is ever altered.
func (e Event) MarshalJSON() ([]byte, error) {
	w := wireEvent{ID: e.ID, Time: e.Time, Received: e.Received, Host: e.Host,
		Source: e.Source, LogSource: e.LogSource, Fields: e.Fields}
	if utf8.Valid(e.Raw) {
		s := string(e.Raw)
		w.Raw = &s
	} else {
		w.RawB64 = e.Raw
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Event{ID: w.ID, Time: w.Time, Received: w.Received, Host: w.Host,
		Source: w.Source, LogSource: w.LogSource, Fields: w.Fields}
	switch {
	case w.Raw != nil:
		e.Raw = []byte(*w.Raw)
	default:
		e.Raw = w.RawB64
	}
	return nil
}

// Get returns a field value and whether it is present.
func (e *Event) Get(name string) (any, bool) {
	v, ok := e.Fields[name]
	return v, ok
}

// GetString returns a field as a string ("" when absent or not a string).
func (e *Event) GetString(name string) string {
	s, _ := e.Fields[name].(string)
	return s
}

var (
	idMu      sync.Mutex
	idEntropy = ulid.Monotonic(rand.Reader, 0)
)

// NewID returns a new ULID for t. IDs made in one process are strictly
// increasing, which keeps the event store's primary key append-only.
func NewID(t time.Time) string {
	idMu.Lock()
	defer idMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), idEntropy).String()
}
