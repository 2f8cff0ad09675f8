// Package alert defines the Alert: one detection hit, produced by the detect
// stage (a Sigma rule, a correlation, or a threat-intel indicator) and
// consumed by the alarm stage, which deduplicates and groups alerts into
// incidents.
package alert

import (
	"encoding/json"
	"time"
)

// Kind says what produced an alert.
type Kind string

const (
	KindSigma       Kind = "sigma"
	KindCorrelation Kind = "correlation"
	KindIndicator   Kind = "indicator"
	// KindExternal is an alert raised by another detector (Suricata,
	// Wazuh, Alertmanager, ...) and sent to POST /api/v1/alerts.
	KindExternal Kind = "external"
)

// Rule identifies what fired.
type Rule struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Level is the Sigma level: informational, low, medium, high, critical.
	Level string   `json:"level"`
	Tags  []string `json:"tags,omitempty"` // e.g. attack.t1110.001, attack.credential_access
	// Version is the stored rule version that fired (0 for rules loaded from files).
	Version int `json:"version,omitempty"`
}

// Entities are what the alert is about, extracted from its events; the alarm
// stage groups alerts that share them.
type Entities struct {
	Hosts     []string `json:"hosts,omitempty"`
	Users     []string `json:"users,omitempty"`
	SourceIPs []string `json:"source_ips,omitempty"`
	DestIPs   []string `json:"dest_ips,omitempty"`
	Processes []string `json:"processes,omitempty"`
	Hashes    []string `json:"hashes,omitempty"`
	Domains   []string `json:"domains,omitempty"`
}

// Indicator is the threat-intel context of an indicator hit.
type Indicator struct {
	Kind       string   `json:"kind"`  // ipv4, domain, sha256, ...
	Value      string   `json:"value"` // the normalized indicator value
	Field      string   `json:"field"` // the event field that matched
	Confidence int      `json:"confidence"`
	TLP        string   `json:"tlp,omitempty"`
	Sources    []string `json:"sources,omitempty"` // feed and object ids
	Labels     []string `json:"labels,omitempty"`
}

// Correlation is the context of a correlation hit.
type Correlation struct {
	Type        string            `json:"type"`
	GroupBy     map[string]string `json:"group_by,omitempty"`
	WindowStart time.Time         `json:"window_start"`
	WindowEnd   time.Time         `json:"window_end"`
	Count       int64             `json:"count"`
}

// Alert is one detection hit.
type Alert struct {
	ID       string    `json:"id"` // ULID
	Kind     Kind      `json:"kind"`
	Rule     Rule      `json:"rule"`
	Time     time.Time `json:"time"`     // event time of the (last) matching event
	Detected time.Time `json:"detected"` // when detection produced the alert
	EventIDs []string  `json:"event_ids"`
	Entities Entities  `json:"entities"`
	Host     string    `json:"host,omitempty"`
	// Fingerprint identifies "the same alert" for deduplication: rule plus
	// the entity keys the alarm configuration names.
	Fingerprint string       `json:"fingerprint,omitempty"`
	Indicator   *Indicator   `json:"indicator,omitempty"`
	Correlation *Correlation `json:"correlation,omitempty"`
	// FirstEventTime is the earliest contributing event, for time-to-detect.
	FirstEventTime time.Time `json:"first_event_time"`
}

// DecodeMessage reads an alerts-stream message: a JSON array of alerts, or
// a single alert.
func DecodeMessage(data []byte) ([]Alert, error) {
	var out []Alert
	if len(data) > 0 && data[0] == '[' {
		err := json.Unmarshal(data, &out)
		return out, err
	}
	var a Alert
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, err
	}
	return []Alert{a}, nil
}
