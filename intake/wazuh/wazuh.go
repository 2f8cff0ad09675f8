// Package wazuh turns Wazuh alerts (the records of alerts.json) into
// Riposte alerts.
package wazuh

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/intake/raise"
)

// Name is the format's name in ?format= and in rule ids (wazuh:RULE).
const Name = "wazuh"

// Match says whether a document is a Wazuh alert: a rule object and the
// agent or manager that raised it.
func Match(top map[string]json.RawMessage) bool {
	r, ok := top["rule"]
	if !ok || len(r) == 0 || r[0] != '{' {
		return false
	}
	_, agent := top["agent"]
	_, manager := top["manager"]
	return agent || manager
}

type record struct {
	Timestamp string `json:"timestamp"`
	ID        string `json:"id"`
	Rule      struct {
		ID          string      `json:"id"`
		Level       json.Number `json:"level"`
		Description string      `json:"description"`
		Groups      []string    `json:"groups"`
		MITRE       struct {
			ID     []string `json:"id"`
			Tactic []string `json:"tactic"`
		} `json:"mitre"`
	} `json:"rule"`
	Agent struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"agent"`
	Data struct {
		SrcIP   string `json:"srcip"`
		DstIP   string `json:"dstip"`
		SrcUser string `json:"srcuser"`
		DstUser string `json:"dstuser"`
	} `json:"data"`
}

// Alerts reads one Wazuh alert.
func Alerts(raw []byte, now time.Time) ([]alert.Alert, error) {
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("not a Wazuh alert: %v", err)
	}
	if r.Rule.ID == "" {
		return nil, fmt.Errorf("the Wazuh alert has no rule.id")
	}
	at := raise.Time(r.Timestamp, now)
	// Wazuh's id ("1642585564.123456") names the alert; older records
	// without one are named by time, rule and agent.
	key := r.ID
	if key == "" {
		key = r.Timestamp + "|" + r.Rule.ID + "|" + r.Agent.ID + "|" + r.Agent.Name
	}
	lv, err := level(r.Rule.Level)
	if err != nil {
		return nil, err
	}
	a := raise.New(Name, r.Rule.ID, r.Rule.Description, lv, at, now, key)
	// The agent is the host the alert is about (the manager's own alerts
	// come from agent 000, the manager host).
	raise.Name(&a.Entities.Hosts, r.Agent.Name)
	a.Host = raise.Clean(r.Agent.Name, 256)
	raise.Address(&a.Entities.SourceIPs, r.Data.SrcIP)
	raise.Address(&a.Entities.DestIPs, r.Data.DstIP)
	raise.Name(&a.Entities.Users, r.Data.DstUser)
	raise.Name(&a.Entities.Users, r.Data.SrcUser)
	for _, v := range r.Rule.MITRE.ID {
		raise.Attack(&a, v)
	}
	for _, v := range r.Rule.MITRE.Tactic {
		raise.Attack(&a, v)
	}
	for _, g := range r.Rule.Groups {
		raise.Tag(&a, "group."+g)
	}
	return []alert.Alert{a}, nil
}

// level maps Wazuh's rule level, 0-15, to the Sigma level, after Wazuh's
// own table: 12 and up are high-importance events, 15 a severe attack.
func level(n json.Number) (string, error) {
	v, err := n.Int64()
	if n == "" {
		v, err = 0, nil
	}
	if err != nil || v < 0 || v > 15 {
		return "", fmt.Errorf("rule.level %q is not a Wazuh level from 0 to 15", n)
	}
	switch {
	case v >= 15:
		return "critical", nil
	case v >= 12:
		return "high", nil
	case v >= 7:
		return "medium", nil
	case v >= 3:
		return "low", nil
	}
	return "informational", nil
}
