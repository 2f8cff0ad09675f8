package intel

import (
	"slices"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/event"
)

// Level maps an indicator's confidence and types to a Sigma level (spec
// §7.4): 80 and above is high unless the types say the activity is benign,
// anomalous or unknown rather than malicious; 50-79 medium; 20-49 low;
// below 20, and anything typed only "benign", informational.
func Level(confidence int, labels []string) string {
	has := func(l string) bool { return slices.Contains(labels, l) }
	malicious := has("malicious-activity") || has("compromised")
	weak := !malicious && (has("anomalous-activity") || has("unknown") || has("attribution") || has("anonymization"))
	switch {
	case has("benign") && !malicious:
		return "informational"
	case confidence >= 80 && !weak:
		return "high"
	case confidence >= 50:
		return "medium"
	case confidence >= 20:
		return "low"
	}
	return "informational"
}

// RuleID is the rule id of an indicator alert: "intel:<kind>:<value>".
func RuleID(kind Kind, value string) string { return "intel:" + string(kind) + ":" + value }

// sourceIPFields are the address fields of the connection's source side.
var sourceIPFields = map[string]bool{"source.ip": true, "client.ip": true, "SourceIp": true,
	"IpAddress": true, "SourceAddress": true}

// ToAlert turns a hit into an indicator alert. ID and Fingerprint are left
// to the caller (the alarm stage sets them); Detected is now.
func ToAlert(h Hit, ev *event.Event) alert.Alert { return ToAlertAt(h, ev, time.Now().UTC()) }

// ToAlertAt is ToAlert with the detection time given, as the detect
// engine passes it to its other alerts.
func ToAlertAt(h Hit, ev *event.Event, detected time.Time) alert.Alert {
	in := &h.Indicator
	labels := in.Labels()
	conf := in.Confidence()
	a := alert.Alert{
		Kind: alert.KindIndicator,
		Rule: alert.Rule{
			ID:    RuleID(in.Kind, in.Value),
			Title: "Threat-intel match: " + string(in.Kind) + " " + in.Value,
			Level: Level(conf, labels),
		},
		Detected: detected,
		Indicator: &alert.Indicator{
			Kind:       string(in.Kind),
			Value:      in.Value,
			Field:      h.Field,
			Confidence: conf,
			TLP:        string(in.TLP()),
			Labels:     labels,
		},
	}
	for _, l := range labels {
		if strings.HasPrefix(l, "attack.") {
			a.Rule.Tags = append(a.Rule.Tags, l)
		}
	}
	for i := range in.Sources {
		a.Indicator.Sources = addLabel(a.Indicator.Sources, in.Sources[i].String())
	}
	if ev == nil {
		return a
	}
	a.Time = ev.Time
	if a.Time.IsZero() {
		a.Time = ev.Received
	}
	a.FirstEventTime = a.Time
	if ev.ID != "" {
		a.EventIDs = []string{ev.ID}
	}
	a.Host = ev.Host
	if a.Host == "" {
		a.Host = ev.GetString("host.name")
	}
	e := &a.Entities
	add := func(list *[]string, v string) {
		if v != "" && v != "-" && !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	add(&e.Hosts, a.Host)
	user := ev.GetString("user.name")
	if d := ev.GetString("user.domain"); d != "" && user != "" {
		user = d + `\` + user
	}
	add(&e.Users, user)
	addIP := func(list *[]string, v string) {
		if a, ok := alert.Address(v); ok {
			add(list, a)
		}
	}
	addIP(&e.SourceIPs, ev.GetString("source.ip"))
	addIP(&e.DestIPs, ev.GetString("destination.ip"))
	add(&e.Processes, ev.GetString("process.executable"))
	switch {
	case isIPKind(in.Kind):
		if sourceIPFields[h.Field] {
			addIP(&e.SourceIPs, h.Observed)
		} else if !slices.Contains(e.SourceIPs, h.Observed) {
			// the remote end is what feeds list
			addIP(&e.DestIPs, h.Observed)
		}
	case in.Kind == KindDomain:
		add(&e.Domains, h.Observed)
	case in.Kind == KindURL:
		if host, ok := urlHost(h.Observed); ok {
			add(&e.Domains, host)
		}
	case isHashKind(in.Kind):
		add(&e.Hashes, in.Value)
	}
	return a
}
