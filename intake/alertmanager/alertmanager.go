// Package alertmanager turns Prometheus Alertmanager webhook payloads
// (version 4) into Riposte alerts: one per firing alert of the payload.
package alertmanager

import (
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/intake/raise"
)

// Name is the format's name in ?format= and in rule ids
// (alertmanager:ALERTNAME).
const Name = "alertmanager"

// Match says whether a document is a webhook payload: alerts with the
// receiver or group key they were routed by.
func Match(top map[string]json.RawMessage) bool {
	al, ok := top["alerts"]
	if !ok || len(al) == 0 || al[0] != '[' {
		return false
	}
	_, recv := top["receiver"]
	_, gk := top["groupKey"]
	return recv || gk
}

type payload struct {
	Version string `json:"version"`
	Alerts  []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    string            `json:"startsAt"`
		Fingerprint string            `json:"fingerprint"`
	} `json:"alerts"`
}

// Alerts reads one payload. Resolved alerts raise nothing: the problem is
// over, and the incident holding the firing one is people's to close.
func Alerts(raw []byte, now time.Time) ([]alert.Alert, error) {
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("not an Alertmanager webhook payload: %v", err)
	}
	if p.Version != "" && p.Version != "4" {
		return nil, fmt.Errorf("webhook version %q is not supported: Alertmanager sends version 4", p.Version)
	}
	var out []alert.Alert
	for i, am := range p.Alerts {
		if am.Status == "resolved" {
			continue
		}
		name := am.Labels["alertname"]
		if name == "" {
			return nil, fmt.Errorf("alert %d of the Alertmanager payload has no alertname label", i)
		}
		at := raise.Time(am.StartsAt, now)
		// The fingerprint names the label set; with startsAt it names
		// this firing of it, which Alertmanager repeats every
		// repeat_interval until it resolves.
		key := am.Fingerprint + "|" + am.StartsAt
		if am.Fingerprint == "" {
			key = fmt.Sprint(am.Labels) + "|" + am.StartsAt
		}
		lv, ok := raise.LevelName(am.Labels["severity"])
		if !ok {
			lv = "medium"
		}
		title := am.Annotations["summary"]
		if title == "" {
			title = name
		}
		a := raise.New(Name, name, title, lv, at, now, key)
		for _, k := range []string{"instance", "host", "hostname", "node", "nodename"} {
			if v := am.Labels[k]; v != "" {
				// instance is host:port, the port of the exporter.
				if h, _, err := net.SplitHostPort(v); err == nil {
					v = h
				}
				if ip, ok := alert.Address(v); ok {
					v = ip
				}
				raise.Name(&a.Entities.Hosts, v)
			}
		}
		for _, k := range []string{"source_ip", "src_ip", "client_ip"} {
			raise.Address(&a.Entities.SourceIPs, am.Labels[k])
		}
		for _, k := range []string{"user", "username"} {
			raise.Name(&a.Entities.Users, am.Labels[k])
		}
		for _, k := range []string{"mitre_technique", "mitre_tactic"} {
			raise.Attack(&a, am.Labels[k])
		}
		out = append(out, a)
	}
	return out, nil
}
