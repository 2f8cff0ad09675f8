// Package generic turns JSON alerts of any detector into Riposte alerts
// through one documented mapping (see README.md).
package generic

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/intake/raise"
)

// Name is the format's name in ?format=.
const Name = "generic"

// Match says whether a document has the generic mapping's shape: a title.
func Match(top map[string]json.RawMessage) bool {
	_, ok := top["title"]
	return ok
}

type doc struct {
	ID       string          `json:"id"`
	Detector string          `json:"detector"`
	RuleID   string          `json:"rule_id"`
	Title    string          `json:"title"`
	Level    json.RawMessage `json:"level"`
	Time     string          `json:"time"`
	SourceIP string          `json:"source_ip"`
	DestIP   string          `json:"dest_ip"`
	Host     string          `json:"host"`
	User     string          `json:"user"`
	Tags     []string        `json:"tags"`
}

// Alerts reads one document.
func Alerts(raw []byte, now time.Time) ([]alert.Alert, error) {
	var d doc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("not a generic alert (see the mapping in intake/generic/README.md): %v", err)
	}
	if raise.Clean(d.Title, 512) == "" {
		return nil, fmt.Errorf("generic alert has no title")
	}
	lv, err := level(d.Level)
	if err != nil {
		return nil, err
	}
	detector := "generic"
	if d.Detector != "" {
		detector = "generic." + raise.Clean(d.Detector, 64)
	}
	rule := d.RuleID
	if rule == "" {
		rule = d.Title
	}
	// Without an id of its own, the document is its id: the same bytes
	// sent again are the same alert.
	key := d.ID
	if key == "" {
		h := sha256.Sum256(raw)
		key = hex.EncodeToString(h[:])
	}
	a := raise.New(detector, rule, d.Title, lv, raise.Time(d.Time, now), now, key)
	raise.Address(&a.Entities.SourceIPs, d.SourceIP)
	raise.Address(&a.Entities.DestIPs, d.DestIP)
	raise.Name(&a.Entities.Hosts, d.Host)
	a.Host = raise.Clean(d.Host, 256)
	raise.Name(&a.Entities.Users, d.User)
	for _, t := range d.Tags {
		raise.Tag(&a, t)
	}
	return []alert.Alert{a}, nil
}

// level reads a Sigma level name (or a synonym), or a number 1-4 as the
// alarm's severity counts: 1 low, 2 medium, 3 high, 4 critical. Absent is
// medium.
func level(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "medium", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if lv, ok := raise.LevelName(s); ok {
			return lv, nil
		}
	} else {
		s = string(raw)
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 4 {
		return []string{"low", "medium", "high", "critical"}[n-1], nil
	}
	return "", fmt.Errorf("generic alert level %s is not informational, low, medium, high, critical or 1-4", raw)
}
