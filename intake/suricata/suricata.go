// Package suricata turns Suricata EVE JSON alert records (event_type
// "alert") into Riposte alerts.
package suricata

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/intake/raise"
)

// Name is the format's name in ?format= and in rule ids (suricata:SID).
const Name = "suricata"

// Match says whether a document is an EVE record: every one has event_type.
func Match(top map[string]json.RawMessage) bool {
	_, ok := top["event_type"]
	return ok
}

type eve struct {
	Timestamp string      `json:"timestamp"`
	FlowID    json.Number `json:"flow_id"`
	EventType string      `json:"event_type"`
	SrcIP     string      `json:"src_ip"`
	DestIP    string      `json:"dest_ip"`
	Proto     string      `json:"proto"`
	Host      string      `json:"host"`
	Alert     *struct {
		Action      string          `json:"action"`
		GID         json.Number     `json:"gid"`
		SignatureID json.Number     `json:"signature_id"`
		Signature   string          `json:"signature"`
		Category    string          `json:"category"`
		Severity    json.Number     `json:"severity"`
		Metadata    json.RawMessage `json:"metadata"`
	} `json:"alert"`
}

// Alerts reads one EVE record. Records other than alerts (flow, dns, tls,
// http, ...) are what happened on the network, not detections: they are
// refused with a pointer to POST /api/v1/events.
func Alerts(raw []byte, now time.Time) ([]alert.Alert, error) {
	var e eve
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("not a Suricata EVE record: %v", err)
	}
	if e.EventType != "alert" {
		return nil, fmt.Errorf("event_type %q of this Suricata record is an event, not an alert: send it to POST /api/v1/events", e.EventType)
	}
	if e.Alert == nil || e.Alert.SignatureID == "" {
		return nil, fmt.Errorf("the Suricata alert has no alert.signature_id")
	}
	sid := e.Alert.SignatureID.String()
	at := raise.Time(e.Timestamp, now)
	// One signature fires once per flow that matters; without a flow id
	// the record's own time and addresses name it.
	key := e.FlowID.String() + "|" + e.Alert.GID.String() + ":" + sid
	if e.FlowID == "" {
		key = e.Timestamp + "|" + e.SrcIP + "|" + e.DestIP + "|" + sid
	}
	a := raise.New(Name, sid, e.Alert.Signature, level(e.Alert.Severity), at, now, key)
	raise.Address(&a.Entities.SourceIPs, e.SrcIP)
	raise.Address(&a.Entities.DestIPs, e.DestIP)
	// host is the sensor that saw the traffic, not a party to it: as an
	// entity it would join every alert of that sensor into one incident.
	a.Host = raise.Clean(e.Host, 256)
	if e.Alert.Category != "" {
		raise.Tag(&a, "category."+e.Alert.Category)
	}
	if e.Proto != "" {
		raise.Tag(&a, "proto."+e.Proto)
	}
	if e.Alert.Action != "" {
		raise.Tag(&a, "action."+e.Alert.Action)
	}
	var md map[string][]string
	if json.Unmarshal(e.Alert.Metadata, &md) == nil {
		for _, k := range []string{"mitre_technique_id", "mitre_tactic_name"} {
			for _, v := range md[k] {
				raise.Attack(&a, v)
			}
		}
	}
	return []alert.Alert{a}, nil
}

// level maps Suricata's severity, 1 the most severe, to the Sigma level.
func level(s json.Number) string {
	switch strings.TrimSpace(s.String()) {
	case "1":
		return "high"
	case "2":
		return "medium"
	case "3":
		return "low"
	}
	return "low"
}
