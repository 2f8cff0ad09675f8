package correlate

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/normalize"
	"github.com/riposte-soar/riposte/parse/syslog"
)

const sshdRules = `title: SSH brute force
id: 6a0c3f4e-1b8d-4c57-9a3e-0d2f6b1c7e01
name: ssh_brute_force
description: Ten or more failed SSH logins from one address within five minutes.
correlation:
  type: event_count
  rules: [sshd_failed_login]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 10}
level: medium
tags: [attack.credential_access, attack.t1110]
---
title: SSH brute force followed by a successful login
id: 6a0c3f4e-1b8d-4c57-9a3e-0d2f6b1c7e02
name: ssh_brute_force_success
correlation:
  type: temporal_ordered
  rules: [ssh_brute_force, sshd_successful_login]
  group-by: [source.ip]
  timespan: 10m
generate: true
level: high
tags: [attack.initial_access, attack.t1078]
`

// sshdRule stands in for the Sigma engine: the base rule an sshd event
// matches, if any.
func sshdRule(ev *event.Event) (id, name string) {
	if ev.GetString("event.action") != "ssh_login" {
		return "", ""
	}
	switch ev.GetString("event.outcome") {
	case "failure":
		return "b1a0c6de-0000-4000-8000-0000000000f1", "sshd_failed_login"
	case "success":
		return "b1a0c6de-0000-4000-8000-0000000000f2", "sshd_successful_login"
	}
	return "", ""
}

// TestSSHDBruteForceThenSuccess runs real sshd syslog lines through the
// normalizer: twelve failures from 203.0.113.5 raise the brute-force hit at
// the tenth, and its later successful login raises the chained hit. A
// second address that fails three times and then logs in raises nothing.
func TestSSHDBruteForceThenSuccess(t *testing.T) {
	var lines []string
	for i := range 12 {
		user := []string{"root", "invalid user admin", "invalid user oracle"}[i%3]
		lines = append(lines, fmt.Sprintf("<38>Mar  5 10:%02d:%02d bastion sshd[%d]: Failed password for %s from 203.0.113.5 port %d ssh2",
			i*9/60, i*9%60, 1200+i, user, 52000+i))
		if i < 3 {
			lines = append(lines, fmt.Sprintf("<38>Mar  5 10:00:%02d bastion sshd[900]: Failed password for alice from 198.51.100.20 port 6000%d ssh2", 30+i, i))
		}
	}
	lines = append(lines,
		"<38>Mar  5 10:01:50 bastion sshd[1300]: Accepted password for alice from 198.51.100.20 port 60022 ssh2",
		"<38>Mar  5 10:04:10 bastion sshd[1301]: Accepted password for root from 203.0.113.5 port 52999 ssh2")

	known := map[string]bool{"sshd_failed_login": true, "sshd_successful_login": true}
	rules, errs := Resolve(parseDocs(t, sshdRules, "mr_ssh.yml"), func(ref string) bool { return known[ref] })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ref := time.Date(2024, 3, 6, 0, 0, 0, 0, time.UTC)
	e := NewEngine(rules, Options{Now: func() time.Time { return ref }})

	var hits []Hit
	for i, line := range lines {
		msg, err := syslog.Parse([]byte(line), ref)
		if err != nil {
			t.Fatal(err)
		}
		ev := &event.Event{ID: fmt.Sprintf("ev%02d", i), Received: ref, Raw: []byte(line)}
		if p := normalize.FromLine([]byte(line), &msg, ev); p != normalize.ParserSSHD {
			t.Fatalf("line %d parsed as %s", i, p)
		}
		id, name := sshdRule(ev)
		if name == "" {
			t.Fatalf("line %d matches no rule: %v", i, ev.Fields)
		}
		hits = append(hits, e.Observe(id, name, ev)...)
	}
	if len(hits) != 2 {
		t.Fatalf("hits:\n%s", showHits(time.Time{}, hits))
	}
	bf, chain := hits[0], hits[1]
	at := func(s string) time.Time { return time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC).Add(dur(t, s)) }

	if bf.Rule.Name != "ssh_brute_force" || bf.Count != 10 || bf.GroupKey != `["203.0.113.5"]` ||
		!bf.WindowEnd.Equal(at("1m21s")) || !bf.FirstEventTime.Equal(at("0s")) || bf.Host != "bastion" || bf.Suppressed {
		t.Errorf("brute force hit:\n%s", showHits(time.Time{}, hits[:1]))
	}
	if chain.Rule.Name != "ssh_brute_force_success" || chain.Count != 2 || chain.Group["source.ip"] != "203.0.113.5" ||
		!chain.WindowEnd.Equal(at("4m10s")) || !chain.WindowStart.Equal(at("-5m50s")) || !chain.FirstEventTime.Equal(at("0s")) ||
		len(chain.EventIDs) != 11 || chain.EventIDs[10] != fmt.Sprint("ev", len(lines)-1) || !slices.Equal(chain.EventIDs[:10], bf.EventIDs) {
		t.Errorf("chained hit:\n%s", showHits(time.Time{}, hits[1:]))
	}
	// Failed logins only feed the brute-force correlation (generate false);
	// successful logins alert on their own too (the outer has generate true).
	if !e.Suppressed(sshdRule(&event.Event{Fields: map[string]any{"event.action": "ssh_login", "event.outcome": "failure"}})) {
		t.Error("failed logins not suppressed")
	}
	if e.Suppressed(sshdRule(&event.Event{Fields: map[string]any{"event.action": "ssh_login", "event.outcome": "success"}})) {
		t.Error("successful logins suppressed")
	}
	c := chain.Correlation()
	if c.Type != TemporalOrdered || c.Count != 2 || c.GroupBy["source.ip"] != "203.0.113.5" || !c.WindowEnd.Equal(chain.WindowEnd) {
		t.Errorf("alert context %+v", c)
	}
	// The remaining two failures stay counted for the next hit.
	if s := e.Stats(); s.Rules["6a0c3f4e-1b8d-4c57-9a3e-0d2f6b1c7e01"].Groups != 2 || s.Hits != 2 {
		t.Errorf("stats %+v", s)
	}
}
