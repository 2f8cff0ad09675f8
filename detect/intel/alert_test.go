package intel

import (
	"slices"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/alert"
)

func TestLevel(t *testing.T) {
	for _, tt := range []struct {
		conf   int
		labels []string
		want   string
	}{
		{90, []string{"malicious-activity"}, "high"},
		{80, nil, "high"},
		{85, []string{"anomalous-activity"}, "medium"},
		{85, []string{"anomalous-activity", "malicious-activity"}, "high"},
		{60, nil, "medium"},
		{30, nil, "low"},
		{10, nil, "informational"},
		{95, []string{"benign"}, "informational"},
	} {
		if got := Level(tt.conf, tt.labels); got != tt.want {
			t.Errorf("Level(%d, %v) = %s, want %s", tt.conf, tt.labels, got, tt.want)
		}
	}
}

func TestToAlert(t *testing.T) {
	ix := matchIndex(t)
	e := normalized(t, `{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Hostname":"WS03.example.local","Image":"C:\\Tools\\agent.exe","User":"EXAMPLE\\dave","SourceIp":"192.0.2.10","DestinationIp":"203.0.113.10","DestinationPort":"443"}`)
	e.ID = "01JZALERT00000000000000000"
	var hs []Hit
	ix.Match(e, matchNow, func(h Hit) { hs = append(hs, h) })
	if len(hs) != 1 {
		t.Fatalf("%d hits", len(hs))
	}
	before := time.Now()
	a := ToAlert(hs[0], e)
	if a.ID != "" || a.Kind != alert.KindIndicator {
		t.Errorf("id %q kind %q", a.ID, a.Kind)
	}
	if a.Rule.ID != "intel:ipv4:203.0.113.10" || a.Rule.Title != "Threat-intel match: ipv4 203.0.113.10" || a.Rule.Level != "high" {
		t.Errorf("rule %+v", a.Rule)
	}
	if !slices.Contains(a.Rule.Tags, "attack.command_and_control") {
		t.Errorf("tags %v", a.Rule.Tags)
	}
	in := a.Indicator
	if in == nil || in.Kind != "ipv4" || in.Value != "203.0.113.10" || in.Field != "destination.ip" || in.Confidence != 85 ||
		in.TLP != "green" || !slices.Equal(in.Sources, []string{"stix:indicator--a1000000-0000-4000-8000-000000000001"}) {
		t.Errorf("indicator %+v", in)
	}
	if !slices.Equal(a.EventIDs, []string{e.ID}) || !a.Time.Equal(e.Time) || a.Detected.Before(before) || a.Host != "WS03.example.local" {
		t.Errorf("alert %+v", a)
	}
	want := alert.Entities{
		Hosts:     []string{"WS03.example.local"},
		Users:     []string{`EXAMPLE\dave`},
		SourceIPs: []string{"192.0.2.10"},
		DestIPs:   []string{"203.0.113.10"},
		Processes: []string{`C:\Tools\agent.exe`},
	}
	if !entitiesEqual(a.Entities, want) {
		t.Errorf("entities %+v, want %+v", a.Entities, want)
	}

	// hash and domain hits name their entity
	e2 := normalized(t, `{"url":{"full":"http://login.invoices-secure.example/auth/"},"file":{"hash":{"sha1":"2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"}},"related":{"ip":["203.0.113.99"]}}`)
	n := 0
	ix.Match(e2, matchNow, func(h Hit) {
		n++
		a := ToAlert(h, e2)
		switch h.Indicator.Kind {
		case KindSHA1:
			if !slices.Equal(a.Entities.Hashes, []string{"2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"}) || a.Rule.Level != "high" {
				t.Errorf("hash alert %+v", a)
			}
		case KindURL:
			if !slices.Equal(a.Entities.Domains, []string{"login.invoices-secure.example"}) || a.Indicator.TLP != "clear" || a.Rule.Level != "medium" {
				t.Errorf("url alert %+v %+v", a.Entities, a.Indicator)
			}
		case KindIPv4:
			if !slices.Equal(a.Entities.DestIPs, []string{"203.0.113.99"}) {
				t.Errorf("ip alert %+v", a.Entities)
			}
		}
	})
	if n != 4 { // url, its host, sha1, ip
		t.Errorf("%d hits, want 4", n)
	}
}

func entitiesEqual(a, b alert.Entities) bool {
	return slices.Equal(a.Hosts, b.Hosts) && slices.Equal(a.Users, b.Users) && slices.Equal(a.SourceIPs, b.SourceIPs) &&
		slices.Equal(a.DestIPs, b.DestIPs) && slices.Equal(a.Processes, b.Processes) &&
		slices.Equal(a.Hashes, b.Hashes) && slices.Equal(a.Domains, b.Domains)
}
